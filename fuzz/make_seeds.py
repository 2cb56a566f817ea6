#!/usr/bin/env python3
"""Write the fuzz seed corpora from the shared filename vectors.

One file per entry of testdata/vectors/filenames.json, named after its id, holding the raw
bytes on the wire (`raw_hex`) where present, else the UTF-8 of `name`; the same set for every
target in fuzz/seeds/<target>/. Re-run after the vectors change:

    python3 fuzz/make_seeds.py

Seeds written by hand (crash reproducers, `found-*`) are left alone.
"""
import json
import pathlib

FUZZ = pathlib.Path(__file__).resolve().parent
VECTORS = FUZZ.parent / "testdata" / "vectors" / "filenames.json"
TARGETS = ["sanitize_bytes", "parse"]


def main() -> None:
    entries = json.loads(VECTORS.read_text(encoding="utf-8"))
    for target in TARGETS:
        out = FUZZ / "seeds" / target
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("vec-*"):
            old.unlink()
        for e in entries:
            raw = e.get("raw_hex")
            data = bytes.fromhex(raw) if raw else e["name"].encode("utf-8")
            (out / f"vec-{e['id']}").write_bytes(data)
        print(f"{out.relative_to(FUZZ.parent)}: {len(entries)} seeds")


if __name__ == "__main__":
    main()
