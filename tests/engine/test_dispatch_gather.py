"""The dispatch job's gather (AUTOMATION_DISPATCH_GATHER_MS) counts from the first waiting event's
commit, carried by its wake-up token, not from the moment the job got to the token."""

from __future__ import annotations

import time

import pytest

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine.dispatch import FlowIndex
from plugin.jobs import worker as tasks
from plugin.jobs.queue import WAKE_LIST, notify_dispatch
from plugin.jobs.worker import gather_left, make_engine


def test_the_gather_left_counts_from_the_tokens_time(monkeypatch):
    monkeypatch.setattr(tasks, "GATHER_SECONDS", 0.04)
    now = 1_800_000_000.0
    assert gather_left(b"%.4f" % (now - 0.01), now) == pytest.approx(0.03, abs=1e-6)
    assert gather_left(b"%.4f" % (now - 0.5), now) == 0.0  # waited longer than the gather already
    assert gather_left(b"%.4f" % (now + 5), now) == 0.04  # another host's clock ahead: the whole gather
    assert gather_left(b"1.49", 1.5) == pytest.approx(0.03)  # a hundredth of a second waited already
    assert gather_left(b"not a time", now) == 0.04
    monkeypatch.setattr(tasks, "GATHER_SECONDS", 0.0)
    assert gather_left(b"%.4f" % (now - 0.01), now) == 0.0  # 0: claims at once


def test_an_event_committed_during_a_batch_waits_one_gather_not_the_batch_and_a_gather(app, monkeypatch):
    """An event committed while the job dispatches a 1.5-s batch is claimed 2 s (the gather) after
    its commit, not 1.5 + 2 s: what it waited behind the batch counts."""
    monkeypatch.setattr(tasks, "GATHER_SECONDS", 2.0)
    monkeypatch.setattr(tasks, "LINGER_SECONDS", 1)
    calls: list[float] = []
    committed: list[float] = []

    def dispatch_all(runtime, index, engine, session, started, settlers=None):
        calls.append(time.monotonic())
        if len(calls) == 1:  # a busy batch; an event is committed (and notifies) meanwhile
            committed.append(time.monotonic())
            notify_dispatch(runtime.queue)
            time.sleep(1.5)
            return 1
        return 0

    monkeypatch.setattr(tasks, "_dispatch_all", dispatch_all)
    with app.app_context():
        runtime = rt()
        runtime.redis.delete(WAKE_LIST)
        index, engine = FlowIndex(runtime.registry), make_engine(runtime, db.engine)
        assert tasks._dispatch_loop(runtime, index, engine, None, db.session, time.monotonic()) == 1
    # the batch, the claim after the gather, and the last look once the job went idle
    assert len(calls) == 3, calls
    waited = calls[1] - committed[0]
    assert 1.9 <= waited < 3.0, waited  # from the wake-up on it would be 3.5 s
