"""Crash safety: a worker killed with SIGKILL, Redis flushed, a durable delay across restarts."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from datetime import timedelta

import pytest
import redis as redis_lib

from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow


def _batch_orders(api: Api, start: int, count: int) -> None:
    items = [{"type": "order", "data": {"id": str(i), "price": i}} for i in range(start, start + count)]
    r = api.post("/api/v1/batch", json={"items": items})
    assert r.status_code == 202, r.text


def _delivered_orders(receiver) -> dict[str, set[str]]:
    """order id → the webhook-ids it was delivered under (every request, duplicates included)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for req in receiver.requests:
        if req.path == "/h" and req.method == "POST":
            try:
                order_id = req.json()["order"]["id"]
            except ValueError:  # a request cut off by the kill never got its 2xx
                continue
            seen[order_id].add(req.headers["webhook-id"])
    return seen


@pytest.mark.slow
def test_sigkill_of_worker_mid_run_loses_nothing(live, procs, fake_receiver):
    """500 events; the worker is killed with SIGKILL mid-run; a new worker and the sweeper finish."""
    total = 500
    api = Api(live.url)
    fake_receiver.slow(0.01, times=None)  # every delivery takes a moment so the kill lands mid-flight
    assert api.post("/api/v1/flows", json=webhook_flow(fake_receiver.url + "/h")).status_code == 201
    for start in range(1, total + 1, 100):
        _batch_orders(api, start, 100)
    worker = procs.start("worker")
    wait_for(
        lambda: len(_delivered_orders(fake_receiver)) >= 100,
        timeout=60,
        message="first deliveries\n" + procs.logs(),
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at = len(_delivered_orders(fake_receiver))
    assert killed_at < total, "the worker finished before it could be killed; the test proves nothing"
    procs.start("worker")
    procs.start("scheduler")  # the sweeper finds the expired lease and the lost job
    wait_for(
        lambda: len(_delivered_orders(fake_receiver)) == total,
        timeout=120,
        message=f"all {total} deliveries (had {len(_delivered_orders(fake_receiver))})\n" + procs.logs(),
    )
    delivered = _delivered_orders(fake_receiver)
    assert set(delivered) == {str(i) for i in range(1, total + 1)}
    # a duplicate may only follow a kill mid-send, and then under the same webhook-id
    assert all(len(ids) == 1 for ids in delivered.values()), {
        k: v for k, v in delivered.items() if len(v) > 1
    }
    # sends go out concurrently (16 at a time) and their outcomes are committed every 20 ms: only
    # what was in flight, or landed in the last 20 ms before the kill, may be sent twice
    sent = sum(1 for r in fake_receiver.requests if r.path == "/h")
    assert sent <= total + 50, f"{sent} requests for {total} orders"
    wait_for(
        lambda: (
            sorted({r["status"] for r in api.get("/api/v1/runs?limit=500").json()["runs"]}) == ["succeeded"]
            and len(api.get("/api/v1/runs?limit=500").json()["runs"]) == total
        ),
        timeout=30,
        message="every run to be recorded as succeeded",
    )


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_workers_scheduler_process_does_not_live_on(procs):
    """RQ's scheduler runs in a process the worker forks; SIGKILL of the worker ends it too
    (before, it lived on as an orphan polling Redis, one more after each kill)."""
    worker = procs.start("worker")
    children = wait_for(
        lambda: _children(worker.pid), timeout=30, message="the scheduler process\n" + procs.logs()
    )
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    wait_for(
        lambda: not any(_alive(pid) for pid in children),
        timeout=15,
        message=f"the orphaned scheduler {children} to end",
    )


@pytest.mark.slow
def test_redis_flushed_mid_run_loses_nothing(live, procs, fake_receiver, redis_url):
    api = Api(live.url)
    fake_receiver.slow(0.03, times=None)
    assert api.post("/api/v1/flows", json=webhook_flow(fake_receiver.url + "/h")).status_code == 201
    procs.start("worker")
    procs.start("scheduler")
    _batch_orders(api, 1, 50)
    _batch_orders(api, 51, 50)
    wait_for(
        lambda: len(_delivered_orders(fake_receiver)) >= 10,
        timeout=30,
        message="first deliveries\n" + procs.logs(),
    )
    redis_lib.Redis.from_url(redis_url).flushdb()  # queued jobs are gone
    assert len(_delivered_orders(fake_receiver)) < 100, (
        "everything was delivered before the flush; the test proves nothing"
    )
    wait_for(
        lambda: len(_delivered_orders(fake_receiver)) == 100,
        timeout=60,
        message=f"all 100 deliveries (had {len(_delivered_orders(fake_receiver))})\n" + procs.logs(),
    )
    delivered = _delivered_orders(fake_receiver)
    assert all(len(ids) == 1 for ids in delivered.values())


@pytest.mark.slow
def test_delay_is_durable_across_restarts(live, procs, fake_receiver, app):
    from plugin.api.extensions import db
    from plugin.storage.models import Step, utcnow

    api = Api(live.url)
    flow = webhook_flow(fake_receiver.url + "/h")
    flow["nodes"].insert(1, {"id": "wait", "type": "flow.delay", "params": {"amount": 1, "unit": "minutes"}})
    flow["edges"] = [{"from": "start", "to": "wait"}, {"from": "wait", "to": "hook"}]
    assert api.post("/api/v1/flows", json=flow).status_code == 201
    worker = procs.start("worker")
    api.put("/api/v1/orders/1", json={"price": 1})

    def waiting_step():
        with app.app_context():
            db.session.expire_all()
            return db.session.query(Step).filter_by(node_id="wait", status="waiting").first()

    step = wait_for(waiting_step, timeout=15, message="the delay step to wait\n" + procs.logs())
    resume_at = step.resume_at
    assert timedelta(seconds=55) < resume_at - utcnow() <= timedelta(seconds=60)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    procs.start("worker")
    procs.start("scheduler")
    time.sleep(3)
    assert not fake_receiver.deliveries, "a restart must not shorten the wait"
    assert waiting_step().resume_at == resume_at
    with app.app_context():  # let the minute pass
        db.session.query(Step).filter_by(node_id="wait").update(
            {"resume_at": utcnow() - timedelta(seconds=1)}
        )
        from plugin.storage.models import Run

        db.session.query(Run).update({"next_attempt_at": utcnow() - timedelta(seconds=1)})
        db.session.commit()
    wait_for(
        lambda: fake_receiver.deliveries, timeout=20, message="delivery after the delay\n" + procs.logs()
    )
    assert len(fake_receiver.deliveries) == 1
