"""A real RQ worker process that delivered a plain webhook has loaded none of the modules it does
not need (tests/architecture/test_worker_imports.py lists them): ingest through the live API,
``server.py worker --burst`` in a subprocess, the receiver gets the call, and the worker writes
the modules it held when it exited."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.architecture.test_worker_imports import loaded_forbidden
from tests.conftest import ROOT, wait_for
from tests.e2e.helpers import Api, webhook_flow

# server.py worker, as the supervisor starts it, writing sys.modules when it exits
WORKER = """
import atexit, json, runpy, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["server.py", "worker", "--burst"]
runpy.run_path("server.py", run_name="__main__")
"""


def test_worker_that_delivered_a_webhook_holds_no_forbidden_module(live, procs, fake_receiver, tmp_path):
    api = Api(live.url)
    flow = webhook_flow(fake_receiver.url + "/hook", event="event.custom", event_params={"name": "paid"})
    assert api.post("/api/v1/flows", json=flow).status_code == 201
    r = api.post("/api/v1/events", json={"id": "e-1", "name": "paid", "data": {"price": 5}})
    assert r.status_code == 202, r.text

    modules_file = tmp_path / "modules.json"
    worker = subprocess.run(
        [sys.executable, "-c", WORKER, str(modules_file)],
        cwd=ROOT,
        env=procs.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    wait_for(lambda: fake_receiver.deliveries, timeout=10, message="the webhook delivery\n" + worker.stderr)
    modules = json.loads(modules_file.read_text())
    assert "plugin.transport.lean_http" in modules  # it did send
    if procs.env["DATABASE_URL"].startswith("postgresql"):
        # its own database's driver and dialect, which a worker on SQLite must not load
        modules = [
            m
            for m in modules
            if m.split(".")[0] != "psycopg" and not m.startswith("sqlalchemy.dialects.postgresql")
        ]
    assert loaded_forbidden(modules) == []
