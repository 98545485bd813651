"""The RQ jobs a worker runs: dispatch, runs, the sweep and the prune.

Each worker process builds its context once (runtime, database, flow index, engine) from the
environment, without Flask, and runs every job with it.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from plugin.jobs.queue import (
    DISPATCH_FLAG,
    HELPER_FLAG,
    WAKE_LIST,
    DispatchFlag,
    dispatch_queue,
    enqueue_dispatch,
    enqueue_run_in,
    enqueue_runs,
    enqueue_runs_at,
    notify_dispatch,
)
from plugin.lifecycle import STOPPING

log = logging.getLogger(__name__)


class Context(NamedTuple):
    """What every job of this worker process shares."""

    config: dict[str, Any]
    runtime: Any  # plugin.runtime.Runtime
    database: Any  # plugin.storage.db.Database
    index: Any  # plugin.engine.index.FlowIndex
    engine: Any  # plugin.engine.calls.Engine


@lru_cache(maxsize=1)
def context() -> Context:
    """This worker's context (the environment's configuration, with :data:`WORKER_CONFIG`)."""
    from plugin.config import from_env
    from plugin.engine.index import FlowIndex
    from plugin.runtime import build_runtime
    from plugin.storage.db import WORKER_CONFIG, Database
    from plugin.storage.suppressions import Checker

    global GATHER_SECONDS  # noqa: PLW0603 - read by the dispatch loop, set once per process
    config = {**from_env(), **WORKER_CONFIG}
    GATHER_SECONDS = config["DISPATCH_GATHER_MS"] / 1000
    runtime = build_runtime(config)
    database = Database(config)
    runtime.services.suppressed = Checker(database.engine)
    return Context(
        config, runtime, database, FlowIndex(runtime.registry), make_engine(runtime, database.engine)
    )


@lru_cache(maxsize=1)
def _settlers():
    """This worker's batch settlers (settlers.Settlers): dispatch hands them each batch's sends."""
    from plugin.engine.settlers import Settlers

    ctx = context()
    return Settlers(ctx.engine, ctx.database.new_session)


def make_engine(runtime, bind=None):
    """The engine of this process: its retries go through RQ's scheduler; with a database
    ``bind``, the send stage's late calls are settled by a :class:`LateSettler` on its own session
    (the one already settling into that database, given this engine), without, an engine for
    direct calls only, which wait inline."""
    from sqlalchemy.orm import Session

    from plugin.engine.calls import Engine
    from plugin.engine.settlers import LateSettler
    from plugin.storage.connections import ConnectionLookup
    from plugin.transport.sendstage import stage

    config = runtime.config

    def schedule(run_id: str, seconds: float) -> None:
        try:
            enqueue_run_in(runtime.queue, run_id, seconds)
        except Exception:  # noqa: BLE001 - the sweeper picks it up from the database
            log.warning("could not schedule run %s; the sweeper will", run_id)

    def schedule_many(runs) -> None:
        try:
            enqueue_runs_at(runtime.queue, runs)
        except Exception:  # noqa: BLE001 - the sweeper picks them up from the database
            log.warning("could not schedule %d runs; the sweeper will", len(runs))

    engine = Engine(
        runtime.registry,
        runtime.secrets,
        runtime.services,
        lease_seconds=int(config.get("LEASE_SECONDS", 120)),
        retry_base=float(config.get("RETRY_BASE_SECONDS", 5.0)),
        max_attempts=int(config.get("MAX_ATTEMPTS", 8)),
        schedule=schedule,
        schedule_many=schedule_many,
        connections=ConnectionLookup(lambda: Session(bind=bind)) if bind is not None else None,
        timezone=config.get("TIMEZONE") or "Europe/Moscow",
    )
    if bind is None:
        return engine
    settler = stage().on_late
    if isinstance(settler, LateSettler) and settler.bind is bind:
        # one settler per database in a process: the runs handed to it stay in its hands
        settler.engine = engine
    else:
        stage().on_late = LateSettler(engine, lambda: Session(bind=bind), bind=bind)
    stage().on_stall = on_stall(runtime.services)
    return engine


def on_stall(services):
    """What the send stage does with a destination that holds every place of its lane unanswered:
    its circuit opens, so its other calls become scheduled retries at once."""

    def stalled(lane: str, calls: int, seconds: float) -> None:
        if "://" in lane:
            services.destinations.trip(lane, f"{calls} requests unanswered for {seconds:.0f} s")

    return stalled


BATCH_SIZE = 200
JOB_BUDGET_SECONDS = 20.0
MAX_JOB_SECONDS = 300.0  # a dispatch job that goes on past its budget ends by this (its timeout: 600 s)
LINGER_SECONDS = 2  # an idle dispatch job waits this long for the next event (BLPOP: whole seconds)
SETTLE_WAIT = 5.0
INLINE_HANDOFF = 16
"""A dispatch batch runs at most this many handed-off runs itself (step by step); more go to
other workers as ``execute_runs`` jobs, so a thousand deals for a rate-limited CRM never keep the
next events from their flows."""
# a woken dispatch job claims this long after the first waiting event's commit (gather_left): at a
# few hundred events a second the events of those milliseconds share one claim, one transaction
# and one settle instead of one each (AUTOMATION_DISPATCH_GATHER_MS; 0 claims at once)
GATHER_SECONDS = 0.04  # the default; a worker's context sets it from its configuration
COALESCE_SECONDS = 0.05  # at its end, a dispatch job waits this long at most for its batches to settle


@contextmanager
def _session():
    """The thread's session for one job, removed at its end (as Flask's app context did)."""
    database = context().database
    try:
        yield database.session
    finally:
        database.session.remove()


def _run_all(session, engine, run_ids: list[str]) -> None:
    from plugin.engine.execution import execute_isolated

    for run_id in run_ids:
        execute_isolated(session, engine, run_id)


def dispatch_pending(helper: bool = False) -> int:
    """Claim and dispatch stored events in batches; between batches wait briefly to be woken.

    Ends when nothing came for ``LINGER_SECONDS`` (after clearing the flag and one last look).
    Past ``JOB_BUDGET_SECONDS`` it goes on while another worker is free for the runs' queue
    (dispatch jobs have a queue of their own that workers serve first), else it yields: its
    successor waits at the back of the runs' queue, so run jobs are never starved. A ``helper``
    (enqueued on a backlog) only drains the backlog and ends.
    """
    ctx = context()
    settlers = _settlers()
    started = time.monotonic()
    with _session() as session:
        try:
            if helper:
                return _dispatch_all(ctx.runtime, ctx.index, ctx.engine, session, started, settlers)
            return _dispatch_loop(ctx.runtime, ctx.index, ctx.engine, settlers, session, started)
        finally:
            settlers.wait_idle(SETTLE_WAIT)  # the job's batches settled, unless a receiver holds them


def _dispatch_loop(runtime, index, engine, settlers, session, started: float) -> int:
    """The body of :func:`dispatch_pending`."""
    redis, flag = runtime.redis, DispatchFlag(runtime.redis)
    dispatched, began = 0, started
    while True:
        flag.hold()  # alive: new events wake this job
        redis.delete(WAKE_LIST)  # tokens so far are for events the claims below will find
        dispatched += _dispatch_all(runtime, index, engine, session, started, settlers)
        if STOPPING.is_set() or time.monotonic() - began >= MAX_JOB_SECONDS:
            redis.delete(DISPATCH_FLAG)
            notify_dispatch(runtime.queue)  # a successor takes over (within the job's timeout)
            return dispatched
        if time.monotonic() - started >= JOB_BUDGET_SECONDS:
            if not _runs_have_a_worker(runtime):
                # yield: the flag stays (events only leave wake-up tokens), the successor queues
                # behind the run jobs waiting now; the flag's expiry bounds how long
                flag.set()
                enqueue_dispatch(runtime.queue, behind_runs=True)
                return dispatched
            started = time.monotonic()  # another worker serves the runs: go on
        try:
            woken = redis.blpop([WAKE_LIST], timeout=LINGER_SECONDS)
        except Exception:  # noqa: BLE001 - connection lost (Redis restarted, client killed): wind down
            log.warning("dispatch job could not wait for events; ending")
            woken = None
        if woken:
            wait = gather_left(woken[1], time.time())
            if wait:
                time.sleep(wait)
            continue
        flag.clear()
        # an event committed while the flag was still set may have woken no one: one last look
        last = _dispatch_all(runtime, index, engine, session, started, settlers)
        dispatched += last
        if not last:
            return dispatched


def gather_left(token: bytes, now: float) -> float:
    """How much longer a woken dispatch job waits before it claims: :data:`GATHER_SECONDS` from
    the commit of the first event waiting (the wake-up token's time, see ``notify_dispatch``).

    Events committed while the job was busy with the batch before have waited already: counted
    from the wake-up, they would wait a whole gather more on top of that batch's time. A token in
    the future (another host's clock ahead) or unreadable waits the whole gather."""
    try:
        since = now - float(token)
    except ValueError:
        since = 0.0
    return min(GATHER_SECONDS, max(0.0, GATHER_SECONDS - since))


def _runs_have_a_worker(runtime) -> bool:
    """Whether a worker is left for the runs' queue besides those running dispatch jobs."""
    from rq import Worker
    from rq.registry import StartedJobRegistry

    try:
        workers = Worker.count(connection=runtime.redis, queue=runtime.queue)
        dispatching = StartedJobRegistry(queue=dispatch_queue(runtime.queue)).count
    except Exception:  # unknown: yield, as when there is no other worker
        log.warning("could not count the workers; the dispatch job yields", exc_info=True)
        return False
    return workers - dispatching >= 1


def _dispatch_all(runtime, index, engine, session, started: float, settlers=None) -> int:
    """Claim and dispatch until no event is left (or the job's budget is spent); with
    ``settlers``, each batch's sends are settled by them while the next batch is claimed."""
    from plugin.engine.batch import dispatch_isolating
    from plugin.engine.claim import claim_events, hold_claims

    hold_claims(session)  # PostgreSQL: a batch's events are row locks until its T1 (claim.py)
    dispatched = 0
    while time.monotonic() - started < JOB_BUDGET_SECONDS and not STOPPING.is_set():
        if settlers is not None:
            # the batches in hand are usually settled within milliseconds: waiting that long lets
            # events gather into the next claim, as when dispatch settled its batches itself (a
            # batch per claim costs the same statements however few events it holds); a batch
            # held by a silent receiver is not waited for past COALESCE_SECONDS
            settlers.wait_idle(COALESCE_SECONDS)
        ids = claim_events(session, BATCH_SIZE, engine.lease_seconds)
        if not ids:
            break
        if len(ids) == BATCH_SIZE and runtime.redis.set(HELPER_FLAG, b"1", nx=True, ex=5):
            enqueue_dispatch(runtime.queue, helper=True)  # a backlog: let another worker help
        engine.start_waits()
        try:
            handoff = dispatch_isolating(session, engine, index, ids, runtime.redis, settlers)
        except Exception:
            session.rollback()
            log.exception("dispatch of %d events failed; their claims end and they are retried", len(ids))
            raise
        if len(handoff) > INLINE_HANDOFF:  # many: other workers take them, dispatch goes on
            enqueue_runs(runtime.queue, handoff)
        else:
            _run_all(session, engine, handoff)
        dispatched += len(ids)
        if len(ids) < BATCH_SIZE:
            # the claim took every event then visible; one committed since has pushed a wake-up
            # token (this job holds the flag), so the caller's BLPOP returns at once for it. A
            # second claim here found nothing at low rates: half of all claims
            break
    return dispatched


def execute_run(run_id: str) -> None:
    engine = context().engine
    engine.start_waits()
    with _session() as session:
        _run_all(session, engine, [run_id])


def execute_runs(run_ids: list[str]) -> None:
    """Resume these runs: due retries many at once (resume.resume_runs), the rest step by step."""
    from plugin.engine.resume import resume_runs

    engine = context().engine
    engine.start_waits()
    with _session() as session:
        try:
            rest = resume_runs(session, engine, run_ids)
        except Exception:
            session.rollback()
            log.exception("resuming %d runs together failed; one by one", len(run_ids))
            rest = run_ids
        _run_all(session, engine, rest)


def sweep() -> dict:
    """Periodic: N-day due events (recorded, then dispatched like any event), then anything
    accepted but not finished (lost jobs, expired leases)."""
    from sqlalchemy import update

    from plugin.engine import journeys, waits
    from plugin.engine.dispatch import stale_work, sweep_days
    from plugin.storage.models import Run, utcnow

    runtime = context().runtime
    with _session() as session:
        # due (flow, order) pairs are recorded as events, committed; dispatch makes their runs
        due = sweep_days(session, runtime.registry)
        if due:
            notify_dispatch(runtime.queue)
        events, runs = stale_work(session)
        # journeys (issue #20): waits past their timeout, cancellations put off while a worker held the run
        timed = [r for r in waits.sweep_timeouts(session) if r not in set(runs)]
        journeys.sweep_cancels(session, utcnow())
        if runs:
            session.execute(
                update(Run).where(Run.id.in_(runs)).values(next_attempt_at=utcnow() + timedelta(seconds=30))
            )
            session.commit()
        if events:
            notify_dispatch(runtime.queue)
        enqueue_runs(runtime.queue, runs + timed)
        if due or events or runs:
            log.info(
                "sweep: %d due, %d events re-dispatched, %d runs resumed", len(due), len(events), len(runs)
            )
        return {"due": len(due), "events": len(events), "runs": len(runs), "timed_out": len(timed)}


def alerts() -> list[dict]:
    """Periodic: the scenarios' failure alerts that are due (``plugin.engine.alerts``)."""
    from plugin.engine import alerts as failure_alerts

    ctx = context()
    with _session() as session:
        return failure_alerts.check(
            session, ctx.engine, ctx.runtime.redis, public_url=ctx.config.get("PUBLIC_URL") or ""
        )


def attribution() -> int:
    """Periodic: the orders paid since the last pass attributed to scenarios
    (``plugin.engine.attribution``), a backlog in passes for up to 4 minutes; safe to overlap
    with another scheduler's."""
    from plugin.engine.attribution import catch_up

    with _session() as session:
        return catch_up(session, seconds=240)


def prune() -> dict[str, Any]:
    """The scheduler's periodic prune of old engine rows (see ``plugin.jobs.scheduler.schedule_jobs``)."""
    from plugin.engine import retention

    ctx = context()
    redis = ctx.runtime.redis
    database_url = ctx.config["SQLALCHEMY_DATABASE_URI"]
    marks = retention.load_marks(redis, database_url)
    started = time.monotonic()
    with _session() as session:
        from plugin.engine.journeys import prune_locks
        from plugin.storage.models import utcnow

        prune_locks(session, utcnow())  # the run modes' lock rows no transaction uses any more
        try:
            pruned = retention.prune(session, retention.Policy.from_config(ctx.config), marks=marks)
        finally:
            retention.save_marks(
                redis, database_url, marks
            )  # what was done stays done, even if a chunk failed
    retention.record(redis, pruned)
    retention.report(pruned, time.monotonic() - started)
    return pruned.as_dict()
