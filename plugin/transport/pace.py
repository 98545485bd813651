"""How many of the send stage's threads a destination gets at once: one while its calls answer
within a few milliseconds, as many as its lane allows as soon as they slow down or one overruns.

A dispatched batch holds ~10 calls to the same receiver. Handed to as many threads at once, each
call cost a thread's wake-up and its turns at the GIL beside the dispatcher's and settler's threads
(~12 voluntary context switches a call, ~0.44 ms of CPU in the send threads against ~0.13 ms of
Python; bench/README.md §12 round 10). A receiver that answers in a millisecond is served as fast
by one thread taking the calls in turn: one thread per :data:`SPREAD` seconds of its queued calls,
at the pace its last calls took.
"""

from __future__ import annotations

QUICK = 0.005  # a destination whose calls take less than this on average (seconds) is paced
SPREAD = 0.01  # ...one thread per this much of its queued calls' expected time
OVERRUN = 0.02  # ...and its whole lane once a call of it has run this long without one ending
WEIGHT = 0.2  # of the last call in the running average


class Pace:
    """The running average of each destination's call time (held by the send stage's lock)."""

    __slots__ = ("overrun", "quick", "spread", "took")

    def __init__(self, quick: float = QUICK, overrun: float = OVERRUN, spread: float = SPREAD):
        self.quick, self.overrun, self.spread = quick, overrun, spread
        self.took: dict[str, float] = {}

    def ended(self, lane: str, seconds: float) -> None:
        before = self.took.get(lane)
        self.took[lane] = seconds if before is None else before + WEIGHT * (seconds - before)

    def threads(self, lane: str, limit: int, busy: int, queued: int, since_progress: float) -> int:
        """Threads ``lane`` may have at once: ``limit`` unless its calls are quick and none of the
        ``busy`` ones has run ``overrun`` seconds since the lane last ended a call."""
        took = self.took.get(lane)
        if took is None or took >= self.quick or (busy and since_progress >= self.overrun):
            return limit
        return min(limit, 1 + int((queued + busy) * took / self.spread))
