//! The model handle on real models: the digits classifier (accuracy against held-out data),
//! concurrency, failure and retry, and the odd models tract panics on.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use airlock::{
    ChannelOrder, ErrorCode, ImagePreprocess, Layout, Model, ModelOptions, ModelState, StoreOptions, UploadStore,
};

struct Row {
    pixels: Vec<f32>,
    label: usize,
    sklearn_pred: usize,
    sklearn_proba: Vec<f32>,
}

fn digits_rows() -> Vec<Row> {
    let text = std::fs::read_to_string(common::testdata("models/digits_test.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 76);
            Row {
                pixels: f[..64].iter().map(|v| v.parse().unwrap()).collect(),
                label: f[64].parse().unwrap(),
                sklearn_pred: f[65].parse().unwrap(),
                sklearn_proba: f[66..].iter().map(|v| v.parse().unwrap()).collect(),
            }
        })
        .collect()
}

fn digits_path() -> PathBuf {
    common::testdata("models/digits.onnx")
}

fn digits() -> Model {
    Model::open_ambient(digits_path(), ModelOptions::new([1, 64])).unwrap()
}

fn fast_backoff(options: ModelOptions) -> ModelOptions {
    options.backoff(Duration::from_millis(20), Duration::from_millis(100))
}

/// A scratch copy of a test model, so a test can break and fix the file.
fn scratch_model(dir: &Path, from: &str) -> PathBuf {
    let path = dir.join("model.onnx");
    std::fs::copy(common::testdata(from), &path).unwrap();
    path
}

#[test]
fn digits_accuracy_and_agreement_with_sklearn() {
    let model = digits();
    let rows = digits_rows();
    let ready = model.ready().unwrap();
    let mut correct = 0;
    for (i, row) in rows.iter().enumerate() {
        let c = ready.classify(&row.pixels).unwrap();
        let (top, _) = c.top();
        assert_eq!(top, row.sklearn_pred, "row {i}: tract and scikit-learn disagree");
        for (a, b) in c.scores().iter().zip(&row.sklearn_proba) {
            assert!((a - b).abs() < 1e-4, "row {i}: {a} vs {b}");
        }
        correct += usize::from(top == row.label);
    }
    let accuracy = correct as f64 / rows.len() as f64;
    assert!(accuracy >= 0.96, "held-out accuracy {accuracy}");
}

#[test]
fn thirty_two_threads_racing_cause_one_load() {
    let model = digits();
    let barrier = Arc::new(Barrier::new(32));
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let (model, barrier) = (model.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                model.ready().unwrap().classify(&[1.0; 64]).unwrap()
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(model.load_attempts(), 1);
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn status_answers_while_a_slow_load_runs() {
    let model = Model::open_ambient(common::testdata("models/slow_chain.onnx"), ModelOptions::new([1, 64])).unwrap();
    assert_eq!(model.status().name(), "not_loaded");
    model.start_loading();
    // If status() took the load lock it would block until the load ended and then say
    // "ready"; seeing "loading" proves it answered while the load was running.
    let mut saw_loading = 0;
    for _ in 0..100 {
        match model.status().name() {
            "loading" => saw_loading += 1,
            "ready" => break,
            other => panic!("unexpected state {other}"),
        }
    }
    assert!(saw_loading > 0, "status never reported loading");
    assert!(model.try_ready().is_err() || model.status().is_ready());
    let ready = model.wait_ready(Duration::from_secs(300)).unwrap();
    assert!(model.status().is_ready());
    assert_eq!(model.load_attempts(), 1);
    // The chain computes relu(0.5 x + 0.25) 600 times: it converges to 0.5 from any start.
    let out = ready.run(&[3.0; 64]).unwrap();
    assert!(out[0].data.iter().all(|v| (v - 0.5).abs() < 1e-4));
}

#[test]
fn waiting_times_out_and_fail_fast_says_not_ready() {
    let model = Model::open_ambient(common::testdata("models/slow_chain.onnx"), ModelOptions::new([1, 64])).unwrap();
    let err = model.try_ready().unwrap_err();
    assert_eq!(err.code(), ErrorCode::ModelNotReady);
    // try_ready started a background load; a zero timeout cannot wait for it.
    let err = model.wait_ready(Duration::ZERO).unwrap_err();
    assert!(matches!(err.code(), ErrorCode::ModelTimeout), "{err}");
    assert!(model.wait_ready(Duration::from_secs(300)).is_ok());
    assert_eq!(model.load_attempts(), 1);
}

#[test]
fn broken_models_fail_cleanly_and_leave_the_handle_usable() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = std::fs::read(digits_path()).unwrap()[..5000].to_vec();
    let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("missing", None),
        ("truncated", Some(truncated)),
        ("random", Some(random)),
        ("html", Some(b"<!doctype html><html><body>not a model</body></html>".to_vec())),
        ("empty", Some(Vec::new())),
        ("dangling output", Some(std::fs::read(common::testdata("models/odd_dangling_output.onnx")).unwrap())),
        ("ConstantOfShape bomb", Some(std::fs::read(common::testdata("models/odd_constantofshape_bomb.onnx")).unwrap())),
        ("unknown op", Some(std::fs::read(common::testdata("models/odd_unknown_op.onnx")).unwrap())),
        ("cycle", Some(std::fs::read(common::testdata("models/odd_cycle.onnx")).unwrap())),
        // Its weight's external data points at ../../../../etc/hostname: never read. The model
        // is read through the capability directory as a stream, so tract has no path to
        // resolve external data against and refuses it.
        ("external data outside", Some(std::fs::read(common::testdata("models/odd_external_data_escape.onnx")).unwrap())),
    ];
    for (what, bytes) in cases {
        let path = dir.path().join(format!("{}.onnx", what.replace(' ', "_")));
        if let Some(bytes) = &bytes {
            std::fs::write(&path, bytes).unwrap();
        }
        let model = Model::open_ambient(&path, fast_backoff(ModelOptions::new([1, 64]))).unwrap();
        let err = model.ready().unwrap_err();
        assert_eq!(err.code(), ErrorCode::ModelFailed, "{what}: {err}");
        let airlock::Error::ModelFailed { failure, attempts, .. } = &err else { unreachable!() };
        assert_eq!(*attempts, 1);
        let expected = if bytes.is_none() { ErrorCode::Io } else { ErrorCode::ModelInvalid };
        assert_eq!(failure.code, expected, "{what}: {err}");
        // No panic escaped, the state says why, and asking again gives a clean error.
        assert_eq!(model.status().name(), "failed", "{what}");
        assert!(model.status().to_string().contains("attempt"), "{what}");
        assert!(model.try_ready().is_err());
        assert!(model.run(&[0.0; 64]).is_err());
    }
}

#[test]
fn retry_after_the_file_is_fixed_succeeds_and_backoff_is_respected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, b"garbage").unwrap();
    let model = Model::open_ambient(
        &path,
        ModelOptions::new([1, 64]).backoff(Duration::from_millis(300), Duration::from_secs(5)),
    )
    .unwrap();
    assert!(model.ready().is_err());
    // Within the backoff the failure is reported without a new attempt.
    let err = model.ready().unwrap_err();
    let airlock::Error::ModelFailed { retry_in, .. } = &err else { panic!("{err}") };
    assert!(retry_in.is_some());
    assert_eq!(model.load_attempts(), 1);
    std::fs::copy(digits_path(), &path).unwrap();
    std::thread::sleep(Duration::from_millis(350));
    assert!(model.ready().is_ok());
    assert_eq!(model.load_attempts(), 2);
    assert!(model.status().is_ready());
}

/// Durations too large for the clock (Duration::MAX, 1e19 s from Python) are "no limit", never
/// an overflow panic that would leave the state `loading` and its waiters asleep.
#[test]
fn huge_backoffs_and_timeouts_never_overflow_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, b"not a model").unwrap();
    let options = ModelOptions::new([1, 64]).backoff(Duration::MAX, Duration::MAX);
    let model = Model::open_ambient(&path, options).unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (model, barrier) = (model.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let result = if i % 2 == 0 { model.ready() } else { model.wait_ready(Duration::MAX) };
                result.unwrap_err().code()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), ErrorCode::ModelFailed);
    }
    match model.status() {
        ModelState::Failed { next_retry, attempts: 1, .. } => {
            let wait = next_retry.duration_since(std::time::SystemTime::now()).unwrap();
            assert!(wait <= airlock::MAX_BACKOFF && wait > airlock::MAX_BACKOFF / 2, "{wait:?}");
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert_eq!(model.wait_ready(Duration::MAX).unwrap_err().code(), ErrorCode::ModelFailed);
    assert_eq!(model.load_attempts(), 1);
}

#[test]
fn waiters_behind_a_failed_attempt_share_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, b"not a model").unwrap();
    let model = Model::open_ambient(&path, ModelOptions::new([1, 64])).unwrap();
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let (model, barrier) = (model.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                model.ready().unwrap_err().code()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), ErrorCode::ModelFailed);
    }
    // Default backoff is 1 s: all sixteen got the one attempt's error.
    assert_eq!(model.load_attempts(), 1);
}

#[test]
fn concurrent_runs_agree_bit_for_bit_with_a_single_thread() {
    let model = digits();
    let rows = Arc::new(digits_rows());
    let ready = model.ready().unwrap();
    let expected: Vec<Vec<u32>> = rows
        .iter()
        .map(|r| ready.run(&r.pixels).unwrap()[0].data.iter().map(|v| v.to_bits()).collect())
        .collect();
    let expected = Arc::new(expected);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let (model, rows, expected) = (model.clone(), rows.clone(), expected.clone());
            std::thread::spawn(move || {
                for (i, row) in rows.iter().enumerate().skip(t).step_by(2) {
                    let got: Vec<u32> = model.run(&row.pixels).unwrap()[0].data.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(got, expected[i], "row {i} differs under concurrency");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn inputs_are_checked_before_the_model_sees_them() {
    let model = digits();
    let err = model.run(&[0.0; 63]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.to_string().contains("64"), "{err}");
    let mut nan = vec![1.0; 64];
    nan[17] = f32::NAN;
    let err = model.run(&nan).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
    assert!(err.to_string().contains("17"));
    nan[17] = f32::INFINITY;
    assert_eq!(model.run(&nan).unwrap_err().code(), ErrorCode::InvalidInput);
    // Still usable.
    assert!(model.run(&[0.0; 64]).is_ok());
}

#[test]
fn pinned_digest_is_enforced() {
    let expected = std::fs::read_to_string(common::testdata("models/digits.onnx.sha256")).unwrap();
    let expected = expected.split_whitespace().next().unwrap();
    let good = Model::open_ambient(digits_path(), ModelOptions::new([1, 64]).sha256(expected).unwrap()).unwrap();
    assert_eq!(good.ready().unwrap().sha256_hex(), expected);
    let wrong = "0".repeat(64);
    let bad = Model::open_ambient(digits_path(), ModelOptions::new([1, 64]).sha256(&wrong).unwrap()).unwrap();
    let err = bad.ready().unwrap_err();
    let airlock::Error::ModelFailed { failure, .. } = &err else { panic!("{err}") };
    assert_eq!(failure.code, ErrorCode::ModelDigestMismatch);
    assert_eq!(ModelOptions::new([1]).sha256("xyz").unwrap_err().code(), ErrorCode::InvalidConfig);
}

#[test]
fn reload_swaps_the_plan_without_disturbing_holders_of_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = scratch_model(dir.path(), "models/digits.onnx");
    let model = Model::open_ambient(&path, ModelOptions::new([1, 64])).unwrap();
    let old = model.ready().unwrap();
    let before = old.run(&[5.0; 64]).unwrap();
    std::fs::copy(common::testdata("models/slow_chain.onnx"), &path).unwrap();
    let new = model.reload().unwrap();
    assert_ne!(old.sha256_hex(), new.sha256_hex());
    // The old plan still runs and still gives its answers.
    assert_eq!(old.run(&[5.0; 64]).unwrap(), before);
    assert_eq!(model.ready().unwrap().sha256_hex(), new.sha256_hex());
    // A failed reload keeps the current plan in service.
    std::fs::write(&path, b"broken").unwrap();
    assert!(model.reload().is_err());
    assert!(model.status().is_ready());
    assert_eq!(model.ready().unwrap().sha256_hex(), new.sha256_hex());
}

#[test]
fn model_file_is_opened_through_its_directory_capability() {
    // A symlink named like the model that points outside the model directory is not followed.
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::os::unix::fs::symlink(digits_path().canonicalize().unwrap(), models.join("model.onnx")).unwrap();
    let model = Model::open_ambient(models.join("model.onnx"), ModelOptions::new([1, 64])).unwrap();
    let err = model.ready().unwrap_err();
    let airlock::Error::ModelFailed { failure, .. } = &err else { panic!("{err}") };
    assert_eq!(failure.code, ErrorCode::Io, "{err}");
}

fn digit_png(pixels: &[f32]) -> Vec<u8> {
    // 0..16 intensities as an 8×8 grayscale PNG (0..255).
    let gray: Vec<u8> = pixels.iter().map(|v| (v * 255.0 / 16.0).round() as u8).collect();
    let img = image::GrayImage::from_raw(8, 8, gray).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn stored_images_are_preprocessed_and_classified() {
    let dir = tempfile::tempdir().unwrap();
    let store = UploadStore::open_ambient(dir.path(), StoreOptions::new().allow_extensions(["png"])).unwrap();
    let preprocess = ImagePreprocess::new(8, 8)
        .channels(ChannelOrder::Gray)
        .pixel_scale(16.0 / 255.0)
        .layout(Layout::Flat);
    let model = Model::open_ambient(
        digits_path(),
        ModelOptions::for_images(preprocess).labels((0..10).map(|d| format!("digit {d}"))),
    )
    .unwrap();
    let rows = digits_rows();
    let mut agree = 0;
    for (i, row) in rows.iter().take(100).enumerate() {
        let stored = store.save(&format!("digit {i}.png"), &digit_png(&row.pixels)[..]).unwrap();
        let c = model.classify_stored(&store, stored.name()).unwrap();
        agree += usize::from(c.top().0 == row.sklearn_pred);
        assert_eq!(c.top_label(), format!("digit {}", c.top().0));
    }
    // 8-bit quantisation of 0..16 intensities moves a score or two across a boundary at most.
    assert!(agree >= 98, "only {agree}/100 agree after the PNG round trip");
}

#[test]
fn preprocessing_layouts_and_channel_orders() {
    // A 2×1 image: a red pixel and a blue pixel.
    let img = image::RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    let nhwc = ImagePreprocess::new(2, 1).tensor(&png).unwrap();
    assert_eq!(nhwc, vec![255.0, 0.0, 0.0, 0.0, 0.0, 255.0]);
    let bgr = ImagePreprocess::new(2, 1).channels(ChannelOrder::Bgr).tensor(&png).unwrap();
    assert_eq!(bgr, vec![0.0, 0.0, 255.0, 255.0, 0.0, 0.0]);
    let nchw = ImagePreprocess::new(2, 1).layout(Layout::Nchw).tensor(&png).unwrap();
    assert_eq!(nchw, vec![255.0, 0.0, 0.0, 0.0, 0.0, 255.0]);
    let normalised = ImagePreprocess::new(2, 1)
        .pixel_scale(1.0 / 255.0)
        .mean([0.5, 0.5, 0.5])
        .std([0.5, 0.5, 0.5])
        .tensor(&png)
        .unwrap();
    assert_eq!(normalised, vec![1.0, -1.0, -1.0, -1.0, -1.0, 1.0]);
}

#[test]
fn decompression_bombs_and_non_images_are_typed_errors() {
    let bomb = png_claiming(60_000, 60_000);
    let p = ImagePreprocess::new(8, 8);
    assert_eq!(p.tensor(&bomb).unwrap_err().code(), ErrorCode::ImageTooLarge);
    // The same for JPEG: the frame header is read before any pixel memory is allocated.
    assert_eq!(p.tensor(&jpeg_claiming(8, 8)).unwrap().len(), 8 * 8 * 3, "the unpatched JPEG decodes");
    for (w, h) in [(60_000, 60_000), (65_000, 1), (1, 65_000)] {
        assert_eq!(p.tensor(&jpeg_claiming(w, h)).unwrap_err().code(), ErrorCode::ImageTooLarge, "{w}x{h}");
    }
    assert_eq!(p.tensor(b"<html></html>").unwrap_err().code(), ErrorCode::ImageDecode);
    assert_eq!(p.tensor(b"\x89PNG\r\n\x1a\ntruncated").unwrap_err().code(), ErrorCode::ImageDecode);
    let config = ModelOptions::for_images(ImagePreprocess::new(8, 8)); // shape [1, 8, 8, 3]
    let err = Model::open_ambient(digits_path(), config).unwrap().ready().unwrap_err();
    assert_eq!(err.code(), ErrorCode::ModelFailed, "a [1,8,8,3] input does not fit the digits model");
    let mismatch = ModelOptions::new([1, 64]).preprocess(ImagePreprocess::new(8, 8));
    assert_eq!(Model::open_ambient(digits_path(), mismatch).unwrap_err().code(), ErrorCode::InvalidConfig);
}

/// A real 8×8 baseline JPEG whose frame header (SOF0) is patched to claim `width` × `height`.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 30, 90]));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let mut jpeg = jpeg.into_inner();
    let sof = jpeg.windows(2).position(|w| w == [0xff, 0xc0]).expect("a baseline frame header");
    // FF C0, length (2), precision (1), height (2), width (2).
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A well-formed PNG that declares `width` × `height` RGB pixels but carries almost no data:
/// the shape of a decompression bomb, 70 bytes long.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    png_chunk(&mut png, b"IEND", &[]);
    png
}

#[test]
fn images_within_the_limits_are_not_refused_as_bombs() {
    let small = ImagePreprocess::new(8, 8).limits(airlock::DecodeLimits { max_width: 100, max_height: 100, max_pixels: 5_000 });
    // Declared 60×60 = 3600 pixels: passes the header check, then fails on the missing data.
    assert_eq!(small.tensor(&png_claiming(60, 60)).unwrap_err().code(), ErrorCode::ImageDecode);
    // 80×80 = 6400 pixels: over max_pixels although each side is within its limit.
    assert_eq!(small.tensor(&png_claiming(80, 80)).unwrap_err().code(), ErrorCode::ImageTooLarge);
    assert_eq!(small.tensor(&png_claiming(101, 1)).unwrap_err().code(), ErrorCode::ImageTooLarge);
}

#[test]
fn stored_images_over_the_image_byte_limit_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let store = UploadStore::open_ambient(dir.path(), StoreOptions::new()).unwrap();
    let png = digit_png(&[8.0; 64]);
    let stored = store.save("digit.png", &png[..]).unwrap();
    let preprocess = ImagePreprocess::new(8, 8).channels(ChannelOrder::Gray).pixel_scale(16.0 / 255.0).layout(Layout::Flat);
    let limit = png.len() as u64 - 1;
    let model = Model::open_ambient(digits_path(), ModelOptions::for_images(preprocess.clone()).max_image_bytes(limit)).unwrap();
    let err = model.classify_stored(&store, stored.name()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooLarge);
    assert!(err.to_string().contains(&limit.to_string()), "{err}");
    let roomy = Model::open_ambient(digits_path(), ModelOptions::for_images(preprocess).max_image_bytes(png.len() as u64)).unwrap();
    assert!(roomy.classify_stored(&store, stored.name()).is_ok());
}

/// A 1×1 RGB PNG whose iCCP chunk holds `profile_len` zero bytes, deflated (1000:1 for zeros).
fn png_with_icc_profile(profile_len: usize) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = profile_len;
    while left > 0 {
        let n = left.min(zeros.len());
        z.write_all(&zeros[..n]).unwrap();
        left -= n;
    }
    let mut iccp = b"bomb\0\0".to_vec(); // profile name, NUL, compression method 0
    iccp.extend_from_slice(&z.finish().unwrap());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    png_chunk(&mut png, b"iCCP", &iccp);
    // One row: filter byte 0 and three samples.
    let mut idat = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    idat.write_all(&[0, 200, 30, 90]).unwrap();
    png_chunk(&mut png, b"IDAT", &idat.finish().unwrap());
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

/// Metadata is inflated while the header is read, before any dimension check: a 512 KiB iCCP
/// chunk that expands to 512 MiB must stop at the decoder's allocation budget (the png decoder
/// then drops the profile and decodes the pixels), not be inflated.
#[test]
fn metadata_bombs_are_refused_before_they_are_inflated() {
    let p = ImagePreprocess::new(1, 1);
    // An ordinary profile (a few KiB) is fine.
    assert_eq!(p.tensor(&png_with_icc_profile(4 << 10)).unwrap(), vec![200.0, 30.0, 90.0]);
    let bomb = png_with_icc_profile(512 << 20);
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let before = peak_rss();
    let decoded = p.tensor(&bomb);
    let grew = peak_rss().saturating_sub(before);
    assert!(grew < 128 << 20, "decoding a 1x1 PNG raised the peak RSS by {} MiB", grew >> 20);
    assert_eq!(decoded.unwrap(), vec![200.0, 30.0, 90.0], "the pixels decode without the profile");
}
