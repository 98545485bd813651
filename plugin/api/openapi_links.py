"""OpenAPI ``links``: how one operation's answer feeds the next (a created flow's id into its
GET, PUT, PATCH, DELETE, export and dry run; a direct run's id into the run history, …).

They document the API's workflows for readers and let a stateful tester (schemathesis'
stateful phase) chain real requests: create → read → change → delete.
"""

from __future__ import annotations

from apispec import BasePlugin

FLOW = "/api/v1/flows/{flow_id}"
PRESET = "/api/v1/presets/{preset_id}"
RUN = "/api/v1/runs/{run_id}"
NODE = "/api/v1/nodes/{type_id}"
CONNECTION = "/api/v1/connections/{connection_id}"


def _ref(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _to(path: str, methods: tuple[str, ...], parameter: str, source: str, label: str) -> dict:
    return {
        f"{label}{method.capitalize()}": {
            "operationRef": _ref(path, method),
            "parameters": {parameter: source},
            "description": f"{method.upper()} {path} with the {parameter} of this answer",
        }
        for method in methods
    }


def _flow_links(source: str) -> dict:
    return {
        **_to(FLOW, ("get", "put", "patch", "delete"), "flow_id", source, "Flow"),
        **_to(FLOW + "/export", ("get",), "flow_id", source, "FlowExport"),
        **_to(FLOW + "/test", ("post",), "flow_id", source, "FlowTest"),
        "FlowRuns": {
            "operationRef": _ref("/api/v1/runs", "get"),
            "parameters": {"query.flow_id": source},
            "description": "the runs of this flow",
        },
    }


def _run_links(source: str) -> dict:
    return {
        **_to(RUN, ("get",), "run_id", source, "Run"),
        **_to(RUN + "/retry", ("post",), "run_id", source, "RunRetry"),
    }


# (path, method, status) → the links of that response
LINKS: dict[tuple[str, str, str], dict] = {
    ("/api/v1/flows", "post", "201"): _flow_links("$response.body#/id"),
    ("/api/v1/flows", "get", "200"): _flow_links("$response.body#/flows/0/id"),
    (FLOW, "get", "200"): _flow_links("$response.body#/id"),
    (FLOW, "put", "200"): _flow_links("$response.body#/id"),
    (FLOW, "patch", "200"): _flow_links("$response.body#/id"),
    ("/api/v1/flows/import", "post", "201"): _flow_links("$response.body#/flows/0/id"),
    ("/api/v1/presets", "post", "201"): _to(
        PRESET, ("get", "put", "delete"), "preset_id", "$response.body#/id", "Preset"
    ),
    ("/api/v1/presets", "get", "200"): _to(
        PRESET, ("get", "put", "delete"), "preset_id", "$response.body#/presets/0/id", "Preset"
    ),
    (PRESET, "put", "200"): _to(PRESET, ("get", "delete"), "preset_id", "$response.body#/id", "Preset"),
    ("/api/v1/connections", "post", "201"): {
        **_to(CONNECTION, ("get", "put", "delete"), "connection_id", "$response.body#/id", "Connection"),
        **_to(CONNECTION + "/test", ("post",), "connection_id", "$response.body#/id", "ConnectionTest"),
    },
    ("/api/v1/connections", "get", "200"): _to(
        CONNECTION,
        ("get", "put", "delete"),
        "connection_id",
        "$response.body#/connections/0/id",
        "Connection",
    ),
    ("/api/v1/suppressions", "post", "201"): _to(
        "/api/v1/suppressions/{entry_id}", ("delete",), "entry_id", "$response.body#/id", "Suppression"
    ),
    ("/api/v1/runs", "get", "200"): _run_links("$response.body#/runs/0/id"),
    (NODE + "/execute", "post", "200"): _run_links("$response.body#/run_id"),
    ("/api/v1/nodes", "get", "200"): {
        **_to(NODE, ("get",), "type_id", "$response.body#/nodes/0/type", "Node"),
        **_to(NODE + "/schema", ("get",), "type_id", "$response.body#/nodes/0/type", "NodeSchema"),
        **_to(NODE + "/execute", ("post",), "type_id", "$response.body#/nodes/0/type", "NodeExecute"),
    },
    (NODE, "get", "200"): {
        **_to(NODE + "/schema", ("get",), "type_id", "$response.body#/type", "NodeSchema"),
        **_to(NODE + "/execute", ("post",), "type_id", "$response.body#/type", "NodeExecute"),
    },
    ("/api/v1/orders/{order_id}", "put", "202"): {
        "OrderRuns": {
            "operationRef": _ref("/api/v1/runs", "get"),
            "parameters": {"query.order_id": "$request.path.order_id"},
            "description": "the runs this order fired",
        }
    },
    ("/api/v1/clients/{external_id}", "put", "202"): {
        "ClientRuns": {
            "operationRef": _ref("/api/v1/runs", "get"),
            "parameters": {"query.client_id": "$request.path.external_id"},
            "description": "the runs of this client",
        }
    },
}


class LinksPlugin(BasePlugin):
    """Adds :data:`LINKS` to the responses they belong to."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for method, operation in (operations or {}).items():
            for status, response in operation.get("responses", {}).items():
                links = LINKS.get((path, method, str(status)))
                if links and isinstance(response, dict):
                    response.setdefault("links", {}).update(links)
