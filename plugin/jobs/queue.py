"""RQ queueing: what the API and the engine's schedulers put on the queue. Jobs carry ids only
(JSON-serialised); the database holds the truth. The jobs themselves live in
:mod:`plugin.jobs.worker`, named here by path, so queueing never loads them."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta

from rq import Queue

from plugin.transport.redis_scripts import hot_script

log = logging.getLogger(__name__)

JOB_PREFIX = "plugin.jobs.worker."

DISPATCH_FLAG = "automation:dispatch:pending"
WAKE_LIST = "automation:dispatch:wake"
HELPER_FLAG = "automation:dispatch:helper"
FLAG_SECONDS = 10  # the flag outlives a crashed job by at most this


def enqueue_run(queue: Queue, run_id: str) -> None:
    queue.enqueue(JOB_PREFIX + "execute_run", run_id, job_timeout=600, result_ttl=0, failure_ttl=86400)


def enqueue_run_in(queue: Queue, run_id: str, seconds: float) -> None:
    if seconds <= 0:
        enqueue_run(queue, run_id)
    else:
        queue.enqueue_in(
            timedelta(seconds=seconds), JOB_PREFIX + "execute_run", run_id, job_timeout=600, result_ttl=0
        )


def enqueue_runs(queue: Queue, run_ids: list[str], chunk: int = 50) -> None:
    """Resume these runs now, ``chunk`` to a job."""
    for start in range(0, len(run_ids), chunk):
        queue.enqueue(
            JOB_PREFIX + "execute_runs", run_ids[start : start + chunk], job_timeout=600, result_ttl=0
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
            queue.enqueue_at(
                when,
                JOB_PREFIX + "execute_runs",
                ids[start : start + chunk],
                job_timeout=600,
                result_ttl=0,
                failure_ttl=86400,
            )


def notify_dispatch(queue: Queue) -> None:
    """Make sure a dispatch job is on its way for events just committed (one Redis round trip).

    While a dispatch job is alive it holds the flag, so this only pushes a wake-up token that the
    job (waiting in BLPOP between batches) takes at once: an event reaches its flow in about a
    millisecond instead of an RQ job's start-up. With no job alive, the flag is free and this
    enqueues one. A job clears the flag *before* its last look for events, so an event committed
    after that look enqueues the next job: nothing waits for the sweeper.

    The token is the time of the commit (this clock's, in seconds): the job's gather counts from
    the first event waiting, not from the moment the job got to it (plugin.jobs.worker.gather_left).
    """
    args = [FLAG_SECONDS, f"{time.time():.4f}"]
    if hot_script(queue.connection, _NOTIFY_LUA)(keys=[DISPATCH_FLAG, WAKE_LIST], args=args):
        enqueue_dispatch(queue)


# SET flag NX (no job alive: enqueue one), else leave one wake-up token, the oldest one kept: one
# command, one round trip
_NOTIFY_LUA = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 1 end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, 0)
return 0
"""


class DispatchFlag:
    """A dispatch job's flag (``DISPATCH_FLAG``: a job is alive, events only leave wake-up
    tokens), set again every fifth of its life rather than before every batch: one Redis round
    trip less per batch (3 % of a busy dispatch worker's CPU, py-spy), and it always outlives a
    BLPOP's wait (``plugin.jobs.worker.LINGER_SECONDS``). Once cleared it is set again at the next :meth:`hold`."""

    def __init__(self, redis):
        self.redis = redis
        self.due = 0.0

    def hold(self) -> None:
        """Set, unless set within the last fifth of its life."""
        if time.monotonic() >= self.due:
            self.set()

    def set(self) -> None:
        self.redis.set(DISPATCH_FLAG, b"1", ex=FLAG_SECONDS)
        self.due = time.monotonic() + FLAG_SECONDS / 5

    def clear(self) -> None:
        self.due = 0.0
        try:
            self.redis.delete(DISPATCH_FLAG)
        except Exception:  # noqa: BLE001 - the flag expires by itself within FLAG_SECONDS
            log.warning("dispatch job could not clear its flag; it expires in %d s", FLAG_SECONDS)


def dispatch_queue(queue: Queue) -> Queue:
    """The queue of dispatch jobs, beside ``queue``. Workers take from it first (RQ serves a
    worker's queues in order): a dispatch job that ends after its budget, or one that helps with a
    backlog, never waits behind a thousand run jobs of a rate-limited CRM (it did, up to 21 s,
    while every other flow's events waited undispatched)."""
    return Queue(queue.name + DISPATCH_SUFFIX, connection=queue.connection, serializer=queue.serializer)


DISPATCH_SUFFIX = ":dispatch"


def enqueue_dispatch(queue: Queue, *, helper: bool = False, behind_runs: bool = False) -> None:
    """A dispatch job, on the dispatch queue (``behind_runs``: at the back of the runs' queue, a
    job yielding its worker to them); a ``helper`` drains a backlog and ends."""
    target = queue if behind_runs else dispatch_queue(queue)
    args = (True,) if helper else ()
    target.enqueue(JOB_PREFIX + "dispatch_pending", *args, job_timeout=600, result_ttl=0, failure_ttl=86400)
