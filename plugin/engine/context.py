"""The run context of SPEC §2: ``{visit, order, client, event}`` snapshots as plain dicts.

Built in one place, :func:`build`, for a dispatched batch of events at once (a handful of
queries whatever its size) and, fed with one, for a single event, order, visit or custom event
(dry runs): a run's context and the dry run's of the same event are the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.nodes.base import VISIT_FIELDS
from plugin.storage import bulk
from plugin.storage.models import Client, CustomEvent, Order, Visit


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def visit_dict(visit: Visit | None) -> dict | None:
    if visit is None:
        return None
    out: dict[str, Any] = {"id": visit.id}
    for name in VISIT_FIELDS:
        out[name] = getattr(visit, name)
    out["client_id"] = visit.client_id
    out["created_at"] = iso(visit.created_at)
    return out


def client_dict(client: Client | None) -> dict | None:
    if client is None:
        return None
    return {
        "external_id": client.external_id,
        "name": client.name,
        "company": client.company,
        "phone": client.phone,
        "email": client.email,
        "fields": client.fields or {},
    }


def order_dict(order: Order | None) -> dict | None:
    if order is None:
        return None
    return {
        "id": order.id,
        "price": order.price,
        "cost": order.cost,
        "status": order.status,
        "status_group": order.status_group,
        "created_at": iso(order.created_at),
        "paid_at": iso(order.paid_at),
        "client_id": order.client_id,
        "visit_id": order.visit_id,
        "responsible_user_id": order.responsible_user_id,
        "fields": order.fields or {},
    }


def custom_event_dict(event: CustomEvent | None) -> dict | None:
    if event is None:
        return None
    return {"id": event.id, "meta_id": event.name, "name": event.name, "data": event.data or {}}


def contexts_for(session: Session, events) -> dict[int, dict | None]:
    """The run context of every event (``id``, ``trigger``, ``subject_id``), by event id; None for
    an event whose subject is gone or whose trigger names none. A handful of queries for the
    whole batch, whatever its size (see :class:`_Subjects`)."""
    subjects = [(_KIND_OF.get(e.trigger) or _order_kind(e.trigger), e.subject_id) for e in events]
    return dict(zip((e.id for e in events), build(session, subjects), strict=True))


def for_event(session: Session, event) -> dict | None:
    """The run context of one stored event: :func:`contexts_for`, fed with one."""
    return contexts_for(session, [event])[event.id]


def for_order(session: Session, order: Order) -> dict | None:
    """The context of an order's events: the order, its visit and client (the dry run's too)."""
    return build(session, [("order", order.id)])[0]


def for_visit(session: Session, visit: Visit) -> dict | None:
    """The context of a visit's event: the visit, its client and the client's latest order."""
    return build(session, [("visit", visit.id)])[0]


def for_custom_event(session: Session, event: CustomEvent) -> dict | None:
    """The context of a custom event: the event, its visit, client and the client's latest order."""
    return build(session, [("custom", event.id)])[0]


_KIND_OF = {"visit_created": "visit", "custom_event": "custom"}


def _order_kind(trigger: str) -> str | None:
    """Order upserts and due (N-day) events alike: every ``order_*`` trigger is about an order."""
    return "order" if trigger.startswith("order_") else None


def build(session: Session, subjects: list[tuple[str | None, Any]]) -> list[dict | None]:
    """The contexts of ``(kind, id)`` subjects — kind ``order``, ``visit`` or ``custom`` (a custom
    event), None for none — in their order; None where the subject is not stored."""
    rows = _Subjects(session, subjects)
    return [rows.context(kind, subject_id) for kind, subject_id in subjects]


class _Subjects:
    """The rows the contexts of a batch are built from, each table read once for the batch.

    Rows are read through the tables (Core), not as ORM objects: the builders only read
    attributes, and building an instance with its identity-map state cost a quarter of a
    dispatch worker's CPU."""

    def __init__(self, session: Session, subjects: list[tuple[str | None, Any]]):
        self.session = session
        wanted: dict[str | None, set] = {"order": set(), "visit": set(), "custom": set(), None: set()}
        for kind, subject_id in subjects:
            wanted[kind].add(subject_id)
        self.orders = _by_id(session, Order, "id", wanted["order"])
        self.customs = _by_id(session, CustomEvent, "id", wanted["custom"])
        visit_ids = wanted["visit"] | {o.visit_id for o in self.orders.values()}
        self.visits = _by_id(session, Visit, "id", visit_ids | {c.visit_id for c in self.customs.values()})
        client_ids = {o.client_id for o in self.orders.values()} | {v.client_id for v in self.visits.values()}
        client_ids = {i for i in client_ids | {c.client_id for c in self.customs.values()} if i}
        self.clients = _by_id(session, Client, "external_id", client_ids)
        self.counts = _orders_counts(session, self.clients.keys())  # 0 without a known client
        self._latest: dict[str, Any] = {}

    def context(self, kind: str | None, subject_id) -> dict | None:
        build_one = _BUILDERS.get(kind)
        return build_one(self, subject_id) if build_one is not None else None

    def _order(self, order_id) -> dict | None:
        order = self.orders.get(order_id)
        if order is None:
            return None
        return self._context(order.client_id, self.visits.get(order.visit_id), order)

    def _visit(self, visit_id) -> dict | None:
        visit = self.visits.get(visit_id)
        if visit is None:
            return None
        return self._context(visit.client_id, visit, self.latest_order(visit.client_id))

    def _custom(self, custom_id) -> dict | None:
        custom = self.customs.get(custom_id)
        if custom is None:
            return None
        visit = self.visits.get(custom.visit_id)
        client_id = custom.client_id or (visit.client_id if visit else None)
        return self._context(client_id, visit, self.latest_order(client_id), custom_event_dict(custom))

    def _context(self, client_id, visit, order, event: dict | None = None) -> dict:
        return {
            "visit": visit_dict(visit),
            "order": order_dict(order),
            "client": client_dict(self.clients.get(client_id)),
            "event": event,
            "client_orders_count": self.counts.get(client_id, 0),
        }

    def latest_order(self, client_id):
        """The client's latest order (a visit or a custom event carries the client's last order)."""
        if not client_id:
            return None
        if client_id not in self._latest:
            table = Order.__table__
            latest = select(table).where(table.c.client_id == client_id).order_by(table.c.created_at.desc())
            self._latest[client_id] = self.session.execute(latest.limit(1)).first()
        return self._latest[client_id]


_BUILDERS = {"order": _Subjects._order, "visit": _Subjects._visit, "custom": _Subjects._custom}


def _by_id(session: Session, model, key: str, ids) -> dict:
    """The rows of ``model`` whose ``key`` is among ``ids`` (empty ones left out), by that key."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    table = model.__table__
    cached = (table.name, key, session.get_bind().dialect.name)
    statement = _BY_ID.get(cached)
    if statement is None:
        statement = _BY_ID[cached] = select(table).where(bulk.among_param(session, table.c[key], "ids"))
    rows = bulk.execute_prepared(session, statement, {"ids": list(ids)}, grown=(table.name,))
    return {getattr(row, key): row for row in rows}


_BY_ID: dict[tuple, Any] = {}  # (table, key, dialect) → its SELECT, built once


def _orders_counts(session: Session, client_ids) -> dict:
    """How many orders each of these clients has (a client without orders is left out)."""
    if not client_ids:
        return {}
    table = Order.__table__
    return dict(
        session.execute(
            select(table.c.client_id, func.count())
            .where(bulk.among(session, table.c.client_id, client_ids))
            .group_by(table.c.client_id)
        ).all()
    )


def normalize(context: dict | None) -> dict:
    """A caller-supplied context (dry runs, node endpoints) with every key present."""
    context = dict(context or {})
    for key in ("visit", "order", "client", "event"):
        value = context.get(key)
        context[key] = value if isinstance(value, dict) else None
    if not isinstance(context.get("client_orders_count"), int):
        context["client_orders_count"] = 0
    return context


def for_conditions(context: dict, now: datetime | None = None) -> dict:
    """The context conditions see: plus ``now``, always an aware UTC datetime."""
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:  # the database's naive UTC
        now = now.replace(tzinfo=UTC)
    return {**context, "now": now}
