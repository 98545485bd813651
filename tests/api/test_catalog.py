"""The node catalog, variables, OpenAPI document, manifest and direct node execution (SPEC §3, §4, §7)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from plugin.registry import Registry, get_registry
from tests.conftest import ROOT

NODE_TYPES = {
    "event": [
        "event.visit_created",
        "event.order_created",
        "event.order_status_changed",
        "event.order_days_since_created",
        "event.order_days_since_paid",
        "event.custom",
    ],
    "condition": [
        "condition.visit_city",
        "condition.visit_country",
        "condition.visit_ip",
        "condition.visit_referrer",
        "condition.visit_domain",
        "condition.visit_landing_page",
        "condition.visit_marker",
        "condition.visit_utm",
        "condition.visit_roistat_param",
        "condition.client_orders_count",
        "condition.order_status",
        "condition.order_created_age",
        "condition.order_paid_age",
        "condition.order_price",
        "condition.event_data",
        "condition.order_field",  # SPEC §11
        "condition.client_field",
        "condition.group",  # SPEC §11 journeys
    ],
    "action": [
        "action.slack",
        "action.webhook",
        "action.sms",
        "action.email",
        "action.crm_task",
        "action.telegram",
    ],
    "flow": ["flow.delay", "flow.split", "flow.wait_event"],
}
VARIABLES = [
    "visit_id",
    "visit_ip",
    "visit_marker",
    "visit_city",
    "visit_country",
    "visit_referrer",
    "visit_domain",
    "visit_landing_page",
    "visit_utm_source",
    "visit_utm_medium",
    "visit_utm_campaign",
    "visit_utm_term",
    "visit_utm_content",
    "visit_roistat_param_1",
    "visit_roistat_param_2",
    "visit_roistat_param_3",
    "visit_roistat_param_4",
    "visit_roistat_param_5",
    "client_external_id",
    "client_name",
    "client_company",
    "client_phone",
    "client_email",
    "order_id",
    "order_price",
    "order_cost",
    "order_status",
    "event_id",
    "event_meta_id",
    "event_data",
    "unsubscribe_url",  # SPEC §11
]


# -- catalog -----------------------------------------------------------------------------------


def test_catalog_lists_all_33_node_types_with_schemas_and_titles(client):
    resp = client.get("/api/v1/nodes")
    assert resp.status_code == 200
    nodes = resp.get_json()["nodes"]
    assert len(nodes) == 33
    assert Counter(n["kind"] for n in nodes) == {"event": 6, "condition": 18, "action": 6, "flow": 3}
    assert {n["type"] for n in nodes} == {t for types in NODE_TYPES.values() for t in types}
    for node in nodes:
        assert node["type"].split(".")[0] == node["kind"]
        assert isinstance(node["version"], int) and node["version"] >= 1
        assert node["title"]["ru"].strip() and node["title"]["en"].strip(), node["type"]
        schema = node["schema"]
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["type"] == "object" and isinstance(schema["properties"], dict)
        assert schema["x-type"] == node["type"]
        # the catalog serves the schema file itself
        folder = {"event": "events", "condition": "conditions", "action": "actions", "flow": "flow"}[
            node["kind"]
        ]
        path = ROOT / "plugin" / "schemas" / folder / (node["type"].split(".", 1)[1] + ".json")
        assert schema == json.loads(path.read_text(encoding="utf-8"))


def test_catalog_titles_are_the_roistat_labels(client):
    titles = {n["type"]: n["title"]["ru"] for n in client.get("/api/v1/nodes").get_json()["nodes"]}
    assert titles["event.visit_created"] == "Новый визит"
    assert titles["event.order_created"] == "Новая сделка"
    assert titles["event.order_days_since_created"] == "С момента создания сделки прошло N дней"
    assert titles["condition.visit_city"] == "Город"
    assert titles["condition.client_orders_count"] == "Количество заказов"
    assert titles["action.email"] == "Отправить письмо клиенту"
    assert titles["action.crm_task"] == "Задача менеджеру в CRM"
    assert titles["flow.delay"] == "Задержка"


def test_catalog_is_ordered_events_conditions_actions_flow(client):
    kinds = [n["kind"] for n in client.get("/api/v1/nodes").get_json()["nodes"]]
    order = ["event", "condition", "action", "flow"]
    assert kinds == sorted(kinds, key=order.index)


def test_catalog_and_manifest_list_node_types_in_the_spec_order(client, anon):
    """SPEC §3's order (NODE_TYPES above lists it): the editor's palette shows the catalog as it comes."""
    spec_order = [t for types in NODE_TYPES.values() for t in types]
    assert [n["type"] for n in client.get("/api/v1/nodes").get_json()["nodes"]] == spec_order
    assert [n["type"] for n in anon.get("/plugin.json").get_json()["nodes"]] == spec_order


def test_a_type_not_in_the_spec_order_follows_the_listed_ones_of_its_kind():
    live = get_registry()
    extra = {
        "action.aaa": replace(live["action.slack"], type="action.aaa"),
        "condition.zzz": replace(live["condition.visit_city"], type="condition.zzz"),
        "condition.aaa": replace(live["condition.visit_city"], type="condition.aaa"),
    }
    types = [n.type for n in Registry({**extra, **live.nodes}).catalog()]
    assert types.index("condition.group") + 1 == types.index("condition.aaa")
    assert types.index("condition.aaa") + 1 == types.index("condition.zzz")
    assert types.index("condition.zzz") + 1 == types.index("action.slack")
    assert types.index("action.telegram") + 1 == types.index("action.aaa")
    assert types.index("action.aaa") + 1 == types.index("flow.delay")
    assert types.index("flow.delay") + 1 == types.index("flow.split")
    assert [t for t in types if t not in extra] == [n.type for n in live.catalog()]


def test_secret_and_template_fields_are_marked(client):
    nodes = {n["type"]: n["schema"]["properties"] for n in client.get("/api/v1/nodes").get_json()["nodes"]}
    assert nodes["action.slack"]["webhook_url"]["x-secret"] is True
    assert nodes["action.slack"]["text"]["x-template"] is True
    assert nodes["action.email"]["password"]["x-secret"] is True
    assert nodes["action.email"]["html"]["x-template"] is True
    assert nodes["action.telegram"]["bot_token"]["x-secret"] is True
    assert nodes["action.webhook"]["signing_secret"]["x-secret"] is True


@pytest.mark.parametrize("type_id", [t for types in NODE_TYPES.values() for t in types])
def test_one_node_type(client, type_id):
    listed = {n["type"]: n for n in client.get("/api/v1/nodes").get_json()["nodes"]}
    resp = client.get(f"/api/v1/nodes/{type_id}")
    assert resp.status_code == 200
    assert resp.get_json() == listed[type_id]


@pytest.mark.parametrize("type_id", ["action.fax", "event", "condition.visit_city.x", "ACTION.SLACK"])
def test_unknown_node_type_is_404_problem(client, type_id):
    resp = client.get(f"/api/v1/nodes/{type_id}")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    resp = client.post(f"/api/v1/nodes/{type_id}/execute", json={"params": {}})
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"


# -- variables ---------------------------------------------------------------------------------


def test_variables_lists_the_30_roistat_variables_and_the_unsubscribe_link_with_titles_and_examples(client):
    resp = client.get("/api/v1/variables")
    assert resp.status_code == 200
    variables = resp.get_json()["variables"]
    assert [v["name"] for v in variables] == VARIABLES
    for var in variables:
        assert var["title"]["ru"].strip() and var["title"]["en"].strip(), var
        assert re.search("[а-яА-ЯёЁ]", var["title"]["ru"]), var
        assert isinstance(var["example"], str) and var["example"], var


# -- OpenAPI and manifest ----------------------------------------------------------------------


def test_openapi_is_3_1_and_lists_every_route(app, anon):
    resp = anon.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert re.fullmatch(r"3\.1\.\d+", spec["openapi"])
    assert spec["info"]["title"] and spec["info"]["version"]
    ui_routes = {"/", "/favicon.svg", "/assets/<path:filename>", "/api/v1/openapi.json"}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule in ui_routes:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in spec["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert not missing, f"routes missing from the OpenAPI document: {sorted(missing)}"
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert {k: scheme[k] for k in ("type", "scheme")} == {"type": "http", "scheme": "bearer"}
    assert all(scope in scheme["description"] for scope in ("ingest", "read", "admin"))
    assert "FlowDocument" in spec["components"]["schemas"]


def test_openapi_marks_only_the_public_routes_as_open(anon):
    spec = anon.get("/api/v1/openapi.json").get_json()
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/api/v1/health"]["get"]["security"] == []
    assert spec["paths"]["/plugin.json"]["get"]["security"] == []
    assert spec["paths"]["/api/v1/flows"]["get"].get("security") != []


def test_manifest_is_public_and_describes_every_node(anon):
    resp = anon.get("/plugin.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    manifest = resp.get_json()
    assert manifest["api"]["base"] == "/api/v1" and manifest["api"]["openapi"] == "/api/v1/openapi.json"
    assert "automation-flow/1" in json.dumps(manifest["flow_format"])
    types = {n["type"]: n for n in manifest["nodes"]}
    assert set(types) == {t for ts in NODE_TYPES.values() for t in ts}
    for type_id, node in types.items():
        assert node["execute"] == f"/api/v1/nodes/{type_id}/execute"
        assert node["schema"] == f"/api/v1/nodes/{type_id}/schema"


def test_manifest_file_at_the_repo_root_matches_the_served_one(anon):
    served = anon.get("/plugin.json").get_json()
    on_disk = json.loads((ROOT / "plugin.json").read_text(encoding="utf-8"))
    assert on_disk == served, "plugin.json is stale: run `python server.py manifest`"


# -- direct node execution ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, visit, expected",
    [
        ({"operator": "equals", "value": "Москва"}, {"city": "МОСКВА"}, True),
        ({"operator": "equals", "value": "МОСКВА"}, {"city": "москва"}, True),
        ({"operator": "equals", "value": "ёлки"}, {"city": "ЁЛКИ"}, True),
        ({"operator": "equals", "value": "Москва", "case_sensitive": True}, {"city": "МОСКВА"}, False),
        ({"operator": "equals", "value": "Москва"}, {"city": "Казань"}, False),
        ({"operator": "any_of", "value": "Казань, москва"}, {"city": "МОСКВА"}, True),
        ({"operator": "any_of", "value": ["Казань", "Самара"]}, {"city": "Москва"}, False),
        ({"operator": "contains", "value": "ПЕТЕР"}, {"city": "Санкт-Петербург"}, True),
        ({"operator": "not_contains", "value": "петер"}, {"city": "Москва"}, True),
        ({"operator": "not_equals", "value": "Москва"}, {"city": "Тверь"}, True),
        ({"operator": "equals", "value": "Москва"}, {"city": None}, False),
        ({"operator": "not_equals", "value": "Москва"}, {"city": None}, True),
        ({"operator": "not_contains", "value": "Москва"}, None, True),
        ({"operator": "is_empty"}, {"city": ""}, True),
        ({"operator": "is_not_empty"}, {"city": "Сочи"}, True),
    ],
)
def test_execute_visit_city_condition(client, params, visit, expected):
    resp = client.post(
        "/api/v1/nodes/condition.visit_city/execute", json={"params": params, "context": {"visit": visit}}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json() == {"result": expected}


@pytest.mark.parametrize(
    "params, event, expected",
    [
        ({"to": ["Оплачено"]}, {"data": {"from": "Новая", "to": "ОПЛАЧЕНО"}}, True),
        ({"to": ["Оплачено"]}, {"data": {"from": "Новая", "to": "В работе"}}, False),
        (
            {"from": ["новая"], "to": ["В работе", "Оплачено"]},
            {"data": {"from": "Новая", "to": "в работе"}},
            True,
        ),
        ({"from": ["Новая"]}, {"data": {"from": "Отказ", "to": "Оплачено"}}, False),
        ({}, {"data": {"from": "A", "to": "B"}}, True),
        ({"to": ["Оплачено"]}, {"type": "order_status_changed", "data": {"to": "Оплачено"}}, True),
        ({}, {"type": "order_created", "data": {}}, False),
    ],
)
def test_execute_order_status_changed_event(client, params, event, expected):
    resp = client.post(
        "/api/v1/nodes/event.order_status_changed/execute", json={"params": params, "event": event}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json() == {"matches": expected}


@pytest.mark.parametrize("days, expected", [(3, True), (10, True), (30, False)])
def test_execute_n_days_event_against_the_order_date(client, days, expected):
    created = (datetime.now(UTC) - timedelta(days=10, minutes=5)).isoformat()
    resp = client.post(
        "/api/v1/nodes/event.order_days_since_created/execute",
        json={"params": {"days": days}, "context": {"order": {"id": "1", "created_at": created}}},
    )
    assert resp.status_code == 200
    assert resp.get_json() == {"matches": expected}


def test_execute_order_price_condition(client):
    def run(op, value, price):
        resp = client.post(
            "/api/v1/nodes/condition.order_price/execute",
            json={
                "params": {"operator": op, "value": value},
                "context": {"order": {"id": "1", "price": price}},
            },
        )
        assert resp.status_code == 200
        return resp.get_json()["result"]

    assert run("gt", 10000, 15000) is True
    assert run("gt", 10000, 10000) is False
    assert run("lte", 10000, 10000) is True
    assert run("gt", 10000, None) is False


@pytest.mark.parametrize(
    "type_id, body, paths",
    [
        (
            "condition.visit_city",
            {"params": {"operator": "approximately", "value": "x"}},
            ["/params/operator"],
        ),
        ("condition.visit_city", {"params": {"operator": "equals"}}, ["/params/value"]),
        ("condition.visit_city", {"params": {"operator": "equals", "value": "x", "x": 1}}, ["/params/x"]),
        ("condition.visit_city", {"params": [], "context": "x"}, ["/params", "/context"]),
        (
            "condition.visit_city",
            {"params": {"operator": "equals", "value": "x"}, "context": {"visit": 5}},
            ["/context/visit"],
        ),
        ("event.order_days_since_created", {"params": {"days": -1}}, ["/params/days"]),
        (
            "action.slack",
            {"params": {"text": "{clinet_name}", "webhook_url": "https://hooks.slack.com/x"}},
            ["/params/text"],
        ),
        ("action.slack", {"params": {"text": "hi", "webhook_url": "********"}}, ["/params/webhook_url"]),
    ],
)
def test_execute_rejects_bad_params_with_paths(client, type_id, body, paths):
    resp = client.post(f"/api/v1/nodes/{type_id}/execute", json=body)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    got = {e["path"] for e in resp.get_json()["errors"]}
    assert set(paths) <= got, got
