"""The node catalog and direct node execution for third-party platforms (SPEC §7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.common import context_problems, json_object
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.engine import connection_refs, validation
from plugin.engine import context as ctx
from plugin.errors import NotFound, ValidationFailed, problems_detail
from plugin.messages import msg
from plugin.nodes.base import SECRET_PLACEHOLDER

blp = Blueprint("nodes", __name__, url_prefix="/api/v1/nodes", description="Node catalog and execution")


def _spec(type_id: str):
    spec = rt().registry.get(type_id)
    if spec is None:
        raise NotFound(
            msg("notfound.node_type", f"no node type {type_id!r}", type=type_id),
            [
                {
                    "path": "/type",
                    "message": msg("node.unknown_type", f"unknown node type {type_id!r}", type=type_id),
                }
            ],
        )
    return spec


@blp.route("")
class NodeList(MethodView):
    @blp.doc(summary="Every node type with its params schema")
    @blp.doc(responses=ok("NodeList", 200))
    @blp.response(200)
    def get(self):
        return {"nodes": [n.describe() for n in rt().registry.catalog()]}


@blp.route("/<string:type_id>")
class NodeItem(MethodView):
    @blp.doc(summary="One node type with its params schema")
    @blp.doc(responses=ok("NodeType", 200))
    @blp.response(200)
    def get(self, type_id: str):
        return _spec(type_id).describe()


@blp.route("/<string:type_id>/schema")
class NodeSchema(MethodView):
    @blp.doc(summary="The JSON Schema (draft 2020-12) of one node type's params")
    @blp.doc(responses=ok("NodeSchema", 200))
    @blp.response(200)
    def get(self, type_id: str):
        return _spec(type_id).schema


@blp.route("/<string:type_id>/execute")
class NodeExecute(MethodView):
    @blp.doc(
        summary="Run one node: conditions answer {result}, events {matches}, a split {variant}, actions call",
        requestBody={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["params"],
                        "properties": {
                            "params": {"type": "object"},
                            "context": {"$ref": "#/components/schemas/RunContext"},
                            "flow_id": {
                                "type": "string",
                                "description": "For flow.split: the flow whose split this is (with node_id), "
                                "to get the variant a run of that flow gives",
                            },
                            "node_id": {
                                "type": "string",
                                "description": "For flow.split: the split's node id",
                            },
                            "event": {
                                "type": ["object", "null"],
                                "description": "For events: the engine event to test, e.g. "
                                '{"type": "order_status_changed", "data": {"from": "Новая", "to": "Оплачен"}}; '
                                "defaults to one built from context.event",
                                "properties": {"type": {"type": "string"}, "data": {"type": "object"}},
                            },
                        },
                    }
                }
            },
        },
    )
    @blp.doc(responses=ok("NodeResult", 200))
    @blp.response(200)
    def post(self, type_id: str):
        runtime = rt()
        spec = _spec(type_id)
        body = json_object()
        problems = []
        params = body.get("params", {})
        context = body.get("context", {})
        if "params" not in body:
            problems.append(
                {
                    "path": "/params",
                    "message": msg("execute.params_required", "required: the node's params (an object)"),
                }
            )
        elif not isinstance(params, dict):
            problems.append(
                {"path": "/params", "message": msg("execute.params_object", "params must be an object")}
            )
        problems += context_problems(context) + _event_problems(body.get("event"))
        if problems:
            raise ValidationFailed(problems_detail("", len(problems)), problems)
        node = {"id": "node", "type": type_id, "params": params}
        problems = validation._node_problems([node], runtime.registry)
        problems += connection_refs.reference_problems(db.session, runtime.registry, [node])
        problems = [{**p, "path": p["path"].replace("/nodes/0", "", 1) or "/"} for p in problems]
        # No stored value stands behind a placeholder here: the caller must send the secret itself
        problems += [
            {
                "path": "/params/" + "/".join(path),
                "message": msg(
                    "execute.placeholder", "a secret must be given in clear, not as the placeholder"
                ),
            }
            for path in spec.secret_paths(params)
            if validation._at(params, path) == SECRET_PLACEHOLDER
        ]
        if problems:
            raise ValidationFailed(problems_detail("params", len(problems)), problems)
        context = ctx.normalize(context)
        if spec.kind == "condition":
            return _condition_answer(spec, params, ctx.for_conditions(context))
        if spec.kind == "event":
            return {"matches": _event_matches(spec, params, context, body.get("event"))}
        if spec.kind == "flow" and hasattr(spec.module, "choose"):
            return _split_answer(spec, params, context, body)
        if spec.kind == "flow":
            return {"delay_seconds": spec.module.delay_seconds(params)}
        from plugin.engine.execution import execute_direct
        from plugin.jobs.worker import make_engine
        from plugin.storage.secrets import seal_nodes

        sealed = seal_nodes(runtime.registry, runtime.secrets, [node], None)[0]
        return execute_direct(db.session, make_engine(runtime, db.engine), spec, node, sealed, context)


def _condition_answer(spec, params: dict, cond_ctx: dict) -> dict:
    """``{"result"}``; a group adds ``output``, its trace with every inner verdict."""
    explain = getattr(spec.module, "explain", None)
    if explain is None:
        return {"result": bool(spec.module.evaluate(params, cond_ctx))}
    output = explain(params, cond_ctx)
    return {"result": bool(output["verdict"]), "output": output}


def _split_answer(spec, params: dict, context: dict, body: dict) -> dict:
    """``{"variant", "subject"}``: the variant a flow's split (``flow_id`` and ``node_id`` of the
    body, when given) gives this context's client or order; without one, a fresh run's."""
    salt = f"{body.get('flow_id') or ''}:{body.get('node_id') or 'node'}"
    return spec.module.choose(params, context, salt=salt, fallback=f"run:{uuid.uuid4().hex}")


def _event_problems(event) -> list[dict]:
    """The optional engine event of an event node's test: ``{"type": str, "data": object}``."""
    if event is None:
        return []
    if not isinstance(event, dict):
        return [
            {
                "path": "/event",
                "message": msg("body.expected_object", f"expected an object, got {type(event).__name__}"),
            }
        ]
    problems = []
    if "type" in event and not isinstance(event["type"], str):
        problems.append({"path": "/event/type", "message": msg("execute.event_type", "expected a string")})
    if "data" in event and not isinstance(event["data"], dict):
        problems.append({"path": "/event/data", "message": msg("body.expected_object", "expected an object")})
    return problems


def _event_matches(spec, params, context, event) -> bool:
    if getattr(spec.module, "TIME_FIELD", None):
        due = spec.module.due_at(params, context.get("order") or {})
        return due is not None and due <= datetime.now(UTC)
    if not isinstance(event, dict):
        # the stored-event shape, derived from the context the caller sent
        custom = context.get("event") or {}
        data = {"name": custom.get("meta_id") or custom.get("name")} if custom else {}
        event = {"type": spec.module.TRIGGERS[0], "data": data}
    return event.get("type", spec.module.TRIGGERS[0]) in spec.module.TRIGGERS and bool(
        spec.module.matches(params, {"type": event.get("type"), "data": event.get("data") or {}})
    )
