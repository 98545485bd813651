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


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


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
    _upsert_inline_client(session, data, known_clients)
    order = known.get(order_id) if known is not None else session.get(Order, order_id)
    now = utcnow()
    if order is None:
        order = Order(**_new_order_row(order_id, data, groups, now))
        session.add(order)
        if known is not None:
            known[order_id] = order
        return [_event(session, "order_created", order_id)]
    return _update_order(session, order_id, order, data, _status_group(data, groups), now)


def _upsert_inline_client(session: Session, data: dict, known_clients: dict | None) -> None:
    """An order's inline ``client`` (with its ``external_id``) is upserted; it names the order's client
    unless ``client_id`` is given."""
    if isinstance(data.get("client"), dict) and data["client"].get("external_id"):
        client_data = dict(data["client"])
        upsert_client(session, str(client_data.pop("external_id")), client_data, known_clients)
        data.setdefault("client_id", data["client"]["external_id"])


def _status_group(data: dict, groups: dict[str, str]) -> str | None:
    """The group an order's data names: ``status_group``, else its status mapped by ``groups``."""
    status = data.get("status")
    return data.get("status_group") or (groups.get(status.casefold()) if status else None)


# the order columns an update sets from its data, each read by its converter
_ORDER_UPDATES: tuple[tuple[str, Any], ...] = (
    ("price", None),
    ("cost", None),
    ("status", None),
    ("client_id", _str),
    ("visit_id", _str),
    ("responsible_user_id", _str),
    ("created_at", naive_utc),
    ("paid_at", naive_utc),
)


def _order_updates(order: Order, data: dict, group: str | None) -> dict[str, Any]:
    """The columns ``data`` sets on a stored order (a ``created_at`` of null is no change)."""
    updates = {name: convert(data[name]) if convert else data[name] for name, convert in _ORDER_UPDATES if name in data}
    if "created_at" in updates and updates["created_at"] is None:  # an order keeps its creation time
        del updates["created_at"]
    if "fields" in data and data["fields"] is not None:
        updates["fields"] = data["fields"]
    if group is not None and ("status_group" in data or "status" in data):
        updates["status_group"] = group
    elif "status" in data and data["status"] != order.status:
        updates["status_group"] = "in_work"
    return updates


def _update_order(
    session: Session, order_id: str, order: Order, data: dict, group: str | None, now: datetime
) -> list[Event]:
    """Apply ``data`` to a stored order: its status change, else its dates' change, is an event."""
    before_status = order.status
    before_dates = (order.created_at, order.paid_at)
    changed = False
    for name, value in _order_updates(order, data, group).items():
        if getattr(order, name) != value:
            setattr(order, name, value)
            changed = True
    if order.status_group == "paid" and order.paid_at is None:
        order.paid_at = now
        changed = True
    if not changed:
        return []
    order.updated_at = now
    if order.status != before_status:
        return [_event(session, "order_status_changed", order_id, {"from": before_status, "to": order.status})]
    if (order.created_at, order.paid_at) != before_dates:
        return [_event(session, "order_dates_changed", order_id)]
    return []


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
    batch = _Batch(session, items, groups)
    batch.sort(items)
    session.flush()
    batch.insert_new()
    return batch.derived


class _Batch:
    """One batch of ``ingest_batch``: the rows it inserts at once, and what it upserts one by one."""

    def __init__(self, session: Session, items: list[tuple[str, dict]], groups: dict[str, str]):
        self.session, self.groups, self.now = session, groups, utcnow()
        order_ids = [str(d["id"]) for k, d in items if k == "order"]
        self.repeated = (
            {i for i in order_ids if order_ids.count(i) > 1} if len(set(order_ids)) != len(order_ids) else set()
        )
        client_ids = {str(d["external_id"]) for k, d in items if k == "client"}
        client_ids |= {
            str(d["client"]["external_id"])
            for k, d in items
            if k == "order" and isinstance(d.get("client"), dict) and d["client"].get("external_id")
        }
        self.known_orders = _load(session, Order, Order.id, set(order_ids))
        self.known_clients = _load(session, Client, Client.external_id, client_ids)
        self.visits: list[dict] = []
        self.customs: list[dict] = []
        self.new_orders: list[tuple[dict, dict]] = []  # (the row to insert, the item's data)
        self.derived = 0

    def sort(self, items: list[tuple[str, dict]]) -> None:
        """Upsert the clients and the orders that need it, in the batch's order; keep the new rows."""
        for kind, data in items:
            if kind == "client":
                fields = dict(data)
                upsert_client(self.session, str(fields.pop("external_id")), fields, self.known_clients)
            elif kind == "order":
                order_id = str(data["id"])
                if order_id in self.known_orders or order_id in self.repeated or isinstance(data.get("client"), dict):
                    self._upsert_order(data, known=True)
                else:
                    self.new_orders.append((_new_order_row(order_id, data, self.groups, self.now), data))
            elif kind == "visit":
                self.visits.append(visit_row(data, self.now))
            else:
                self.customs.append(custom_event_row(data, self.now))

    def insert_new(self) -> None:
        """The new rows, one statement per table, and the engine events of those that were new; an
        order created meanwhile by another request is upserted like any other."""
        rows, late = self._insert_new_orders()
        for visit_id in bulk.insert_new_rows(self.session, Visit.__table__, self.visits):
            rows.append({"trigger": "visit_created", "subject_id": visit_id, "data": {}})
        names = {c["id"]: c["name"] for c in self.customs}
        for custom_id in bulk.insert_new_rows(self.session, CustomEvent.__table__, self.customs):
            rows.append({"trigger": "custom_event", "subject_id": custom_id, "data": {"name": names[custom_id]}})
        for row in rows:
            row["created_at"] = self.now
        bulk.insert_rows(self.session, Event.__table__, rows)
        self.derived += len(rows)
        for data in late:
            self._upsert_order(data, known=False)

    def _insert_new_orders(self) -> tuple[list[dict], list[dict]]:
        """Insert the new orders: the order_created events of those stored, and the data of the rest."""
        events, late = [], []
        if self.new_orders:
            stored = set(bulk.insert_new_rows(self.session, Order.__table__, [row for row, _ in self.new_orders]))
            for row, data in self.new_orders:
                if row["id"] in stored:
                    events.append({"trigger": "order_created", "subject_id": row["id"], "data": {}})
                else:
                    late.append(data)
        return events, late

    def _upsert_order(self, data: dict, *, known: bool) -> None:
        fields = dict(data)
        order_id = str(fields.pop("id"))
        if known:
            events = upsert_order(self.session, order_id, fields, self.groups, self.known_orders, self.known_clients)
        else:
            events = upsert_order(self.session, order_id, fields, self.groups)
        self.derived += len(events)


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
