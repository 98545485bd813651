"""The live API against its own OpenAPI document: no 5xx, and every response as documented.

Schemathesis generates requests for every operation of /api/v1/openapi.json (valid and invalid
ones), sends them to a real HTTP server of the app and checks each answer: not a server error,
a documented status, the documented content type (problem+json for errors), the documented
headers and a body that validates against the documented schema. A fixed number of examples per
operation and a derandomized run keep it bounded and repeatable.
"""

from __future__ import annotations

from collections import Counter

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import TOKEN, LiveServer

EXAMPLES_PER_OPERATION = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def live_url(module_app):
    server = LiveServer(module_app).start()
    yield server.url
    server.stop()


MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _fuzz(operation, mode, live_url: str, sent: Counter, statuses: Counter) -> None:
    """``EXAMPLES_PER_OPERATION`` generated requests for one operation, each response checked."""

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exchange(case):
        sent[operation.label] += 1
        response = case.call_and_validate(base_url=live_url, headers=AUTH, checks=CHECKS, timeout=30)
        statuses[response.status_code] += 1

    exchange()


def test_every_operation_answers_as_documented(live_url):
    """Schemathesis' strategies driven by Hypothesis directly (its pytest plugin trips on pytest 9)."""
    schema = schemathesis.openapi.from_url(live_url + "/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 28
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: dict[str, str] = {}
    for operation in operations:
        for mode in MODES:
            try:
                _fuzz(operation, mode, live_url, sent, statuses)
            except Unsatisfiable:  # no parameters, no body: nothing invalid to send (health, plugin.json)
                assert mode is GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every failure, report all
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:2000]
    summary = dict(sorted(statuses.items()))
    print(f"\nfuzz: {len(operations)} operations, {sum(sent.values())} requests, statuses {summary}")
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert not [s for s in statuses if s >= 500]


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
        "FlowImportResult": [http.post(live_url + "/api/v1/flows/import", json={"flows": [flow]}).json()],
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
    for component, bodies in calls.items():
        validator = _validator(document, component)
        for body in bodies:
            errors = sorted(validator.iter_errors(body), key=str)
            assert not errors, (component, errors[0].message, body)


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
