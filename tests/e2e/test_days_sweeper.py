"""N-day flows on the real path: the scheduler's sweeper records due events, RQ workers dispatch
them, each due order is delivered once — also an order that falls due while the system runs."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import insert

from plugin.api.extensions import db
from plugin.storage.models import Order, utcnow
from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow


def test_sweeper_and_upserts_deliver_each_due_order_once(app, live, procs, fake_receiver):
    api = Api(live.url)
    flow = webhook_flow(
        fake_receiver.url + "/days",
        event="event.order_days_since_created",
        event_params={"days": 3, "catch_up_hours": 24},
        name="3 дня",
    )
    assert api.post("/api/v1/flows", json=flow).status_code == 201
    now = utcnow()
    with app.app_context():  # imported in bulk, no events: only the sweeper can find these
        db.session.execute(
            insert(Order),
            [
                {
                    "id": f"b{i}",
                    "status": "Новая",
                    "status_group": "in_work",
                    "fields": {},
                    "first_seen_at": now,
                    "updated_at": now,
                    "created_at": now - timedelta(days=3, minutes=10 + i),
                }
                for i in range(20)
            ]
            + [
                # due in ~3 s: a later sweep, not the first, records it
                {
                    "id": "soon",
                    "status": "Новая",
                    "status_group": "in_work",
                    "fields": {},
                    "first_seen_at": now,
                    "updated_at": now,
                    "created_at": now - timedelta(days=3) + timedelta(seconds=3),
                },
                # before the catch-up window: never
                {
                    "id": "old",
                    "status": "Новая",
                    "status_group": "in_work",
                    "fields": {},
                    "first_seen_at": now,
                    "updated_at": now,
                    "created_at": now - timedelta(days=5),
                },
            ],
        )
        db.session.commit()
    # through the API: the upsert check records it when its order_created event is dispatched
    moment = (now - timedelta(days=3, minutes=5)).isoformat() + "Z"
    assert api.put("/api/v1/orders/api1", json={"status": "Новая", "created_at": moment}).status_code == 202
    procs.start("worker")
    procs.start("scheduler")  # sweeps every second (AUTOMATION_SWEEP_INTERVAL=1 in tests)
    expected = {f"b{i}" for i in range(20)} | {"soon", "api1"}

    def delivered() -> Counter:
        return Counter(r.json()["order"]["id"] for r in fake_receiver.requests if r.path == "/days")

    wait_for(
        lambda: set(delivered()) >= expected,
        timeout=90,
        message=f"deliveries of every due order (had {sorted(delivered())})\n" + procs.logs(),
    )
    procs.start("worker")  # a second worker and more sweeps: still nothing twice
    wait_for(
        lambda: api.get("/api/v1/health").json()["workers"] >= 2, timeout=30, message="the second worker"
    )
    api.put("/api/v1/orders/api1", json={"status": "В работе"})  # upserted again: no second run
    wait_for(
        lambda: not api.get("/api/v1/runs?status=queued").json()["runs"], timeout=30, message="queue drained"
    )
    time.sleep(3)  # a few more sweeps
    counts = delivered()
    assert set(counts) == expected and set(counts.values()) == {1}, counts
    runs = api.get("/api/v1/runs?limit=100").json()["runs"]
    assert sorted(r["order_id"] for r in runs) == sorted(expected)
    assert {r["status"] for r in runs} == {"succeeded"}
