"""What every supported HTTP server does with credentials in URLs and with chunked bodies over
the limit (issue #16): granian (RSGI, and its own WSGI threads), gunicorn, and werkzeug's
development server (``serve --dev``).

Each server is run for real; its access log (stdout and stderr) is read back and grepped.
"""

from __future__ import annotations

import pytest
import requests

from tests.conftest import TOKEN, wait_for
from tests.e2e.test_api_server import _chunked_post, _serving

SECRET = "an_SeCrEt-login-token-0123456789abcdef"
HOOK_KEY = "hk_FoRm-KeY-0123456789abcdefghij"  # a site-form source's key is its secret
SERVERS = {
    "granian": ("granian", (), {}),
    "granian-wsgi": ("granian", (), {"AUTOMATION_READ_BODY_FIRST": "0"}),
    "gunicorn": ("gunicorn", (), {}),
    "dev": ("granian", ("--dev",), {}),
}


@pytest.fixture(params=list(SERVERS))
def served(request, tmp_path, redis_url):
    server, args, extra = SERVERS[request.param]
    with _serving(server, tmp_path, redis_url, *args, **extra) as (base, _proc, log, _db):
        yield request.param, base, log


def _log_text(log) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")


@pytest.mark.slow
def test_no_server_logs_a_token_and_each_answers_413_to_a_chunked_body_over_the_limit(served):
    name, base, log = served
    port = int(base.rsplit(":", 1)[1])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    requests.get(f"{base}/?token={SECRET}", timeout=10)
    requests.get(
        f"{base}/favicon.svg?lang=ru&token={SECRET}",
        headers={"Referer": f"{base}/?token={SECRET}"},
        timeout=10,
    )
    requests.get(f"{base}/api/v1/flows?access_token={SECRET}", headers=auth, timeout=10)
    requests.get(f"{base}/api/v1/runs", headers={"Authorization": f"Bearer {SECRET}"}, timeout=10)
    requests.post(f"{base}/api/v1/hooks/{HOOK_KEY}", data={"name": "Анна"}, timeout=10)  # a form's key

    big = b'{"id": "big", "name": "signup", "data": {"pad": "' + b"x" * 6000 + b'"}}'
    for path in ("/api/v1/events", "/api/v1/flows"):  # the fast path's and a Flask view's
        status, body = _chunked_post(port, path, big)
        assert status == 413, (name, path, body[-300:])
        assert b'"status":413' in body.replace(b" ", b"")
    status, body = _chunked_post(port, "/api/v1/events", b'{"id": "chunked", "name": "signup"}')
    assert status == 202, (name, body[-300:])

    # every request logged (granian: the path without its query), and no token anywhere
    wait_for(
        lambda: _log_text(log).count("POST /api/v1/events") >= 2, timeout=15, message=f"{name} access log"
    )
    text = _log_text(log)
    assert "GET /api/v1/runs" in text and "GET /favicon.svg" in text, text[-3000:]
    assert "POST /api/v1/hooks/***" in text, text[-3000:]
    assert SECRET not in text, [line for line in text.splitlines() if SECRET in line]
    assert SECRET[:12] not in text
    assert HOOK_KEY[:12] not in text, [line for line in text.splitlines() if HOOK_KEY[:12] in line]
