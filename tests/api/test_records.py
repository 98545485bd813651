"""The read API of stored records (SPEC §11): orders, visits, custom events and a client's timeline,
looked up by id and searched by id or by the client's name, phone or e-mail."""

from __future__ import annotations

import pytest


@pytest.fixture
def stored(client):
    """Two clients, their orders, a visit and a custom event, stored through the ingestion API."""
    anna = {
        "external_id": "c-anna",
        "name": "Анна Смирнова",
        "phone": "+79161234567",
        "email": "anna@example.ru",
    }
    boris = {"external_id": "c-boris", "name": "Boris Ivanov", "email": "boris@example.com"}
    assert (
        client.post("/api/v1/visits", json={"id": "v-1", "city": "Москва", "client_id": "c-anna"}).status_code
        == 202
    )
    for order_id, who, price in (("1001", anna, 15000), ("1002", boris, 900), ("2001", anna, 300)):
        body = {
            "price": price,
            "status": "Новая",
            "client": who,
            "visit_id": "v-1" if order_id == "1001" else None,
        }
        assert client.put(f"/api/v1/orders/{order_id}", json=body).status_code == 202
    event = {"id": "e-1", "name": "form_submit", "client_id": "c-anna", "data": {"form": "callback"}}
    assert client.post("/api/v1/events", json=event).status_code == 202


def ids(resp, key: str) -> list[str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [item["id"] for item in resp.get_json()[key]]


def test_an_order_comes_with_its_client_and_visit(client, stored):
    order = client.get("/api/v1/orders/1001").get_json()
    assert order["price"] == 15000 and order["status"] == "Новая" and order["status_group"] == "in_work"
    assert order["client"]["name"] == "Анна Смирнова" and order["client"]["email"] == "anna@example.ru"
    assert order["visit"]["city"] == "Москва"


def test_a_visit_comes_with_its_client(client, stored):
    visit = client.get("/api/v1/visits/v-1").get_json()
    assert visit["city"] == "Москва" and visit["client"]["external_id"] == "c-anna"


def test_unknown_records_are_404_problems(client, stored):
    for path in ("/api/v1/orders/nope", "/api/v1/visits/nope", "/api/v1/clients/nope"):
        resp = client.get(path)
        assert resp.status_code == 404 and resp.content_type == "application/problem+json"


def test_orders_are_found_by_id_start_and_by_the_clients_name_phone_or_email(client, stored):
    assert ids(client.get("/api/v1/orders?q=100"), "orders") == ["1002", "1001"]  # newest first
    assert set(ids(client.get("/api/v1/orders?q=анна"), "orders")) == {"1001", "2001"}
    assert set(ids(client.get("/api/v1/orders?q=boris"), "orders")) == {"1002"}  # Latin, any case
    assert set(ids(client.get("/api/v1/orders?q=9161234"), "orders")) == {"1001", "2001"}
    assert set(ids(client.get("/api/v1/orders?q=BORIS@EXAMPLE"), "orders")) == {"1002"}
    assert ids(client.get("/api/v1/orders?q=nobody"), "orders") == []
    listed = client.get("/api/v1/orders?limit=2").get_json()["orders"]
    assert [o["id"] for o in listed] == ["2001", "1002"] and listed[1]["client"]["name"] == "Boris Ivanov"


def test_visits_and_events_are_searched_alike(client, stored):
    assert ids(client.get("/api/v1/visits?q=Анна"), "visits") == ["v-1"]
    assert ids(client.get("/api/v1/visits?q=boris"), "visits") == []
    events = client.get("/api/v1/events?q=anna@example.ru").get_json()["events"]
    assert [e["id"] for e in events] == ["e-1"] and events[0]["name"] == "form_submit"
    assert events[0]["data"] == {"form": "callback"} and events[0]["client"]["name"] == "Анна Смирнова"
    assert ids(client.get("/api/v1/events?q=form_submit"), "events") == ["e-1"]


def test_a_clients_timeline_holds_its_orders_visits_events_and_runs_newest_first(client, stored):
    card = client.get("/api/v1/clients/c-anna").get_json()
    assert card["name"] == "Анна Смирнова" and card["phone"] == "+79161234567"
    timeline = card["timeline"]
    assert [o["id"] for o in timeline["orders"]] == ["2001", "1001"]
    assert [v["id"] for v in timeline["visits"]] == ["v-1"]
    assert [e["id"] for e in timeline["events"]] == ["e-1"]
    assert timeline["runs"] == []  # no scenario is enabled
    assert timeline["status_changes"] == []  # no deal changed its status
    bounded = client.get("/api/v1/clients/c-anna?limit=1").get_json()["timeline"]
    assert [o["id"] for o in bounded["orders"]] == ["2001"]


def test_the_timeline_holds_the_status_changes_of_the_clients_deals_only(client, stored):
    for status in ("В работе", "Оплачен"):
        body = {"price": 15000, "status": status, "client": {"external_id": "c-anna"}}
        assert client.put("/api/v1/orders/1001", json=body).status_code == 202
    other = {"price": 900, "status": "Оплачен", "client": {"external_id": "c-boris"}}
    assert client.put("/api/v1/orders/1002", json=other).status_code == 202
    changes = client.get("/api/v1/clients/c-anna").get_json()["timeline"]["status_changes"]
    assert [(c["order_id"], c["from"], c["to"]) for c in changes] == [
        ("1001", "В работе", "Оплачен"),
        ("1001", "Новая", "В работе"),
    ]
    assert changes[0]["at"] >= changes[1]["at"] and isinstance(changes[0]["id"], int)
    bounded = client.get("/api/v1/clients/c-anna?limit=1").get_json()["timeline"]["status_changes"]
    assert [c["to"] for c in bounded] == ["Оплачен"]
    boris = client.get("/api/v1/clients/c-boris").get_json()["timeline"]["status_changes"]
    assert [(c["order_id"], c["to"]) for c in boris] == [("1002", "Оплачен")]


@pytest.mark.parametrize(
    ("query", "path"),
    [("limit=0", "/limit"), ("limit=101", "/limit"), ("limit=ten", "/limit"), ("q=" + "x" * 201, "/q")],
)
def test_bad_search_arguments_are_422_problems_naming_them(client, stored, query, path):
    resp = client.get(f"/api/v1/orders?{query}")
    assert resp.status_code == 422 and resp.content_type == "application/problem+json"
    assert [e["path"] for e in resp.get_json()["errors"]] == [path]


def test_wildcards_in_q_are_plain_text(client, stored):
    assert ids(client.get("/api/v1/orders?q=%25"), "orders") == []
    assert ids(client.get("/api/v1/orders?q=_"), "orders") == []


def test_every_answer_matches_its_documented_schema(client, stored):
    import jsonschema

    document = client.get("/api/v1/openapi.json").get_json()
    calls = {
        "/api/v1/orders": "/api/v1/orders?q=анна",
        "/api/v1/orders/{order_id}": "/api/v1/orders/1001",
        "/api/v1/visits": "/api/v1/visits",
        "/api/v1/visits/{visit_id}": "/api/v1/visits/v-1",
        "/api/v1/events": "/api/v1/events",
        "/api/v1/clients/{external_id}": "/api/v1/clients/c-anna",
    }
    for template, url in calls.items():
        operation = document["paths"][template]["get"]
        documented = set(operation["responses"])
        assert ({"404"} if "{" in template else {"422"}) <= documented, template
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        body = client.get(url).get_json()
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(body))
        assert not errors, (template, errors[0].message)
