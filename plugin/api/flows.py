"""Scenarios (flows): CRUD, enable/disable, export/import and dry runs (SPEC §6, §7)."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api import dry_runs, flow_bulk
from plugin.api.common import json_body, json_object
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.api.openapi_ingest import NOT_BLANK
from plugin.api.versions import author
from plugin.engine import connection_refs, connections, flow_lists, stats, versions
from plugin.engine import flows as store
from plugin.engine.dispatch import bump_generation
from plugin.engine.validation import validate_flow
from plugin.errors import NotFound, ValidationFailed, problems_detail
from plugin.messages import msg
from plugin.storage.models import Flow, utcnow

blp = Blueprint("flows", __name__, url_prefix="/api/v1/flows", description="Scenarios (сценарии)")

EXAMPLE_FLOW = {
    "format": "automation-flow/1",
    "name": "Новая сделка → вебхук",
    "enabled": False,
    "nodes": [
        {"id": "start", "type": "event.order_created", "params": {}},
        {"id": "hook", "type": "action.webhook", "params": {"url": "https://example.com/hook"}},
    ],
    "edges": [{"from": "start", "to": "hook"}],
}
FLOW_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/FlowDocument"}, "example": EXAMPLE_FLOW}
    },
}


def _get(flow_id: str) -> Flow:
    flow = db.session.get(Flow, flow_id)
    if flow is None:
        raise NotFound(msg("notfound.flow", f"no flow {flow_id!r}", id=flow_id))
    return flow


def _changed() -> None:
    bump_generation(rt().redis)


@blp.route("")
class FlowList(MethodView):
    @blp.doc(summary="List scenarios: search, filters, sort", parameters=flow_bulk.LIST_PARAMETERS)
    @blp.doc(responses={**ok("FlowList", 200), "422": "UNPROCESSABLE_ENTITY"})
    @blp.response(200)
    def get(self):
        flows = flow_lists.list_flows(db.session, flow_bulk.list_filters())
        tz = current_app.config.get("TIMEZONE") or "Europe/Moscow"
        recent = stats.last_days(db.session, [f.id for f in flows], utcnow(), tz)
        items = [store.flow_summary(f) for f in flows]
        for item in items:  # the list's sparkline and 7-day numbers (from the hourly rollup)
            item["stats"]["last_7_days"] = recent[item["id"]]
        return {"flows": items}

    @blp.doc(summary="Create a scenario from a SPEC §6 document", requestBody=FLOW_BODY)
    @blp.doc(responses=ok("Flow", 201))
    @blp.response(201)
    def post(self):
        runtime = rt()
        flow = store.save_flow(db.session, runtime.registry, runtime.secrets, json_body())
        versions.record(db.session, runtime.registry, flow, author(), "create")
        db.session.commit()
        _changed()
        return store.flow_document(runtime.registry, flow)


@blp.route("/<string:flow_id>")
class FlowItem(MethodView):
    @blp.doc(summary="One scenario (secrets as placeholders)")
    @blp.doc(responses=ok("Flow", 200))
    @blp.response(200)
    def get(self, flow_id: str):
        return store.flow_document(rt().registry, _get(flow_id))

    @blp.doc(
        summary="Replace a scenario; a secret equal to the placeholder keeps its stored value",
        requestBody=FLOW_BODY,
    )
    @blp.doc(responses=ok("Flow", 200))
    @blp.response(200)
    def put(self, flow_id: str):
        runtime = rt()
        flow = _get(flow_id)
        store.save_flow(db.session, runtime.registry, runtime.secrets, json_body(), flow)
        versions.record(db.session, runtime.registry, flow, author(), "save")
        db.session.commit()
        _changed()
        return store.flow_document(runtime.registry, flow)

    @blp.doc(
        summary="Enable/disable or rename",
        requestBody={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "enabled": {"type": "boolean"},
                            "name": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 200,
                                "pattern": NOT_BLANK,
                            },
                        },
                    }
                }
            },
        },
    )
    @blp.doc(responses=ok("Flow", 200))
    @blp.response(200)
    def patch(self, flow_id: str):
        runtime = rt()
        flow = _get(flow_id)
        body = json_object()
        problems = []
        for key in body:
            if key not in ("enabled", "name"):
                problems.append(
                    {
                        "path": f"/{key}",
                        "message": msg("patch.field", "only 'enabled' and 'name' can be patched"),
                    }
                )
        if "enabled" in body and not isinstance(body["enabled"], bool):
            problems.append({"path": "/enabled", "message": msg("patch.enabled", "must be true or false")})
        if "name" in body and (
            not isinstance(body["name"], str) or not 1 <= len(body["name"].strip()) <= 200
        ):
            problems.append(
                {"path": "/name", "message": msg("patch.name", "must be a string of 1–200 characters")}
            )
        if body.get("enabled") is True:
            problems += store.enable_problems(runtime.registry, flow)
        if problems:
            raise ValidationFailed(problems_detail("", len(problems)), problems)
        if "name" in body:
            versions.rename(db.session, runtime.registry, flow, body["name"].strip(), author())
        if "enabled" in body:
            store.set_enabled(flow, body["enabled"])
        db.session.commit()
        _changed()
        return store.flow_document(runtime.registry, flow)

    @blp.doc(summary="Delete a scenario (its run history stays)")
    @blp.response(204)
    def delete(self, flow_id: str):
        versions.forget(db.session, flow_id)
        db.session.delete(_get(flow_id))
        db.session.commit()
        _changed()


@blp.route("/<string:flow_id>/export")
class FlowExport(MethodView):
    @blp.doc(
        summary="The scenario as a portable document (secrets as placeholders)",
        description='Carries `"connections": [{"id", "name", "type"}]`: the shared connections its '
        "actions name (no params, no secrets), which an import maps by id, then by name and type.",
    )
    @blp.doc(responses=ok("FlowExport", 200))
    @blp.response(200)
    def get(self, flow_id: str):
        return store.export_document(rt().registry, _get(flow_id), db.session)


@blp.route("/import")
class FlowImport(MethodView):
    @blp.doc(
        summary='Import one document or {"flows": [...]}; all or nothing',
        description="A document's `connections` (as an export writes them) map each connection its "
        "actions name to one of this server's: by id (same type), else by name and type. A connection "
        "that maps to none is a 422 whose errors name it (`connection`: id, name, type) at "
        "`/nodes/{i}/params/connection`: nothing is imported, so no scenario is left that cannot send.",
        requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
        parameters=flow_bulk.IMPORT_PARAMETERS,
    )
    @blp.doc(responses={**ok("FlowImportResult", 201), "409": "CONFLICT"})
    @blp.response(201)
    def post(self):
        runtime = rt()
        mode = flow_bulk.conflict_mode()
        body = json_body()
        many = isinstance(body, dict) and "flows" in body and "nodes" not in body
        docs = body["flows"] if many else [body]
        if not isinstance(docs, list) or not docs:
            raise ValidationFailed(
                msg("import.empty", "'flows' must be a non-empty list"),
                [{"path": "/flows", "message": msg("import.empty_list", "expected a non-empty array")}],
            )
        # Validate every document before writing any: a SAVEPOINT per document is not enough,
        # because on SQLite (pysqlite) releasing an outermost SAVEPOINT commits it.
        problems = []
        for i, doc in enumerate(docs):
            base = f"/flows/{i}" if many else ""
            found = validate_flow(doc, runtime.registry)
            if not found:
                listed = doc.get("connections", body.get("connections") if many else None)
                docs[i], unmapped = connections.map_imported(db.session, doc, listed)
                found = unmapped or connection_refs.reference_problems(
                    db.session, runtime.registry, docs[i]["nodes"]
                )
            problems += [{**p, "path": base + (p["path"] if p["path"] != "/" else "") or "/"} for p in found]
        if problems:
            raise ValidationFailed(problems_detail("", len(problems), ".not_imported"), problems)
        flows = []
        for doc, target in zip(docs, flow_bulk.prepare_import(docs, many, mode), strict=True):
            flow = store.save_flow(db.session, runtime.registry, runtime.secrets, doc, target, imported=True)
            db.session.flush()  # a second document with the same id then gets a new one
            versions.record(db.session, runtime.registry, flow, author(), "import")
            flows.append(flow)
        db.session.commit()
        _changed()
        return {"flows": [store.flow_document(runtime.registry, f) for f in flows]}


STORED_ID = {"type": ["string", "integer", "null"], "description": "the id of a stored record; null: none"}
TEST_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "context": {"$ref": "#/components/schemas/RunContext"},
                    "event_id": {"type": ["integer", "null"], "minimum": 1, "maximum": 2**31 - 1},
                    "order_id": STORED_ID,
                    "visit_id": STORED_ID,
                    "custom_event_id": STORED_ID,
                    "waits": {
                        "type": "object",
                        "description": "the branch each flow.wait_event node takes in the dry run, by node id: "
                        '"true" (the event came; the default) or "false" (timed out)',
                        "additionalProperties": {"enum": ["true", "false"]},
                    },
                },
            }
        }
    },
}


@blp.route("/<string:flow_id>/test")
class FlowTest(MethodView):
    @blp.doc(
        summary="Dry run: every verdict and the exact rendered messages, nothing sent", requestBody=TEST_BODY
    )
    @blp.doc(responses=ok("DryRun", 200))
    @blp.response(200)
    def post(self, flow_id: str):
        flow = _get(flow_id)
        body = json_object(required=False)
        return dry_runs.dry(flow.definition, flow.name, flow.id, body)


UNSAVED_TEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["flow"],
                "properties": {
                    **TEST_BODY["content"]["application/json"]["schema"]["properties"],
                    "flow": {"$ref": "#/components/schemas/FlowDocument"},
                },
            },
            "example": {"flow": EXAMPLE_FLOW, "context": {"order": {"id": "1", "price": 100}}},
        }
    },
}


@blp.route("/test")
class FlowTestUnsaved(MethodView):
    @blp.doc(
        summary="Dry run of an unsaved document (the editor's current state)", requestBody=UNSAVED_TEST_BODY
    )
    @blp.doc(responses=ok("DryRun", 200))
    @blp.response(200)
    def post(self):
        runtime = rt()
        body = json_body()
        if not isinstance(body, dict) or not isinstance(body.get("flow"), dict):
            raise ValidationFailed(
                msg("dryrun.shape", 'expected {"flow": <document>, "context": {...}}'),
                [{"path": "/flow", "message": msg("dryrun.flow_required", "required")}],
            )
        doc = body["flow"]
        existing = db.session.get(Flow, doc.get("id")) if isinstance(doc.get("id"), str) else None
        from plugin.storage.secrets import seal_nodes

        problems = validate_flow(doc, runtime.registry)
        if problems:
            raise ValidationFailed(
                problems_detail("flow", len(problems)),
                [{**p, "path": "/flow" + p["path"]} for p in problems],
            )
        problems = connection_refs.reference_problems(db.session, runtime.registry, doc["nodes"], "/flow")
        if problems:
            raise ValidationFailed(problems_detail("flow", len(problems)), problems)
        previous = store.previous_nodes(
            db.session, doc["nodes"], existing.definition["nodes"] if existing else None
        )
        nodes = seal_nodes(runtime.registry, runtime.secrets, doc["nodes"], previous)
        definition = {"nodes": nodes, "edges": doc["edges"], "settings": doc.get("settings") or {}}
        return dry_runs.dry(definition, doc["name"], doc.get("id") or "", body)


def register_schema(api) -> None:
    """Publish the flow document schema as a component of the OpenAPI document."""
    import json

    from plugin.registry import SCHEMAS_DIR

    schema = json.loads((SCHEMAS_DIR / "flow.json").read_text(encoding="utf-8"))
    schema.pop("$schema", None)
    api.spec.components.schema("FlowDocument", component=schema)
