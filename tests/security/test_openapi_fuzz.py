"""The live API against its own OpenAPI document: no 5xx, and every response as documented.

Schemathesis (its CLI, with bench/schemathesis.toml) generates requests for every operation of
/api/v1/openapi.json, valid and invalid ones, chains them through the document's links, sends
them to a real HTTP server of the app and runs every check it has: not a server error, documented
statuses, content types, headers and bodies, valid data accepted and invalid data refused, 405
with ``Allow`` for undeclared methods, ``Allow`` on OPTIONS, use after free, auth ignored… A few
examples per operation and a fixed seed keep it bounded; ``bench/schemathesis.sh`` runs the same
for 10 minutes.
"""

from __future__ import annotations

import re
import subprocess
import sys

import jsonschema
import pytest
import requests

from tests.conftest import ROOT, TOKEN, LiveServer

SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]
CONFIG = ROOT / "bench" / "schemathesis.toml"  # the one bench/schemathesis.sh runs for 10 minutes
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def live_url(module_app):
    server = LiveServer(module_app).start()
    yield server.url
    server.stop()


@pytest.mark.slow
def test_every_check_of_every_phase_passes_stateful_included(live_url, tmp_path):
    """``schemathesis run --checks all`` over the examples, coverage, fuzzing and stateful phases
    (chains through the document's links), bounded: a few examples per operation, a fixed seed,
    and a time cap that only shortens the run on a loaded machine (never fails it)."""
    command = [
        *SCHEMATHESIS,
        *("--config-file", str(CONFIG), "--no-color", "run", f"{live_url}/api/v1/openapi.json"),
        *("--checks", "all", "--phases", "examples,coverage,fuzzing,stateful"),
        *("--max-examples", "8", "--seed", "20261", "--workers", "1", "--max-time", "150"),
        *("--header", f"Authorization: Bearer {TOKEN}", "--request-timeout", "30"),
        *("--suppress-health-check", "all", "--generation-database", "none"),
        *("--report", "junit", "--report-dir", str(tmp_path)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested.group(1)) >= 30, output[-3000:]
    assert "Stateful" in output and "API Links:" in output, output[-3000:]
    assert done.returncode == 0, output[-12000:]


# -- success responses of real objects -------------------------------------------------------


def _validator(document: dict, component: str) -> jsonschema.protocols.Validator:
    """A validator for one component schema, resolving refs inside the whole document."""
    root = {**document, "$ref": f"#/components/schemas/{component}"}
    return jsonschema.Draft202012Validator(root)


SLACK = {"text": "Заказ {order_id}", "webhook_url": "https://hooks.slack.com/services/T1/B1/openapi"}


def test_the_success_bodies_of_real_objects_match_their_documented_schemas(live_url):
    http = requests.Session()
    http.headers.update(AUTH)
    document = http.get(live_url + "/api/v1/openapi.json").json()
    flow = {
        "format": "automation-flow/1",
        "name": "openapi",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "c", "type": "condition.order_price", "params": {"operator": "gt", "value": 1}},
            {"id": "say", "type": "action.slack", "params": SLACK, "position": {"x": 1, "y": 2}},
        ],
        "edges": [{"from": "start", "to": "c"}, {"from": "c", "to": "say", "branch": "true"}],
    }
    created = http.post(live_url + "/api/v1/flows", json=flow).json()
    flow_id = created["id"]
    preset = http.post(
        live_url + "/api/v1/presets", json={"name": "p", "kind": "action", "nodes": [flow["nodes"][2]]}
    ).json()
    direct = http.post(
        live_url + "/api/v1/nodes/action.webhook/execute",
        json={"params": {"url": "http://127.0.0.1:9/x"}, "context": {}},
    ).json()
    calls = {
        "Flow": [
            created,
            http.get(f"{live_url}/api/v1/flows/{flow_id}").json(),
            http.patch(f"{live_url}/api/v1/flows/{flow_id}", json={"name": "openapi 2"}).json(),
            http.put(f"{live_url}/api/v1/flows/{flow_id}", json=flow).json(),
        ],
        "FlowList": [http.get(live_url + "/api/v1/flows").json()],
        "FlowExport": [http.get(f"{live_url}/api/v1/flows/{flow_id}/export").json()],
        "FlowImportResult": [
            http.post(live_url + "/api/v1/flows/import?on_conflict=copy", json={"flows": [flow]}).json()
        ],
        "DryRun": [
            http.post(
                f"{live_url}/api/v1/flows/{flow_id}/test", json={"context": {"order": {"price": 5}}}
            ).json(),
            http.post(live_url + "/api/v1/flows/test", json={"flow": flow, "context": {}}).json(),
        ],
        "Preset": [preset, http.get(f"{live_url}/api/v1/presets/{preset['id']}").json()],
        "PresetList": [http.get(live_url + "/api/v1/presets").json()],
        "NodeList": [http.get(live_url + "/api/v1/nodes").json()],
        "NodeType": [http.get(live_url + "/api/v1/nodes/action.slack").json()],
        "NodeResult": [
            direct,
            http.post(
                live_url + "/api/v1/nodes/condition.order_price/execute",
                json={"params": {"operator": "gt", "value": 1}, "context": {}},
            ).json(),
            http.post(live_url + "/api/v1/nodes/event.order_created/execute", json={"params": {}}).json(),
            http.post(
                live_url + "/api/v1/nodes/flow.delay/execute", json={"params": {"amount": 1, "unit": "hours"}}
            ).json(),
        ],
        "RunList": [http.get(live_url + "/api/v1/runs").json()],
        "Run": [http.get(f"{live_url}/api/v1/runs/{direct['run_id']}").json()],
        "Health": [requests.get(live_url + "/api/v1/health").json()],
        "VariableList": [http.get(live_url + "/api/v1/variables").json()],
        "Manifest": [requests.get(live_url + "/plugin.json").json()],
        "Problem": [
            http.get(live_url + "/api/v1/flows/nope").json(),
            requests.get(live_url + "/api/v1/flows").json(),
            http.post(live_url + "/api/v1/flows", json={}).json(),
        ],
    }
    for component, bodies in _version_bodies(http, live_url, flow_id).items():
        calls.setdefault(component, []).extend(bodies)
    for component, bodies in calls.items():
        validator = _validator(document, component)
        for body in bodies:
            errors = sorted(validator.iter_errors(body), key=str)
            assert not errors, (component, errors[0].message, body)


def _version_bodies(http, live_url: str, flow_id: str) -> dict[str, list]:
    """The versions, diff, restore, duplicate and bulk answers of the flow made above (3 versions)."""
    base = f"{live_url}/api/v1/flows/{flow_id}"
    return {
        "FlowVersionList": [http.get(base + "/versions").json()],
        "FlowVersionDocument": [http.get(base + "/versions/1").json(), http.get(base + "/versions/3").json()],
        "FlowDiff": [http.get(base + "/diff?from=1&to=3").json()],
        "Flow": [http.post(base + "/versions/2/restore").json(), http.post(base + "/duplicate").json()],
        "FlowList": [
            http.get(live_url + "/api/v1/flows?q=open&sort=-runs").json(),
            http.post(live_url + "/api/v1/flows/bulk", json={"ids": [flow_id], "enabled": False}).json(),
        ],
    }


def test_every_operation_documents_its_success_body_and_its_problems(live_url):
    document = requests.get(live_url + "/api/v1/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            responses = operation["responses"]
            success = [s for s in responses if s.startswith("2") and s != "204"]
            for status in success:
                content = responses[status].get("content") or {}
                assert content and all("schema" in media for media in content.values()), (
                    method,
                    path,
                    status,
                )
            for status, response in responses.items():
                if status[0] in "45" or status == "default":
                    ref = response.get("$ref", "")
                    resolved = (
                        document["components"]["responses"][ref.rsplit("/", 1)[-1]] if ref else response
                    )
                    assert list(resolved["content"]) == ["application/problem+json"], (method, path, status)
                    assert resolved["content"]["application/problem+json"]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
