"""The threads that settle sends off the dispatcher's thread: :class:`Settlers` take whole
dispatched batches, the :class:`LateSettler` the calls that outlived their waiter.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from plugin.engine.calls import Engine, Outcome
from plugin.engine.execution import apply_outcome, execute_isolated
from plugin.engine.settle import send_and_settle
from plugin.storage import bulk
from plugin.storage.models import Run, Step, utcnow
from plugin.transport.sendstage import stage

log = logging.getLogger(__name__)

_RUNS = Run.__table__


class Settlers:
    """Threads that send and settle dispatched batches while the dispatcher goes on claiming, so
    that claiming and recording events never wait for a receiver (each thread on its own
    database session). At most ``depth`` batches are in hand; past that ``submit`` waits."""

    def __init__(self, engine: Engine, sessions, threads: int = 2, depth: int = 2):
        self.engine = engine
        self.sessions = sessions
        self._todo: queue.Queue = queue.Queue()
        self._room = threading.BoundedSemaphore(depth)
        self._depth = depth
        for n in range(threads):
            threading.Thread(target=self._work, name=f"settle-{n}", daemon=True).start()

    def submit(self, runs, graphs, sends, first_views) -> None:
        self._room.acquire()
        self._todo.put((runs, graphs, sends, first_views))

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every batch handed over is settled; False if that took over ``timeout``."""
        deadline = time.monotonic() + timeout
        taken = 0
        try:
            while taken < self._depth:
                if not self._room.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    return False
                taken += 1
            return True
        finally:
            for _ in range(taken):
                self._room.release()

    def _work(self) -> None:
        session = self.sessions()
        while True:
            runs, graphs, sends, first_views = self._todo.get()
            try:
                runs, sends = _still_held(session, self.engine, runs, sends)
                graphs = {run["id"]: graphs[run["id"]] for run in runs}
                for run_id in send_and_settle(session, self.engine, runs, graphs, sends, first_views):
                    execute_isolated(session, self.engine, run_id)
            except Exception:
                session.rollback()
                log.exception("settling a batch of %d runs failed; the sweeper resumes them", len(runs))
            finally:
                session.expunge_all()
                self._room.release()


def _still_held(session: Session, engine: Engine, runs: list[dict], sends: list[tuple]):
    """The runs of a handed-over batch whose lease has not run out while it waited for a settler,
    leased for another term; the others' sends are dropped (the sweeper has resumed, or will
    resume, those runs: sending here too would make a second attempt of each)."""
    now = utcnow()
    kept = set(
        session.execute(
            update(_RUNS)
            .where(
                bulk.among(session, _RUNS.c.id, [r["id"] for r in runs]),
                _RUNS.c.status == "running",
                _RUNS.c.lease_until > now,
            )
            .values(lease_until=now + timedelta(seconds=engine.lease_seconds))
            .returning(_RUNS.c.id)
        ).scalars()
    )
    session.commit()
    if len(kept) < len(runs):
        log.warning(
            "%d runs of a batch outlived their lease before a settler took it; the sweeper resumes them",
            len(runs) - len(kept),
        )
    return [r for r in runs if r["id"] in kept], [send for send in sends if send[0] in kept]


class LateSettler:
    """Settles the calls the send stage finished after their waiter had moved on (one thread).

    It stores the outcome on its step and takes the run on from there (step by step), and keeps
    the leases of runs whose calls are still in flight, so the sweeper does not resume them."""

    def __init__(self, engine: Engine, sessions):
        self.engine = engine
        self.sessions = sessions  # callable: a new SQLAlchemy Session (this thread's own)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, key, outcome, error) -> None:
        self._queue.put((key, outcome, error))
        self.start()

    def start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="late-settler", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        session = self.sessions()
        renew_every = max(self.engine.lease_seconds / 3, 0.1)
        renewed = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=renew_every)
            except queue.Empty:
                item = None
                if stage().on_late is not self:  # replaced (a new engine in this process): done
                    _discard(session)
                    return
            try:
                if time.monotonic() - renewed >= renew_every:
                    self._renew(session)
                    renewed = time.monotonic()
                if item is not None:
                    self.settle(session, *item)
            except Exception:
                log.exception("could not settle a late call %s", item[0] if item else "")
                _discard(session)  # the database may be gone: a fresh session for the next one
                session = self.sessions()

    def _renew(self, session: Session) -> None:
        run_ids = sorted({key[0] for key in stage().late_in_flight()})
        if not run_ids:
            return
        session.execute(
            update(Run)
            .where(Run.id.in_(run_ids), Run.status == "running")
            .values(lease_until=utcnow() + timedelta(seconds=self.engine.lease_seconds))
            .execution_options(synchronize_session=False)
        )
        session.commit()

    def settle(self, session: Session, key, outcome, error) -> str | None:
        run_id, _graph, node_id = key
        if error is not None:
            log.error("late call of %s/%s raised %r", run_id, node_id, error)
            outcome = Outcome("failed", error=f"internal error: {error!r}")
        step = session.query(Step).filter(Step.run_id == run_id, Step.node_id == node_id).one_or_none()
        if step is None or step.status != "running":
            session.rollback()
            return None
        apply_outcome(step, outcome)
        session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == "running")
            .values(status="queued", lease_until=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return execute_isolated(session, self.engine, run_id)


def _discard(session: Session) -> None:
    """Close a session whose connection may be dead (the database restarted): the thread that
    holds it must live on, so nothing here may raise."""
    try:
        session.close()
    except Exception:  # a dead connection fails even to roll back; the pool drops it
        log.warning("a late-settler session could not be closed cleanly", exc_info=True)
