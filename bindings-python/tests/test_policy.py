"""API keys and CORS through Python; every CORS vector gives the Rust verdict."""

from __future__ import annotations

import os
import pathlib
from typing import Any, Dict, Optional

import pytest

import airlock
from conftest import load_json

CORS = load_json("vectors/cors.json")


def test_generated_keys_are_prefixed_and_random() -> None:
    a, b = airlock.generate_key(), airlock.generate_key()
    assert a != b and a.startswith("alk_") and len(a) == 4 + 43


def test_keyring_verifies_and_never_prints_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    ops, ci = airlock.generate_key(), airlock.generate_key()
    monkeypatch.setenv("UPLOAD_API_KEY", f"ops:{ops},ci:{ci}")
    monkeypatch.delenv("APP_ENV", raising=False)
    ring = airlock.KeyRing.from_env("UPLOAD_API_KEY")
    assert ring.is_production
    assert ring.key_ids == ["ops", "ci"]
    assert ring.verify(ops) == "ops"
    assert ring.verify(ci.encode()) == "ci"
    for wrong in ("", "nope", ops[:-1], ops + "x", "\ud800", b"\xff" * 1000):
        with pytest.raises(airlock.UnauthorizedError) as info:
            ring.verify(wrong)
        assert isinstance(info.value, PermissionError) and info.value.code == "unauthorized"
        assert ops not in str(info.value)
    assert ops not in repr(ring) and "ops" in repr(ring)
    with pytest.raises(TypeError):
        ring.verify(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["changeme", "dev-api-key-123", "x" * 40, "password"])
def test_placeholders_and_weak_keys_are_refused_in_production(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("UPLOAD_API_KEY", value)
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(airlock.InvalidConfigError) as info:
        airlock.KeyRing.from_env("UPLOAD_API_KEY")
    assert "UPLOAD_API_KEY" in str(info.value)
    assert value not in str(info.value)
    # In development the same key is accepted (with a warning audit event).
    monkeypatch.setenv("APP_ENV", "development")
    assert not airlock.KeyRing.from_env("UPLOAD_API_KEY").is_production


def test_missing_or_doubled_sources_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    monkeypatch.delenv("UPLOAD_API_KEY", raising=False)
    monkeypatch.delenv("UPLOAD_API_KEY_FILE", raising=False)
    with pytest.raises(airlock.InvalidConfigError, match="neither"):
        airlock.KeyRing.from_env("UPLOAD_API_KEY")
    key = airlock.generate_key()
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("UPLOAD_API_KEY_FILE", str(key_file))
    ring = airlock.KeyRing.from_env("UPLOAD_API_KEY", refresh_interval=0)
    assert ring.verify(key)
    rotated = airlock.generate_key()
    key_file.write_text(f"new:{rotated}\n")
    os.utime(key_file, (1, 1))
    assert ring.refresh() is True
    assert ring.verify(rotated) == "new"
    monkeypatch.setenv("UPLOAD_API_KEY", key)
    with pytest.raises(airlock.InvalidConfigError, match="both"):
        airlock.KeyRing.from_env("UPLOAD_API_KEY")


def policy(case: Dict[str, Any]) -> airlock.CorsPolicy:
    return airlock.CorsPolicy(
        case["allowlist"],
        allow_credentials=case["credentials"],
        allow_methods=case["allow_methods"],
        allow_headers=case["allow_headers"],
        allow_private_network=case.get("allow_private_network", False),
    )


@pytest.mark.parametrize("case", CORS, ids=[c["id"] for c in CORS])
def test_cors_vectors(case: Dict[str, Any]) -> None:
    if case.get("config_error"):
        with pytest.raises(airlock.InvalidConfigError):
            policy(case)
        return
    decision = policy(case).decide(
        case["origin"],
        case["method"],
        request_headers=case["request_headers"],
        preflight=case["preflight"],
        private_network=case.get("private_network_request", False),
    )
    expect = case["expect"]
    assert decision.allowed == expect["allowed"] == bool(decision), decision.reason
    assert decision.header("access-control-allow-origin") == expect["allow_origin"]
    vary = decision.header("Vary")
    assert (vary is not None and "Origin" in [v.strip() for v in vary.split(",")]) == expect["vary_origin"]
    pna = decision.header("Access-Control-Allow-Private-Network") == "true"
    assert pna == expect.get("allow_private_network", False)
    if decision.allowed:
        assert (decision.header("Access-Control-Allow-Credentials") == "true") == case["credentials"]
    else:
        assert [name for name, _ in decision.headers] in ([], ["Vary"])
    assert decision.reason in {"allowed", "no_origin", "malformed_origin", "null_origin", "origin_not_allowed",
                               "method_not_allowed", "header_not_allowed"}


def test_cors_config_errors_are_precise() -> None:
    with pytest.raises(airlock.InvalidConfigError, match="credentials"):
        airlock.CorsPolicy(["*"], allow_credentials=True)
    with pytest.raises(ValueError):
        airlock.CorsPolicy(["https://*.com"])
    p = airlock.CorsPolicy(["https://app.example.com"])
    assert not p.decide("https://app.example.com\ud800", "GET")
    assert p.decide("https://app.example.com", "GET").reason == "allowed"
    assert "<CorsDecision allowed" in repr(p.decide("https://app.example.com", "GET"))


def test_private_network_access_per_origin() -> None:
    p = airlock.CorsPolicy(["https://app.example.com", "https://router.example.com"],
                           allow_private_network_origins=["https://router.example.com"])

    def pna(origin: str) -> Optional[str]:
        decision = p.decide(origin, "GET", preflight=True, private_network=True)
        assert decision.allowed
        return decision.header("Access-Control-Allow-Private-Network")

    assert pna("https://router.example.com") == "true"
    assert pna("https://app.example.com") is None
    with pytest.raises(airlock.InvalidConfigError, match="not an allowed CORS origin"):
        airlock.CorsPolicy(["https://app.example.com"], allow_private_network_origins=["https://x.example.com"])
