"""Sends slower than the run lease keep their runs: the sweeper must not resume them.

Runs are stored leased for ``lease_seconds``; sends to a slow receiver can take longer than that.
If the lease ran out mid-send, the sweeper's ``stale_work`` would hand the runs to a second
executor, which sends again what is still in flight (a duplicate Slack message: no idempotency
key there). The batch renews the lease of its runs while it waits for them, and once it moves on
(the send stage's patience), the late settler renews the leases of the calls still in flight
until it has settled them.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine.batch import dispatch_batch
from plugin.engine.claim import claim_events
from plugin.engine.dispatch import FlowIndex, stale_work
from plugin.jobs.worker import make_engine
from plugin.storage.models import Run, utcnow
from plugin.transport.sendstage import LANE_THREADS
from tests.conftest import settle_late
from tests.engine.test_ingest_and_runs import _flow
from tests.fakes._http import Reply

# renewed every third of the lease: a run is seen stale only if the renewing thread does not run
# for two thirds of it. At 1.0 s a loaded CI machine starved the test process that long once (7 runs
# seen stale; a 0.95-s sleep injected into the dispatch thread reproduces it); 2.0 s tolerates a
# 1.3-s stall, and the sends still outlive the lease
LEASE = 2.0
DELAY = 2.5


def test_a_batch_slower_than_the_lease_keeps_its_runs_leased(app, client, fake_receiver):
    assert (
        client.post("/api/v1/flows", json=_flow(fake_receiver.url + "/h", event="event.custom")).status_code
        == 201
    )
    count = LANE_THREADS  # as many as one receiver's lane sends at once: all in flight together
    for i in range(count):
        assert client.post("/api/v1/events", json={"id": f"e{i}", "name": "go"}).status_code == 202
    fake_receiver.slow(DELAY, times=count)
    seen_stale: list[str] = []
    errors: list[BaseException] = []

    def dispatch():
        try:
            with app.app_context():
                runtime = rt()
                engine = make_engine(runtime, db.engine)
                engine.lease_seconds = LEASE
                ids = claim_events(db.session, 200, 60)
                assert len(ids) == count
                dispatch_batch(db.session, engine, FlowIndex(runtime.registry), ids, runtime.redis)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    worker = threading.Thread(target=dispatch)
    started = time.monotonic()
    worker.start()
    with app.app_context():
        # what the sweeper would resume, looked at while the sends are still going on
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.2)
            db.session.rollback()  # a fresh snapshot each look (SQLite and PostgreSQL alike)
            _events, runs = stale_work(db.session, now=utcnow())
            seen_stale += runs
            if (
                not worker.is_alive()
                and db.session.scalars(select(Run.status)).all() == ["succeeded"] * count
            ):
                break
    worker.join()
    assert not errors, errors
    assert time.monotonic() - started > LEASE  # the sends did outlive the lease, and stale_work looked
    assert seen_stale == []
    with app.app_context():
        db.session.rollback()
        assert db.session.scalars(select(Run.status)).all() == ["succeeded"] * count
    webhook_ids = [r.headers["webhook-id"] for r in fake_receiver.requests]
    assert len(webhook_ids) == len(set(webhook_ids)) == count  # each sent once


def test_a_batch_waiting_past_the_lease_for_answers_that_keep_coming_keeps_its_runs(
    app, client, fake_receiver
):
    """The stage waits as long as a destination keeps answering: seven calls to a receiver known to
    answer, each answered 0.45 s after the one before, the last well past the lease. The waiting
    batch itself renews their lease (settle._gather); no call is left to the late settler."""
    url = fake_receiver.url + "/h"
    assert client.post("/api/v1/flows", json=_flow(url, event="event.custom")).status_code == 201
    errors: list[BaseException] = []

    def dispatch(ids_wanted: int) -> None:
        try:
            with app.app_context():
                runtime = rt()
                engine = make_engine(runtime, db.engine)
                engine.lease_seconds = LEASE
                ids = claim_events(db.session, 200, 60)
                assert len(ids) == ids_wanted
                dispatch_batch(db.session, engine, FlowIndex(runtime.registry), ids, runtime.redis)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    # a first call answered at once: the stage now knows the receiver answers (its full patience)
    assert client.post("/api/v1/events", json={"id": "warm", "name": "go"}).status_code == 202
    dispatch(1)
    assert not errors, errors
    count = LANE_THREADS - 1  # all in flight together, the lane never full
    for i in range(count):
        fake_receiver.force(Reply(200, "ok", delay=0.45 * (i + 1)))
        assert client.post("/api/v1/events", json={"id": f"e{i}", "name": "go"}).status_code == 202
    worker = threading.Thread(target=dispatch, args=(count,))
    started = time.monotonic()
    worker.start()
    seen_stale: list[str] = []
    with app.app_context():
        while worker.is_alive():
            time.sleep(0.1)
            db.session.rollback()  # a fresh snapshot each look (SQLite and PostgreSQL alike)
            seen_stale += stale_work(db.session, now=utcnow())[1]
    worker.join()
    assert not errors, errors
    assert time.monotonic() - started > LEASE  # the batch did wait past the lease
    assert seen_stale == []
    settle_late()  # an answer that outlived its waiter's patience is stored by the late settler
    with app.app_context():
        db.session.rollback()
        assert db.session.scalars(select(Run.status)).all() == ["succeeded"] * (count + 1)
    webhook_ids = [r.headers["webhook-id"] for r in fake_receiver.requests]
    assert len(webhook_ids) == len(set(webhook_ids)) == count + 1  # each sent once


def test_a_batch_smaller_than_the_limit_is_not_followed_by_an_empty_claim(app, client, monkeypatch):
    """At low rates each wake-up claimed twice (the second found nothing): events committed after
    a claim that was not full push a wake-up token instead (tests/e2e/test_dispatch_wakeup.py)."""
    from plugin.engine import claim as claim_module
    from plugin.jobs import worker as tasks

    claims: list[int] = []

    def counting_claim(session, limit, lease_seconds):
        claim = claim_events(session, limit, lease_seconds)
        claims.append(len(claim))
        return claim

    monkeypatch.setattr(claim_module, "claim_events", counting_claim)
    for i in range(3):
        assert client.post("/api/v1/events", json={"id": f"s{i}", "name": "go"}).status_code == 202
    with app.app_context():
        runtime = rt()
        run = lambda: tasks._dispatch_all(
            runtime,
            FlowIndex(runtime.registry),
            make_engine(runtime, db.engine),
            db.session,
            time.monotonic(),
        )
        assert run() == 3
        assert claims == [3]

        # a full batch may have left more behind: claim again, until one is not full
        monkeypatch.setattr(tasks, "BATCH_SIZE", 2)
        for i in range(5):
            assert client.post("/api/v1/events", json={"id": f"t{i}", "name": "go"}).status_code == 202
        assert run() == 5
        assert claims == [3, 2, 2, 1]
