"""RQ entry points. Jobs carry ids only (JSON-serialised); the database holds the truth.

This is the only engine module that knows RQ. Each worker process builds the Flask app once and
runs every job inside its application context.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from rq import Queue

from plugin.engine.lifecycle import STOPPING
from plugin.leanredis import lean_script

log = logging.getLogger(__name__)

JOB_PREFIX = "plugin.engine.tasks."


@lru_cache(maxsize=1)
def _app():
    from plugin.app import WORKER_CONFIG, create_app

    return create_app(WORKER_CONFIG)


@lru_cache(maxsize=1)
def _state():
    from plugin.engine.dispatch import FlowIndex

    app = _app()
    runtime = app.extensions["automation"]
    with app.app_context():
        return runtime, FlowIndex(runtime.registry), make_engine(runtime)


@lru_cache(maxsize=1)
def _settlers():
    """This worker's batch settlers (batch.Settlers): dispatch hands them each batch's sends."""
    from sqlalchemy.orm import Session

    from plugin.engine.batch import Settlers
    from plugin.extensions import db

    _runtime, _index, engine = _state()
    with _app().app_context():
        bind = db.engine
    return Settlers(engine, lambda: Session(bind=bind))


def make_engine(runtime):
    """The engine of this process (inside an app context): its retries go through RQ's scheduler,
    and the send stage's late calls are settled by a :class:`LateSettler` on its own session."""
    from sqlalchemy.orm import Session

    from plugin.engine.execution import Engine, LateSettler
    from plugin.engine.sendstage import stage
    from plugin.extensions import db

    config = runtime.config

    def schedule(run_id: str, seconds: float) -> None:
        try:
            enqueue_run_in(runtime.queue, run_id, seconds)
        except Exception:  # noqa: BLE001 - the sweeper picks it up from the database
            log.warning("could not schedule run %s; the sweeper will", run_id)

    def schedule_many(runs: list[tuple[str, datetime]]) -> None:
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
    )
    try:
        bind = db.engine
    except RuntimeError:  # no app context: an engine for direct calls only, which wait inline
        return engine
    stage().on_late = LateSettler(engine, lambda: Session(bind=bind))
    stage().on_stall = on_stall(runtime.services)
    return engine


def on_stall(services):
    """What the send stage does with a destination that holds every place of its lane unanswered:
    its circuit opens, so its other calls become scheduled retries at once."""

    def stalled(lane: str, calls: int, seconds: float) -> None:
        if "://" in lane:
            services.destinations.trip(lane, f"{calls} requests unanswered for {seconds:.0f} s")

    return stalled


def enqueue_run(queue: Queue, run_id: str) -> None:
    queue.enqueue(JOB_PREFIX + "execute_run", run_id, job_timeout=600, result_ttl=0, failure_ttl=86400)


def enqueue_run_in(queue: Queue, run_id: str, seconds: float) -> None:
    if seconds <= 0:
        enqueue_run(queue, run_id)
    else:
        queue.enqueue_in(
            timedelta(seconds=seconds), JOB_PREFIX + "execute_run", run_id, job_timeout=600, result_ttl=0
        )


def enqueue_runs_at(queue: Queue, runs: list[tuple[str, datetime]], chunk: int = 200) -> None:
    """Resume runs at their (naive UTC) times: one scheduled RQ job per second and chunk, not one
    per run (a dead receiver leaves a retry behind for every event addressed to it)."""
    by_second: dict[int, list[str]] = {}
    for run_id, at in runs:
        second = math.ceil(at.replace(tzinfo=UTC).timestamp())
        by_second.setdefault(second, []).append(run_id)
    for second, ids in sorted(by_second.items()):
        when = datetime.fromtimestamp(second, UTC)
        for start in range(0, len(ids), chunk):
            queue.enqueue_at(when, JOB_PREFIX + "execute_runs", ids[start : start + chunk], job_timeout=600,
                             result_ttl=0, failure_ttl=86400)


DISPATCH_FLAG = "automation:dispatch:pending"
WAKE_LIST = "automation:dispatch:wake"
HELPER_FLAG = "automation:dispatch:helper"
BATCH_SIZE = 200
JOB_BUDGET_SECONDS = 20.0
LINGER_SECONDS = 2  # an idle dispatch job waits this long for the next event (BLPOP: whole seconds)
SETTLE_WAIT = 5.0
COALESCE_SECONDS = 0.05  # at its end, a dispatch job waits this long at most for its batches to settle
FLAG_SECONDS = 10  # the flag outlives a crashed job by at most this


def notify_dispatch(queue: Queue) -> None:
    """Make sure a dispatch job is on its way for events just committed (one Redis round trip).

    While a dispatch job is alive it holds the flag, so this only pushes a wake-up token that the
    job (waiting in BLPOP between batches) takes at once: an event reaches its flow in about a
    millisecond instead of an RQ job's start-up. With no job alive, the flag is free and this
    enqueues one. A job clears the flag *before* its last look for events, so an event committed
    after that look enqueues the next job: nothing waits for the sweeper.
    """
    if lean_script(queue.connection, _NOTIFY_LUA)(keys=[DISPATCH_FLAG, WAKE_LIST], args=[FLAG_SECONDS]):
        _enqueue_dispatch(queue)


# SET flag NX (no job alive: enqueue one), else leave one wake-up token: one command, one round trip
_NOTIFY_LUA = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 1 end
redis.call('RPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], 0, 0)
return 0
"""


def _enqueue_dispatch(queue: Queue) -> None:
    queue.enqueue(JOB_PREFIX + "dispatch_pending", job_timeout=600, result_ttl=0, failure_ttl=86400)


def _run_all(runtime, engine, run_ids: list[str]) -> None:
    from plugin.engine.execution import execute_isolated
    from plugin.extensions import db

    for run_id in run_ids:
        execute_isolated(db.session, engine, run_id)


def dispatch_pending() -> int:
    """Claim and dispatch stored events in batches; between batches wait briefly to be woken.

    Ends when nothing came for ``LINGER_SECONDS`` (after clearing the flag and one last look) or
    past ``JOB_BUDGET_SECONDS`` (then the next job is enqueued), so other jobs get the worker.
    """
    import time

    from plugin.extensions import db

    runtime, index, engine = _state()
    settlers = _settlers()
    started = time.monotonic()
    with _app().app_context():
        try:
            return _dispatch_loop(runtime, index, engine, settlers, db.session, started)
        finally:
            settlers.wait_idle(SETTLE_WAIT)  # the job's batches settled, unless a receiver holds them


def _dispatch_loop(runtime, index, engine, settlers, session, started: float) -> int:
    """The body of :func:`dispatch_pending`."""
    import time

    redis = runtime.redis
    dispatched = 0
    while True:
        redis.set(DISPATCH_FLAG, b"1", ex=FLAG_SECONDS)  # alive: new events wake this job
        redis.delete(WAKE_LIST)  # tokens so far are for events the claims below will find
        dispatched += _dispatch_all(runtime, index, engine, session, started, settlers)
        if time.monotonic() - started >= JOB_BUDGET_SECONDS or STOPPING.is_set():
            redis.delete(DISPATCH_FLAG)
            notify_dispatch(runtime.queue)  # a successor takes over; this worker is freed
            return dispatched
        try:
            woken = redis.blpop([WAKE_LIST], timeout=LINGER_SECONDS)
        except Exception:  # noqa: BLE001 - connection lost (Redis restarted, client killed): wind down
            log.warning("dispatch job could not wait for events; ending")
            woken = None
        if woken:
            continue
        try:
            redis.delete(DISPATCH_FLAG)
        except Exception:  # noqa: BLE001 - the flag expires by itself within FLAG_SECONDS
            log.warning("dispatch job could not clear its flag; it expires in %d s", FLAG_SECONDS)
        # an event committed while the flag was still set may have woken no one: one last look
        last = _dispatch_all(runtime, index, engine, session, started, settlers)
        dispatched += last
        if not last:
            return dispatched


def _dispatch_all(runtime, index, engine, session, started: float, settlers=None) -> int:
    """Claim and dispatch until no event is left (or the job's budget is spent); with
    ``settlers``, each batch's sends are settled by them while the next batch is claimed."""
    import time

    from plugin.engine.batch import claim_events, dispatch_isolating

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
            _enqueue_dispatch(runtime.queue)  # a backlog: let another worker help
        try:
            handoff = dispatch_isolating(session, engine, index, ids, runtime.redis, settlers)
        except Exception:
            session.rollback()
            log.exception("dispatch of %d events failed; their claims expire and they are retried", len(ids))
            raise
        _run_all(runtime, engine, handoff)
        dispatched += len(ids)
        if len(ids) < BATCH_SIZE:
            # the claim took every event then visible; one committed since has pushed a wake-up
            # token (this job holds the flag), so the caller's BLPOP returns at once for it. A
            # second claim here found nothing at low rates: half of all claims
            break
    return dispatched


def execute_run(run_id: str) -> None:
    runtime, _index, engine = _state()
    with _app().app_context():
        _run_all(runtime, engine, [run_id])


def execute_runs(run_ids: list[str]) -> None:
    """Resume these runs: due retries many at once (batch.resume_runs), the rest step by step."""
    from plugin.engine.batch import resume_runs
    from plugin.extensions import db

    runtime, _index, engine = _state()
    with _app().app_context():
        try:
            rest = resume_runs(db.session, engine, run_ids)
        except Exception:
            db.session.rollback()
            log.exception("resuming %d runs together failed; one by one", len(run_ids))
            rest = run_ids
        _run_all(runtime, engine, rest)


def sweep() -> dict:
    """Periodic: N-day due events (recorded, then dispatched like any event), then anything
    accepted but not finished (lost jobs, expired leases)."""
    from sqlalchemy import update

    from plugin.engine.dispatch import stale_work, sweep_days
    from plugin.extensions import db
    from plugin.storage.models import Run, utcnow

    runtime, _index, _engine = _state()
    with _app().app_context():
        # due (flow, order) pairs are recorded as events, committed; dispatch makes their runs
        due = sweep_days(db.session, runtime.registry)
        if due:
            notify_dispatch(runtime.queue)
        events, runs = stale_work(db.session)
        if runs:
            db.session.execute(
                update(Run).where(Run.id.in_(runs)).values(next_attempt_at=utcnow() + timedelta(seconds=30))
            )
            db.session.commit()
        if events:
            notify_dispatch(runtime.queue)
        for chunk in range(0, len(runs), 50):
            runtime.queue.enqueue(JOB_PREFIX + "execute_runs", runs[chunk : chunk + 50], job_timeout=600, result_ttl=0)
        if due or events or runs:
            log.info("sweep: %d due, %d events re-dispatched, %d runs resumed", len(due), len(events), len(runs))
        return {"due": len(due), "events": len(events), "runs": len(runs)}
