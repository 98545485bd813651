"""Access logs without credentials, whatever the server: the login link's ``/?token=…``, a bearer
header, a site-form key in its URL.

granian logs the path without its query; gunicorn's line (``--logger-class``) and werkzeug's
development server (``serve --dev``) log the whole request line and the Referer, so their values
pass through :func:`redact` first.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger
from werkzeug.serving import WSGIRequestHandler

MASK = "***"
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.-]*token|[a-z0-9_.-]*key|secret|password|passwd|signature|sig|api_id)=)[^&;\s\"']*"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")
# POST /api/v1/hooks/{key}: the key of a site-form source is its secret (ids are shorter)
_HOOK_KEY = re.compile(r"(/api/v1/hooks/)[A-Za-z0-9_~.-]{16,}")


def redact(text: str) -> str:
    """``text`` with the values of secret query parameters, bearer tokens and hook keys masked."""
    if not isinstance(text, str):
        return text
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _HOOK_KEY.sub(lambda m: m.group(1) + MASK, text)


class RedactingGunicornLogger(Logger):
    """gunicorn's logger whose access-log atoms (request line, query, Referer, headers) are redacted."""

    def atoms(self, resp, req, environ, request_time):
        return {key: redact(value) for key, value in super().atoms(resp, req, environ, request_time).items()}


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler whose log lines are redacted (the development server)."""

    def log(self, type: str, message: str, *args) -> None:  # noqa: A002 - werkzeug's signature
        super().log(type, message, *(redact(arg) for arg in args))
