"""Scenario list extras: the list's query, «Дублировать», bulk on/off and import collisions."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.common import json_object
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.api.versions import author
from plugin.engine import flow_lists, versions
from plugin.engine import flows as store
from plugin.engine.dispatch import bump_generation
from plugin.errors import Conflict, NotFound, ValidationFailed, problems_detail
from plugin.messages import msg
from plugin.storage.models import Flow

blp = Blueprint("flow_bulk", __name__, url_prefix="/api/v1/flows", description="Scenario list actions")

SORT_VALUES = [f"{sign}{key}" for key in flow_lists.SORTS for sign in ("", "-")]
CONFLICT_MODES = ("fail", "copy", "replace")
LIST_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "schema": {"type": "string", "maxLength": 200},
        "description": "in the name",
    },
    {"name": "status", "in": "query", "schema": {"enum": list(flow_lists.STATUSES)}},
    {
        "name": "event",
        "in": "query",
        "schema": {"type": "string", "maxLength": 64},
        "description": "event type",
    },
    {"name": "tag", "in": "query", "schema": {"type": "string", "maxLength": 40}},
    {
        "name": "has_errors",
        "in": "query",
        "schema": {"enum": ["true", "false"]},
        "description": "failed runs",
    },
    {
        "name": "sort",
        "in": "query",
        "schema": {"enum": SORT_VALUES, "default": "created"},
        "description": "a column; '-' in front: descending",
    },
]
IMPORT_PARAMETERS = [
    {
        "name": "on_conflict",
        "in": "query",
        "schema": {"enum": list(CONFLICT_MODES), "default": "fail"},
        "description": "a document whose id or name a scenario has: fail (409 naming each collision), "
        "copy (imported beside it, «<name> (копия)»), replace (the scenario takes the document as a new version)",
    }
]
_LIMITS = {"q": 200, "event": 64, "tag": 40}


def list_filters() -> dict:
    """The list's query parameters, every problem at once."""
    args, problems, out = request.args, [], {}
    for name, limit in _LIMITS.items():
        value = args.get(name)
        if value is not None and len(value) > limit:
            said = msg("query.max_length", f"at most {limit} characters", max=limit, got=len(value))
            problems.append({"path": f"/{name}", "message": said})
        out[name] = value
    choices = {"status": flow_lists.STATUSES, "has_errors": ("true", "false"), "sort": SORT_VALUES}
    for name, allowed in choices.items():
        value = args.get(name)
        if value not in (None, *allowed):
            problems.append({"path": f"/{name}", "message": _one_of(allowed, value)})
        out[name] = value
    if problems:
        raise ValidationFailed(msg("query.invalid", "invalid query"), problems)
    out["has_errors"] = None if out["has_errors"] is None else out["has_errors"] == "true"
    return out


def _one_of(allowed, value):
    return msg(
        "query.one_of_got",
        f"must be one of {', '.join(allowed)}, got {value!r}",
        allowed=allowed,
        value=value,
    )


def conflict_mode() -> str:
    mode = request.args.get("on_conflict", "fail")
    if mode not in CONFLICT_MODES:
        raise ValidationFailed(
            msg("query.invalid", "invalid query"),
            [{"path": "/on_conflict", "message": _one_of(CONFLICT_MODES, mode)}],
        )
    return mode


def prepare_import(docs: list[dict], many: bool, mode: str) -> list[Flow | None]:
    """For each document the flow it replaces (``replace``) or None; 409 for ``fail`` on any
    collision; ``copy`` renames a colliding document «<name> (копия)»."""
    found = flow_lists.collisions(db.session, docs, "/flows" if many else "")
    if found and mode == "fail":
        english = (
            f"{len(found)} scenario(s) collide with stored ones by id or name; nothing was imported "
            "(on_conflict=copy imports a copy, on_conflict=replace replaces them)"
        )
        raise Conflict(msg("import.collisions", english, count=len(found)), found)
    targets: list[Flow | None] = []
    for doc in docs:
        existing = flow_lists.find_existing(db.session, doc) if found else None
        if existing is not None and mode == "copy" and existing.name == doc.get("name"):
            doc["name"] = flow_lists.copy_name(db.session, doc["name"])
        targets.append(existing if mode == "replace" else None)
    return targets


@blp.route("/<string:flow_id>/duplicate")
class FlowDuplicate(MethodView):
    @blp.doc(summary="«Дублировать»: a disabled copy named «<name> (копия)»")
    @blp.doc(responses=ok("Flow", 201))
    @blp.response(201)
    def post(self, flow_id: str):
        runtime = rt()
        flow = db.session.get(Flow, flow_id)
        if flow is None:
            raise NotFound(msg("notfound.flow", f"no flow {flow_id!r}", id=flow_id))
        copied = flow_lists.duplicate(db.session, flow)
        db.session.flush()
        versions.record(db.session, runtime.registry, copied, author(), "duplicate", duplicated_from=flow.id)
        db.session.commit()
        return store.flow_document(runtime.registry, copied)


BULK_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["ids", "enabled"],
                "additionalProperties": False,
                "properties": {
                    "ids": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1000,
                        "items": {"type": "string", "minLength": 1, "maxLength": 64},
                    },
                    "enabled": {"type": "boolean"},
                },
            },
            "example": {"ids": ["0f3c…"], "enabled": False},
        }
    },
}


def _bulk_problems(body: dict) -> list[dict]:
    problems = [
        {"path": f"/{k}", "message": msg("field.unknown", "unknown field")}
        for k in body
        if k not in ("ids", "enabled")
    ]
    ids = body.get("ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 1000:
        problems.append({"path": "/ids", "message": msg("bulk.ids", "expected an array of 1–1000 flow ids")})
    else:
        problems += [
            {
                "path": f"/ids/{i}",
                "message": msg(
                    "bulk.id", f"expected a flow id (a string of 1–64 characters), got {v!r}", value=v
                ),
            }
            for i, v in enumerate(ids)
            if not isinstance(v, str) or not 1 <= len(v) <= 64
        ]
    if not isinstance(body.get("enabled"), bool):
        problems.append({"path": "/enabled", "message": msg("bulk.enabled", "expected true or false")})
    return problems


@blp.route("/bulk")
class FlowBulk(MethodView):
    @blp.doc(
        summary="Switch many scenarios on or off at once, all or none",
        description="422 naming an unknown id; 409 naming each scenario that cannot be enabled "
        "(a secret still to fill in). Answers the changed scenarios as list items.",
        requestBody=BULK_BODY,
    )
    @blp.doc(responses={**ok("FlowList", 200), "409": "CONFLICT"})
    @blp.response(200)
    def post(self):
        runtime = rt()
        body = json_object()
        problems = _bulk_problems(body)
        if problems:
            raise ValidationFailed(problems_detail("", len(problems)), problems)
        flows = flow_lists.bulk_enable(db.session, runtime.registry, body["ids"], body["enabled"])
        db.session.commit()
        bump_generation(runtime.redis)
        return {"flows": [store.flow_summary(f) for f in flows]}
