"""The upload store through Python: every accepted body type, streaming, files that work with
shutil and Flask, and the failure paths that must leave nothing behind."""

from __future__ import annotations

import hashlib
import io
import os
import pathlib
import shutil
import socket
import threading
import time

import pytest
from werkzeug.datastructures import FileStorage

import airlock
from conftest import open_fds, progress_during

PNG = bytes.fromhex("89504e470d0a1a0a") + b"\0" * 64


def entries(d: pathlib.Path) -> list[str]:
    return sorted(os.listdir(d))


def test_save_bytes_and_read_back(store: airlock.UploadStore, store_dir: pathlib.Path) -> None:
    stored = store.save("../../etc/notes.txt", b"hello")
    assert stored.name == "etc_notes.txt"
    assert stored.size == 5
    assert stored.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert "etc_notes.txt" in repr(stored)
    assert store.list() == ["etc_notes.txt"]
    assert entries(store_dir) == ["etc_notes.txt"]
    with store.open("etc_notes.txt") as f:
        assert f.read() == b"hello"


@pytest.mark.parametrize(
    "make",
    [
        lambda data: data,
        lambda data: bytearray(data),
        lambda data: memoryview(data),
        lambda data: memoryview(bytearray(data)),
        lambda data: io.BytesIO(data),
        lambda data: io.BufferedReader(io.BytesIO(data), buffer_size=1000),
        lambda data: FileStorage(io.BytesIO(data), filename="x").stream,
    ],
    ids=["bytes", "bytearray", "memoryview", "memoryview-bytearray", "BytesIO", "BufferedReader",
         "FileStorage.stream"],
)
def test_every_body_type(store: airlock.UploadStore, make: object) -> None:
    data = os.urandom(700_000)  # several 256 KiB chunks and a partial one
    stored = store.save("body.bin", make(data))  # type: ignore[operator]
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    with store.open(stored.name) as f:
        assert f.read() == data


def test_array_buffers_and_real_files(store: airlock.UploadStore, tmp_path: pathlib.Path) -> None:
    import array

    values = array.array("i", range(1000))
    assert store.save("ints.bin", values).size == 4000
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 300_000)
    with open(source, "rb") as f:
        assert store.save("copy.bin", f).size == 300_000


def test_a_socket_file_streams(store: airlock.UploadStore) -> None:
    a, b = socket.socketpair()
    payload = os.urandom(1_000_000)

    def send() -> None:
        with b:
            b.sendall(payload)

    sender = threading.Thread(target=send)
    sender.start()
    with a, a.makefile("rb") as f:
        stored = store.save("from-socket.bin", f)
    sender.join()
    assert stored.sha256 == hashlib.sha256(payload).hexdigest()


def test_open_works_with_shutil_and_seek(store: airlock.UploadStore) -> None:
    store.save("a.txt", b"0123456789")
    with store.open("a.txt") as f:
        assert isinstance(f, io.BufferedReader)
        f.seek(5)
        out = io.BytesIO()
        shutil.copyfileobj(f, out)
    assert out.getvalue() == b"56789"


def test_flask_send_file_serves_a_stored_file(store: airlock.UploadStore) -> None:
    import flask

    app = flask.Flask(__name__)
    store.save("photo.png", PNG)

    @app.get("/f")
    def serve() -> flask.Response:
        return flask.send_file(store.open("photo.png"), mimetype="image/png", download_name="photo.png")

    response = app.test_client().get("/f")
    assert response.status_code == 200
    assert response.data == PNG


def test_paths_may_be_pathlike_or_str(store_dir: pathlib.Path) -> None:
    assert airlock.UploadStore(str(store_dir)).list() == []
    assert "uploads" in repr(airlock.UploadStore(store_dir))


def test_options_are_keyword_only_and_checked(store_dir: pathlib.Path) -> None:
    with pytest.raises(TypeError):
        airlock.UploadStore(store_dir, 10)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        airlock.UploadStore(store_dir, conflict="overwrite")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        airlock.UploadStore(store_dir, durability="maybe")  # type: ignore[arg-type]
    s = airlock.UploadStore(store_dir, max_size=10, allowed_extensions=["PNG", "jpg"])
    assert s.max_size == 10
    assert s.allowed_extensions == ["png", "jpg"]


def test_conflicts_rename_or_refuse(store_dir: pathlib.Path) -> None:
    renaming = airlock.UploadStore(store_dir, durability="none")
    assert renaming.save("a.txt", b"1").name == "a.txt"
    assert renaming.save("a.txt", b"2").name == "a (1).txt"
    refusing = airlock.UploadStore(store_dir, conflict="refuse", durability="none")
    with pytest.raises(airlock.AlreadyExistsError) as info:
        refusing.save("a.txt", b"3")
    assert isinstance(info.value, FileExistsError)
    assert info.value.filename == "a.txt"


def test_allowlist_and_content_check(store_dir: pathlib.Path) -> None:
    s = airlock.UploadStore(store_dir, allowed_extensions=["png"], durability="none")
    with pytest.raises(airlock.ExtensionNotAllowedError):
        s.save("invoice\u202egnp.exe", PNG)
    with pytest.raises(airlock.ContentMismatchError) as info:
        s.save("cat.png", b"<html><script>alert(1)</script></html>")
    assert isinstance(info.value, ValueError)
    assert s.save("CAT.PNG", PNG).name == "CAT.PNG"
    assert entries(store_dir) == ["CAT.PNG"]


def test_size_limit_leaves_nothing(store_dir: pathlib.Path) -> None:
    s = airlock.UploadStore(store_dir, max_size=1000, durability="none")
    with pytest.raises(airlock.TooLargeError) as info:
        s.save("big.bin", io.BytesIO(b"x" * 5000))
    assert info.value.limit == 1000
    assert entries(store_dir) == []
    assert s.save("exact.bin", b"x" * 1000).size == 1000


class FailingReader(io.RawIOBase):
    """A client that goes away after `after` bytes."""

    def __init__(self, after: int) -> None:
        self.left = after

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        chunk = b"y" * min(n, self.left)
        self.left -= len(chunk)
        return chunk


def test_a_reader_failing_mid_stream_leaves_nothing(store: airlock.UploadStore, store_dir: pathlib.Path) -> None:
    with pytest.raises(airlock.UploadAbortedError) as info:
        store.save("partial.bin", FailingReader(600_000))
    assert isinstance(info.value, OSError)
    assert isinstance(info.value.__cause__, ConnectionResetError)
    assert entries(store_dir) == []


def test_text_mode_files_are_type_errors_and_leave_nothing(
    store: airlock.UploadStore, store_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    text = tmp_path / "t.txt"
    text.write_text("hello")
    with open(text) as f, pytest.raises(TypeError, match="binary mode"):
        store.save("t.txt", f)  # type: ignore[arg-type]
    for bad in ("a string", 42, None):
        with pytest.raises(TypeError):
            store.save("t.txt", bad)  # type: ignore[arg-type]
    assert entries(store_dir) == []


def test_a_planted_symlink_is_refused(store: airlock.UploadStore, store_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, store_dir / "link.txt")
    os.symlink(tmp_path, store_dir / "dirlink")
    with pytest.raises(airlock.EscapeAttemptError) as info:
        store.open("link.txt")
    assert isinstance(info.value, PermissionError)
    with pytest.raises(PermissionError):
        store.remove("link.txt")
    assert store.list() == []
    # Saving under the link's name never writes through it.
    assert store.save("link.txt", b"new").name == "link (1).txt"
    assert secret.read_text() == "top secret"
    assert os.path.islink(store_dir / "link.txt")


def test_a_fifo_is_refused_without_blocking(store: airlock.UploadStore, store_dir: pathlib.Path) -> None:
    os.mkfifo(store_dir / "pipe.txt")
    started = time.monotonic()
    with pytest.raises(airlock.NotRegularFileError) as info:
        store.open("pipe.txt")
    assert isinstance(info.value, OSError)
    assert time.monotonic() - started < 5
    assert store.list() == []


def test_lookups_use_the_strict_parse(store: airlock.UploadStore) -> None:
    store.save("a.txt", b"1")
    for bad in ("../a.txt", "/etc/passwd", "a.txt/", ".", "a.txt\0"):
        with pytest.raises(airlock.InvalidNameError):
            store.open(bad)
        with pytest.raises(airlock.InvalidNameError):
            store.remove(bad)
    with pytest.raises(airlock.NotFoundError) as info:
        store.open("b.txt")
    assert isinstance(info.value, FileNotFoundError)
    store.remove("a.txt")
    assert store.list() == []


def test_lone_surrogate_names_are_clean_errors(store: airlock.UploadStore, store_dir: pathlib.Path) -> None:
    with pytest.raises(airlock.InvalidNameError) as info:
        store.save("bad\ud800name.txt", b"x")
    assert info.value.rule == "invalid_utf8"
    assert entries(store_dir) == []


def test_concurrent_saves_of_one_name_all_land(store: airlock.UploadStore) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def save(i: int) -> None:
        stored = store.save("same.txt", f"{i}".encode() * 1000)
        with lock:
            results.append(stored.name)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 16
    assert sorted(results) == store.list()


def test_failing_saves_leak_no_descriptor(store: airlock.UploadStore, store_dir: pathlib.Path) -> None:
    small = airlock.UploadStore(store_dir, max_size=100, durability="none", allowed_extensions=["bin"])
    small.save("warm.bin", b"x")
    small.remove("warm.bin")
    before = open_fds()
    for i in range(1000):
        kind = i % 4
        with pytest.raises(airlock.AirlockError):
            if kind == 0:
                small.save("big.bin", b"x" * 200)
            elif kind == 1:
                small.save("aborted.bin", FailingReader(50))
            elif kind == 2:
                small.save("nope.exe", b"x")
            else:
                small.open("missing.bin")
    assert open_fds() == before
    assert entries(store_dir) == []


def test_the_gil_is_released_while_saving(store_dir: pathlib.Path) -> None:
    store = airlock.UploadStore(store_dir, durability="fsync", max_size=1 << 30)
    body = b"z" * (64 * 1024 * 1024)
    # A bytes body is hashed and written without a single Python call: if the GIL were held,
    # the counter could not run at all until the save returned.
    assert progress_during(lambda: store.save("big.bin", body)) > 100


class Interrupted(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        raise KeyboardInterrupt


def test_ctrl_c_in_a_reader_stays_keyboard_interrupt(store: airlock.UploadStore, store_dir: pathlib.Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        store.save("interrupted.bin", Interrupted())
    assert entries(store_dir) == []
