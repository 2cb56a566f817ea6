"""Writes a throwaway CA and a certificate for localhost/127.0.0.1 for the demo and the tests:
``python make_cert.py DIR`` -> DIR/ca.pem, DIR/cert.pem, DIR/key.pem. Real deployments pass
their own certificate through AIRLOCK_TLS_CERT / AIRLOCK_TLS_KEY."""

from __future__ import annotations

import os
import pathlib
import sys

import trustme


def make_cert(directory: pathlib.Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    # The leaf and any intermediates, in order: the server sends the whole chain.
    (directory / "cert.pem").write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))
    key = directory / "key.pem"
    cert.private_key_pem.write_to_path(str(key))
    os.chmod(key, 0o600)


if __name__ == "__main__":
    make_cert(pathlib.Path(sys.argv[1]))
