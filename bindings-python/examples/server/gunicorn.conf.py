"""gunicorn settings of the reference server: TLS always, several workers, the app preloaded
in the master (configuration errors stop the server before any worker starts), and the model
loaded in each worker after the fork. Everything comes from the environment."""

import os
from typing import Any

bind = os.environ.get("AIRLOCK_BIND", "127.0.0.1:8443")
workers = int(os.environ.get("AIRLOCK_WORKERS", "2"))
worker_class = "sync"
preload_app = True
timeout = 60
graceful_timeout = 10
# TLS is not optional: without a certificate gunicorn refuses to start (KeyError below).
certfile = os.environ["AIRLOCK_TLS_CERT"]
keyfile = os.environ["AIRLOCK_TLS_KEY"]
# Header limits against slow-loris and oversized-header attacks.
limit_request_line = 4096
limit_request_fields = 64
limit_request_field_size = 8190
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = ""


def post_worker_init(worker: Any) -> None:
    # A worker starts its own load after the fork: the master never runs a loader thread, and
    # /readyz says 503 until this worker's model is ready.
    services = worker.wsgi.extensions["airlock"]
    if services.settings.model_load == "startup":
        services.model.start_loading()
