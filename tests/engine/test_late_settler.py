"""The late settler's thread outlives a failure: a settle that fails (the database restarted
under it) is logged, its session is thrown away and the next late call is settled on a new one."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from plugin.engine.settlers import LateSettler
from plugin.transport.sendstage import stage
from tests.conftest import wait_for


def test_a_failed_settle_does_not_end_the_thread(monkeypatch):
    bind = create_engine("sqlite://")
    sessions: list[Session] = []

    def new_session() -> Session:
        sessions.append(Session(bind=bind))
        return sessions[-1]

    settled, failed_once = [], threading.Event()
    settler = LateSettler(SimpleNamespace(lease_seconds=60), new_session)

    def settle(session, key, outcome, error):
        if not failed_once.is_set():
            failed_once.set()
            raise RuntimeError("terminating connection due to administrator command")
        settled.append((session, key))

    monkeypatch.setattr(settler, "settle", settle)
    monkeypatch.setattr(stage(), "on_late", settler)
    settler(("run-1", "hook"), None, None)
    wait_for(failed_once.is_set, timeout=5, message="the failing settle")
    settler(("run-2", "hook"), None, None)
    wait_for(lambda: settled, timeout=5, message="the next late call settled")
    assert all(thread.is_alive() for thread in settler._threads)  # the settling one and the leases
    assert settled[0][1] == ("run-2", "hook")
    assert len(sessions) == 2 and settled[0][0] is sessions[1]  # a fresh session after the failure
