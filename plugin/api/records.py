"""The read API of stored records (SPEC §11): ``GET /orders/{id}``, ``/visits/{id}``,
``/clients/{external_id}`` (with its ``timeline``), and the searches ``GET /orders``, ``/visits``,
``/events`` (``q``: an id, or a client's name, phone or e-mail), newest first. What the test panel
picks a real deal, visit or event from; the shapes are the run context's (``engine.context``)."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import literal_column, or_, select

from plugin.api.auth import READ, requires_scope
from plugin.api.extensions import db
from plugin.api.records_docs import (
    CLIENT_ANSWER,
    EVENT_LIST,
    ORDER_ANSWER,
    ORDER_LIST,
    SEARCH_PARAMETERS,
    TIMELINE_PARAMETERS,
    VISIT_ANSWER,
    VISIT_LIST,
)
from plugin.engine import context as ctx
from plugin.errors import NotFound, ValidationFailed
from plugin.messages import msg
from plugin.storage.models import STATUS_CHANGED, Client, CustomEvent, Event, Order, Run, Visit

blp = Blueprint("records", __name__, url_prefix="/api/v1", description="Stored orders, visits, clients")

MAX_LIMIT = 100
MAX_Q = 200


def _args(default: int = 20) -> tuple[int, str]:
    """``limit`` (1–100) and ``q`` (up to 200 characters) of a search, every problem at once."""
    problems, limit = [], default
    raw = request.args.get("limit")
    if raw is not None:
        try:
            limit = int(raw)
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            english = f"must be an integer from 1 to {MAX_LIMIT}, got {raw!r}"
            said = msg("query.int_range", english, low=1, high=MAX_LIMIT, value=raw)
            problems.append({"path": "/limit", "message": said})
    q = (request.args.get("q") or "").strip()
    if len(q) > MAX_Q:
        said = msg("query.max_length", f"at most {MAX_Q} characters, got {len(q)}", max=MAX_Q, got=len(q))
        problems.append({"path": "/q", "message": said})
    if problems:
        raise ValidationFailed(msg("query.invalid", "invalid query"), problems)
    return limit, q


def _like(column, q: str):
    """``column`` holds ``q``: case-insensitive for Latin letters on both databases, and for the
    first letter of a Cyrillic word («анна» finds «Анна»), which SQLite's LIKE does not fold."""
    variants = {q, q.lower(), q[:1].upper() + q[1:]}
    pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(
        column.ilike(f"%{pattern}%", escape="\\"), *(column.contains(v, autoescape=True) for v in variants)
    )


def _clients_matching(q: str):
    """The external ids of the clients whose name, phone, e-mail or id holds ``q``."""
    return select(Client.external_id).where(
        or_(
            Client.external_id == q,
            _like(Client.name, q),
            _like(Client.email, q),
            Client.phone.contains(q, autoescape=True),
        )
    )


def _clients(ids) -> dict[str, dict]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = db.session.scalars(select(Client).where(Client.external_id.in_(ids)))
    return {c.external_id: ctx.client_dict(c) for c in rows}


def _with_clients(items: list[dict]) -> list[dict]:
    """Each item with its client's card (``client``: name, phone, e-mail), or null."""
    found = _clients(i.get("client_id") for i in items)
    return [{**i, "client": found.get(i.get("client_id"))} for i in items]


def _event_dict(event: CustomEvent) -> dict:
    return {
        **ctx.custom_event_dict(event),
        "visit_id": event.visit_id,
        "client_id": event.client_id,
        "created_at": ctx.iso(event.created_at),
    }


@blp.route("/orders")
class OrderSearch(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="Recent orders; q: an order id (or its start), a client's name, phone or e-mail")
    @blp.doc(parameters=SEARCH_PARAMETERS, responses=ORDER_LIST)
    def get(self):
        limit, q = _args()
        query = select(Order)
        if q:
            query = query.where(
                or_(Order.id.startswith(q, autoescape=True), Order.client_id.in_(_clients_matching(q)))
            )
        rows = db.session.scalars(query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
        return {"orders": _with_clients([ctx.order_dict(o) for o in rows])}


@blp.route("/orders/<string:order_id>")
class OrderItem(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="One order with its client and visit", responses=ORDER_ANSWER)
    def get(self, order_id: str):
        order = db.session.get(Order, order_id)
        if order is None:
            raise NotFound(msg("notfound.order", f"no order {order_id!r}", id=order_id))
        visit = db.session.get(Visit, order.visit_id) if order.visit_id else None
        client = db.session.get(Client, order.client_id) if order.client_id else None
        return {**ctx.order_dict(order), "client": ctx.client_dict(client), "visit": ctx.visit_dict(visit)}


@blp.route("/visits")
class VisitSearch(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="Recent visits; q: a visit id (or its start), a client's name, phone or e-mail")
    @blp.doc(parameters=SEARCH_PARAMETERS, responses=VISIT_LIST)
    def get(self):
        limit, q = _args()
        query = select(Visit)
        if q:
            query = query.where(
                or_(Visit.id.startswith(q, autoescape=True), Visit.client_id.in_(_clients_matching(q)))
            )
        rows = db.session.scalars(query.order_by(Visit.created_at.desc(), Visit.id.desc()).limit(limit))
        return {"visits": _with_clients([ctx.visit_dict(v) for v in rows])}


@blp.route("/visits/<string:visit_id>")
class VisitItem(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="One visit with its client", responses=VISIT_ANSWER)
    def get(self, visit_id: str):
        visit = db.session.get(Visit, visit_id)
        if visit is None:
            raise NotFound(msg("notfound.visit", f"no visit {visit_id!r}", id=visit_id))
        client = db.session.get(Client, visit.client_id) if visit.client_id else None
        return {**ctx.visit_dict(visit), "client": ctx.client_dict(client)}


@blp.route("/events")
class EventSearch(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="Recent custom events; q: an event id, its name, a client's name, phone or e-mail")
    @blp.doc(parameters=SEARCH_PARAMETERS, responses=EVENT_LIST)
    def get(self):
        limit, q = _args()
        query = select(CustomEvent)
        if q:
            query = query.where(
                or_(
                    CustomEvent.id.startswith(q, autoescape=True),
                    CustomEvent.name == q,
                    CustomEvent.client_id.in_(_clients_matching(q)),
                )
            )
        order = (CustomEvent.created_at.desc(), CustomEvent.id.desc())
        rows = db.session.scalars(query.order_by(*order).limit(limit))
        return {"events": _with_clients([_event_dict(e) for e in rows])}


@blp.route("/clients/<string:external_id>")
class ClientItem(MethodView):
    @requires_scope(READ)
    @blp.doc(
        summary="One client with its timeline: orders, visits, events, status changes and runs, newest first"
    )
    @blp.doc(parameters=TIMELINE_PARAMETERS, responses=CLIENT_ANSWER)
    def get(self, external_id: str):
        limit, _q = _args()
        client = db.session.get(Client, external_id)
        if client is None:
            raise NotFound(msg("notfound.client", f"no client {external_id!r}", id=external_id))
        return {
            **ctx.client_dict(client),
            "created_at": ctx.iso(client.created_at),
            "timeline": _timeline(external_id, limit),
        }


def _timeline(external_id: str, limit: int) -> dict:
    """The client's newest ``limit`` orders, visits, custom events, status changes of its deals
    (the ``order_status_changed`` events ingestion derived, through ``ix_events_status_changes``)
    and runs."""
    session = db.session

    def newest(model, column, *order):
        return session.scalars(select(model).where(column == external_id).order_by(*order).limit(limit))

    orders = newest(Order, Order.client_id, Order.created_at.desc(), Order.id.desc())
    visits = newest(Visit, Visit.client_id, Visit.created_at.desc(), Visit.id.desc())
    events = newest(CustomEvent, CustomEvent.client_id, CustomEvent.created_at.desc(), CustomEvent.id.desc())
    runs = newest(Run, Run.client_id, Run.created_at.desc(), Run.id.desc())
    deals = select(Order.id).where(Order.client_id == external_id)
    changes = session.scalars(
        select(Event)
        .where(Event.trigger == literal_column(f"'{STATUS_CHANGED}'"), Event.subject_id.in_(deals))
        .order_by(Event.created_at.desc(), Event.id.desc())
        .limit(limit)
    )
    return {
        "orders": [ctx.order_dict(o) for o in orders],
        "visits": [ctx.visit_dict(v) for v in visits],
        "events": [_event_dict(e) for e in events],
        "status_changes": [_status_change(e) for e in changes],
        "runs": [_run_item(r) for r in runs],
    }


def _status_change(event: Event) -> dict:
    data = event.data if isinstance(event.data, dict) else {}
    return {
        "id": event.id,
        "order_id": event.subject_id,
        "from": data.get("from"),
        "to": data.get("to"),
        "at": ctx.iso(event.created_at),
    }


def _run_item(run: Run) -> dict:
    return {
        "id": run.id,
        "flow_id": run.flow_id,
        "flow_name": run.flow_name,
        "status": run.status,
        "trigger": run.trigger,
        "order_id": run.order_id,
        "created_at": ctx.iso(run.created_at),
    }
