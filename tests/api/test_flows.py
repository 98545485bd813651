"""Scenarios over HTTP: list fields, CRUD, enable/rename, export → import round trip (SPEC §6, §7)."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "flows"
PLACEHOLDER = "********"


def load(name: str) -> dict:
    return json.loads((FLOWS / f"{name}.json").read_text(encoding="utf-8"))


def masked(registry, doc: dict) -> list[dict]:
    """The fixture's nodes as the API must give them back: secrets as the placeholder."""
    out = []
    for node in copy.deepcopy(doc["nodes"]):
        for name in registry[node["type"]].secret_fields:
            if node["params"].get(name):
                node["params"][name] = PLACEHOLDER
        out.append(node)
    return out


def portable(nodes: list[dict]) -> list[dict]:
    """What must survive a round trip: ids, types, params and positions."""
    return [{k: n.get(k) for k in ("id", "type", "params", "position")} for n in nodes]


@pytest.fixture
def registry(app):
    from plugin.api.context import rt

    with app.app_context():
        return rt().registry


def create(client, name: str = "big_order_slack", **changes) -> dict:
    doc = {**load(name), **changes}
    resp = client.post("/api/v1/flows", json=doc)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


# -- create, read, list ------------------------------------------------------------------------


def test_created_flow_is_returned_as_saved_with_a_new_id(client, registry):
    doc = load("big_order_slack")
    flow = create(client)
    assert flow["id"] and flow["format"] == "automation-flow/1"
    assert flow["name"] == doc["name"] and flow["enabled"] is True and flow["version"] == 1
    assert portable(flow["nodes"]) == portable(masked(registry, doc))
    assert flow["edges"] == doc["edges"]
    assert flow["event_type"] == "event.order_created"
    assert client.get(f"/api/v1/flows/{flow['id']}").get_json() == flow


def test_list_items_carry_status_name_and_trigger_counts(client):
    first = create(client)
    second = create(client, "city_branch_slack")
    resp = client.get("/api/v1/flows")
    assert resp.status_code == 200
    items = resp.get_json()["flows"]
    assert [i["id"] for i in items] == [first["id"], second["id"]]
    by_id = {i["id"]: i for i in items}
    assert by_id[first["id"]]["enabled"] is True and by_id[second["id"]]["enabled"] is False
    assert by_id[first["id"]]["name"] == "Крупный заказ → Slack"
    assert by_id[second["id"]]["name"] == "Визит из Москвы или нет → Slack"
    for item in items:
        assert item["stats"] == {
            "triggered": 0,
            "failed": 0,
            "suppressed": 0,
            "last_triggered_at": None,
            "last_7_days": {"triggered": 0, "failed": 0, "daily": [0] * 7},  # the list's sparkline
        }


def test_list_stats_reflect_the_stored_counters(app, client):
    from plugin.api.extensions import db
    from plugin.storage.models import Flow

    flow = create(client)
    with app.app_context():
        row = db.session.get(Flow, flow["id"])
        row.triggered_count, row.failed_count = 7, 2
        row.last_triggered_at = datetime(2025, 3, 1, 12, 30, 5)
        db.session.commit()
    (item,) = client.get("/api/v1/flows").get_json()["flows"]
    assert item["stats"]["triggered"] == 7 and item["stats"]["failed"] == 2
    assert item["stats"]["last_triggered_at"].startswith("2025-03-01T12:30:05")
    detail = client.get(f"/api/v1/flows/{flow['id']}").get_json()["stats"]
    assert detail == {k: v for k, v in item["stats"].items() if k != "last_7_days"}


def test_empty_list(client):
    resp = client.get("/api/v1/flows")
    assert resp.status_code == 200 and resp.get_json() == {"flows": []}


# -- PUT, PATCH, DELETE ------------------------------------------------------------------------


def test_put_replaces_the_document_and_bumps_the_version(client):
    flow = create(client)
    doc = load("big_order_slack")
    doc["name"] = "Очень крупный заказ"
    doc["nodes"][1]["params"]["value"] = 50000
    doc["nodes"][2]["position"] = {"x": 900.5, "y": -40}
    resp = client.put(f"/api/v1/flows/{flow['id']}", json=doc)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    got = client.get(f"/api/v1/flows/{flow['id']}").get_json()
    assert got["name"] == "Очень крупный заказ" and got["version"] == 2
    assert got["nodes"][1]["params"]["value"] == 50000
    assert got["nodes"][2]["position"] == {"x": 900.5, "y": -40}
    assert [f["id"] for f in client.get("/api/v1/flows").get_json()["flows"]] == [flow["id"]]


def test_patch_disables_enables_and_renames(client):
    flow = create(client)
    url = f"/api/v1/flows/{flow['id']}"
    resp = client.patch(url, json={"enabled": False})
    assert resp.status_code == 200 and resp.get_json()["enabled"] is False
    assert client.get("/api/v1/flows").get_json()["flows"][0]["enabled"] is False
    resp = client.patch(url, json={"enabled": True, "name": "  Переименован  "})
    assert resp.status_code == 200
    item = client.get("/api/v1/flows").get_json()["flows"][0]
    assert item["enabled"] is True and item["name"] == "Переименован"
    # a rename or a toggle keeps the nodes
    assert client.get(url).get_json()["nodes"] == flow["nodes"]


@pytest.mark.parametrize(
    "body, paths",
    [
        ({"enabled": "yes"}, ["/enabled"]),
        ({"name": ""}, ["/name"]),
        ({"name": "x" * 201}, ["/name"]),
        ({"nodes": []}, ["/nodes"]),
        ({"enabled": 1, "name": 5, "colour": "red"}, ["/enabled", "/name", "/colour"]),
        ([True], ["/"]),
    ],
)
def test_patch_rejects_bad_fields_and_changes_nothing(client, body, paths):
    flow = create(client)
    resp = client.patch(f"/api/v1/flows/{flow['id']}", json=body)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert {e["path"] for e in resp.get_json()["errors"]} >= set(paths)
    after = client.get(f"/api/v1/flows/{flow['id']}").get_json()
    assert after["enabled"] is True and after["name"] == flow["name"]


def test_delete_then_404(client):
    flow = create(client)
    other = create(client, "city_branch_slack")
    resp = client.delete(f"/api/v1/flows/{flow['id']}")
    assert resp.status_code == 204 and resp.get_data() == b""
    resp = client.get(f"/api/v1/flows/{flow['id']}")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    assert client.delete(f"/api/v1/flows/{flow['id']}").status_code == 404
    assert [f["id"] for f in client.get("/api/v1/flows").get_json()["flows"]] == [other["id"]]


# -- export / import ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["big_order_slack", "city_branch_slack", "custom_event_all_secrets"])
def test_export_import_export_gives_back_the_same_document(client, registry, name):
    original = load(name)
    flow = create(client, name)
    first = client.get(f"/api/v1/flows/{flow['id']}/export")
    assert first.status_code == 200
    exported = first.get_json()
    assert exported["format"] == "automation-flow/1"
    assert exported["name"] == original["name"]
    assert portable(exported["nodes"]) == portable(masked(registry, original))
    assert exported["edges"] == original["edges"]
    for key in ("stats", "needs_secrets", "created_at", "updated_at", "event_type"):
        assert key not in exported, f"an export is portable: no {key}"

    resp = client.post("/api/v1/flows/import?on_conflict=copy", json=exported)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    (imported,) = resp.get_json()["flows"]
    assert imported["id"] != flow["id"], "the original still exists, so the copy gets a new id"
    again = client.get(f"/api/v1/flows/{imported['id']}/export").get_json()
    assert again["name"] == exported["name"] + " (копия)", "a copy beside the original is named so"
    assert portable(again["nodes"]) == portable(exported["nodes"])
    assert again["edges"] == exported["edges"]
    assert again.get("description") == exported.get("description") == original.get("description")


def test_import_keeps_the_exported_id_when_it_is_free(client):
    flow = create(client, "city_branch_slack")
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    assert client.delete(f"/api/v1/flows/{flow['id']}").status_code == 204
    (imported,) = client.post("/api/v1/flows/import", json=exported).get_json()["flows"]
    assert imported["id"] == flow["id"]
    assert imported["nodes"] == flow["nodes"] and imported["edges"] == flow["edges"]


def test_import_many_is_all_or_nothing(client):
    good, other = load("big_order_slack"), load("city_branch_slack")
    bad = load("city_branch_slack")
    bad["nodes"][2]["params"]["text"] = "{clinet_name}"
    resp = client.post("/api/v1/flows/import", json={"flows": [good, bad, other]})
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert [e["path"] for e in resp.get_json()["errors"]] == ["/flows/1/nodes/2/params/text"]
    assert client.get("/api/v1/flows").get_json()["flows"] == []

    resp = client.post("/api/v1/flows/import", json={"flows": [good, other, good]})
    assert resp.status_code == 201
    imported = resp.get_json()["flows"]
    assert [f["name"] for f in imported] == [good["name"], other["name"], good["name"]]
    assert len({f["id"] for f in imported}) == 3
    assert len(client.get("/api/v1/flows").get_json()["flows"]) == 3


def test_two_documents_with_the_same_id_in_one_import_both_land(client):
    doc = {**load("big_order_slack"), "id": "shared-id"}
    resp = client.post("/api/v1/flows/import", json={"flows": [doc, doc]})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    ids = [f["id"] for f in resp.get_json()["flows"]]
    assert ids[0] == "shared-id" and ids[1] != "shared-id"


def test_an_imported_flow_without_secrets_keeps_its_enabled_flag(client):
    doc = load("big_order_slack")  # the Slack URL is given in clear, so nothing is missing
    (imported,) = client.post("/api/v1/flows/import", json=doc).get_json()["flows"]
    assert imported["enabled"] is True and imported["needs_secrets"] == []
