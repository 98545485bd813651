"""The OpenAPI document's response side: response schemas, and one Problem for every error.

Every error of the API is an RFC 9457 problem (``application/problem+json``, see plugin/errors.py),
so every error response of the document - flask-smorest's per-status components, its ``default``
and the ones added to each operation below - points at the shared ``Problem`` schema. Success
responses name their schema with ``@blp.doc(responses=ok("Flow"))``; the schemas are plain JSON
Schema (OpenAPI 3.1), documentation only: they never reshape what a view returns.
"""

from __future__ import annotations

import http
import json

from apispec import BasePlugin
from flask_smorest import Api

from plugin.api.openapi_language import CONTENT_LANGUAGE, with_accept_language
from plugin.api.openapi_parts import DRY_RUN, FLOW_STATS, GROUP_TRACE, TIMESTAMP, _nullable, _obj, _ref
from plugin.api.openapi_runs import RUN_HISTORY_PROPERTIES
from plugin.registry import SCHEMAS_DIR

PROBLEM = "application/problem+json"


I18N = _obj(["ru", "en"], {"ru": {"type": "string"}, "en": {"type": "string"}})

NODE = _obj(
    ["id", "type", "params"],
    {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "version": {"type": "integer"},
        "name": {"type": "string"},
        "params": {"type": "object", "description": "x-secret params read '********'"},
        "position": {"type": "object"},
        "disabled": {"type": "boolean"},
        "copy_of": _obj(["flow", "node"], {"flow": {"type": "string"}, "node": {"type": "string"}}),
    },
)
EDGE = _obj(
    ["from", "to"],
    {
        "from": {"type": "string"},
        "to": {"type": "string"},
        "branch": {
            "type": "string",
            "description": "a condition's true / false (default true); a flow.split's variant key",
        },
    },
)
EXPORT = _obj(
    ["format", "id", "name", "enabled", "version", "nodes", "edges"],
    {
        "format": {"const": "automation-flow/1"},
        "id": {"type": "string"},
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "version": {"type": "integer"},
        "description": {"type": "string"},
        "settings": {"$ref": "#/components/schemas/FlowDocument/properties/settings"},
        "nodes": {"type": "array", "items": _ref("Node")},
        "edges": {"type": "array", "items": _ref("Edge")},
        "connections": {
            "type": "array",
            "description": "the shared connections the actions name (an export's; no secrets)",
            "items": _obj(["id", "name", "type"], {"id": {}, "name": {}, "type": {}}),
        },
    },
)
FLOW = {
    "allOf": [
        _ref("FlowExport"),
        _obj(
            ["event_type", "stats", "created_at", "updated_at", "needs_secrets"],
            {
                "event_type": {"type": "string"},
                "stats": _ref("FlowStats"),
                "created_at": TIMESTAMP,
                "updated_at": TIMESTAMP,
                "needs_secrets": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "JSON pointers of secrets still to fill in before enabling",
                },
            },
        ),
    ]
}
FLOW_SUMMARY = _obj(
    ["id", "name", "enabled", "version", "event_type", "updated_at", "stats"],
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "version": {"type": "integer"},
        "event_type": {"type": "string"},
        "updated_at": TIMESTAMP,
        "stats": _ref("FlowStats"),
    },
)
STEP = _obj(
    ["node_id", "type", "status", "verdict", "output", "error", "attempts", "started_at", "finished_at"],
    {
        "node_id": {"type": "string"},
        "type": {"type": "string"},
        "status": {
            "enum": [
                "pending",
                "running",
                "waiting",
                "retrying",
                "succeeded",
                "failed",
                "skipped",
                "not_reached",
            ]
        },
        "verdict": _nullable("boolean"),
        "output": {"type": ["object", "null"], "description": "what the call answered, secrets masked"},
        "error": _nullable("string"),
        "attempts": {"type": "integer"},
        "started_at": TIMESTAMP,
        "finished_at": TIMESTAMP,
        "resume_at": TIMESTAMP,
        "duration_ms": _nullable("number"),
    },
)
RUN = _obj(
    [
        "id",
        "flow_id",
        "flow_name",
        "status",
        "trigger",
        "direct",
        "event_type",
        "triggered",
        "error",
        "created_at",
        "updated_at",
        "finished_at",
        "steps",
    ],
    {
        "id": {"type": "string"},
        "flow_id": _nullable("string"),
        "flow_version": {"type": "integer"},
        "flow_name": {"type": "string"},
        "status": {
            "enum": [
                "queued",
                "running",
                "waiting",
                "succeeded",
                "failed",
                "not_triggered",
                "suppressed",
                "cancelled",
            ],
            "description": "suppressed: held back by the flow's frequency rule, or by its run mode `single` "
            "(a run for the client or order is active: «уже идёт запуск для клиента»), the reason in error; "
            "cancelled: ended by the flow's exit event or by a `restart` run mode (a newer run replaced "
            "it), the reason in error — not a failure",
        },
        "trigger": {"type": "string"},
        "direct": {"type": "boolean"},
        "event_type": {"type": "string"},
        "event_id": _nullable("integer"),
        "triggered": {"type": "boolean"},
        "order_id": _nullable("string"),
        "client_id": _nullable("string"),
        "error": _nullable("string"),
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "finished_at": TIMESTAMP,
        "next_attempt_at": TIMESTAMP,
        "steps": {"type": "array", "items": _ref("Step")},
    },
)
RUN["properties"].update(RUN_HISTORY_PROPERTIES)
RUN["required"].extend(RUN_HISTORY_PROPERTIES)
NODE_TYPE = _obj(
    ["type", "kind", "version", "title", "description", "schema"],
    {
        "type": {"type": "string"},
        "kind": {"enum": ["event", "condition", "action", "flow"]},
        "version": {"type": "integer"},
        "title": I18N,
        "description": I18N,
        "events": {"type": ["array", "null"], "items": {"type": "string"}, "description": "null: any event"},
        "schema": {"type": "object", "description": "JSON Schema (draft 2020-12) of the node's params"},
    },
)
NODE_RESULT = {
    "description": "conditions answer result (condition.group adds output: every inner verdict), events "
    "matches, flow.delay delay_seconds, flow.split variant and subject, actions a direct run",
    "anyOf": [
        _obj(
            ["result"], {"result": {"type": "boolean"}, "output": {"$ref": "#/components/schemas/GroupTrace"}}
        ),
        _obj(["matches"], {"matches": {"type": "boolean"}}),
        _obj(["delay_seconds"], {"delay_seconds": {"type": "integer"}}),
        _obj(["variant", "subject"], {"variant": {"type": "string"}, "subject": {"type": "string"}}),
        _obj(
            ["run_id", "status", "output", "error"],
            {
                "run_id": {"type": "string"},
                "status": {"enum": ["succeeded", "failed", "skipped"]},
                "output": {"type": ["object", "null"]},
                "error": _nullable("string"),
            },
        ),
    ],
}
PRESET = _obj(
    ["id", "name", "kind", "nodes", "edges", "created_at", "updated_at"],
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"enum": ["trigger", "action"]},
        "nodes": {"type": "array", "items": _ref("Node")},
        "edges": {"type": "array", "items": _ref("Edge")},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
)
PROBLEM_SCHEMA = _obj(
    ["type", "title", "status", "detail", "errors"],
    {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": _nullable("string"),
        "errors": {
            "type": "array",
            "items": _obj(
                ["path", "message"],
                {"path": {"type": "string", "description": "JSON pointer"}, "message": {"type": "string"}},
            ),
        },
    },
    description="RFC 9457 problem details; every problem of the request at once",
)

RECORD = {"type": ["object", "null"]}
RUN_CONTEXT = {
    "type": ["object", "null"],
    "description": "A run context: the visit, order, client and custom event (each an object or null)",
    "properties": {
        "visit": RECORD,
        "order": RECORD,
        "client": RECORD,
        "event": RECORD,
        "client_orders_count": {"type": ["integer", "null"], "minimum": 0},
    },
}

SCHEMAS: dict[str, dict] = {
    "RunContext": RUN_CONTEXT,
    "Problem": PROBLEM_SCHEMA,
    "Health": _obj(
        ["status", "database", "redis", "workers"],
        {
            "status": {"enum": ["ok", "degraded"]},
            "database": {"type": "string"},
            "redis": {"type": "string"},
            "workers": {"type": "integer"},
        },
    ),
    "VariableList": _obj(
        ["variables"],
        {
            "variables": {
                "type": "array",
                "items": _obj(
                    ["name", "title", "example"],
                    {"name": {"type": "string"}, "title": I18N, "example": {"type": "string"}},
                ),
            }
        },
    ),
    "NodeType": NODE_TYPE,
    "NodeSchema": {"type": "object", "description": "JSON Schema (draft 2020-12) of a node's params"},
    "NodeList": _obj(["nodes"], {"nodes": {"type": "array", "items": _ref("NodeType")}}),
    "NodeResult": NODE_RESULT,
    "GroupTrace": GROUP_TRACE,
    "Node": NODE,
    "Edge": EDGE,
    "FlowStats": FLOW_STATS,
    "FlowExport": EXPORT,
    "Flow": FLOW,
    "FlowList": _obj(["flows"], {"flows": {"type": "array", "items": _ref("FlowSummary")}}),
    "FlowSummary": FLOW_SUMMARY,
    "FlowImportResult": _obj(["flows"], {"flows": {"type": "array", "items": _ref("Flow")}}),
    "DryRun": DRY_RUN,
    "Preset": PRESET,
    "PresetList": _obj(["presets"], {"presets": {"type": "array", "items": _ref("Preset")}}),
    "Step": STEP,
    "Run": RUN,
    "RunList": _obj(
        ["runs", "next_cursor"],
        {"runs": {"type": "array", "items": _ref("Run")}, "next_cursor": _nullable("string")},
    ),
}


def _manifest_schema() -> dict:
    """plugin/schemas/manifest.json, its ``#/$defs/…`` refs re-rooted at the component."""
    text = (SCHEMAS_DIR / "manifest.json").read_text(encoding="utf-8")
    schema = json.loads(text.replace('"#/$defs/', '"#/components/schemas/Manifest/$defs/'))
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    return schema


def ok(schema: str, status: int = 200, description: str | None = None) -> dict:
    """``@blp.doc(responses=ok("Flow"))``: the JSON body of a success response."""
    return {
        str(status): {
            "description": description or http.HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": _ref(schema)}},
        }
    }


def problem_response(status: int | str, description: str | None = None) -> dict:
    phrase = description or (http.HTTPStatus(int(status)).phrase if str(status).isdigit() else "Error")
    problem = {"description": phrase, "content": {PROBLEM: {"schema": _ref("Problem")}}}
    return problem | {"headers": {"Content-Language": CONTENT_LANGUAGE}}


class ProblemApi(Api):
    """flask-smorest's Api whose built-in error responses are problem+json ``Problem`` ones."""

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            if status >= 400:
                self.spec.components.response(status.name, problem_response(status), lazy=True)
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME, problem_response("default", "An RFC 9457 problem"), lazy=True
        )


NO_REPLACEMENT_CHARACTER = "^[^\\uFFFD]*$"


class ProblemsPlugin(BasePlugin):
    """Adds to every operation the problems it can answer, each pointing at ``Problem``."""

    def path_helper(self, path=None, operations=None, parameters=None, **kwargs) -> None:
        for parameter in parameters or []:  # no id holds U+FFFD: the URL is refused (plugin/api/common.py)
            schema = parameter.get("schema", {}) if isinstance(parameter, dict) else {}
            if parameter.get("in") == "path" and schema.get("type") == "string" and "pattern" not in schema:
                schema["pattern"] = NO_REPLACEMENT_CHARACTER

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            with_accept_language(operation)
            responses = operation.setdefault("responses", {})
            statuses = [400, 503]
            if operation.get("security") != []:
                statuses += [401, 403]  # 403: a token whose scope does not cover the operation
            if "{" in (path or ""):
                statuses += [404, 422]  # 422: a path parameter out of its pattern
            if "requestBody" in operation:
                statuses += [413, 415, 422]
            if path and path.startswith("/api/v1/runs/") and path.endswith("/retry"):
                statuses.append(409)
            if "ingest" in operation.get("tags", []):
                statuses.append(429)
            for status in sorted(statuses):  # a name: apispec turns it into a $ref and emits the component
                responses.setdefault(str(status), http.HTTPStatus(status).name)


def register(api: Api) -> None:
    """Publish the response schemas as components (call before the blueprints are registered)."""
    for name, schema in SCHEMAS.items():
        api.spec.components.schema(name, component=schema)
    api.spec.components.schema("Manifest", component=_manifest_schema())
