//! Failures the operating system injects: a full disk (ENOSPC), a file-size limit (EFBIG),
//! descriptor exhaustion (EMFILE), and the process being killed mid-write.
//!
//! Each fault is process-wide, so it runs in a child process: the parent test re-runs this test
//! binary (`std::env::current_exe()`) with `--exact <child> --include-ignored` under the fault,
//! and an environment variable naming the role. The `child_*` tests are `#[ignore]`d and return
//! at once unless that variable is set, so a plain `cargo test -- --include-ignored` is harmless.
//! A child proves it really ran by printing `CHILD-PASSED <role>`.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use airlock::{Durability, Error, ErrorCode, SafeName, StoreOptions, UploadStore};
use common::{dir_entries, open_fds};
use rustix::io::Errno;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

const ROLE_ENV: &str = "AIRLOCK_FAULT_CHILD";
const DIR_ENV: &str = "AIRLOCK_FAULT_DIR";
const MODE_ENV: &str = "AIRLOCK_FAULT_MODE";
/// Set to 1 to take the strace fallback for ENOSPC even where `unshare` works.
const FORCE_STRACE_ENV: &str = "AIRLOCK_FAULT_FORCE_STRACE";
const STAGED_PREFIX: &str = ".airlock-staged-";

/// In a child test: the store directory when this process was started for `role`.
fn child_role(role: &str) -> Option<PathBuf> {
    if std::env::var(ROLE_ENV).ok().as_deref() != Some(role) {
        return None;
    }
    Some(PathBuf::from(std::env::var_os(DIR_ENV).expect("AIRLOCK_FAULT_DIR not set")))
}

fn harness_args(child_test: &str) -> Vec<String> {
    ["--exact", child_test, "--nocapture", "--include-ignored", "--test-threads=1"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn exe() -> PathBuf {
    std::env::current_exe().expect("current_exe")
}

/// A command that runs `child_test` of this binary, through `wrapper` (program and arguments
/// placed before the binary path), for `role` on `dir`.
fn child_command<S: AsRef<std::ffi::OsStr>>(wrapper: &[S], child_test: &str, role: &str, dir: &Path) -> Command {
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe());
            c
        }
        None => Command::new(exe()),
    };
    cmd.args(harness_args(child_test)).env(ROLE_ENV, role).env(DIR_ENV, dir);
    cmd
}

fn assert_child_passed(role: &str, out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && stdout.contains(&format!("CHILD-PASSED {role}"))
            && stdout.contains("1 passed"),
        "child {role} failed (status {:?})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
}

fn io_errno(err: &Error) -> Option<Errno> {
    match err {
        Error::Io { source, .. } => source.raw_os_error().map(Errno::from_raw_os_error),
        _ => None,
    }
}

const MIB: usize = 1024 * 1024;

/// The strace command line that runs a child with one fault injected into `syscall`.
fn strace_injecting(syscall: &str, inject: &str) -> Vec<String> {
    ["strace", "-f", "-qq", "-o", "/dev/null", "-e", &format!("trace={syscall}"), "-e", inject]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Saving `size` bytes fails with StorageFull carrying `errno`, and leaves no entry and no
/// descriptor behind.
fn assert_full_and_clean(store: &UploadStore, dir: &Path, size: usize, errno: Errno, fds: usize) {
    let err = store.save("big.bin", &vec![b'x'; size][..]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StorageFull, "{err:?}");
    assert_eq!(io_errno(&err), Some(errno), "{err:?}");
    assert!(dir_entries(dir).is_empty(), "left behind: {:?}", dir_entries(dir));
    assert_eq!(open_fds(), fds);
}

fn assert_small_save_works(store: &UploadStore, dir: &Path) {
    let stored = store.save("small.txt", &b"fits"[..]).unwrap();
    assert_eq!(stored.name().as_str(), "small.txt");
    assert_eq!(dir_entries(dir), vec!["small.txt"]);
}

// ---------------------------------------------------------------------------------------------
// EFBIG: RLIMIT_FSIZE with SIGXFSZ ignored (an ignored disposition survives exec), so a write
// past the limit returns EFBIG instead of killing the process.
// ---------------------------------------------------------------------------------------------

#[test]
fn efbig_mid_write_is_storage_full_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let wrapper = ["sh", "-c", r#"trap "" XFSZ; ulimit -f 64; exec "$0" "$@""#];
    let out = child_command(&wrapper, "child_efbig", "efbig", tmp.path()).output().unwrap();
    assert_child_passed("efbig", &out);
    assert_eq!(dir_entries(tmp.path()), vec!["small.txt"]);
}

#[test]
#[ignore = "child process of efbig_mid_write_is_storage_full_and_leaves_nothing"]
fn child_efbig() {
    let Some(dir) = child_role("efbig") else { return };
    let fsize = getrlimit(Resource::Fsize).current;
    assert!(fsize.is_some_and(|l| l < MIB as u64), "RLIMIT_FSIZE was not lowered: {fsize:?}");

    let store = UploadStore::open_ambient(&dir, StoreOptions::new()).unwrap();
    let fds = open_fds();

    assert_full_and_clean(&store, &dir, MIB, Errno::FBIG, fds);

    // The streaming API reports it from write_chunk; dropping the upload cleans up.
    let mut up = store.begin("big2.bin").unwrap();
    let err = (0..16).find_map(|_| up.write_chunk(&[b'f'; 64 * 1024]).err()).expect("no EFBIG");
    assert_eq!(err.code(), ErrorCode::StorageFull, "{err:?}");
    drop(up);
    assert!(dir_entries(&dir).is_empty(), "left behind: {:?}", dir_entries(&dir));
    assert_eq!(open_fds(), fds);

    // Below the limit the store works.
    assert_small_save_works(&store, &dir);
    println!("CHILD-PASSED efbig");
}

// ---------------------------------------------------------------------------------------------
// EMFILE: RLIMIT_NOFILE lowered to the lowest free descriptor number, so no new descriptor can
// be allocated, then raised back.
// ---------------------------------------------------------------------------------------------

#[test]
fn emfile_is_too_many_open_files_and_the_store_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = child_command::<&str>(&[], "child_emfile", "emfile", tmp.path()).output().unwrap();
    assert_child_passed("emfile", &out);
    assert_eq!(dir_entries(tmp.path()), vec!["existing.txt", "new.txt"]);
}

#[test]
#[ignore = "child process of emfile_is_too_many_open_files_and_the_store_recovers"]
fn child_emfile() {
    let Some(dir) = child_role("emfile") else { return };
    let store = UploadStore::open_ambient(&dir, StoreOptions::new()).unwrap();
    let existing = store.save("existing.txt", &b"saved before"[..]).unwrap();
    let fds_before = open_fds();
    let original = getrlimit(Resource::Nofile);

    // The kernel always hands out the lowest free number: with the soft limit at that number,
    // every new descriptor fails with EMFILE. (A limit of "open descriptors + 2" would leave
    // room for the one descriptor begin() needs.)
    let lowest_free = std::fs::File::open("/dev/null").unwrap().as_raw_fd() as u64;
    setrlimit(Resource::Nofile, Rlimit { current: Some(lowest_free), maximum: original.maximum })
        .expect("lower RLIMIT_NOFILE");
    let probe = std::fs::File::open("/dev/null").map(drop);
    let save = store.save("new.txt", &b"data"[..]).map(drop);
    let begin = store.begin("new.txt").map(drop);
    let open = store.open(existing.name()).map(drop);
    let list = store.list().map(drop);
    let reopen = UploadStore::open_ambient(&dir, StoreOptions::new()).map(drop);
    setrlimit(Resource::Nofile, original).expect("restore RLIMIT_NOFILE");

    // Assertions only once descriptors are available again (a panic message needs none, but
    // reading the directory does).
    assert_eq!(
        probe.unwrap_err().raw_os_error(),
        Some(Errno::MFILE.raw_os_error()),
        "limit not in force"
    );
    for (what, r) in
        [("save", save), ("begin", begin), ("open", open), ("list", list), ("reopen", reopen)]
    {
        let err = r.expect_err(what);
        assert_eq!(err.code(), ErrorCode::TooManyOpenFiles, "{what}: {err:?}");
    }
    assert_eq!(dir_entries(&dir), vec!["existing.txt"], "left behind");
    assert_eq!(open_fds(), fds_before, "descriptor count changed");

    // Descriptors are free again: the same store works.
    store.save("new.txt", &b"data"[..]).unwrap();
    assert_eq!(
        store.list().unwrap(),
        vec![SafeName::parse("existing.txt").unwrap(), SafeName::parse("new.txt").unwrap()]
    );
    let mut text = String::new();
    store.open(existing.name()).unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, "saved before");
    assert_eq!(open_fds(), fds_before);
    println!("CHILD-PASSED emfile");
}

// ---------------------------------------------------------------------------------------------
// ENOSPC: a 256 KiB tmpfs mounted in a private mount namespace; strace fault injection where
// that is not permitted.
// ---------------------------------------------------------------------------------------------

/// The `unshare` flag that gives this process a private mount namespace where it may mount a
/// tmpfs: `-m` as root, `-Urm` (a user namespace mapped to root) where unprivileged user
/// namespaces are allowed.
fn unshare_flag(dir: &Path) -> Result<&'static str, String> {
    let mut why = Vec::new();
    for flag in ["-m", "-Urm"] {
        let out = Command::new("unshare")
            .args([flag, "sh", "-c", r#"mount -t tmpfs -o size=256k tmpfs "$0""#])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        if out.status.success() {
            return Ok(flag);
        }
        why.push(format!(
            "unshare {flag} + mount: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Err(why.join("; "))
}

fn strace_works() -> Result<(), String> {
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=write",
            "-e",
            "inject=write:error=ENOSPC:when=1",
            "true",
        ])
        .output()
        .map_err(|e| format!("cannot run strace: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "strace fault injection failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[test]
fn enospc_mid_write_is_storage_full_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("disk");
    std::fs::create_dir(&dir).unwrap();
    let forced = std::env::var(FORCE_STRACE_ENV).is_ok_and(|v| v == "1");
    let unshare = if forced { Err("strace forced".to_owned()) } else { unshare_flag(&dir) };
    let out = match unshare {
        Ok(flag) => {
            let wrapper = [
                "unshare",
                flag,
                "sh",
                "-c",
                r#"mount -t tmpfs -o size=256k tmpfs "$AIRLOCK_FAULT_DIR" && exec "$0" "$@""#,
            ];
            let out = child_command(&wrapper, "child_enospc", "enospc", &dir)
                .env(MODE_ENV, "tmpfs")
                .output()
                .unwrap();
            // The child wrote into its private tmpfs, never into the real directory.
            assert!(dir_entries(&dir).is_empty(), "{:?}", dir_entries(&dir));
            out
        }
        Err(why_not_unshare) => {
            if let Err(why_not_strace) = strace_works() {
                panic!(
                    "cannot simulate a full disk here: {why_not_unshare}; and {why_not_strace}. \
                     Allow `unshare -m` (root) or `unshare -Urm` (user namespaces), or install strace."
                );
            }
            // Injection counters are per thread. The child test runs on its own thread whose
            // first writes are the upload's 256 KiB chunks: failing only the 24th write hits the
            // 8 MiB upload mid-stream (after 5.75 MiB) but neither the later small save nor the
            // harness's main thread, which writes its report in fewer than 24 calls.
            let wrapper = strace_injecting("write", "inject=write:error=ENOSPC:when=24");
            child_command(&wrapper, "child_enospc", "enospc", &dir)
                .env(MODE_ENV, "strace")
                .output()
                .unwrap()
        }
    };
    assert_child_passed("enospc", &out);
}

#[test]
#[ignore = "child process of enospc_mid_write_is_storage_full_and_leaves_nothing"]
fn child_enospc() {
    let Some(dir) = child_role("enospc") else { return };
    if std::env::var(MODE_ENV).as_deref() == Ok("tmpfs") {
        let fs = rustix::fs::statfs(&dir).unwrap();
        let size = fs.f_blocks as u64 * fs.f_bsize as u64;
        assert!(size <= 256 * 1024, "not on the small tmpfs: {size} bytes");
    }
    let store = UploadStore::open_ambient(&dir, StoreOptions::new()).unwrap();
    let fds = open_fds();

    let strace = std::env::var(MODE_ENV).as_deref() == Ok("strace");
    // Under strace the 24th write fails: the upload must need more than 24 chunks of 256 KiB.
    let big = if strace { 8 * MIB } else { MIB };
    assert_full_and_clean(&store, &dir, big, Errno::NOSPC, fds);
    // The space is free again: a small upload fits.
    assert_small_save_works(&store, &dir);
    println!("CHILD-PASSED enospc");
}

// ---------------------------------------------------------------------------------------------
// Killed mid-write: at most a staged dot-file remains, never the final name, and opening the
// store sweeps it once it is stale (the kernel released the dead process's lock).
// ---------------------------------------------------------------------------------------------

#[test]
fn killed_mid_write_leaves_only_a_staged_file_that_the_next_open_sweeps() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut child = child_command::<&str>(&[], "child_killed", "killed", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("STAGED") => break,
            Some(Ok(_)) => {}
            other => {
                let _ = child.kill();
                panic!("child ended before staging: {other:?}");
            }
        }
        assert!(Instant::now() < deadline, "child did not start");
    }
    std::thread::sleep(Duration::from_millis(200)); // let it write a few more chunks
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();

    let entries = dir_entries(dir);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with(&format!("{STAGED_PREFIX}{pid}-")), "{entries:?}");
    assert!(SafeName::parse(&entries[0]).is_err());
    let staged_len = std::fs::metadata(dir.join(&entries[0])).unwrap().len();
    assert!(staged_len >= 64 * 1024, "the child was not mid-write: {staged_len} bytes");

    // A store opened now does not list it, and the default grace period keeps a fresh one.
    let store = UploadStore::open_ambient(dir, StoreOptions::new()).unwrap();
    assert!(store.list().unwrap().is_empty());
    assert_eq!(dir_entries(dir), entries);
    // Once stale, nobody holds its lock: swept.
    let _store =
        UploadStore::open_ambient(dir, StoreOptions::new().stale_after(Duration::ZERO)).unwrap();
    assert!(dir_entries(dir).is_empty(), "not swept: {:?}", dir_entries(dir));
}

#[test]
#[ignore = "child process of killed_mid_write_leaves_only_a_staged_file_that_the_next_open_sweeps"]
fn child_killed() {
    use std::io::Write;
    let Some(dir) = child_role("killed") else { return };
    let store =
        UploadStore::open_ambient(&dir, StoreOptions::new().durability(Durability::None)).unwrap();
    let mut up = store.begin("big.bin").unwrap();
    up.write_chunk(&[b'k'; 64 * 1024]).unwrap();
    println!("STAGED");
    std::io::stdout().flush().unwrap();
    for _ in 0..6000 {
        up.write_chunk(&[b'k'; 4096]).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("child_killed was not killed within a minute");
}

// ---------------------------------------------------------------------------------------------
// No RENAME_NOREPLACE: every renameat2 fails with EINVAL (as on filesystems without it), so
// publishing takes the link + unlink fallback, which must be just as no-replace.
// ---------------------------------------------------------------------------------------------

#[test]
fn without_renameat2_the_link_fallback_never_replaces() {
    let tmp = tempfile::tempdir().unwrap();
    if let Err(why) = strace_works() {
        panic!("this test injects EINVAL into renameat2 with strace: {why}");
    }
    let wrapper = strace_injecting("renameat2", "inject=renameat2:error=EINVAL");
    let out =
        child_command(&wrapper, "child_no_renameat2", "no_renameat2", tmp.path()).output().unwrap();
    assert_child_passed("no_renameat2", &out);
}

#[test]
#[ignore = "child process of without_renameat2_the_link_fallback_never_replaces"]
fn child_no_renameat2() {
    use airlock::ConflictPolicy;
    let Some(root) = child_role("no_renameat2") else { return };
    let (dir, outside) = (root.join("store"), root.join("outside"));
    std::fs::create_dir(&dir).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim.txt"), b"VICTIM").unwrap();
    std::os::unix::fs::symlink(outside.join("victim.txt"), dir.join("link.txt")).unwrap();

    // The injection is in force.
    std::fs::write(dir.join(".probe"), b"").unwrap();
    let probe = rustix::fs::renameat_with(
        rustix::fs::CWD,
        dir.join(".probe"),
        rustix::fs::CWD,
        dir.join(".probe2"),
        rustix::fs::RenameFlags::NOREPLACE,
    );
    assert_eq!(probe, Err(Errno::INVAL), "renameat2 is not failing");
    std::fs::remove_file(dir.join(".probe")).unwrap();

    let opts = StoreOptions::new().durability(Durability::None);
    let store = UploadStore::open_ambient(&dir, opts.clone()).unwrap();
    let refuse = UploadStore::open_ambient(&dir, opts.conflict(ConflictPolicy::Refuse)).unwrap();
    assert_eq!(store.save("a.txt", &b"first"[..]).unwrap().name().as_str(), "a.txt");
    assert_eq!(store.save("a.txt", &b"second"[..]).unwrap().name().as_str(), "a (1).txt");
    let err = refuse.save("a.txt", &b"third"[..]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::AlreadyExists, "{err:?}");
    assert_eq!(store.save("link.txt", &b"ATTACK"[..]).unwrap().name().as_str(), "link (1).txt");
    assert_eq!(std::fs::read(outside.join("victim.txt")).unwrap(), b"VICTIM");
    assert_eq!(dir_entries(&outside), vec!["victim.txt"]);

    // Concurrent saves of one name still land whole under distinct names.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8u8)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                let body = vec![t; 200_000];
                barrier.wait();
                (t, store.save("same.bin", &body[..]).unwrap())
            })
        })
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for h in handles {
        let (t, stored) = h.join().unwrap();
        assert_eq!(std::fs::read(dir.join(stored.name().as_str())).unwrap(), vec![t; 200_000]);
        assert!(names.insert(stored.name().as_str().to_owned()));
    }
    assert_eq!(names.len(), 8);
    assert_eq!(std::fs::read(dir.join("a.txt")).unwrap(), b"first");
    let entries = dir_entries(&dir);
    assert!(!entries.iter().any(|e| e.starts_with(STAGED_PREFIX)), "{entries:?}");
    assert_eq!(entries.len(), 4 + 8, "{entries:?}"); // a, a (1), link, link (1), 8 x same
    println!("CHILD-PASSED no_renameat2");
}

// ---------------------------------------------------------------------------------------------
// fsync of the directory fails after the upload was published: the commit fails, the name is
// taken back (nothing visible), and the handed-back upload commits once fsync works again.
// ---------------------------------------------------------------------------------------------

#[test]
fn directory_fsync_failure_unpublishes_and_the_upload_can_be_retried() {
    let tmp = tempfile::tempdir().unwrap();
    if let Err(why) = strace_works() {
        panic!("this test injects EIO into fsync with strace: {why}");
    }
    // Per thread: the first fsync is the file's, the second the directory's.
    let wrapper = strace_injecting("fsync", "inject=fsync:error=EIO:when=2");
    let out = child_command(&wrapper, "child_dir_fsync", "dir_fsync", tmp.path()).output().unwrap();
    assert_child_passed("dir_fsync", &out);
}

#[test]
#[ignore = "child process of directory_fsync_failure_unpublishes_and_the_upload_can_be_retried"]
fn child_dir_fsync() {
    use airlock::Durability;
    let Some(dir) = child_role("dir_fsync") else { return };
    std::fs::create_dir_all(&dir).unwrap();
    let store =
        UploadStore::open_ambient(&dir, StoreOptions::new().durability(Durability::Fsync)).unwrap();
    let mut upload = store.begin("report.txt").unwrap();
    upload.write_chunk(b"durable or nothing").unwrap();
    let failed = upload.commit().unwrap_err();
    assert_eq!(io_errno(failed.error()), Some(Errno::IO), "{}", failed.error());
    // Not visible under its name, and still staged (one hidden entry).
    assert!(store.list().unwrap().is_empty());
    let entries = common::dir_entries(&dir);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with(STAGED_PREFIX), "{entries:?}");
    // Third and later fsyncs succeed: the retry publishes the same bytes.
    let stored = failed.into_upload().commit().unwrap();
    assert_eq!(stored.name().as_str(), "report.txt");
    assert_eq!(std::fs::read(dir.join("report.txt")).unwrap(), b"durable or nothing");
    assert_eq!(common::dir_entries(&dir), vec!["report.txt".to_owned()]);
    println!("CHILD-PASSED dir_fsync");
}
