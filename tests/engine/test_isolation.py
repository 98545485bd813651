"""One broken receiver slows only the runs addressed to it (issue: fault isolation).

Three flows fire on every event: one to a healthy receiver, one to a port that refuses
connections, one to a receiver that accepts and never answers (a black hole). Before, a dispatch
batch waited for its slowest send: the black hole held every batch for the HTTP timeout and the
healthy flow delivered nothing meanwhile.
"""

from __future__ import annotations

import socket
import time
from collections import Counter

import pytest
from sqlalchemy import select

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine.dispatch import FlowIndex
from plugin.jobs import worker as tasks
from plugin.jobs.worker import make_engine
from plugin.storage.models import Run, Step
from plugin.transport.destinations import published
from plugin.transport.sendstage import LANE_THREADS, STALL_AFTER
from tests.conftest import app_env, free_port, settle_late, wait_for
from tests.engine.test_ingest_and_runs import _flow

EVENTS = 30
HTTP_TIMEOUT = 8  # the silent receiver's calls end by it, well after its lane is seen stalled


@pytest.fixture
def env(database_url, redis_url, tmp_path):
    return app_env(database_url, redis_url, tmp_path / "data", AUTOMATION_HTTP_TIMEOUT=HTTP_TIMEOUT)


@pytest.fixture
def black_hole():
    """A TCP port that accepts connections (the kernel completes them) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def _dispatch(app) -> float:
    with app.app_context():
        runtime = rt()
        started = time.monotonic()
        tasks._dispatch_all(
            runtime,
            FlowIndex(runtime.registry),
            make_engine(runtime, db.engine),
            db.session,
            time.monotonic(),
        )
        return time.monotonic() - started


def _runs_by_flow(flows: dict[str, str]) -> dict[str, Counter]:
    db.session.rollback()
    out = {name: Counter() for name in flows}
    names = {flow_id: name for name, flow_id in flows.items()}
    for flow_id, status in db.session.execute(select(Run.flow_id, Run.status)):
        out[names[flow_id]][status] += 1
    return out


def _errors(flow_id: str) -> list[str]:
    rows = db.session.execute(
        select(Step.error)
        .join(Run, Run.id == Step.run_id)
        .where(Run.flow_id == flow_id, Step.node_id == "hook")
    )
    return [error or "" for (error,) in rows]


def test_a_refusing_and_a_silent_receiver_do_not_hold_the_healthy_flow(
    app, client, fake_receiver, black_hole
):
    refused = f"http://127.0.0.1:{free_port()}"
    flows = {}
    for name, url in (
        ("healthy", fake_receiver.url + "/h"),
        ("refused", refused + "/h"),
        ("silent", black_hole + "/h"),
    ):
        resp = client.post("/api/v1/flows", json={**_flow(url, event="event.custom"), "name": name})
        flows[name] = resp.get_json()["id"]
    for i in range(EVENTS):
        assert client.post("/api/v1/events", json={"id": f"e{i}", "name": "go"}).status_code == 202

    elapsed = _dispatch(app)
    # the batch did not wait for the silent receiver's timeout
    assert elapsed < HTTP_TIMEOUT / 2
    # (a healthy call that outlived the batch's patience on this busy machine is settled late)
    wait_for(lambda: len(fake_receiver.deliveries) == EVENTS, timeout=5, message="the healthy deliveries")
    with app.app_context():
        wait_for(
            lambda: _runs_by_flow(flows)["healthy"] == Counter(succeeded=EVENTS),
            timeout=5,
            message="the healthy runs succeeded",
        )
        runs = _runs_by_flow(flows)
        # none lost: every event has its run in each broken flow, waiting to be tried again
        assert runs["refused"] == Counter(waiting=EVENTS)
        assert sum(runs["silent"].values()) == EVENTS
        # the silent receiver holds its lane's places; the others wait their turn, not an attempt
        assert runs["silent"]["running"] == LANE_THREADS
        assert runs["silent"]["waiting"] == EVENTS - LANE_THREADS
        refusals = _errors(flows["refused"])
        assert sum("cannot connect" in e for e in refusals) >= 5
        # after 5 failures its circuit is open: no connection attempt, a scheduled retry
        assert any(e.startswith("receiver unavailable") and "circuit open" in e for e in refusals)
        circuits = published(rt().redis)
        assert circuits[refused.replace("localhost", "127.0.0.1") + ""]["state"] == "open"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'automation_destination_circuit_open{{destination="{refused}"' in metrics

    # the silent receiver has held every place of its lane for STALL_AFTER: its circuit opens, and
    # the next event's call to it is a scheduled retry at once
    time.sleep(STALL_AFTER + 0.5)
    assert client.post("/api/v1/events", json={"id": "late", "name": "go"}).status_code == 202
    assert _dispatch(app) < 2
    wait_for(lambda: len(fake_receiver.deliveries) == EVENTS + 1, timeout=5, message="the next delivery")
    with app.app_context():
        errors = _errors(flows["silent"])
        assert sum("receiver unavailable" in e and "unanswered" in e for e in errors) == 1, errors
        # both broken flows' runs of that event were stored waiting at once, no call attempted
        db.session.rollback()
        for name in ("refused", "silent"):
            run = db.session.scalars(
                select(Run).where(Run.flow_id == flows[name]).order_by(Run.created_at.desc())
            ).first()
            step = db.session.scalars(select(Step).where(Step.run_id == run.id, Step.node_id == "hook")).one()
            assert (run.status, step.status, step.attempts) == ("waiting", "retrying", 0)  # nothing went out
            assert step.error.startswith("receiver unavailable") and run.lease_until is None
            assert (run.next_attempt_at - run.created_at).total_seconds() >= 20  # the open period

    # the calls in flight end by the HTTP timeout; each is stored on its run, none is lost
    with app.app_context():

        def settled():
            runs = _runs_by_flow(flows)["silent"]
            return runs.get("running", 0) == 0 and sum(runs.values()) == EVENTS + 1

        wait_for(settled, timeout=20, message="the silent receiver's calls settled")
        timed_out = [e for e in _errors(flows["silent"]) if "timed out" in e]
        assert len(timed_out) == LANE_THREADS


def test_due_retries_are_resumed_together_and_sent_once_each(app, client, fake_receiver):
    """A receiver's backlog of retries is resumed as a batch (resume.resume_runs): leased in one
    statement, re-sent on the send stage, settled in bulk; every attempt counted, under the same
    webhook-id, and each run ends once."""
    from plugin.engine.resume import resume_runs

    assert (
        client.post("/api/v1/flows", json=_flow(fake_receiver.url + "/h", event="event.custom")).status_code
        == 201
    )
    fake_receiver.respond_with(*([503] * 4))  # fewer failures than the circuit's threshold
    for i in range(4):
        assert client.post("/api/v1/events", json={"id": f"r{i}", "name": "go"}).status_code == 202
    _dispatch(app)
    settle_late()  # a 503 that outlived the wait for a new destination (0.1 s) is stored after it
    with app.app_context():
        waiting = db.session.scalars(select(Run.id).where(Run.status == "waiting")).all()
        assert len(waiting) == 4
        time.sleep(1.0)  # AUTOMATION_RETRY_BASE_SECONDS=0.3: the retries are due
        assert resume_runs(db.session, make_engine(rt(), db.engine), [*list(waiting), "no-such-run"]) == []
    settle_late()
    with app.app_context():
        assert db.session.scalars(select(Run.status)).all() == ["succeeded"] * 4
        hooks = db.session.scalars(select(Step).where(Step.node_id == "hook")).all()
        assert [s.attempts for s in hooks] == [2] * 4 and all(s.status == "succeeded" for s in hooks)
    sent = Counter(r.headers["webhook-id"] for r in fake_receiver.requests)
    assert sorted(sent.values()) == [2] * 4  # the failed attempt and its retry, same id


def test_a_call_held_by_an_open_circuit_is_not_an_attempt_and_gives_up_after_the_retry_window():
    from plugin.engine.calls import Engine, held_outcome
    from plugin.transport.destinations import CircuitOpen

    engine = Engine(None, None, None, retry_base=1.0, max_attempts=3)  # retries would last 1 + 4 s
    refusal = CircuitOpen(
        "receiver unavailable: http://h:80 (cannot connect); circuit open", retry_after=30.0
    )
    first = held_outcome(engine, refusal, {"sent": "x"})
    assert (first.status, first.counted) == ("retrying", False)
    assert 30.0 <= first.resume_in <= 36.0 and first.state["sent"] == "x"
    again = held_outcome(engine, refusal, first.state)
    assert again.status == "retrying" and again.state["held_since"] == first.state["held_since"]
    late = held_outcome(engine, refusal, {"held_since": time.time() - 6})
    assert late.status == "failed" and "gave up" in late.error


def test_a_settler_drops_the_runs_whose_lease_ran_out_while_the_batch_waited(app, client, fake_receiver):
    """A batch handed to the settlers may wait behind others (a slow receiver). A run whose lease
    ran out meanwhile belongs to the sweeper now: the settler must not send it too (a second
    attempt: the fault-ledger test saw 2 attempts of a 410 before this)."""
    from datetime import timedelta

    from sqlalchemy import update

    from plugin.engine.batch import dispatch_batch
    from plugin.engine.claim import claim_events
    from plugin.engine.settlers import _still_held
    from plugin.storage.models import utcnow

    class Capture:
        def submit(self, runs, graphs, sends, first_views, leased_at):
            self.batch = (runs, sends)

    assert (
        client.post("/api/v1/flows", json=_flow(fake_receiver.url + "/h", event="event.custom")).status_code
        == 201
    )
    for i in range(3):
        assert client.post("/api/v1/events", json={"id": f"h{i}", "name": "go"}).status_code == 202
    with app.app_context():
        engine, capture = make_engine(rt(), db.engine), Capture()
        ids = claim_events(db.session, 200, 60)
        assert dispatch_batch(db.session, engine, FlowIndex(rt().registry), ids, rt().redis, capture) == []
        runs, sends = capture.batch
        expired = runs[0]["id"]
        db.session.execute(
            update(Run).where(Run.id == expired).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        kept_runs, kept_sends = _still_held(db.session, engine, runs, sends)
        assert sorted(r["id"] for r in kept_runs) == sorted(r["id"] for r in runs[1:])
        assert sorted(s[0] for s in kept_sends) == sorted(r["id"] for r in runs[1:])
        db.session.rollback()
        leases = dict(db.session.execute(select(Run.id, Run.lease_until)).all())
        assert leases[expired] < utcnow() and all(leases[r["id"]] > utcnow() for r in runs[1:])
    assert fake_receiver.deliveries == []  # nothing was sent by the capture


def test_a_settler_checks_the_leases_of_a_batch_taken_late_and_not_of_one_taken_at_once(
    app, client, fake_receiver
):
    """The settlers' threads themselves: a batch handed over a third of a lease or more after its
    runs were leased is checked (a run whose lease ran out is dropped, not sent) and the others
    leased anew; a batch taken at once is sent as it is, its leases neither read nor renewed (one
    statement and one commit less per batch at a few hundred events a second)."""
    from datetime import timedelta

    from sqlalchemy import event, update
    from sqlalchemy.orm import Session

    from plugin.engine.batch import dispatch_batch
    from plugin.engine.claim import claim_events
    from plugin.engine.settlers import Settlers
    from plugin.storage.models import utcnow

    class Capture:
        def submit(self, runs, graphs, sends, first_views, leased_at):
            self.batches.append((runs, graphs, sends, first_views, leased_at))

    flow = _flow(fake_receiver.url + "/h", event="event.custom")
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    with app.app_context():
        engine, capture = make_engine(rt(), db.engine), Capture()
        capture.batches = []
        for batch in ("late", "young"):
            for i in range(3):
                body = {"id": f"{batch}{i}", "name": "go"}
                assert client.post("/api/v1/events", json=body).status_code == 202
            ids = claim_events(db.session, 200, 60)
            assert (
                dispatch_batch(db.session, engine, FlowIndex(rt().registry), ids, rt().redis, capture) == []
            )
        (late_runs, *late_rest, late_at), (young_runs, *young_rest, young_at) = capture.batches
        expired = late_runs[0]["id"]
        db.session.execute(
            update(Run).where(Run.id == expired).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        leases = dict(db.session.execute(select(Run.id, Run.lease_until)).all())
        checks: list[str] = []

        def count(_conn, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("UPDATE RUNS SET LEASE_UNTIL"):
                checks.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            bind = db.engine
            settlers = Settlers(engine, lambda: Session(bind), threads=1)
            # the late batch: its runs leased a whole lease ago, as if it had waited that long
            settlers.submit(late_runs, *late_rest, late_at - engine.lease_seconds)
            assert settlers.wait_idle(30)
            assert len(checks) == 1  # its leases were checked and renewed, in one statement
            settlers.submit(young_runs, *young_rest, young_at)
            assert settlers.wait_idle(30)
            assert len(checks) == 1  # not those of the batch taken at once
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        settle_late()
        db.session.rollback()
        runs = {r.id: r for r in db.session.scalars(select(Run))}
    assert runs[expired].status == "running" and runs[expired].lease_until == leases[expired]  # the sweeper's
    assert all(runs[r["id"]].status == "succeeded" for r in late_runs[1:] + young_runs)
    assert len(fake_receiver.deliveries) == 5  # the run whose lease ran out was not sent


def test_a_job_sleeps_in_place_for_rate_limits_one_second_in_all_however_many_runs_it_holds(monkeypatch):
    """Each call may wait a short rate-limit pause in place, but the job's pauses together stop at
    ``INLINE_WAIT``: a job of fifty runs to one rate-limited CRM used to sleep half a second per
    run (25 s of a worker's time); past the budget a pause makes the step ``waiting`` instead."""
    from plugin.engine import calls

    clock = [1000.0]
    monkeypatch.setattr(calls.time, "monotonic", lambda: clock[0])
    engine = calls.Engine(None, None, None)
    assert engine.may_wait(0.5, 0.0)  # no job: each attempt has its own second
    assert not engine.may_wait(0.6, 0.5)  # ...and no more
    engine.start_waits()
    slept = 0.0
    for _run in range(50):
        if engine.may_wait(0.4, 0.0):
            clock[0] += 0.4
            slept += 0.4
    assert slept == pytest.approx(0.8)  # two pauses fit in the job's second; the other 48 wait in RQ
    engine.start_waits()  # the next job has its own second
    assert engine.may_wait(0.4, 0.0)


def test_a_big_handoff_goes_to_other_workers_and_dispatch_goes_on(app, client, fake_receiver):
    """A batch's runs that need the step-by-step path (here a second webhook after the first) are
    run by the dispatch job itself only when few; a thousand deals for a rate-limited CRM kept the
    next events from their flows for 20 s. More than ``INLINE_HANDOFF`` go to RQ as
    ``execute_runs`` jobs, and those finish them."""
    from rq import Queue

    flow = _flow(fake_receiver.url + "/first", event="event.custom")
    flow["nodes"].append(
        {"id": "second", "type": "action.webhook", "params": {"url": fake_receiver.url + "/2"}}
    )
    flow["edges"].append({"from": "hook", "to": "second"})
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    # one run first: the stage then knows the receiver answers and waits its full patience (1 s),
    # not a new destination's 0.1 s — a first call later than that is settled, not handed off
    assert client.post("/api/v1/events", json={"id": "warm", "name": "go"}).status_code == 202
    _dispatch(app)
    settle_late()
    with app.app_context():
        warm = db.session.scalars(select(Run.id)).all()
        assert db.session.scalars(select(Run.status)).all() == ["succeeded"]
    fake_receiver.reset()
    count = tasks.INLINE_HANDOFF + 4
    for i in range(count):
        assert client.post("/api/v1/events", json={"id": f"h{i}", "name": "go"}).status_code == 202
    _dispatch(app)
    with app.app_context():
        runtime = rt()
        queue = Queue(runtime.queue.name, connection=runtime.redis, serializer=runtime.queue.serializer)
        jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
        handed = [job.args[0] for job in jobs if job.func_name.endswith("execute_runs")]
        ids = [run_id for chunk in handed for run_id in chunk]
        assert len(ids) == count, [job.func_name for job in jobs]
        handed_runs = select(Run.status).where(Run.id.not_in(warm))
        assert set(db.session.scalars(handed_runs)) == {"queued"}
        assert len(fake_receiver.requests) == count  # the first webhooks went out in the batch
        tasks._run_all(db.session, make_engine(runtime, db.engine), ids)
        db.session.rollback()
        assert db.session.scalars(handed_runs).all() == ["succeeded"] * count
    assert sorted(r.path for r in fake_receiver.requests) == ["/2"] * count + ["/first"] * count


def test_a_dispatch_job_past_its_budget_yields_to_the_runs_only_when_no_other_worker_serves_them(
    app, monkeypatch
):
    """Dispatch jobs are served first (their own queue). Past its budget the dispatch job goes on
    while another worker is free for the runs' queue; with none (one worker, or every worker
    dispatching) its successor queues behind the run jobs, so a steady stream of events never
    starves them."""
    from rq import Worker
    from rq.registry import StartedJobRegistry

    from plugin.jobs.queue import DISPATCH_FLAG, dispatch_queue

    monkeypatch.setattr(tasks, "JOB_BUDGET_SECONDS", 0.0)
    monkeypatch.setattr(tasks, "LINGER_SECONDS", 1)
    with app.app_context():
        runtime = rt()
        runs, dispatch = runtime.queue, dispatch_queue(runtime.queue)
        index, engine = FlowIndex(runtime.registry), make_engine(runtime, db.engine)

        def loop():
            tasks._dispatch_loop(runtime, index, engine, None, db.session, time.monotonic())
            return [j.func_name for j in runs.get_jobs()], [j.func_name for j in dispatch.get_jobs()]

        assert not tasks._runs_have_a_worker(runtime)
        assert loop() == (["plugin.jobs.worker.dispatch_pending"], [])  # yielded, behind the runs
        assert runtime.redis.exists(DISPATCH_FLAG)  # events meanwhile only leave wake-up tokens
        runs.empty()
        runtime.redis.delete(DISPATCH_FLAG)

        other = Worker([dispatch, runs], connection=runtime.redis, serializer=runs.serializer)
        other.register_birth()
        try:
            assert tasks._runs_have_a_worker(runtime)
            assert loop() == ([], [])  # went on, then ended idle: nothing enqueued
            job = dispatch.enqueue("plugin.jobs.worker.dispatch_pending")
            started = StartedJobRegistry(queue=dispatch)  # the other worker is dispatching too:
            runtime.redis.zadd(started.key, {f"{job.id}:execution": time.time() + 60})
            assert not tasks._runs_have_a_worker(runtime)
        finally:
            other.register_death()


def test_a_dispatch_job_that_goes_on_after_its_last_look_holds_the_flag_again(app, monkeypatch):
    """The job refreshes its flag only every fifth of its life, not every batch; but after it
    cleared the flag for its last look and that look found events, it sets the flag again before
    its next claim — else every event meanwhile would enqueue another dispatch job."""
    from plugin.jobs.queue import DISPATCH_FLAG

    monkeypatch.setattr(tasks, "LINGER_SECONDS", 1)
    seen: list[bool] = []

    def dispatch_all(runtime, index, engine, session, started, settlers=None):
        seen.append(bool(runtime.redis.exists(DISPATCH_FLAG)))
        return 1 if len(seen) == 2 else 0  # the last look finds an event, the next finds none

    monkeypatch.setattr(tasks, "_dispatch_all", dispatch_all)
    with app.app_context():
        runtime = rt()
        runtime.redis.delete(DISPATCH_FLAG)
        assert tasks._dispatch_loop(runtime, None, None, None, db.session, time.monotonic()) == 1
        assert seen == [True, False, True, False]
        assert not runtime.redis.exists(DISPATCH_FLAG)
