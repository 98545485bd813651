"""A hard wall-clock bound for Python code: past its deadline, a block is interrupted by an exception.

The template sandbox checks its time budget between operations, but one operation may itself be a
long Python loop (``textwrap`` behind ``|wordwrap``, a key function of ``|sort``...). One daemon
thread per process keeps the deadlines of the blocks running in any thread; when one passes, it
raises :class:`Overrun` in that thread (``PyThreadState_SetAsyncExc``). The exception arrives at the
thread's next bytecode, so C code that runs long is not interrupted: such code must be bounded by
size (the sandbox does that). Each block is fired at most once, and a block that ends just as it is
fired clears the pending exception before it leaves, so :class:`Overrun` never escapes the block's
caller's ``except``.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
        self.cond = threading.Condition(threading.Lock())
        self.heap: list[tuple[float, int, int]] = []  # (deadline, block id, thread id)
        self.live: set[int] = set()
        self.ids = itertools.count()
        self.thread: threading.Thread | None = None

    def enter(self, seconds: float) -> int:
        with self.cond:
            block = next(self.ids)
            heapq.heappush(self.heap, (time.monotonic() + seconds, block, threading.get_ident()))
            self.live.add(block)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="template-watchdog", daemon=True)
                self.thread.start()
            elif self.heap[0][1] == block:
                self.cond.notify()
        return block

    def leave(self, block: int) -> None:
        with self.cond:
            if block in self.live:
                self.live.discard(block)
            else:  # fired as it ended: drop the exception if it has not arrived yet
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
                self.live.discard(block)
                _set_async_exc(thread, Overrun)


_WATCHDOG = _Watchdog()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Run the block with at most ``seconds`` of wall-clock time; past it, :class:`Overrun` is raised
    in it. The caller catches :class:`Overrun` around the ``with`` statement."""
    block = _WATCHDOG.enter(seconds)
    try:
        yield
    finally:
        _WATCHDOG.leave(block)
