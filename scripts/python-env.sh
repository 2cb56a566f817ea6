#!/usr/bin/env bash
# Creates (or updates) the project's Python environment in .venv at the repository root, with
# the pinned packages of bindings-python/requirements-dev.txt (and, with --bench, the baselines
# of the Python benchmarks). Idempotent; prints the venv's python path last.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bindings-python/requirements-dev.txt
if [ "${1:-}" = "--bench" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r bindings-python/requirements-bench.txt
fi
echo "$PWD/.venv/bin/python"
