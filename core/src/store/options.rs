//! Store configuration.

/// What to do when an upload's stored name is already taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictPolicy {
    /// Store under the first free name of `name (1).ext`, `name (2).ext`, ... (the default).
    #[default]
    Rename,
    /// Refuse with [`crate::Error::AlreadyExists`].
    Refuse,
}

/// Whether a committed upload is forced to stable storage before `commit` returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// `fsync` the file before publishing it and the directory after (the default): a committed
    /// upload survives a power cut.
    #[default]
    Fsync,
    /// Leave flushing to the kernel: faster, but a crash shortly after a commit can lose it.
    /// Atomicity is unaffected: a name never points at a half-written file.
    None,
}

/// Options of an [`crate::UploadStore`]. Start from [`StoreOptions::new`] (the defaults) and
/// change what you need.
///
/// | option | default |
/// |---|---|
/// | [`max_size`](StoreOptions::max_size) | 64 MiB |
/// | [`allow_extensions`](StoreOptions::allow_extensions) | any extension |
/// | [`conflict`](StoreOptions::conflict) | [`ConflictPolicy::Rename`] |
/// | [`durability`](StoreOptions::durability) | [`Durability::Fsync`] |
/// | [`check_content`](StoreOptions::check_content) | on |
/// | [`file_mode`](StoreOptions::file_mode) | `0o640` |
/// | [`create_dir`](StoreOptions::create_dir) | off |
///
/// ```
/// use airlock::{ConflictPolicy, StoreOptions};
/// let options = StoreOptions::new()
///     .max_size(10 * 1024 * 1024)
///     .allow_extensions(["png", "jpg", "jpeg"])
///     .conflict(ConflictPolicy::Refuse);
/// assert_eq!(options.get_max_size(), 10 * 1024 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub(crate) max_size: u64,
    pub(crate) allowed_extensions: Option<Vec<String>>,
    pub(crate) conflict: ConflictPolicy,
    pub(crate) durability: Durability,
    pub(crate) check_content: bool,
    pub(crate) file_mode: u32,
    pub(crate) create_dir: bool,
    pub(crate) stale_after: std::time::Duration,
}

/// The default size limit: 64 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;

/// Bits [`StoreOptions::file_mode`] keeps: read/write for owner and group, read for others.
const STORED_MODE_ALLOWED: u32 = 0o664;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_size: DEFAULT_MAX_SIZE,
            allowed_extensions: None,
            conflict: ConflictPolicy::Rename,
            durability: Durability::Fsync,
            check_content: true,
            file_mode: 0o640,
            create_dir: false,
            stale_after: std::time::Duration::from_secs(60),
        }
    }
}

impl StoreOptions {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest upload accepted, in bytes. Reading stops at `limit + 1` bytes.
    pub fn max_size(mut self, limit: u64) -> Self {
        self.max_size = limit;
        self
    }

    /// Accept only names whose last extension is one of `extensions`, compared ASCII
    /// case-insensitively on the final stored name. Entries may hold dots (`tar.gz`); a leading
    /// dot is ignored (`.png` = `png`).
    pub fn allow_extensions<I, S>(mut self, extensions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allowed_extensions = Some(
            extensions
                .into_iter()
                .map(|e| e.as_ref().trim_start_matches('.').to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
        );
        self
    }

    /// Accept any extension (the default).
    pub fn allow_any_extension(mut self) -> Self {
        self.allowed_extensions = None;
        self
    }

    /// What to do when the name is taken.
    pub fn conflict(mut self, policy: ConflictPolicy) -> Self {
        self.conflict = policy;
        self
    }

    /// Whether commits are flushed to stable storage.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Refuse uploads whose leading bytes do not match a png, jpeg, gif, webp or pdf extension.
    /// Other extensions are not checked.
    pub fn check_content(mut self, on: bool) -> Self {
        self.check_content = on;
        self
    }

    /// Permission bits of stored files (before the umask). Execute bits and write for others
    /// are always cleared: an upload is data, never a program, and never writable by anyone.
    ///
    /// ```
    /// let options = airlock::StoreOptions::new().file_mode(0o777);
    /// assert_eq!(options.get_file_mode(), 0o664);
    /// ```
    pub fn file_mode(mut self, mode: u32) -> Self {
        self.file_mode = mode & STORED_MODE_ALLOWED;
        self
    }

    /// The permission bits stored files are created with (before the umask).
    pub fn get_file_mode(&self) -> u32 {
        self.file_mode
    }

    /// Let [`crate::UploadStore::open_ambient`] create the directory (mode `0o750`) if missing.
    pub fn create_dir(mut self, on: bool) -> Self {
        self.create_dir = on;
        self
    }

    /// Staged files left by a crashed process are swept when a store is opened if nobody holds
    /// their lock and they are older than this (default 60 s). The grace period protects a
    /// file another process has just created and not locked yet.
    pub fn stale_after(mut self, age: std::time::Duration) -> Self {
        self.stale_after = age;
        self
    }

    /// The size limit in bytes.
    pub fn get_max_size(&self) -> u64 {
        self.max_size
    }

    /// The extension allowlist, lower-cased, if one is set.
    pub fn get_allowed_extensions(&self) -> Option<&[String]> {
        self.allowed_extensions.as_deref()
    }

    /// The conflict policy.
    pub fn get_conflict(&self) -> ConflictPolicy {
        self.conflict
    }

    /// The durability setting.
    pub fn get_durability(&self) -> Durability {
        self.durability
    }

    /// Whether the content check is on.
    pub fn get_check_content(&self) -> bool {
        self.check_content
    }
}
