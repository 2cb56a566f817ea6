//! The model handle: the ready-model hot path against a mutex-guarded `Option<Arc<_>>` (the
//! usual hand-rolled lazy global), and inference per image on both models.

use std::hint::black_box;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use airlock::{ChannelOrder, ImagePreprocess, Layout, Model, ModelOptions};
use airlock_benches::{absolute, assets, measuring, ratio, testdata};
use criterion::Criterion;

fn main() {
    let digits = Model::open_ambient(testdata("models/digits.onnx"), ModelOptions::new([1, 64])).unwrap();
    digits.ready().unwrap();
    let assets = assets();
    let preprocess = ImagePreprocess::new(224, 224)
        .channels(ChannelOrder::Bgr)
        .mean([104.0, 117.0, 123.0])
        .layout(Layout::Nhwc);
    let nsfw = Model::open_ambient(assets.join("open-nsfw.onnx"), ModelOptions::for_images(preprocess)).unwrap();
    nsfw.ready().unwrap();
    let photo = std::fs::read(assets.join("photos/china.jpg")).unwrap();
    let tensor: Vec<f32> = (0..224 * 224 * 3).map(|i| (i % 255) as f32 - 120.0).collect();
    let digit: Vec<f32> = (0..64).map(|i| (i % 17) as f32).collect();

    let mutex_baseline = Mutex::new(Some(Arc::new(0u64)));
    let rwlock_baseline = RwLock::new(Some(Arc::new(0u64)));

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("hot path: Model::ready on a ready model", |b| b.iter(|| black_box(digits.ready().unwrap())));
    c.bench_function("hot path baseline: Mutex<Option<Arc>> lock + clone", |b| {
        b.iter(|| black_box(mutex_baseline.lock().unwrap().clone()))
    });
    c.bench_function("digits MLP: run one sample", |b| b.iter(|| black_box(digits.run(black_box(&digit)).unwrap())));
    let mut g = c.benchmark_group("open-nsfw");
    g.sample_size(20);
    g.bench_function("run on a 224x224x3 tensor", |b| b.iter(|| black_box(nsfw.run(black_box(&tensor)).unwrap())));
    g.bench_function("classify_image (JPEG decode + resize + run)", |b| {
        b.iter(|| black_box(nsfw.classify_image(black_box(&photo)).unwrap()))
    });
    g.finish();
    c.final_summary();

    if measuring() {
        ratio(
            "hot path (Model::ready vs Mutex<Option<Arc>> lock+clone)",
            Duration::from_secs(2),
            || drop(black_box(digits.ready().unwrap())),
            || drop(black_box(mutex_baseline.lock().unwrap().clone())),
        );
        ratio(
            "hot path (Model::ready vs RwLock<Option<Arc>> read+clone)",
            Duration::from_secs(2),
            || drop(black_box(digits.ready().unwrap())),
            || drop(black_box(rwlock_baseline.read().unwrap().clone())),
        );
        // Contended: two threads (this machine's cores) asking at once, 20 000 times each.
        let contended = |f: &(dyn Fn() + Sync)| {
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..20_000 {
                            f();
                        }
                    });
                }
            })
        };
        ratio(
            "hot path, 2 threads contending (Model::ready vs Mutex<Option<Arc>>), per 40 000 calls",
            Duration::from_secs(3),
            || contended(&|| drop(black_box(digits.ready().unwrap()))),
            || contended(&|| drop(black_box(mutex_baseline.lock().unwrap().clone()))),
        );
        absolute("digits MLP inference, one sample", Duration::from_secs(2), || {
            black_box(digits.run(&digit).unwrap());
        });
        absolute("open-nsfw inference on a tensor, one image", Duration::from_secs(8), || {
            black_box(nsfw.run(&tensor).unwrap());
        });
        absolute("open-nsfw classify_image (decode 640x427 JPEG + resize + run)", Duration::from_secs(8), || {
            black_box(nsfw.classify_image(&photo).unwrap());
        });
    }
}
