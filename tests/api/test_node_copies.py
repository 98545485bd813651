"""What the editor's copy/paste and palette need from the API (issue #18): a copied node carries
its sealed secrets through ``copy_of``, and the catalog tells which events a condition works with."""

from __future__ import annotations

from tests.api.test_connections import PLACEHOLDER, problem_paths, slack_flow
from tests.engine.test_ingest_and_runs import drain


def _copy(node: dict, new_id: str, **extra) -> dict:
    return {**node, "id": new_id, "position": {"x": 40, "y": 200}, **extra}


def test_a_copied_node_keeps_the_sealed_secret_of_its_source_in_the_same_scenario(app, client, fake_slack):
    created = client.post(
        "/api/v1/flows", json=slack_flow({"text": "Первый {order_id}", "webhook_url": fake_slack.hook_url})
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    flow = created.get_json()
    source = flow["nodes"][1]
    assert source["params"]["webhook_url"] == PLACEHOLDER
    copy = _copy(source, "notify_2", params={**source["params"], "text": "Копия {order_id}"})
    # without saying where it came from, the copy's placeholder has nothing behind it
    bare = {
        **flow,
        "nodes": [*flow["nodes"], copy],
        "edges": [*flow["edges"], {"from": "start", "to": "notify_2"}],
    }
    assert "/nodes/2/params/webhook_url" in problem_paths(
        client.put(f"/api/v1/flows/{flow['id']}", json=bare)
    )

    copy["copy_of"] = {"flow": flow["id"], "node": "notify"}
    resp = client.put(f"/api/v1/flows/{flow['id']}", json=bare)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    saved = resp.get_json()
    assert saved["enabled"] is True and saved["needs_secrets"] == []
    assert "copy_of" not in saved["nodes"][2] and saved["nodes"][2]["params"]["webhook_url"] == PLACEHOLDER
    assert client.put("/api/v1/orders/5", json={"price": 1, "status": "Новая"}).status_code == 202
    drain(app)
    assert sorted(fake_slack.messages) == ["Копия 5", "Первый 5"]


def test_a_node_pasted_into_another_scenario_keeps_the_secret_and_a_wrong_source_does_not(
    app, client, fake_slack
):
    first = client.post(
        "/api/v1/flows", json=slack_flow({"text": "A", "webhook_url": fake_slack.hook_url})
    ).get_json()
    pasted = _copy(
        first["nodes"][1], "notify", params={"text": "Из другого {order_id}", "webhook_url": PLACEHOLDER}
    )
    second = slack_flow({}, name="Вставка")
    second["nodes"][1] = {**pasted, "copy_of": {"flow": first["id"], "node": "missing"}}
    assert problem_paths(client.post("/api/v1/flows", json=second)) == ["/nodes/1/params/webhook_url"]
    second["nodes"][1]["copy_of"] = {"flow": "no-such-flow", "node": "notify"}
    assert problem_paths(client.post("/api/v1/flows", json=second)) == ["/nodes/1/params/webhook_url"]
    second["nodes"][1]["copy_of"] = {"flow": first["id"], "node": "notify"}
    resp = client.post("/api/v1/flows", json=second)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    client.patch(f"/api/v1/flows/{first['id']}", json={"enabled": False})
    assert client.put("/api/v1/orders/6", json={"price": 1, "status": "Новая"}).status_code == 202
    drain(app)
    assert fake_slack.messages == ["Из другого 6"]


def test_a_malformed_copy_source_is_a_422_at_its_path(client):
    flow = slack_flow({"text": "t", "webhook_url": PLACEHOLDER})
    flow["nodes"][1]["copy_of"] = {"flow": 5}
    paths = problem_paths(client.post("/api/v1/flows", json=flow))
    assert paths and all(p.startswith("/nodes/1/copy_of") for p in paths), paths


def test_the_catalog_names_the_events_a_condition_works_with(client):
    nodes = {n["type"]: n for n in client.get("/api/v1/nodes").get_json()["nodes"]}
    assert nodes["condition.event_data"]["events"] == ["event.custom"]
    assert nodes["condition.order_price"]["events"] == [
        "event.order_created",
        "event.order_days_since_created",
        "event.order_days_since_paid",
        "event.order_status_changed",
    ]
    assert nodes["condition.visit_city"]["events"] is None
    assert nodes["action.slack"]["events"] is None and nodes["event.custom"]["events"] is None
    assert client.get("/api/v1/nodes/condition.event_data").get_json()["events"] == ["event.custom"]
