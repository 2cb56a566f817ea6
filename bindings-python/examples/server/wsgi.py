"""The WSGI entry point: ``gunicorn -c gunicorn.conf.py wsgi:app``."""

from upload_server import create_app

app = create_app()
