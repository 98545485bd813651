"""A scenario's versions (SPEC §11): the list, one with its document, the diff of two, restore."""

from __future__ import annotations

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.engine import flows as store
from plugin.engine import versions
from plugin.engine.dispatch import bump_generation
from plugin.errors import NotFound, ValidationFailed
from plugin.messages import msg
from plugin.storage.models import ApiToken, Flow, FlowVersion

blp = Blueprint(
    "flow_versions", __name__, url_prefix="/api/v1/flows", description="Scenario versions (история)"
)

UI_HEADER = "X-Automation-Client"  # the editor sends "ui": its saves are recorded as the UI's
NUMBER = {"type": "integer", "minimum": 1}
TAGS = {"type": "array", "items": {"type": "string"}, "description": "the flow document's tags"}
CHANGE = {
    "type": "object",
    "required": ["kind"],
    "description": "kind: created | name | node_added | node_removed | node_changed (fields: "
    "[{name, from, to}], secrets as '********') | node_moved | edge_added | edge_removed | "
    "settings | tags | description",
    "properties": {
        "kind": {"type": "string"},
        "node": {"type": "string"},
        "type": {"type": "string"},
        "fields": {"type": "array", "items": {"type": "object"}},
    },
}
VERSION = {
    "type": "object",
    "required": ["number", "name", "author", "author_name", "action", "created_at", "changes"],
    "properties": {
        "number": NUMBER,
        "name": {"type": "string"},
        "author": {"type": "string", "description": "ui | token:<id> | env (AUTOMATION_API_TOKEN) | ''"},
        "author_name": {"type": "string", "description": "the token's name when saved"},
        "action": {"enum": ["create", "save", "rename", "import", "restore", "duplicate", "migrated"]},
        "created_at": {"type": ["string", "null"]},
        "changes": {"type": "array", "items": CHANGE, "description": "what changed from the version before"},
        "restored_from": {"type": ["integer", "null"]},
    },
}

VERSION_DOCUMENT = {
    "type": "object",
    "description": "the flow document of that version (secrets as '********'; no enabled: a version "
    "does not switch a scenario on or off)",
    "required": ["format", "id", "name", "version", "nodes", "edges"],
    "properties": {
        "format": {"const": "automation-flow/1"},
        "id": {"type": "string"},
        "name": {"type": "string"},
        "version": NUMBER,
        "description": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "settings": {"$ref": "#/components/schemas/FlowDocument/properties/settings"},
        "nodes": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        "edges": {"type": "array", "items": {"$ref": "#/components/schemas/Edge"}},
    },
}


def register_schema(api) -> None:
    schemas = (
        api.spec.components.schemas
    )  # the flow's own components gain its tags (and the list item its age)
    schemas["FlowExport"]["properties"]["tags"] = TAGS
    schemas["FlowSummary"]["properties"].update(tags=TAGS, created_at={"type": ["string", "null"]})
    api.spec.components.schema("FlowVersion", component=VERSION)
    api.spec.components.schema(
        "FlowVersionList",
        component={
            "type": "object",
            "required": ["versions", "current"],
            "properties": {
                "versions": {"type": "array", "items": {"$ref": "#/components/schemas/FlowVersion"}},
                "current": NUMBER,
            },
        },
    )
    api.spec.components.schema(
        "FlowVersionDocument",
        component={
            "allOf": [
                {"$ref": "#/components/schemas/FlowVersion"},
                {
                    "type": "object",
                    "required": ["current", "document"],
                    "properties": {
                        "current": {"type": "boolean"},
                        "document": VERSION_DOCUMENT,
                    },
                },
            ]
        },
    )
    api.spec.components.schema(
        "FlowDiff",
        component={
            "type": "object",
            "required": ["from", "to", "changes"],
            "properties": {"from": NUMBER, "to": NUMBER, "changes": {"type": "array", "items": CHANGE}},
        },
    )


def author() -> dict:
    """Who saves: the UI (its header), else the request's token, by id and name."""
    identity = getattr(g, "token", None)
    name = ""
    if identity is not None and identity.token_id is not None:
        row = db.session.get(ApiToken, identity.token_id)
        name = row.name if row is not None else ""
    key = "" if identity is None else identity.key
    if request.headers.get(UI_HEADER, "").strip().lower() == "ui":
        return {"author": "ui", "name": name}
    return {"author": key, "name": name or ("AUTOMATION_API_TOKEN" if key == "env" else "")}


def _flow(flow_id: str) -> Flow:
    flow = db.session.get(Flow, flow_id)
    if flow is None:
        raise NotFound(msg("notfound.flow", f"no flow {flow_id!r}", id=flow_id))
    return flow


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError
    except ValueError:
        english = f"expected an integer from {low} to {high}, got {raw!r}"
        said = msg("query.int_range", english, low=low, high=high, value=raw)
        raise ValidationFailed(
            msg("query.param", f"invalid query parameter {name!r}", name=name),
            [{"path": f"/{name}", "message": said}],
        ) from None
    return value


PAGE = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    },
    {"name": "before", "in": "query", "schema": {**NUMBER, "maximum": 2**31 - 1}, "description": "next page"},
]
PATH_NUMBER = {"name": "number", "in": "path", "required": True, "schema": {**NUMBER, "maximum": 2**31 - 1}}


@blp.route("/<string:flow_id>/versions")
class VersionList(MethodView):
    @blp.doc(summary="The scenario's versions, newest first (no documents)", parameters=PAGE)
    @blp.doc(responses=ok("FlowVersionList", 200))
    @blp.response(200)
    def get(self, flow_id: str):
        flow = _flow(flow_id)
        limit = _int_arg("limit", 50, 1, 200)
        before = _int_arg("before", None, 1, 2**31 - 1)
        rows = versions.listing(db.session, flow.id, limit, before)
        return {"versions": [versions.summary_item(r) for r in rows], "current": flow.version}


def _version(flow: Flow, number: int | str) -> FlowVersion:
    """A version by its number (a string in the URL: the scope check answers before a converter
    could 404; anything but 1, 2, … is no version)."""
    text = str(number)
    if not (text.isascii() and text.isdigit() and 1 <= int(text) < 2**31):
        raise NotFound(
            msg("notfound.version", f"flow {flow.id!r} has no version {text!r}", flow=flow.id, number=text)
        )
    return versions.get(db.session, flow.id, int(text))


@blp.route("/<string:flow_id>/versions/<string:number>")
class VersionItem(MethodView):
    @blp.doc(summary="One version with its document (secrets as placeholders)", parameters=[PATH_NUMBER])
    @blp.doc(responses=ok("FlowVersionDocument", 200))
    @blp.response(200)
    def get(self, flow_id: str, number: str):
        flow = _flow(flow_id)
        return versions.document(rt().registry, _version(flow, number), flow.version)


@blp.route("/<string:flow_id>/versions/<string:number>/restore")
class VersionRestore(MethodView):
    @blp.doc(
        summary="Make version n's document the scenario's again, as a new version",
        description="409 when n is the current document, or when it is not valid now (a node "
        "type or a connection it names is gone; the errors say which). The scenario stays on or "
        "off as it is.",
        parameters=[PATH_NUMBER],
    )
    @blp.doc(responses={**ok("Flow", 200), "409": "CONFLICT"})
    @blp.response(200)
    def post(self, flow_id: str, number: str):
        runtime = rt()
        flow = _flow(flow_id)
        versions.restore(db.session, runtime.registry, flow, _version(flow, number), author())
        db.session.commit()
        bump_generation(runtime.redis)
        return store.flow_document(runtime.registry, flow)


@blp.route("/<string:flow_id>/diff")
class VersionDiff(MethodView):
    @blp.doc(
        summary="What changed between two versions (from → to), secrets as placeholders",
        parameters=[
            {"name": "from", "in": "query", "required": True, "schema": {**NUMBER, "maximum": 2**31 - 1}},
            {"name": "to", "in": "query", "required": False, "schema": {**NUMBER, "maximum": 2**31 - 1}},
        ],
    )
    @blp.doc(responses={**ok("FlowDiff", 200), "422": "UNPROCESSABLE_ENTITY"})
    @blp.response(200)
    def get(self, flow_id: str):
        flow = _flow(flow_id)
        start = _int_arg("from", None, 1, 2**31 - 1)
        if start is None:
            said = msg("diff.from_required", "required")
            raise ValidationFailed(
                msg("diff.from", "'from' is required"), [{"path": "/from", "message": said}]
            )
        end = _int_arg("to", flow.version, 1, 2**31 - 1)
        old, new = _version(flow, start), _version(flow, end)
        changes = versions.diff(rt().registry, (old.name, old.definition), (new.name, new.definition))
        return {"from": start, "to": end, "changes": changes}
