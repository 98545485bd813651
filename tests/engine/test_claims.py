"""Claims: a dispatcher takes at most its batch of events, and concurrent dispatchers never share one."""

from __future__ import annotations

import threading
import time

from sqlalchemy import insert

from plugin.api.extensions import db
from plugin.engine.claim import claim_events
from plugin.storage.models import Event, utcnow


def _events(count: int) -> None:
    now = utcnow()
    db.session.execute(
        insert(Event),
        [
            {"trigger": "order_days_since_created", "subject_id": f"o{i}", "data": {}, "created_at": now}
            for i in range(count)
        ],
    )
    db.session.commit()


def test_a_claim_takes_at_most_its_limit(app):
    """On a fresh (never analysed) PostgreSQL table a plain ``IN (SELECT … LIMIT … SKIP LOCKED)``
    may be rescanned per row and claim every pending event; the claim must stay bounded."""
    with app.app_context():
        _events(1050)
        sizes = []
        while ids := claim_events(db.session, 200, 60):
            sizes.append(len(ids))
        assert sizes == [200, 200, 200, 200, 200, 50]


def test_concurrent_claims_are_disjoint(app):
    with app.app_context():
        _events(1000)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []

    def worker():
        try:
            with app.app_context():
                while ids := claim_events(db.session, 50, 60):
                    claimed.append(ids)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    _in_three_threads(worker)
    _assert_disjoint(errors, claimed, 1000)


def _in_three_threads(worker) -> None:
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def _assert_disjoint(errors: list, claimed: list, total: int) -> None:
    assert not errors, errors
    every = [i for ids in claimed for i in ids]
    assert len(every) == len(set(every)) == total
    assert max(len(ids) for ids in claimed) <= 50


def _pg_app(pg_url, redis_url, tmp_path):
    from tests.conftest import app_env, make_app

    return make_app(app_env(pg_url, redis_url, tmp_path / "data"))


def _held_session(bind=None):
    from sqlalchemy.orm import Session

    from plugin.engine.claim import hold_claims

    session = Session(bind or db.engine)
    hold_claims(session)
    return session


def test_a_dispatch_sessions_claim_is_row_locks_that_end_with_its_transaction(pg_url, redis_url, tmp_path):
    """PostgreSQL: a dispatch job's claim writes nothing and commits nothing; the events stay its
    own while its transaction lasts (other claims skip them), and a rollback — a crash, a lost
    connection — frees them at once instead of after a lease."""
    from sqlalchemy import select

    from plugin.engine.claim import claim_events, holds_claims, retake

    app = _pg_app(pg_url, redis_url, tmp_path)
    with app.app_context():
        _events(10)
        held, other = _held_session(), _held_session()
        try:
            assert holds_claims(held) and not holds_claims(db.session)
            mine = claim_events(held, 4, 60)
            assert len(mine) == 4 and [r.id for r in mine.rows] == list(mine)
            assert held.in_transaction()  # the claim is the open transaction's row locks
            # nothing written: no lease on any event
            assert db.session.scalars(select(Event.claimed_until)).all() == [None] * 10
            db.session.commit()
            leased = claim_events(db.session, 100, 60)  # a lease claim skips the held events
            assert sorted(leased) == sorted(set(range(min(mine), min(mine) + 10)) - set(mine))
            held.rollback()  # the worker died: its events are free at once
            taken = claim_events(other, 100, 60)
            assert list(taken) == list(mine)
            # the first worker takes back only what nobody else holds
            assert list(retake(held, list(mine))) == []
            assert not held.in_transaction()  # nothing held: no transaction left open
            other.rollback()
            assert list(retake(held, list(mine))) == list(mine)
            held.rollback()
            # a claim that finds nothing leaves no transaction open either
            assert list(claim_events(other, 100, 60)) == list(mine)
            assert claim_events(held, 100, 60) == [] and not held.in_transaction()
        finally:
            held.close()
            other.close()


def test_concurrent_held_claims_are_disjoint(pg_url, redis_url, tmp_path):
    """Three dispatchers holding their claims until they mark them dispatched never share an event."""
    from sqlalchemy import update

    from plugin.engine.claim import claim_events

    app = _pg_app(pg_url, redis_url, tmp_path)
    with app.app_context():
        _events(600)
        claimed: list[list[int]] = []
        errors: list[BaseException] = []

        bind = db.engine

        def worker():
            session = _held_session(bind)
            try:
                while ids := claim_events(session, 50, 60):
                    claimed.append(list(ids))
                    table = Event.__table__
                    session.execute(
                        update(table).where(table.c.id.in_(list(ids))).values(dispatched_at=utcnow())
                    )
                    session.commit()  # T1: dispatched, the claim ends
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                session.close()

        _in_three_threads(worker)
        _assert_disjoint(errors, claimed, 600)


def test_a_batch_whose_rollback_let_another_worker_take_an_event_dispatches_the_rest(
    pg_url, redis_url, tmp_path, fake_receiver
):
    """T1 hits a run that exists already and rolls back, which frees the batch's held claim; if
    another worker takes one of its events in that moment, the batch is planned anew with the
    events it could lock again, and the taken one is left to its new holder: every event gets
    its run once, none is sent twice."""
    from sqlalchemy import select

    from plugin.api.context import rt
    from plugin.engine import claim as claim_module
    from plugin.engine.dispatch import FlowIndex
    from plugin.jobs import worker as tasks
    from plugin.jobs.worker import make_engine
    from plugin.storage.models import Flow, Run
    from tests.conftest import TOKEN, settle_late
    from tests.engine.test_ingest_and_runs import _flow

    app = _pg_app(pg_url, redis_url, tmp_path)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    assert (
        client.post("/api/v1/flows", json=_flow(fake_receiver.url + "/h", event="event.custom")).status_code
        == 201
    )
    for i in range(3):
        assert client.post("/api/v1/events", json={"id": f"e{i}", "name": "go"}).status_code == 202
    with app.app_context():
        flow_id = db.session.scalar(select(Flow.id))
        first, second, third = db.session.scalars(select(Event.id).order_by(Event.id)).all()
        db.session.add(  # the first event's run exists already (a run of an earlier dispatch)
            Run(
                id="earlier",
                flow_id=flow_id,
                flow_name="t",
                definition={},
                trigger="event",
                event_type="custom_event",
                dedupe_key=f"ev:{first}:{flow_id}",
                status="succeeded",
                context={},
            )
        )
        db.session.commit()
        thief = _held_session()
        real_retake, stolen = claim_module.retake, []

        def retake_after_a_theft(session, ids):
            if not stolen:  # another worker takes the third event while the rollback freed it
                stolen.extend(real_retake(thief, [third]))
            return real_retake(session, ids)

        claim_module.retake = retake_after_a_theft
        try:
            runtime = rt()
            dispatched = tasks._dispatch_all(
                runtime,
                FlowIndex(runtime.registry),
                make_engine(runtime, db.engine),
                db.session,
                time.monotonic(),
            )
        finally:
            claim_module.retake = real_retake
        assert stolen == [third]
        assert dispatched == 3  # claimed: the batch of three
        db.session.rollback()
        assert db.session.get(Event, first).dispatched_at is not None
        assert db.session.get(Event, second).dispatched_at is not None
        assert db.session.get(Event, third).dispatched_at is None  # its new holder's
        thief.rollback()  # the other worker lets go: it is dispatched by the next claim
        thief.close()
        assert (
            tasks._dispatch_all(
                runtime,
                FlowIndex(runtime.registry),
                make_engine(runtime, db.engine),
                db.session,
                time.monotonic(),
            )
            == 1
        )
        settle_late()
        db.session.rollback()
        keys = sorted(db.session.scalars(select(Run.dedupe_key)).all())
        assert keys == sorted(f"ev:{e}:{flow_id}" for e in (first, second, third))
    assert sorted(d.payload["event"]["id"] for d in fake_receiver.deliveries) == ["e1", "e2"]
    assert not fake_receiver.duplicates
