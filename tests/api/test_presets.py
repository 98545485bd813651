"""Templates («шаблоны»): trigger presets (event + conditions) and action presets (one action)."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import text

PLACEHOLDER = "********"
SLACK_URL = "https://hooks.slack.com/services/T9/B9/presetsecret"

TRIGGER = {
    "name": "Оплаченная сделка из Москвы",
    "kind": "trigger",
    "nodes": [
        {
            "id": "paid",
            "type": "event.order_status_changed",
            "params": {"to": ["Оплачено"]},
            "position": {"x": 0, "y": 0},
        },
        {
            "id": "city",
            "type": "condition.visit_city",
            "params": {"operator": "any_of", "value": "Москва, Химки"},
            "position": {"x": 200, "y": 0},
        },
    ],
    "edges": [{"from": "paid", "to": "city"}],
}
ACTION = {
    "name": "Уведомить отдел продаж",
    "kind": "action",
    "nodes": [
        {
            "id": "notify",
            "type": "action.slack",
            "params": {"text": "Сделка {order_id}: {order_price} ₽", "webhook_url": SLACK_URL},
            "position": {"x": 10, "y": 20},
        }
    ],
}


def assert_problem(resp, paths: list[str]) -> None:
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    got = [e["path"] for e in resp.get_json()["errors"]]
    for path in paths:
        assert path in got, f"expected {path} in {got}"


@pytest.mark.parametrize("preset", [TRIGGER, ACTION], ids=["trigger", "action"])
def test_preset_crud(client, preset):
    resp = client.post("/api/v1/presets", json=preset)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    created = resp.get_json()
    preset_id = created["id"]
    assert created["name"] == preset["name"] and created["kind"] == preset["kind"]
    assert [n["id"] for n in created["nodes"]] == [n["id"] for n in preset["nodes"]]
    assert [n["position"] for n in created["nodes"]] == [n["position"] for n in preset["nodes"]]
    assert created["edges"] == preset.get("edges", [])

    assert client.get(f"/api/v1/presets/{preset_id}").get_json() == created
    listed = client.get("/api/v1/presets").get_json()["presets"]
    assert [p["id"] for p in listed] == [preset_id]

    changed = copy.deepcopy(preset)
    changed["name"] = "Переименованный шаблон"
    changed["nodes"][-1]["params"]["text" if preset["kind"] == "action" else "value"] = (
        "Новый текст {client_name}" if preset["kind"] == "action" else ["Казань"]
    )
    resp = client.put(f"/api/v1/presets/{preset_id}", json=changed)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    got = client.get(f"/api/v1/presets/{preset_id}").get_json()
    assert got["name"] == "Переименованный шаблон"
    assert got["nodes"][-1]["params"] == {
        k: (PLACEHOLDER if k == "webhook_url" else v) for k, v in changed["nodes"][-1]["params"].items()
    }

    assert client.delete(f"/api/v1/presets/{preset_id}").status_code == 204
    resp = client.get(f"/api/v1/presets/{preset_id}")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    assert client.get("/api/v1/presets").get_json()["presets"] == []


def test_presets_of_both_kinds_are_listed_together(client):
    trigger = client.post("/api/v1/presets", json=TRIGGER).get_json()
    action = client.post("/api/v1/presets", json=ACTION).get_json()
    listed = client.get("/api/v1/presets").get_json()["presets"]
    assert {(p["id"], p["kind"]) for p in listed} == {(trigger["id"], "trigger"), (action["id"], "action")}


def test_unknown_preset_is_404(client):
    assert client.get("/api/v1/presets/nope").status_code == 404
    assert client.put("/api/v1/presets/nope", json=ACTION).status_code == 404
    assert client.delete("/api/v1/presets/nope").status_code == 404


def _action_with_two_nodes():
    doc = copy.deepcopy(ACTION)
    doc["nodes"].append({**copy.deepcopy(doc["nodes"][0]), "id": "again"})
    return doc


def _trigger_with_an_action():
    doc = copy.deepcopy(TRIGGER)
    doc["nodes"].append(copy.deepcopy(ACTION["nodes"][0]))
    return doc


def _trigger_without_event():
    doc = copy.deepcopy(TRIGGER)
    del doc["nodes"][0]
    doc["edges"] = []
    return doc


def _trigger_with_two_events():
    doc = copy.deepcopy(TRIGGER)
    doc["nodes"].append({"id": "visit", "type": "event.visit_created", "params": {}})
    return doc


def _action_preset_holding_a_condition():
    doc = copy.deepcopy(ACTION)
    doc["nodes"] = [copy.deepcopy(TRIGGER["nodes"][1])]
    return doc


def _unknown_kind():
    return {**copy.deepcopy(ACTION), "kind": "macro"}


def _empty_name():
    return {**copy.deepcopy(ACTION), "name": "   "}


def _unknown_variable():
    doc = copy.deepcopy(ACTION)
    doc["nodes"][0]["params"]["text"] = "Сделка {clinet_name}"
    return doc


def _bad_param():
    doc = copy.deepcopy(TRIGGER)
    doc["nodes"][1]["params"]["operator"] = "approximately"
    return doc


def _dangling_edge():
    doc = copy.deepcopy(TRIGGER)
    doc["edges"].append({"from": "city", "to": "ghost"})
    return doc


def _incompatible_condition():
    doc = copy.deepcopy(TRIGGER)
    doc["nodes"][1] = {
        "id": "city",
        "type": "condition.event_data",
        "params": {"path": "a", "operator": "is_empty"},
    }
    return doc


def _nodes_missing():
    doc = copy.deepcopy(ACTION)
    del doc["nodes"]
    return doc


@pytest.mark.parametrize(
    "build, paths",
    [
        pytest.param(_action_with_two_nodes, ["/nodes"], id="action_preset_with_two_nodes"),
        pytest.param(_trigger_with_an_action, ["/nodes/2/type"], id="trigger_preset_with_an_action"),
        pytest.param(_trigger_without_event, ["/nodes"], id="trigger_preset_without_event"),
        pytest.param(_trigger_with_two_events, ["/nodes"], id="trigger_preset_with_two_events"),
        pytest.param(_action_preset_holding_a_condition, ["/nodes"], id="action_preset_holding_a_condition"),
        pytest.param(_unknown_kind, ["/kind"], id="unknown_kind"),
        pytest.param(_empty_name, ["/name"], id="empty_name"),
        pytest.param(_unknown_variable, ["/nodes/0/params/text"], id="unknown_variable"),
        pytest.param(_bad_param, ["/nodes/1/params/operator"], id="unknown_operator"),
        pytest.param(_dangling_edge, ["/edges/1/to"], id="dangling_edge"),
        pytest.param(_incompatible_condition, ["/nodes/1/type"], id="incompatible_condition"),
        pytest.param(_nodes_missing, ["/nodes"], id="nodes_missing"),
        pytest.param(lambda: ["not", "an", "object"], ["/"], id="not_an_object"),
    ],
)
def test_invalid_preset_is_rejected_with_paths(client, build, paths):
    assert_problem(client.post("/api/v1/presets", json=build()), paths)
    assert client.get("/api/v1/presets").get_json()["presets"] == []
    # PUT validates the same way and leaves the stored preset alone
    stored = client.post("/api/v1/presets", json=ACTION).get_json()
    assert_problem(client.put(f"/api/v1/presets/{stored['id']}", json=build()), paths)
    assert client.get(f"/api/v1/presets/{stored['id']}").get_json() == stored


def test_preset_secrets_are_masked_encrypted_and_kept_by_a_placeholder_put(app, env, client):
    from plugin.api.extensions import db
    from plugin.storage.secrets import SecretBox

    created = client.post("/api/v1/presets", json=ACTION)
    assert SLACK_URL not in created.get_data(as_text=True)
    preset = created.get_json()
    assert preset["nodes"][0]["params"]["webhook_url"] == PLACEHOLDER
    for resp in (client.get(f"/api/v1/presets/{preset['id']}"), client.get("/api/v1/presets")):
        assert SLACK_URL not in resp.get_data(as_text=True) and "$secret" not in resp.get_data(as_text=True)

    preset["nodes"][0]["params"]["text"] = "Изменённый текст {order_id}"
    assert client.put(f"/api/v1/presets/{preset['id']}", json=preset).status_code == 200

    with app.app_context():
        raw = db.session.execute(text("SELECT definition FROM presets")).scalar_one()
    raw = raw if isinstance(raw, str) else json.dumps(raw)
    assert SLACK_URL not in raw
    stored = json.loads(raw)["nodes"][0]["params"]
    assert stored["text"] == "Изменённый текст {order_id}"
    box = SecretBox.from_config(env["AUTOMATION_SECRET_KEY"], env["AUTOMATION_DATA_DIR"])
    assert box.decrypt(stored["webhook_url"]) == SLACK_URL
