"""Ingestion input validation (SPEC §2, §7): 422 problems with paths, all or nothing, idempotent answers."""

from __future__ import annotations

import pytest


def stored_counts(app) -> dict[str, int]:
    from plugin.api.extensions import db
    from plugin.storage.models import Client, CustomEvent, Event, Order, Visit

    with app.app_context():
        return {
            m.__tablename__: db.session.query(m).count() for m in (Visit, Client, Order, CustomEvent, Event)
        }


NOTHING = {"visits": 0, "clients": 0, "orders": 0, "custom_events": 0, "events": 0}


def assert_422(resp, paths: list[str]) -> list[dict]:
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == 422 and body["title"] and body["detail"] and body["type"]
    got = [e["path"] for e in body["errors"]]
    assert sorted(got) == sorted(paths), body["errors"]
    assert all(e["message"] for e in body["errors"])
    return body["errors"]


@pytest.mark.parametrize(
    "method, url, body, paths",
    [
        ("post", "/api/v1/visits", {"city": "Москва"}, ["/id"]),
        ("post", "/api/v1/visits", {"id": "v1", "ip": 5}, ["/ip"]),
        ("post", "/api/v1/visits", {"id": "v1", "colour": "red"}, ["/colour"]),
        (
            "post",
            "/api/v1/visits",
            {"ip": ["1.2.3.4"], "utm_source": 7, "foo": 1},
            ["/id", "/ip", "/utm_source", "/foo"],
        ),
        ("post", "/api/v1/visits", {"id": True}, ["/id"]),
        ("post", "/api/v1/visits", {"id": "x" * 65}, ["/id"]),
        ("post", "/api/v1/visits", {"id": "v1", "created_at": "вчера"}, ["/created_at"]),
        ("put", "/api/v1/orders/o1", {"price": "дорого"}, ["/price"]),
        ("put", "/api/v1/orders/o1", {"status_group": "won"}, ["/status_group"]),
        ("put", "/api/v1/orders/o1", {"paid_at": 12}, ["/paid_at"]),
        ("put", "/api/v1/orders/o1", {"client": {"name": "Без id"}}, ["/client/external_id"]),
        ("put", "/api/v1/orders/o1", {"fields": "not an object"}, ["/fields"]),
        ("put", "/api/v1/orders/" + "9" * 65, {"price": 1}, ["/id"]),
        ("put", "/api/v1/clients/c1", {"email": 5, "phone": {"n": 1}}, ["/email", "/phone"]),
        ("put", "/api/v1/clients/c1", {"external_id": "c2"}, ["/external_id"]),
        ("post", "/api/v1/events", {"data": {}}, ["/name"]),
        ("post", "/api/v1/events", {"name": "form", "data": [1, 2]}, ["/data"]),
        ("post", "/api/v1/events", {"name": ""}, ["/name"]),
    ],
)
def test_invalid_item_is_422_naming_every_bad_field_and_stores_nothing(app, client, method, url, body, paths):
    assert_422(getattr(client, method)(url, json=body), paths)
    assert stored_counts(app) == NOTHING


@pytest.mark.parametrize(
    "url, method",
    [
        ("/api/v1/visits", "post"),
        ("/api/v1/orders/o1", "put"),
        ("/api/v1/events", "post"),
        ("/api/v1/batch", "post"),
    ],
)
@pytest.mark.parametrize(
    "raw, status",
    [(b"{not json", 400), (b"[]", 422), (b'"visit"', 422), (b"null", 422)],
    ids=["malformed", "array", "string", "null"],
)
def test_bodies_that_are_not_an_object_are_problems(app, client, url, method, raw, status):
    resp = getattr(client, method)(url, data=raw, content_type="application/json")
    assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    assert stored_counts(app) == NOTHING


def test_a_batch_with_one_bad_item_stores_nothing(app, client):
    items = [
        {"type": "client", "data": {"external_id": "c1", "name": "Иван", "email": "ivan@example.com"}},
        {"type": "visit", "data": {"id": "v1", "city": "Москва", "client_id": "c1"}},
        {"type": "order", "data": {"id": "o1", "price": "дорого", "client_id": "c1"}},
        {"type": "event", "data": {"name": "form_submit", "client_id": "c1"}},
    ]
    errors = assert_422(client.post("/api/v1/batch", json={"items": items}), ["/items/2/data/price"])
    assert "price" in errors[0]["path"]
    assert stored_counts(app) == NOTHING

    items[2]["data"]["price"] = 25000
    resp = client.post("/api/v1/batch", json={"items": items})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.get_json()["accepted"] == 4
    counts = stored_counts(app)
    assert counts["visits"] == counts["clients"] == counts["orders"] == counts["custom_events"] == 1


def test_a_batch_reports_the_problems_of_every_item(app, client):
    items = [
        {"type": "visit", "data": {"ip": 1}},
        {"type": "order", "data": {"id": "o1"}},
        {"type": "gift", "data": {}},
        {"type": "event", "data": {"name": "x", "colour": "red"}},
    ]
    resp = client.post("/api/v1/batch", json={"items": items})
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    got = {e["path"] for e in resp.get_json()["errors"]}
    assert "/items/2/type" in got
    assert stored_counts(app) == NOTHING


@pytest.mark.parametrize(
    "body, path",
    [
        ({"items": []}, "/items"),
        ({"items": [{"type": "visit", "data": {"id": str(i)}} for i in range(1001)]}, "/items"),
        ({"items": "x"}, "/items"),
        ({}, "/items"),
        ({"items": [{"type": "visit"}]}, "/items/0/data"),
        ({"items": [{"type": "visit", "data": {"id": "1"}, "extra": 1}]}, "/items/0/extra"),
    ],
    ids=["empty", "over_1000", "not_a_list", "missing", "item_without_data", "item_with_extra_key"],
)
def test_batch_shape_problems(app, client, body, path):
    resp = client.post("/api/v1/batch", json=body)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert path in {e["path"] for e in resp.get_json()["errors"]}
    assert stored_counts(app) == NOTHING


def test_a_batch_of_1000_items_is_accepted(app, client):
    items = [{"type": "visit", "data": {"id": f"v{i}", "city": "Москва"}} for i in range(1000)]
    resp = client.post("/api/v1/batch", json={"items": items})
    assert resp.status_code == 202
    assert resp.get_json()["accepted"] == 1000
    assert stored_counts(app)["visits"] == 1000


def test_ingestion_answers_202_and_is_idempotent(app, client):
    first = client.post("/api/v1/visits", json={"id": 101, "city": "Москва"})
    assert first.status_code == 202
    assert first.get_json()["accepted"] is True and first.get_json()["created"] is True
    again = client.post("/api/v1/visits", json={"id": "101", "city": "Москва"})
    assert again.status_code == 202
    assert again.get_json()["created"] is False and again.get_json()["events"] == 0
    assert stored_counts(app)["visits"] == 1

    order = {"price": 100, "status": "Новая"}
    assert client.put("/api/v1/orders/o-1", json=order).get_json()["created"] is True
    unchanged = client.put("/api/v1/orders/o-1", json=order).get_json()
    assert unchanged["created"] is False and unchanged["events"] == 0

    event = {"id": "e-1", "name": "form_submit", "data": {"a": 1}}
    assert client.post("/api/v1/events", json=event).get_json()["created"] is True
    assert client.post("/api/v1/events", json=event).get_json()["events"] == 0
