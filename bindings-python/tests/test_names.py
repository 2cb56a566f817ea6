"""The shared filename vectors through the Python API: the same verdicts as Rust
(testdata/vectors/filenames.verdicts.json), including the lone-surrogate forms."""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest

import airlock
from conftest import load_json

VERDICTS: Dict[str, Dict[str, Optional[str]]] = load_json("vectors/filenames.verdicts.json")
VECTORS = load_json("vectors/filenames.json") + load_json("vectors/filenames.extra.json")


def verdict(name: Any) -> Dict[str, Optional[str]]:
    try:
        return {"stored": airlock.sanitize_filename(name)}
    except airlock.InvalidNameError as e:
        return {"error": e.code, "rule": e.rule}


def python_string(utf16_hex: str) -> str:
    """The string as Python holds it: UTF-16 code units, lone surrogates included."""
    units = bytes.fromhex(utf16_hex.replace(" ", ""))
    return units.decode("utf-16-be", errors="surrogatepass")


def test_every_vector_has_a_verdict() -> None:
    assert len(VECTORS) >= 62 + 20
    ids = {v["id"] for v in VECTORS}
    assert ids <= set(VERDICTS)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_same_verdict_as_rust(vector: Dict[str, Any]) -> None:
    assert verdict(vector["name"]) == VERDICTS[vector["id"]]
    if "raw_hex" in vector:
        expected = VERDICTS[vector["id"] + "/raw"]
        # The bytes on the wire, and the str Python holds for them (lone surrogates), both
        # end in the same clean error.
        assert verdict(bytes.fromhex(vector["raw_hex"])) == expected
        held = python_string(vector["utf16_hex"])
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in held)
        assert verdict(held) == expected


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_stored_names_are_their_own_lookup_key(vector: Dict[str, Any]) -> None:
    stored = VERDICTS[vector["id"]].get("stored")
    if stored is not None:
        assert airlock.parse_filename(stored) == stored
        assert airlock.sanitize_filename(stored) == stored


def test_parse_refuses_what_sanitize_would_change() -> None:
    for name, rule in [("../etc/passwd", "separator"), ("", "empty"), ("..", "dots_only"),
                       ("a\nb", "control_character")]:
        with pytest.raises(airlock.InvalidNameError) as info:
            airlock.parse_filename(name)
        assert info.value.rule == rule, name
    with pytest.raises(airlock.InvalidNameError) as info:
        airlock.parse_filename("bad\ud800name.txt")
    assert info.value.rule == "invalid_utf8"


def test_invalid_name_is_a_value_error_with_code() -> None:
    with pytest.raises(ValueError) as info:
        airlock.sanitize_filename("..")
    assert isinstance(info.value, airlock.AirlockError)
    assert info.value.code == "invalid_name"
    assert "dots" in str(info.value)


def test_wrong_types_are_type_errors() -> None:
    for bad in (None, 3, ["a"], bytearray(b"a")):
        with pytest.raises(TypeError):
            airlock.sanitize_filename(bad)  # type: ignore[arg-type]
