//! Audit event throughput to a rotating file (fixed schema, escaping, redaction, one write and
//! flush per event) against tracing-subscriber's JSON formatter writing to a plain file, the
//! usual setup. Printed as a RATIO per event.

use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock::audit::{AuditConfig, AuditLayer};
use airlock_benches::{measuring, ratio};
use tracing_subscriber::layer::SubscriberExt;

fn event(i: u64) {
    tracing::warn!(target: "airlock::audit", action = "upload_refused", outcome = "failure",
        reason = "invalid_name", rule = "dots_only", client_name = "..\\r\\n127.0.0.1 - admin", i, "upload refused");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let layer = AuditLayer::new(
        AuditConfig::new(dir.path().join("audit")).app_name("bench").max_bytes(4 << 20).keep_files(3),
    )
    .unwrap();
    let airlock_sub = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let plain = Arc::new(Mutex::new(File::create(dir.path().join("plain.jsonl")).unwrap()));
    let writer = plain.clone();
    let fmt_sub = tracing::Dispatch::new(
        tracing_subscriber::fmt().json().with_writer(move || MutexWriter(writer.clone())).finish(),
    );
    // Test mode (`cargo test --benches`): one event each way, to keep the code from rotting.
    let budget = if measuring() { Duration::from_secs(4) } else { Duration::from_millis(1) };
    let mut i = 0u64;
    let mut j = 0u64;
    let r = ratio(
        "audit event to a rotating file (airlock AuditLayer vs tracing-subscriber fmt().json() to a file)",
        budget,
        || tracing::dispatcher::with_default(&airlock_sub, || { i += 1; event(i) }),
        || tracing::dispatcher::with_default(&fmt_sub, || { j += 1; event(j) }),
    );
    let files = std::fs::read_dir(dir.path().join("audit")).unwrap().count();
    println!("audit files after the run: {files} (rotation at 4 MiB, 3 kept); ratio {r:.2}");
}

struct MutexWriter(Arc<Mutex<File>>);

impl std::io::Write for MutexWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap().flush()
    }
}
