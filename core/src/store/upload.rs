//! A staged upload: bytes stream into a hidden file that becomes visible only on commit.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};

use rustix::fs::{AtFlags, FlockOperation, Mode, OFlags, RenameFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use super::sniff::{Kind, HEAD_LEN};
use super::{Stored, UploadStore, STAGED_PREFIX};
use crate::events;
use crate::error::{Error, Result};
use crate::name::SafeName;
use crate::{ConflictPolicy, Durability};

/// Bytes read from an upload's source per call. Memory per save is this buffer, whatever the
/// upload's size; 256 KiB keeps the syscall count low without mattering for memory.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Numbered names tried before falling back to a random suffix.
const MAX_NUMBERED: u64 = 99;

/// An upload in progress: a staged file in the store directory, under a name that can never be
/// a [`SafeName`] (it starts with a dot), locked so that a sweep by another process skips it.
///
/// Write the body with [`Upload::write_chunk`], [`Upload::copy_from`] or [`std::io::Write`], then
/// [`Upload::commit`]. Dropping an `Upload` without committing closes and removes the staged
/// file: there is no way to leave a partial upload behind.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// use airlock::{StoreOptions, UploadStore};
/// let store = UploadStore::open_ambient(dir.path(), StoreOptions::new())?;
/// let mut upload = store.begin("notes.txt")?;
/// upload.write_chunk(b"hello ")?;
/// upload.write_chunk(b"world")?;
/// let stored = upload.commit().map_err(|e| e.into_error())?;
/// assert_eq!((stored.name().as_str(), stored.size()), ("notes.txt", 11));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Upload {
    store: UploadStore,
    name: SafeName,
    staged_name: String,
    file: Option<File>,
    hasher: Sha256,
    size: u64,
    head: [u8; HEAD_LEN],
    head_len: usize,
    /// The code of the last failure, for the audit event written if the upload is dropped
    /// uncommitted.
    failure: Option<crate::error::ErrorCode>,
    /// Set by the first failure while receiving the body (size limit, a failing source, a
    /// failed write). The staged bytes are then a prefix of unknown length of what the client
    /// sent, so every later write and every commit fails with this error: a truncated upload
    /// can never be published.
    broken: Option<Broken>,
}

/// Enough of a body failure to report it again on every later call.
#[derive(Clone, Copy, Debug)]
enum Broken {
    TooLarge { limit: u64 },
    Aborted { received: u64, kind: io::ErrorKind },
    Io { errno: Option<i32>, kind: io::ErrorKind },
}

impl Broken {
    fn of(error: &Error) -> Broken {
        match error {
            Error::TooLarge { limit } => Broken::TooLarge { limit: *limit },
            Error::UploadAborted { received, source } => {
                Broken::Aborted { received: *received, kind: source.kind() }
            }
            Error::Io { source, .. } => {
                Broken::Io { errno: source.raw_os_error(), kind: source.kind() }
            }
            _ => Broken::Io { errno: None, kind: io::ErrorKind::Other },
        }
    }

    /// The error again, with the same code as the original.
    fn error(self) -> Error {
        let earlier = |kind| io::Error::new(kind, "the upload failed earlier; it cannot be resumed");
        match self {
            Broken::TooLarge { limit } => Error::TooLarge { limit },
            Broken::Aborted { received, kind } => {
                Error::UploadAborted { received, source: earlier(kind) }
            }
            Broken::Io { errno: Some(errno), .. } => {
                Error::io("write upload", io::Error::from_raw_os_error(errno))
            }
            Broken::Io { errno: None, kind } => Error::io("write upload", earlier(kind)),
        }
    }
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload").field("name", &self.name).field("size", &self.size).finish()
    }
}

/// A failed [`Upload::commit`]: the error, and the still-staged upload handed back so the
/// caller can pick another name ([`Upload::rename`]) and commit again, or drop it to discard.
pub struct CommitError {
    error: Error,
    upload: Upload,
}

impl CommitError {
    /// The error.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The error; the staged upload is discarded.
    pub fn into_error(self) -> Error {
        self.error
    }

    /// The staged upload, to retry.
    pub fn into_upload(self) -> Upload {
        self.upload
    }
}

impl fmt::Debug for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitError").field("error", &self.error).finish_non_exhaustive()
    }
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for CommitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<CommitError> for Error {
    fn from(e: CommitError) -> Error {
        e.error
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = [0u8; 16];
    let buf = &mut buf[..bytes.min(16)];
    // A failing OS RNG is not worth refusing an upload for: the name only has to be unlikely to
    // collide, and O_EXCL (staging) or no-replace publishing (renaming) catches a collision.
    if getrandom::fill(buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> (8 * (i % 16))) as u8;
        }
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl Upload {
    pub(crate) fn begin(store: &UploadStore, name: SafeName) -> Result<Upload> {
        let dir = store.dir();
        let staged_name = format!("{STAGED_PREFIX}{}-{}", std::process::id(), random_hex(12));
        // O_EXCL: never reuse or follow an existing entry (a planted symlink makes this fail
        // with EEXIST instead of writing through it). O_NOFOLLOW for good measure.
        let fd = rustix::fs::openat(
            dir,
            staged_name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(store.options().file_mode),
        )
        .map_err(|e| Error::io("create staged file", e))?;
        let file = File::from(fd);
        let upload = Upload {
            store: store.clone(),
            name,
            staged_name,
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
            head: [0; HEAD_LEN],
            head_len: 0,
            failure: None,
            broken: None,
        };
        // Held until the upload is published or dropped, and released by the kernel if the
        // process dies: a concurrent sweep can tell live staged files from abandoned ones.
        if let Some(f) = &upload.file {
            rustix::fs::flock(f, FlockOperation::NonBlockingLockExclusive)
                .map_err(|e| Error::io("lock staged file", e))?;
        }
        Ok(upload)
    }

    /// The name the upload will be committed under (before conflict renaming).
    pub fn name(&self) -> &SafeName {
        &self.name
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `chunk`, enforcing the store's size limit.
    ///
    /// After [`Error::TooLarge`] or a write error the staged content is a truncated copy of the
    /// body: every later write and [`Upload::commit`] fail with the same error code, so it can
    /// only be dropped.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use airlock::{ErrorCode, StoreOptions, UploadStore};
    /// let store = UploadStore::open_ambient(dir.path(), StoreOptions::new().max_size(4))?;
    /// let mut upload = store.begin("notes.txt")?;
    /// upload.write_chunk(b"abc")?;
    /// assert_eq!(upload.write_chunk(b"def").unwrap_err().code(), ErrorCode::TooLarge);
    /// let err = upload.commit().unwrap_err();          // the 3 bytes are never published
    /// assert_eq!(err.error().code(), ErrorCode::TooLarge);
    /// assert!(store.list()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_chunk(&mut self, chunk: &[u8]) -> Result<()> {
        let result = self.write_chunk_inner(chunk);
        self.note_body(result)
    }

    /// Remembers a failure's code for the audit event of [`Drop`].
    fn note<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.failure = Some(e.code());
        }
        result
    }

    /// [`Upload::note`] for a failure while receiving the body, which also breaks the upload.
    fn note_body<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.broken.get_or_insert(Broken::of(e));
        }
        self.note(result)
    }

    fn write_chunk_inner(&mut self, chunk: &[u8]) -> Result<()> {
        if let Some(broken) = self.broken {
            return Err(broken.error());
        }
        let limit = self.store.options().max_size;
        if self.size.saturating_add(chunk.len() as u64) > limit {
            return Err(Error::TooLarge { limit });
        }
        let file = self.file.as_mut().ok_or_else(|| Error::io("write", io::ErrorKind::BrokenPipe))?;
        file.write_all(chunk).map_err(|e| Error::io("write upload", e))?;
        // Only bytes that reached the file count: for the content check, the digest and the size.
        if self.head_len < HEAD_LEN {
            let take = (HEAD_LEN - self.head_len).min(chunk.len());
            self.head[self.head_len..self.head_len + take].copy_from_slice(&chunk[..take]);
            self.head_len += take;
        }
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    /// Streams `source` to the end in fixed-size chunks, reading at most `limit + 1` bytes in
    /// total so an oversized upload is refused without consuming it all.
    ///
    /// A failing source gives [`Error::UploadAborted`].
    pub fn copy_from<R: Read + ?Sized>(&mut self, source: &mut R) -> Result<u64> {
        if let Some(broken) = self.broken {
            return self.note(Err(broken.error()));
        }
        let limit = self.store.options().max_size;
        let mut buf = vec![0u8; CHUNK];
        let start = self.size;
        loop {
            // Ask for no more than one byte past the limit.
            let room = limit.saturating_sub(self.size).saturating_add(1);
            let want = (buf.len() as u64).min(room) as usize;
            let n = match source.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return self.note_body(Err(Error::UploadAborted { received: self.size, source }));
                }
            };
            self.write_chunk(&buf[..n])?;
        }
        Ok(self.size - start)
    }

    /// Changes the name the upload will be committed under (e.g. after [`Error::AlreadyExists`]).
    /// The new client name is sanitized and checked against the allowlist like the first one.
    pub fn rename(&mut self, client_name: &str) -> Result<()> {
        self.name = self.store.accept_name(client_name)?;
        Ok(())
    }

    /// Publishes the upload under its name without ever replacing an existing file.
    ///
    /// Checks the content against the extension (if the store's content check is on), flushes
    /// (per [`Durability`]), then links the staged file in with a no-replace rename. On a name
    /// conflict the store's [`ConflictPolicy`] decides between a numbered name and
    /// [`Error::AlreadyExists`]. On failure the upload is handed back inside the [`CommitError`].
    pub fn commit(mut self) -> std::result::Result<Stored, CommitError> {
        match self.try_commit() {
            Ok(stored) => Ok(stored),
            Err(error) => {
                self.failure = Some(error.code());
                Err(CommitError { error, upload: self })
            }
        }
    }

    fn try_commit(&mut self) -> Result<Stored> {
        if let Some(broken) = self.broken {
            return Err(broken.error());
        }
        let options = self.store.options().clone();
        if options.check_content {
            if let Some(kind) = self.name.extension().and_then(Kind::from_extension) {
                if !kind.matches(&self.head[..self.head_len]) {
                    let extension = self.name.extension().unwrap_or("").to_ascii_lowercase();
                    return Err(Error::ContentMismatch { extension });
                }
            }
        }
        if options.durability == Durability::Fsync {
            if let Some(f) = &self.file {
                f.sync_all().map_err(|e| Error::io("fsync upload", e))?;
            }
        }
        let published = self.publish_first_free(options.conflict)?;
        if options.durability == Durability::Fsync {
            if let Err(e) = self.store.sync_dir() {
                // The name is not durable, so the commit failed: take the name back to the
                // staged one, leaving nothing visible and an upload that can be committed again.
                self.unpublish(&published);
                return Err(e);
            }
        }
        // The staged name is gone (renamed) or unlinked (link fallback); nothing to clean up.
        self.staged_name.clear();
        self.file = None;
        let digest: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        let stored = Stored { name: published, size: self.size, sha256: digest };
        events::upload_stored(&stored);
        Ok(stored)
    }

    fn publish_first_free(&self, policy: ConflictPolicy) -> Result<SafeName> {
        if self.try_publish(&self.name)? {
            return Ok(self.name.clone());
        }
        if policy == ConflictPolicy::Refuse {
            return Err(Error::AlreadyExists { name: self.name.as_str().to_owned() });
        }
        for n in 1..=MAX_NUMBERED {
            let candidate = self.name.tagged(&n.to_string());
            if self.try_publish(&candidate)? {
                return Ok(candidate);
            }
        }
        // Hundreds of uploads under one name: probing on would be quadratic. A random tag is
        // free with overwhelming probability, and no-replace publishing makes sure.
        for _ in 0..8 {
            let candidate = self.name.tagged(&random_hex(6));
            if self.try_publish(&candidate)? {
                return Ok(candidate);
            }
        }
        Err(Error::AlreadyExists { name: self.name.as_str().to_owned() })
    }

    /// Undoes a publish after a failure: moves `published` back to the staged name (free again
    /// after a rename or a link + unlink). If even that fails, the published name is removed.
    fn unpublish(&mut self, published: &SafeName) {
        let dir = self.store.dir();
        let back = rustix::fs::renameat_with(
            dir,
            published.as_str(),
            dir,
            self.staged_name.as_str(),
            RenameFlags::NOREPLACE,
        );
        if back.is_err() {
            let _ = rustix::fs::unlinkat(dir, published.as_str(), AtFlags::empty());
        }
    }

    /// Links the staged file in as `target`. `Ok(false)` when `target` exists.
    fn try_publish(&self, target: &SafeName) -> Result<bool> {
        let dir = self.store.dir();
        // renameat2(RENAME_NOREPLACE) is atomic and never replaces. cap-std's `rename`,
        // cap-tempfile's `replace` and tempfile's `persist` all replace, which would let a
        // concurrent upload of the same name be silently overwritten.
        match rustix::fs::renameat_with(
            dir,
            self.staged_name.as_str(),
            dir,
            target.as_str(),
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => return Ok(true),
            Err(Errno::EXIST) => return Ok(false),
            // Filesystems without RENAME_NOREPLACE: link (which never replaces) then unlink.
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {}
            Err(e) => return Err(Error::io("publish upload", e)),
        }
        match rustix::fs::linkat(
            dir,
            self.staged_name.as_str(),
            dir,
            target.as_str(),
            AtFlags::empty(),
        ) {
            Ok(()) => {
                // The upload is published; failing to remove the staged link only leaves a
                // dot-file that the next sweep removes.
                let _ = rustix::fs::unlinkat(dir, self.staged_name.as_str(), AtFlags::empty());
                Ok(true)
            }
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(Error::io("publish upload", e)),
        }
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_chunk(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Close first, then unlink: the staged file never outlives a failed or abandoned upload.
        self.file = None;
        if !self.staged_name.is_empty() {
            let _ = rustix::fs::unlinkat(self.store.dir(), self.staged_name.as_str(), AtFlags::empty());
            // Every upload that ends uncommitted is an audit event, whichever API drove it
            // (`save`, `begin`/`commit`, a binding), with why it failed.
            events::upload_discarded(&self.name, self.size, self.failure);
        }
    }
}
