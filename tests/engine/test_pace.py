"""The send stage's pace (plugin/transport/pace.py): a destination that answers at once is sent to
by one thread at a time; one whose call overruns gets its other calls on more threads."""

from __future__ import annotations

import threading
import time

from plugin.transport.pace import SPREAD, Pace
from plugin.transport.sendstage import SendStage


def test_threads_follow_the_destinations_pace():
    pace = Pace(quick=0.005, overrun=0.02)
    assert pace.threads("new", 8, 0, 10, 0.0) == 8  # nothing known yet: the whole lane
    pace.ended("fast", 0.001)
    assert pace.threads("fast", 8, 0, 9, 0.0) == 1  # 10 calls of 1 ms: one thread
    assert pace.threads("fast", 8, 1, 44, 0.0) == 1 + int(45 * 0.001 / SPREAD) == 5  # a backlog: more
    assert pace.threads("fast", 8, 1, 999, 0.0) == 8  # never past the lane
    assert pace.threads("fast", 8, 1, 9, 0.05) == 8  # its call has run 50 ms: the whole lane
    for _ in range(10):
        pace.ended("slowing", 0.001)
    for _ in range(10):
        pace.ended("slowing", 0.05)
    assert pace.threads("slowing", 8, 0, 9, 0.0) == 8  # calls of 50 ms now: the whole lane


def _concurrency(stage: SendStage, lane: str, calls: int, seconds: float) -> tuple[int, list]:
    """Run ``calls`` calls of ``seconds`` each on ``lane``: (most calls in flight at once, keys)."""
    lock, now, peak = threading.Lock(), [0], [0]

    def call(n):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(seconds)
        with lock:
            now[0] -= 1
        return n

    items = [(n, lane, call, (n,)) for n in range(calls)]
    done = [item[0] for item in stage.run(items, idle_patience=5, max_wait=10) if item]
    return peak[0], done


def test_a_destination_that_answers_at_once_gets_one_thread_at_a_time():
    # generous bounds: a starved machine's scheduling must not make a 1-ms call look slow
    stage = SendStage(threads=8, lane_threads=8, pace=Pace(quick=0.5, overrun=5.0, spread=10.0))
    peak, done = _concurrency(stage, "fresh", 8, 0.02)
    assert sorted(done) == list(range(8)) and peak > 1  # not known yet: calls at once
    peak, done = _concurrency(stage, "fast", 1, 0.002)
    assert done == [0]
    peak, done = _concurrency(stage, "fast", 20, 0.002)
    assert sorted(done) == list(range(20)) and peak == 1


def test_a_paced_destination_whose_call_overruns_gets_its_other_calls_on_more_threads():
    stage = SendStage(threads=8, lane_threads=8, pace=Pace(quick=0.5, overrun=0.05))
    assert [i[0] for i in stage.run([(0, "lane", lambda: None, ())], idle_patience=5) if i] == [0]
    release = threading.Event()
    ended: list[int] = []

    def hang():
        release.wait(10)
        return "late"

    def quick(n):
        ended.append(n)
        return n

    items = [("hang", "lane", hang, ()), *((n, "lane", quick, (n,)) for n in range(5))]
    results = []

    def wait():
        results.extend(i[0] for i in stage.run(items, idle_patience=10, max_wait=20) if i)

    waiter = threading.Thread(target=wait)
    waiter.start()
    deadline = time.monotonic() + 5
    while len(ended) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    sent_while_held = sorted(ended)
    release.set()
    waiter.join(10)
    assert sent_while_held == list(range(5))  # sent while the first call still hung
    assert sorted(results, key=str) == [0, 1, 2, 3, 4, "hang"]
