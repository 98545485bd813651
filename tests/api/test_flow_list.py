"""The scenario list over HTTP: search, filters, sort, tags, «Дублировать», bulk on/off and the
import that asks on a name or id collision (SPEC §11, issue #18 «List»)."""

from __future__ import annotations

import pytest

from tests.api.test_flows import load


def create(client, fixture="big_order_slack", **changes) -> dict:
    resp = client.post("/api/v1/flows", json={**load(fixture), **changes})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def names(client, query: str = "") -> list[str]:
    resp = client.get(f"/api/v1/flows{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [f["name"] for f in resp.get_json()["flows"]]


@pytest.fixture
def three(app, client):
    """Three flows: two order ones (one failing, tagged), one visit one, disabled."""
    a = create(client, name="Заказ крупный", tags=["Продажи", "VIP"])
    b = create(client, name="Заказ обычный", enabled=False)
    c = create(client, "city_branch_slack", name="Визит из Москвы", tags=["продажи"])
    from plugin.api.extensions import db
    from plugin.storage.models import Flow

    with app.app_context():
        db.session.get(Flow, a["id"]).failed_count = 3
        db.session.get(Flow, a["id"]).triggered_count = 9
        db.session.get(Flow, c["id"]).triggered_count = 4
        db.session.commit()
    return a, b, c


def test_search_is_case_insensitive_in_cyrillic_names(client, three):
    assert names(client, "?q=заказ") == ["Заказ крупный", "Заказ обычный"]
    assert names(client, "?q=МОСКВ") == ["Визит из Москвы"]
    assert names(client, "?q=нет такого") == []


def test_filters_by_status_event_tag_and_errors_combine(client, three):
    assert names(client, "?status=disabled") == ["Заказ обычный", "Визит из Москвы"]
    assert names(client, "?status=enabled") == ["Заказ крупный"]
    assert names(client, "?event=event.visit_created") == ["Визит из Москвы"]
    assert names(client, "?tag=ПРОДАЖИ") == ["Заказ крупный", "Визит из Москвы"]
    assert names(client, "?has_errors=true") == ["Заказ крупный"]
    assert names(client, "?has_errors=false&status=disabled&q=заказ") == ["Заказ обычный"]


def test_sort_by_any_column_both_ways(client, three):
    assert names(client, "?sort=name") == ["Визит из Москвы", "Заказ крупный", "Заказ обычный"]
    assert names(client, "?sort=-name") == ["Заказ обычный", "Заказ крупный", "Визит из Москвы"]
    assert names(client, "?sort=-runs") == ["Заказ крупный", "Визит из Москвы", "Заказ обычный"]
    assert names(client, "?sort=-status")[0] == "Заказ крупный"
    assert names(client, "?sort=-created") == ["Визит из Москвы", "Заказ обычный", "Заказ крупный"]
    assert names(client, "?sort=failed")[-1] == "Заказ крупный"


def test_list_items_carry_tags_and_created_at(client, three):
    items = {f["name"]: f for f in client.get("/api/v1/flows").get_json()["flows"]}
    assert items["Заказ крупный"]["tags"] == ["Продажи", "VIP"]
    assert items["Заказ обычный"]["tags"] == [] and items["Заказ обычный"]["created_at"]


def test_bad_list_queries_are_422_naming_each_parameter(client):
    resp = client.get("/api/v1/flows?sort=color&status=on&has_errors=yes&q=" + "x" * 201)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert sorted(e["path"] for e in resp.get_json()["errors"]) == ["/has_errors", "/q", "/sort", "/status"]


def test_tags_are_validated_and_round_trip_through_export(client):
    bad = client.post("/api/v1/flows", json={**load("big_order_slack"), "tags": ["x" * 41, "", 5]})
    assert bad.status_code == 422
    paths = {e["path"] for e in bad.get_json()["errors"]}
    assert {"/tags/0", "/tags/1", "/tags/2"} <= paths
    too_many = client.post(
        "/api/v1/flows", json={**load("big_order_slack"), "tags": [f"t{i}" for i in range(21)]}
    )
    assert too_many.status_code == 422 and too_many.get_json()["errors"][0]["path"] == "/tags"
    flow = create(client, tags=["Продажи"])
    assert client.get(f"/api/v1/flows/{flow['id']}/export").get_json()["tags"] == ["Продажи"]


def test_duplicate_is_a_disabled_copy_named_kopiya(client):
    flow = create(client)
    resp = client.post(f"/api/v1/flows/{flow['id']}/duplicate")
    assert resp.status_code == 201
    dup = resp.get_json()
    assert dup["id"] != flow["id"] and dup["name"] == "Крупный заказ → Slack (копия)"
    assert dup["enabled"] is False and dup["version"] == 1 and dup["nodes"] == flow["nodes"]
    again = client.post(f"/api/v1/flows/{flow['id']}/duplicate").get_json()
    assert again["name"] == "Крупный заказ → Slack (копия 2)"
    missing = client.post("/api/v1/flows/nope/duplicate")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_bulk_switches_all_or_none(client, three):
    a, b, c = three
    resp = client.post("/api/v1/flows/bulk", json={"ids": [b["id"], c["id"]], "enabled": True})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert [f["enabled"] for f in resp.get_json()["flows"]] == [True, True]
    assert names(client, "?status=disabled") == []
    off = client.post("/api/v1/flows/bulk", json={"ids": [a["id"], b["id"], c["id"]], "enabled": False})
    assert off.status_code == 200 and names(client, "?status=enabled") == []
    unknown = client.post("/api/v1/flows/bulk", json={"ids": [a["id"], "nope"], "enabled": True})
    assert unknown.status_code == 422 and unknown.get_json()["errors"] == [
        {"path": "/ids/1", "message": "no flow 'nope'"}
    ]
    assert names(client, "?status=enabled") == []  # nothing was changed


def test_bulk_refuses_to_enable_a_flow_with_a_secret_to_fill_in(client):
    flow = create(client, enabled=False)
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    imported = client.post("/api/v1/flows/import?on_conflict=copy", json={**exported, "id": "other"})
    copy_id = imported.get_json()["flows"][0]["id"]
    resp = client.post("/api/v1/flows/bulk", json={"ids": [flow["id"], copy_id], "enabled": True})
    assert resp.status_code == 409
    assert [e["path"] for e in resp.get_json()["errors"]] == ["/ids/1"]
    assert names(client, "?status=enabled") == []


@pytest.mark.parametrize(
    "body, path",
    [
        ({}, "/ids"),
        ({"ids": [], "enabled": True}, "/ids"),
        ({"ids": [5], "enabled": True}, "/ids/0"),
        ({"ids": ["a"], "enabled": "yes"}, "/enabled"),
        ({"ids": ["a"], "enabled": True, "extra": 1}, "/extra"),
    ],
)
def test_bad_bulk_bodies_are_422(client, body, path):
    resp = client.post("/api/v1/flows/bulk", json=body)
    assert resp.status_code == 422 and path in [e["path"] for e in resp.get_json()["errors"]]


def test_import_collision_fails_by_default_naming_it_and_imports_nothing(client):
    flow = create(client)
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    second = {**load("city_branch_slack")}
    resp = client.post("/api/v1/flows/import", json={"flows": [second, exported]})
    assert resp.status_code == 409 and resp.mimetype == "application/problem+json"
    (error,) = resp.get_json()["errors"]
    assert error["path"] == "/flows/1/id" and flow["id"] in error["message"]
    by_name = client.post("/api/v1/flows/import", json={**exported, "id": "fresh"})
    assert by_name.status_code == 409 and by_name.get_json()["errors"][0]["path"] == "/name"
    assert len(names(client)) == 1
    bad = client.post("/api/v1/flows/import?on_conflict=merge", json=exported)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["path"] == "/on_conflict"


def test_import_copy_and_replace(client):
    flow = create(client)
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    copied = client.post("/api/v1/flows/import?on_conflict=copy", json=exported).get_json()["flows"][0]
    assert copied["id"] != flow["id"] and copied["name"] == "Крупный заказ → Slack (копия)"
    changed = {**exported, "name": "Новое имя", "tags": ["импорт"]}
    replaced = client.post("/api/v1/flows/import?on_conflict=replace", json=changed)
    assert replaced.status_code == 201
    doc = replaced.get_json()["flows"][0]
    assert doc["id"] == flow["id"] and doc["name"] == "Новое имя" and doc["version"] == 2
    assert doc["enabled"] is True  # its stored secret kept: it may stay on
    assert len(names(client)) == 2
