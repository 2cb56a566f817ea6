"""The stub matches the built module (mypy.stubtest), and the examples and tests type-check
under `mypy --strict` against it."""

from __future__ import annotations

import subprocess
import sys
import tempfile

from conftest import ROOT

PACKAGE = ROOT / "bindings-python"


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    # From a neutral folder, so the installed package is checked, not the source tree.
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_stub_matches_the_native_module() -> None:
    result = mypy("mypy.stubtest", "airlock")
    assert result.returncode == 0, result.stdout + result.stderr


def test_examples_and_tests_pass_mypy_strict() -> None:
    result = mypy("mypy", "--strict", "--no-incremental", str(PACKAGE / "examples"), str(PACKAGE / "tests"))
    assert result.returncode == 0, result.stdout + result.stderr
