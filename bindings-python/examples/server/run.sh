#!/usr/bin/env bash
# Starts the reference server under gunicorn with TLS, drives real uploads of the given photos
# through HTTPS with client.py, prints the answers, and stops the server.
#   run.sh WORKDIR MODEL.onnx PHOTO...     (uses the python on PATH, with airlock installed)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$1"; model="$2"; shift 2
mkdir -p "$work"
python "$here/make_cert.py" "$work/tls"

export AIRLOCK_UPLOAD_DIR="$work/uploads" AIRLOCK_AUDIT_DIR="$work/audit"
export AIRLOCK_MODEL="$model" AIRLOCK_MODEL_SHA256="$(cut -d' ' -f1 "$model.sha256" 2>/dev/null || true)"
export AIRLOCK_TLS_CERT="$work/tls/cert.pem" AIRLOCK_TLS_KEY="$work/tls/key.pem"
export AIRLOCK_CORS_ORIGINS="https://app.example.com"
export AIRLOCK_BIND="127.0.0.1:${AIRLOCK_PORT:-8443}" AIRLOCK_WORKERS="${AIRLOCK_WORKERS:-2}"
# A fresh key for this run, from the environment only (what the audit asked for).
export UPLOAD_API_KEY="demo:$(python -c 'import airlock; print(airlock.generate_key())')"
export APP_ENV=production

python -m gunicorn --chdir "$here" -c "$here/gunicorn.conf.py" wsgi:app > "$work/gunicorn.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
base="https://$AIRLOCK_BIND"
for _ in $(seq 1 100); do
  if python -c "import requests,sys; requests.get(sys.argv[1] + '/healthz', verify=sys.argv[2])" "$base" "$work/tls/ca.pem" 2>/dev/null; then
    break
  fi
  kill -0 $server 2>/dev/null || { cat "$work/gunicorn.log"; exit 1; }
  sleep 0.2
done
UPLOAD_API_KEY="${UPLOAD_API_KEY#demo:}" python "$here/client.py" "$base" "$work/tls/ca.pem" "$@"
echo "server log: $work/gunicorn.log; audit trail:"
for f in "$work"/audit/*.jsonl; do echo "  $f: $(wc -l < "$f") events"; done
