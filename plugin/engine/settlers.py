"""The threads that settle sends off the dispatcher's thread: :class:`Settlers` take whole
dispatched batches, the :class:`LateSettler` the calls that outlived their waiter.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from plugin.engine import rollup
from plugin.engine.calls import Engine, Outcome
from plugin.engine.execution import apply_outcome, execute_isolated
from plugin.engine.settle import send_and_settle
from plugin.storage import bulk
from plugin.storage.models import Run, Step, utcnow
from plugin.transport.sendstage import stage

log = logging.getLogger(__name__)

_RUNS = Run.__table__
# a batch taken within this share of a lease from its runs' lease: the lease still holds (only a
# lapsed lease lets the sweeper take a run), so it is neither checked nor renewed here — one
# statement and one commit less per batch (the renewals during its sends count from its start)
RECHECK_AFTER = 1 / 3
IDLE_EXIT = 15.0  # a settler thread with no batch for this long ends


class Settlers:
    """Threads that send and settle dispatched batches while the dispatcher goes on claiming, so
    that claiming and recording events never wait for a receiver (each thread on its own
    database session). At most ``depth`` batches are in hand; past that ``submit`` waits. Up to
    ``threads`` threads start as batches come; one that has had none for ``IDLE_EXIT`` seconds
    ends, its session closed: an idle worker holds none."""

    def __init__(self, engine: Engine, sessions, threads: int = 2, depth: int = 2):
        self.engine = engine
        self.sessions = sessions
        self._todo: queue.Queue = queue.Queue()
        self._room = threading.BoundedSemaphore(depth)
        self._depth = depth
        self._threads = threads
        self._lock = threading.Lock()
        self._alive = 0  # threads running
        self._waiting = 0  # ...of which waiting for a batch
        # batches handed over and not yet taken. Counted down together with ``_waiting`` when a
        # thread takes one (the queue's own size drops first): a batch submitted while a thread
        # was taking the one before starts a thread, instead of waiting behind that batch
        self._queued = 0

    def submit(self, runs, graphs, sends, first_views, leased_at: float) -> None:
        """Hand over a stored batch: its runs leased at ``leased_at`` (``time.monotonic()``)."""
        self._room.acquire()
        with self._lock:  # with the put, so that a thread leaving for want of work sees it
            self._todo.put((runs, graphs, sends, first_views, leased_at))
            self._queued += 1
            if self._queued > self._waiting and self._alive < self._threads:
                self._alive += 1
                threading.Thread(target=self._work, name=f"settle-{self._alive}", daemon=True).start()

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

    @property
    def alive(self) -> int:
        with self._lock:
            return self._alive

    def _next(self) -> tuple | None:
        """The next batch; None when none came for ``IDLE_EXIT`` seconds (the thread ends)."""
        while True:
            with self._lock:
                self._waiting += 1
            try:
                batch = self._todo.get(timeout=IDLE_EXIT)
            except queue.Empty:
                with self._lock:
                    self._waiting -= 1
                    if self._todo.empty():
                        self._alive -= 1
                        return None
                continue
            with self._lock:
                self._waiting -= 1
                self._queued -= 1
            return batch

    def _work(self) -> None:
        session = self.sessions()
        try:
            while (batch := self._next()) is not None:
                self._settle(session, *batch)
        finally:
            session.close()

    def _settle(self, session: Session, runs, graphs, sends, first_views, leased_at: float) -> None:
        try:
            if time.monotonic() - leased_at >= self.engine.lease_seconds * RECHECK_AFTER:
                runs, sends = _still_held(session, self.engine, runs, sends)
                graphs = {run["id"]: graphs[run["id"]] for run in runs}
                leased_at = time.monotonic()
            settled = send_and_settle(session, self.engine, runs, graphs, sends, first_views, leased_at)
            for run_id in settled:
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
    """Settles the calls the send stage finished after their waiter had moved on (one thread), and
    keeps the leases of their runs meanwhile (another), so the sweeper does not resume them.

    Each late outcome is stored on its step. A run is taken on from there (step by step) once its
    waiter has handed it over (:meth:`hand_over`: what the waiter had is stored) and none of its
    calls is in flight or unsettled any more: walked sooner, it would send again the steps still
    ``running`` (a second SMS: issue #15). The leases are kept by a thread of their own, as settling
    may take long (a walk waits for each of its calls) while other runs' calls are still out."""

    def __init__(self, engine: Engine, sessions, *, bind=None):
        self.engine = engine
        self.sessions = sessions  # callable: a new SQLAlchemy Session (each thread its own)
        self.bind = bind  # the database it settles into (worker.make_engine: one settler per database)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._unsettled: Counter[str] = Counter()  # run → its ended calls not stored yet
        self._handed: set[str] = set()  # runs their waiters are done with (the settling thread's)
        self._pending = 0  # items queued and not yet processed (guarded by _lock)

    def __call__(self, key, outcome, error) -> None:
        with self._lock:
            self._unsettled[key[0]] += 1
            self._pending += 1
        self._queue.put((key, outcome, error))
        self.start()

    def hand_over(self, run_id: str) -> None:
        """The waiter of ``run_id`` is done with it, what it had stored; its late calls are ours."""
        with self._lock:
            self._pending += 1
        self._queue.put((None, run_id, None))
        self.start()

    def idle(self) -> bool:
        """Whether every late call has ended, been stored, and its run walked on (or given up to
        the sweeper): nothing of this process's late work is left. An in-process drain (tests,
        a shell) waits for it before it reads the runs."""
        if stage().late_in_flight():
            return False
        with self._lock:
            return self._pending == 0 and not self._unsettled and not self._handed

    def start(self) -> None:
        if not self._threads:
            with self._lock:
                if not self._threads:
                    for target, name in ((self._loop, "late-settler"), (self._keep, "late-leases")):
                        thread = threading.Thread(target=target, name=name, daemon=True)
                        thread.start()
                        self._threads.append(thread)

    def _loop(self) -> None:
        session = self.sessions()
        while True:
            try:
                key, outcome, error = self._queue.get(timeout=self._renew_every())
            except queue.Empty:
                if stage().on_late is not self:  # replaced (a new engine in this process): done
                    _discard(session)
                    return
                continue
            run_id = outcome if key is None else key[0]
            try:
                if key is None:
                    self._handed.add(run_id)
                else:
                    try:
                        self.settle(session, key, outcome, error)
                    finally:
                        self._settled(run_id)
                self._take_on(session, run_id)
            except Exception:
                log.exception("could not settle a late call of %s; the sweeper resumes it", run_id)
                self._handed.discard(run_id)
                _discard(session)  # the database may be gone: a fresh session for the next one
                session = self.sessions()
            finally:
                with self._lock:
                    self._pending -= 1

    def _renew_every(self) -> float:
        return max(self.engine.lease_seconds / 3, 0.1)

    def _settled(self, run_id: str) -> None:
        with self._lock:
            self._unsettled[run_id] -= 1
            if self._unsettled[run_id] <= 0:
                del self._unsettled[run_id]

    def _held(self) -> set[str]:
        """Runs with calls in flight or unsettled; the stage is asked first: a call leaves it only
        once counted here (sendstage.SendStage._work)."""
        in_flight = {key[0] for key in stage().late_in_flight()}
        with self._lock:
            return in_flight | set(self._unsettled)

    def _keep(self) -> None:
        """Renew the leases of the runs held, every third of a lease, whatever the settling does."""
        session = None
        while True:
            time.sleep(self._renew_every())
            run_ids = sorted(self._held())
            if not run_ids:
                if stage().on_late is not self:
                    break
                continue
            try:
                session = session or self.sessions()
                self._renew(session, run_ids)
            except Exception:
                log.exception("could not renew the leases of %d runs with late calls", len(run_ids))
                if session is not None:
                    _discard(session)
                session = None
        if session is not None:
            _discard(session)

    def _renew(self, session: Session, run_ids: list[str]) -> None:
        session.execute(
            update(Run)
            .where(Run.id.in_(run_ids), Run.status == "running")
            .values(lease_until=utcnow() + timedelta(seconds=self.engine.lease_seconds))
            .execution_options(synchronize_session=False)
        )
        session.commit()

    def settle(self, session: Session, key, outcome, error) -> bool:
        """Store a late call's outcome on its step; False when the step is no longer waiting for it."""
        run_id, _graph, node_id = key
        if error is not None:
            log.error("late call of %s/%s raised %r", run_id, node_id, error)
            outcome = Outcome("failed", error=f"internal error: {error!r}")
        step = session.query(Step).filter(Step.run_id == run_id, Step.node_id == node_id).one_or_none()
        if step is None or step.status != "running":
            session.rollback()
            return False
        apply_outcome(step, outcome)
        run = session.get(Run, run_id)
        if run is not None:  # its latency in the histogram, as the waiter counts the calls it saw
            rollup.after_call(session, run, node_id, outcome)
        session.commit()
        return True

    def _take_on(self, session: Session, run_id: str) -> str | None:
        """Walk a run handed over once nothing of it is in flight or unsettled."""
        if run_id not in self._handed or run_id in self._held():
            return None
        self._handed.discard(run_id)
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
