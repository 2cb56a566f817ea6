"""Drives the reference server over HTTPS the way the React drop zone does, and prints the
server's answers: ``python client.py BASE_URL CA_FILE PHOTO [PHOTO ...]`` with the API key in
``UPLOAD_API_KEY``."""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time
from typing import Any

import requests


def show(label: str, response: requests.Response) -> Any:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:80]
    print(f"{label:<44} -> {response.status_code} {json.dumps(body, ensure_ascii=True)[:150]}")
    return body


def main(base: str, ca: str, photos: list[pathlib.Path]) -> int:
    session = requests.Session()
    session.verify = ca
    # Otherwise REQUESTS_CA_BUNDLE from the environment silently wins over session.verify.
    session.trust_env = False
    key = {"X-API-Key": os.environ["UPLOAD_API_KEY"]}
    origin = {"Origin": "https://app.example.com"}

    show("GET /healthz", session.get(f"{base}/healthz"))
    show("GET /readyz (model may still be loading)", session.get(f"{base}/readyz"))

    honest = [("file", (p.name, p.read_bytes(), "image/jpeg")) for p in photos]
    hostile = [
        ("file", ("../../../etc/passwd.jpg", photos[0].read_bytes(), "image/jpeg")),
        ("file", ("CON.jpg", photos[0].read_bytes(), "image/jpeg")),
        ("file", ("invoice\u202egpj.exe", b"MZ\x90\x00", "application/octet-stream")),
        ("file", ("cute-cat.png", b"<html><script>alert(1)</script></html>", "image/png")),
        ("file", ("..", b"x", "text/plain")),
    ]
    show("POST /uploads without a key", session.post(f"{base}/uploads", files=honest[:1]))
    show("POST /uploads with a wrong key", session.post(f"{base}/uploads", files=honest[:1],
                                                         headers={"X-API-Key": "alk_wrong"}))
    body = show("POST /uploads (the photos, from the app)", session.post(f"{base}/uploads", files=honest,
                                                                        headers={**key, **origin}))
    for r in body["results"]:
        print(f"    {r['client_name']!r:<30} stored as {r['stored']!r} ({r['size']} bytes)")
    body = show("POST /uploads (hostile names)", session.post(f"{base}/uploads", files=hostile, headers=key))
    for r in body["results"]:
        outcome = f"stored as {r['stored']!r}" if "stored" in r else f"refused: {r['error']}"
        print(f"    {r['client_name']!r:<30} {outcome}")
    show("POST /uploads from https://evil.example", session.post(f"{base}/uploads", files=honest[:1],
                                                                 headers={**key, "Origin": "https://evil.example"}))
    names = show("GET /uploads", session.get(f"{base}/uploads"))["files"]
    response = session.get(f"{base}/uploads/{names[0]}")
    print(f"{'GET /uploads/' + names[0]:<44} -> {response.status_code} {len(response.content)} bytes, "
          f"Content-Disposition: {response.headers['Content-Disposition']}")
    show("GET /uploads/..%2F..%2Fetc%2Fpasswd", session.get(f"{base}/uploads/..%2F..%2Fetc%2Fpasswd"))

    deadline = time.monotonic() + 120
    while session.get(f"{base}/readyz").status_code != 200:
        if time.monotonic() > deadline:
            print("model did not become ready")
            return 1
        time.sleep(0.2)
    show("GET /readyz", session.get(f"{base}/readyz"))
    for p in photos:
        started = time.monotonic()
        response = session.post(f"{base}/uploads/{p.name}/classify", headers=key)
        show(f"POST /uploads/{p.name}/classify ({(time.monotonic() - started) * 1000:.0f} ms)", response)
    show(f"DELETE /uploads/{names[0]}", session.delete(f"{base}/uploads/{names[0]}", headers=key))
    show("GET /uploads", session.get(f"{base}/uploads"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], [pathlib.Path(p) for p in sys.argv[3:]]))
