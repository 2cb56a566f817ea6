#!/usr/bin/env python3
"""Write the fuzz seed corpora.

* sanitize_bytes, parse: one file per entry of testdata/vectors/filenames.json, named after its
  id, holding the raw bytes on the wire (`raw_hex`) where present, else the UTF-8 of `name`.
* image_decode: small PNG and JPEG images of every colour type the decoders handle, each
  behind the target's first byte (which picks the preprocessing); needs Pillow (in .venv after
  `scripts/python-env.sh --bench`). Skipped with a note when Pillow is missing.
* key_ring: `value \0 presented` pairs covering ids, rotation, refusals and matches.

Re-run after the vectors change:

    .venv/bin/python fuzz/make_seeds.py

Seeds written by hand (crash reproducers, `found-*`) are left alone.
"""
import io
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
    write_image_seeds()
    write_key_seeds()


def replace_generated(target: str, seeds: dict[str, bytes]) -> None:
    out = FUZZ / "seeds" / target
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("gen-*"):
        old.unlink()
    for name, data in seeds.items():
        (out / f"gen-{name}").write_bytes(data)
    print(f"{out.relative_to(FUZZ.parent)}: {len(seeds)} seeds")


def write_image_seeds() -> None:
    try:
        from PIL import Image
    except ImportError:
        print("image_decode: Pillow is not installed; seeds left as they are")
        return
    seeds = {}
    for mode in ("RGB", "RGBA", "L", "LA", "P", "I;16", "1"):
        img = Image.new(mode if mode != "I;16" else "I;16", (7, 5))
        for x in range(7):
            for y in range(5):
                value = (x * 37 + y * 91) % 256
                img.putpixel((x, y), {"RGB": (value, 255 - value, x * 30), "RGBA": (value, 0, 255, y * 60),
                                      "LA": (value, 128), "I;16": value * 257, "1": value & 1}.get(mode, value))
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=False)
        seeds[f"png-{mode.replace(';', '')}"] = buf.getvalue()
    for mode, extra in (("RGB", {}), ("L", {}), ("RGB", {"progressive": True}), ("CMYK", {}),
                        ("RGB", {"subsampling": 0, "quality": 95})):
        img = Image.new(mode, (9, 6), {"RGB": (200, 40, 90), "L": 120, "CMYK": (10, 200, 30, 5)}[mode])
        buf = io.BytesIO()
        img.save(buf, format="JPEG", **extra)
        suffix = "-".join(f"{k}{v}" for k, v in extra.items())
        seeds[f"jpeg-{mode}{'-' + suffix if suffix else ''}"] = buf.getvalue()
    # Each image once per preprocessing (the first byte picks it).
    replace_generated("image_decode", {f"{name}-{pick}": bytes([pick]) + data
                                       for name, data in seeds.items() for pick in range(3)})


def write_key_seeds() -> None:
    strong = "alk_4f9Qm2ZxV7cT1bN8kR3sW6yH0jL5pD9gE2aU7iO"
    other = "alk_Zr8Kq1Xw5Vn3Cm7Bt2Ly6Hp9Jd4Gs0Fa1Ue8Io3T"
    pairs = {
        "single-match": (strong, strong),
        "single-miss": (strong, other),
        "ids-rotation": (f"2026-11:{other},2026-12:{strong}", strong),
        "bare-and-id": (f"{other},ops:{strong}", other),
        "duplicate-id": (f"a:{strong},a:{other}", strong),
        "empty-entry": (f"a:{strong},,b:{other}", ""),
        "whitespace": (f"a:{strong} b", strong),
        "placeholder": ("dev-key", "dev-key"),
        "colon-in-key": (f"x:y:{strong}", f"y:{strong}"),
        "not-utf8": ("", ""),
    }
    seeds = {name: value.encode() + b"\0" + presented.encode() for name, (value, presented) in pairs.items()}
    seeds["not-utf8"] = b"ops:\xff\xfe" + strong.encode() + b"\0\xff"
    replace_generated("key_ring", seeds)


if __name__ == "__main__":
    main()
