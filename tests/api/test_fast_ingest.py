"""The lean WSGI path of POST /events and /visits answers exactly what the Flask path answers.

Two apps on two fresh databases — one with the fast path (the default), one with
``AUTOMATION_FAST_INGEST=0`` — get the same requests; status, headers, body and the stored rows
must be the same, and the fast one must really have served the valid requests itself.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from plugin.storage.models import ApiToken, CustomEvent, Event, Visit
from tests.conftest import TOKEN, app_env, fresh_database, make_app

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def slow_app(database_url, redis_url, tmp_path, tmp_path_factory):
    """The same kind of database as ``app``'s, a fresh one, behind the Flask path only."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with fresh_database(kind, tmp_path, tmp_path_factory) as url:
        app = make_app(app_env(url, redis_url, tmp_path / "slow", AUTOMATION_FAST_INGEST="0"))
        yield app
        from plugin.api.extensions import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _post(app, path, body, headers=None, raw=None, content_type="application/json"):
    client = app.test_client()
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(path, data=data, headers={**AUTH, **(headers or {})}, content_type=content_type)


def _shape(response):
    headers = {k: v for k, v in response.headers.items() if k != "Content-Length"}
    body = response.get_json(silent=True)
    if isinstance(body, dict):
        body.pop("instance", None)
    return response.status_code, headers, body


def _rows(app):
    from plugin.api.extensions import db

    with app.app_context():
        visits = {
            v.id: {c: getattr(v, c) for c in ("ip", "city", "utm_source", "client_id", "landing_page")}
            for v in db.session.scalars(select(Visit))
        }
        customs = {
            c.id: (c.name, c.visit_id, c.client_id, c.data)
            for c in db.session.scalars(select(CustomEvent))
            if not c.id.startswith("gen")
        }
        events = sorted(
            (e.trigger, e.subject_id, json.dumps(e.data, sort_keys=True))
            for e in db.session.scalars(select(Event))
            if len(e.subject_id) < 32
        )
        return visits, customs, events


VALID = [
    ("/api/v1/visits", {"id": "v1", "city": "Москва", "utm_source": "yandex", "ip": "5.255.255.5"}),
    ("/api/v1/visits", {"id": 42, "client_id": 7, "landing_page": "https://shop.example/промо?a=1"}),
    ("/api/v1/visits", {"id": "v1", "city": "Казань"}),  # repeated id: created false, nothing fired
    ("/api/v1/visits", {"id": "v-date", "created_at": "2026-11-01T10:00:00+03:00"}),
    ("/api/v1/events", {"id": "e1", "name": "form_submit", "data": {"form": {"amount": 1500}}}),
    ("/api/v1/events", {"id": "e1", "name": "form_submit"}),  # repeated
    ("/api/v1/events", {"id": 9, "name": "Звонок", "visit_id": "v1", "client_id": "c1", "data": {}}),
    ("/api/v1/events", {"id": "e-date", "name": "x", "created_at": "2026-11-01T10:00:00Z"}),
]

INVALID = [
    ("/api/v1/visits", {"city": "Москва"}, {}),  # no id
    ("/api/v1/visits", {"id": "v2", "unknown": 1}, {}),
    ("/api/v1/visits", {"id": "a/b"}, {}),
    ("/api/v1/visits", {"id": True}, {}),
    ("/api/v1/visits", {"id": "v3", "city": 5}, {}),
    ("/api/v1/visits", [1, 2], {}),
    ("/api/v1/events", {"name": ""}, {}),
    ("/api/v1/events", {"name": "x", "data": [1]}, {}),
    ("/api/v1/events", {"name": "nul\u0000inside"}, {}),
    ("/api/v1/events", {"name": "x"}, {"Authorization": "Bearer wrong"}),
    ("/api/v1/events", {"name": "x"}, {"Authorization": "Basic abc"}),
    ("/api/v1/events", {"name": "x", "created_at": "yesterday"}, {}),
]


def test_valid_requests_answered_identically_and_served_fast(app, client, slow_app):
    fast_mw = app.wsgi_app
    assert type(fast_mw).__name__ == "FastIngest"
    assert type(slow_app.wsgi_app).__name__ != "FastIngest"
    for path, body in VALID:
        fast, slow = _post(app, path, body), _post(slow_app, path, body)
        assert _shape(fast) == _shape(slow), (path, body)
        assert fast.data == slow.data  # byte for byte, newline included
        assert fast.status_code == 202
    assert fast_mw.served == len(VALID)
    assert _rows(app) == _rows(slow_app)
    visits, customs, events = _rows(app)
    assert visits["v1"]["city"] == "Москва" and visits["42"]["client_id"] == "7"
    assert customs["9"] == ("Звонок", "v1", "c1", {})
    assert sum(1 for e in events if e[1] == "v1") == 1 and sum(1 for e in events if e[1] == "e1") == 1
    assert ("custom_event", "e1", json.dumps({"name": "form_submit"})) in events


def _orders(app):
    from plugin.storage.models import Client, Order

    with app.app_context():
        from plugin.api.extensions import db

        orders = {
            o.id: (o.price, o.status, o.status_group, o.client_id, o.fields, o.paid_at is not None)
            for o in db.session.scalars(select(Order))
        }
        clients = {c.external_id: (c.name, c.phone) for c in db.session.scalars(select(Client))}
        return orders, clients


BATCHES = [
    [
        {"type": "visit", "data": {"id": "bv1", "city": "Казань"}},
        {"type": "event", "data": {"id": "be1", "name": "form", "data": {"a": [1, {"b": None}]}}},
        {"type": "order", "data": {"id": "bo1", "price": 1500, "status": "Новая", "client_id": "c1"}},
        {"type": "order", "data": {"id": "bo2", "status": "Оплачен", "fields": {"k": "v"}}},
        {"type": "order", "data": {"id": "bo3", "client": {"external_id": "c9", "name": "Иван"}}},
        {"type": "client", "data": {"external_id": "c1", "phone": "+79990000000"}},
        {"type": "order", "data": {"id": "bo4", "status": "Новая"}},
        {"type": "order", "data": {"id": "bo4", "status": "Оплачен"}},  # named twice: created, then changed
        {"type": "visit", "data": {"id": "bv1"}},  # repeated in the batch: once
    ],
    [
        {"type": "order", "data": {"id": "bo1", "status": "Отказ"}},  # stored: status change
        {"type": "order", "data": {"id": "bo2", "status": "Оплачен"}},  # unchanged: nothing
        {"type": "order", "data": {"id": "bo5", "price": 10.5}},
        {"type": "event", "data": {"id": "be1", "name": "form"}},  # stored already
    ],
]


def test_batches_answered_identically_and_served_fast(app, client, slow_app):
    for items in BATCHES:
        fast = _post(app, "/api/v1/batch", {"items": items})
        slow = _post(slow_app, "/api/v1/batch", {"items": items})
        assert fast.status_code == 202 and _shape(fast) == _shape(slow), items
        assert fast.data == slow.data
    assert app.wsgi_app.served == len(BATCHES)
    assert _rows(app) == _rows(slow_app)
    assert _orders(app) == _orders(slow_app)
    orders, clients = _orders(app)
    assert orders["bo4"][1:3] == ("Оплачен", "paid") and orders["bo1"][1:3] == ("Отказ", "cancelled")
    assert clients["c9"] == ("Иван", None) and clients["c1"][1] == "+79990000000"
    events = _rows(app)[2]
    assert [e[0] for e in events if e[1] == "bo4"] == ["order_created", "order_status_changed"]
    assert [e[0] for e in events if e[1] == "bo2"] == ["order_created"]


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [{"type": "visit"}]},
        {"items": [{"type": "visit", "data": {"id": "x"}, "extra": 1}]},
        {"items": [{"type": ["visit"], "data": {"id": "x"}}]},
        {"items": [{"type": "lead", "data": {"id": "x"}}]},
        {"items": [{"type": "visit", "data": {"id": "ok"}}, {"type": "order", "data": {"id": "a/b"}}]},
        {"items": [{"type": "visit", "data": {"id": "x"}}] * 1001},
        {"items": {"type": "visit"}},
        {"items": [{"type": "event", "data": {"name": "x"}}], "more": True},
    ],
)
def test_bad_batches_are_answered_by_flask(app, client, slow_app, body):
    fast, slow = _post(app, "/api/v1/batch", body), _post(slow_app, "/api/v1/batch", body)
    assert fast.status_code == 422 and _shape(fast) == _shape(slow)
    assert app.wsgi_app.served == 0
    assert _rows(app) == ({}, {}, []) and _orders(app) == ({}, {})


def test_generated_ids_are_stored_with_one_event(app, client):
    r = _post(app, "/api/v1/events", {"name": "no_id", "data": {"n": 1}})
    assert r.status_code == 202 and r.get_json() == {"accepted": True, "created": True, "events": 1}
    from plugin.api.extensions import db

    with app.app_context():
        (custom,) = db.session.scalars(select(CustomEvent).where(CustomEvent.name == "no_id")).all()
        (event,) = db.session.scalars(select(Event).where(Event.subject_id == custom.id)).all()
        assert event.trigger == "custom_event" and event.data == {"name": "no_id"} and len(custom.id) == 32
        assert custom.data == {"n": 1}


def test_everything_else_is_answered_by_flask(app, client, slow_app):
    for path, body, headers in INVALID:
        fast, slow = _post(app, path, body, headers), _post(slow_app, path, body, headers)
        assert fast.status_code in (401, 422), (path, body, fast.status_code)
        assert _shape(fast) == _shape(slow), (path, body)
        assert fast.get_json()["errors"] or fast.status_code == 401
    raw_cases = [
        (b'{"name": "x", "n": NaN}', "application/json"),
        (b'{"name": "x",', "application/json"),
        (b'{"name": "x"}', "text/plain"),
        (b"", "application/json"),
    ]
    for raw, content_type in raw_cases:
        fast = _post(app, "/api/v1/events", None, raw=raw, content_type=content_type)
        slow = _post(slow_app, "/api/v1/events", None, raw=raw, content_type=content_type)
        assert fast.status_code >= 400 and _shape(fast) == _shape(slow), raw
    assert app.wsgi_app.served == 0
    assert _rows(app) == ({}, {}, [])


def test_stored_api_tokens_and_the_rate_limit_apply(database_url, redis_url, tmp_path):
    app = make_app(
        app_env(
            database_url, redis_url, tmp_path / "rl", AUTOMATION_INGEST_RATE="1", AUTOMATION_INGEST_BURST="2"
        )
    )
    from plugin.api.auth import create_token
    from plugin.api.extensions import db

    try:
        with app.app_context():
            token = create_token("site")
        headers = {"Authorization": f"Bearer {token}"}
        limiter = app.extensions["ingest_rate_limiter"]
        takes: list[float | None] = []
        real_take = limiter.take
        limiter.take = lambda identity, cost=1: takes.append(real_take(identity, cost)) or takes[-1]
        answers = [_post(app, "/api/v1/events", {"id": f"r{i}", "name": "x"}, headers) for i in range(4)]
        assert [a.status_code for a in answers[:2]] == [202, 202]
        assert answers[2].status_code == 429 and int(answers[2].headers["Retry-After"]) >= 1
        assert app.wsgi_app.served == 2
        # one take per request: a refusal on the fast path is answered by Flask without a second try
        assert len(takes) == 4 and takes[:2] == [None, None] and all(t is not None for t in takes[2:])
        with app.app_context():
            db.session.query(ApiToken).delete()
            db.session.commit()
        assert _post(app, "/api/v1/events", {"name": "x"}, headers).status_code == 401  # revoked at once
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_can_be_turned_off(database_url, redis_url, tmp_path):
    app = make_app(app_env(database_url, redis_url, tmp_path / "off", AUTOMATION_FAST_INGEST="0"))
    assert type(app.wsgi_app).__name__ != "FastIngest"
    assert _post(app, "/api/v1/events", {"name": "x"}).status_code == 202


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no connections to lose
def test_dead_database_connections_are_replaced_without_a_duplicate(app, client, database_url):
    """PostgreSQL ends every connection (as on a restart): the next event is stored once, answered 202."""
    from sqlalchemy import create_engine, text

    for i in range(3):
        assert _post(app, "/api/v1/events", {"id": f"warm{i}", "name": "x"}).status_code == 202
    name = database_url.rsplit("/", 1)[1]
    admin = create_engine(database_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        ).scalar()
    admin.dispose()
    assert killed >= 1
    answers = [_post(app, "/api/v1/events", {"name": "after"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert app.wsgi_app.served == 6
    from plugin.api.extensions import db

    with app.app_context():
        customs = db.session.scalars(select(CustomEvent).where(CustomEvent.name == "after")).all()
        events = db.session.scalars(select(Event).where(Event.subject_id.in_([c.id for c in customs]))).all()
    assert len(customs) == 3 and len(events) == 3


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_batches_creating_the_same_orders_store_each_once(app, client, database_url):
    """Two batches race to create the same new orders: 202 for both, one row and one order_created each."""
    import threading

    from plugin.storage.models import Order

    ids = [f"race-{i}" for i in range(300)]
    answers = []

    def post(status):
        items = [{"type": "order", "data": {"id": i, "price": 100, "status": status}} for i in ids]
        answers.append(_post(app, "/api/v1/batch", {"items": items}))

    for _ in range(3):
        threads = [threading.Thread(target=post, args=(s,)) for s in ("Новая", "В работе")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [a.status_code for a in answers] == [202] * 6
    from plugin.api.extensions import db

    with app.app_context():
        orders = db.session.scalars(select(Order).where(Order.id.in_(ids))).all()
        events = db.session.scalars(select(Event).where(Event.subject_id.in_(ids))).all()
    assert len(orders) == len(ids)
    created = [e for e in events if e.trigger == "order_created"]
    assert sorted(e.subject_id for e in created) == sorted(ids)
    # every later batch that changed the status derived exactly one status change per order
    changes = [e for e in events if e.trigger == "order_status_changed"]
    assert all(e.data["from"] != e.data["to"] for e in changes)
    assert sum(a.get_json()["events"] for a in answers) == len(events)


UPSERTS = [
    ("/api/v1/clients/c1", {"name": "Иван", "phone": "+79990000000", "fields": {"vip": True}}),
    ("/api/v1/clients/c1", {"name": "Иван"}),  # unchanged
    ("/api/v1/orders/o-1", {"price": 12000, "status": "Новая", "client_id": "c1", "visit_id": "v1"}),
    ("/api/v1/orders/o-1", {"price": 12000, "status": "Новая", "client_id": "c1"}),  # unchanged: nothing
    ("/api/v1/orders/o-1", {"status": "Оплачен"}),  # status change, paid_at set
    ("/api/v1/orders/o-1", {"created_at": "2026-01-01T00:00:00Z"}),  # dates changed
    ("/api/v1/orders/o-2", {"price": 5, "client": {"external_id": "c2", "name": "Пётр"}}),
    ("/api/v1/orders/ord:42_x.y", {"status_group": "cancelled"}),
]
UPSERTS_TO_FLASK = [
    ("/api/v1/orders/o-3", {"price": "много"}),  # schema problem
    ("/api/v1/orders/o-3", {"unknown": 1}),
    ("/api/v1/orders/" + "x" * 65, {"price": 1}),  # too long for an id
    ("/api/v1/orders/заказ-1", {"price": 1}),  # non-ASCII id: Flask decodes the URL
    ("/api/v1/clients/c3", {"email": 5}),
]


def test_order_and_client_upserts_answered_identically_and_served_fast(app, client, slow_app):
    put = lambda a, path, body: a.test_client().put(path, json=body, headers=AUTH)
    for path, body in UPSERTS:
        fast, slow = put(app, path, body), put(slow_app, path, body)
        assert fast.status_code == 202 and _shape(fast) == _shape(slow), (path, body)
        assert fast.data == slow.data
    assert app.wsgi_app.served == len(UPSERTS)
    for path, body in UPSERTS_TO_FLASK:
        fast, slow = put(app, path, body), put(slow_app, path, body)
        assert _shape(fast) == _shape(slow), (path, body)
    assert app.wsgi_app.served == len(UPSERTS)  # all of those went to Flask
    assert _orders(app) == _orders(slow_app)
    assert _rows(app)[2] == _rows(slow_app)[2]
    events = [e[:2] for e in _rows(app)[2]]
    assert events == sorted(
        [
            ("order_created", "o-1"),
            ("order_status_changed", "o-1"),
            ("order_dates_changed", "o-1"),
            ("order_created", "o-2"),
            ("order_created", "ord:42_x.y"),
            ("order_created", "заказ-1"),
        ]
    )


# -- text that is not Unicode ---------------------------------------------------------------------
# Three ways a JSON body can carry a string that is not a sequence of Unicode scalar values: a lone
# surrogate written as a \uXXXX escape, a surrogate encoded in the bytes (CESU-8), and bytes that are
# not UTF-8 at all (overlong, beyond U+10FFFF, stray). PostgreSQL and SQLite refuse to store such
# text, so every ingestion route must refuse it up front: a 422 naming each string's JSON pointer
# (a bad character of a key shown there as U+FFFD), nothing stored, both paths answering alike.

LONE = "\ud800"
BAD = "<BAD>"  # a marker replaced by raw bytes, below


def _body(doc, how: str, bad_bytes: bytes = b"\xff") -> bytes:
    """``doc`` as the client sends it: ``escape`` writes lone surrogates as \\uXXXX, ``cesu`` as their
    UTF-8-style bytes; ``BAD`` markers become ``bad_bytes``."""
    text = json.dumps(doc, ensure_ascii=how == "escape")
    raw = text.encode("utf-8", "surrogatepass")
    assert raw.count(BAD.encode()) == doc_count(doc), "every marker is written as it is"
    return raw.replace(BAD.encode(), bad_bytes)


UNICODE_CASES = [
    # the poison event: a lone surrogate as a key of the event's data
    (
        "post",
        "/api/v1/events",
        {"id": "pz-1", "name": "pz", "data": {LONE: 1}},
        "escape",
        b"",
        ["/data/\ufffd"],
    ),
    (
        "post",
        "/api/v1/events",
        {"name": "form", "data": {"list": ["ok", "b\udc00d"]}},
        "escape",
        b"",
        ["/data/list/1"],
    ),
    ("post", "/api/v1/events", {"id": LONE, "name": "x\udfff"}, "escape", b"", ["/id", "/name"]),
    (
        "post",
        "/api/v1/events",
        {"name": "n", "data": {"k": "a\u0000", LONE: 1}},
        "escape",
        b"",
        ["/data/k", "/data/\ufffd"],
    ),  # NUL and a surrogate: every problem, in one answer
    (
        "post",
        "/api/v1/events",
        {"name": "n", "data": {"deep": [[{"x": BAD}]]}},
        "utf8",
        b"\xf4\x90\x80\x80",
        ["/data/deep/0/0/x"],
    ),  # beyond U+10FFFF
    ("post", "/api/v1/visits", {"id": "v1", "city": "Мос" + LONE + "ква"}, "cesu", b"", ["/city"]),
    (
        "post",
        "/api/v1/visits",
        {"id": "v2", "utm_source": "\ud83d\ude00"},
        "cesu",
        b"",  # a CESU-8 pair
        ["/utm_source"],
    ),
    (
        "put",
        "/api/v1/clients/c1",
        {"name": BAD, "fields": {BAD: 1}},
        "utf8",
        b"\xc0\xaf",  # overlong '/'
        ["/name", "/fields/\ufffd\ufffd"],
    ),
    ("put", "/api/v1/clients/c2", {"phone": "+7" + BAD}, "utf8", b"\xff", ["/phone"]),
    (
        "put",
        "/api/v1/orders/o1",
        {"status": "\ud83d", "fields": {"k": {"deep": ["\udfff"]}}},
        "escape",
        b"",
        ["/fields/k/deep/0", "/status"],
    ),
    (
        "put",
        "/api/v1/orders/o2",
        {"client": {"external_id": "c3", "name": LONE}},
        "cesu",
        b"",
        ["/client/name"],
    ),
    (
        "post",
        "/api/v1/batch",
        {
            "items": [
                {"type": "visit", "data": {"id": "bv1"}},
                {"type": "event", "data": {"name": "ok", "data": {"a": "😀"}}},
                {"type": "order", "data": {"id": "bo1", "price": 1}},
                {"type": "visit", "data": {"id": "bv2", "city": LONE}},
                {"type": "event", "data": {"name": "n", "data": {"x/~": [BAD]}}},
            ]
        },
        "escape",
        b"\xed\xa0\x80",
        ["/items/3/data/city", "/items/4/data/data/x~1~0/0"],
    ),
]


def doc_count(doc) -> int:
    return json.dumps(doc).count(BAD)


def _unicode_id(case) -> str:
    method, path, _doc, how, bad, paths = case
    shown = "+".join(paths).encode("ascii", "replace").decode()
    return f"{method}-{path.split('/')[3]}-{how}-{bad.hex() or 'none'}-{shown}"


@pytest.mark.parametrize("case", UNICODE_CASES, ids=_unicode_id)
def test_text_that_is_not_unicode_is_422_with_its_paths_on_both_paths(app, client, slow_app, case):
    import orjson

    method, path, doc, how, bad_bytes, paths = case
    raw = _body(doc, how, bad_bytes)
    fast, slow = (
        getattr(a.test_client(), method)(path, data=raw, headers=AUTH, content_type="application/json")
        for a in (app, slow_app)
    )
    assert fast.status_code == 422, fast.get_data()
    assert fast.mimetype == "application/problem+json"
    assert _shape(fast) == _shape(slow) and fast.data == slow.data
    problem = orjson.loads(fast.data)  # an answer a strict reader takes: valid UTF-8, no lone surrogate
    assert sorted(e["path"] for e in problem["errors"]) == sorted(paths), problem
    assert all(e["message"] for e in problem["errors"]) and problem["status"] == 422
    assert app.wsgi_app.served == 0
    assert _rows(app) == _rows(slow_app) == ({}, {}, []) and _orders(app) == ({}, {})


def test_only_text_that_is_not_unicode_is_refused_and_named(app, client, slow_app):
    """The messages name the code point or the bytes; a surrogate *pair* (as escapes, or as UTF-8)
    is one valid character, stored and served fast; bad bytes outside a string are malformed JSON."""
    raw = _body({"name": "n", "data": {"a": LONE, "b": "x" + BAD, LONE: 1}}, "escape", b"\xed\xa0\x80")
    problem = client.post("/api/v1/events", data=raw, content_type="application/json").get_json()
    messages = {e["path"]: e["message"] for e in problem["errors"]}
    assert "U+D800" in messages["/data/a"] and "surrogate" in messages["/data/a"]
    assert "ED A0 80" in messages["/data/b"] and "UTF-8" in messages["/data/b"]
    assert "key" in messages["/data/\ufffd"] and "U+D800" in messages["/data/\ufffd"]

    astral = [
        (
            "/api/v1/events",
            {"id": "e-emoji", "name": "😀", "data": {"😀": ["\U0010ffff", "\ufffd", "\uffff"]}},
        ),
        ("/api/v1/visits", {"id": "v-emoji", "city": "Москва 😀"}),
    ]
    for path, doc in astral:
        for ascii_only in (True, False):
            raw = json.dumps(doc, ensure_ascii=ascii_only).encode()
            fast, slow = _post(app, path, None, raw=raw), _post(slow_app, path, None, raw=raw)
            assert fast.status_code == 202 and fast.data == slow.data, fast.get_data()
    assert app.wsgi_app.served == 4
    assert _rows(app) == _rows(slow_app)
    assert _rows(app)[1]["e-emoji"][3] == {"😀": ["\U0010ffff", "\ufffd", "\uffff"]}

    for raw in (b'{"name": "x"}\xff', b'\xc0{"name": "x"}', b'{"name": "x", \xed\xa0\x80: 1}'):
        fast = _post(app, "/api/v1/events", None, raw=raw)
        slow = _post(slow_app, "/api/v1/events", None, raw=raw)
        assert fast.status_code == 400 and fast.data == slow.data, fast.get_data()
        assert "not valid JSON" in fast.get_json()["detail"]
    assert app.wsgi_app.served == 4


def _raw_path(path: str) -> dict:
    """The environ of a URL as granian and gunicorn give it (PEP 3333: its bytes as latin-1); werkzeug's
    test client would read its bad bytes as U+FFFD before the app sees them."""
    from urllib.parse import unquote_to_bytes

    return {"PATH_INFO": unquote_to_bytes(path).decode("latin-1")}


def test_ids_in_the_url_that_are_not_utf8_are_422_not_merged(app, client, slow_app):
    """werkzeug reads bad bytes of a URL as U+FFFD: /orders/%FF and /orders/%FE were one order."""

    def put(a, path):
        path, _, query = path.partition("?")
        return a.test_client().put(
            path, query_string=query, json={"price": 1}, headers=AUTH, environ_overrides=_raw_path(path)
        )

    for path in (
        "/api/v1/orders/%FF",
        "/api/v1/orders/%FE",
        "/api/v1/orders/x%ED%A0%80",
        "/api/v1/clients/%C0%AF",
        "/api/v1/orders/ok?src=%FF",
    ):
        fast, slow = put(app, path), put(slow_app, path)
        assert fast.status_code == 422 and fast.data == slow.data, (path, fast.get_data())
        errors = fast.get_json()["errors"]
        assert [e["path"] for e in errors] == (["/src"] if "?" in path else ["/"]), errors
        assert "not valid UTF-8" in errors[0]["message"]
    # a URL that spells U+FFFD itself: granian (RSGI) hands bad bytes over as U+FFFD, so no id holds it
    fast, slow = put(app, "/api/v1/orders/%EF%BF%BD"), put(slow_app, "/api/v1/orders/%EF%BF%BD")
    assert fast.status_code == 422 and fast.data == slow.data, fast.get_data()
    assert [(e["path"], "U+FFFD" in e["message"]) for e in fast.get_json()["errors"]] == [("/", True)]
    assert _orders(app) == ({}, {})
    fast, slow = put(app, "/api/v1/orders/%F0%9F%98%80"), put(slow_app, "/api/v1/orders/%F0%9F%98%80")
    assert fast.status_code == 202 and fast.data == slow.data
    assert list(_orders(app)[0]) == ["😀"]


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_a_real_server_refuses_what_is_not_unicode(server, tmp_path, redis_url):
    """Over real HTTP (``server.py serve``): the URL's bytes as the server passes them, and bodies."""
    import sqlite3

    import requests

    from tests.e2e.test_api_server import _serving

    headers = {**AUTH, "Content-Type": "application/json"}
    with _serving(server, tmp_path, redis_url) as (base, _proc, _log, db_file):
        answers = [
            requests.put(base + "/api/v1/orders/%FF", data=b'{"price": 1}', headers=headers, timeout=10),
            requests.post(base + "/api/v1/runs/%EF%BF%BD/retry", headers=AUTH, timeout=10),
            requests.post(
                base + "/api/v1/events",
                data=b'{"id": "pz-1", "name": "pz", "data": {"\\ud800": 1}}',
                headers=headers,
                timeout=10,
            ),
            requests.post(
                base + "/api/v1/visits",
                data=b'{"id": "v1", "city": "\xed\xa0\x80"}',
                headers=headers,
                timeout=10,
            ),
        ]
        assert [a.status_code for a in answers] == [422, 422, 422, 422], [a.content for a in answers]
        assert [[e["path"] for e in a.json()["errors"]] for a in answers] == [
            ["/"],
            ["/"],
            ["/data/\ufffd"],
            ["/city"],
        ]
        # gunicorn passes the URL's bytes; granian (RSGI) only their decoding, bad bytes as U+FFFD
        told = {"gunicorn": "not valid UTF-8", "granian": "U+FFFD"}[server]
        assert told in answers[0].json()["errors"][0]["message"], answers[0].content
        assert "U+FFFD" in answers[1].json()["errors"][0]["message"]
        ok = requests.put(
            base + "/api/v1/orders/%F0%9F%98%80", data=b'{"price": 1}', headers=headers, timeout=10
        )
        assert ok.status_code == 202, ok.content
        with sqlite3.connect(db_file) as conn:
            assert conn.execute("SELECT id FROM orders").fetchall() == [("😀",)]
            assert conn.execute("SELECT count(*) FROM custom_events").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM visits").fetchone() == (0,)
