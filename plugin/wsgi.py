"""WSGI entry point of the API servers: ``granian --interface wsgi plugin.wsgi:app`` (or gunicorn)."""

from plugin.app import create_app
from plugin.processes import tune_gc

app = create_app()
tune_gc()
