//! The one error type of the crate, and its stable machine-readable codes.
//!
//! Every failure Airlock reports is an [`Error`]. Each variant maps to an [`ErrorCode`] whose
//! string form ([`ErrorCode::as_str`]) is stable across releases and identical in the Rust,
//! Python and Node APIs, so callers can branch on it without parsing messages.
//!
//! Messages never contain secret material or tensor values, and attacker-controlled text (client
//! file names) only appears escaped with [`str::escape_debug`].

use std::fmt;
use std::io;
use std::time::Duration;

use crate::name::NameRule;

/// Stable, machine-readable error codes.
///
/// The string of each code (see [`ErrorCode::as_str`]) is part of the public API: it is what the
/// Python exceptions carry in `.code` and the Node errors in `.code`.
///
/// ```
/// let err = airlock::SafeName::sanitize("..").unwrap_err();
/// assert_eq!(err.code(), airlock::ErrorCode::InvalidName);
/// assert_eq!(err.code().as_str(), "invalid_name");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A file name broke one of the name rules (see [`NameRule`]).
    InvalidName,
    /// The stored name's extension is not in the store's allowlist.
    ExtensionNotAllowed,
    /// The leading bytes of an upload do not match its extension.
    ContentMismatch,
    /// An upload exceeded the store's size limit.
    TooLarge,
    /// A file with that name already exists and the conflict policy refuses.
    AlreadyExists,
    /// No stored file has that name.
    NotFound,
    /// The name exists but is not a regular file (directory, FIFO, socket, device).
    NotRegularFile,
    /// The name is a symbolic link: following it could leave the store.
    EscapeAttempt,
    /// The reader supplying an upload failed (client disconnect, broken stream).
    UploadAborted,
    /// The disk is full, a quota was hit, or the file grew past the process's size limit.
    StorageFull,
    /// The process ran out of file descriptors.
    TooManyOpenFiles,
    /// Any other I/O failure.
    Io,
    /// The model is not loaded yet (still loading, or never asked to load).
    ModelNotReady,
    /// The last model load failed; a retry is allowed after a backoff.
    ModelFailed,
    /// Waiting for the model to become ready timed out.
    ModelTimeout,
    /// The model file is not a usable ONNX model.
    ModelInvalid,
    /// The model file's SHA-256 differs from the pinned digest.
    ModelDigestMismatch,
    /// An inference input has the wrong shape, type, or non-finite values.
    InvalidInput,
    /// An image could not be decoded.
    ImageDecode,
    /// An image's dimensions exceed the configured limits (decompression bomb guard).
    ImageTooLarge,
    /// A configuration value is invalid.
    InvalidConfig,
    /// A presented API key matched no active key.
    Unauthorized,
    /// A bug in Airlock: a panic caught at a language boundary. Never expected; report it.
    Internal,
}

impl ErrorCode {
    /// The stable string form of the code, as used by the bindings.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::ExtensionNotAllowed => "extension_not_allowed",
            ErrorCode::ContentMismatch => "content_mismatch",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotRegularFile => "not_regular_file",
            ErrorCode::EscapeAttempt => "escape_attempt",
            ErrorCode::UploadAborted => "upload_aborted",
            ErrorCode::StorageFull => "storage_full",
            ErrorCode::TooManyOpenFiles => "too_many_open_files",
            ErrorCode::Io => "io",
            ErrorCode::ModelNotReady => "model_not_ready",
            ErrorCode::ModelFailed => "model_failed",
            ErrorCode::ModelTimeout => "model_timeout",
            ErrorCode::ModelInvalid => "model_invalid",
            ErrorCode::ModelDigestMismatch => "model_digest_mismatch",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::ImageDecode => "image_decode",
            ErrorCode::ImageTooLarge => "image_too_large",
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Internal => "internal",
        }
    }

    /// Every code, for bindings that build exception tables and for exhaustive tests.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidName,
        ErrorCode::ExtensionNotAllowed,
        ErrorCode::ContentMismatch,
        ErrorCode::TooLarge,
        ErrorCode::AlreadyExists,
        ErrorCode::NotFound,
        ErrorCode::NotRegularFile,
        ErrorCode::EscapeAttempt,
        ErrorCode::UploadAborted,
        ErrorCode::StorageFull,
        ErrorCode::TooManyOpenFiles,
        ErrorCode::Io,
        ErrorCode::ModelNotReady,
        ErrorCode::ModelFailed,
        ErrorCode::ModelTimeout,
        ErrorCode::ModelInvalid,
        ErrorCode::ModelDigestMismatch,
        ErrorCode::InvalidInput,
        ErrorCode::ImageDecode,
        ErrorCode::ImageTooLarge,
        ErrorCode::InvalidConfig,
        ErrorCode::Unauthorized,
        ErrorCode::Internal,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a model could not be loaded. Cloned into every caller that waited on the failed attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadFailure {
    /// The code of the underlying error ([`ErrorCode::ModelInvalid`], [`ErrorCode::Io`], ...).
    pub code: ErrorCode,
    /// A message safe to log: no tensor values, no file contents.
    pub reason: String,
}

impl fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason, self.code)
    }
}

/// Every error Airlock returns.
///
/// Match on [`Error::code`] rather than on variants when only the category matters; the enum is
/// `#[non_exhaustive]` so new failure kinds can be added without a breaking release.
///
/// ```
/// use airlock::{Error, ErrorCode, SafeName};
/// match SafeName::parse("../etc/passwd") {
///     Err(e @ Error::InvalidName { .. }) => assert_eq!(e.code(), ErrorCode::InvalidName),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name broke a rule. `rule` says which.
    #[error("invalid file name: {rule}")]
    InvalidName {
        /// The rule that was broken.
        rule: NameRule,
    },
    /// The final stored name's extension is not allowed by the store.
    #[error("file extension {extension:?} is not allowed")]
    ExtensionNotAllowed {
        /// The extension (possibly empty), escaped when displayed.
        extension: String,
    },
    /// The content's leading bytes are not those of the type its extension claims.
    #[error("content does not look like a .{extension} file")]
    ContentMismatch {
        /// The claimed extension, lower-cased.
        extension: String,
    },
    /// The upload is larger than the store accepts.
    #[error("upload exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The name is taken and the conflict policy is [`crate::ConflictPolicy::Refuse`].
    #[error("a stored file named {name:?} already exists")]
    AlreadyExists {
        /// The stored name that is taken.
        name: String,
    },
    /// No stored file with that name.
    #[error("no stored file named {name:?}")]
    NotFound {
        /// The name that was looked up.
        name: String,
    },
    /// The entry exists but is not a regular file.
    #[error("{name:?} is not a regular file")]
    NotRegularFile {
        /// The name that was looked up.
        name: String,
    },
    /// The entry is a symbolic link; Airlock never follows links inside a store.
    #[error("{name:?} is a symbolic link; refusing to follow it out of the store")]
    EscapeAttempt {
        /// The name that was looked up.
        name: String,
    },
    /// The upload's source failed before the end of the stream.
    #[error("upload aborted after {received} bytes: the source failed: {source}")]
    UploadAborted {
        /// Bytes received before the failure.
        received: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// An I/O operation failed. The [`ErrorCode`] separates disk-full and descriptor exhaustion.
    #[error("{op} failed: {source}")]
    Io {
        /// What Airlock was doing.
        op: &'static str,
        /// The operating system error.
        #[source]
        source: io::Error,
    },
    /// The model has not finished loading and the caller asked not to wait.
    #[error("model is not ready ({state})")]
    ModelNotReady {
        /// A short description of the current state (`not loaded`, `loading`).
        state: &'static str,
    },
    /// The last load attempt failed.
    #[error("model failed to load after {attempts} attempt(s): {failure}{}", retry_hint(*.retry_in))]
    ModelFailed {
        /// Why it failed.
        failure: LoadFailure,
        /// Consecutive failed attempts.
        attempts: u32,
        /// Time left before another attempt is allowed, if a backoff is running.
        retry_in: Option<Duration>,
    },
    /// Waiting for the model timed out.
    #[error("model was not ready within {waited:?}")]
    ModelTimeout {
        /// How long the caller waited.
        waited: Duration,
    },
    /// The model could not be parsed, optimised or run.
    #[error("invalid model: {reason}")]
    ModelInvalid {
        /// What went wrong, without tensor values.
        reason: String,
    },
    /// The model file does not match the pinned SHA-256.
    #[error("model digest mismatch: expected {expected}, found {found}")]
    ModelDigestMismatch {
        /// Pinned digest, hex.
        expected: String,
        /// Digest of the file, hex.
        found: String,
    },
    /// An inference input was rejected before it reached the model.
    #[error("invalid model input: {reason}")]
    InvalidInput {
        /// What is wrong with it (shapes and counts only, never values).
        reason: String,
    },
    /// An image could not be decoded.
    #[error("cannot decode image: {reason}")]
    ImageDecode {
        /// Decoder message.
        reason: String,
    },
    /// The image is larger than the configured decode limits.
    #[error("image of {width}x{height} exceeds the decode limits")]
    ImageTooLarge {
        /// Width from the image header.
        width: u32,
        /// Height from the image header.
        height: u32,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// A presented API key matched no active key. Says nothing about why, on purpose.
    #[error("the API key was not accepted")]
    Unauthorized,
    /// A panic was caught where it must not cross a language boundary (the Python and Node
    /// bindings). It is a bug in Airlock; the message is the panic's first line.
    #[error("internal error: {reason}")]
    Internal {
        /// The panic message, shortened.
        reason: String,
    },
}

fn retry_hint(retry_in: Option<Duration>) -> String {
    match retry_in {
        Some(d) => format!("; next attempt allowed in {:.1}s", d.as_secs_f64()),
        None => String::new(),
    }
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidName { .. } => ErrorCode::InvalidName,
            Error::ExtensionNotAllowed { .. } => ErrorCode::ExtensionNotAllowed,
            Error::ContentMismatch { .. } => ErrorCode::ContentMismatch,
            Error::TooLarge { .. } => ErrorCode::TooLarge,
            Error::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::NotRegularFile { .. } => ErrorCode::NotRegularFile,
            Error::EscapeAttempt { .. } => ErrorCode::EscapeAttempt,
            Error::UploadAborted { .. } => ErrorCode::UploadAborted,
            Error::Io { source, .. } => io_code(source),
            Error::ModelNotReady { .. } => ErrorCode::ModelNotReady,
            Error::ModelFailed { .. } => ErrorCode::ModelFailed,
            Error::ModelTimeout { .. } => ErrorCode::ModelTimeout,
            Error::ModelInvalid { .. } => ErrorCode::ModelInvalid,
            Error::ModelDigestMismatch { .. } => ErrorCode::ModelDigestMismatch,
            Error::InvalidInput { .. } => ErrorCode::InvalidInput,
            Error::ImageDecode { .. } => ErrorCode::ImageDecode,
            Error::ImageTooLarge { .. } => ErrorCode::ImageTooLarge,
            Error::InvalidConfig { .. } => ErrorCode::InvalidConfig,
            Error::Unauthorized => ErrorCode::Unauthorized,
            Error::Internal { .. } => ErrorCode::Internal,
        }
    }

    /// The name rule that was broken, for [`Error::InvalidName`].
    pub fn name_rule(&self) -> Option<NameRule> {
        match self {
            Error::InvalidName { rule } => Some(*rule),
            _ => None,
        }
    }

    pub(crate) fn io(op: &'static str, source: impl Into<io::Error>) -> Self {
        Error::Io { op, source: source.into() }
    }
}

fn io_code(e: &io::Error) -> ErrorCode {
    match e.raw_os_error().map(rustix::io::Errno::from_raw_os_error) {
        Some(rustix::io::Errno::NOSPC | rustix::io::Errno::FBIG | rustix::io::Errno::DQUOT) => {
            ErrorCode::StorageFull
        }
        Some(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE) => ErrorCode::TooManyOpenFiles,
        _ => ErrorCode::Io,
    }
}

/// Shorthand for `Result<T, airlock::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{s}");
        }
    }

    #[test]
    fn io_errors_are_classified_by_errno() {
        let full = Error::io("write", io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error()));
        assert_eq!(full.code(), ErrorCode::StorageFull);
        let fbig = Error::io("write", io::Error::from_raw_os_error(rustix::io::Errno::FBIG.raw_os_error()));
        assert_eq!(fbig.code(), ErrorCode::StorageFull);
        let mfile = Error::io("open", io::Error::from_raw_os_error(rustix::io::Errno::MFILE.raw_os_error()));
        assert_eq!(mfile.code(), ErrorCode::TooManyOpenFiles);
        let other = Error::io("open", io::Error::other("boom"));
        assert_eq!(other.code(), ErrorCode::Io);
    }
}
