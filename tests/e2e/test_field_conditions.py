"""Custom-field conditions in a flow (SPEC §11): saved, dry-run through the API, and run for real
(HTTP ingest → RQ worker process → a local webhook receiver) only for the order whose fields match."""

from __future__ import annotations

from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow

CONDITIONS = [
    ("condition.order_field", {"path": "delivery.city", "operator": "equals", "value": "москва"}),
    ("condition.client_field", {"path": "bonus_points", "operator": "gte", "value": 500}),
]


def test_a_flow_on_order_and_client_fields_fires_only_for_the_matching_order(live, procs, fake_receiver):
    procs.start("worker")
    api = Api(live.url)
    wait_for(lambda: api.get("/api/v1/health").json()["workers"] >= 1, timeout=30, message="the worker")
    flow = webhook_flow(fake_receiver.url + "/vip", conditions=CONDITIONS, name="VIP-доставка по Москве")
    created = api.post("/api/v1/flows", json=flow)
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]

    def dry(order_fields, client_fields):
        context = {
            "order": {"id": "1", "price": 10, "fields": order_fields},
            "client": {"external_id": "c", "fields": client_fields},
        }
        resp = api.post(f"/api/v1/flows/{flow_id}/test", json={"context": context})
        assert resp.status_code == 200, resp.text
        return {s["node_id"]: s.get("verdict") for s in resp.json()["steps"]}, resp.json()["status"]

    assert dry({"delivery": {"city": "Москва"}}, {"bonus_points": "700"}) == (
        {"start": None, "c0": True, "c1": True, "hook": None},
        "would_trigger",
    )
    verdicts, status = dry({"delivery": {"city": "Казань"}}, {"bonus_points": 700})
    assert verdicts["c0"] is False and status == "not_triggered"

    assert api.put("/api/v1/clients/rich", json={"fields": {"bonus_points": 900}}).status_code == 202
    assert api.put("/api/v1/clients/poor", json={"fields": {"bonus_points": 10}}).status_code == 202
    orders = {  # the matching order last: once it is delivered, the two before it were dispatched
        "o-city": {"client_id": "rich", "fields": {"delivery": {"city": "Сочи"}}},
        "o-points": {"client_id": "poor", "fields": {"delivery": {"city": "Москва"}}},
        "o-match": {"client_id": "rich", "fields": {"delivery": {"city": "Москва"}}},
    }
    for order_id, body in orders.items():
        assert api.put(f"/api/v1/orders/{order_id}", json={"price": 1, **body}).status_code == 202

    def delivered():
        runs = api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]
        return [r for r in runs if r["status"] == "succeeded"]

    [run] = wait_for(delivered, timeout=20, message="the matching order's run\n" + procs.logs())
    assert run["order_id"] == "o-match"
    assert [d.payload["order"]["id"] for d in fake_receiver.deliveries] == ["o-match"]
    others = api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]
    assert all(r["status"] == "not_triggered" for r in others if r["order_id"] != "o-match")


def test_an_order_field_condition_on_a_visit_flow_is_refused_at_save(client):
    flow = webhook_flow("http://127.0.0.1:9/x", event="event.visit_created", conditions=CONDITIONS[:1])
    resp = client.post("/api/v1/flows", json=flow)
    assert resp.status_code == 422
    assert any(e["path"].startswith("/nodes/1") for e in resp.get_json()["errors"])
    ok = webhook_flow("http://127.0.0.1:9/x", event="event.visit_created", conditions=CONDITIONS[1:])
    assert client.post("/api/v1/flows", json=ok).status_code == 201
