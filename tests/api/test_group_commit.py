"""Group commit of the lean ingestion path (plugin/ingest/groupcommit.py), on PostgreSQL.

Concurrent ``POST /events`` and ``/visits`` of one API process are written by one statement per
group; each request still answers 202 only once its row is committed, each id is stored once with
one engine event, and a row the database refuses fails only its own request.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import create_engine, func, select, text

from plugin.storage.models import CustomEvent, Event, Visit
from tests.conftest import TOKEN, app_env, make_app, refuse_custom_event_named

AUTH = {"Authorization": f"Bearer {TOKEN}"}
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: no group path


def _post(app, path, body):
    return app.test_client().post(path, data=json.dumps(body), headers=AUTH, content_type="application/json")


def _concurrently(app, requests: list[tuple[str, dict]], threads: int = 16) -> list:
    answers: list = [None] * len(requests)
    todo = list(enumerate(requests))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                i, (path, body) = todo.pop()
            answers[i] = _post(app, path, body)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    return answers


def _count(app, model, *where) -> int:
    from plugin.api.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


class _TableLock:
    """Holds an exclusive lock on a table so that the committer's first group waits on it while
    the next requests queue up behind it: what then arrives is written as one group."""

    def __init__(self, database_url: str, table: str):
        self.engine = create_engine(database_url)
        self.conn = self.engine.connect()
        self.conn.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))

    def release(self):
        self.conn.rollback()
        self.conn.close()
        self.engine.dispose()


def test_concurrent_requests_are_written_in_groups_each_stored_once(app, database_url):
    fast = app.wsgi_app
    assert _post(app, "/api/v1/events", {"id": "warm", "name": "x"}).status_code == 202
    group = fast._group
    assert group is not None and group.groups == 1
    lock = _TableLock(database_url, "events")
    requests = [
        ("/api/v1/events", {"id": f"e{i}", "name": "order", "data": {"n": i, "big": 2**70}})
        for i in range(40)
    ]
    requests += [
        ("/api/v1/visits", {"id": f"v{i}", "city": "Москва", "client_id": f"c{i}"}) for i in range(20)
    ]
    result: list = []
    runner = threading.Thread(target=lambda: result.extend(_concurrently(app, requests, threads=60)))
    runner.start()
    time.sleep(1.0)  # one request a thread: everything has queued behind the held lock
    lock.release()
    runner.join(60)
    assert [a.status_code for a in result] == [202] * 60
    assert all(a.get_json() == {"accepted": True, "created": True, "events": 1} for a in result)
    assert fast.served == 61
    assert group.rows == 61
    assert group.groups <= 4, group.groups  # 60 requests, not 60 statements
    assert _count(app, CustomEvent) == 41 and _count(app, Visit) == 20
    assert _count(app, Event, Event.trigger == "custom_event") == 41
    assert _count(app, Event, Event.trigger == "visit_created") == 20
    from plugin.api.extensions import db

    with app.app_context():
        stored = db.session.get(CustomEvent, "e7")
        assert stored.data == {"n": 7, "big": 2**70} and stored.name == "order"
        assert db.session.get(Visit, "v3").city == "Москва"
        event = db.session.scalars(select(Event).where(Event.subject_id == "e7")).one()
        assert event.data == {"name": "order"}


def test_the_same_id_in_one_group_is_stored_once_and_created_once(app, database_url):
    assert _post(app, "/api/v1/events", {"id": "warm", "name": "x"}).status_code == 202
    lock = _TableLock(database_url, "events")
    result: list = []
    requests = [("/api/v1/events", {"id": "same", "name": "dup"})] * 12
    runner = threading.Thread(target=lambda: result.extend(_concurrently(app, requests)))
    runner.start()
    time.sleep(0.8)
    lock.release()
    runner.join(60)
    assert [a.status_code for a in result] == [202] * 12
    assert sorted(a.get_json()["created"] for a in result) == [False] * 11 + [True]
    assert _count(app, CustomEvent, CustomEvent.id == "same") == 1
    assert _count(app, Event, Event.subject_id == "same") == 1


def test_a_row_the_database_refuses_fails_only_its_own_request(app, database_url):
    """A trigger refuses one name: its group fails, every other request of the group is stored
    alone and answers 202; the refused one gets Flask's error answer for a database error it did not
    expect (500 problem details), and nothing of it is stored."""
    refuse_custom_event_named(database_url, "boom")
    assert _post(app, "/api/v1/events", {"id": "warm", "name": "x"}).status_code == 202
    lock = _TableLock(database_url, "events")
    requests = [("/api/v1/events", {"id": f"ok{i}", "name": "fine"}) for i in range(10)]
    requests.insert(5, ("/api/v1/events", {"id": "bad", "name": "boom"}))
    result: list = []
    runner = threading.Thread(target=lambda: result.extend(_concurrently(app, requests, threads=11)))
    runner.start()
    time.sleep(0.8)
    lock.release()
    runner.join(60)
    codes = {body["id"]: answer.status_code for (_path, body), answer in zip(requests, result, strict=True)}
    assert codes.pop("bad") >= 400
    assert set(codes.values()) == {202}
    assert _count(app, CustomEvent, CustomEvent.name == "fine") == 10
    assert _count(app, CustomEvent, CustomEvent.id == "bad") == 0
    assert _count(app, Event, Event.trigger == "custom_event") == 11  # warm + 10, each once


def test_can_be_turned_off(database_url, redis_url, tmp_path):
    app = make_app(app_env(database_url, redis_url, tmp_path / "off", AUTOMATION_GROUP_COMMIT="0"))
    try:
        assert _post(app, "/api/v1/events", {"id": "one", "name": "x"}).get_json()["created"] is True
        assert app.wsgi_app.served == 1 and app.wsgi_app._group is None
        assert _count(app, Event, Event.subject_id == "one") == 1
    finally:
        from plugin.api.extensions import db

        with app.app_context():
            db.engine.dispose()


def _dense_pair(app) -> dict:
    """One request, then two more 0.2 s apart: their answers and how long each took."""
    began = time.monotonic()
    assert _post(app, "/api/v1/events", {"id": "sparse", "name": "x"}).get_json()["created"] is True
    answers: dict = {"sparse": time.monotonic() - began}

    def post(key: str) -> None:
        start = time.monotonic()
        assert _post(app, "/api/v1/events", {"id": key, "name": "x"}).get_json()["created"] is True
        answers[key] = time.monotonic() - start

    first = threading.Thread(target=post, args=("dense-1",))
    first.start()
    time.sleep(0.2)
    second = threading.Thread(target=post, args=("dense-2",))
    second.start()
    first.join(30)
    second.join(30)
    return answers


@pytest.mark.parametrize(("threads", "waited"), [(8, True), (2, False)])
def test_dense_requests_linger_for_each_other_and_a_sparse_one_does_not(
    database_url, redis_url, tmp_path, threads, waited
):
    """AUTOMATION_INGEST_GATHER_MS: the first request after a quiet spell is written at once; one
    arriving while groups come close together (within five lingers of the previous group's first
    row) waits up to the linger for the rows behind it, so two requests 0.2 s apart share one
    statement. With 8 request threads the first of them waits the whole 3 s; with 2 the linger
    ends as soon as both are in the group (at full load it would only idle the threads)."""
    env = app_env(
        database_url,
        redis_url,
        tmp_path / "capacity",
        AUTOMATION_INGEST_GATHER_MS="3000",
        AUTOMATION_API_THREADS=str(threads),
    )
    app = make_app(env)
    try:
        timings = _dense_pair(app)
        group = app.wsgi_app._group
        assert timings["sparse"] < 2.5, timings  # not lingered
        assert group.groups == 2 and group.rows == 3, (group.groups, group.rows)  # the pair: one statement
        assert (timings["dense-1"] >= 2.9) is waited, timings
        assert _count(app, Event, Event.subject_id.in_(["sparse", "dense-1", "dense-2"])) == 3
    finally:
        from plugin.api.extensions import db

        with app.app_context():
            db.engine.dispose()
