//! After `fork`, the child writes its own audit file and never touches the parent's.
//!
//! A binary of its own with a single test, so no other test thread exists when it forks.

use serde_json::Value;

const AUDIT: &str = "airlock::audit";

fn emit(who: &str, n: usize) {
    for _ in 0..n {
        tracing::info!(target: AUDIT, action = "fork_test", outcome = "success", who, "event");
    }
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn child_gets_its_own_file_and_sequence() {
    let tmp = tempfile::tempdir().unwrap();
    let config = airlock::AuditConfig::new(tmp.path());
    let handle = airlock::init_logging(airlock::LoggingConfig::new(config.clone())).unwrap();
    emit("parent", 2);

    // SAFETY: only this thread runs code (the harness's main thread is blocked waiting on it);
    // the child only emits through the already-initialised subscriber and _exits.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        emit("child", 3);
        let ok = handle.dropped_events() == 0;
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    let waited = unsafe { libc::waitpid(child, &mut status, 0) };
    assert_eq!(waited, child);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status}");
    emit("parent", 1);
    drop(handle);

    let parent_pid = std::process::id();
    let parent = lines(&config.path_for_pid(parent_pid));
    let child = lines(&config.path_for_pid(child as u32));
    // The parent's handle was dropped: its trail ends with its shutdown event. The child
    // _exited without one.
    assert_eq!(parent.len(), 4);
    assert_eq!(parent[3]["action"], "shutdown");
    assert_eq!(child.len(), 3);
    assert!(parent[..3].iter().all(|l| l["fields"]["who"] == "parent"));
    assert!(child.iter().all(|l| l["fields"]["who"] == "child"));
    let seqs = |v: &[Value]| v.iter().map(|l| l["seq"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(seqs(&parent), vec![1, 2, 3, 4]);
    assert_eq!(seqs(&child), vec![1, 2, 3]);
    let files = std::fs::read_dir(tmp.path()).unwrap().count();
    assert_eq!(files, 2, "no rotation, one file per process");
}
