"""The send stage's and the settlers' threads start as work comes and end when idle: an idle worker holds none."""

from __future__ import annotations

import threading
import time

from plugin.transport import sendstage
from plugin.transport.sendstage import SendStage


def _send_threads(stage: SendStage) -> int:
    with stage._cond:
        return stage._alive


def _threads_of(stage: SendStage) -> list[threading.Thread]:
    """The live threads running this stage's loop (other tests' stages have theirs)."""
    return [
        t for t in threading.enumerate() if getattr(getattr(t, "_target", None), "__self__", None) is stage
    ]


def _held_calls(stage: SendStage, lanes: list[str]):
    """One call per lane in ``lanes``, each held until ``release`` is set, run by a waiter thread:
    (release, started, results, waiter)."""
    release, started, results = threading.Event(), [], []

    def call(n):
        started.append(n)
        release.wait(5)
        return n

    items = [(n, lane, call, (n,)) for n, lane in enumerate(lanes)]
    waiter = threading.Thread(
        target=lambda: results.extend(i for i in stage.run(items, idle_patience=5, max_wait=5) if i)
    )
    waiter.start()
    return release, started, results, waiter


def _answered(stage: SendStage, lanes) -> None:
    """One quick call per lane: lanes that answered lately get the waiter's whole patience."""
    items = [(lane, lane, lambda: None, ()) for lane in lanes]
    assert [item[0] for item in stage.run(items, idle_patience=5, max_wait=5) if item]


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_threads_start_with_the_calls_and_end_when_idle(monkeypatch):
    monkeypatch.setattr(sendstage, "THREAD_IDLE_EXIT", 1.0)
    stage = SendStage(threads=6, lane_threads=3)
    assert _send_threads(stage) == 0  # nothing started before the first call

    _answered(stage, ["lane-0", "lane-1"])
    assert _send_threads(stage) <= 2
    # 5 calls on two lanes at once: one thread each, up to the lanes' places (3 + 2)
    release, running, results, thread = _held_calls(stage, [f"lane-{n % 2}" for n in range(5)])
    assert _wait_for(lambda: len(running) == 5), running
    # one thread per call; a thread still finishing the priming call when they came may add one
    # more (never past the stage's limit)
    assert 5 <= _send_threads(stage) <= 6 and len(_threads_of(stage)) == _send_threads(stage)
    release.set()
    thread.join(5)
    assert sorted(key for key, _result, error in results if error is None) == [0, 1, 2, 3, 4]

    # one call later: a thread waiting for work takes it, none is added
    before = _send_threads(stage)
    assert stage.call("one", "lane-0", lambda: "done") == "done"
    assert _send_threads(stage) <= before

    # idle for longer than THREAD_IDLE_EXIT: every send thread has ended
    assert _wait_for(lambda: _send_threads(stage) == 0, timeout=8)
    assert _threads_of(stage) == []

    # and the stage works again afterwards
    assert stage.call("again", "lane-1", lambda: 42) == 42
    assert _send_threads(stage) <= 1  # a thread started again (the call ran), none left over


def test_never_more_threads_than_the_stage_allows():
    stage = SendStage(threads=4, lane_threads=8)
    _answered(stage, [f"lane-{n}" for n in range(10)])
    release, started, results, thread = _held_calls(stage, [f"lane-{n}" for n in range(10)])
    assert _wait_for(lambda: len(started) == 4)
    time.sleep(0.1)
    assert len(started) == 4 and _send_threads(stage) == 4
    release.set()
    thread.join(5)
    assert sorted(key for key, _r, error in results if error is None) == list(range(10))


def test_settler_threads_start_with_the_batches_and_end_when_idle(monkeypatch):
    """The dispatcher's settler threads too: none before the first batch, at most ``threads``,
    each ending (its session closed) after ``IDLE_EXIT`` seconds without a batch."""
    from plugin.engine import settlers as settlers_module
    from plugin.engine.settlers import Settlers

    monkeypatch.setattr(settlers_module, "IDLE_EXIT", 1.0)
    sessions, settled, release = [], [], threading.Event()

    class FakeSession:
        closed = False

        def close(self):
            self.closed = True

    def new_session():
        sessions.append(FakeSession())
        return sessions[-1]

    def settle(self, session, runs, *_rest):
        release.wait(5)
        settled.append(runs)
        self._room.release()

    monkeypatch.setattr(Settlers, "_settle", settle)
    settlers = Settlers(engine=None, sessions=new_session, threads=2, depth=3)
    assert settlers.alive == 0 and sessions == []

    for n in range(3):
        settlers.submit([n], {}, [], {}, time.monotonic())
    assert _wait_for(lambda: settlers.alive == 2)  # two threads for three batches, not three
    release.set()
    assert settlers.wait_idle(5)
    assert sorted(r[0] for r in settled) == [0, 1, 2]

    assert _wait_for(lambda: settlers.alive == 0, timeout=8)
    assert len(sessions) == 2 and all(s.closed for s in sessions)

    settlers.submit([3], {}, [], {}, time.monotonic())  # and it works again
    assert settlers.wait_idle(5) and settled[-1] == [3] and len(sessions) == 3


def test_a_batch_submitted_while_a_settler_takes_the_one_before_gets_a_thread_of_its_own(monkeypatch):
    """A settler thread that has just taken a batch from the queue, and not yet counted itself busy,
    must not be taken for an idle one: the next batch would wait behind a batch that may be held
    by a silent receiver, its runs' lease running out meanwhile."""
    import queue as queue_module

    from plugin.engine.settlers import Settlers

    taken, release = threading.Event(), threading.Event()
    settled: list = []

    class SlowToCount(queue_module.Queue):
        def get(self, *args, **kwargs):  # the thread is preempted right after taking a batch
            item = super().get(*args, **kwargs)
            if item[0] == ["held"]:
                taken.set()
                time.sleep(0.5)
            return item

    def settle(self, session, runs, *_rest):
        if runs == ["held"]:
            release.wait(10)  # a silent receiver
        settled.append(runs)
        self._room.release()

    class FakeSession:
        def close(self):
            pass

    monkeypatch.setattr(Settlers, "_settle", settle)
    settlers = Settlers(engine=None, sessions=FakeSession, threads=2, depth=3)
    settlers._todo = SlowToCount()
    try:
        settlers.submit(["held"], {}, [], {}, time.monotonic())
        assert taken.wait(5)
        settlers.submit(["next"], {}, [], {}, time.monotonic())  # while the first thread counts itself
        assert _wait_for(lambda: settled == [["next"]], timeout=5), settled
        assert settlers.alive == 2
    finally:
        release.set()
    assert settlers.wait_idle(5)


def test_calls_that_come_while_a_notified_thread_is_still_waking_get_a_thread_of_their_own():
    """A thread notified for one run's call counts as waiting until it gets the lock back; a second
    run in that moment must not take it for an idle thread (its call waited behind the first)."""

    class SlowToWake(threading.Condition):
        slow = False

        def __init__(self):
            super().__init__()
            self.waking = threading.Event()
            restore = self._acquire_restore

            def slow_restore(state):
                if self.slow and threading.current_thread().name.startswith("send-"):
                    self.waking.set()
                    time.sleep(2.0)  # notified, not yet running
                restore(state)

            self._acquire_restore = slow_restore

    stage = SendStage(threads=4, lane_threads=4)
    stage._cond = SlowToWake()
    _answered(stage, ["lane"])  # one thread, now idle
    assert _wait_for(lambda: stage._waiting == 1)
    stage._cond.slow = True
    first = _held_calls(stage, ["lane"])  # wakes the idle thread, which takes 2 s to run
    assert stage._cond.waking.wait(2)
    second = _held_calls(stage, ["lane"])
    try:
        # a thread is started at once for the second call (it takes the lane's first call), and the
        # other runs when the notified thread is up
        assert _wait_for(lambda: len(first[1] + second[1]) == 1, timeout=1.5), (first[1], second[1])
        assert _wait_for(lambda: len(first[1] + second[1]) == 2, timeout=5), (first[1], second[1])
    finally:
        stage._cond.slow = False
        for release, _started, _results, waiter in (first, second):
            release.set()
            waiter.join(5)
    assert [error for _key, _r, error in first[2] + second[2]] == [None, None]


def test_calls_wait_for_threads_slow_to_start_not_cancelled_as_a_busy_receiver():
    """On a starved machine a new send thread may run only after a fresh lane's patience (0.1 s):
    its calls wait for our threads, not for the receiver, and must not come back ``Cancelled``
    (their runs put off for seconds with no call ever tried). Patience starts with the first call."""

    class SlowToStart(threading.Condition):
        def __init__(self):
            super().__init__()
            self.seen: set[str] = set()

        def __enter__(self):
            name = threading.current_thread().name
            if name.startswith("send-") and name not in self.seen:
                self.seen.add(name)
                time.sleep(0.4)  # the thread's first run, late
            return super().__enter__()

    stage = SendStage(threads=4, lane_threads=4)
    stage._cond = SlowToStart()
    calls = [(n, "http://fresh.example:80", lambda n: n, (n,)) for n in range(3)]
    outcomes = sorted((key, result, error) for key, result, error in filter(None, stage.run(calls)))
    assert outcomes == [(0, 0, None), (1, 1, None), (2, 2, None)]
    assert sendstage.FRESH_PATIENCE < 0.4  # the delay above is longer than a fresh lane's patience


def test_calls_behind_a_silent_fresh_receiver_are_still_cancelled_after_its_patience():
    """The other side of the test above: once a call of the lane is in flight and ends nothing for
    the fresh lane's patience, the calls not started are handed back ``Cancelled``."""
    stage = SendStage(threads=4, lane_threads=1)
    release = threading.Event()
    calls = [(n, "http://silent.example:80", lambda: release.wait(5), ()) for n in range(3)]
    begun = time.monotonic()
    try:
        outcomes = [item for item in stage.run(calls) if item]
    finally:
        release.set()
    assert time.monotonic() - begun < 3.0  # its patience (0.1 s), not the call (5 s) or max_wait (10 s)
    assert sorted(type(error).__name__ for _key, _result, error in outcomes) == ["Cancelled", "Cancelled"]
