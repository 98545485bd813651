"""A scenario's dry run as the API serves it: the context given inline or built from a stored
order, visit or event, and what a real run would hold back (plugin/api/flows.py's two test routes)."""

from __future__ import annotations

from functools import partial

from plugin.api.common import context_problems
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine import context as ctx
from plugin.engine import dryrules
from plugin.engine.runner import dry_run
from plugin.errors import ValidationFailed, problems_detail
from plugin.ingest.reading import pointer
from plugin.messages import msg
from plugin.storage.connections import session_lookup
from plugin.storage.models import CustomEvent, Event, Order, Visit, utcnow
from plugin.storage.secrets import open_params

# a dry run's stored subject: the body's key, its model, how a 404 names it, and its context
_STORED_SUBJECTS = (
    ("order_id", Order, "order", ctx.for_order),
    ("visit_id", Visit, "visit", ctx.for_visit),
    ("custom_event_id", CustomEvent, "custom event", ctx.for_custom_event),
)


def test_context(body: dict) -> tuple[dict, str | None]:
    """The context of a dry run: given inline, or built from a stored order/visit/event."""
    problems = _test_request_problems(body)
    if problems:
        raise ValidationFailed(problems_detail("", len(problems), ".dry_run"), problems)
    session = db.session
    if body.get("event_id") is not None:
        event = session.get(Event, body["event_id"])
        if event is None:  # the flow (the target) exists; what the body names does not: 422, not 404
            said = msg("dryrun.no_event_id", f"no stored event {body['event_id']!r}", id=body["event_id"])
            detail = msg("dryrun.no_event", "the dry run names a stored event that does not exist")
            raise ValidationFailed(detail, [{"path": "/event_id", "message": said}])
        return ctx.for_event(session, event) or ctx.normalize({}), event.trigger
    for name, model, what, context_of in _STORED_SUBJECTS:
        if body.get(name) is not None:
            row = session.get(model, str(body[name]))
            if row is None:
                said = msg("dryrun.no_subject_id", f"no {what} {body[name]!r}", what=what, id=body[name])
                detail = msg(
                    "dryrun.no_subject", f"the dry run names a {what} that does not exist", what=what
                )
                raise ValidationFailed(detail, [{"path": f"/{name}", "message": said}])
            return context_of(session, row), None
    return ctx.normalize(body.get("context") or {}), None


def _test_request_problems(body: dict) -> list[dict]:
    """What is wrong with a dry run's context and the ids naming its stored subject."""
    problems = context_problems(body.get("context"))
    event_id = body.get("event_id")
    if event_id is not None and (
        isinstance(event_id, bool) or not isinstance(event_id, int) or not 0 < event_id < 2**31
    ):
        problems.append(
            {
                "path": "/event_id",
                "message": msg("dryrun.event_id", f"expected a positive integer event id, got {event_id!r}"),
            }
        )
    problems += _waits_problems(body["waits"]) if "waits" in body else []
    for name, _model, _what, _context_of in _STORED_SUBJECTS:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            problems.append(
                {
                    "path": f"/{name}",
                    "message": msg("dryrun.id", f"expected a string or an integer, got {value!r}"),
                }
            )
    return problems


def _waits_problems(waits) -> list[dict]:
    """``waits``: node id → "true" | "false" (the documented shape; found by the fuzz: anything
    else was taken silently)."""
    if not isinstance(waits, dict):  # null too: the documented type is an object
        return [
            {"path": "/waits", "message": msg("dryrun.waits", "expected an object of node id → true | false")}
        ]
    return [
        {
            "path": pointer("/waits", k),
            "message": msg("query.one_of", f"must be true or false, got {v!r}", allowed=("true", "false")),
        }
        for k, v in waits.items()
        if v not in ("true", "false")
    ]


def dry(definition: dict, name: str, flow_id: str, body: dict) -> dict:
    runtime = rt()
    context, _trigger = test_context(body)
    event_node = next(n for n in definition["nodes"] if n["type"].startswith("event."))
    event_type = runtime.registry[event_node["type"]].module.PAYLOAD_EVENT_TYPE
    now, timezone = utcnow(), runtime.config.get("TIMEZONE") or "Europe/Moscow"
    result = dry_run(
        definition,
        runtime.registry,
        context,
        open_params=lambda node: open_params(
            runtime.registry, runtime.secrets, node, session_lookup(db.session)
        ),
        flow={"id": flow_id, "name": name},
        event_type=event_type,
        services=runtime.services,
        hold=partial(dryrules.hold, services=runtime.services, now=now, timezone=timezone),
        waits=body.get("waits"),
    )
    suppressed = dryrules.frequency_hold(db.session, flow_id, definition, context, now)
    if suppressed and result["triggered"]:  # the run would be stored suppressed: nothing sent
        result.update(status="suppressed", reason=suppressed)
    result["context"] = context
    return result
