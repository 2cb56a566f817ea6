"""Shared fixtures. Tests read the one copy of the test data at the repository root
(testdata/), the same files the Rust tests read."""

from __future__ import annotations

import gc
import json
import os
import pathlib
import threading
import time
from typing import Any, Callable, Iterator

import pytest

import airlock

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "testdata"
ASSETS = pathlib.Path(os.environ.get("AIRLOCK_ASSETS", ROOT / "assets"))

# The installed package must be the one under test, never the source folder: maturin develop
# would put a stale .so there.
assert "site-packages" in airlock.__file__, airlock.__file__


def load_json(relative: str) -> Any:
    return json.loads((TESTDATA / relative).read_text(encoding="utf-8"))


def require_asset(name: str) -> pathlib.Path:
    """The pinned real-world assets (scripts/fetch-assets.sh). Missing assets fail the test
    in CI and skip it elsewhere."""
    path = ASSETS / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: run scripts/fetch-assets.sh")
        pytest.skip(f"{path} is missing: run scripts/fetch-assets.sh")
    return path


@pytest.fixture
def store_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    d = tmp_path / "uploads"
    d.mkdir()
    return d


@pytest.fixture
def store(store_dir: pathlib.Path) -> Iterator[airlock.UploadStore]:
    yield airlock.UploadStore(store_dir, durability="none")


def open_fds() -> int:
    """Open descriptors of this process, after collecting garbage that may still hold some."""
    gc.collect()
    return len(os.listdir("/proc/self/fd"))


def progress_during(work: Callable[[], object]) -> int:
    """How many times another Python thread ran while `work` ran on this one."""
    ticks = 0
    started = threading.Event()
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        started.set()
        while not done.is_set():
            ticks += 1
            time.sleep(0)

    counter = threading.Thread(target=count)
    counter.start()
    started.wait()
    before = ticks
    work()
    progressed = ticks - before
    done.set()
    counter.join()
    return progressed
