"""Starts the reference server (bindings-python/examples/server) under gunicorn with TLS on
127.0.0.1, the way a deployment runs it, and talks to it over real HTTPS."""

from __future__ import annotations

import dataclasses
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import requests

import airlock
from conftest import ROOT, require_asset

SERVER = ROOT / "bindings-python" / "examples" / "server"
sys.path.insert(0, str(SERVER))

from make_cert import make_cert  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    work: pathlib.Path
    key: str
    log: pathlib.Path

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca(self) -> str:
        return str(self.work / "tls" / "ca.pem")

    @property
    def uploads(self) -> pathlib.Path:
        return self.work / "uploads"

    @property
    def audit(self) -> pathlib.Path:
        return self.work / "audit"

    def session(self) -> requests.Session:
        s = requests.Session()
        s.verify = self.ca
        s.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
        return s

    def workers(self) -> List[int]:
        path = pathlib.Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return sorted(int(p) for p in path.read_text().split())

    def raw(self, request: bytes) -> Tuple[int, Dict[str, List[str]]]:
        """Sends raw request bytes over TLS (for headers no HTTP library will send) and
        returns the status and the response headers (lower-case names)."""
        context = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                tls.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers: Dict[str, List[str]] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        return status, headers

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(work: pathlib.Path, port: int, key: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    model = require_asset("open-nsfw.onnx")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRLOCK_", "UPLOAD_API_KEY"))}
    env.update(
        AIRLOCK_UPLOAD_DIR=str(work / "uploads"),
        AIRLOCK_AUDIT_DIR=str(work / "audit"),
        AIRLOCK_MODEL=str(model),
        AIRLOCK_MODEL_SHA256=(model.parent / "open-nsfw.onnx.sha256").read_text().split()[0],
        AIRLOCK_TLS_CERT=str(work / "tls" / "cert.pem"),
        AIRLOCK_TLS_KEY=str(work / "tls" / "key.pem"),
        AIRLOCK_BIND=f"127.0.0.1:{port}",
        AIRLOCK_CORS_ORIGINS="https://app.example.com",
        UPLOAD_API_KEY=f"test:{key}",
        APP_ENV="production",
    )
    env.update(extra or {})
    return env


def start(work: pathlib.Path, extra: Optional[Dict[str, str]] = None, wait: bool = True) -> Server:
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "tls" / "cert.pem").exists():
        make_cert(work / "tls")
    port = free_port()
    key = airlock.generate_key()
    log = work / f"gunicorn.{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", str(SERVER), "-c", str(SERVER / "gunicorn.conf.py"), "wsgi:app"],
        env=server_env(work, port, key, extra),
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(process, port, work, key, log)
    if wait:
        deadline = time.monotonic() + 60
        session = server.session()
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
            try:
                if session.get(f"{server.base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"gunicorn did not answer:\n{log.read_text()}")
            time.sleep(0.1)
    return server
