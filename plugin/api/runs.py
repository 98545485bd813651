"""Run history with filters and cursor pagination, and manual retry of a failed run."""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import and_, or_, select

from plugin.api.common import decode_cursor, encode_cursor
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.engine.context import iso
from plugin.engine.execution import step_dict
from plugin.errors import ApiProblem, Conflict, NotFound, ValidationFailed
from plugin.messages import msg
from plugin.storage.models import NOT_SUCCEEDED, Run, Step, utcnow

blp = Blueprint("runs", __name__, url_prefix="/api/v1/runs", description="Run history")

STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "not_triggered", "suppressed")


def run_dict(run: Run, steps: list[Step]) -> dict:
    return {
        "id": run.id,
        "flow_id": run.flow_id,
        "flow_version": run.flow_version,
        "flow_name": run.flow_name,
        "status": run.status,
        "trigger": run.trigger,
        "direct": run.trigger == "direct",
        "event_type": run.event_type,
        "event_id": run.event_id,
        "triggered": run.triggered,
        "order_id": run.order_id,
        "client_id": run.client_id,
        "error": run.error,
        "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at),
        "finished_at": iso(run.finished_at),
        "next_attempt_at": iso(run.next_attempt_at),
        "steps": [step_dict(s) for s in sorted(steps, key=lambda s: s.id or 0)],
    }


def _steps_for(run_ids: list[str]) -> dict[str, list[Step]]:
    out: dict[str, list[Step]] = {rid: [] for rid in run_ids}
    if run_ids:
        for step in db.session.scalars(select(Step).where(Step.run_id.in_(run_ids))):
            out[step.run_id].append(step)
    return out


@blp.route("")
class RunList(MethodView):
    @blp.doc(
        summary="Runs, newest first; filter by flow_id, status, order_id, client_id; cursor pagination",
        parameters=[
            {"name": n, "in": "query", "required": False, "schema": s}
            for n, s in (
                ("flow_id", {"type": "string"}),
                ("status", {"enum": list(STATUSES)}),
                ("order_id", {"type": "string"}),
                ("client_id", {"type": "string"}),
                ("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
                ("cursor", {"type": "string", "description": "next_cursor of the previous page"}),
            )
        ],
    )
    @blp.doc(responses=ok("RunList", 200))
    @blp.response(200)
    def get(self):
        args = request.args
        problems = []
        try:
            limit = int(args.get("limit", 50))
            if not 1 <= limit <= 500:
                raise ValueError
        except ValueError:
            problems.append(
                {"path": "/limit", "message": msg("query.limit", "must be an integer from 1 to 500")}
            )
            limit = 50
        status = args.get("status")
        if status is not None and status not in STATUSES:  # `?status=` too: not a status
            problems.append(
                {
                    "path": "/status",
                    "message": msg("query.one_of", f"must be one of {', '.join(STATUSES)}", allowed=STATUSES),
                }
            )
        if problems:
            raise ValidationFailed(msg("query.invalid", "invalid query"), problems)
        query = select(Run)
        for name in ("flow_id", "order_id", "client_id"):
            if args.get(name):
                query = query.where(getattr(Run, name) == args[name])
        if status:
            query = query.where(Run.status == status)
            if status != "succeeded":  # through ix_runs_status_created, in order (models.NOT_SUCCEEDED)
                query = query.where(NOT_SUCCEEDED)
        if args.get("cursor"):
            created_at, run_id = _cursor_position(args["cursor"])
            query = query.where(
                or_(Run.created_at < created_at, and_(Run.created_at == created_at, Run.id < run_id))
            )
        runs = db.session.scalars(query.order_by(Run.created_at.desc(), Run.id.desc()).limit(limit + 1)).all()
        more = len(runs) > limit
        runs = runs[:limit]
        steps = _steps_for([r.id for r in runs])
        next_cursor = encode_cursor(runs[-1].created_at.isoformat(), runs[-1].id) if more else None
        return {"runs": [run_dict(r, steps[r.id]) for r in runs], "next_cursor": next_cursor}


def _cursor_position(cursor: str) -> tuple[datetime, str]:
    """(created_at, run id) of a cursor this server issued; anything else is a 400, not a 500."""
    parts = decode_cursor(cursor)
    try:
        created, run_id = parts[:2]
        return datetime.fromisoformat(created), str(run_id)
    except (TypeError, ValueError):
        raise ApiProblem(
            msg("cursor.foreign", "the cursor is not one this server issued"),
            [{"path": "/cursor", "message": msg("cursor.invalid", "invalid cursor")}],
        ) from None


def _get(run_id: str) -> Run:
    run = db.session.get(Run, run_id)
    if run is None:
        raise NotFound(msg("notfound.run", f"no run {run_id!r}", id=run_id))
    return run


@blp.route("/<string:run_id>")
class RunItem(MethodView):
    @blp.doc(summary="One run with every step: verdicts, rendered output (secrets masked), attempts, errors")
    @blp.doc(responses=ok("Run", 200))
    @blp.response(200)
    def get(self, run_id: str):
        run = _get(run_id)
        return run_dict(run, _steps_for([run.id])[run.id])


@blp.route("/<string:run_id>/retry")
class RunRetry(MethodView):
    @blp.doc(summary="Replay a failed run: failed steps run again, succeeded ones are never re-sent")
    @blp.doc(responses=ok("Run", 202))
    @blp.response(202)
    def post(self, run_id: str):
        run = _get(run_id)
        if run.trigger == "direct":
            raise Conflict(
                msg("retry.direct", "a direct node call is not retried by the server: call the node again")
            )
        if run.status != "failed":
            raise Conflict(
                msg(
                    "retry.status",
                    f"only a failed run can be retried; this one is {run.status}",
                    status=run.status,
                )
            )
        for step in db.session.scalars(select(Step).where(Step.run_id == run.id)):
            if step.status == "not_reached":
                db.session.delete(step)
            elif step.status == "failed":
                step.status = "pending"
                step.attempts = 0
                step.error = None
                step.resume_at = None
                step.finished_at = None
        run.status = "queued"
        run.error = None
        run.finished_at = None
        run.updated_at = utcnow()
        run.next_attempt_at = None
        db.session.commit()
        from plugin.jobs.queue import enqueue_run

        enqueue_run(rt().queue, run.id)
        return run_dict(run, _steps_for([run.id])[run.id])
