//! The confined upload store.
//!
//! A store is a directory opened once as a capability (a cap-std [`Dir`]). Every later
//! operation is an `*at` system call relative to that descriptor with a single-component
//! [`SafeName`], so no name and no symlink can reach outside it: traversal is impossible by
//! construction, not by checking path strings.
//!
//! Uploads stream into a staged file (a dot-file, which can never be a [`SafeName`]) and appear
//! under their name only when committed, with a no-replace rename: atomic, never overwriting.
//! Every failure path closes the handle and removes the staged file.
//!
//! # Ambient Authority
//!
//! [`UploadStore::open_ambient`] is the only function that takes a path in the process's
//! filesystem namespace. Everything else, including [`UploadStore::new`] which takes an already
//! opened [`Dir`], uses only the capability.

mod options;
mod sniff;
mod upload;

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rustix::fs::{AtFlags, FileType, FlockOperation, OFlags};
use rustix::io::Errno;

pub use options::{ConflictPolicy, Durability, StoreOptions, DEFAULT_MAX_SIZE};
pub use upload::{CommitError, Upload};

use crate::error::{Error, Result};
use crate::events;
use crate::name::SafeName;

/// Prefix of staged files. It starts with a dot, so no staged file can ever be parsed, listed,
/// opened or removed as an upload, and it names its owner for anyone reading the directory.
pub(crate) const STAGED_PREFIX: &str = ".airlock-staged-";

/// A directory of uploads, confined to one directory capability.
///
/// Cheap to clone (the capability is shared) and safe to use from many threads.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use airlock::{SafeName, StoreOptions, UploadStore};
/// let store = UploadStore::open_ambient(dir.path(), StoreOptions::new())?;
/// let stored = store.save("../../etc/passwd", &b"not really"[..])?;
/// assert_eq!(stored.name().as_str(), "etc_passwd"); // one leaf, inside the store
/// assert_eq!(store.list()?, vec![SafeName::parse("etc_passwd")?]);
/// let mut text = String::new();
/// std::io::Read::read_to_string(&mut store.open(stored.name())?, &mut text)?;
/// assert_eq!(text, "not really");
/// store.remove(stored.name())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct UploadStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: Dir,
    options: StoreOptions,
}

impl fmt::Debug for UploadStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadStore").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

/// What [`UploadStore::save`] or [`Upload::commit`] stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    name: SafeName,
    size: u64,
    sha256: [u8; 32],
}

impl Stored {
    /// The name the upload is stored under (after sanitizing and conflict renaming).
    pub fn name(&self) -> &SafeName {
        &self.name
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The SHA-256 of its content, computed while streaming.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The SHA-256 as lower-case hex.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A stored file opened for reading: a regular file, opened without following links.
#[derive(Debug)]
pub struct StoredFile {
    file: File,
    name: SafeName,
    size: u64,
}

impl StoredFile {
    /// The stored name.
    pub fn name(&self) -> &SafeName {
        &self.name
    }

    /// The size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The underlying file.
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Read for StoredFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for StoredFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

impl UploadStore {
    /// Opens the directory at `path` as a store.
    ///
    /// # Ambient Authority
    ///
    /// This is the one place where Airlock resolves a path in the process's namespace (with
    /// symlinks followed: the path is trusted configuration). Use [`UploadStore::new`] with a
    /// [`Dir`] you opened yourself to avoid it.
    ///
    /// Opening sweeps staged files abandoned by a crashed process (see
    /// [`StoreOptions::stale_after`]).
    pub fn open_ambient(path: impl AsRef<Path>, options: StoreOptions) -> Result<UploadStore> {
        let path = path.as_ref();
        if options.create_dir {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(path)
                .map_err(|e| Error::io("create store directory", e))?;
        }
        let dir = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(|e| Error::io("open store directory", e))?;
        UploadStore::new(dir, options)
    }

    /// Makes a store of an already opened directory capability.
    pub fn new(dir: Dir, options: StoreOptions) -> Result<UploadStore> {
        let store = UploadStore { inner: Arc::new(Inner { dir, options }) };
        store.sweep_stale()?;
        Ok(store)
    }

    /// The store's options.
    pub fn options(&self) -> &StoreOptions {
        &self.inner.options
    }

    pub(crate) fn dir(&self) -> &Dir {
        &self.inner.dir
    }

    /// Flushes the directory itself, so a published name survives a power cut. cap-std holds
    /// directories as `O_PATH` descriptors, which cannot be fsynced: open `.` for reading.
    pub(crate) fn sync_dir(&self) -> Result<()> {
        let fd = rustix::fs::openat(
            self.dir(),
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::io("open store directory", e))?;
        rustix::fs::fsync(&fd).map_err(|e| Error::io("fsync store directory", e))
    }

    /// Sanitizes a client name and applies the extension allowlist to the final name.
    pub(crate) fn accept_name(&self, client_name: &str) -> Result<SafeName> {
        let result = SafeName::sanitize(client_name).and_then(|name| {
            match &self.inner.options.allowed_extensions {
                Some(allowed) if !allowed.iter().any(|ext| name.has_extension(ext)) => {
                    Err(Error::ExtensionNotAllowed {
                        extension: name.extension().unwrap_or("").to_owned(),
                    })
                }
                _ => Ok(name),
            }
        });
        if let Err(e) = &result {
            events::upload_refused(client_name, e);
        }
        result
    }

    /// Starts a streaming upload under the sanitized `client_name`: see [`Upload`]. The name and
    /// the extension allowlist are checked before anything is created on disk.
    pub fn begin(&self, client_name: &str) -> Result<Upload> {
        let name = self.accept_name(client_name)?;
        Upload::begin(self, name).inspect_err(|e| events::upload_refused(client_name, e))
    }

    /// [`UploadStore::begin`] for a client name that arrived as raw bytes (a header that is
    /// not UTF-8, or a Python `str` with lone surrogates): a name that is not UTF-8 is refused
    /// with [`NameRule::InvalidUtf8`](crate::NameRule::InvalidUtf8), never decoded leniently.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use airlock::{NameRule, StoreOptions, UploadStore};
    /// let store = UploadStore::open_ambient(dir.path(), StoreOptions::new())?;
    /// let err = store.begin_bytes(b"\xc0\xae\xc0\xaepasswd").unwrap_err();
    /// assert_eq!(err.name_rule(), Some(NameRule::InvalidUtf8));
    /// assert!(store.begin_bytes(b"notes.txt").is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn begin_bytes(&self, client_name: &[u8]) -> Result<Upload> {
        match std::str::from_utf8(client_name) {
            Ok(text) => self.begin(text),
            Err(_) => {
                let error = Error::InvalidName { rule: crate::name::NameRule::InvalidUtf8 };
                events::upload_refused(&String::from_utf8_lossy(client_name), &error);
                Err(error)
            }
        }
    }

    /// Stores `body` under the sanitized `client_name`: streams it in fixed-size chunks into a
    /// staged file, enforcing the size limit while streaming, checks the content, and publishes
    /// it without replacing anything. On any error nothing is left behind.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use airlock::{ErrorCode, StoreOptions, UploadStore};
    /// let store = UploadStore::open_ambient(dir.path(),
    ///     StoreOptions::new().allow_extensions(["png"]))?;
    /// let err = store.save("cat.png", &b"<html><script>alert(1)</script>"[..]).unwrap_err();
    /// assert_eq!(err.code(), ErrorCode::ContentMismatch);
    /// assert!(store.list()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, client_name: &str, mut body: impl Read) -> Result<Stored> {
        // Refusals are audit events where they happen: the name in `begin`, everything after
        // it when the uncommitted upload is dropped.
        let mut upload = self.begin(client_name)?;
        upload.copy_from(&mut body)?;
        upload.commit().map_err(CommitError::into_error)
    }

    /// Opens a stored file for reading.
    ///
    /// Refuses symlinks ([`Error::EscapeAttempt`]) and anything that is not a regular file
    /// ([`Error::NotRegularFile`]) without blocking: a FIFO planted under a stored name would
    /// otherwise block the reader forever.
    pub fn open(&self, name: &SafeName) -> Result<StoredFile> {
        self.check_regular(name, "open")?;
        // O_NOFOLLOW: a symlink swapped in after the check fails with ELOOP. O_NONBLOCK: a FIFO
        // swapped in opens at once instead of blocking; the fstat below then refuses it.
        let fd = rustix::fs::openat(
            self.dir(),
            name.as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| self.lookup_error(name, e, "open"))?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| Error::io("stat stored file", e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(Error::NotRegularFile { name: name.as_str().to_owned() });
        }
        rustix::fs::fcntl_setfl(&fd, OFlags::empty()).map_err(|e| Error::io("open", e))?;
        Ok(StoredFile { file: File::from(fd), name: name.clone(), size: stat.st_size as u64 })
    }

    /// The names of stored files, sorted. Staged files, dot-files, symlinks, directories and
    /// anything else that is not a regular file with a valid [`SafeName`] are never listed.
    pub fn list(&self) -> Result<Vec<SafeName>> {
        let mut names = Vec::new();
        let entries = self.dir().entries().map_err(|e| Error::io("list store", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list store", e))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            let Ok(name) = SafeName::parse(&name) else { continue };
            // DirEntry::file_type does not follow symlinks.
            match entry.file_type() {
                Ok(t) if t.is_file() => names.push(name),
                _ => {}
            }
        }
        names.sort();
        Ok(names)
    }

    /// Removes a stored file. Only the name is unlinked: a hard link to a file elsewhere loses
    /// one link and its content is never touched. Symlinks and non-regular entries are refused.
    pub fn remove(&self, name: &SafeName) -> Result<()> {
        self.check_regular(name, "remove")?;
        // unlinkat never follows links: if a symlink is swapped in after the check, only the
        // link itself is removed.
        rustix::fs::unlinkat(self.dir(), name.as_str(), AtFlags::empty())
            .map_err(|e| self.lookup_error(name, e, "remove"))
    }

    fn check_regular(&self, name: &SafeName, op: &'static str) -> Result<()> {
        let stat = rustix::fs::statat(self.dir(), name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.lookup_error(name, e, op))?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Ok(()),
            FileType::Symlink => {
                events::escape_attempt(name.as_str(), op);
                Err(Error::EscapeAttempt { name: name.as_str().to_owned() })
            }
            _ => Err(Error::NotRegularFile { name: name.as_str().to_owned() }),
        }
    }

    fn lookup_error(&self, name: &SafeName, e: Errno, op: &'static str) -> Error {
        let name_owned = || name.as_str().to_owned();
        match e {
            Errno::NOENT => Error::NotFound { name: name_owned() },
            Errno::LOOP => {
                events::escape_attempt(name.as_str(), op);
                Error::EscapeAttempt { name: name_owned() }
            }
            Errno::NXIO | Errno::ISDIR | Errno::NOTDIR => Error::NotRegularFile { name: name_owned() },
            e => Error::io(op, e),
        }
    }

    /// Removes staged files whose owner is gone: nobody holds their lock and they are older
    /// than [`StoreOptions::stale_after`].
    fn sweep_stale(&self) -> Result<()> {
        let entries = self.dir().entries().map_err(|e| Error::io("sweep store", e))?;
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.starts_with(STAGED_PREFIX) {
                continue;
            }
            let Ok(fd) = rustix::fs::openat(
                self.dir(),
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) else {
                continue;
            };
            let Ok(stat) = rustix::fs::fstat(&fd) else { continue };
            if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
                continue;
            }
            let modified = SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(stat.st_mtime.max(0) as u64);
            let age = SystemTime::now().duration_since(modified).unwrap_or_default();
            if age < self.inner.options.stale_after {
                continue;
            }
            // A live upload holds an exclusive lock on its staged file.
            if rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_ok() {
                let _ = rustix::fs::unlinkat(self.dir(), name, AtFlags::empty());
                tracing::info!(target: events::AUDIT_TARGET, action = "staged_file_swept",
                    outcome = "success", name = %events::escape_untrusted(name),
                    "removed a staged file left by a crashed upload");
            }
        }
        Ok(())
    }
}
