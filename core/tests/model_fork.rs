//! A pre-fork server may start loading in the parent and fork while the load runs. The loading
//! thread does not exist in the child: its handle must not wait forever for it, but load anew.
//!
//! A binary of its own with a single test, so no other test thread exists when it forks.

use std::time::Duration;

use airlock::{Model, ModelOptions};

#[path = "common/mod.rs"]
mod common;

#[test]
fn a_child_forked_mid_load_loads_on_its_own() {
    let model = Model::open_ambient(common::testdata("models/slow_chain.onnx"), ModelOptions::new([1, 64])).unwrap();
    model.start_loading();
    let was_loading = model.status().name() == "loading";

    // SAFETY: the harness's main thread is blocked on this one; the loader thread holds the
    // slot lock only for a few instructions around the attempt, not during the load itself.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        let code = (|| {
            let state = model.status();
            // Mid-load in the parent means nothing is loading here.
            if was_loading && !matches!(state.name(), "not_loaded" | "ready") {
                return 2;
            }
            let Ok(ready) = model.wait_ready(Duration::from_secs(300)) else { return 3 };
            let Ok(out) = ready.run(&[3.0; 64]) else { return 4 };
            if !out[0].data.iter().all(|v| (v - 0.5).abs() < 1e-4) {
                return 5;
            }
            if !model.status().is_ready() {
                return 6;
            }
            0
        })();
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFEXITED(status), "child died: {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child failed at step {}", libc::WEXITSTATUS(status));
    // The parent's own load is unaffected.
    assert!(model.wait_ready(Duration::from_secs(300)).is_ok());
    assert_eq!(model.load_attempts(), 1);
    assert!(was_loading, "the load ended before the fork; the test proved nothing");
}
