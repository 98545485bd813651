"""examples/: every scenario imports and triggers in a dry run; the n8n and Node-RED files call documented endpoints."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from plugin.manifest import MANIFEST_PATH
from plugin.nodes.base import SECRET_PLACEHOLDER
from plugin.registry import get_registry
from tests.interop.test_manifest import openapi_operation

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENARIOS = sorted((EXAMPLES / "scenarios").glob("*.json"))
N8N = EXAMPLES / "n8n" / "workflow.json"
NODE_RED = EXAMPLES / "node-red" / "flow.json"
OLD = "2020-01-15T09:00:00Z"

CLIENT = {
    "external_id": "5501",
    "name": "Анна Смирнова",
    "company": "ООО «Ромашка»",
    "phone": "79161234567",
    "email": "anna@example.com",
}
VISIT = {
    "id": "88001",
    "marker": "yandex_direct_spring",
    "landing_page": "https://site.ru/promo/spring",
    "utm_source": "yandex",
    "utm_campaign": "spring_sale",
}


def ctx(order=None, visit=None, event=None, orders_count=0, client=CLIENT) -> dict:
    return {
        "visit": {**VISIT, **(visit or {})},
        "order": order,
        "client": client,
        "event": event,
        "client_orders_count": orders_count,
    }


def order(**fields) -> dict:
    return {"id": "4821", "price": 154000, "cost": 90000, "status": "Новая", "created_at": OLD, **fields}


# stem -> (context that makes it trigger, strings the rendered messages must contain)
SAMPLES: dict[str, tuple[dict, list[str]]] = {
    "01_returning_visitor_crm_task": (
        ctx(order=order(), orders_count=2),
        ["Анна Смирнова", "79161234567", "https://site.ru/promo/spring", "yandex_direct_spring"],
    ),
    "02_returning_visitor_email": (
        ctx(order=order(), orders_count=2),
        [
            "Анна Смирнова, рады видеть вас снова",
            "<h1>Здравствуйте, Анна Смирнова!</h1>",
            ".t-emailBlock { padding: 0 }",
        ],
    ),
    "03_stuck_deal_crm_task": (
        ctx(order=order(status="Новая")),
        ["Сделка №4821 на 154000 ₽ уже 3 дня в статусе «Новая»", "Анна Смирнова: 79161234567"],
    ),
    "04_after_sale_followup_slack": (
        ctx(order=order(status="Оплачен", status_group="paid", paid_at=OLD)),
        ["сделки 4821 (154000 ₽)", "Анна Смирнова, 79161234567"],
    ),
    "05_after_sale_followup_email": (
        ctx(order=order(status="Оплачен", status_group="paid", paid_at=OLD)),
        ["Анна Смирнова, как вам покупка?", "заказ №4821", "review?order=4821"],
    ),
    "06_big_order_slack": (
        ctx(order=order()),
        ["Крупный заказ 4821 на 154000 ₽", "Анна Смирнова (ООО «Ромашка»)", "yandex_direct_spring"],
    ),
    "07_paid_thank_you_email": (
        ctx(order=order(status="Оплачен")),
        ["Спасибо за покупку, Анна Смирнова!", "по заказу №4821 на сумму 154000 ₽"],
    ),
    "08_refusal_telegram": (
        ctx(order=order(status="Отказ")),
        ["Отказ по сделке 4821 (154000 ₽): клиент Анна Смирнова, 79161234567", "yandex / spring_sale"],
    ),
    "09_yandex_visit_webhook": (
        ctx(),
        ['"event_type": "visit_created"', '"utm_source": "yandex"', '"name": "Анна Смирнова"'],
    ),
    "10_form_submit_sms": (
        ctx(event={"id": "ev-1", "meta_id": "form_submit", "data": {"form": {"type": "callback"}}}),
        ["Анна Смирнова, спасибо за заявку!", '"to": "79161234567"'],
    ),
    "11_abandoned_cart_email": (
        ctx(event={"id": "ev-2", "meta_id": "cart_abandoned", "data": {"cart_total": 4990}}),
        ["Анна Смирнова, вы забыли товары в корзине", "товары на 4990 ₽"],
    ),
    "12_vip_client_telegram": (
        ctx(order=order(), orders_count=6),
        ["VIP-клиент Анна Смирнова (79161234567) оформил заказ 4821 на 154000 ₽"],
    ),
    "13_promo_landing_webhook": (
        ctx(),
        [
            '"landing_page": "https://site.ru/promo/spring"',
            '"script_name": "Посадочная страница /promo → вебхук"',
        ],
    ),
    "14_new_deal_branching": (
        ctx(order=order(price=80000)),
        ["Крупная сделка 4821: 80000 ₽, Анна Смирнова"],
    ),
}

# stem -> a context one detail away from triggering
NEAR_MISSES: dict[str, dict] = {
    "01_returning_visitor_crm_task": ctx(order=order(), orders_count=0),
    "03_stuck_deal_crm_task": ctx(order=order(status="В работе")),
    "04_after_sale_followup_slack": ctx(order=order(paid_at="2999-01-01T00:00:00Z")),
    "06_big_order_slack": ctx(order=order(price=99999)),
    "09_yandex_visit_webhook": ctx(visit={"utm_source": "google"}),
    "10_form_submit_sms": ctx(
        event={"id": "ev-3", "meta_id": "form_submit", "data": {"form": {"type": "order"}}}
    ),
    "12_vip_client_telegram": ctx(order=order(), orders_count=4),
    "13_promo_landing_webhook": ctx(visit={"landing_page": "https://site.ru/catalog"}),
}


def load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def import_one(client, doc: dict) -> dict:
    response = client.post("/api/v1/flows/import", json=doc)
    assert response.status_code == 201, response.get_json()
    (flow,) = response.get_json()["flows"]
    return flow


def dry_run(client, flow_id: str, context: dict) -> dict:
    response = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": context})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rendered(result: dict) -> str:
    return json.dumps(
        [s["output"] for s in result["steps"] if s["status"] in ("would_send", "needs_secret")],
        ensure_ascii=False,
    )


def test_there_are_at_least_twelve_scenarios_each_with_a_sample():
    stems = {p.stem for p in SCENARIOS}
    assert len(stems) >= 12
    assert stems == set(SAMPLES), "every example scenario needs a sample context in SAMPLES"
    assert set(NEAR_MISSES) <= stems
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert [stem for stem in sorted(stems) if f"`{stem}`" not in readme] == [], (
        "list every scenario in the README"
    )


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_file_is_a_russian_named_flow_document(path):
    doc = load(path)
    assert doc["format"] == "automation-flow/1"
    assert re.search("[А-Яа-яЁё]", doc["name"]), "names are Russian"
    assert "id" not in doc, "example files get their ids on import"
    registry = get_registry()
    for node in doc["nodes"]:
        spec = registry[node["type"]]
        assert node["version"] == spec.version
        for name in spec.secret_fields:
            value = node["params"].get(name)
            fake_url = isinstance(value, str) and re.match(
                r"^https://([a-z0-9-]+\.)*example\.[a-z.]+(/\S*)?$", value
            )
            assert value in (None, SECRET_PLACEHOLDER) or fake_url, (
                f"{node['id']}.{name} must be {SECRET_PLACEHOLDER!r}"
            )


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_imports_disabled_and_its_dry_run_triggers_with_the_values(client, path):
    flow = import_one(client, load(path))
    assert flow["enabled"] is False, "an example never starts sending before its secrets/URLs are filled"

    context, expected = SAMPLES[path.stem]
    result = dry_run(client, flow["id"], context)

    assert result["status"] == "would_trigger", result["steps"]
    assert not [s for s in result["steps"] if s["status"] == "failed"], result["steps"]
    messages = rendered(result)
    for text in expected:
        assert text in messages
    assert not re.search(r"\{[a-z][a-z0-9_]*\}", messages), "a Roistat variable was left unrendered"


def test_scenarios_do_not_trigger_one_detail_away(client):
    for stem, context in NEAR_MISSES.items():
        flow = import_one(client, load(EXAMPLES / "scenarios" / f"{stem}.json"))
        assert dry_run(client, flow["id"], context)["status"] == "not_triggered", stem


def test_branching_scenario_takes_the_false_branch_for_a_small_deal(client):
    flow = import_one(client, load(EXAMPLES / "scenarios" / "14_new_deal_branching.json"))

    big = {
        s["node_id"]: s["status"] for s in dry_run(client, flow["id"], ctx(order=order(price=80000)))["steps"]
    }
    small_result = dry_run(client, flow["id"], ctx(order=order(price=12000)))
    small = {s["node_id"]: s["status"] for s in small_result["steps"]}

    # the examples' secrets are placeholders: the actions reached say so (needs_secret)
    assert (big["slack"], big["task"]) == ("needs_secret", "not_reached")
    assert (small["slack"], small["task"]) == ("not_reached", "needs_secret")
    assert "Новая сделка 4821 на 12000 ₽: свяжитесь с Анна Смирнова (79161234567)" in rendered(small_result)


def test_all_scenarios_import_at_once(client):
    response = client.post("/api/v1/flows/import", json={"flows": [load(p) for p in SCENARIOS]})
    assert response.status_code == 201, response.get_json()
    assert len(response.get_json()["flows"]) == len(SCENARIOS)
    listed = client.get("/api/v1/flows").get_json()["flows"]
    assert sorted(f["name"] for f in listed) == sorted(load(p)["name"] for p in SCENARIOS)


def test_every_scenario_export_reimports_to_the_same_document(client):
    for path in SCENARIOS:
        flow = import_one(client, load(path))
        exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
        assert client.delete(f"/api/v1/flows/{flow['id']}").status_code == 204  # as on another server
        again = client.get(f"/api/v1/flows/{import_one(client, exported)['id']}/export").get_json()
        assert {k: v for k, v in again.items() if k != "id"} == {
            k: v for k, v in exported.items() if k != "id"
        }, path.stem


# --- n8n -------------------------------------------------------------------------------------

N8N_WORKFLOW_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "nodes", "connections"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "active": {"type": "boolean"},
        "settings": {"type": "object"},
        "nodes": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "name", "type", "typeVersion", "position", "parameters"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "name": {"type": "string", "minLength": 1},
                    "type": {"type": "string", "pattern": r"^(@[a-z0-9-]+/)?[a-z0-9-]+\.[A-Za-z0-9]+$"},
                    "typeVersion": {"type": "number", "minimum": 1},
                    "position": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                    "parameters": {"type": "object"},
                    "webhookId": {"type": "string"},
                },
            },
        },
        "connections": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["main"],
                "properties": {
                    "main": {
                        "type": "array",
                        "items": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["node", "type", "index"],
                                "additionalProperties": False,
                                "properties": {
                                    "node": {"type": "string"},
                                    "type": {"const": "main"},
                                    "index": {"type": "integer", "minimum": 0},
                                },
                            },
                        },
                    }
                },
            },
        },
    },
}
N8N_BASE = "={{ $env.AUTOMATION_URL }}"


def http_nodes(workflow: dict) -> list[dict]:
    return [n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.httpRequest"]


def test_n8n_workflow_has_n8n_workflow_shape():
    workflow = load(N8N)
    Draft202012Validator.check_schema(N8N_WORKFLOW_SCHEMA)
    errors = [e.message for e in Draft202012Validator(N8N_WORKFLOW_SCHEMA).iter_errors(workflow)]
    assert errors == []
    names = [n["name"] for n in workflow["nodes"]]
    assert len(set(names)) == len(names) and len({n["id"] for n in workflow["nodes"]}) == len(names)
    for source, outputs in workflow["connections"].items():
        assert source in names, f"connection from unknown node {source!r}"
        for target in (t for output in outputs["main"] for t in output):
            assert target["node"] in names, f"connection to unknown node {target['node']!r}"
    targets = {t["node"] for o in workflow["connections"].values() for out in o["main"] for t in out}
    assert {n["name"] for n in http_nodes(workflow)} <= targets, "every HTTP Request node is wired"


def test_n8n_http_requests_target_documented_endpoints_with_a_bearer_token(anon):
    openapi = anon.get("/api/v1/openapi.json").get_json()
    seen = set()
    for node in http_nodes(load(N8N)):
        params = node["parameters"]
        assert params["url"].startswith(N8N_BASE + "/api/v1/"), params["url"]
        path = re.sub(r"\{\{.*?\}\}", "{param}", params["url"][len(N8N_BASE) :])
        template = openapi_operation(openapi, path, params["method"])
        assert template, f"{params['method']} {path} is not in the OpenAPI document"
        seen.add((params["method"], template))
        headers = {h["name"]: h["value"] for h in params["headerParameters"]["parameters"]}
        assert params["sendHeaders"] is True
        assert headers["Authorization"].startswith("=Bearer {{"), headers
    assert {("PUT", "/api/v1/orders/{order_id}"), ("POST", "/api/v1/events")} <= seen


N8N_EVAL = r"""
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const value = (text, $json, $env) => {
    if (typeof text !== "string" || !text.startsWith("=")) return text;
    return text.slice(1).replace(/\{\{([\s\S]+?)\}\}/g, (_, expr) => {
        const result = new Function("$json", "$env", "return (" + expr + ");")($json, $env);
        return typeof result === "string" ? result : JSON.stringify(result);
    });
};
const out = input.nodes.map((node) => {
    const p = node.parameters;
    const headers = {};
    for (const h of p.headerParameters.parameters) headers[h.name] = value(h.value, input.item, input.env);
    return {name: node.name, method: p.method, url: value(p.url, input.item, input.env), headers,
            body: JSON.parse(value(p.jsonBody, input.item, input.env))};
});
process.stdout.write(JSON.stringify(out));
"""


def evaluate_n8n_requests(item: dict, env: dict) -> dict[str, dict]:
    """The requests n8n's HTTP Request nodes would send for one webhook item (expressions run in Node.js)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to evaluate the n8n expressions")
    payload = json.dumps({"nodes": http_nodes(load(N8N)), "item": item, "env": env})
    result = subprocess.run(
        [node, "-e", N8N_EVAL], input=payload, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return {r["name"]: r for r in json.loads(result.stdout)}


def test_n8n_requests_are_accepted_and_feed_a_scenario(client):
    env = {"AUTOMATION_URL": "http://automation.test", "AUTOMATION_TOKEN": "n8n-token"}
    deal = {
        "body": {
            "id": "4821",
            "price": 154000,
            "status": "Новая",
            "roistat_visit": 88001,
            "contact": {
                "id": 5501,
                "name": "Анна Смирнова",
                "phone": "79161234567",
                "email": "anna@example.com",
            },
        }
    }
    form = {"body": {"form_id": "f-1", "roistat_visit": 88001, "type": "callback", "name": "Анна"}}
    requests = evaluate_n8n_requests(deal, env) | {
        k: v for k, v in evaluate_n8n_requests(form, env).items() if "events" in k
    }
    order_req = requests["PUT /api/v1/orders/{id}"]
    event_req = requests["POST /api/v1/events"]
    assert order_req["url"] == "http://automation.test/api/v1/orders/4821"
    assert order_req["headers"]["Authorization"] == "Bearer n8n-token"

    for req in (order_req, event_req):
        path = req["url"][len(env["AUTOMATION_URL"]) :]
        response = client.open(path, method=req["method"], json=req["body"])
        assert response.status_code == 202, (req, response.get_json())

    big_order = import_one(client, load(EXAMPLES / "scenarios" / "06_big_order_slack.json"))
    result = client.post(f"/api/v1/flows/{big_order['id']}/test", json={"order_id": "4821"}).get_json()
    assert result["status"] == "would_trigger"
    assert "Крупный заказ 4821 на 154000" in rendered(result) and "Анна Смирнова" in rendered(result)
    assert event_req["body"] == {
        "id": "f-1",
        "name": "form_submit",
        "visit_id": "88001",
        "data": {"form": form["body"]},
    }


# --- Node-RED (static; tests/interop/test_node_red.py runs it) ----------------------------------


def test_node_red_flow_calls_only_node_endpoints_of_the_manifest():
    flow = load(NODE_RED)
    manifest = load(MANIFEST_PATH)
    execute = {n["execute"] for n in manifest["nodes"]}
    ids = {n["id"] for n in flow}
    types = {n["type"] for n in flow}
    assert {"http in", "function", "http request", "http response"} <= types
    for node in flow:
        for output in node.get("wires", []):
            assert set(output) <= ids, f"{node['id']} is wired to a missing node"
    code = "\n".join(n.get("func", "") for n in flow)
    called = set(re.findall(r'"(/api/v1/[^"]+)"', code))
    assert called == {"/api/v1/nodes/condition.visit_utm/execute", "/api/v1/nodes/action.slack/execute"}
    assert called <= execute
    assert 'env.get("AUTOMATION_URL")' in code and 'env.get("AUTOMATION_TOKEN")' in code
    assert "Bearer " in code
