//! The real CNN (open-nsfw, ResNet-50-thin) on real photos. Needs the pinned assets:
//! `scripts/fetch-assets.sh` (the README's test command runs it first).

mod common;

use std::path::PathBuf;

use airlock::{ChannelOrder, ImagePreprocess, Layout, Model, ModelOptions, StoreOptions, UploadStore};

fn assets() -> PathBuf {
    let dir = std::env::var_os("AIRLOCK_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets"));
    assert!(
        dir.join("open-nsfw.onnx").is_file(),
        "assets missing in {}: run scripts/fetch-assets.sh (or scripts/test.sh) first",
        dir.display()
    );
    dir
}

fn open_nsfw() -> Model {
    let assets = assets();
    let sha = std::fs::read_to_string(assets.join("open-nsfw.onnx.sha256")).unwrap();
    let preprocess = ImagePreprocess::new(224, 224)
        .channels(ChannelOrder::Bgr)
        .mean([104.0, 117.0, 123.0])
        .layout(Layout::Nhwc);
    let options = ModelOptions::for_images(preprocess)
        .sha256(sha.split_whitespace().next().unwrap())
        .unwrap()
        .labels(["safe", "nsfw"]);
    Model::open_ambient(assets.join("open-nsfw.onnx"), options).unwrap()
}

#[derive(serde::Deserialize)]
struct Reference {
    output: Vec<f32>,
}

#[test]
fn tract_agrees_with_onnxruntime_on_the_same_tensor() {
    let reference: Reference = serde_json::from_str(
        &std::fs::read_to_string(common::testdata("expected/open_nsfw_reference.json")).unwrap(),
    )
    .unwrap();
    let n = 224 * 224 * 3;
    let input: Vec<f32> = (0..n as i64).map(|i| ((i * 7919) % 255 - 120) as f32).collect();
    let out = open_nsfw().run(&input).unwrap();
    assert_eq!(out[0].shape, vec![1, 2]);
    for (got, want) in out[0].data.iter().zip(&reference.output) {
        assert!((got - want).abs() < 2e-5, "tract {got} vs onnxruntime {want}");
    }
}

#[test]
fn real_photos_are_stored_and_classified_safe() {
    let assets = assets();
    let dir = tempfile::tempdir().unwrap();
    let store = UploadStore::open_ambient(
        dir.path(),
        StoreOptions::new().allow_extensions(["jpg", "jpeg", "png"]),
    )
    .unwrap();
    let model = open_nsfw();
    for photo in ["china.jpg", "flower.jpg"] {
        let bytes = std::fs::read(assets.join("photos").join(photo)).unwrap();
        let stored = store.save(&format!("../../{photo}"), &bytes[..]).unwrap();
        assert_eq!(stored.name().as_str(), photo);
        let c = model.classify_stored(&store, stored.name()).unwrap();
        let sum: f32 = c.scores().iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "softmax output expected, got {:?}", c.scores());
        assert_eq!(c.top_label(), "safe", "{photo}: {:?}", c.scores());
        assert!(c.scores()[0] > 0.9, "{photo}: {:?}", c.scores());
    }
}
