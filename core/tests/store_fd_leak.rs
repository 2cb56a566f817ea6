//! 10,000 failing uploads in a row leave the process's descriptor count and the store directory
//! unchanged.
//!
//! Alone in its own test binary: no other test of the same process can open or close
//! descriptors while the count is compared.

mod common;

use std::io::{self, Read};

use airlock::{ConflictPolicy, Durability, ErrorCode, StoreOptions, UploadStore};
use common::{dir_entries, open_fds};

/// Yields `ok` bytes, then fails like a client that disconnects.
struct Disconnects(usize);

impl Read for Disconnects {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "client disconnected"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(b'd');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn ten_thousand_failing_saves_leak_no_descriptor_and_leave_no_entry() {
    const LIMIT: u64 = 1024;
    let tmp = tempfile::tempdir().unwrap();
    let store = UploadStore::open_ambient(
        tmp.path(),
        StoreOptions::new()
            .max_size(LIMIT)
            .allow_extensions(["txt", "png"])
            .conflict(ConflictPolicy::Refuse)
            .durability(Durability::None),
    )
    .unwrap();
    store.save("existing.txt", &b"already here"[..]).unwrap();
    let too_large = vec![b'L'; LIMIT as usize + 100];
    let html: &[u8] = b"<html><script>alert(1)</script></html>";

    let entries_before = dir_entries(tmp.path());
    let fds_before = open_fds();

    let mut seen = [0usize; 6];
    for i in 0..10_000usize {
        let kind = i % 6;
        let (result, expected) = match kind {
            0 => (store.save("upload.txt", Disconnects(1 + i % 900)), ErrorCode::UploadAborted),
            1 => (store.save("upload.txt", &too_large[..]), ErrorCode::TooLarge),
            2 => (store.save("image.png", html), ErrorCode::ContentMismatch),
            3 => (
                store.save(["..", "", " . ", "../..", "/./"][i % 5], &b"x"[..]),
                ErrorCode::InvalidName,
            ),
            4 => (
                store.save(["shell.php", "a.png.exe", "noext"][i % 3], &b"x"[..]),
                ErrorCode::ExtensionNotAllowed,
            ),
            _ => (store.save("existing.txt", &b"again"[..]), ErrorCode::AlreadyExists),
        };
        match result {
            Err(e) => assert_eq!(e.code(), expected, "iteration {i}: {e}"),
            Ok(s) => panic!("iteration {i}: unexpectedly stored {:?}", s.name()),
        }
        seen[kind] += 1;
    }
    assert!(seen.iter().all(|&n| n > 1600), "{seen:?}");

    assert_eq!(open_fds(), fds_before, "descriptor count changed after 10,000 failed saves");
    let entries_after = dir_entries(tmp.path());
    assert!(
        entries_after == entries_before,
        "the directory went from {} to {} entries; first ones now: {:?}",
        entries_before.len(),
        entries_after.len(),
        &entries_after[..entries_after.len().min(5)]
    );

    // The store still works.
    store.save("after.txt", &b"ok"[..]).unwrap();
    assert_eq!(open_fds(), fds_before);
}
