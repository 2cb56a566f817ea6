//! Shared pieces of Airlock's benchmarks: paths to the shared test data and assets, and a
//! side-by-side measurement that prints Airlock's time as a ratio of a baseline measured in the
//! same run, interleaved round by round so machine noise hits both alike.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `testdata/` at the repository root.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(rel)
}

/// The fetched assets (`scripts/fetch-assets.sh`), or `AIRLOCK_ASSETS`.
pub fn assets() -> PathBuf {
    let dir = std::env::var_os("AIRLOCK_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets"));
    assert!(dir.join("open-nsfw.onnx").is_file(), "run scripts/fetch-assets.sh first");
    dir
}

/// Whether the binary runs as a real benchmark (`cargo bench`) rather than once as a test
/// (`cargo test --benches`), where ratios would be meaningless.
pub fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Median time per call of `f`, over `rounds` rounds of `batch` calls.
fn time_batch(f: &mut dyn FnMut(), batch: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed() / batch
}

/// Measures `airlock` and `baseline` alternately for about `budget` in total and prints
/// `label: airlock X, baseline Y, ratio X/Y`. Returns the ratio.
pub fn ratio(label: &str, budget: Duration, mut airlock: impl FnMut(), mut baseline: impl FnMut()) -> f64 {
    // Calibrate a batch so one batch takes roughly 1/40 of the budget.
    let probe = Instant::now();
    airlock();
    baseline();
    let one = probe.elapsed().max(Duration::from_nanos(1));
    let batch = ((budget.as_secs_f64() / 40.0) / one.as_secs_f64()).clamp(1.0, 1e7) as u32;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < budget || a.len() < 5 {
        a.push(time_batch(&mut airlock, batch));
        b.push(time_batch(&mut baseline, batch));
    }
    a.sort();
    b.sort();
    let (ma, mb) = (a[a.len() / 2], b[b.len() / 2]);
    let r = ma.as_secs_f64() / mb.as_secs_f64();
    println!("RATIO {label}: airlock {} / baseline {} = {r:.3} ({} rounds of {batch})", fmt(ma), fmt(mb), a.len());
    r
}

/// Median time per call of `f` alone, printed as `label: X`.
pub fn absolute(label: &str, budget: Duration, mut f: impl FnMut()) -> Duration {
    let probe = Instant::now();
    f();
    let one = probe.elapsed().max(Duration::from_nanos(1));
    let batch = ((budget.as_secs_f64() / 20.0) / one.as_secs_f64()).clamp(1.0, 1e7) as u32;
    let mut v = Vec::new();
    let start = Instant::now();
    while start.elapsed() < budget || v.len() < 5 {
        v.push(time_batch(&mut f, batch));
    }
    v.sort();
    let m = v[v.len() / 2];
    println!("TIME {label}: {} per call (median of {} rounds of {batch})", fmt(m), v.len());
    m
}

fn fmt(d: Duration) -> String {
    let ns = d.as_secs_f64() * 1e9;
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// The client names of `testdata/vectors/filenames.json` (UTF-8 form).
pub fn vector_names() -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct V {
        name: String,
    }
    let text = std::fs::read_to_string(testdata("vectors/filenames.json")).expect("vectors");
    let v: Vec<V> = serde_json::from_str(&text).expect("vectors json");
    v.into_iter().map(|v| v.name).collect()
}
