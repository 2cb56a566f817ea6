"""The reference server under gunicorn (several workers, --preload, TLS) driven over real HTTPS:
the attack scenarios of the store spec and the policy vectors, end to end."""

from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib
import ssl
import socket
import time
import urllib.parse
from typing import Any, Dict, Iterator, List

import pytest
import requests
import werkzeug.http

import airlock
from conftest import load_json, require_asset
from server_harness import Server, start

SNIFFED = {"png", "jpg", "jpeg", "gif", "webp", "pdf"}
MAX_UPLOAD = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(
        tmp_path_factory.mktemp("server"),
        {
            "AIRLOCK_WORKERS": "2",
            "AIRLOCK_MODEL_LOAD": "lazy",  # so the first classify requests meet a loading model
            "AIRLOCK_ALLOWED_EXTENSIONS": "*",
            "AIRLOCK_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
            "AIRLOCK_MAX_FILES": "4",
            "AIRLOCK_AUDIT_MAX_BYTES": "65536",
        },
    )
    yield s
    s.stop()
    assert s.process.returncode == 0, s.log.read_text()


def everything_under(root: pathlib.Path) -> List[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_security_headers_on_every_answer(server: Server) -> None:
    session = server.session()
    for response in (session.get(f"{server.base}/healthz"), session.get(f"{server.base}/nope"),
                     session.post(f"{server.base}/uploads")):
        h = response.headers
        assert h["Strict-Transport-Security"].startswith("max-age=")
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in h["Content-Security-Policy"]
        assert len(h["X-Request-Id"]) == 16


def test_plain_http_is_not_served(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = s.recv(1024)
        except ConnectionResetError:
            answer = b""
    assert b"200 OK" not in answer


def test_every_filename_vector_as_a_multipart_upload(server: Server) -> None:
    session = server.session()
    key = {"X-API-Key": server.key}
    vectors = load_json("vectors/filenames.json") + load_json("vectors/filenames.extra.json")
    verdicts = load_json("vectors/filenames.verdicts.json")
    outside_before = everything_under(server.work)
    for v in vectors:
        response = session.post(f"{server.base}/uploads", headers=key,
                                 files=[("file", (v["name"], b"hello", "application/octet-stream"))])
        assert response.status_code in (201, 400, 413, 415), (v["id"], response.text)
        (result,) = response.json()["results"]
        received = result["client_name"]
        try:
            expected_name = airlock.sanitize_filename(received)
        except airlock.InvalidNameError:
            expected_name = None
        if "stored" in result:
            stored = result["stored"]
            assert stored == expected_name, v["id"]
            # One regular file, directly in the store, under exactly the returned name.
            assert airlock.parse_filename(stored) == stored
            path = server.uploads / stored
            assert path.is_file() and not path.is_symlink() and path.parent == server.uploads
            assert session.get(f"{server.base}/uploads/{urllib.parse.quote(stored)}").content == b"hello"
            assert session.delete(f"{server.base}/uploads/{urllib.parse.quote(stored)}", headers=key).status_code == 204
        elif expected_name is None:
            assert result["error"] == "invalid_name", v["id"]
        else:
            # A name that survives sanitizing but claims a type that "hello" is not.
            assert result["error"] == "content_mismatch", (v["id"], result)
            assert expected_name.rsplit(".", 1)[-1].lower() in SNIFFED
        if received == v["name"] and not any(c in v["name"] for c in '"\\\r\n'):
            # Sent unchanged: the same verdict as Rust's, over HTTP.
            rust = verdicts[v["id"]]
            if "stored" in rust and rust["stored"].rsplit(".", 1)[-1].lower() not in SNIFFED:
                assert result.get("stored") == rust["stored"], v["id"]
            elif "error" in rust:
                assert result["error"] == rust["error"], v["id"]
    assert server.session().get(f"{server.base}/uploads").json()["files"] == []
    assert everything_under(server.work) == outside_before or all(
        p.startswith(("audit", "gunicorn")) for p in set(everything_under(server.work)) - set(outside_before))


def test_a_planted_symlink_lets_nothing_escape(server: Server, tmp_path: pathlib.Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:top secret")
    (server.uploads / "link.txt").symlink_to(secret)
    (server.uploads / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    session = server.session()
    key = {"X-API-Key": server.key}
    try:
        for path in ("link.txt", "dirlink", "dirlink/secret.txt", "dirlink%2Fsecret.txt", "..%2F..%2Fetc%2Fpasswd"):
            response = session.get(f"{server.base}/uploads/{path}")
            assert response.status_code in (400, 404), path
            assert b"top secret" not in response.content and b"root:" not in response.content
            assert session.delete(f"{server.base}/uploads/{path}", headers=key).status_code in (400, 404)
        assert session.get(f"{server.base}/uploads").json()["files"] == []
        response = session.post(f"{server.base}/uploads", headers=key, files=[("file", ("link.txt", b"new", "text/plain"))])
        assert response.json()["results"][0]["stored"] == "link (1).txt"
        assert secret.read_text() == "root:x:0:0:top secret"
        assert (server.uploads / "link.txt").is_symlink()
    finally:
        (server.uploads / "link.txt").unlink()
        (server.uploads / "dirlink").unlink()
        session.delete(f"{server.base}/uploads/link%20%281%29.txt", headers=key)


def test_32_concurrent_classify_requests_while_the_model_loads(server: Server) -> None:
    session = server.session()
    key = {"X-API-Key": server.key}
    photo = require_asset("photos/china.jpg").read_bytes()
    assert session.post(f"{server.base}/uploads", headers=key,
                        files=[("file", ("race.jpg", photo, "image/jpeg"))]).status_code == 201
    workers = server.workers()
    assert len(workers) == 2

    def classify(_: int) -> requests.Response:
        return server.session().post(f"{server.base}/uploads/race.jpg/classify", headers=key, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(classify, range(32)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 503}, statuses
    assert 503 in statuses, "the model was already loaded: the race was not exercised"
    for a in answers:
        if a.status_code == 503:
            assert a.headers["Retry-After"] and a.json()["error"] in ("model_not_ready", "model_failed")
        else:
            assert a.json()["label"] == "safe"
    # Every worker comes up and answers; none crashed or was replaced.
    deadline = time.monotonic() + 120
    ok = 0
    while ok < 16:
        assert time.monotonic() < deadline, "the model never became ready"
        response = classify(0)
        assert response.status_code in (200, 503)
        ok = ok + 1 if response.status_code == 200 else 0
        time.sleep(0 if response.status_code == 200 else 0.1)
    assert server.workers() == workers
    assert server.process.poll() is None
    ready = [p for p in server.audit.glob("audit.*.jsonl")
             if any(json.loads(line)["action"] == "model_ready" for line in p.read_text().splitlines())]
    assert len(ready) >= 1
    session.delete(f"{server.base}/uploads/race.jpg", headers=key)


def test_readyz_is_503_with_the_reason_until_the_model_is_ready(tmp_path: pathlib.Path) -> None:
    # A deployment whose model file is not the pinned one: never ready, and /readyz says why,
    # while liveness stays green (a restart would not fix it).
    bad_model = tmp_path / "open-nsfw.onnx"
    bad_model.write_bytes(b"not the pinned model")
    s = start(tmp_path / "work", {"AIRLOCK_WORKERS": "1", "AIRLOCK_MODEL_LOAD": "lazy",
                                  "AIRLOCK_MODEL": str(bad_model)})
    try:
        session = s.session()
        first = session.get(f"{s.base}/readyz")
        assert first.status_code == 503 and first.headers["Retry-After"] == "1"
        assert first.json()["ready"] is False and first.json()["state"] in ("not_loaded", "loading", "failed")
        deadline = time.monotonic() + 60
        while True:
            answer = session.get(f"{s.base}/readyz")
            assert answer.status_code == 503, answer.text
            if answer.json()["state"] == "failed":
                break
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.1)
        assert answer.json()["reason"] == "model_digest_mismatch", answer.text
        assert session.get(f"{s.base}/healthz").status_code == 200
    finally:
        s.stop()


def test_downloads_are_attachments_with_a_safe_disposition(server: Server) -> None:
    session = server.session()
    key = {"X-API-Key": server.key}
    client_name = 'report"; filename*=UTF-8\'\'evil.html\r\nX-Injected: 1.txt'
    response = session.post(f"{server.base}/uploads", headers=key,
                            files=[("file", (client_name, b"hello", "text/plain"))])
    stored = response.json()["results"][0]["stored"]
    try:
        answer = session.get(f"{server.base}/uploads/{urllib.parse.quote(stored)}")
        assert answer.status_code == 200 and answer.content == b"hello"
        disposition = answer.headers["Content-Disposition"]
        assert "X-Injected" not in answer.headers and "\r" not in disposition and "\n" not in disposition
        # Parsed as a browser would: an attachment whose one parameter is the stored name.
        kind, params = werkzeug.http.parse_options_header(disposition)
        assert (kind, params) == ("attachment", {"filename": stored}), disposition
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Type"] == "application/octet-stream"
    finally:
        session.delete(f"{server.base}/uploads/{urllib.parse.quote(stored)}", headers=key)


def tls_socket(server: Server) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=server.ca)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return context.wrap_socket(sock, server_hostname="127.0.0.1")


def test_a_connection_dropped_mid_upload_leaves_nothing(server: Server) -> None:
    before = sorted(os.listdir(server.uploads))
    boundary = "airlockboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dropped.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode()
    total = len(head) + 900_000 + len(f"\r\n--{boundary}--\r\n")
    with tls_socket(server) as tls:
        tls.sendall(
            (f"POST /uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {server.key}\r\n"
             f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {total}\r\n\r\n").encode()
            + head + b"\xff\xd8\xff" + b"x" * 400_000
        )
    time.sleep(1.0)
    assert sorted(os.listdir(server.uploads)) == before
    assert server.session().get(f"{server.base}/healthz").status_code == 200


def test_oversized_uploads_get_413_and_store_nothing(server: Server) -> None:
    session = server.session()
    key = {"X-API-Key": server.key}
    before = sorted(os.listdir(server.uploads))
    one_file = session.post(f"{server.base}/uploads", headers=key,
                            files=[("file", ("big.bin", b"x" * (MAX_UPLOAD + 1), "application/octet-stream"))])
    assert one_file.status_code == 413
    assert one_file.json()["results"][0]["error"] == "too_large"
    # A request body over the whole-request limit is refused from its Content-Length, before
    # a byte of it is read (a client streaming it would see the connection close; send the
    # headers only, as a client using Expect: 100-continue would).
    status, _ = server.raw(
        (f"POST /uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {server.key}\r\n"
         f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {64 * MAX_UPLOAD}\r\n\r\n").encode()
    )
    assert status == 413
    assert sorted(os.listdir(server.uploads)) == before


def test_missing_and_wrong_keys_are_refused(server: Server) -> None:
    session = server.session()
    files = [("file", ("a.txt", b"a", "text/plain"))]
    for headers in ({}, {"X-API-Key": ""}, {"X-API-Key": "alk_" + "x" * 43}, {"X-API-Key": server.key[:-1]},
                    {"Authorization": "Bearer nope"}, {"X-API-Key": "é" * 40}):
        response = session.post(f"{server.base}/uploads", headers=headers, files=files)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert server.key not in response.text
    response = session.post(f"{server.base}/uploads", headers={"Authorization": f"Bearer {server.key}"}, files=files)
    assert response.status_code == 201
    assert session.delete(f"{server.base}/uploads/a.txt").status_code == 401
    assert session.delete(f"{server.base}/uploads/a.txt", headers={"X-API-Key": server.key}).status_code == 204


def test_a_placeholder_key_in_production_stops_the_server(tmp_path: pathlib.Path) -> None:
    s = start(tmp_path, {"UPLOAD_API_KEY": "changeme"}, wait=False)
    try:
        s.process.wait(timeout=60)
    finally:
        s.stop()
    log = s.log.read_text()
    assert s.process.returncode != 0
    assert "UPLOAD_API_KEY" in log and "Listening at" not in log
    assert "changeme" not in log.replace("UPLOAD_API_KEY", "")


def test_failing_uploads_leak_no_descriptor_in_the_workers(server: Server) -> None:
    session = server.session()
    key = {"X-API-Key": server.key}
    bad = [
        ("..", b"x"),
        ("cat.png", b"<html>"),
        ("big.bin", b"x" * (MAX_UPLOAD + 1)),
        ("...", b"x"),
    ]

    def fds() -> Dict[int, int]:
        return {pid: len(os.listdir(f"/proc/{pid}/fd")) for pid in server.workers()}

    for name, body in bad * 5:  # warm up both workers
        session.post(f"{server.base}/uploads", headers=key, files=[("file", (name, body, "x/y"))])
    time.sleep(0.5)
    before = fds()
    for i in range(1000):
        # Mostly cheap refusals; every 40th streams 1 MiB before it is refused.
        name, body = bad[2] if i % 40 == 0 else [bad[0], bad[1], bad[3]][i % 3]
        response = session.post(f"{server.base}/uploads", headers=key, files=[("file", (name, body, "x/y"))])
        assert response.status_code in (400, 413, 415), response.text
    time.sleep(0.5)
    assert fds() == before
    assert sorted(os.listdir(server.uploads)) == []


def test_audit_files_are_written_per_worker_and_rotated(server: Server) -> None:
    # Runs after the tests above (module order): plenty of events by now.
    files = sorted(server.audit.iterdir())
    names = [f.name for f in files]
    pids = {n.split(".")[1] for n in names}
    assert len(pids) >= 2, names  # the master's startup event and at least one worker
    assert any(not n.endswith(".jsonl") for n in names), f"nothing rotated: {names}"
    actions = set()
    for f in files:
        assert oct(f.stat().st_mode & 0o777) == "0o600"
        for line in f.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert record["app"] == "airlock-reference-server"
            actions.add(record["action"])
            if record["action"] == "upload_stored":
                assert record["request_id"] and record["client_ip"] == "127.0.0.1" and record["key_id"] == "test"
    assert {"startup", "upload_stored", "upload_refused", "authn_token_fail", "authn_token_verified",
            "upload_deleted", "model_ready", "path_escape_attempt"} <= actions, actions
    assert server.key not in "".join(f.read_text() for f in files)


# --- CORS: every vector replayed against a server configured as the vector says ----------


def cors_groups() -> Dict[str, List[Dict[str, Any]]]:
    groups: Dict[str, List[Dict[str, Any]]] = {}
    for case in load_json("vectors/cors.json"):
        if case.get("config_error"):
            continue
        config = json.dumps([case["allowlist"], case["credentials"], case["allow_methods"], case["allow_headers"],
                             case.get("allow_private_network", False)])
        groups.setdefault(config, []).append(case)
    return groups


# HTTP itself strips surrounding whitespace from header values and ends a header at CR/LF: these
# two reach any application as something else, so they are checked through the API only
# (test_policy.py) and here only for what the response must never contain.
FRAMING = {"leading-space", "crlf-injection"}


@pytest.mark.parametrize("config", sorted(cors_groups()))
def test_cors_vectors_over_https(config: str, tmp_path: pathlib.Path) -> None:
    allowlist, credentials, methods, headers, private = json.loads(config)
    s = start(tmp_path, {
        "AIRLOCK_WORKERS": "1", "AIRLOCK_MODEL_LOAD": "lazy",
        "AIRLOCK_CORS_ORIGINS": ",".join(allowlist), "AIRLOCK_CORS_CREDENTIALS": str(credentials).lower(),
        "AIRLOCK_CORS_METHODS": ",".join(methods), "AIRLOCK_CORS_HEADERS": ",".join(headers),
        "AIRLOCK_CORS_PRIVATE_NETWORK": str(private).lower(),
    })
    try:
        for case in cors_groups()[config]:
            lines = []
            if case["preflight"]:
                lines.append("OPTIONS /uploads HTTP/1.1")
                lines.append(f"Access-Control-Request-Method: {case['method']}")
                if case["request_headers"]:
                    lines.append(f"Access-Control-Request-Headers: {', '.join(case['request_headers'])}")
                if case.get("private_network_request"):
                    lines.append("Access-Control-Request-Private-Network: true")
            else:
                lines.append(f"{case['method']} /uploads HTTP/1.1")
                lines.append("Content-Length: 0")
            lines.insert(1, "Host: 127.0.0.1")
            if case["origin"] is not None:
                lines.append(f"Origin: {case['origin']}")
            lines.append("Connection: close")
            status, got = s.raw(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
            assert "set-cookie" not in got, case["id"]
            acao = got.get("access-control-allow-origin", [None])
            assert len(acao) == 1, case["id"]
            if acao[0] is not None:
                assert acao[0] == "*" or acao[0] in {o for o in allowlist} or acao[0].isascii()
            if case["id"] in FRAMING:
                continue
            expect = case["expect"]
            assert acao[0] == expect["allow_origin"], (case["id"], status, got)
            vary = ",".join(got.get("vary", []))
            assert ("Origin" in [v.strip() for v in vary.split(",")]) == expect["vary_origin"], case["id"]
            pna = got.get("access-control-allow-private-network", [None])[0] == "true"
            assert pna == expect.get("allow_private_network", False), case["id"]
            if expect["allowed"]:
                creds = got.get("access-control-allow-credentials", [None])[0] == "true"
                assert creds == case["credentials"], case["id"]
            else:
                assert not any(k.startswith("access-control-") for k in got), (case["id"], got)
            # Security headers are on CORS answers too.
            assert "strict-transport-security" in got
    finally:
        s.stop()
