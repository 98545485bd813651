"""Ingestion on granian's event loop (plugin/api/fastloop.py), through plugin.serving.BufferedRSGI.

Requests are driven through the RSGI app in this process, as granian would call it (an asyncio
loop, a scope and a protocol object), against PostgreSQL; the same requests to a second app on a
fresh database, without the loop path, must get the same answers and store the same rows — and
the loop must really have answered the valid ones itself.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from plugin.api.fastloop import LoopIngest
from plugin.serving import BufferedRSGI
from plugin.storage.models import ApiToken, CustomEvent, Event, Visit
from tests.conftest import TOKEN, app_env, fresh_database, make_app, refuse_custom_event_named

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # the group commit's


class _Scope:
    proto, http_version, scheme = "http", "1.1", "http"
    server, client = "127.0.0.1:8000", "127.0.0.1:50000"

    def __init__(self, method: str, path: str, headers: dict, query: str = ""):
        self.method, self.path, self.query_string, self.headers = method, path, query, headers


class _Proto:
    def __init__(self, body: bytes):
        self.body, self.answer = body, None

    async def __call__(self) -> bytes:
        return self.body

    async def __aiter__(self):
        yield self.body

    def response_bytes(self, status, headers, body):
        self.answer = (status, headers, body)


class _Server:
    """An app behind BufferedRSGI, with or without the loop path; requests run on one event loop."""

    def __init__(self, app, on_loop: bool):
        self.app = app
        self.on_loop = LoopIngest(app.extensions["fast_ingest"]) if on_loop else None
        self.rsgi = BufferedRSGI(app, 4, 5.0, app.config.get("MAX_CONTENT_LENGTH"), on_loop=self.on_loop)
        self.loop = asyncio.new_event_loop()

    def post(self, path: str, body, token: str = TOKEN, raw: bytes | None = None, query: str = ""):
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        headers = {
            "authorization": f"Bearer {token}",
            "content-type": "application/json",
            "content-length": str(len(data)),
        }
        proto = _Proto(data)
        self.loop.run_until_complete(self.rsgi.__rsgi__(_Scope("POST", path, headers, query), proto))
        status, headers, payload = proto.answer
        body = json.loads(payload) if payload else None
        if isinstance(body, dict):
            body.pop("instance", None)
        return status, sorted((k, v) for k, v in headers if k.lower() != "content-length"), body

    def close(self):
        self.rsgi.__rsgi_del__(self.loop)
        self.loop.close()


@pytest.fixture
def servers(app, database_url, redis_url, tmp_path, tmp_path_factory):
    """(loop, threads): ``app`` with the loop path, and an app on a fresh database without it."""
    from plugin.api.extensions import db

    with fresh_database("postgresql", tmp_path, tmp_path_factory) as url:
        other = make_app(app_env(url, redis_url, tmp_path / "threads"))
        pair = (_Server(app, on_loop=True), _Server(other, on_loop=False))
        yield pair
        for server in pair:
            server.close()
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def _rows(app):
    from plugin.api.extensions import db

    with app.app_context():
        visits = {v.id: (v.city, v.utm_source, v.client_id) for v in db.session.scalars(select(Visit))}
        customs = {c.id: (c.name, c.visit_id, c.data) for c in db.session.scalars(select(CustomEvent))}
        events = sorted(
            (e.trigger, e.subject_id, json.dumps(e.data)) for e in db.session.scalars(select(Event))
        )
        return visits, customs, events


VALID = [
    ("/api/v1/visits", {"id": "v1", "city": "Москва", "utm_source": "yandex"}),
    ("/api/v1/visits", {"id": 42, "client_id": 7}),
    ("/api/v1/visits", {"id": "v1", "city": "Казань"}),  # repeated id: created false, nothing fired
    ("/api/v1/events", {"id": "e1", "name": "form_submit", "data": {"form": {"amount": 1500}}}),
    ("/api/v1/events", {"id": "e1", "name": "form_submit"}),  # repeated
    ("/api/v1/events", {"id": 9, "name": "Звонок", "visit_id": "v1", "data": {}}),
]
DECLINED = [  # each answered by Flask, whichever server
    ("/api/v1/visits", {"city": "Москва"}, {}),  # no id: 422
    ("/api/v1/events", {"name": "nul\u0000inside"}, {}),
    ("/api/v1/events", {"name": "x"}, {"token": "wrong"}),  # 401
    ("/api/v1/events", {"id": "q", "name": "x"}, {"query": "a=1"}),  # a query: not this path's
    ("/api/v1/events", None, {"raw": b"{not json"}),
]


def test_valid_requests_are_answered_on_the_loop_as_the_threads_answer_them(servers):
    on_loop, threads = servers
    answers = [(on_loop.post(path, body), threads.post(path, body)) for path, body in VALID]
    for (path, body), (mine, theirs) in zip(VALID, answers, strict=True):
        assert mine == theirs, (path, body)
        assert mine[0] == 202
    assert [a[0][2]["created"] for a in answers] == [True, True, False, True, False, True]
    assert _rows(on_loop.app) == _rows(threads.app)
    # the first request finds no rate budget held ahead and goes to a request thread, which
    # reserves a chunk of it; every later one is answered on the loop
    assert on_loop.on_loop.served == len(VALID) - 1
    for path, body, extra in DECLINED:
        mine, theirs = on_loop.post(path, body, **extra), threads.post(path, body, **extra)
        assert mine == theirs, (path, body, extra)
        assert mine[0] >= 400 or "query" in extra
    assert on_loop.on_loop.served == len(VALID) - 1


def test_a_stored_token_is_known_after_its_first_request_and_revoked_at_once(app, servers):
    from plugin.api.auth import create_token
    from plugin.api.extensions import db

    on_loop = servers[0]
    with app.app_context():
        token = create_token("site")
    assert on_loop.post("/api/v1/events", {"id": "t1", "name": "x"}, token)[0] == 202
    assert on_loop.on_loop.served == 0  # unknown here yet: a request thread looked it up
    assert on_loop.post("/api/v1/events", {"id": "t2", "name": "x"}, token)[2]["created"] is True
    assert on_loop.post("/api/v1/events", {"id": "t2", "name": "x"}, token)[2]["created"] is False
    assert on_loop.on_loop.served == 2
    with app.app_context():
        db.session.query(ApiToken).delete()
        db.session.commit()
    status, _headers, body = on_loop.post("/api/v1/events", {"id": "t3", "name": "x"}, token)
    assert status == 401, body  # the statement refused the row; Flask answered
    assert on_loop.on_loop.served == 2
    with app.app_context():
        assert db.session.get(CustomEvent, "t3") is None
        assert db.session.scalar(select(Event.id).where(Event.subject_id == "t3")) is None


def test_a_row_the_database_refuses_is_answered_by_flask_and_the_next_is_not(app, database_url, servers):
    refuse_custom_event_named(database_url, "boom")
    on_loop = servers[0]
    assert on_loop.post("/api/v1/events", {"id": "warm", "name": "x"})[0] == 202
    assert on_loop.post("/api/v1/events", {"id": "bad", "name": "boom"})[0] >= 500
    assert on_loop.post("/api/v1/events", {"id": "ok", "name": "fine"})[2]["created"] is True
    assert on_loop.on_loop.served == 1
    from plugin.api.extensions import db

    with app.app_context():
        assert db.session.get(CustomEvent, "bad") is None
        assert db.session.get(CustomEvent, "ok") is not None


def test_a_row_whose_group_failed_is_stored_alone_and_dispatch_told_off_the_loop(
    app, database_url, servers, monkeypatch
):
    """Two rows in one group, the database refusing one: the group fails, each is stored alone
    (same id), the good one created and dispatch told — by a request thread, never on the event
    loop (telling dispatch is a Redis round trip)."""
    import threading

    refuse_custom_event_named(database_url, "boom")
    on_loop = servers[0]
    assert on_loop.post("/api/v1/events", {"id": "warm", "name": "x"})[0] == 202
    fast = on_loop.on_loop.fast
    told: list[tuple[int, bool]] = []
    notify = fast._notify

    def spy(count: int) -> None:
        told.append((count, threading.current_thread() is threading.main_thread()))
        notify(count)

    monkeypatch.setattr(fast, "_notify", spy)
    # the committer lingers for the row right behind the first (the warm-up's group was just
    # before: dense traffic), so both are in one group however slowly the second one comes
    monkeypatch.setattr(fast._group, "_linger", 0.5)
    monkeypatch.setattr(fast._group, "_capacity", 2)

    async def both():  # submitted together: one group
        bodies = ({"id": "bad", "name": "boom"}, {"id": "good", "name": "fine"})
        return await asyncio.gather(*(_post_async(on_loop, "/api/v1/events", body) for body in bodies))

    bad, good = on_loop.loop.run_until_complete(both())
    assert bad[0] >= 500 and good[0] == 202 and json.loads(good[2])["created"] is True
    assert told == [(1, False)]  # the good row alone: told once, on a request thread
    from plugin.api.extensions import db

    with app.app_context():
        assert db.session.get(CustomEvent, "bad") is None
        assert db.session.get(CustomEvent, "good") is not None


async def _post_async(server: _Server, path: str, body: dict):
    data = json.dumps(body).encode()
    headers = {
        "authorization": f"Bearer {TOKEN}",
        "content-type": "application/json",
        "content-length": str(len(data)),
    }
    proto = _Proto(data)
    await server.rsgi.__rsgi__(_Scope("POST", path, headers), proto)
    return proto.answer


def test_a_row_whose_group_never_answers_is_stored_alone_after_the_wait(app, servers, monkeypatch):
    """The committer keeps a row past ``WAIT_SECONDS`` (here it drops it): the loop's timer
    answers it None and the request stores it alone, with its id; answered rows leave nothing
    behind to watch."""
    import time

    from plugin.api import fastloop

    on_loop = servers[0]
    assert on_loop.post("/api/v1/events", {"id": "warm", "name": "x"})[0] == 202
    assert on_loop.post("/api/v1/events", {"id": "on-time", "name": "x"})[2]["created"] is True
    assert on_loop.on_loop._waiting == {}  # answered by its group: no longer watched
    monkeypatch.setattr(fastloop, "WAIT_SECONDS", 0.4)
    monkeypatch.setattr(fastloop, "WATCH_TICK", 0.05)
    dropped: list = []
    monkeypatch.setattr(on_loop.on_loop.fast._group, "submit", lambda *args: dropped.append(args[1]))
    began = time.monotonic()
    status, _headers, body = on_loop.post("/api/v1/events", {"id": "late", "name": "x"})
    took = time.monotonic() - began
    assert (status, body["created"]) == (202, True)
    assert [values["id"] for values in dropped] == ["late"]
    assert 0.4 <= took < 3.0
    assert on_loop.on_loop._waiting == {}
    from plugin.api.extensions import db

    with app.app_context():
        assert db.session.get(CustomEvent, "late") is not None
        assert db.session.scalar(select(Event.id).where(Event.subject_id == "late")) is not None
