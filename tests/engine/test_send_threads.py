"""The send stage's threads start as calls come and end when idle: an idle worker holds none."""

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
    monkeypatch.setattr(sendstage, "THREAD_IDLE_EXIT", 0.3)
    stage = SendStage(threads=6, lane_threads=3)
    assert _send_threads(stage) == 0  # nothing started before the first call

    _answered(stage, ["lane-0", "lane-1"])
    assert 1 <= _send_threads(stage) <= 2
    release = threading.Event()
    running = []

    def call(n):
        running.append(n)
        release.wait(5)
        return n

    # 5 calls on two lanes at once: one thread each, up to the lanes' places (3 + 2)
    items = [(n, f"lane-{n % 2}", call, (n,)) for n in range(5)]
    results = []

    def waiter():
        results.extend(item for item in stage.run(items, idle_patience=5, max_wait=5) if item)

    thread = threading.Thread(target=waiter)
    thread.start()
    assert _wait_for(lambda: len(running) == 5), running
    assert _send_threads(stage) == 5 and len(_threads_of(stage)) == 5
    release.set()
    thread.join(5)
    assert sorted(key for key, _result, error in results if error is None) == [0, 1, 2, 3, 4]

    # one call later: a thread waiting for work takes it, none is added
    assert stage.call("one", "lane-0", lambda: "done") == "done"
    assert _send_threads(stage) <= 5

    # idle for longer than THREAD_IDLE_EXIT: every send thread has ended
    assert _wait_for(lambda: _send_threads(stage) == 0, timeout=3)
    assert _threads_of(stage) == []

    # and the stage works again afterwards
    assert stage.call("again", "lane-1", lambda: 42) == 42
    assert _send_threads(stage) == 1


def test_never_more_threads_than_the_stage_allows():
    stage = SendStage(threads=4, lane_threads=8)
    _answered(stage, [f"lane-{n}" for n in range(10)])
    release = threading.Event()
    started = []

    def call(n):
        started.append(n)
        release.wait(5)
        return n

    items = [(n, f"lane-{n}", call, (n,)) for n in range(10)]
    results = []
    thread = threading.Thread(
        target=lambda: results.extend(i for i in stage.run(items, idle_patience=5, max_wait=5) if i)
    )
    thread.start()
    assert _wait_for(lambda: len(started) == 4)
    time.sleep(0.1)
    assert len(started) == 4 and _send_threads(stage) == 4
    release.set()
    thread.join(5)
    assert sorted(key for key, _r, error in results if error is None) == list(range(10))
