"""The send stage: actions' outgoing calls run on this process's send threads, one lane per
destination, and whoever waits for them waits only so long.

A dispatch batch or a resumed run hands its calls to the stage and collects the outcomes as they
come. Each call goes into the lane of its destination; a lane is served by at most
``LANE_THREADS`` threads at once, so a receiver that accepts and never answers holds a few
threads, never all of them. When the waiter has heard nothing for ``IDLE_PATIENCE`` seconds it
moves on: calls not started yet are handed back as :class:`Cancelled` (the engine schedules them
again), and calls in flight are *late* — the stage settles each when it ends, through
:attr:`SendStage.on_late` (the engine stores the outcome and takes the run on from there).

The threads are daemon threads of our own rather than a ``ThreadPoolExecutor``: the executor
joins its threads at interpreter exit, so a process asked to stop would wait for a call to a
silent receiver (up to the HTTP timeout); a late call is resumed from the database instead. They
start as calls come (up to ``THREADS``; a destination that answers in a millisecond gets one at a
time, :mod:`plugin.transport.pace`) and a thread that has had nothing to do for ``THREAD_IDLE_EXIT``
seconds ends: an idle worker holds none (~45 KB of stack and thread state each).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from plugin.lifecycle import STOPPING
from plugin.transport.pace import Pace

log = logging.getLogger(__name__)

THREADS = 32
LANE_THREADS = 8  # threads one destination may hold at once
STALL_AFTER = 3.0  # a lane whose every thread has waited this long without an answer is stalled
IDLE_PATIENCE = 1.0  # a waiter gives up on a lane that has ended no call for this long...
FRESH_PATIENCE = 0.1  # ...or this long, when it has not answered a call in time lately (a new or dead one)
BLOCKED_AFTER = 0.2  # ...at once when all its places are held and none has answered for this long
ANSWERED_RECENTLY = 60.0
POLL = 0.05
MAX_WAIT = 10.0  # ...or after this long in all
THREAD_IDLE_EXIT = 15.0  # a send thread with nothing to do for this long ends
STEP_PATIENCE = 1.0  # a single call (the step-by-step path) is waited for this long


class Cancelled(Exception):
    """The call was not started: its destination's lane was still busy when the waiter moved on."""

    def __init__(self, lane: str, queued: int):
        super().__init__(f"{lane} is busy ({queued} calls waiting)")
        self.lane = lane


class Late(Exception):
    """The call is still in flight; the stage settles it when it ends."""


class Ticket:
    """One call handed to the stage."""

    __slots__ = ("abandoned", "args", "fn", "key", "lane", "reply", "started")

    def __init__(self, key: Any, lane: str, fn: Callable, args: tuple, reply: queue.SimpleQueue):
        self.key = key
        self.lane = lane
        self.fn = fn
        self.args = args
        self.reply = reply
        self.abandoned = False
        self.started = False


class SendStage:
    """This process's send threads and lanes, started on first use."""

    def __init__(self, threads: int = THREADS, lane_threads: int = LANE_THREADS, pace: Pace | None = None):
        self.threads = threads
        self.lane_threads = lane_threads
        self.pace = pace or Pace()  # a destination that answers in a millisecond: one thread at a time
        self.on_late: Callable[[Any, Any, BaseException | None], None] | None = None
        self.on_stall: Callable[[str, int, float], None] | None = None  # (lane, calls, seconds)
        self._stalled: set[str] = set()  # lanes reported stalled, until one of their calls ends
        self._cond = threading.Condition()
        self._lanes: dict[str, deque[Ticket]] = {}
        self._busy: dict[str, int] = {}  # lane → threads serving it now
        self._ready: deque[str] = deque()  # lanes with queued calls and a free place, round-robin
        self._late: set[Ticket] = set()
        self._progress: dict[str, float] = {}  # lane → when a call of it last ended
        self._answered: dict[str, float] = {}  # lane → when a call of it last ended within IDLE_PATIENCE
        self._alive = 0  # send threads running
        self._waiting = 0  # ...of which waiting for a call
        # ...of which notified and not yet running again: a notified thread counts as waiting until
        # it gets the lock back, and taken for an idle one by a second ``run`` in that moment it
        # started one thread too few (that run's calls waited behind the first run's)
        self._signalled = 0

    # -- the waiter's side ---------------------------------------------------------------------

    def run(
        self,
        items: list[tuple[Any, str, Callable, tuple]],
        *,
        idle_patience: float = IDLE_PATIENCE,
        max_wait: float = MAX_WAIT,
    ) -> Iterator[tuple[Any, Any, BaseException | None] | None]:
        """Call ``fn(*args)`` for every ``(key, lane, fn, args)``; yield ``(key, result, error)`` as
        each ends, and ``None`` now and then while nothing ends (the caller may renew leases).

        A call whose lane has finished nothing for ``idle_patience`` seconds (a receiver that
        does not answer) — or at once when every place of its lane is held and nothing answered
        for ``BLOCKED_AFTER`` — or any call still pending after ``max_wait``, is given up: yielded
        with a :class:`Cancelled` error if it never started, else left to :attr:`on_late`."""
        reply: queue.SimpleQueue = queue.SimpleQueue()
        tickets = [Ticket(key, lane, fn, args, reply) for key, lane, fn, args in items]
        begun = time.monotonic()
        self._check_stalls(begun)
        refused = []
        with self._cond:
            for ticket in tickets:
                if self._blocked(ticket.lane, begun):  # every place held, nothing answered: no wait
                    refused.append(ticket)
                    continue
                if ticket.lane not in self._lanes and ticket.lane not in self._busy:
                    self._progress[ticket.lane] = begun  # an idle lane: its patience starts now
                self._lanes.setdefault(ticket.lane, deque()).append(ticket)
                self._mark_ready(ticket.lane)
            self._wake(self._wanted({t.lane for t in tickets}, begun))
        for ticket in refused:
            yield ticket.key, None, Cancelled(ticket.lane, self.lane_threads)
        pending = set(tickets).difference(refused)
        while pending:
            try:
                ticket, key, result, error = reply.get(timeout=POLL)
            except queue.Empty:
                now = time.monotonic()
                self._check_stalls(now)
                if now - begun >= max_wait or STOPPING.is_set():
                    stalled = list(pending)
                else:
                    with self._cond:
                        self._spread(now)
                        stalled = [t for t in pending if self._given_up(t, now, begun, idle_patience)]
                if not stalled:
                    yield None
                    continue
                for ticket, key, result, error in self._abandon(stalled, reply):
                    pending.discard(ticket)
                    yield key, result, error
                pending.difference_update(stalled)
                continue
            pending.discard(ticket)
            yield key, result, error

    def _given_up(self, ticket: Ticket, now: float, begun: float, idle_patience: float) -> bool:
        """Whether the waiter stops waiting for ``ticket`` (held by the lock).

        A call not started while nothing of its lane is in flight waits for one of our threads, not
        for its receiver: it is kept while a thread is free or coming (on a starved machine a new
        thread may take longer than a fresh lane's patience to run, and cancelling then would put
        off calls nobody had even tried). Otherwise the lane's patience runs from the last call
        that ended or, for a lane that was idle, from its first call's start."""
        if not ticket.started and not self._busy.get(ticket.lane) and self._thread_free():
            return False
        lane = ticket.lane
        return now - self._progress.get(lane, begun) >= self._patience(lane, now, idle_patience) or (
            self._blocked(lane, now)
        )

    def _thread_free(self) -> bool:
        """Whether a thread is idle or may still be started (held by the lock)."""
        return self._alive < self.threads or self._waiting > self._signalled

    def _patience(self, lane: str, now: float, idle_patience: float) -> float:
        """How long a waiter waits for a lane that ends nothing: ``idle_patience`` for a receiver
        that has answered in time lately, less for one not known to answer (held by the lock)."""
        answered = self._answered.get(lane)
        if answered is not None and now - answered < ANSWERED_RECENTLY:
            return idle_patience
        return min(idle_patience, FRESH_PATIENCE)

    def _blocked(self, lane: str, now: float) -> bool:
        """Whether every place of ``lane`` is held and none has ended a call for a while (held by
        the lock): a call queued there would only wait."""
        busy, since = self._busy.get(lane, 0), now - self._progress.get(lane, now)
        return busy >= self.lane_threads and since >= BLOCKED_AFTER

    def call(self, key: Any, lane: str, fn: Callable, *args: Any, patience: float = STEP_PATIENCE):
        """One call, waited for while its lane makes progress (``patience`` seconds without, twice
        that in all); raises :class:`Late` when it is left in flight, :class:`Cancelled` when it
        never started."""
        for item in self.run([(key, lane, fn, args)], idle_patience=patience, max_wait=2 * patience):
            if item is None:
                continue
            _key, result, error = item
            if error is not None:
                raise error
            return result
        raise Late(key)

    def _check_stalls(self, now: float) -> None:
        """Report lanes whose every thread has waited ``STALL_AFTER`` seconds without an answer."""
        with self._cond:
            stalls = [
                (lane, busy, now - self._progress.get(lane, now))
                for lane, busy in self._busy.items()
                if busy >= self.lane_threads
                and lane not in self._stalled
                and now - self._progress.get(lane, now) >= STALL_AFTER
            ]
            self._stalled.update(lane for lane, _busy, _seconds in stalls)
        for lane, busy, seconds in stalls:
            handler = self.on_stall
            if handler is not None:
                try:
                    handler(lane, busy, seconds)
                except Exception:
                    log.exception("could not report the stalled lane %s", lane)

    def late_in_flight(self) -> list[Any]:
        """Keys of the late calls still in flight, or ended and not yet handed to :attr:`on_late`
        (their runs' leases are to be kept)."""
        with self._cond:
            return [t.key for t in self._late]

    def hand_over(self, owner: Any) -> None:
        """The waiter is done with ``owner`` (a run: the first item of its calls' keys) while some of
        its calls are late: :attr:`on_late` takes it on once they have all been settled."""
        handler = getattr(self.on_late, "hand_over", None)
        if handler is not None:
            handler(owner)

    def _abandon(self, stalled: list[Ticket], reply: queue.SimpleQueue):
        """Give up ``stalled``: returns ``(ticket, key, result, error)`` for each outcome to yield
        now — whatever had already arrived (any of the waiter's calls) and the cancelled ones."""
        cancelled, late = [], 0
        with self._cond:
            for ticket in stalled:
                ticket.abandoned = True
                lane = self._lanes.get(ticket.lane)
                if not ticket.started and lane is not None and ticket in lane:
                    lane.remove(ticket)
                    if not lane:
                        del self._lanes[ticket.lane]
                    cancelled.append((ticket, ticket.key, None, Cancelled(ticket.lane, len(lane))))
                elif not ticket.started:
                    continue  # taken by a thread a moment ago: it ends as late
                else:
                    self._late.add(ticket)
                    late += 1
        out = []
        while True:  # outcomes that arrived before the flag was set are still the waiter's
            try:
                ticket, key, result, error = reply.get_nowait()
            except queue.Empty:
                break
            with self._cond:
                self._late.discard(ticket)
            out.append((ticket, key, result, error))
        if late:
            log.info("%d calls still in flight are settled when they end", late)
            start = getattr(self.on_late, "start", None)
            if start is not None:
                start()  # from now on it keeps their runs' leases
        return out + cancelled

    # -- the threads ---------------------------------------------------------------------------

    def _wanted(self, lanes, now: float) -> int:
        """Threads wanted for the queued calls of ``lanes``, each as many as its pace allows (held
        by the lock)."""
        wanted = 0
        for lane in lanes:
            queued, busy = len(self._lanes.get(lane) or ()), self._busy.get(lane, 0)
            since = now - self._progress.get(lane, now)
            wanted += max(
                0, min(queued, self.pace.threads(lane, self.lane_threads, busy, queued, since) - busy)
            )
        return wanted

    def _spread(self, now: float) -> None:
        """Wake threads for the queued calls of lanes their pace held to fewer threads, whose call
        has since overrun; less the threads already on their way to a call (held by the lock)."""
        coming = self._alive - self._waiting - sum(self._busy.values()) + self._signalled
        self._wake(self._wanted(list(self._lanes), now) - max(0, coming))

    def _mark_ready(self, lane: str) -> None:
        if self._lanes.get(lane) and self._busy.get(lane, 0) < self.lane_threads and lane not in self._ready:
            self._ready.append(lane)

    def _wake(self, calls: int) -> None:
        """Wake idle threads for ``calls`` new calls and start threads for those they cannot take,
        up to ``threads`` in all (held by the lock)."""
        idle = self._waiting - self._signalled
        for _ in range(min(calls - idle, self.threads - self._alive)):
            self._alive += 1
            threading.Thread(target=self._work, name=f"send-{self._alive}", daemon=True).start()
        self._notify(min(calls, idle))

    def _notify(self, threads: int) -> None:
        if threads > 0:
            self._signalled += threads
            self._cond.notify(threads)

    def _next(self) -> Ticket | None:
        """The next call to make; None when there was none for ``THREAD_IDLE_EXIT`` seconds (the
        thread ends)."""
        with self._cond:
            while True:
                while self._ready:
                    lane = self._ready.popleft()
                    calls = self._lanes.get(lane)
                    if not calls or self._busy.get(lane, 0) >= self.lane_threads:
                        continue
                    ticket = calls.popleft()
                    if not calls:
                        del self._lanes[lane]
                    ticket.started = True
                    busy = self._busy.get(lane, 0)
                    if not busy:  # an idle lane's patience starts with its first call
                        self._progress[lane] = time.monotonic()
                    self._busy[lane] = busy + 1
                    self._mark_ready(lane)  # round-robin: the lane goes to the back if it has more
                    return ticket
                self._waiting += 1
                try:
                    woken = self._cond.wait(THREAD_IDLE_EXIT)
                finally:
                    self._waiting -= 1
                    # one notification is spent, whoever runs first: a thread whose wait timed out
                    # as it was notified says "not woken", and either way it takes what is ready
                    self._signalled = max(0, self._signalled - 1)
                if not woken and not self._ready:
                    self._alive -= 1
                    return None

    def _work(self) -> None:
        while True:
            ticket = self._next()
            if ticket is None:
                return
            started = time.monotonic()
            result, error = None, None
            try:
                result = ticket.fn(*ticket.args)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiter
                error = exc
            with self._cond:
                ended = self._progress[ticket.lane] = time.monotonic()
                self.pace.ended(ticket.lane, ended - started)
                if ended - started < IDLE_PATIENCE:
                    self._answered[ticket.lane] = ended
                self._stalled.discard(ticket.lane)
                busy = self._busy[ticket.lane] - 1
                if busy:
                    self._busy[ticket.lane] = busy
                else:
                    del self._busy[ticket.lane]
                late = ticket.abandoned
                if self._lanes.get(ticket.lane):
                    self._mark_ready(ticket.lane)
                    if late or self._wanted((ticket.lane,), ended) > 1:  # else this thread takes it
                        self._notify(min(1, self._waiting - self._signalled))
                if not late:
                    ticket.reply.put((ticket, ticket.key, result, error))
            if late:
                # still counted in flight until its settler has it: at no moment may a late call
                # be neither here nor there, or its run would be taken on with its step unsettled
                try:
                    self._settle_late(ticket, result, error)
                finally:
                    with self._cond:
                        self._late.discard(ticket)

    def _settle_late(self, ticket: Ticket, result: Any, error: BaseException | None) -> None:
        handler = self.on_late
        if handler is None:
            log.error(
                "late call %s ended with nobody to settle it; it is resumed after its lease", ticket.key
            )
            return
        try:
            handler(ticket.key, result, error)
        except Exception:
            log.exception("could not settle the late call %s; it is resumed after its lease", ticket.key)


_STAGE: SendStage | None = None
_STAGE_LOCK = threading.Lock()


def stage() -> SendStage:
    """This process's send stage."""
    global _STAGE  # noqa: PLW0603 - one stage per process, made on first use
    if _STAGE is None:
        with _STAGE_LOCK:
            if _STAGE is None:
                _STAGE = SendStage()
    return _STAGE
