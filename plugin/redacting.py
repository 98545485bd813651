"""The access loggers of gunicorn and werkzeug's development server, redacted (plugin.accesslog)."""

from __future__ import annotations

from gunicorn.glogging import Logger
from werkzeug.serving import WSGIRequestHandler

from plugin.accesslog import redact


class RedactingGunicornLogger(Logger):
    """gunicorn's logger whose access-log atoms (request line, query, Referer, headers) are redacted."""

    def atoms(self, resp, req, environ, request_time):
        return {key: redact(value) for key, value in super().atoms(resp, req, environ, request_time).items()}


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler whose log lines are redacted (the development server)."""

    def log(self, type: str, message: str, *args) -> None:  # noqa: A002 - werkzeug's signature
        super().log(type, message, *(redact(arg) for arg in args))
