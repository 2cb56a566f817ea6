"""Airlock: the risky parts of a file-upload backend, done once, in Rust.

* :func:`sanitize_filename` / :func:`parse_filename` — untrusted client names become safe
  stored names; lookups accept only names that are already safe.
* :class:`UploadStore` — a directory opened as a capability: traversal is impossible by
  construction; uploads stream into a staged file and appear only when committed; every failure
  leaves nothing behind.
* :class:`Model` — a lazily loaded ONNX model: loads once however many threads ask, reports its
  state without blocking, runs inference with the GIL released.
* :class:`KeyRing` — API keys from ``NAME`` / ``NAME_FILE``; :class:`CorsPolicy` — a strict
  origin policy returning the exact response headers; :func:`init_logging` — the audit trail.

Every exception is an :class:`AirlockError` with a stable ``code``.
"""

from ._airlock import (
    Classification,
    CorsDecision,
    CorsPolicy,
    ImagePreprocess,
    KeyRing,
    LoggingHandle,
    Model,
    ModelStatus,
    OutputTensor,
    RequestScope,
    Stored,
    UploadStore,
    __version__,
    audit_event,
    error_codes,
    generate_key,
    init_logging,
    parse_filename,
    sanitize_filename,
)
from ._errors import (
    AirlockError,
    AlreadyExistsError,
    ContentMismatchError,
    EscapeAttemptError,
    ExtensionNotAllowedError,
    ImageDecodeError,
    ImageTooLargeError,
    InternalError,
    InvalidConfigError,
    InvalidInputError,
    InvalidNameError,
    ModelDigestMismatchError,
    ModelFailedError,
    ModelInvalidError,
    ModelNotReadyError,
    ModelTimeoutError,
    NotFoundError,
    NotRegularFileError,
    StorageFullError,
    StorageIOError,
    TooLargeError,
    TooManyOpenFilesError,
    UnauthorizedError,
    UploadAbortedError,
)

__all__ = [
    "AirlockError",
    "AlreadyExistsError",
    "Classification",
    "ContentMismatchError",
    "CorsDecision",
    "CorsPolicy",
    "EscapeAttemptError",
    "ExtensionNotAllowedError",
    "ImageDecodeError",
    "ImagePreprocess",
    "ImageTooLargeError",
    "InternalError",
    "InvalidConfigError",
    "InvalidInputError",
    "InvalidNameError",
    "KeyRing",
    "LoggingHandle",
    "Model",
    "ModelDigestMismatchError",
    "ModelFailedError",
    "ModelInvalidError",
    "ModelNotReadyError",
    "ModelStatus",
    "ModelTimeoutError",
    "NotFoundError",
    "NotRegularFileError",
    "OutputTensor",
    "RequestScope",
    "StorageFullError",
    "StorageIOError",
    "Stored",
    "TooLargeError",
    "TooManyOpenFilesError",
    "UnauthorizedError",
    "UploadAbortedError",
    "UploadStore",
    "__version__",
    "audit_event",
    "error_codes",
    "generate_key",
    "init_logging",
    "parse_filename",
    "sanitize_filename",
]
