"""A hard wall-clock bound for Python code: past its deadline, a block is interrupted by an exception.

The template sandbox checks its time budget between operations, but one operation may itself be a
long Python loop (``textwrap`` behind ``|wordwrap``, a key function of ``|sort``...). One daemon
thread per process keeps the deadlines of the blocks running in any thread; when one passes, it
raises :class:`Overrun` in that thread (``PyThreadState_SetAsyncExc``). The exception arrives at the
thread's next bytecode, so C code that runs long is not interrupted: such code must be bounded by
size (the sandbox does that).

An exception that arrives while the thread runs a garbage-collector callback or a ``__del__`` is
swallowed there (printed as "Exception ignored in ..."; seen in CI during a full collection), so a
block still running :data:`REFIRE` seconds after its exception is fired at again. It is fired at
only while the thread runs code called from the frame that opened the block (the ``with``
statement's frame, whose ``except Overrun`` catches it), never when that frame is on top or gone:
an exception cannot land in the opener's own handler or in code that runs after it. A block that
ends just as it is fired clears the pending exception before it leaves.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

REFIRE = 0.1
"""Seconds between the fires at a block whose exception was swallowed before it reached the block."""

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class Overrun(BaseException):
    """Raised in a thread whose block passed its deadline (a BaseException: ``except Exception`` in a
    library it interrupts does not swallow it)."""


class _Watchdog:
    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # an RQ work horse starts without the thread

    def _reset(self) -> None:
        # the blocks' threads take the bare lock: its C ``__enter__`` leaves no bytecode between the
        # acquiring and the ``with`` body where an arriving Overrun would keep the lock held
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.heap: list[tuple[float, int, int]] = []  # (deadline, block id, thread id)
        self.live: dict[int, FrameType] = {}  # block id -> the frame that opened it
        self.fired: set[int] = set()
        self.ids = itertools.count()
        self.thread: threading.Thread | None = None

    def enter(self, seconds: float, opener: FrameType) -> int:
        with self.lock:
            block = next(self.ids)
            heapq.heappush(self.heap, (time.monotonic() + seconds, block, threading.get_ident()))
            self.live[block] = opener
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="template-watchdog", daemon=True)
                self.thread.start()
            elif self.heap[0][1] == block:
                self.cond.notify()
        return block

    def leave(self, block: int) -> None:
        with self.lock:
            self.live.pop(block, None)
            if block in self.fired:  # fired as it ended: drop the exception if it has not arrived yet
                self.fired.discard(block)
                _set_async_exc(threading.get_ident(), ctypes.py_object())  # NULL clears

    def _run(self) -> None:
        with self.cond:
            while True:
                while self.heap and self.heap[0][1] not in self.live:
                    heapq.heappop(self.heap)
                if not self.heap:
                    self.cond.wait()
                    continue
                deadline, block, thread = self.heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                heapq.heappop(self.heap)
                where = _inside(sys._current_frames().get(thread), self.live[block])
                if where is None:  # the opener returned without leaving (its leave was cut short)
                    self.live.pop(block)
                    self.fired.discard(block)
                    continue
                if where:
                    _set_async_exc(thread, Overrun)
                    self.fired.add(block)
                heapq.heappush(self.heap, (time.monotonic() + REFIRE, block, thread))


def _inside(top: FrameType | None, opener: FrameType) -> bool | None:
    """Whether the thread whose innermost frame is ``top`` runs code called from ``opener`` (True),
    runs ``opener`` itself (False), or has left it (None)."""
    frame = top
    while frame is not None:
        if frame is opener:
            return frame is not top
        frame = frame.f_back
    return None


_WATCHDOG = _Watchdog()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Run the block with at most ``seconds`` of wall-clock time; past it, :class:`Overrun` is raised
    in it. The caller catches :class:`Overrun` around the ``with`` statement."""
    block = _WATCHDOG.enter(seconds, sys._getframe(2))  # past contextmanager's __enter__
    try:
        yield
    finally:
        _WATCHDOG.leave(block)
