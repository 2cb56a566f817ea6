"""WSGI entry of the baseline server (``gunicorn baseline_wsgi:app``)."""

from baseline_server import app

__all__ = ["app"]
