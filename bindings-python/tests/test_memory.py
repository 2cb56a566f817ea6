"""A 1 GiB upload streams through in fixed-size chunks: peak RSS stays flat."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import io, resource, sys, airlock

    class Zeros(io.RawIOBase):
        def __init__(self, total):
            self.left = total
        def readable(self):
            return True
        def read(self, n=-1):
            n = min(n, self.left)
            self.left -= n
            return bytes(n)

    store = airlock.UploadStore(sys.argv[1], max_size=2 << 30, durability="none")
    store.save("warm-up.bin", Zeros(1 << 20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stored = store.save("one-gib.bin", Zeros(1 << 30))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert stored.size == 1 << 30
    print(before, after)
    """
)


def test_a_1_gib_upload_keeps_memory_flat(tmp_path: pathlib.Path) -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    before_kib, after_kib = map(int, result.stdout.split())
    grown_mib = (after_kib - before_kib) / 1024
    print(f"peak RSS {before_kib / 1024:.1f} MiB -> {after_kib / 1024:.1f} MiB for a 1 GiB upload")
    # 256 KiB chunks: the peak may grow by a few chunks and allocator slack, never by the body.
    assert grown_mib < 32, grown_mib
    assert (tmp_path / "one-gib.bin").stat().st_size == 1 << 30
