"""Ingestion endpoints: the data is committed before the 202, then its dispatch is enqueued."""

from __future__ import annotations

import logging

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError

from plugin.api.auth import INGEST, requires_scope
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.errors import ValidationFailed, problems_detail
from plugin.ingest import schemas
from plugin.ingest import store as ingest
from plugin.ingest.batch import ingest_batch
from plugin.ingest.orders import upsert_order
from plugin.ingest.store import status_map
from plugin.messages import msg

log = logging.getLogger(__name__)

blp = Blueprint(
    "ingest", __name__, url_prefix="/api/v1", description="Ingestion of visits, clients, orders and events"
)


def _groups() -> dict[str, str]:
    return status_map(current_app.config.get("STATUS_GROUPS", ""))


def _commit_and_enqueue(events) -> int:
    """Commit, then notify the dispatch; ``events``: the derived events or their number."""
    count = events if isinstance(events, int) else len(events)  # counted before the commit expires them
    db.session.commit()
    if count:
        from plugin.jobs.queue import notify_dispatch

        try:
            notify_dispatch(rt().queue)
        except Exception:  # noqa: BLE001 - stored: the sweeper dispatches undispatched events
            log.warning("could not enqueue %d events; the sweeper will dispatch them", count)
    return count


def _id(value: str, name: str) -> str:
    if not 1 <= len(value) <= 64:
        raise ValidationFailed(
            msg("ingest.id", "invalid id"),
            [{"path": f"/{name}", "message": msg("ingest.id_length", "must be 1–64 characters long")}],
        )
    return value


@blp.route("/visits")
@requires_scope(INGEST)  # an ingest token (a website) may call these, and only these
class Visits(MethodView):
    @blp.arguments(schemas.VisitIn)
    @blp.response(202, schemas.Accepted)
    @blp.doc(summary="A new visit (fires «Новый визит»); a repeated id fires nothing")
    def post(self, data):
        created, events = ingest.ingest_visit(db.session, data)
        return {"accepted": True, "created": created, "events": _commit_and_enqueue(events)}


@blp.route("/clients/<string:external_id>")
@requires_scope(INGEST)
class Clients(MethodView):
    @blp.arguments(schemas.ClientIn)
    @blp.response(202, schemas.Accepted)
    @blp.doc(summary="Create or update a client by its CRM id")
    def put(self, data, external_id):
        created, _changed = ingest.upsert_client(db.session, _id(external_id, "external_id"), data)
        db.session.commit()
        return {"accepted": True, "created": created, "events": 0}


@blp.route("/orders/<string:order_id>")
@requires_scope(INGEST)
class Orders(MethodView):
    @blp.arguments(schemas.OrderIn)
    @blp.response(202, schemas.Accepted)
    @blp.doc(summary="Create or update an order (fires «Новая сделка», «Смена статуса сделки»)")
    def put(self, data, order_id):
        events = upsert_order(db.session, _id(order_id, "id"), data, _groups())
        created = any(e.trigger == "order_created" for e in events)
        return {"accepted": True, "created": created, "events": _commit_and_enqueue(events)}


@blp.route("/events")
@requires_scope(INGEST)
class CustomEvents(MethodView):
    @blp.arguments(schemas.CustomEventIn)
    @blp.response(202, schemas.Accepted)
    @blp.doc(summary="A custom event (Roistat «События»); a repeated id fires nothing")
    def post(self, data):
        created, events = ingest.ingest_custom_event(db.session, data)
        return {"accepted": True, "created": created, "events": _commit_and_enqueue(events)}


@blp.route("/batch")
@requires_scope(INGEST)
class Batch(MethodView):
    @blp.arguments(schemas.BatchIn)
    @blp.response(202, schemas.BatchAccepted)
    @blp.doc(summary="Up to 1,000 ingestion items in one request, stored in one transaction")
    def post(self, data):
        loaded, problems = [], []
        for i, item in enumerate(data["items"]):
            try:
                loaded.append((item["type"], schemas.ITEM_LOADERS[item["type"]].load(item["data"])))
            except ValidationError as exc:
                from plugin.api.errors import _smorest_errors

                problems += _smorest_errors(exc.messages, f"/items/{i}/data")
        if problems:
            raise ValidationFailed(problems_detail("", len(problems), ".not_stored"), problems)
        events = ingest_batch(db.session, loaded, _groups())
        return {"accepted": len(loaded), "events": _commit_and_enqueue(events)}
