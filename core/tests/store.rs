//! The confined upload store against every attack and behaviour in `spec/store.md`.
//!
//! Each test builds its own temporary directory holding `store/` (the store root) and
//! `outside/victim.txt` (what an escape would reach). Attacks are planted with plain `std::fs` /
//! `rustix` calls, exactly as another process with write access to the directory could.
//!
//! Fault injection (ENOSPC, EFBIG, EMFILE, a killed process) is in `store_faults.rs`; the
//! 10,000-failures descriptor count is alone in `store_fd_leak.rs`.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, SystemTime};

use airlock::{ConflictPolicy, Durability, Error, ErrorCode, SafeName, StoreOptions, UploadStore};
use common::{dir_entries, open_fds};
use rustix::fs::{FileType, FlockOperation, Mode, RenameFlags, CWD};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Tests in this binary run in parallel threads of one process. Those that compare the process's
/// descriptor count take this lock exclusively; every other test holds it shared, so no other
/// test opens or closes descriptors while a count is being compared.
static FD_GATE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    FD_GATE.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    FD_GATE.write().unwrap_or_else(|e| e.into_inner())
}

const VICTIM: &[u8] = b"VICTIM: must never be modified through the store\n";
const STAGED_PREFIX: &str = ".airlock-staged-";

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    store_dir: PathBuf,
    outside: PathBuf,
    victim: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let store_dir = root.join("store");
    let outside = root.join("outside");
    fs::create_dir(&store_dir).unwrap();
    fs::create_dir(&outside).unwrap();
    let victim = outside.join("victim.txt");
    fs::write(&victim, VICTIM).unwrap();
    Fixture { _tmp: tmp, root, store_dir, outside, victim }
}

/// Everything about the victim file that a write through the store would change.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    content: Vec<u8>,
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    mode: u32,
}

impl Snapshot {
    fn take(path: &Path) -> Snapshot {
        let m = fs::symlink_metadata(path).unwrap();
        assert!(m.file_type().is_file(), "{} is not a regular file", path.display());
        Snapshot {
            content: fs::read(path).unwrap(),
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            mode: m.mode(),
        }
    }
}

impl Fixture {
    fn victim_snapshot(&self) -> Snapshot {
        Snapshot::take(&self.victim)
    }

    /// The victim is byte-for-byte, inode and timestamp unchanged, and nothing new appeared
    /// outside the store.
    fn assert_outside_untouched(&self, before: &Snapshot) {
        assert_eq!(&Snapshot::take(&self.victim), before, "the file outside the store changed");
        assert_eq!(dir_entries(&self.outside), vec!["victim.txt"], "something appeared outside");
    }

    fn open(&self, options: StoreOptions) -> UploadStore {
        UploadStore::open_ambient(&self.store_dir, options).unwrap()
    }
}

/// Fast options for tests that do not test durability.
fn fast() -> StoreOptions {
    StoreOptions::new().durability(Durability::None)
}

fn name(s: &str) -> SafeName {
    SafeName::parse(s).unwrap()
}

fn read_stored(store: &UploadStore, n: &SafeName) -> Vec<u8> {
    let mut out = Vec::new();
    store.open(n).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// Deterministic, distinct content per `tag`.
fn payload(tag: u64, len: usize) -> Vec<u8> {
    let mut x = tag.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(format!("payload {tag}:").as_bytes());
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn staged_entries(dir: &Path) -> Vec<String> {
    dir_entries(dir).into_iter().filter(|e| e.starts_with(STAGED_PREFIX)).collect()
}

/// No descriptor of this process refers to anything inside `dir` (the store's own directory
/// descriptor refers to `dir` itself and is allowed). Unlike a raw count this is exact even
/// while other tests open files: their temporary directories are different.
fn assert_no_fd_inside(dir: &Path) {
    for entry in fs::read_dir("/proc/self/fd").unwrap() {
        let Ok(entry) = entry else { continue };
        let Ok(target) = fs::read_link(entry.path()) else { continue };
        assert!(
            !(target.starts_with(dir) && target != dir),
            "descriptor {:?} still refers to {}",
            entry.file_name(),
            target.display()
        );
    }
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(CWD, path, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
}

/// Runs `f` on another thread and fails if it has not returned within 5 s: a deadlock guard
/// for operations that would block forever on a FIFO, not a timing assertion.
fn within_5s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} blocked for more than 5 s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// A source that yields `ok_bytes` bytes in uneven reads and then fails, like a client that
/// disconnects mid-upload.
struct FailingReader {
    remaining: usize,
    served: usize,
}

impl FailingReader {
    fn new(ok_bytes: usize) -> Self {
        FailingReader { remaining: ok_bytes, served: 0 }
    }
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away"));
        }
        let n = buf.len().min(self.remaining).min(7_001);
        buf[..n].fill(b'z');
        self.remaining -= n;
        self.served += n;
        Ok(n)
    }
}

/// An endless source that counts what is read from it.
struct Counting {
    read: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        buf.fill(b'a');
        self.read.fetch_add(buf.len() as u64, Ordering::SeqCst);
        Ok(buf.len())
    }
}

const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
const HTML: &[u8] = b"<html><script>alert(document.cookie)</script></html>";

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

#[test]
fn every_filename_vector_stores_exactly_one_regular_file_in_the_root_or_nothing() {
    let _g = shared();
    let mut accepted = 0;
    let mut rejected = 0;
    for v in common::name_vectors() {
        let mut inputs = vec![v.name.clone()];
        if let Some(raw) = &v.raw_hex {
            inputs.push(String::from_utf8_lossy(&common::hex_bytes(raw)).into_owned());
        }
        for (i, input) in inputs.iter().enumerate() {
            let fx = fixture();
            let store = fx.open(fast().check_content(false));
            let body = format!("content of vector {} input {i}", v.id).into_bytes();
            match store.save(input, &body[..]) {
                Ok(stored) => {
                    accepted += 1;
                    let stored_name = stored.name().as_str().to_owned();
                    // Exactly one entry, directly in the root, named exactly as returned.
                    let raw_names: Vec<_> = fs::read_dir(&fx.store_dir)
                        .unwrap()
                        .map(|e| e.unwrap().file_name())
                        .collect();
                    assert_eq!(raw_names.len(), 1, "{}: {raw_names:?}", v.id);
                    assert_eq!(raw_names[0].as_encoded_bytes(), stored_name.as_bytes(), "{}", v.id);
                    let meta = fs::symlink_metadata(fx.store_dir.join(&stored_name)).unwrap();
                    assert!(meta.file_type().is_file(), "{}: not a regular file", v.id);
                    assert_eq!(meta.len(), body.len() as u64, "{}", v.id);
                    // Nothing beside the store root, nothing outside.
                    assert_eq!(dir_entries(&fx.root), vec!["outside", "store"], "{}", v.id);
                    assert_eq!(dir_entries(&fx.outside), vec!["victim.txt"], "{}", v.id);
                    // The name is the documented sanitization, and its own lookup key.
                    assert_eq!(stored.name(), &SafeName::sanitize(input).unwrap(), "{}", v.id);
                    let looked_up = SafeName::parse(&stored_name)
                        .unwrap_or_else(|e| panic!("{}: stored name does not parse: {e}", v.id));
                    assert_eq!(read_stored(&store, &looked_up), body, "{}", v.id);
                    assert_eq!(store.list().unwrap(), vec![looked_up], "{}", v.id);
                    assert_eq!(stored.size(), body.len() as u64);
                    assert_eq!(stored.sha256()[..], Sha256::digest(&body)[..], "{}", v.id);
                }
                Err(e) => {
                    rejected += 1;
                    assert_ne!(v.expect, "store", "{}: legitimate name refused: {e}", v.id);
                    assert_eq!(e.code(), ErrorCode::InvalidName, "{}: {e}", v.id);
                    assert!(
                        dir_entries(&fx.store_dir).is_empty(),
                        "{}: left {:?}",
                        v.id,
                        dir_entries(&fx.store_dir)
                    );
                    assert_eq!(dir_entries(&fx.outside), vec!["victim.txt"], "{}", v.id);
                }
            }
        }
    }
    assert!(accepted >= 60 && rejected >= 3, "accepted {accepted}, rejected {rejected}");
}

#[test]
fn image_allowlist_runs_on_the_final_name() {
    let _g = shared();
    let fx = fixture();
    let store = fx.open(fast().allow_extensions(["png", "jpg", "jpeg"]).check_content(false));
    for bad in [
        "A.PHP",
        "a.jpg.php",
        "scan.\u{440}df",
        "shell.\u{ff50}\u{ff48}\u{ff50}",
        "noext",
        "x.png.",
        "x.png ",
    ] {
        match store.save(bad, &b"<?php system($_GET['c']); ?>"[..]) {
            Err(e) => {
                // Trailing dots/spaces are stripped by sanitize, so "x.png." is legitimately a png.
                assert_eq!(e.code(), ErrorCode::ExtensionNotAllowed, "{bad:?}: {e}");
            }
            Ok(s) if bad.starts_with("x.png") => {
                assert_eq!(s.name().as_str(), "x.png");
                store.remove(s.name()).unwrap();
            }
            Ok(s) => panic!("{bad:?} accepted as {:?}", s.name()),
        }
        assert!(
            dir_entries(&fx.store_dir).is_empty(),
            "{bad:?} left {:?}",
            dir_entries(&fx.store_dir)
        );
    }
    // The Upload API checks before anything is created on disk.
    assert_eq!(store.begin("A.PHP").unwrap_err().code(), ErrorCode::ExtensionNotAllowed);
    assert!(dir_entries(&fx.store_dir).is_empty());

    let stored = store.save("photo.JPG", &b"\xff\xd8\xff\xe0 jpeg"[..]).unwrap();
    assert_eq!(stored.name().as_str(), "photo.JPG");
    assert_eq!(dir_entries(&fx.store_dir), vec!["photo.JPG"]);
}

// ---------------------------------------------------------------------------------------------
// Symlinks planted in the store
// ---------------------------------------------------------------------------------------------

#[test]
fn planted_symlink_to_a_file_outside_is_never_written_through_followed_or_listed() {
    let _g = shared();
    let fx = fixture();
    let before = fx.victim_snapshot();
    std::os::unix::fs::symlink(&fx.victim, fx.store_dir.join("victim.txt")).unwrap();
    // A dangling link: O_CREAT through it would create the target outside.
    std::os::unix::fs::symlink(fx.outside.join("created.txt"), fx.store_dir.join("dangling.txt"))
        .unwrap();

    let rename = fx.open(fast());
    let refuse = fx.open(fast().conflict(ConflictPolicy::Refuse));

    // Rename policy: the upload lands under a numbered name, inside.
    let stored = rename.save("victim.txt", &b"ATTACK"[..]).unwrap();
    assert_eq!(stored.name().as_str(), "victim (1).txt");
    assert_eq!(read_stored(&rename, stored.name()), b"ATTACK");
    let stored2 = rename.save("dangling.txt", &b"ATTACK2"[..]).unwrap();
    assert_eq!(stored2.name().as_str(), "dangling (1).txt");

    // Refuse policy: AlreadyExists, through save and through the streaming API.
    for n in ["victim.txt", "dangling.txt"] {
        let err = refuse.save(n, &b"ATTACK"[..]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::AlreadyExists, "{n}: {err}");
        let mut up = refuse.begin(n).unwrap();
        up.write_chunk(b"ATTACK").unwrap();
        assert_eq!(up.commit().unwrap_err().error().code(), ErrorCode::AlreadyExists);
    }

    // open / remove refuse the link; the link and the victim stay.
    for n in ["victim.txt", "dangling.txt"] {
        assert_eq!(rename.open(&name(n)).unwrap_err().code(), ErrorCode::EscapeAttempt, "{n}");
        assert_eq!(rename.remove(&name(n)).unwrap_err().code(), ErrorCode::EscapeAttempt, "{n}");
        assert!(fs::symlink_metadata(fx.store_dir.join(n)).unwrap().file_type().is_symlink());
    }

    // list never shows a link.
    assert_eq!(rename.list().unwrap(), vec![name("dangling (1).txt"), name("victim (1).txt")]);

    fx.assert_outside_untouched(&before);
    assert!(!fx.outside.join("created.txt").exists());
    assert!(staged_entries(&fx.store_dir).is_empty());
}

#[test]
fn planted_symlink_to_a_directory_outside_is_never_entered() {
    let _g = shared();
    let fx = fixture();
    let before = fx.victim_snapshot();
    std::os::unix::fs::symlink(&fx.outside, fx.store_dir.join("x")).unwrap();

    let store = fx.open(fast());
    let refuse = fx.open(fast().conflict(ConflictPolicy::Refuse));

    assert_eq!(store.save("x", &b"A"[..]).unwrap().name().as_str(), "x (1)");
    assert_eq!(refuse.save("x", &b"A"[..]).unwrap_err().code(), ErrorCode::AlreadyExists);
    // Names that would resolve *through* the link if they were paths: one leaf each, inside.
    for (client, stored) in [
        ("x/file.txt", "x_file.txt"),
        ("x/victim.txt", "x_victim.txt"),
        ("x\\victim.txt", "x_victim (1).txt"),
        ("./x/../x/new.txt", "x_x_new.txt"), /* `..` is dropped, never resolved */
        ("x_file.txt", "x_file (1).txt"),
    ] {
        let s = store.save(client, &b"B"[..]).unwrap();
        assert_eq!(s.name().as_str(), stored, "{client}");
    }
    assert_eq!(store.open(&name("x")).unwrap_err().code(), ErrorCode::EscapeAttempt);
    assert_eq!(store.remove(&name("x")).unwrap_err().code(), ErrorCode::EscapeAttempt);
    assert!(fs::symlink_metadata(fx.store_dir.join("x")).unwrap().file_type().is_symlink());
    assert!(!store.list().unwrap().contains(&name("x")));
    assert_eq!(store.list().unwrap().len(), 6);

    fx.assert_outside_untouched(&before);
}

/// The name is swapped atomically between a regular file and symlinks pointing outside (to the
/// victim file, to the outside directory, and dangling into it) while other threads save, open,
/// list and remove under it.
#[test]
fn toctou_symlink_swapped_in_a_loop_while_saving_and_opening_never_escapes() {
    let _g = shared();
    let fx = fixture();
    let before = fx.victim_snapshot();
    let dir = fx.store_dir.clone();
    let inside: &[u8] = b"INSIDE";

    // "race.txt" always exists (RENAME_EXCHANGE is atomic); its partners are dot-names, which
    // are never SafeNames, so the store itself never touches them.
    fs::write(dir.join("race.txt"), inside).unwrap();
    let inside_ino = fs::metadata(dir.join("race.txt")).unwrap().ino();
    std::os::unix::fs::symlink(&fx.victim, dir.join(".link-file")).unwrap();
    std::os::unix::fs::symlink(&fx.outside, dir.join(".link-dir")).unwrap();
    std::os::unix::fs::symlink(fx.outside.join("planted.txt"), dir.join(".link-dangling")).unwrap();

    let rename = fx.open(fast());
    let refuse = fx.open(fast().conflict(ConflictPolicy::Refuse));
    let race = name("race.txt");
    let race2 = name("race2.txt");
    let victim_ino = before.ino;

    let stop = AtomicBool::new(false);
    let swaps = AtomicU64::new(0);
    let escapes_seen = AtomicU64::new(0);
    let inside_opens = AtomicU64::new(0);
    let race2_saved = AtomicU64::new(0);
    let race2_escapes = AtomicU64::new(0);
    // Digests of every body a saver sent: each stored file must be exactly one of them.
    let payloads = std::sync::Mutex::new(BTreeSet::<Vec<u8>>::new());

    thread::scope(|s| {
        // Swapper 1: exchange race.txt with each link in turn, and back.
        s.spawn(|| {
            let partners = [".link-file", ".link-dir", ".link-dangling"];
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let p = dir.join(partners[i % partners.len()]);
                for _ in 0..2 {
                    rustix::fs::renameat_with(
                        CWD,
                        dir.join("race.txt"),
                        CWD,
                        &p,
                        RenameFlags::EXCHANGE,
                    )
                    .expect("RENAME_EXCHANGE");
                }
                swaps.fetch_add(2, Ordering::Relaxed);
                i += 1;
            }
        });
        // Swapper 2: race2.txt comes and goes: a symlink to the victim is renamed over it
        // (replacing whatever is there), then it is unlinked, leaving the name free.
        s.spawn(|| {
            let tmp = dir.join(".tmp-link");
            while !stop.load(Ordering::Relaxed) {
                let _ = fs::remove_file(&tmp);
                std::os::unix::fs::symlink(&fx.victim, &tmp).unwrap();
                fs::rename(&tmp, dir.join("race2.txt")).unwrap();
                thread::yield_now();
                let _ = fs::remove_file(dir.join("race2.txt"));
                thread::yield_now();
            }
        });
        // Savers.
        for t in 0..2u64 {
            let (rename, refuse, payloads, stop) = (&rename, &refuse, &payloads, &stop);
            let race2_saved = &race2_saved;
            s.spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = payload(t << 32 | i, 4096 + (i as usize % 3) * 70_000);
                    payloads.lock().unwrap().insert(Sha256::digest(&body).to_vec());
                    // race.txt always exists: Refuse must refuse, never write through.
                    let e = refuse.save("race.txt", &body[..]).unwrap_err();
                    assert_eq!(e.code(), ErrorCode::AlreadyExists, "{e}");
                    // Rename lands under a numbered name (bounded: each save probes names).
                    if i < 40 {
                        let stored = rename.save("race.txt", &body[..]).unwrap();
                        assert_ne!(stored.name().as_str(), "race.txt");
                    }
                    match refuse.save("race2.txt", &body[..]) {
                        Ok(stored) => {
                            assert_eq!(stored.name().as_str(), "race2.txt");
                            race2_saved.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => assert_eq!(e.code(), ErrorCode::AlreadyExists, "{e}"),
                    }
                    i += 1;
                }
            });
        }
        // Openers: two hammer race.txt; a third opens, removes and lists race2.txt.
        for k in 0..3 {
            let (rename, race, race2, stop) = (&rename, &race, &race2, &stop);
            let (escapes_seen, inside_opens, race2_escapes, payloads) =
                (&escapes_seen, &inside_opens, &race2_escapes, &payloads);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if k < 2 {
                        match rename.open(race) {
                            Ok(f) => {
                                let f = f.into_file();
                                let m = f.metadata().unwrap();
                                assert!(m.file_type().is_file());
                                assert_eq!(
                                    m.ino(),
                                    inside_ino,
                                    "open returned a file that is not the inside one"
                                );
                                let mut content = Vec::new();
                                (&f).read_to_end(&mut content).unwrap();
                                assert_eq!(content, inside);
                                inside_opens.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(Error::EscapeAttempt { .. }) => {
                                escapes_seen.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("open race.txt: unexpected {e:?}"),
                        }
                        continue;
                    }
                    match rename.open(race2) {
                        Ok(f) => {
                            let f = f.into_file();
                            let m = f.metadata().unwrap();
                            assert!(m.file_type().is_file());
                            assert_ne!(m.ino(), victim_ino, "open followed the link to the victim");
                            let mut content = Vec::new();
                            (&f).read_to_end(&mut content).unwrap();
                            let digest = Sha256::digest(&content).to_vec();
                            assert!(payloads.lock().unwrap().contains(&digest), "unknown content");
                        }
                        Err(Error::EscapeAttempt { .. }) => {
                            race2_escapes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(Error::NotFound { .. }) => {}
                        Err(e) => panic!("open race2.txt: unexpected {e:?}"),
                    }
                    match rename.remove(race2) {
                        Ok(()) | Err(Error::NotFound { .. }) | Err(Error::EscapeAttempt { .. }) => {
                        }
                        Err(e) => panic!("remove race2.txt: unexpected {e:?}"),
                    }
                    for n in rename.list().unwrap() {
                        assert!(!n.as_str().starts_with('.'), "{n:?}");
                    }
                }
            });
        }
        thread::sleep(Duration::from_secs(1));
        stop.store(true, Ordering::Relaxed);
    });

    // The race really interleaved.
    let (swaps, escapes, insides) =
        (swaps.into_inner(), escapes_seen.into_inner(), inside_opens.into_inner());
    assert!(swaps > 100, "only {swaps} swaps");
    assert!(escapes > 0 && insides > 0, "escapes {escapes}, inside opens {insides}");
    assert!(race2_saved.into_inner() > 0, "no save ever won race2.txt");
    assert!(race2_escapes.into_inner() > 0, "race2.txt was never seen as a link");

    fx.assert_outside_untouched(&before);
    assert!(!fx.outside.join("planted.txt").exists());
    // race.txt is still the inside file or a link (whichever the last swap left), never an
    // upload; every other regular file is one saver's full payload.
    let payloads = payloads.into_inner().unwrap();
    for entry in fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let n = entry.file_name().into_string().unwrap();
        let ft = entry.file_type().unwrap();
        assert!(!n.starts_with(STAGED_PREFIX), "staged file left: {n}");
        if n.starts_with('.') || n == "race.txt" || n == "race2.txt" {
            continue;
        }
        assert!(ft.is_file(), "{n}");
        let digest = Sha256::digest(fs::read(entry.path()).unwrap()).to_vec();
        assert!(payloads.contains(&digest), "{n} is not exactly one saver's body");
    }
    let m = fs::symlink_metadata(dir.join("race.txt")).unwrap();
    assert!(m.file_type().is_symlink() || m.ino() == inside_ino);
    if m.file_type().is_file() {
        assert_eq!(fs::read(dir.join("race.txt")).unwrap(), inside);
    }
}

/// A FIFO, a socket and a directory are swapped in and out under a name while it is opened in
/// a loop: without `O_NONBLOCK` an open that loses the race blocks forever on the FIFO.
#[test]
fn fifo_swapped_in_during_open_never_blocks() {
    let _g = shared();
    let fx = fixture();
    let dir = fx.store_dir.clone();
    fs::write(dir.join("pipe.txt"), b"INSIDE").unwrap();
    let inside_ino = fs::metadata(dir.join("pipe.txt")).unwrap().ino();
    mkfifo(&dir.join(".fifo"));
    fs::create_dir(dir.join(".dir")).unwrap();
    let _sock = UnixListener::bind(dir.join(".sock")).unwrap();
    let store = fx.open(fast());

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, dir) = (stop.clone(), dir.clone());
        thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let p = dir.join([".fifo", ".dir", ".sock"][i % 3]);
                for _ in 0..2 {
                    rustix::fs::renameat_with(
                        CWD,
                        dir.join("pipe.txt"),
                        CWD,
                        &p,
                        RenameFlags::EXCHANGE,
                    )
                    .expect("RENAME_EXCHANGE");
                }
                i += 1;
            }
        })
    };
    let (tx, rx) = mpsc::channel();
    for _ in 0..3 {
        let (stop, store, tx) = (stop.clone(), store.clone(), tx.clone());
        thread::spawn(move || {
            let (mut ok, mut refused) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                match store.open(&name("pipe.txt")) {
                    Ok(f) => {
                        let m = f.into_file().metadata().unwrap();
                        assert!(m.file_type().is_file() && m.ino() == inside_ino);
                        ok += 1;
                    }
                    Err(Error::NotRegularFile { .. }) => refused += 1,
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
            let _ = tx.send((ok, refused));
        });
    }
    drop(tx);
    thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut refused) = (0, 0);
    for _ in 0..3 {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok((o, r)) => {
                ok += o;
                refused += r;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("an open blocked for more than 5 s"),
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("an opener panicked"),
        }
    }
    swapper.join().unwrap();
    assert!(ok > 0 && refused > 0, "ok {ok}, refused {refused}");
}

#[test]
fn store_directory_replaced_by_a_symlink_keeps_using_the_original_directory() {
    let _g = shared();
    let fx = fixture();
    let before = fx.victim_snapshot();
    let store = fx.open(fast());
    store.save("before.txt", &b"1"[..]).unwrap();
    let mut inflight = store.begin("inflight.txt").unwrap();
    inflight.write_chunk(b"part one, ").unwrap();

    // Swap: the store directory moves away and a symlink to the outside takes its path.
    let moved = fx.root.join("moved");
    fs::rename(&fx.store_dir, &moved).unwrap();
    std::os::unix::fs::symlink(&fx.outside, &fx.store_dir).unwrap();

    inflight.write_chunk(b"part two").unwrap();
    assert_eq!(inflight.commit().unwrap().name().as_str(), "inflight.txt");
    store.save("after.txt", &b"2"[..]).unwrap();
    store.save("victim.txt", &b"3"[..]).unwrap(); // the victim's name, in the moved directory
    assert_eq!(
        store.list().unwrap(),
        vec![name("after.txt"), name("before.txt"), name("inflight.txt"), name("victim.txt")]
    );
    assert_eq!(read_stored(&store, &name("inflight.txt")), b"part one, part two");
    assert_eq!(read_stored(&store, &name("victim.txt")), b"3");
    store.remove(&name("before.txt")).unwrap();
    assert_eq!(dir_entries(&moved), vec!["after.txt", "inflight.txt", "victim.txt"]);
    fx.assert_outside_untouched(&before);
}

#[test]
fn hard_link_to_a_file_outside_is_only_unlinked_never_rewritten() {
    let _g = shared();
    let fx = fixture();
    let before = fx.victim_snapshot();
    fs::hard_link(&fx.victim, fx.store_dir.join("linked.txt")).unwrap();
    assert_eq!(fs::metadata(&fx.victim).unwrap().nlink(), 2);

    let store = fx.open(fast());
    let refuse = fx.open(fast().conflict(ConflictPolicy::Refuse));

    // A save under the name never truncates or rewrites the shared inode.
    let s = store.save("linked.txt", &b"OVERWRITE"[..]).unwrap();
    assert_eq!(s.name().as_str(), "linked (1).txt");
    assert_eq!(
        refuse.save("linked.txt", &b"OVERWRITE"[..]).unwrap_err().code(),
        ErrorCode::AlreadyExists
    );
    let mut up = refuse.begin("linked.txt").unwrap();
    up.write_chunk(b"").unwrap();
    assert_eq!(up.commit().unwrap_err().error().code(), ErrorCode::AlreadyExists);
    assert_eq!(&Snapshot::take(&fx.victim), &before);

    // remove unlinks the name only.
    store.remove(&name("linked.txt")).unwrap();
    assert!(fs::symlink_metadata(fx.store_dir.join("linked.txt")).is_err());
    fx.assert_outside_untouched(&before);
    assert_eq!(fs::metadata(&fx.victim).unwrap().nlink(), 1);
    assert_eq!(dir_entries(&fx.store_dir), vec!["linked (1).txt"]);
}

// ---------------------------------------------------------------------------------------------
// Special files
// ---------------------------------------------------------------------------------------------

#[test]
fn fifo_planted_under_a_stored_name_is_refused_without_blocking() {
    let _g = shared();
    let fx = fixture();
    mkfifo(&fx.store_dir.join("pipe.txt"));
    let store = fx.open(fast());
    let refuse = fx.open(fast().conflict(ConflictPolicy::Refuse));
    store.save("real.txt", &b"real"[..]).unwrap();

    let s = store.clone();
    let err = within_5s("open of a FIFO", move || s.open(&name("pipe.txt")).unwrap_err());
    assert_eq!(err.code(), ErrorCode::NotRegularFile, "{err}");
    let s = store.clone();
    let err = within_5s("remove of a FIFO", move || s.remove(&name("pipe.txt")).unwrap_err());
    assert_eq!(err.code(), ErrorCode::NotRegularFile, "{err}");
    // Saving under its name never opens it for writing (which would block without a reader).
    let s = store.clone();
    let stored = within_5s("save over a FIFO", move || s.save("pipe.txt", &b"data"[..]).unwrap());
    assert_eq!(stored.name().as_str(), "pipe (1).txt");
    let r = refuse.clone();
    let err = within_5s("save over a FIFO", move || r.save("pipe.txt", &b"data"[..]).unwrap_err());
    assert_eq!(err.code(), ErrorCode::AlreadyExists);

    assert_eq!(store.list().unwrap(), vec![name("pipe (1).txt"), name("real.txt")]);
    assert!(fs::symlink_metadata(fx.store_dir.join("pipe.txt")).unwrap().file_type().is_fifo());
}

#[test]
fn unix_socket_planted_under_a_stored_name_is_refused() {
    let _g = shared();
    let fx = fixture();
    let _listener = UnixListener::bind(fx.store_dir.join("sock.txt")).unwrap();
    let store = fx.open(fast());
    let s = store.clone();
    let err = within_5s("open of a socket", move || s.open(&name("sock.txt")).unwrap_err());
    assert_eq!(err.code(), ErrorCode::NotRegularFile, "{err}");
    assert_eq!(store.remove(&name("sock.txt")).unwrap_err().code(), ErrorCode::NotRegularFile);
    assert_eq!(store.save("sock.txt", &b"x"[..]).unwrap().name().as_str(), "sock (1).txt");
    assert_eq!(store.list().unwrap(), vec![name("sock (1).txt")]);
    assert!(fs::symlink_metadata(fx.store_dir.join("sock.txt")).unwrap().file_type().is_socket());
}

#[test]
fn device_node_and_directory_under_a_stored_name_are_refused() {
    let _g = shared();
    let fx = fixture();
    fs::create_dir(fx.store_dir.join("folder.txt")).unwrap();
    fs::write(fx.store_dir.join("folder.txt").join("inner.txt"), b"inner").unwrap();
    let store = fx.open(fast());
    assert_eq!(store.open(&name("folder.txt")).unwrap_err().code(), ErrorCode::NotRegularFile);
    assert_eq!(store.remove(&name("folder.txt")).unwrap_err().code(), ErrorCode::NotRegularFile);
    assert_eq!(store.save("folder.txt", &b"x"[..]).unwrap().name().as_str(), "folder (1).txt");
    assert_eq!(dir_entries(&fx.store_dir.join("folder.txt")), vec!["inner.txt"]);

    // A character device with /dev/null's numbers (creating it needs CAP_MKNOD).
    match rustix::fs::mknodat(
        CWD,
        fx.store_dir.join("null.txt"),
        FileType::CharacterDevice,
        Mode::from_raw_mode(0o600),
        rustix::fs::makedev(1, 3),
    ) {
        Ok(()) => {
            assert_eq!(
                store.open(&name("null.txt")).unwrap_err().code(),
                ErrorCode::NotRegularFile
            );
            assert_eq!(
                store.remove(&name("null.txt")).unwrap_err().code(),
                ErrorCode::NotRegularFile
            );
            assert_eq!(store.save("null.txt", &b"x"[..]).unwrap().name().as_str(), "null (1).txt");
            assert!(fs::symlink_metadata(fx.store_dir.join("null.txt"))
                .unwrap()
                .file_type()
                .is_char_device());
        }
        Err(e) if e == rustix::io::Errno::PERM => {
            eprintln!("NOTE: device-node part not run: mknod needs CAP_MKNOD ({e})");
        }
        Err(e) => panic!("mknod: {e}"),
    }
    let listed = store.list().unwrap();
    assert!(listed.contains(&name("folder (1).txt")));
    assert!(!listed.contains(&name("folder.txt")) && !listed.contains(&name("null.txt")));
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

fn concurrent_saves(
    policy: ConflictPolicy,
    threads: usize,
    len: usize,
) -> (Fixture, Vec<(u64, airlock::Result<airlock::Stored>)>) {
    let fx = fixture();
    let store = fx.open(StoreOptions::new().conflict(policy)); // default durability (fsync)
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads as u64)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            thread::spawn(move || {
                let body = payload(1000 + t, len);
                barrier.wait();
                (t, store.save("report.txt", &body[..]))
            })
        })
        .collect();
    let results = handles.into_iter().map(|h| h.join().unwrap()).collect();
    (fx, results)
}

#[test]
fn concurrent_saves_of_one_name_with_rename_policy_all_land_whole_under_distinct_names() {
    let _g = shared();
    const THREADS: usize = 16;
    const LEN: usize = 300 * 1024; // several 64 KiB chunks: a mix would be visible
    for round in 0..3 {
        let (fx, results) = concurrent_saves(ConflictPolicy::Rename, THREADS, LEN);
        let mut by_name = HashMap::new();
        for (t, r) in results {
            let stored = r.unwrap_or_else(|e| panic!("round {round} thread {t}: {e}"));
            let body = payload(1000 + t, LEN);
            assert_eq!(stored.sha256()[..], Sha256::digest(&body)[..]);
            assert!(
                by_name.insert(stored.name().as_str().to_owned(), t).is_none(),
                "name given twice"
            );
        }
        let mut expected: BTreeSet<String> =
            (1..THREADS).map(|n| format!("report ({n}).txt")).collect();
        expected.insert("report.txt".into());
        assert_eq!(by_name.keys().cloned().collect::<BTreeSet<_>>(), expected);
        assert_eq!(
            dir_entries(&fx.store_dir).into_iter().collect::<BTreeSet<_>>(),
            expected,
            "extra entries"
        );
        for (n, t) in &by_name {
            assert_eq!(
                fs::read(fx.store_dir.join(n)).unwrap(),
                payload(1000 + t, LEN),
                "{n} is not writer {t}'s payload"
            );
        }
    }
}

#[test]
fn concurrent_saves_of_one_name_with_refuse_policy_exactly_one_wins() {
    let _g = shared();
    const THREADS: usize = 16;
    const LEN: usize = 300 * 1024;
    for round in 0..3 {
        let (fx, results) = concurrent_saves(ConflictPolicy::Refuse, THREADS, LEN);
        let mut winners = Vec::new();
        for (t, r) in results {
            match r {
                Ok(stored) => {
                    assert_eq!(stored.name().as_str(), "report.txt");
                    winners.push(t);
                }
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::AlreadyExists, "round {round} thread {t}: {e}")
                }
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(dir_entries(&fx.store_dir), vec!["report.txt"], "staged files left");
        assert_eq!(
            fs::read(fx.store_dir.join("report.txt")).unwrap(),
            payload(1000 + winners[0], LEN)
        );
    }
}

#[test]
fn conflict_renaming_stays_valid_past_99_conflicts_and_at_255_bytes() {
    let _g = shared();
    let fx = fixture();
    let store = fx.open(fast());
    let mut names = BTreeSet::new();
    for i in 0..105u64 {
        let body = payload(i, 100);
        let s = store.save("a.txt", &body[..]).unwrap();
        let n = s.name().as_str().to_owned();
        assert_eq!(SafeName::parse(&n).unwrap(), *s.name());
        assert!(n.ends_with(".txt"), "{n}");
        assert_eq!(fs::read(fx.store_dir.join(&n)).unwrap(), body, "{n}");
        assert!(names.insert(n), "a name was given twice");
    }
    assert!(names.contains("a.txt") && names.contains("a (99).txt"));
    // Past 99 numbered names: a random tag, still a valid name with the same extension.
    let random: Vec<_> = names.iter().filter(|n| n.len() == "a (0123456789ab).txt".len()).collect();
    assert_eq!(random.len(), 5, "{random:?}");
    for n in random {
        let mid = &n["a (".len()..n.len() - ").txt".len()];
        assert!(n.starts_with("a (") && mid.bytes().all(|b| b.is_ascii_hexdigit()), "{n}");
    }
    assert_eq!(dir_entries(&fx.store_dir).len(), 105);

    // A name of exactly 255 bytes: the numbered name is shortened to fit, on a char boundary.
    let long = format!("{}a.txt", "\u{e9}".repeat(125));
    assert_eq!(long.len(), 255);
    assert_eq!(store.save(&long, &b"1"[..]).unwrap().name().as_str(), long);
    let second = store.save(&long, &b"2"[..]).unwrap();
    let n = second.name().as_str();
    assert!(n.len() <= 255 && n.ends_with(" (1).txt") && n.starts_with('\u{e9}'), "{n}");
    assert_eq!(read_stored(&store, second.name()), b"2");

    // 105 uploads of a 255-byte name, and of names whose "extension" leaves no room for a tag:
    // every one lands under a distinct valid name, none is refused (N15).
    for (i, client) in [long.clone(), format!("b.{}", "c".repeat(250)), format!("d.{}", "e".repeat(253))]
        .into_iter()
        .enumerate()
    {
        let mut seen = BTreeSet::new();
        for j in 0..105u64 {
            let stored = store.save(&client, &payload(j, 10)[..]).unwrap_or_else(|e| panic!("{i}/{j}: {e}"));
            let n = stored.name().as_str().to_owned();
            assert!(n.len() <= 255, "{n}");
            assert_eq!(read_stored(&store, stored.name()), payload(j, 10));
            assert!(seen.insert(n), "{i}/{j}: a name was given twice");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Failures while writing
// ---------------------------------------------------------------------------------------------

#[test]
fn reader_failing_mid_stream_gives_upload_aborted_and_leaves_nothing() {
    let _g = exclusive();
    let fx = fixture();
    let store = fx.open(fast());
    let fds_before = open_fds();
    for n in [0usize, 1, 12, 7_001, 64 * 1024, 64 * 1024 + 1, 300_000] {
        let err = store.save("upload.txt", FailingReader::new(n)).unwrap_err();
        match &err {
            Error::UploadAborted { received, source } => {
                assert_eq!(*received, n as u64, "{err}");
                assert_eq!(source.kind(), io::ErrorKind::ConnectionReset);
            }
            other => panic!("{n}: expected UploadAborted, got {other:?}"),
        }
        assert_eq!(err.code(), ErrorCode::UploadAborted);
        assert!(
            dir_entries(&fx.store_dir).is_empty(),
            "{n}: left {:?}",
            dir_entries(&fx.store_dir)
        );
        assert_eq!(open_fds(), fds_before, "{n}: descriptor count changed");
        assert_no_fd_inside(&fx.store_dir);
    }

    // Same through the streaming API: the error leaves the upload in hand, dropping it cleans up.
    let mut up = store.begin("upload.txt").unwrap();
    let err = up.copy_from(&mut FailingReader::new(100_000)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UploadAborted);
    assert_eq!(staged_entries(&fx.store_dir).len(), 1);
    drop(up);
    assert!(dir_entries(&fx.store_dir).is_empty());
    assert_eq!(open_fds(), fds_before);
    assert_no_fd_inside(&fx.store_dir);
}

#[test]
fn size_limit_accepts_the_limit_refuses_one_more_and_stops_reading() {
    let _g = shared();
    for limit in [0u64, 1, 65_536, 100_000] {
        let fx = fixture();
        let store = fx.open(fast().max_size(limit));

        let ok = store.save("exact.bin", &payload(limit, limit as usize)[..]).unwrap();
        assert_eq!(ok.size(), limit);

        let err = store.save("over.bin", &payload(limit, limit as usize + 1)[..]).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: l } if l == limit), "{err:?}");
        assert_eq!(err.code(), ErrorCode::TooLarge);
        assert!(
            err.to_string().contains(&limit.to_string()),
            "message does not name the limit: {err}"
        );

        // A huge source: reading stops at limit + 1.
        let read = Arc::new(AtomicU64::new(0));
        let err = store.save("huge.bin", Counting { read: read.clone() }).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TooLarge);
        assert!(
            read.load(Ordering::SeqCst) <= limit + 1,
            "read {} bytes for limit {limit}",
            read.load(Ordering::SeqCst)
        );

        // Streaming API: write_chunk enforces the same limit.
        let mut up = store.begin("chunks.bin").unwrap();
        up.write_chunk(&vec![b'q'; limit as usize]).unwrap();
        assert_eq!(up.write_chunk(b"!").unwrap_err().code(), ErrorCode::TooLarge);
        drop(up);
        let mut up = store.begin("write.bin").unwrap();
        assert!(up.write_all(&vec![b'q'; limit as usize + 1]).is_err());
        drop(up);

        assert_eq!(dir_entries(&fx.store_dir), vec!["exact.bin"], "limit {limit}");
        assert_no_fd_inside(&fx.store_dir);
    }
}

/// A body that failed part-way (limit, failing source, failed write) is a truncated copy of what
/// the client sent: no later write or commit may publish it, whichever API drove the upload.
#[test]
fn an_upload_whose_body_failed_can_never_be_committed() {
    let _g = shared();
    let fx = fixture();
    let store = fx.open(fast().max_size(16));
    type Fail = fn(&mut airlock::Upload) -> Error;
    let cases: [(&str, ErrorCode, Fail); 4] = [
        ("limit by write_chunk", ErrorCode::TooLarge, |up| {
            up.write_chunk(b"12345678").unwrap();
            up.write_chunk(&[b'x'; 9]).unwrap_err()
        }),
        ("limit by copy_from", ErrorCode::TooLarge, |up| {
            up.copy_from(&mut &[b'y'; 40][..]).unwrap_err()
        }),
        ("limit by io::Write", ErrorCode::TooLarge, |up| {
            let e = up.write_all(&[b'w'; 17]).unwrap_err();
            *e.into_inner().unwrap().downcast::<Error>().unwrap()
        }),
        ("failing source", ErrorCode::UploadAborted, |up| {
            up.copy_from(&mut FailingReader::new(5)).unwrap_err()
        }),
    ];
    for (what, code, fail) in cases {
        let mut up = store.begin("report.txt").unwrap();
        assert_eq!(fail(&mut up).code(), code, "{what}");
        // Everything after the failure reports it again, and nothing more is written.
        assert_eq!(up.write_chunk(b"").unwrap_err().code(), code, "{what}: write after failure");
        assert_eq!(up.write_chunk(b"ok").unwrap_err().code(), code, "{what}: write after failure");
        assert_eq!(up.copy_from(&mut &b"ok"[..]).unwrap_err().code(), code, "{what}: copy after failure");
        let err = up.commit().unwrap_err();
        assert_eq!(err.error().code(), code, "{what}: commit after failure");
        // Renaming does not mend it either.
        let mut up = err.into_upload();
        up.rename("other.txt").unwrap();
        let err = up.commit().unwrap_err();
        assert_eq!(err.error().code(), code, "{what}: commit after rename");
        drop(err);
        assert!(dir_entries(&fx.store_dir).is_empty(), "{what}: left {:?}", dir_entries(&fx.store_dir));
    }
    // A commit that failed for a reason the caller can mend (the name) stays retryable.
    store.save("taken.txt", &b"first"[..]).unwrap();
    let refusing = fx.open(fast().conflict(ConflictPolicy::Refuse));
    let mut up = refusing.begin("taken.txt").unwrap();
    up.write_chunk(b"second").unwrap();
    let mut up = up.commit().unwrap_err().into_upload();
    up.rename("free.txt").unwrap();
    assert_eq!(up.commit().unwrap().size(), 6);
}

#[test]
fn content_check_refuses_html_posing_as_an_image_and_never_checks_txt() {
    let _g = shared();
    let fx = fixture();
    let store = fx.open(fast());
    for (n, body) in [
        ("cat.png", HTML),
        ("cat.PNG", HTML),
        ("short.png", &b"\x89PNG"[..]),
        ("empty.png", &b""[..]),
        ("photo.jpg", HTML),
        ("doc.pdf", HTML),
        ("anim.gif", PNG_HEAD),
    ] {
        let err = store.save(n, body).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ContentMismatch, "{n}: {err}");
    }
    assert!(dir_entries(&fx.store_dir).is_empty(), "{:?}", dir_entries(&fx.store_dir));

    assert_eq!(store.save("real.png", PNG_HEAD).unwrap().name().as_str(), "real.png");
    // A magic split across the chunks of a streaming upload is still seen.
    let mut up = store.begin("split.png").unwrap();
    for b in PNG_HEAD {
        up.write_chunk(&[*b]).unwrap();
    }
    up.commit().unwrap();
    // .txt (and unknown types) are never checked.
    store.save("page.txt", HTML).unwrap();
    store.save("image.txt", PNG_HEAD).unwrap();

    let unchecked = fx.open(fast().check_content(false));
    unchecked.save("cat.png", HTML).unwrap();
    assert_eq!(
        dir_entries(&fx.store_dir),
        vec!["cat.png", "image.txt", "page.txt", "real.png", "split.png"]
    );
}

// ---------------------------------------------------------------------------------------------
// Staged files
// ---------------------------------------------------------------------------------------------

fn set_mtime(path: &Path, t: SystemTime) {
    fs::OpenOptions::new().write(true).open(path).unwrap().set_modified(t).unwrap();
}

#[test]
fn opening_a_store_sweeps_stale_unlocked_staged_files_only() {
    let _g = shared();
    let fx = fixture();
    let before = fx.victim_snapshot();
    let d = &fx.store_dir;
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);

    let stale = d.join(".airlock-staged-999999-deadbeef");
    fs::write(&stale, b"abandoned").unwrap();
    set_mtime(&stale, hour_ago);

    let locked = d.join(".airlock-staged-999998-cafebabe");
    fs::write(&locked, b"in progress elsewhere").unwrap();
    set_mtime(&locked, hour_ago);
    let lock = fs::File::open(&locked).unwrap();
    rustix::fs::flock(&lock, FlockOperation::LockExclusive).unwrap();

    let fresh = d.join(".airlock-staged-999997-0123abcd");
    fs::write(&fresh, b"just created").unwrap();

    // Old, but not staged files: never swept.
    let upload = d.join("old upload.txt");
    fs::write(&upload, b"keep").unwrap();
    set_mtime(&upload, hour_ago);
    let dotfile = d.join(".airlock-other");
    fs::write(&dotfile, b"keep").unwrap();
    set_mtime(&dotfile, hour_ago);
    // A staged-looking symlink to the victim: the sweep must not follow it.
    std::os::unix::fs::symlink(&fx.victim, d.join(".airlock-staged-1-link")).unwrap();

    let _store = fx.open(StoreOptions::new());
    assert!(!stale.exists(), "stale staged file not swept");
    assert!(locked.exists(), "a locked staged file was swept");
    assert!(fresh.exists(), "a fresh staged file was swept under the default grace period");
    assert!(upload.exists() && dotfile.exists());

    let _store = fx.open(StoreOptions::new().stale_after(Duration::ZERO));
    assert!(!fresh.exists(), "stale_after(0) did not sweep an unlocked staged file");
    assert!(locked.exists(), "a locked staged file was swept");

    drop(lock);
    let _store = fx.open(StoreOptions::new().stale_after(Duration::ZERO));
    assert!(!locked.exists(), "an unlocked old staged file survived");
    assert!(upload.exists() && dotfile.exists());
    fx.assert_outside_untouched(&before);
}

#[test]
fn a_live_upload_is_not_swept_by_another_store_on_the_same_directory() {
    let _g = shared();
    let fx = fixture();
    let a = fx.open(fast());
    let mut up = a.begin("live.txt").unwrap();
    up.write_chunk(b"still streaming").unwrap();
    let staged = staged_entries(&fx.store_dir);
    assert_eq!(staged.len(), 1);
    let _b = fx.open(fast().stale_after(Duration::ZERO));
    assert_eq!(staged_entries(&fx.store_dir), staged, "a live staged file was swept");
    up.write_chunk(b", done").unwrap();
    up.commit().unwrap();
    assert_eq!(dir_entries(&fx.store_dir), vec!["live.txt"]);
    assert_eq!(fs::read(fx.store_dir.join("live.txt")).unwrap(), b"still streaming, done");
}

// ---------------------------------------------------------------------------------------------
// Streaming API, list, durability
// ---------------------------------------------------------------------------------------------

#[test]
fn upload_api_stages_out_of_sight_and_drop_removes_the_staged_file() {
    let _g = shared();
    let fx = fixture();
    let store = fx.open(fast());

    let mut up = store.begin("notes.txt").unwrap();
    up.write_chunk(b"hello ").unwrap();
    up.write_all(b"world").unwrap();
    assert_eq!(up.size(), 11);
    assert_eq!(up.name().as_str(), "notes.txt");
    let staged = staged_entries(&fx.store_dir);
    assert_eq!(dir_entries(&fx.store_dir), staged, "only the staged file exists before commit");
    assert!(SafeName::parse(&staged[0]).is_err(), "a staged name must never be a SafeName");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(store.open(&name("notes.txt")).unwrap_err().code(), ErrorCode::NotFound);
    let stored = up.commit().unwrap();
    assert_eq!((stored.name().as_str(), stored.size()), ("notes.txt", 11));
    assert_eq!(stored.sha256_hex(), format!("{:x}", Sha256::digest(b"hello world")));
    assert_eq!(dir_entries(&fx.store_dir), vec!["notes.txt"]);
    assert_eq!(read_stored(&store, &name("notes.txt")), b"hello world");

    let mut dropped = store.begin("dropped.txt").unwrap();
    dropped.write_chunk(&payload(7, 200_000)).unwrap();
    assert_eq!(staged_entries(&fx.store_dir).len(), 1);
    drop(dropped);
    assert_eq!(dir_entries(&fx.store_dir), vec!["notes.txt"]);

    // A failed commit (content mismatch) dropped via into_error leaves nothing either.
    let mut bad = store.begin("bad.png").unwrap();
    bad.write_chunk(HTML).unwrap();
    let e = bad.commit().unwrap_err();
    assert_eq!(e.error().code(), ErrorCode::ContentMismatch);
    assert_eq!(staged_entries(&fx.store_dir).len(), 1, "the staged upload is handed back");
    let e: Error = e.into_error();
    assert_eq!(e.code(), ErrorCode::ContentMismatch);
    assert_eq!(dir_entries(&fx.store_dir), vec!["notes.txt"]);
    assert_no_fd_inside(&fx.store_dir);
}

#[test]
fn commit_error_hands_back_the_upload_for_a_retry_under_another_name() {
    let _g = shared();
    let fx = fixture();
    let store = fx.open(fast().conflict(ConflictPolicy::Refuse));
    store.save("taken.txt", &b"first"[..]).unwrap();

    let mut up = store.begin("taken.txt").unwrap();
    up.write_chunk(b"second").unwrap();
    let err = up.commit().unwrap_err();
    assert_eq!(err.error().code(), ErrorCode::AlreadyExists);
    assert!(err.to_string().contains("taken.txt"));
    let mut up = err.into_upload();
    up.rename("../other.php/../other.txt").unwrap();
    assert_eq!(up.name().as_str(), "other.php_other.txt");
    up.rename("other.txt").unwrap();
    let stored = up.commit().unwrap();
    assert_eq!(stored.name().as_str(), "other.txt");
    assert_eq!(stored.size(), 6);
    assert_eq!(stored.sha256()[..], Sha256::digest(b"second")[..]);
    assert_eq!(read_stored(&store, &name("taken.txt")), b"first");
    assert_eq!(read_stored(&store, &name("other.txt")), b"second");
    assert_eq!(dir_entries(&fx.store_dir), vec!["other.txt", "taken.txt"]);

    // rename applies the allowlist too.
    let strict = fx.open(fast().allow_extensions(["txt"]));
    let mut up = strict.begin("a.txt").unwrap();
    assert_eq!(up.rename("a.php").unwrap_err().code(), ErrorCode::ExtensionNotAllowed);
    drop(up);
    assert_eq!(dir_entries(&fx.store_dir), vec!["other.txt", "taken.txt"]);
}

#[test]
fn list_shows_only_regular_files_with_safe_names_sorted() {
    let _g = shared();
    let fx = fixture();
    let d = &fx.store_dir;
    for n in ["b.txt", "Z.txt", "a.txt", "ä.txt", "c d.txt"] {
        fs::write(d.join(n), n).unwrap();
    }
    fs::write(d.join(".htaccess"), b"dot").unwrap();
    fs::create_dir(d.join("dir.txt")).unwrap();
    std::os::unix::fs::symlink(&fx.victim, d.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("a.txt", d.join("inner-link.txt")).unwrap();
    fs::write(d.join(".airlock-staged-1-abc"), b"staged").unwrap();
    fs::write(d.join("CON"), b"device name").unwrap();
    fs::write(d.join("a:b.txt"), b"colon").unwrap();
    fs::write(d.join("trailing."), b"dot").unwrap();
    fs::write(d.join("cafe\u{301}.txt"), b"NFD").unwrap();
    fs::write(
        d.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"bad\xff.txt")),
        b"not utf-8",
    )
    .unwrap();
    mkfifo(&d.join("fifo.txt"));

    let store = fx.open(fast());
    let listed: Vec<String> = store.list().unwrap().iter().map(|n| n.as_str().to_owned()).collect();
    let mut expected = vec!["Z.txt", "a.txt", "b.txt", "c d.txt", "ä.txt"];
    expected.sort();
    assert_eq!(listed, expected);
    // Every listed name opens as the regular file it names.
    for n in store.list().unwrap() {
        assert_eq!(read_stored(&store, &n), n.as_str().as_bytes());
    }
}

#[test]
fn both_durability_settings_store_and_read_back() {
    let _g = shared();
    for durability in [Durability::None, Durability::Fsync] {
        let fx = fixture();
        let store = fx.open(StoreOptions::new().durability(durability));
        assert_eq!(store.options().get_durability(), durability);
        let body = payload(42, 150_000);
        let stored = store.save("data.bin", &body[..]).unwrap();
        assert_eq!(read_stored(&store, stored.name()), body);
        let mut up = store.begin("data.bin").unwrap();
        up.write_chunk(b"second").unwrap();
        assert_eq!(up.commit().unwrap().name().as_str(), "data (1).bin");
        assert_eq!(dir_entries(&fx.store_dir), vec!["data (1).bin", "data.bin"]);
        let meta = fs::metadata(fx.store_dir.join("data.bin")).unwrap();
        assert_eq!(meta.mode() & 0o777 & !0o640, 0, "file mode {:o} exceeds 0o640", meta.mode());
    }
    // The documented default.
    assert_eq!(StoreOptions::new().get_durability(), Durability::Fsync);
}

#[test]
fn remove_then_open_gives_not_found_and_names_must_parse() {
    let _g = shared();
    let fx = fixture();
    let store = fx.open(fast());
    let s = store.save("gone.txt", &b"x"[..]).unwrap();
    store.remove(s.name()).unwrap();
    assert_eq!(store.open(s.name()).unwrap_err().code(), ErrorCode::NotFound);
    assert_eq!(store.remove(s.name()).unwrap_err().code(), ErrorCode::NotFound);
    assert!(dir_entries(&fx.store_dir).is_empty());
    // Lookups can only be made with a parsed SafeName: traversal does not even type-check.
    for bad in ["../outside/victim.txt", "..", "/etc/passwd", "a/b", ".airlock-staged-1-x"] {
        assert!(SafeName::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn file_mode_and_create_dir_options_take_effect() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("a").join("uploads");
    // Without create_dir a missing directory is an I/O error, and nothing is created.
    let err = UploadStore::open_ambient(&missing, StoreOptions::new()).unwrap_err();
    assert_eq!(err.code(), airlock::ErrorCode::Io);
    assert!(!tmp.path().join("a").exists());
    let store = UploadStore::open_ambient(&missing, StoreOptions::new().create_dir(true).file_mode(0o600)).unwrap();
    let dir_mode = fs::metadata(&missing).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode & 0o007, 0, "store directory open to others: {dir_mode:o}");
    let stored = store.save("private.txt", &b"x"[..]).unwrap();
    let mode = fs::metadata(missing.join(stored.name().as_str())).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The default is 0o640 before the umask: never writable or readable by others.
    let default_store = UploadStore::open_ambient(tmp.path(), StoreOptions::new()).unwrap();
    let stored = default_store.save("shared.txt", &b"x"[..]).unwrap();
    let mode = fs::metadata(tmp.path().join(stored.name().as_str())).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o137, 0, "default mode too open: {mode:o}");
    // Uploads are never executable nor writable by others, whatever mode is asked for.
    let open_store = UploadStore::open_ambient(tmp.path(), StoreOptions::new().file_mode(0o777)).unwrap();
    let stored = open_store.save("script.sh", &b"#!/bin/sh"[..]).unwrap();
    let mode = fs::metadata(tmp.path().join(stored.name().as_str())).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o113, 0, "executable or world-writable upload: {mode:o}");
}
