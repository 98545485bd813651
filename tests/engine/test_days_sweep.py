"""Date-relative events: each N-day flow fires exactly once per due order, within the catch-up window."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, insert, select

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine.dispatch import days_flows, record_due, sweep_days
from plugin.storage.models import Flow, Order, Run, utcnow
from tests.engine.test_ingest_and_runs import drain


def upsert_check(session, registry, order: Order, now=None) -> list[int]:
    """The upsert check as dispatch runs it for an upserted order (SPEC §3.1): the due events of
    the N-day flows whose moment for this order already fell, recorded (committed); their ids."""
    recorded = record_due(session, days_flows(session, registry), [order], now)
    session.commit()
    return recorded


def _days_flow(days: int, event: str = "event.order_days_since_created", catch_up: int = 24) -> dict:
    return {
        "format": "automation-flow/1",
        "name": f"{days} дней",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": event, "params": {"days": days, "catch_up_hours": catch_up}},
            {"id": "hook", "type": "action.webhook", "params": {"url": "http://127.0.0.1:9/h"}},
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }


def test_ten_thousand_orders_fire_once_per_due_order(app, client):
    now = utcnow()
    rng = random.Random(7)
    ages_h = [rng.uniform(0, 24 * 20) for _ in range(10_000)]  # created 0–20 days ago
    paid_h = [a - rng.uniform(0, 48) if i % 3 == 0 else None for i, a in enumerate(ages_h)]
    with app.app_context():
        db.session.execute(
            insert(Order),
            [
                {
                    "id": f"o{i:05d}",
                    "price": 1.0,
                    "status": "Новая",
                    "status_group": "paid" if p else "in_work",
                    "created_at": now - timedelta(hours=a),
                    "paid_at": now - timedelta(hours=p) if p is not None and p > 0 else None,
                    "fields": {},
                    "first_seen_at": now,
                    "updated_at": now,
                }
                for i, (a, p) in enumerate(zip(ages_h, paid_h, strict=True))
            ],
        )
        db.session.commit()
    ids = {}
    for days, event in (
        (3, "event.order_days_since_created"),
        (7, "event.order_days_since_created"),
        (2, "event.order_days_since_paid"),
    ):
        r = client.post("/api/v1/flows", json=_days_flow(days, event))
        assert r.status_code == 201, r.get_json()
        ids[(days, event)] = r.get_json()["id"]

    with app.app_context():
        enabled_at = {f.id: f.enabled_at for f in db.session.scalars(select(Flow))}
        sweep_days(db.session, rt().registry)  # records the due events; dispatch makes the runs
        db.session.commit()
        drain(app)
        counts = dict(db.session.execute(select(Run.flow_id, func.count()).group_by(Run.flow_id)).all())
        for (days, event), flow_id in ids.items():
            field = "created_at" if "created" in event else "paid_at"
            floor = enabled_at[flow_id] - timedelta(hours=24)
            expected = set()
            for order in db.session.scalars(select(Order)):
                moment = getattr(order, field)
                if moment is None:
                    continue
                moment = moment + timedelta(days=days)
                if floor <= moment <= utcnow():
                    expected.add(f"days:{flow_id}:{order.id}")
            got = set(db.session.scalars(select(Run.dedupe_key).where(Run.flow_id == flow_id)))
            assert got == expected, (days, event, len(got), len(expected))
            assert 50 < counts.get(flow_id, 0) < 10_000  # the window really filters
        # nothing outside the window, and nothing again on the next sweep
        assert sweep_days(db.session, rt().registry) == []
        assert db.session.scalar(select(func.count()).select_from(Run)) == sum(counts.values())


def test_catch_up_window_and_upsert_check(app, client):
    r = client.post("/api/v1/flows", json=_days_flow(3, catch_up=1))
    flow_id = r.get_json()["id"]
    now = utcnow()
    with app.app_context():
        # moment 30 minutes ago: inside the 1 h catch-up → fires; moment 2 h ago: outside → never
        inside = Order(
            id="in", created_at=now - timedelta(days=3, minutes=30), status_group="in_work", fields={}
        )
        outside = Order(
            id="out", created_at=now - timedelta(days=3, hours=2), status_group="in_work", fields={}
        )
        future = Order(id="future", created_at=now - timedelta(days=2), status_group="in_work", fields={})
        db.session.add_all([inside, outside, future])
        db.session.commit()
        assert len(sweep_days(db.session, rt().registry)) == 1
        drain(app)
        keys = set(db.session.scalars(select(Run.dedupe_key)))
        assert keys == {f"days:{flow_id}:in"}
        # the upsert check fires an order that becomes due through an update, exactly once
        future.created_at = now - timedelta(days=3, minutes=1)
        db.session.commit()
        assert len(upsert_check(db.session, rt().registry, future)) == 1
        assert upsert_check(db.session, rt().registry, future) == []
        assert sweep_days(db.session, rt().registry) == []
        # later, when the flow is past its first sweep, an order falling due is caught by the sweep
        late = Order(id="late", created_at=utcnow() - timedelta(days=3), status_group="in_work", fields={})
        db.session.add(late)
        db.session.commit()
        assert len(sweep_days(db.session, rt().registry)) == 1
        drain(app)
        assert db.session.scalar(select(func.count()).select_from(Run)) == 3


def test_date_conditions_are_evaluated_in_the_sweep_and_the_batch_path(app, client):
    """Age conditions compare aware datetimes: a naive 'now' from the database must not make them false."""
    flow = _days_flow(3)
    flow["nodes"].insert(
        1,
        {
            "id": "age",
            "type": "condition.order_created_age",
            "params": {"operator": "older_than_days", "value": 2},
        },
    )
    flow["edges"] = [{"from": "start", "to": "age"}, {"from": "age", "to": "hook"}]
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    with app.app_context():
        db.session.add(
            Order(
                id="due",
                created_at=utcnow() - timedelta(days=3, minutes=5),
                status_group="in_work",
                fields={},
            )
        )
        db.session.commit()
        assert len(sweep_days(db.session, rt().registry)) == 1
        drain(app)
        run = db.session.scalars(select(Run)).one()
        assert run.status != "not_triggered" and run.trigger == "schedule"
