#!/usr/bin/env bash
# The Python benchmarks (benches/python/bench_python.py): Airlock against werkzeug, PIL + numpy
# + onnxruntime and a flask-cors server, side by side in one run. Installs the release wheel
# and the pinned baselines into .venv first. Arguments select sections: names save classify servers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-assets.sh
python="$(bash scripts/python-env.sh --bench | tail -n 1)"
"$python" -m pip install --quiet --disable-pip-version-check ./bindings-python
exec "$python" benches/python/bench_python.py "$@"
