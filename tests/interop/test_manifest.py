"""The manifest, the registry and the OpenAPI document agree (plugin.json, SPEC §7)."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

from plugin.api.auth import PUBLIC_PATHS
from plugin.manifest import MANIFEST_PATH, ROOT, SCHEMA_PATH, build_manifest, render_manifest
from plugin.registry import get_registry

REGEN = "plugin.json is stale: run `python server.py manifest` and commit it"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest_schema() -> dict:
    return json.loads((ROOT / SCHEMA_PATH).read_text(encoding="utf-8"))


@pytest.fixture
def openapi(anon) -> dict:
    response = anon.get("/api/v1/openapi.json")
    assert response.status_code == 200, response.data[:500]
    return response.get_json()


def template_regex(template: str) -> re.Pattern:
    """``/api/v1/nodes/{type_id}/execute`` → a regex matching concrete paths (one segment per parameter)."""
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def openapi_operation(openapi: dict, path: str, method: str) -> str | None:
    """The OpenAPI path template documenting ``method path`` (a concrete path or another template)."""
    for template, item in openapi["paths"].items():
        if method.lower() in item and (
            template_regex(template).match(path) or _same_template(template, path)
        ):
            return template
    return None


def _same_template(a: str, b: str) -> bool:
    return re.sub(r"\{[^}/]+\}", "{}", a) == re.sub(r"\{[^}/]+\}", "{}", b)


def flask_rule_to_template(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_committed_plugin_json_equals_the_generated_manifest():
    assert MANIFEST_PATH.read_text(encoding="utf-8") == render_manifest(get_registry()), REGEN


def test_manifest_schema_is_valid_draft_2020_12(manifest_schema):
    Draft202012Validator.check_schema(manifest_schema)
    assert manifest_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_plugin_json_validates_against_the_manifest_schema(manifest, manifest_schema):
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft202012Validator(manifest_schema).iter_errors(manifest)
    ]
    assert errors == []
    assert manifest["$schema"] == manifest_schema["$id"]


def test_manifest_schema_rejects_a_node_without_an_execute_endpoint(manifest, manifest_schema):
    broken = json.loads(json.dumps(manifest))
    del broken["nodes"][0]["execute"]
    broken["nodes"][1]["title"] = {"ru": "Только русский"}
    paths = sorted(
        "/".join(map(str, e.absolute_path)) for e in Draft202012Validator(manifest_schema).iter_errors(broken)
    )
    assert paths == ["nodes/0", "nodes/1/title"]


def test_every_registry_node_is_in_the_manifest_and_vice_versa(manifest):
    registry = get_registry()
    listed = {n["type"]: n for n in manifest["nodes"]}
    assert len(listed) == len(manifest["nodes"]), "a node type is listed twice"
    assert set(listed) == {n.type for n in registry}
    for spec in registry:
        entry = listed[spec.type]
        assert (entry["kind"], entry["version"], entry["title"]) == (spec.kind, spec.version, spec.title)
        assert entry["title"]["ru"] and entry["title"]["en"], spec.type
        assert entry["execute"] == f"/api/v1/nodes/{spec.type}/execute"
        assert entry["secrets"] == list(spec.secret_fields)


def test_every_node_schema_in_the_manifest_is_served_over_http(client, manifest):
    registry = get_registry()
    for entry in manifest["nodes"]:
        assert entry["schema"] == manifest["api"]["node_schema"]["path"].replace("{type}", entry["type"])
        response = client.get(entry["schema"])
        assert response.status_code == 200, entry["schema"]
        assert response.mimetype == "application/json"
        assert response.get_json() == registry[entry["type"]].schema
        Draft202012Validator.check_schema(response.get_json())
    assert (ROOT / manifest["flow_format"]["schema"]).is_file()
    assert (ROOT / SCHEMA_PATH).is_file()


def test_an_unknown_node_schema_is_a_404_problem(client):
    response = client.get("/api/v1/nodes/action.nope/schema")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == [{"path": "/type", "message": "unknown node type 'action.nope'"}]


def test_the_manifest_is_served_under_the_api_base_too_without_a_token(anon, manifest):
    for path in ("/plugin.json", manifest["api"]["manifest"]):
        response = anon.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "application/json"
        assert response.get_json() == manifest
    assert manifest["api"]["manifest"] == "/api/v1/plugin.json"


def test_condition_events_name_existing_event_nodes(manifest):
    events = {n["type"] for n in manifest["nodes"] if n["kind"] == "event"}
    for entry in manifest["nodes"]:
        if entry["kind"] == "condition":
            assert entry["events"] and set(entry["events"]) <= events, entry["type"]


def test_get_plugin_json_is_public_and_serves_the_committed_manifest(anon, manifest):
    response = anon.get("/plugin.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == manifest == build_manifest(get_registry())


def test_public_paths_in_the_manifest_are_the_ones_auth_lets_through(anon, manifest):
    assert set(manifest["auth"]["public"]) == set(PUBLIC_PATHS)
    for path in manifest["auth"]["public"]:
        assert anon.get(path).status_code == 200, path
    assert anon.get(manifest["api"]["nodes"]).status_code == 401


def test_operations_the_openapi_document_marks_public_are_the_manifest_public_paths(openapi, manifest):
    public = {
        (m, path)
        for path, item in openapi["paths"].items()
        for m, op in item.items()
        if m in HTTP_METHODS and op.get("security") == []
    }
    unsubscribe = manifest["api"]["unsubscribe"]  # a signed link: its GET page and its one-click POST
    readable = {path for m, path in public if m == "get"} - {unsubscribe["path"]}
    assert readable | {manifest["api"]["openapi"]} == set(manifest["auth"]["public"])
    site_form = manifest["api"]["ingest"]["site_form"]  # the public writes: a credential is in the path
    assert {(m, path) for m, path in public if m != "get"} == {
        (site_form["method"].lower(), site_form["path"]),
        (unsubscribe["method"].lower(), unsubscribe["path"]),
    }
    assert ("get", unsubscribe["path"]) in public
    assert openapi["security"] == [{name: []} for name in openapi["components"]["securitySchemes"]]


def test_openapi_document_is_3_1_with_bearer_auth(openapi):
    assert openapi["openapi"].startswith("3.1")
    schemes = openapi["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"} in [
        {k: v[k] for k in ("type", "scheme")} for v in schemes.values()
    ]


def test_openapi_documents_every_execute_endpoint_of_the_manifest(openapi, manifest):
    pattern = manifest["api"]["execute"]
    assert openapi_operation(openapi, pattern["path"], pattern["method"]), pattern
    for entry in manifest["nodes"]:
        assert openapi_operation(openapi, entry["execute"], "post"), entry["execute"]
        assert openapi_operation(openapi, entry["catalog"], "get"), entry["catalog"]
        assert openapi_operation(openapi, entry["schema"], "get"), entry["schema"]


def test_openapi_documents_every_endpoint_named_in_the_manifest(openapi, manifest):
    api = manifest["api"]
    endpoints = [("get", api[k]) for k in ("health", "nodes", "variables", "flows", "manifest")]
    endpoints += [
        (e["method"], e["path"])
        for e in [api["execute"], api["node_schema"], api["flows_import"], *api["ingest"].values()]
    ]
    for method, path in endpoints:
        assert openapi_operation(openapi, path, method), f"{method.upper()} {path}"


def test_openapi_has_an_operation_for_every_api_route_and_no_other(app, openapi):
    routes, api_routes = set(), set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            route = (flask_rule_to_template(rule.rule), method.lower())
            routes.add(route)
            if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json":
                api_routes.add(route)
    documented = {(path, m) for path, item in openapi["paths"].items() for m in item if m in HTTP_METHODS}
    assert api_routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "OpenAPI operations with no route"


def test_node_catalog_agrees_with_the_manifest(client, manifest):
    catalog = client.get(manifest["api"]["nodes"]).get_json()["nodes"]
    assert [(n["type"], n["kind"], n["version"], n["title"]) for n in catalog] == [
        (n["type"], n["kind"], n["version"], n["title"]) for n in manifest["nodes"]
    ]
    for entry in manifest["nodes"]:
        one = client.get(entry["catalog"]).get_json()
        assert one["schema"] == client.get(entry["schema"]).get_json()


def test_execute_answers_with_the_key_the_manifest_declares(client, manifest, fake_slack):
    registry = get_registry()
    for entry in manifest["nodes"]:
        if entry["kind"] == "action":
            continue
        params = registry[entry["type"]].schema["examples"][0]
        response = client.post(entry["execute"], json={"params": params, "context": {}})
        assert response.status_code == 200, (entry["type"], response.get_json())
        assert entry["answer"] in response.get_json(), entry["type"]
    slack = next(n for n in manifest["nodes"] if n["type"] == "action.slack")
    response = client.post(
        slack["execute"],
        json={"params": {"text": "проверка", "webhook_url": fake_slack.hook_url}, "context": {}},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()[slack["answer"]] == "succeeded"
    assert fake_slack.messages == ["проверка"]
