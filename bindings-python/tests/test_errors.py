"""Exceptions: one class per stable core code, each also the matching built-in; panics
become InternalError, never PanicException."""

from __future__ import annotations

import pytest

import airlock
from airlock import _errors

BUILTIN = {
    "invalid_name": ValueError,
    "extension_not_allowed": ValueError,
    "content_mismatch": ValueError,
    "too_large": ValueError,
    "already_exists": FileExistsError,
    "not_found": FileNotFoundError,
    "not_regular_file": OSError,
    "escape_attempt": PermissionError,
    "upload_aborted": OSError,
    "storage_full": OSError,
    "too_many_open_files": OSError,
    "io": OSError,
    "model_timeout": TimeoutError,
    "model_invalid": ValueError,
    "model_digest_mismatch": ValueError,
    "invalid_input": ValueError,
    "image_decode": ValueError,
    "image_too_large": ValueError,
    "invalid_config": ValueError,
    "unauthorized": PermissionError,
    "internal": RuntimeError,
}


def test_every_core_code_has_exactly_one_class() -> None:
    codes = airlock.error_codes()
    assert len(codes) == len(set(codes)) >= 23
    assert set(codes) == set(_errors._BY_CODE)
    for code, cls in _errors._BY_CODE.items():
        assert cls.code == code
        assert issubclass(cls, airlock.AirlockError)
        assert getattr(airlock, cls.__name__) is cls


@pytest.mark.parametrize("code", sorted(BUILTIN))
def test_classes_subclass_the_matching_builtin(code: str) -> None:
    cls = _errors._BY_CODE[code]
    assert issubclass(cls, BUILTIN[code])
    err = cls("message")
    assert str(err) == "message"
    assert err.code == code


def test_a_panic_becomes_internal_error() -> None:
    with pytest.raises(airlock.InternalError) as info:
        airlock._airlock._panic_for_tests()
    assert info.value.code == "internal"
    assert "deliberate panic" in str(info.value)
    # An ordinary `except Exception` handler (a web framework's) catches it.
    assert isinstance(info.value, Exception)
