"""Python benchmarks: Airlock side by side with what a Flask team uses today, measured
alternately in one run on the same machine and input. Prints `RATIO` lines (Airlock's time
over the baseline's: below 1 means Airlock is faster; for requests per second, Airlock's rate
over the baseline's: above 1 means Airlock is faster).

    scripts/bench-python.sh            # sets up .venv with the baselines and runs this
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Tuple

import airlock

ROOT = pathlib.Path(__file__).resolve().parents[2]
ASSETS = pathlib.Path(os.environ.get("AIRLOCK_ASSETS", ROOT / "assets"))
TESTS = ROOT / "bindings-python" / "tests"


def alternate(a: Callable[[], object], b: Callable[[], object], rounds: int) -> Tuple[float, float]:
    """Median seconds per call of `a` and `b`, measured in alternating rounds so machine noise
    hits both alike."""
    ta: List[float] = []
    tb: List[float] = []
    for _ in range(rounds):
        for f, out in ((a, ta), (b, tb)):
            start = time.perf_counter()
            f()
            out.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def ratio(name: str, airlock_s: float, baseline_s: float, unit: str, scale: float) -> None:
    print(f"RATIO {name}: airlock {airlock_s * scale:.2f} {unit} / baseline {baseline_s * scale:.2f} {unit}"
          f" = {airlock_s / baseline_s:.2f}x", flush=True)


def bench_names() -> None:
    from werkzeug.utils import secure_filename

    vectors = json.loads((ROOT / "testdata/vectors/filenames.json").read_text())
    names = [v["name"] for v in vectors]

    def ours() -> None:
        for n in names:
            try:
                airlock.sanitize_filename(n)
            except airlock.InvalidNameError:
                pass

    def theirs() -> None:
        for n in names:
            secure_filename(n)

    a, b = alternate(lambda: [ours() for _ in range(20)], lambda: [theirs() for _ in range(20)], 30)
    per = 20 * len(names)
    ratio("names: sanitize_filename vs werkzeug.secure_filename (per name)", a / per, b / per, "us", 1e6)


def bench_save() -> None:
    from werkzeug.datastructures import FileStorage

    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        plain = root / "plain"
        plain.mkdir()
        for size, label, rounds in ((1 << 20, "1 MiB", 40), (100 << 20, "100 MiB", 6)):
            data = os.urandom(size)
            for durability in ("none", "fsync"):
                store = airlock.UploadStore(root / f"store-{durability}", create_dir=True, max_size=1 << 30,
                                            durability=durability)
                counter = iter(range(10**9))

                def ours() -> None:
                    fs = FileStorage(io.BytesIO(data), filename="upload.bin")
                    stored = store.save(fs.filename or "", fs.stream)
                    store.remove(stored.name)

                def theirs() -> None:
                    fs = FileStorage(io.BytesIO(data), filename="upload.bin")
                    path = plain / f"upload-{next(counter)}.bin"
                    fs.save(path)
                    if durability == "fsync":
                        fd = os.open(path, os.O_RDONLY)
                        os.fsync(fd)
                        os.close(fd)
                    path.unlink()

                a, b = alternate(ours, theirs, rounds)
                what = "no fsync on either side" if durability == "none" else "both fsync"
                ratio(f"save {label}: store.save vs FileStorage.save ({what}; airlock also hashes SHA-256)",
                      a, b, "ms", 1e3)


def bench_classify() -> None:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    model_path = ASSETS / "open-nsfw.onnx"
    photos = sorted((ASSETS / "photos").glob("*.jpg"))
    images = [p.read_bytes() for p in photos]
    pre = airlock.ImagePreprocess(224, 224, channels="bgr", mean=(104.0, 117.0, 123.0), layout="nhwc")
    model = airlock.Model(model_path, image=pre, labels=["safe", "nsfw"])
    model.wait_ready()
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    mean = np.array([104.0, 117.0, 123.0], dtype=np.float32)

    def theirs_one(data: bytes) -> Any:
        image = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.BILINEAR)
        x = (np.asarray(image, dtype=np.float32)[:, :, ::-1] - mean)[None, ...]
        return session.run(None, {name: x})[0][0]

    for data, photo in zip(images, photos):
        ours = model.classify_image(data).scores
        theirs = theirs_one(data).tolist()
        print(f"  {photo.name}: airlock {[round(s, 4) for s in ours]} onnxruntime {[round(s, 4) for s in theirs]}")
    a, b = alternate(lambda: [model.classify_image(d) for d in images],
                     lambda: [theirs_one(d) for d in images], 15)
    ratio(f"classify: Airlock classify_image vs PIL + numpy + onnxruntime ({os.cpu_count()} threads; per image, open-nsfw)",
          a / len(images), b / len(images), "ms", 1e3)
    # tract runs one inference on one thread; onnxruntime spreads one over every core. With
    # one thread each, the comparison is per core (what a busy multi-worker server sees).
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    a, b = alternate(lambda: [model.classify_image(d) for d in images],
                     lambda: [theirs_one(d) for d in images], 15)
    ratio("classify: Airlock classify_image vs PIL + numpy + onnxruntime (1 thread; per image, open-nsfw)",
          a / len(images), b / len(images), "ms", 1e3)
    decode_a, decode_b = alternate(lambda: [pre.tensor(d) for d in images],
                                   lambda: [np.asarray(Image.open(io.BytesIO(d)).convert("RGB").resize((224, 224), Image.BILINEAR), dtype=np.float32) for d in images], 15)
    ratio("preprocess only: ImagePreprocess.tensor vs PIL decode + resize + numpy (per image)",
          decode_a / len(images), decode_b / len(images), "ms", 1e3)


def bench_servers() -> None:
    sys.path.insert(0, str(TESTS))
    from server_harness import Server, start  # type: ignore[import-not-found]

    workers = os.environ.get("AIRLOCK_BENCH_WORKERS", "2")
    photo = sorted((ASSETS / "photos").glob("*.jpg"))[0].read_bytes()
    duration = float(os.environ.get("AIRLOCK_BENCH_SECONDS", "4"))
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        ours = start(root / "airlock", {"AIRLOCK_WORKERS": workers})
        theirs = start_baseline(ours, root / "baseline", workers)
        try:
            for server in (ours, theirs):
                wait_ready(server, photo)
            routes: List[Tuple[str, Callable[[Any, Server], Any]]] = [
                ("GET /uploads", lambda s, srv: s.get(f"{srv.base}/uploads")),
                ("GET /uploads/<name>", lambda s, srv: s.get(f"{srv.base}/uploads/bench.jpg")),
                ("POST /uploads (196 KB photo)", lambda s, srv: s.post(
                    f"{srv.base}/uploads", headers={"X-API-Key": srv.key},
                    files=[("file", ("photo.jpg", photo, "image/jpeg"))])),
                ("POST /uploads/<name>/classify", lambda s, srv: s.post(
                    f"{srv.base}/uploads/bench.jpg/classify", headers={"X-API-Key": srv.key})),
            ]
            for label, call in routes:
                rates = {"airlock": [], "baseline": []}  # type: Dict[str, List[float]]
                for _ in range(3):
                    for who, srv in (("airlock", ours), ("baseline", theirs)):
                        rates[who].append(requests_per_second(srv, call, duration / 3))
                a, b = statistics.median(rates["airlock"]), statistics.median(rates["baseline"])
                print(f"RATIO server {label}, gunicorn {workers} workers, TLS: airlock {a:.0f} req/s / "
                      f"baseline {b:.0f} req/s = {a / b:.2f}x", flush=True)
        finally:
            ours.stop()
            theirs.stop()


def start_baseline(ours: Any, work: pathlib.Path, workers: str) -> Any:
    from server_harness import Server, free_port, server_env  # type: ignore[import-not-found]

    work.mkdir(parents=True)
    port = free_port()
    env = server_env(work, port, ours.key)
    env["AIRLOCK_TLS_CERT"] = str(ours.work / "tls" / "cert.pem")
    env["AIRLOCK_TLS_KEY"] = str(ours.work / "tls" / "key.pem")
    log = work / "gunicorn.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", str(pathlib.Path(__file__).parent), "--bind", f"127.0.0.1:{port}",
         "--workers", workers, "--preload", "--certfile", env["AIRLOCK_TLS_CERT"], "--keyfile", env["AIRLOCK_TLS_KEY"],
         "--timeout", "60", "baseline_wsgi:app"],
        env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    (work / "tls").symlink_to(ours.work / "tls")
    server = Server(process, port, work, ours.key, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            if server.session().get(f"{server.base}/healthz", timeout=5).status_code == 200:
                return server
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(log.read_text())
            time.sleep(0.2)


def wait_ready(server: Any, photo: bytes) -> None:
    s = server.session()
    r = s.post(f"{server.base}/uploads", headers={"X-API-Key": server.key},
               files=[("file", ("bench.jpg", photo, "image/jpeg"))])
    assert r.status_code == 201, r.text
    deadline = time.monotonic() + 120
    streak = 0
    while streak < 8:  # every worker has answered a classify
        r = s.post(f"{server.base}/uploads/bench.jpg/classify", headers={"X-API-Key": server.key})
        streak = streak + 1 if r.status_code == 200 else 0
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready: {r.status_code} {r.text}")


def requests_per_second(server: Any, call: Callable[[Any, Any], Any], seconds: float, clients: int = 8) -> float:
    stop = time.monotonic() + seconds

    def client() -> int:
        s = server.session()
        n = 0
        while time.monotonic() < stop:
            r = call(s, server)
            if r.status_code >= 300:
                raise RuntimeError(f"{r.status_code} {r.text[:200]}")
            n += 1
        return n

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        total = sum(pool.map(lambda _: client(), range(clients)))
    return total / (time.monotonic() - started)


if __name__ == "__main__":
    which = sys.argv[1:] or ["names", "save", "classify", "servers"]
    print(f"airlock {airlock.__version__}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for section in which:
        globals()[f"bench_{section}"]()
