"""Scenario versions over HTTP: every save is one, the list, one with its document, the diff of
two, restore as a new version, the 4xx paths, and no secret in any of them (SPEC §11)."""

from __future__ import annotations

import copy
import json

from tests.api.test_flows import load

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXX"
NEW_SLACK_URL = "https://hooks.slack.com/services/T111/B111/YYYY"


def create(client, **changes) -> dict:
    resp = client.post("/api/v1/flows", json={**load("big_order_slack"), **changes})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def put(client, flow: dict, **changes) -> dict:
    doc = {k: v for k, v in flow.items() if k not in ("stats", "needs_secrets", "event_type")}
    resp = client.put(f"/api/v1/flows/{flow['id']}", json={**doc, **changes})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def versions(client, flow_id: str, query: str = "") -> dict:
    resp = client.get(f"/api/v1/flows/{flow_id}/versions{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def edited(flow: dict) -> dict:
    """The flow with the price threshold raised, a Slack node's secret replaced, an action added."""
    nodes = copy.deepcopy(flow["nodes"])
    nodes[1]["params"]["value"] = 20000
    nodes[2]["params"]["webhook_url"] = NEW_SLACK_URL
    nodes.append({"id": "hook", "type": "action.webhook", "params": {"url": "https://example.com/h"}})
    return {"nodes": nodes, "edges": [*flow["edges"], {"from": "start", "to": "hook"}]}


def test_every_save_is_a_version_listed_newest_first_with_what_changed(client):
    flow = create(client)
    put(client, flow, **edited(flow))
    assert client.patch(f"/api/v1/flows/{flow['id']}", json={"name": "Переименован"}).status_code == 200
    assert client.patch(f"/api/v1/flows/{flow['id']}", json={"enabled": False}).status_code == 200
    listed = versions(client, flow["id"])
    assert listed["current"] == 3
    assert [v["number"] for v in listed["versions"]] == [3, 2, 1]
    assert [v["action"] for v in listed["versions"]] == ["rename", "save", "create"]
    assert all(v["author"] == "env" and v["created_at"] for v in listed["versions"])
    assert "document" not in listed["versions"][0]
    assert listed["versions"][2]["changes"] == [{"kind": "created"}]
    assert listed["versions"][0]["changes"] == [
        {"kind": "name", "from": "Крупный заказ → Slack", "to": "Переименован"}
    ]
    changes = listed["versions"][1]["changes"]
    kinds = [c["kind"] for c in changes]
    assert kinds == ["node_changed", "node_changed", "node_added", "edge_added"]
    assert changes[0]["fields"] == [{"name": "params.value", "from": 10000, "to": 20000}]
    assert changes[1]["node"] == "slack"
    assert changes[1]["fields"] == [{"name": "params.webhook_url", "from": "********", "to": "********"}]
    assert changes[3] == {"kind": "edge_added", "from": "start", "to": "hook", "branch": "true"}
    assert SLACK_URL not in json.dumps(listed) and NEW_SLACK_URL not in json.dumps(listed)


def test_a_version_comes_with_its_document_secrets_masked(client):
    flow = create(client, tags=["Продажи"])
    put(client, flow, **edited(flow))
    resp = client.get(f"/api/v1/flows/{flow['id']}/versions/1")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["number"] == 1 and body["current"] is False
    doc = body["document"]
    assert doc["version"] == 1 and doc["id"] == flow["id"] and doc["tags"] == ["Продажи"]
    assert [n["id"] for n in doc["nodes"]] == ["start", "big", "slack"]
    assert doc["nodes"][1]["params"]["value"] == 10000
    assert doc["nodes"][2]["params"]["webhook_url"] == "********"
    assert client.get(f"/api/v1/flows/{flow['id']}/versions/2").get_json()["current"] is True


def test_restore_makes_a_new_version_with_the_old_document_and_its_sealed_secret(app, client):
    flow = create(client)
    put(client, flow, **edited(flow))
    resp = client.post(f"/api/v1/flows/{flow['id']}/versions/1/restore")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    restored = resp.get_json()
    assert restored["version"] == 3 and restored["enabled"] is True
    assert [n["id"] for n in restored["nodes"]] == ["start", "big", "slack"]
    assert restored["nodes"][1]["params"]["value"] == 10000
    latest = versions(client, flow["id"])["versions"][0]
    assert latest["action"] == "restore" and latest["restored_from"] == 1
    assert {c["kind"] for c in latest["changes"]} == {"node_changed", "node_removed", "edge_removed"}
    assert _stored_secret(app, flow["id"]) == SLACK_URL  # the secret of version 1, not version 2's


def _stored_secret(app, flow_id: str) -> str:
    from plugin.api.context import rt
    from plugin.api.extensions import db
    from plugin.storage.models import Flow

    with app.app_context():
        node = db.session.get(Flow, flow_id).definition["nodes"][2]
        return rt().secrets.decrypt(node["params"]["webhook_url"])


def test_diff_of_two_versions_lists_the_changes_between_them(client):
    flow = create(client)
    put(client, flow, **edited(flow))
    resp = client.get(f"/api/v1/flows/{flow['id']}/diff?from=2&to=1")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["from"] == 2 and body["to"] == 1
    assert {"kind": "node_removed", "node": "hook", "type": "action.webhook"} in body["changes"]
    default_to = client.get(f"/api/v1/flows/{flow['id']}/diff?from=1").get_json()
    assert default_to["to"] == 2 and any(c["kind"] == "node_added" for c in default_to["changes"])


def test_version_routes_answer_404_409_and_422_problems(client):
    flow = create(client)
    fid = flow["id"]
    for path in (
        "/api/v1/flows/nope/versions",
        f"/api/v1/flows/{fid}/versions/7",
        f"/api/v1/flows/{fid}/versions/abc",
        f"/api/v1/flows/{fid}/versions/0",
        f"/api/v1/flows/{fid}/versions/99999999999",
        "/api/v1/flows/nope/versions/1",
        f"/api/v1/flows/{fid}/diff?from=9",
    ):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.mimetype == "application/problem+json"
    assert client.post(f"/api/v1/flows/{fid}/versions/9/restore").status_code == 404
    same = client.post(f"/api/v1/flows/{fid}/versions/1/restore")
    assert same.status_code == 409 and "current" in same.get_json()["detail"]
    for query, path in (("?limit=0", "/limit"), ("?before=x", "/before"), ("?limit=201", "/limit")):
        resp = client.get(f"/api/v1/flows/{fid}/versions{query}")
        assert resp.status_code == 422 and resp.get_json()["errors"][0]["path"] == path
    for query in ("", "?from=abc", "?from=1&to=0"):
        resp = client.get(f"/api/v1/flows/{fid}/diff{query}")
        assert resp.status_code == 422, query
        assert resp.mimetype == "application/problem+json"


def test_a_version_that_is_no_longer_valid_is_a_409_naming_the_problem(app, client):
    conn = client.post(
        "/api/v1/connections",
        json={"name": "Hook", "type": "webhook", "params": {"url": "https://example.com/c"}},
    )
    assert conn.status_code == 201, conn.get_data(as_text=True)
    conn_id = conn.get_json()["id"]
    flow = create(client)
    nodes = copy.deepcopy(flow["nodes"])
    nodes.append({"id": "hook", "type": "action.webhook", "params": {"connection": conn_id}})
    put(client, flow, nodes=nodes, edges=[*flow["edges"], {"from": "start", "to": "hook"}])
    put(client, flow)  # version 3: back without the connection
    assert client.delete(f"/api/v1/connections/{conn_id}").status_code == 204
    resp = client.post(f"/api/v1/flows/{flow['id']}/versions/2/restore")
    assert resp.status_code == 409
    assert resp.get_json()["errors"][0]["path"] == "/nodes/3/params/connection"


def test_a_version_whose_alert_connection_is_gone_is_a_409_naming_it(client):
    conn = client.post(
        "/api/v1/connections", json={"name": "Чат", "type": "slack", "params": {"webhook_url": SLACK_URL}}
    )
    assert conn.status_code == 201, conn.get_data(as_text=True)
    alert = {"connection": conn.get_json()["id"], "failure_share": 0.5}
    flow = create(client, settings={"alert": alert})
    put(client, flow, settings={})  # version 2: no alert
    assert client.delete(f"/api/v1/connections/{alert['connection']}").status_code == 204
    resp = client.post(f"/api/v1/flows/{flow['id']}/versions/1/restore")
    assert resp.status_code == 409, resp.get_data(as_text=True)
    assert resp.get_json()["errors"] == [
        {"path": "/settings/alert/connection", "message": f"no connection {alert['connection']!r}"}
    ]


def test_versions_page_with_limit_and_before(client):
    flow = create(client)
    for _ in range(4):
        put(client, flow)
    first = versions(client, flow["id"], "?limit=2")["versions"]
    assert [v["number"] for v in first] == [5, 4]
    assert [v["number"] for v in versions(client, flow["id"], "?limit=2&before=4")["versions"]] == [3, 2]


def test_import_and_duplicate_are_versions_and_delete_drops_the_history(client):
    flow = create(client)
    dup = client.post(f"/api/v1/flows/{flow['id']}/duplicate").get_json()
    assert versions(client, dup["id"])["versions"][0]["action"] == "duplicate"
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    assert exported["version"] == 1
    resp = client.post("/api/v1/flows/import?on_conflict=replace", json=exported)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert [v["action"] for v in versions(client, flow["id"])["versions"]] == ["import", "create"]
    assert client.delete(f"/api/v1/flows/{flow['id']}").status_code == 204
    assert client.get(f"/api/v1/flows/{flow['id']}/versions").status_code == 404


def test_a_ui_save_is_recorded_as_the_ui(client):
    resp = client.post("/api/v1/flows", json=load("big_order_slack"), headers={"X-Automation-Client": "ui"})
    assert resp.status_code == 201
    assert versions(client, resp.get_json()["id"])["versions"][0]["author"] == "ui"


def test_an_enabled_flow_cannot_go_back_to_a_version_without_its_secrets(client):
    flow = create(client)
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    assert client.delete(f"/api/v1/flows/{flow['id']}").status_code == 204
    imported = client.post("/api/v1/flows/import", json=exported).get_json()["flows"][0]
    assert imported["enabled"] is False and imported["needs_secrets"]  # version 1: no secret
    filled = copy.deepcopy(imported)
    filled["nodes"][2]["params"]["webhook_url"] = SLACK_URL
    put(client, filled, enabled=True)  # version 2: filled in and switched on
    resp = client.post(f"/api/v1/flows/{flow['id']}/versions/1/restore")
    assert resp.status_code == 409
    assert resp.get_json()["errors"][0]["path"] == "/nodes/2/params/webhook_url"
    assert client.patch(f"/api/v1/flows/{flow['id']}", json={"enabled": False}).status_code == 200
    assert client.post(f"/api/v1/flows/{flow['id']}/versions/1/restore").status_code == 200


def test_a_run_records_the_version_it_ran_and_the_export_carries_it(app, client, fake_receiver):
    from tests.engine.test_ingest_and_runs import drain

    flow = {
        "format": "automation-flow/1",
        "name": "hook",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "hook", "type": "action.webhook", "params": {"url": fake_receiver.url + "/v1"}},
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }
    created = client.post("/api/v1/flows", json=flow).get_json()
    flow["nodes"][1]["params"]["url"] = fake_receiver.url + "/v2"
    assert client.put(f"/api/v1/flows/{created['id']}", json=flow).status_code == 200
    assert client.put("/api/v1/orders/41", json={"price": 1}).status_code == 202
    drain(app)
    (run,) = client.get(f"/api/v1/runs?flow_id={created['id']}").get_json()["runs"]
    assert run["flow_version"] == 2
    assert client.get(f"/api/v1/runs/{run['id']}").get_json()["flow_version"] == 2
    assert [r.path for r in fake_receiver.requests] == ["/v2"]
    assert client.get(f"/api/v1/flows/{created['id']}/export").get_json()["version"] == 2
