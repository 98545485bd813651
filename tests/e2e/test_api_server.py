"""`python server.py serve` under each production server: granian (the default) and gunicorn.

The WSGI app is the same (under granian behind plugin.serving.BufferedRSGI, or granian's own WSGI
threads with AUTOMATION_READ_BODY_FIRST=0); what the server adds must not change what a client sees: keep-alive,
chunked request bodies, the problem details of a bad body, the 413 of a body over the limit, the
access log, and a clean stop on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from plugin.processes import api_command
from tests.conftest import ROOT, TOKEN, app_env, free_port, wait_for

SERVERS = ("granian", "gunicorn")


@contextlib.contextmanager
def _serving(server: str, tmp_path, redis_url, *args: str, **extra):
    """``python server.py serve [args]`` under ``server``: (base URL, process, its log file, the SQLite file)."""
    port = free_port()
    env = {
        **os.environ,
        **app_env(f"sqlite:///{tmp_path / 'api.db'}", redis_url, tmp_path / "data"),
        "PORT": str(port),
        "AUTOMATION_API_SERVER": server,
        "AUTOMATION_MAX_BODY_BYTES": "4096",
        **extra,
    }
    log = open(tmp_path / "serve.log", "w+b")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "serve", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return requests.get(base + "/api/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, timeout=60, interval=0.3, message=f"{server} answering")
        yield base, proc, log, tmp_path / "api.db"
    finally:
        # SIGTERM: server.py stops the HTTP server it started (granian / gunicorn run in a process
        # group of their own, so a SIGKILL of server.py's group alone left them serving, orphans)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


@pytest.fixture(params=(*SERVERS, "granian-wsgi"))
def served(request, tmp_path, redis_url):
    # granian-wsgi: granian's own WSGI threads read the bodies (AUTOMATION_READ_BODY_FIRST=0)
    server, extra = request.param, {}
    if server == "granian-wsgi":
        server, extra = "granian", {"AUTOMATION_READ_BODY_FIRST": "0"}
    with _serving(server, tmp_path, redis_url, **extra) as (base, proc, log, db_file):
        yield server, base, proc, log, db_file


def _chunked_post(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    """A POST whose body comes in two chunks (Transfer-Encoding: chunked), on a raw socket."""
    half = len(body) // 2
    chunks = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:])) + b"0\r\n\r\n"
    )
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request + chunks)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


@pytest.mark.slow
def test_each_server_answers_the_api_the_same(served):
    server, base, proc, log, db_file = served
    port = int(base.rsplit(":", 1)[1])
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {TOKEN}"

    # keep-alive: many requests over one connection, each stored
    for i in range(30):
        r = s.post(
            base + "/api/v1/events",
            json={"id": f"{server}-{i}", "name": "signup", "data": {"i": i}},
            timeout=10,
        )
        assert r.status_code == 202, r.text
        assert r.json() == {"accepted": True, "created": True, "events": 1}
    assert s.post(
        base + "/api/v1/events", json={"id": f"{server}-0", "name": "signup"}, timeout=10
    ).json() == {"accepted": True, "created": False, "events": 0}

    status, body = _chunked_post(port, "/api/v1/events", b'{"id":"chunked","name":"signup","data":{"x":1}}')
    assert status == 202, body
    assert b'"created":true' in body

    r = s.post(
        base + "/api/v1/events",
        data=b'{"name": "signup", "data": {',
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["title"] == "Malformed JSON"

    r = s.post(base + "/api/v1/events", json={"name": "signup", "data": {"pad": "x" * 5000}}, timeout=10)
    assert r.status_code == 413, r.text

    r = s.post(
        base + "/api/v1/events",
        json={"name": "signup"},
        headers={"Authorization": "Bearer wrong"},
        timeout=10,
    )
    assert r.status_code == 401

    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT count(*) FROM custom_events").fetchone()[0] == 31
        assert conn.execute("SELECT data FROM custom_events WHERE id = 'chunked'").fetchone()[0] == '{"x": 1}'

    # every request is in the access log (stdout), with its status
    def logged():
        log.seek(0)
        text = log.read().decode(errors="replace")
        return text if text.count("POST /api/v1/events") >= 34 else None

    text = wait_for(logged, timeout=10, message="access log lines")
    assert " 413 " in text or '" 413' in text

    os.killpg(proc.pid, signal.SIGTERM)
    started = time.monotonic()
    proc.wait(timeout=30)
    assert time.monotonic() - started < 20
    with pytest.raises(requests.ConnectionError):
        requests.get(base + "/api/v1/health", timeout=2)


def test_api_command_names_the_server(monkeypatch):
    monkeypatch.delenv("AUTOMATION_API_SERVER", raising=False)
    assert api_command(8080)[1:3] == ["-m", "granian"]
    monkeypatch.setenv("AUTOMATION_API_SERVER", "gunicorn")
    assert api_command(8080)[1:3] == ["-m", "gunicorn"]
    with pytest.raises(ValueError, match="granian, gunicorn"):
        api_command(8080, server="waitress")


def test_the_access_log_can_be_turned_off(monkeypatch):
    monkeypatch.delenv("AUTOMATION_ACCESS_LOG", raising=False)
    monkeypatch.delenv("AUTOMATION_READ_BODY_FIRST", raising=False)
    # RSGI: the app writes the line itself (plugin.accesslog.AccessLog), granian's logger is off
    assert "--no-access-log" in api_command(8080, server="granian")
    monkeypatch.setenv("AUTOMATION_READ_BODY_FIRST", "0")  # granian's own WSGI threads: its logger
    assert "--access-log" in api_command(8080, server="granian")
    assert api_command(8080, server="gunicorn")[-4:-2] == ["--access-logfile", "-"]
    monkeypatch.setenv("AUTOMATION_ACCESS_LOG", "0")
    granian = api_command(8080, server="granian")
    assert "--no-access-log" in granian and "--access-log" not in granian
    assert "--access-logfile" not in api_command(8080, server="gunicorn")


def test_granian_reads_bodies_before_a_thread_and_bounds_header_reads(monkeypatch):
    for name in (
        "AUTOMATION_READ_BODY_FIRST",
        "AUTOMATION_REQUEST_READ_TIMEOUT",
        "AUTOMATION_STOP_GRACE_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    granian = api_command(8080, server="granian")
    assert granian[3:6] == ["plugin.wsgi:rsgi", "--interface", "rsgi"]
    assert granian[granian.index("--http1-header-read-timeout") + 1] == "10000"
    assert granian[granian.index("--workers-kill-timeout") + 1] == "6"
    gunicorn = api_command(8080, server="gunicorn")
    assert gunicorn[gunicorn.index("--graceful-timeout") + 1] == "6"
    monkeypatch.setenv("AUTOMATION_REQUEST_READ_TIMEOUT", "2.5")
    monkeypatch.setenv("AUTOMATION_STOP_GRACE_SECONDS", "4")
    granian = api_command(8080, server="granian")
    assert granian[granian.index("--http1-header-read-timeout") + 1] == "2500"
    assert granian[granian.index("--workers-kill-timeout") + 1] == "4"
    monkeypatch.setenv("AUTOMATION_READ_BODY_FIRST", "0")  # behind a proxy that buffers bodies
    granian = api_command(8080, threads=6, server="granian")
    assert granian[3:8] == ["plugin.wsgi:app", "--interface", "wsgi", "--blocking-threads", "6"]
    monkeypatch.setenv("AUTOMATION_REQUEST_READ_TIMEOUT", "soon")
    with pytest.raises(
        ValueError, match="AUTOMATION_REQUEST_READ_TIMEOUT must be a number of seconds, got 'soon'"
    ):
        api_command(8080)
    monkeypatch.setenv("AUTOMATION_REQUEST_READ_TIMEOUT", "10")
    monkeypatch.setenv("AUTOMATION_STOP_GRACE_SECONDS", "30")
    with pytest.raises(ValueError, match="at most 8, got '30'"):
        api_command(8080)


@pytest.mark.parametrize("server", SERVERS)
def test_without_the_access_log_requests_are_served_and_not_logged(server, tmp_path, redis_url):
    with _serving(server, tmp_path, redis_url, AUTOMATION_ACCESS_LOG="0") as (base, _proc, log, _db):
        for i in range(3):
            r = requests.post(
                base + "/api/v1/events",
                json={"id": f"q{i}", "name": "signup"},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            assert r.status_code == 202, r.text
        time.sleep(0.5)  # what would have been logged is flushed by now
        log.seek(0)
        text = log.read().decode(errors="replace")
    assert "/api/v1/events" not in text and "/api/v1/health" not in text, text[-2000:]


def _answers(base: str) -> list:
    """What a handful of requests get: status, content type and body (the request id header aside)."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    calls = [
        ("GET", "/", {}),
        ("HEAD", "/api/v1/health", {}),
        ("GET", "/api/v1/flows?limit=1&cursor=x", auth),
        ("GET", "/api/v1/flows/%D0%BF%20x", auth),
        ("GET", "/api/v1/runs?status=bogus", auth),
        ("POST", "/api/v1/events?debug=1", {**auth, "Cookie": "a=1"}),
        ("PUT", "/api/v1/orders/o%2F1", auth),
        ("OPTIONS", "/api/v1/events", {"Origin": "http://example.com"}),
    ]
    out = []
    for method, path, headers in calls:
        body = b'{"id":"same-1","name":"signup"}' if method in ("POST", "PUT") else None
        r = requests.request(
            method,
            base + path,
            data=body,
            timeout=10,
            headers={**headers, "Content-Type": "application/json"} if body else headers,
        )
        out.append((method, path, r.status_code, r.headers.get("Content-Type"), r.content))
    return out


@pytest.mark.slow
def test_granian_answers_the_same_whoever_reads_the_body(tmp_path, redis_url):
    """plugin.serving.BufferedRSGI builds the WSGI environ itself: it must match granian's own."""
    answers = []
    for read_first in ("1", "0"):
        (tmp_path / read_first).mkdir()
        with _serving(
            "granian", tmp_path / read_first, redis_url, AUTOMATION_READ_BODY_FIRST=read_first
        ) as served:
            answers.append(_answers(served[0]))
    assert answers[0] == answers[1]


def test_api_processes_follow_the_database_and_the_cores_unless_told(monkeypatch):
    from plugin.processes import api_workers, default_api_workers

    assert default_api_workers("sqlite:////tmp/a.db", cores=16) == 1  # one writer at a time
    assert [default_api_workers("postgresql://db/x", cores=n) for n in (1, 2, 3, 4, 8)] == [1, 1, 1, 2, 2]
    assert default_api_workers("postgresql://db/x", cores=2, server="gunicorn") == 2  # threads read bodies
    monkeypatch.delenv("AUTOMATION_API_WORKERS", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("AUTOMATION_API_SERVER", "gunicorn")
    assert api_workers() == 2
    monkeypatch.setenv("AUTOMATION_API_WORKERS", "3")
    assert api_workers() == 3
    monkeypatch.setenv("AUTOMATION_API_WORKERS", "none")
    with pytest.raises(SystemExit, match="AUTOMATION_API_WORKERS must be a whole number"):
        api_workers()
