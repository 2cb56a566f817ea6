"""The README's "Use from Python" snippets run as written (each in a fresh interpreter, in a
scratch folder where `testdata/` and `assets/` are the repository's)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from typing import List

import pytest

from conftest import ASSETS, ROOT, TESTDATA, require_asset


def snippets() -> List[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use from Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


# After the Flask snippet: drive its route, so the snippet is checked, not just defined.
FLASK_EPILOGUE = """
client = app.test_client()
ok = client.post("/uploads", data={"file": (io.BytesIO(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(64)), "../x.png")})
assert ok.status_code == 201 and ok.json == {"stored": "x.png"}, ok.json
bad = client.post("/uploads", data={"file": (io.BytesIO(b"<html>"), "x.png")})
assert bad.status_code == 400 and bad.json == {"error": "content_mismatch"}, bad.json
"""


def test_the_section_has_snippets() -> None:
    assert len(snippets()) >= 4


@pytest.mark.parametrize("index", range(len(snippets())))
def test_snippet_runs(index: int, tmp_path: pathlib.Path) -> None:
    code = snippets()[index]
    if "flask.Flask" in code:
        code = "import io\n" + code + FLASK_EPILOGUE
    if "assets/" in code:
        require_asset("open-nsfw.onnx")
    (tmp_path / "testdata").symlink_to(TESTDATA)
    (tmp_path / "assets").symlink_to(ASSETS)
    env = {k: v for k, v in os.environ.items() if k not in ("UPLOAD_API_KEY", "UPLOAD_API_KEY_FILE", "APP_ENV")}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
