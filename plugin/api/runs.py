"""Run history with filters and cursor pagination, and manual retry of a failed run."""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select, update

from plugin.api import runs_csv
from plugin.api.common import decode_cursor, encode_cursor, moment, page_size
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.api.openapi_runs import RUN_LIST_PARAMETERS, RUN_LIST_RESPONSE
from plugin.engine import history, rollup
from plugin.engine.context import iso
from plugin.engine.execution import step_dict
from plugin.errors import ApiProblem, Conflict, NotFound, ValidationFailed
from plugin.messages import msg
from plugin.storage.models import Flow, Run, Step, utcnow

blp = Blueprint("runs", __name__, url_prefix="/api/v1/runs", description="Run history")

STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "not_triggered", "suppressed", "cancelled")


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
        summary="Runs, newest first, with each run's deal, client and recipient; filters; cursor pages; CSV",
        parameters=RUN_LIST_PARAMETERS,
    )
    @blp.doc(responses={"200": RUN_LIST_RESPONSE})
    @blp.response(200)
    def get(self):
        filters, limit, fmt = _list_args(request.args)
        if fmt == "csv":
            return runs_csv.response(db.session, filters)
        after = _cursor_position(request.args["cursor"]) if request.args.get("cursor") else None
        runs, more = history.page(db.session, filters, limit, after)
        steps = _steps_for([r.id for r in runs])
        known = history.related(db.session, runs)
        next_cursor = encode_cursor(runs[-1].created_at.isoformat(), runs[-1].id) if more else None
        return {
            "runs": [{**run_dict(r, steps[r.id]), **history.extras(r, known)} for r in runs],
            "next_cursor": next_cursor,
        }


def _list_args(args) -> tuple[history.Filters, int, str]:
    """The list's filters, page size and format; every bad parameter at once as a 400 problem."""
    problems = []
    limit = page_size(args, problems)
    status = args.get("status")
    if status is not None and status not in STATUSES:  # `?status=` too: not a status
        said = msg("query.one_of", f"must be one of {', '.join(STATUSES)}", allowed=STATUSES)
        problems.append({"path": "/status", "message": said})
    fmt = args.get("format", "json")
    if fmt not in ("json", "csv"):
        said = msg("query.one_of", f"must be json or csv, got {fmt!r}", allowed=("json", "csv"))
        problems.append({"path": "/format", "message": said})
    recipient = args.get("recipient")
    if recipient is not None and not 1 <= len(recipient.rstrip("*")) <= 320:
        said = msg("query.recipient", "must be 1 to 320 characters (a trailing * for a prefix)")
        problems.append({"path": "/recipient", "message": said})
    since, until = (moment(args, name, problems) for name in ("since", "until"))
    if since is not None and until is not None and since >= until:
        problems.append({"path": "/until", "message": msg("query.until", "must be later than since")})
    if problems:
        raise ValidationFailed(msg("query.invalid", "invalid query"), problems)
    filters = history.Filters(
        flow_id=args.get("flow_id") or None,
        status=status or None,
        order_id=args.get("order_id") or None,
        client_id=args.get("client_id") or None,
        recipient=recipient,
        since=since,
        until=until,
    )
    return filters, limit, fmt


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
        return _item(_get(run_id))


def _item(run: Run) -> dict:
    return {
        **run_dict(run, _steps_for([run.id])[run.id]),
        **history.extras(run, history.related(db.session, [run])),
    }


@blp.route("/<string:run_id>/retry")
class RunRetry(MethodView):
    @blp.doc(summary="Replay a failed run: failed steps run again, succeeded ones are never re-sent")
    @blp.doc(responses=ok("Run", 202))
    @blp.response(202)
    def post(self, run_id: str):
        run = _get(run_id)
        if run.trigger in ("direct", "test"):
            raise Conflict(
                msg(
                    "retry.direct",
                    "a direct node call or a test message is not retried by the server: send it again",
                )
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
        # claimed with its status in the WHERE: of two retries at once, one replays the run
        claimed = db.session.execute(
            update(Run)
            .where(Run.id == run.id, Run.status == "failed")
            .values(status="queued", error=None, finished_at=None, updated_at=utcnow(), next_attempt_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed:
            db.session.rollback()
            raise Conflict(msg("retry.busy", "this run is being retried already"))
        if run.flow_id:  # no longer failed: the flow's «ошибок» counts the runs that are failed now
            rollup.count(db.session, run.flow_id, run.created_at, failed=-1)
            db.session.execute(
                update(Flow)
                .where(Flow.id == run.flow_id, Flow.failed_count > 0)
                .values(failed_count=Flow.failed_count - 1)
            )
        db.session.commit()
        db.session.refresh(run)
        from plugin.jobs.queue import enqueue_run

        enqueue_run(rt().queue, run.id)
        return _item(run)
