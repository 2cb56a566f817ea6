//! # Airlock
//!
//! The risky parts of a file-upload backend, done once:
//!
//! * [`SafeName`] — untrusted client file names become safe stored names ([`SafeName::sanitize`]),
//!   and lookups accept only names that are already safe ([`SafeName::parse`]).
//! * [`UploadStore`] — a directory opened as a capability: traversal is impossible by
//!   construction, uploads stream into a staged file and appear only when committed (atomic,
//!   never overwriting), and every failure path leaves nothing behind.
//!
//! * [`Model`] (feature `model`, on by default) — a lazily initialised, thread-safe ONNX model
//!   handle over tract: loads exactly once however many threads ask, reports its state without
//!   blocking, fails with a clear error and can retry, runs inference from many threads at once;
//!   [`ImagePreprocess`] turns an uploaded PNG/JPEG into its input within decode limits.
//!
//! * [`KeyRing`] — API keys from `NAME` or `NAME_FILE`, weak keys refused in production, kept
//!   as digests only and verified in constant time; [`CorsPolicy`] — a strict origin policy
//!   (exact origins and one-label wildcards, no regular expressions) that returns the exact
//!   response headers.
//!
//! * [`AuditLayer`] / [`init_logging`] — the audit trail: audit events as fixed-schema JSON lines,
//!   escaped and redacted, in a per-process file rotated by size and age (see [`audit`]).
//!
//! Every error is an [`Error`] with a stable [`ErrorCode`], shared by the Rust, Python and Node
//! APIs.
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! use airlock::{StoreOptions, UploadStore};
//! let store = UploadStore::open_ambient(dir.path(),
//!     StoreOptions::new().allow_extensions(["txt"]))?;
//! let stored = store.save("../../secret/notes.txt", &b"hello"[..])?;
//! assert_eq!(stored.name().as_str(), "secret_notes.txt");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
mod cors;
mod error;
pub mod events;
pub mod keys;
#[cfg(feature = "model")]
mod model;
mod name;
#[cfg(feature = "image")]
mod preprocess;
mod store;

pub use audit::{
    init_logging, AuditConfig, AuditLayer, AuditWriter, LoggingConfig, LoggingHandle,
    OperationalLayer,
};
pub use cors::{
    CorsDecision, CorsPolicy, CorsPolicyBuilder, CorsReason, CorsRequest, DEFAULT_MAX_AGE,
    MAX_ORIGIN_LEN,
};
pub use error::{Error, ErrorCode, LoadFailure, Result};
pub use keys::{generate_key, KeyId, KeyRing, KeyRingOptions};
pub use name::{NameRule, SafeName, MAX_CLIENT_NAME_BYTES, MAX_NAME_BYTES};
pub use store::{
    CommitError, ConflictPolicy, Durability, StoreOptions, Stored, StoredFile, Upload, UploadStore,
    DEFAULT_MAX_SIZE,
};
#[cfg(feature = "model")]
pub use model::{
    Classification, Model, ModelOptions, ModelState, OutputTensor, ReadyModel, MAX_BACKOFF,
};
#[cfg(feature = "image")]
pub use preprocess::{ChannelOrder, DecodeLimits, ImagePreprocess, Layout};

/// The README's Rust snippets, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
