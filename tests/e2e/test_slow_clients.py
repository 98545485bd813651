"""Slow clients cannot freeze the API: uploads that send their headers and stall hold no thread
for long, get a 408 after ``AUTOMATION_REQUEST_READ_TIMEOUT``, and meanwhile health and ingestion
are answered at once - under granian (the default) and gunicorn, real server processes, raw sockets.
The 60 s measurement is bench/slow_clients.py."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
import requests

from tests.conftest import TOKEN
from tests.e2e.test_api_server import SERVERS, _serving

READ_TIMEOUT = 3.0
STALLS = 64
ROUTES = ("POST /api/v1/events", "POST /api/v1/visits", "POST /api/v1/batch", "PUT /api/v1/orders/slow-{n}")


def _stall(port: int, n: int) -> socket.socket:
    """The headers of an ingestion request announcing 100,000 bytes, ten of them, then nothing."""
    method, path = ROUTES[n % len(ROUTES)].split(" ")
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    sock.sendall(
        f"{method} {path.format(n=n)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"id":"sl"'.encode()
    )
    return sock


def _answer(sock: socket.socket) -> bytes:
    """The status line the server sent before closing (b"" if it closed without one)."""
    got = b""
    try:
        while b"\r\n" not in got:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    return got.split(b"\r\n", 1)[0]


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_stalled_uploads_get_408_and_never_hold_up_other_requests(server, tmp_path, redis_url):
    with _serving(
        server,
        tmp_path,
        redis_url,
        AUTOMATION_REQUEST_READ_TIMEOUT=str(READ_TIMEOUT),
        AUTOMATION_MAX_BODY_BYTES="1000000",
    ) as (base, _proc, _log, _db):
        port = int(base.rsplit(":", 1)[1])
        opened_at = time.monotonic()
        stalls = [_stall(port, n) for n in range(STALLS)]
        answers: dict[int, tuple[float, bytes]] = {}

        def collect(n: int, sock: socket.socket) -> None:
            status = _answer(sock)
            answers[n] = (time.monotonic() - opened_at, status)

        readers = [threading.Thread(target=collect, args=(n, s), daemon=True) for n, s in enumerate(stalls)]
        for reader in readers:
            reader.start()

        # while the stalls are held (until the read timeout), health and ingestion answer at once
        slowest = 0.0
        headers = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
        while time.monotonic() - opened_at < READ_TIMEOUT - 0.3:
            started = time.monotonic()
            assert requests.get(base + "/api/v1/health", headers=headers, timeout=5).status_code == 200
            event = {"id": f"e-{uuid.uuid4().hex[:8]}", "name": "signup", "data": {"n": 1}}
            assert (
                requests.post(base + "/api/v1/events", json=event, headers=headers, timeout=5).status_code
                == 202
            )
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.05)
        assert slowest < 1.0, (
            f"a health check and an event took {slowest:.2f} s with {STALLS} uploads stalled"
        )

        for reader in readers:
            reader.join(timeout=READ_TIMEOUT + 10)
        for sock in stalls:
            sock.close()
    assert len(answers) == STALLS
    late = {n: round(at, 2) for n, (at, _status) in answers.items() if at > READ_TIMEOUT + 3}
    assert not late, f"stalled uploads still open long after the read timeout: {late}"
    statuses = {status for _at, status in answers.values()}
    assert statuses == {b"HTTP/1.1 408 Request Timeout"}, statuses
