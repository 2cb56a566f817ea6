"""The model handle through Python: the digits model (committed) and open-nsfw on the real
photos (pinned assets)."""

from __future__ import annotations

import array
import csv
import hashlib
import os
import pathlib
import shutil
import threading
from typing import List, Tuple

import pytest

import airlock
from conftest import TESTDATA, load_json, progress_during, require_asset

DIGITS = TESTDATA / "models" / "digits.onnx"


def digits_rows() -> List[Tuple[List[float], int, List[float]]]:
    rows = []
    with open(TESTDATA / "models" / "digits_test.csv", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for r in reader:
            rows.append(([float(x) for x in r[:64]], int(r[64]), [float(x) for x in r[66:76]]))
    return rows


def digits_model(**options: object) -> airlock.Model:
    return airlock.Model(DIGITS, input_shape=[1, 64], labels=[str(d) for d in range(10)], **options)  # type: ignore[arg-type]


def test_lazy_load_status_and_accuracy() -> None:
    model = digits_model()
    status = model.status()
    assert status.state == "not_loaded" and not status.ready and not status
    assert repr(status) == "<ModelStatus not_loaded>"
    rows = digits_rows()
    correct = 0
    for pixels, label, reference in rows:
        c = model.classify(pixels)
        correct += int(c.top_label) == label
        assert max(abs(a - b) for a, b in zip(c.scores, reference)) < 1e-4
    assert correct / len(rows) >= 0.97
    status = model.status()
    assert status.ready and status.state == "ready" and status.load_time is not None
    assert repr(status).startswith("<ModelStatus ready (loaded in")
    assert model.load_attempts == 1


def test_inputs_may_be_buffers() -> None:
    model = digits_model()
    pixels, _, _ = digits_rows()[0]
    from_list = model.classify(pixels)
    from_array = model.classify(array.array("f", pixels))
    assert from_list.scores == from_array.scores
    outputs = model.run(array.array("f", pixels))
    assert outputs[0].shape == [1, 10]
    assert outputs[0].data == from_list.scores
    assert dict(from_list.as_dict()).keys() == {str(d) for d in range(10)}


def test_bad_inputs_are_value_errors() -> None:
    model = digits_model()
    with pytest.raises(airlock.InvalidInputError) as info:
        model.classify([0.0] * 63)
    assert isinstance(info.value, ValueError) and info.value.code == "invalid_input"
    with pytest.raises(airlock.InvalidInputError):
        model.classify([float("nan")] * 64)
    with pytest.raises(TypeError):
        model.classify("sixty-four floats")  # type: ignore[arg-type]


def test_threads_racing_on_first_use_cause_one_load() -> None:
    model = digits_model()
    pixels, _, _ = digits_rows()[0]
    barrier = threading.Barrier(32)
    results: List[List[float]] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        scores = model.classify(pixels).scores
        with lock:
            results.append(scores)

    threads = [threading.Thread(target=run) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert model.load_attempts == 1
    assert len(results) == 32 and all(r == results[0] for r in results)


def test_fail_fast_and_timeouts_on_a_slow_load() -> None:
    model = airlock.Model(TESTDATA / "models" / "slow_chain.onnx", input_shape=[1, 64])
    with pytest.raises(airlock.ModelNotReadyError) as info:
        model.classify([1.0] * 64, timeout=0)
    assert info.value.code == "model_not_ready" and info.value.state == "loading"
    assert model.status().state == "loading"
    with pytest.raises(airlock.ModelTimeoutError) as timeout:
        model.wait_ready(timeout=0.001)
    assert isinstance(timeout.value, TimeoutError)
    assert model.wait_ready(timeout=300).ready
    assert model.load_attempts == 1


def test_status_does_not_wait_for_the_gil_or_the_load() -> None:
    model = airlock.Model(TESTDATA / "models" / "slow_chain.onnx", input_shape=[1, 64])
    states: List[str] = []

    def poll() -> None:
        while True:
            state = model.status().state
            states.append(state)
            if state == "ready":
                return

    poller = threading.Thread(target=poll)
    poller.start()
    # The load runs on this thread with the GIL released: the poller keeps answering.
    model.wait_ready()
    poller.join()
    assert "loading" in states and states[-1] == "ready"


def test_broken_models_fail_cleanly_and_retry_after_a_fix(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(DIGITS.read_bytes()[:5000])
    model = airlock.Model(path, input_shape=[1, 64], backoff=(0.0, 0.0))
    with pytest.raises(airlock.ModelFailedError) as info:
        model.wait_ready()
    assert info.value.code == "model_failed" and info.value.cause_code == "model_invalid"
    status = model.status()
    assert status.state == "failed" and status.error_code == "model_invalid" and status.attempts == 1
    assert "failed after 1 attempt" in repr(status)
    for bad in (b"", os.urandom(4096)):
        path.write_bytes(bad)
        with pytest.raises(airlock.ModelFailedError):
            model.wait_ready()
    shutil.copy(DIGITS, path)
    assert model.wait_ready().ready
    assert model.classify([0.0] * 64).scores


def test_missing_model_and_pinned_digest(tmp_path: pathlib.Path) -> None:
    missing = airlock.Model(tmp_path / "missing.onnx", input_shape=[1, 64])
    with pytest.raises(airlock.ModelFailedError) as info:
        missing.wait_ready()
    assert info.value.cause_code == "io"
    good = hashlib.sha256(DIGITS.read_bytes()).hexdigest()
    assert digits_model(sha256=good).wait_ready().ready
    wrong = digits_model(sha256="0" * 64)
    with pytest.raises(airlock.ModelFailedError) as info:
        wrong.wait_ready()
    assert info.value.cause_code == "model_digest_mismatch"
    with pytest.raises(airlock.InvalidConfigError):
        digits_model(sha256="not hex")
    with pytest.raises(ValueError):
        airlock.Model(DIGITS)


def test_known_panicking_models_become_errors() -> None:
    for name in sorted(p.name for p in (TESTDATA / "models").glob("odd_*.onnx")):
        model = airlock.Model(TESTDATA / "models" / name, input_shape=[1, 64], backoff=(0.0, 0.0))
        try:
            model.run([0.0] * 64)
        except airlock.AirlockError as e:
            assert e.code in {"model_failed", "model_invalid", "invalid_input"}, (name, e)
        assert model.status().state in {"ready", "failed"}


def test_inference_releases_the_gil() -> None:
    model = airlock.Model(TESTDATA / "models" / "slow_chain.onnx", input_shape=[1, 64])
    model.wait_ready()
    assert progress_during(lambda: [model.run([1.0] * 64) for _ in range(20)]) > 20


# --- open-nsfw on the real photos ---------------------------------------------------------


def open_nsfw() -> airlock.Model:
    path = require_asset("open-nsfw.onnx")
    digest = require_asset("open-nsfw.onnx.sha256").read_text().split()[0]
    pre = airlock.ImagePreprocess(224, 224, channels="bgr", mean=(104.0, 117.0, 123.0), layout="nhwc")
    return airlock.Model(path, image=pre, sha256=digest, labels=["safe", "nsfw"])


def test_real_photos_are_classified_from_the_store(store: airlock.UploadStore) -> None:
    model = open_nsfw()
    for photo in ("china.jpg", "flower.jpg"):
        data = require_asset(f"photos/{photo}").read_bytes()
        stored = store.save(photo, data)
        c = model.classify_stored(store, stored.name)
        assert c.labels == ["safe", "nsfw"]
        assert c.top_label == "safe" and c.top_score > 0.9
        assert abs(sum(c.scores) - 1.0) < 1e-4
        assert model.classify_image(data).scores == c.scores


def test_reference_output_matches_onnxruntime() -> None:
    reference = load_json("expected/open_nsfw_reference.json")
    model = airlock.Model(require_asset("open-nsfw.onnx"), input_shape=reference["shape"])
    n = 1
    for d in reference["shape"]:
        n *= d
    tensor = array.array("f", (float(((i * 7919) % 255) - 120) for i in range(n)))
    out = model.run(tensor)[0].data
    assert max(abs(a - b) for a, b in zip(out, reference["output"])) < 1e-4


def test_image_errors_are_typed(store: airlock.UploadStore) -> None:
    model = open_nsfw()
    with pytest.raises(airlock.ImageDecodeError):
        model.classify_image(b"\x89PNG\r\n\x1a\nnot really")
    # A PNG header claiming 100000 x 100000 pixels: refused before any pixel memory.
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
    with pytest.raises(airlock.ImageTooLargeError):
        model.classify_image(bomb)
    with pytest.raises(airlock.InvalidNameError):
        model.classify_stored(store, "../etc/passwd")
    with pytest.raises(airlock.NotFoundError):
        model.classify_stored(store, "missing.jpg")
    # An iCCP profile that inflates 1000:1 to 256 MiB: bounded by the decoder's metadata
    # budget (the profile is dropped, the pixels decode); peak memory stays far below it.
    import resource

    pixel = chunk(b"IDAT", zlib.compress(b"\0\xc8\x1e\x5a"))
    iccp = chunk(b"iCCP", b"bomb\0\0" + zlib.compress(b"\0" * (256 << 20), 9))
    metadata_bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + iccp + pixel + chunk(b"IEND", b""))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert airlock.ImagePreprocess(1, 1).tensor(metadata_bomb) == [200.0, 30.0, 90.0]
    grew_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grew_kib < 64 << 10, f"peak RSS grew by {grew_kib >> 10} MiB"


def test_huge_sizes_and_durations_are_errors_not_panics(tmp_path: pathlib.Path) -> None:
    # Sizes up to 2**32 - 1 describe a shape without overflowing; validation refuses them.
    pre = airlock.ImagePreprocess(2**32 - 1, 2**32 - 1, layout="flat", channels="rgb")
    assert pre.input_shape[1] >= 2**63
    with pytest.raises(airlock.InvalidConfigError):
        pre.tensor(b"")
    # Backoffs and timeouts too large for the clock: capped, or "no limit" — never a panic.
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    model = airlock.Model(tmp_path / "broken.onnx", input_shape=[1, 64], backoff=(1e19, 1e19))
    for _ in range(2):
        with pytest.raises(airlock.ModelFailedError):
            model.wait_ready(timeout=1e19)
    status = model.status()
    assert status.state == "failed" and status.attempts == 1, repr(status)


def test_a_worker_forked_while_the_master_loads_loads_on_its_own() -> None:
    # gunicorn --preload forks workers from the master; if the master had started a load, its
    # loader thread does not exist in the worker. The worker's handle must load by itself.
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        f"""
        import os, airlock
        model = airlock.Model({str(TESTDATA / "models" / "slow_chain.onnx")!r}, input_shape=[1, 64])
        model.start_loading()
        assert model.status().state == "loading"
        pid = os.fork()
        if pid == 0:
            ok = model.status().state in ("not_loaded", "ready")
            ok = ok and model.wait_ready(timeout=300).ready
            ok = ok and abs(model.run([3.0] * 64)[0].data[0] - 0.5) < 1e-4
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert model.wait_ready(timeout=300).ready and model.load_attempts == 1
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
