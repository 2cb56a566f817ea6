"""Airlock's exceptions.

Every exception Airlock raises is an :class:`AirlockError` whose ``code`` is the core's stable
machine-readable code (the same string in Rust, Python and Node). Each class also subclasses the
built-in exception a Python caller would expect, so ``except ValueError`` and
``except FileNotFoundError`` keep working when a route adopts Airlock.
"""

from __future__ import annotations

from typing import ClassVar, Dict, Optional, Type

__all__ = [
    "AirlockError",
    "InvalidNameError",
    "ExtensionNotAllowedError",
    "ContentMismatchError",
    "TooLargeError",
    "AlreadyExistsError",
    "NotFoundError",
    "NotRegularFileError",
    "EscapeAttemptError",
    "UploadAbortedError",
    "StorageFullError",
    "TooManyOpenFilesError",
    "StorageIOError",
    "ModelNotReadyError",
    "ModelFailedError",
    "ModelTimeoutError",
    "ModelInvalidError",
    "ModelDigestMismatchError",
    "InvalidInputError",
    "ImageDecodeError",
    "ImageTooLargeError",
    "InvalidConfigError",
    "UnauthorizedError",
    "InternalError",
]


class AirlockError(Exception):
    """Base of every Airlock exception. ``code`` is the stable machine-readable code."""

    code: ClassVar[str] = "airlock"


class InvalidNameError(AirlockError, ValueError):
    """A file name broke a name rule; ``rule`` says which (e.g. ``dots_only``)."""

    code = "invalid_name"
    rule: Optional[str] = None


class ExtensionNotAllowedError(AirlockError, ValueError):
    """The stored name's extension is not in the store's allowlist."""

    code = "extension_not_allowed"


class ContentMismatchError(AirlockError, ValueError):
    """The upload's leading bytes do not match its extension (HTML named ``.png``)."""

    code = "content_mismatch"


class TooLargeError(AirlockError, ValueError):
    """The upload exceeded the store's size limit (``limit``, bytes). Nothing was stored."""

    code = "too_large"
    limit: Optional[int] = None


class AlreadyExistsError(AirlockError, FileExistsError):
    """The name is taken and the store's conflict policy is ``refuse``."""

    code = "already_exists"


class NotFoundError(AirlockError, FileNotFoundError):
    """No stored file has that name."""

    code = "not_found"


class NotRegularFileError(AirlockError, OSError):
    """The name exists but is a directory, FIFO, socket or device."""

    code = "not_regular_file"


class EscapeAttemptError(AirlockError, PermissionError):
    """The name is a symbolic link; following it could leave the store."""

    code = "escape_attempt"


class UploadAbortedError(AirlockError, OSError):
    """The upload's source failed mid-stream (client disconnect). ``__cause__`` is the
    source's own exception. Nothing was stored."""

    code = "upload_aborted"


class StorageFullError(AirlockError, OSError):
    """The disk is full, a quota was hit, or the file size limit of the process."""

    code = "storage_full"


class TooManyOpenFilesError(AirlockError, OSError):
    """The process ran out of file descriptors."""

    code = "too_many_open_files"


class StorageIOError(AirlockError, OSError):
    """Any other I/O failure."""

    code = "io"


class ModelNotReadyError(AirlockError):
    """The model is still loading (or was never asked to load); ``state`` says which.
    A web handler answers 503 with ``Retry-After``."""

    code = "model_not_ready"
    state: Optional[str] = None


class ModelFailedError(AirlockError):
    """The last model load failed; another attempt is allowed after ``retry_in`` seconds.
    ``cause_code`` is the code of the load's own error."""

    code = "model_failed"
    attempts: Optional[int] = None
    retry_in: Optional[float] = None
    cause_code: Optional[str] = None


class ModelTimeoutError(AirlockError, TimeoutError):
    """Waiting for the model timed out."""

    code = "model_timeout"


class ModelInvalidError(AirlockError, ValueError):
    """The model file is not a usable ONNX model."""

    code = "model_invalid"


class ModelDigestMismatchError(AirlockError, ValueError):
    """The model file's SHA-256 differs from the pinned one."""

    code = "model_digest_mismatch"


class InvalidInputError(AirlockError, ValueError):
    """An inference input has the wrong shape, or non-finite values."""

    code = "invalid_input"


class ImageDecodeError(AirlockError, ValueError):
    """An image could not be decoded."""

    code = "image_decode"


class ImageTooLargeError(AirlockError, ValueError):
    """An image's dimensions exceed the decode limits (decompression bomb guard)."""

    code = "image_too_large"


class InvalidConfigError(AirlockError, ValueError):
    """A configuration value is invalid (the message names it)."""

    code = "invalid_config"


class UnauthorizedError(AirlockError, PermissionError):
    """A presented API key matched no active key."""

    code = "unauthorized"


class InternalError(AirlockError, RuntimeError):
    """A bug in Airlock (a Rust panic, caught before it reached Python). Please report it."""

    code = "internal"


_BY_CODE: Dict[str, Type[AirlockError]] = {
    cls.code: cls
    for cls in (
        InvalidNameError,
        ExtensionNotAllowedError,
        ContentMismatchError,
        TooLargeError,
        AlreadyExistsError,
        NotFoundError,
        NotRegularFileError,
        EscapeAttemptError,
        UploadAbortedError,
        StorageFullError,
        TooManyOpenFilesError,
        StorageIOError,
        ModelNotReadyError,
        ModelFailedError,
        ModelTimeoutError,
        ModelInvalidError,
        ModelDigestMismatchError,
        InvalidInputError,
        ImageDecodeError,
        ImageTooLargeError,
        InvalidConfigError,
        UnauthorizedError,
        InternalError,
    )
}
