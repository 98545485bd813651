"""The access line plugin.serving.BufferedRSGI writes itself (plugin.accesslog.AccessLog) is
granian's own line, with a site-form key masked."""

from __future__ import annotations

import io
import logging
import time

from granian.log import DEFAULT_ACCESSLOG_FMT, access_logger, log_request_builder

from plugin.accesslog import AccessLog


class _Scope:
    method, http_version, client = "POST", "1.1", "10.1.2.3:50432"

    def __init__(self, path: str):
        self.path = path


def _granian_line(wall: float, began: float, scope) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = (access_logger.handlers[:], access_logger.level, access_logger.propagate)
    access_logger.handlers[:] = [handler]
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False
    try:
        request = {"addr_remote": "10.1.2.3", "protocol": "HTTP/1.1", "path": scope.path, "qs": ""}
        log_request_builder(DEFAULT_ACCESSLOG_FMT)(
            wall, began, {**request, "method": "POST", "scheme": "http"}, 202
        )
    finally:
        access_logger.handlers[:], level, access_logger.propagate = saved[0], saved[1], saved[2]
        access_logger.setLevel(level)
    return out.getvalue()


def test_the_line_is_granians_own_but_for_the_duration():
    out = io.StringIO()
    log = AccessLog(out)
    wall, began = time.time() - 3600.5, time.perf_counter() - 0.004
    log(wall, began, _Scope("/api/v1/events"), 202)
    ours, theirs = out.getvalue(), _granian_line(wall, began, _Scope("/api/v1/events"))
    assert ours.rsplit(" ", 1)[0] == theirs.rsplit(" ", 1)[0], (ours, theirs)
    assert ours.endswith("\n") and 4.0 <= float(ours.rsplit(" ", 1)[1]) < 1000


def test_a_hook_key_is_masked_and_a_failed_request_logged_as_500():
    out = io.StringIO()
    log = AccessLog(out)
    log(time.time(), time.perf_counter(), _Scope("/api/v1/hooks/hk_FoRm-KeY-0123456789abcdef"), None)
    line = out.getvalue()
    assert '"POST /api/v1/hooks/*** HTTP/1.1" 500 ' in line and "FoRm" not in line
    log(time.time(), time.perf_counter(), _Scope("/api/v1/hooks/short"), 404)  # an id, not a key
    assert '"POST /api/v1/hooks/short HTTP/1.1" 404 ' in out.getvalue()
