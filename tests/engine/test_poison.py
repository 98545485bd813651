"""A poison item never blocks others: an event or a run that the engine chokes on is recorded as
failed with its error, and the rest of its batch goes on (issue: fault isolation).

Before, a dispatch batch holding one such event failed as a whole, its claims expired and it was
claimed again every lease, for ever: the valid events claimed with it were never delivered, and
nothing but a log line said why.
"""

from __future__ import annotations

import time

from sqlalchemy import select, text

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine.dispatch import FlowIndex
from plugin.engine.execution import execute_isolated
from plugin.jobs import worker as tasks
from plugin.jobs.worker import make_engine
from plugin.storage.models import Event, Flow, Run
from tests.conftest import settle_late
from tests.engine.test_ingest_and_runs import _flow


def _store_poison(event_id: str) -> int:
    """A custom event whose stored data the dispatcher cannot take: on PostgreSQL the lone
    surrogate that ``POST /events`` used to accept (the json column keeps it; no run can hold it),
    on SQLite a data column that is not JSON at all. Returns its engine event's id."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    data = '{"\\ud800": 1}' if postgresql else '{"price": '
    cast = "CAST(:data AS json)" if postgresql else ":data"
    db.session.execute(
        text(f"INSERT INTO custom_events (id, name, data, created_at) VALUES (:id, 'go', {cast}, :now)"),
        {"id": event_id, "data": data, "now": "2026-01-01 00:00:00"},
    )
    row = db.session.execute(
        text(
            "INSERT INTO events (trigger, subject_id, data, created_at) "
            "VALUES ('custom_event', :id, :data, :now) RETURNING id"
        ),
        {"id": event_id, "data": '{"name": "go"}', "now": "2026-01-01 00:00:00"},
    ).scalar()
    db.session.commit()
    return row


def test_a_poison_event_is_recorded_as_failed_and_its_batch_mates_are_delivered(app, client, fake_receiver):
    assert (
        client.post("/api/v1/flows", json=_flow(fake_receiver.url + "/h", event="event.custom")).status_code
        == 201
    )
    for i in range(5):
        assert client.post("/api/v1/events", json={"id": f"a{i}", "name": "go"}).status_code == 202
    with app.app_context():
        poison = _store_poison("pz-1")
    for i in range(5):
        assert client.post("/api/v1/events", json={"id": f"b{i}", "name": "go"}).status_code == 202

    with app.app_context():
        runtime = rt()
        started = time.monotonic()
        dispatched = tasks._dispatch_all(
            runtime,
            FlowIndex(runtime.registry),
            make_engine(runtime, db.engine),
            db.session,
            time.monotonic(),
        )
        assert time.monotonic() - started < 5
        assert dispatched == 11
        db.session.rollback()
        failed = db.session.get(Event, poison)
        assert failed.dispatched_at is not None
        assert failed.error and failed.error.startswith("dispatch failed:")
        others = db.session.scalars(select(Event).where(Event.id != poison)).all()
        assert all(e.dispatched_at is not None and e.error is None for e in others)
        settle_late()  # a call that outlived the wait for a new destination (0.1 s) ends later
        db.session.rollback()
        assert db.session.scalars(select(Run.status)).all() == ["succeeded"] * 10
        # nothing is left for the sweeper to claim again
        assert db.session.scalar(select(Event.id).where(Event.dispatched_at.is_(None))) is None
    ids = sorted(d.payload["event"]["id"] for d in fake_receiver.deliveries)
    assert ids == sorted([f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)])


def test_a_run_that_cannot_be_executed_is_recorded_as_failed(app, client, fake_receiver):
    """A run whose stored definition the engine cannot take fails with the error, once: before,
    the worker logged it and the sweeper resumed it every lease, for ever."""
    assert (
        client.post("/api/v1/flows", json=_flow(fake_receiver.url + "/h", event="event.custom")).status_code
        == 201
    )
    with app.app_context():
        flow_id = db.session.scalar(select(Flow.id))
        run = Run(
            id="poison-run",
            flow_id=flow_id,
            flow_name="t",
            trigger="event",
            event_type="custom_event",
            status="queued",
            context={},
            definition={"nodes": [{"id": "x"}], "edges": []},
        )  # no type
        db.session.add(run)
        db.session.commit()
        assert execute_isolated(db.session, make_engine(rt(), db.engine), "poison-run") == "failed"
        db.session.rollback()
        stored = db.session.get(Run, "poison-run")
        assert stored.status == "failed"
        assert stored.error.startswith("internal error:")
        assert stored.finished_at is not None and stored.lease_until is None
        assert db.session.get(Flow, flow_id).failed_count == 1
