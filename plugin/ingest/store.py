"""Ingestion: store visits, clients, orders and custom events, and derive engine events (SPEC §3.1).

Everything here runs inside the caller's transaction; the caller commits once (durably) and
only then enqueues the dispatch of the returned event ids. Idempotent: a repeated visit or event
id, or an order upsert that changes nothing, derives no event.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from plugin.storage import bulk
from plugin.storage.models import VISIT_FIELDS, Client, CustomEvent, Event, Order, Visit, new_id, utcnow

log = logging.getLogger(__name__)

_INSERT_EVENT = insert(Event).returning(Event.id)

STATUS_GROUPS = ("in_work", "paid", "cancelled")
DEFAULT_STATUS_MAP = {
    "оплачен": "paid", "оплачено": "paid", "оплачена": "paid", "успешно реализовано": "paid",
    "сделка успешна": "paid", "paid": "paid", "won": "paid", "closed won": "paid",
    "отменен": "cancelled", "отменён": "cancelled", "отменено": "cancelled", "отказ": "cancelled",
    "закрыто и не реализовано": "cancelled", "cancelled": "cancelled", "canceled": "cancelled", "lost": "cancelled",
}


@lru_cache(maxsize=8)
def status_map(config_value: str) -> dict[str, str]:
    """The status-name → group map: built-ins plus ``AUTOMATION_STATUS_GROUPS`` (JSON or name:group,…).

    Cached per configuration value; callers only read the map."""
    mapping = dict(DEFAULT_STATUS_MAP)
    raw = (config_value or "").strip()
    if raw:
        if raw.startswith("{"):
            extra = json.loads(raw)
        else:
            extra = dict(item.rsplit(":", 1) for item in raw.split(",") if ":" in item)
        mapping.update({k.strip().casefold(): v.strip() for k, v in extra.items() if v.strip() in STATUS_GROUPS})
    return mapping


def naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _event(session: Session, trigger: str, subject_id: str, data: dict | None = None) -> Event:
    event = Event(trigger=trigger, subject_id=subject_id, data=data or {}, created_at=utcnow())
    session.add(event)
    return event


def visit_row(data: dict, now: datetime) -> dict:
    """The ``visits`` row of a loaded ``VisitIn`` body."""
    values = {"id": str(data["id"]), "created_at": naive_utc(data.get("created_at")) or now}
    for name in VISIT_FIELDS:
        values[name] = _str(data.get(name))
    values["client_id"] = _str(data.get("client_id"))
    return values


def custom_event_row(data: dict, now: datetime) -> dict:
    """The ``custom_events`` row of a loaded ``CustomEventIn`` body (an id generated when absent)."""
    return {
        "id": str(data.get("id") or new_id()), "name": data["name"], "visit_id": _str(data.get("visit_id")),
        "client_id": _str(data.get("client_id")), "data": data.get("data") or {},
        "created_at": naive_utc(data.get("created_at")) or now,
    }


def ingest_visit(session: Session, data: dict) -> tuple[bool, list[Event]]:
    values = visit_row(data, utcnow())
    if not _insert_new(session, Visit, values):
        return False, []
    return True, [_event_row(session, "visit_created", values["id"], {})]


def upsert_client(session: Session, external_id: str, data: dict, known: dict | None = None) -> tuple[bool, bool]:
    """Returns (created, changed). Clients fire nothing themselves; they feed every context.

    ``known`` (batch ingestion) holds every client of the batch that exists, loaded at once.
    """
    client = known.get(external_id) if known is not None else session.get(Client, external_id)
    created = client is None
    if created:
        client = Client(external_id=external_id, fields={})
        session.add(client)
        if known is not None:
            known[external_id] = client
    changed = created
    for name in ("name", "company", "phone", "email"):
        if name in data and getattr(client, name) != data[name]:
            setattr(client, name, data[name])
            changed = True
    if "fields" in data and data["fields"] is not None and client.fields != data["fields"]:
        client.fields = data["fields"]
        changed = True
    if changed:
        client.updated_at = utcnow()
    return created, changed


def upsert_order(
    session: Session, order_id: str, data: dict, groups: dict[str, str], known: dict | None = None,
    known_clients: dict | None = None,
) -> list[Event]:
    """Create or update an order; derive order_created / order_status_changed events.

    ``known`` / ``known_clients`` (batch ingestion): the batch's existing rows, loaded at once.
    """
    events: list[Event] = []
    if isinstance(data.get("client"), dict) and data["client"].get("external_id"):
        client_data = dict(data["client"])
        upsert_client(session, str(client_data.pop("external_id")), client_data, known_clients)
        data.setdefault("client_id", data["client"]["external_id"])
    order = known.get(order_id) if known is not None else session.get(Order, order_id)
    now = utcnow()
    status = data.get("status")
    group = data.get("status_group") or (groups.get(status.casefold()) if status else None)
    if order is None:
        order = Order(
            id=order_id,
            price=data.get("price"),
            cost=data.get("cost"),
            status=status,
            status_group=group or "in_work",
            created_at=naive_utc(data.get("created_at")) or now,
            paid_at=naive_utc(data.get("paid_at")),
            client_id=_str(data.get("client_id")),
            visit_id=_str(data.get("visit_id")),
            responsible_user_id=_str(data.get("responsible_user_id")),
            fields=data.get("fields") or {},
            first_seen_at=now,
            updated_at=now,
        )
        if order.status_group == "paid" and order.paid_at is None:
            order.paid_at = now
        session.add(order)
        if known is not None:
            known[order_id] = order
        events.append(_event(session, "order_created", order_id))
        return events

    before_status = order.status
    before_dates = (order.created_at, order.paid_at)
    changed = False
    updates: dict[str, Any] = {}
    for name in ("price", "cost", "status"):
        if name in data:
            updates[name] = data[name]
    for name in ("client_id", "visit_id", "responsible_user_id"):
        if name in data:
            updates[name] = _str(data[name])
    for name in ("created_at", "paid_at"):
        if name in data:
            updates[name] = naive_utc(data[name])
    if "fields" in data and data["fields"] is not None:
        updates["fields"] = data["fields"]
    if group is not None and ("status_group" in data or "status" in data):
        updates["status_group"] = group
    elif "status" in data and data["status"] != order.status:
        updates["status_group"] = "in_work"
    for name, value in updates.items():
        if name == "created_at" and value is None:
            continue
        if getattr(order, name) != value:
            setattr(order, name, value)
            changed = True
    if order.status_group == "paid" and order.paid_at is None:
        order.paid_at = now
        changed = True
    if not changed:
        return events
    order.updated_at = now
    if order.status != before_status:
        events.append(
            _event(session, "order_status_changed", order_id, {"from": before_status, "to": order.status})
        )
    elif (order.created_at, order.paid_at) != before_dates:
        events.append(_event(session, "order_dates_changed", order_id))
    return events


_INSERT_NEW: dict = {}


def _insert_new(session: Session, model, values: dict) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: True when the row is new (one statement, no read first)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported databases
        if session.get(model, values["id"]) is not None:
            return False
        session.add(model(**values))
        return True
    key = (dialect, model)
    if key not in _INSERT_NEW:
        _INSERT_NEW[key] = insert(model).on_conflict_do_nothing().returning(model.id)
    return session.connection().execute(_INSERT_NEW[key], values).first() is not None


def _event_row(session: Session, trigger: str, subject_id: str, data: dict) -> Event:
    """Insert an engine event with Core (the hot path of ingestion) and return it detached."""
    now = utcnow()
    event_id = session.connection().execute(
        _INSERT_EVENT, {"trigger": trigger, "subject_id": subject_id, "data": data, "created_at": now}
    ).scalar_one()
    return Event(id=event_id, trigger=trigger, subject_id=subject_id, data=data, created_at=now)


def ingest_custom_event(session: Session, data: dict) -> tuple[bool, list[Event]]:
    values = custom_event_row(data, utcnow())
    if not _insert_new(session, CustomEvent, values):
        return False, []
    return True, [_event_row(session, "custom_event", values["id"], {"name": data["name"]})]


def ingest_batch(session: Session, items: list[tuple[str, dict]], groups: dict[str, str]) -> int:
    """Store up to 1,000 items with a handful of statements; same semantics as one by one.

    Returns how many engine events the batch derived (all inserted in this transaction).

    Visits, custom events and orders that are new (not stored, named once in the batch, without
    an inline client) go in with one multi-row ``INSERT … ON CONFLICT DO NOTHING`` per table
    (ids already stored, or repeated in the batch, fire nothing), their engine events with one
    more. Existing orders, orders named twice and clients are loaded at once and upserted through
    the ORM in the batch's order, so two updates of one order derive the same events as two
    requests would.
    """
    now = utcnow()
    derived = 0
    order_ids = [str(d["id"]) for k, d in items if k == "order"]
    repeated = {i for i in order_ids if order_ids.count(i) > 1} if len(set(order_ids)) != len(order_ids) else set()
    client_ids = {str(d["external_id"]) for k, d in items if k == "client"}
    client_ids |= {str(d["client"]["external_id"]) for k, d in items
                   if k == "order" and isinstance(d.get("client"), dict) and d["client"].get("external_id")}
    known_orders = _load(session, Order, Order.id, set(order_ids))
    known_clients = _load(session, Client, Client.external_id, client_ids)
    visits, customs, new_orders, late = [], [], [], []
    for kind, data in items:
        if kind == "client":
            data = dict(data)
            upsert_client(session, str(data.pop("external_id")), data, known_clients)
        elif kind == "order":
            order_id = str(data["id"])
            if order_id in known_orders or order_id in repeated or isinstance(data.get("client"), dict):
                data = dict(data)
                derived += len(upsert_order(session, str(data.pop("id")), data, groups, known_orders, known_clients))
            else:
                new_orders.append((_new_order_row(order_id, data, groups, now), data))
        elif kind == "visit":
            visits.append(visit_row(data, now))
        else:
            customs.append(custom_event_row(data, now))
    session.flush()
    rows = []
    if new_orders:
        stored = set(bulk.insert_new_rows(session, Order.__table__, [row for row, _ in new_orders]))
        for row, data in new_orders:
            if row["id"] in stored:
                rows.append({"trigger": "order_created", "subject_id": row["id"], "data": {}})
            else:  # created meanwhile by another request: an upsert like any other
                late.append(data)
    for visit_id in bulk.insert_new_rows(session, Visit.__table__, visits):
        rows.append({"trigger": "visit_created", "subject_id": visit_id, "data": {}})
    names = {c["id"]: c["name"] for c in customs}
    for custom_id in bulk.insert_new_rows(session, CustomEvent.__table__, customs):
        rows.append({"trigger": "custom_event", "subject_id": custom_id, "data": {"name": names[custom_id]}})
    for row in rows:
        row["created_at"] = now
    bulk.insert_rows(session, Event.__table__, rows)
    derived += len(rows)
    for data in late:
        data = dict(data)
        derived += len(upsert_order(session, str(data.pop("id")), data, groups))
    return derived


def _new_order_row(order_id: str, data: dict, groups: dict[str, str], now: datetime) -> dict:
    """The row ``upsert_order`` would create for an order not stored yet."""
    status = data.get("status")
    group = data.get("status_group") or (groups.get(status.casefold()) if status else None) or "in_work"
    paid_at = naive_utc(data.get("paid_at"))
    if group == "paid" and paid_at is None:
        paid_at = now
    return {
        "id": order_id, "price": data.get("price"), "cost": data.get("cost"), "status": status,
        "status_group": group, "created_at": naive_utc(data.get("created_at")) or now, "paid_at": paid_at,
        "client_id": _str(data.get("client_id")), "visit_id": _str(data.get("visit_id")),
        "responsible_user_id": _str(data.get("responsible_user_id")), "fields": data.get("fields") or {},
        "first_seen_at": now, "updated_at": now,
    }


def _load(session: Session, model, column, ids: set[str]) -> dict:
    out = {}
    ids = list(ids)
    for start in range(0, len(ids), 500):
        for row in session.scalars(select(model).where(bulk.among(session, column, ids[start : start + 500]))):
            out[getattr(row, column.key)] = row
    return out


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
