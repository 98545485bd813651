"""Access logs without credentials, whatever the server: the login link's ``/?token=…``, a bearer
header, a site-form key in its URL.

Under granian's RSGI interface (the default) the access line is written by
``plugin.serving.BufferedRSGI`` itself (:class:`AccessLog`: granian's own format, the path without
its query, a hook key masked) and granian runs with ``--no-access-log``: granian's line goes
through Python logging — a wrapper coroutine and protocol object, a datetime formatted, a log
record made and masked — 0.14 CPU ms per request at 200 events/s (3 rounds alternated with
``AUTOMATION_ACCESS_LOG=0``), where this one formats the time once a second and writes the line.
Under granian's own WSGI threads its logger stays, with :func:`install_granian_redaction` masking
a hook key in the path. gunicorn's line (``--logger-class``) and werkzeug's development server
(``serve --dev``) log the whole request line and the Referer, so their values pass through
:func:`redact` first (``plugin.redacting``).
"""

from __future__ import annotations

import datetime
import logging
import re
import sys
import time

from plugin.masking import mask_known

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


class AccessLog:
    """granian's access line (``DEFAULT_ACCESSLOG_FMT``: ``[time] addr - "METHOD path HTTP/v"
    status ms``), for an RSGI app to write once it has answered: ``log(wall, began, scope, status)``
    with the request's ``time.time()`` and ``time.perf_counter()``. Called from the event loop."""

    def __init__(self, stream=None):
        self.stream = stream
        self._second = -1
        self._stamp = ""
        self._zone = datetime.datetime.now().astimezone().tzinfo

    def __call__(self, wall: float, began: float, scope, status: int | None) -> None:
        second = int(wall)
        if second != self._second:
            self._second = second
            self._stamp = datetime.datetime.fromtimestamp(wall, tz=self._zone).strftime(
                "%Y-%m-%d %H:%M:%S %z"
            )
        path = scope.path
        if "/hooks/" in path:
            path = _HOOK_KEY.sub(lambda m: m.group(1) + MASK, path)
        line = mask_known(
            f'[{self._stamp}] {scope.client.rpartition(":")[0]} - "{scope.method} {path} '
            f'HTTP/{scope.http_version}" {status or 500} {(time.perf_counter() - began) * 1000:.3f}\n'
        )
        stream = self.stream or sys.stdout
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):  # stdout closed or gone: the request is answered all the same
            pass


class _HookKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict) and "/hooks/" in str(args.get("path", "")):
            record.args = {**args, "path": _HOOK_KEY.sub(lambda m: m.group(1) + MASK, args["path"])}
        return True


def install_granian_redaction() -> None:
    """granian's own access logger (its WSGI interface): a hook key in the path masked."""
    logger = logging.getLogger("granian.access")
    if not any(isinstance(f, _HookKeys) for f in logger.filters):
        logger.addFilter(_HookKeys())
