"""Orders: create or update one, and derive order_created / order_status_changed /
order_dates_changed events (SPEC §3.1). Runs inside the caller's transaction, as ``store`` does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin.ingest.store import add_event, naive_utc, str_or_none, upsert_client
from plugin.storage.models import Event, Order, utcnow


def upsert_order(
    session: Session,
    order_id: str,
    data: dict,
    groups: dict[str, str],
    known: dict | None = None,
    known_clients: dict | None = None,
) -> list[Event]:
    """Create or update an order; derive order_created / order_status_changed events.

    ``known`` / ``known_clients`` (batch ingestion): the batch's existing rows, loaded at once.
    """
    _upsert_inline_client(session, data, known_clients)
    order = known.get(order_id) if known is not None else session.get(Order, order_id)
    now = utcnow()
    if order is None:
        order = Order(**new_order_row(order_id, data, groups, now))
        session.add(order)
        if known is not None:
            known[order_id] = order
        return [add_event(session, "order_created", order_id)]
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
    ("client_id", str_or_none),
    ("visit_id", str_or_none),
    ("responsible_user_id", str_or_none),
    ("created_at", naive_utc),
    ("paid_at", naive_utc),
)


def _order_updates(order: Order, data: dict, group: str | None) -> dict[str, Any]:
    """The columns ``data`` sets on a stored order (a ``created_at`` of null is no change)."""
    updates = {
        name: convert(data[name]) if convert else data[name]
        for name, convert in _ORDER_UPDATES
        if name in data
    }
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
        return [
            add_event(session, "order_status_changed", order_id, {"from": before_status, "to": order.status})
        ]
    if (order.created_at, order.paid_at) != before_dates:
        return [add_event(session, "order_dates_changed", order_id)]
    return []


def new_order_row(order_id: str, data: dict, groups: dict[str, str], now: datetime) -> dict:
    """The row ``upsert_order`` creates for an order not stored yet."""
    status = data.get("status")
    group = data.get("status_group") or (groups.get(status.casefold()) if status else None) or "in_work"
    paid_at = naive_utc(data.get("paid_at"))
    if group == "paid" and paid_at is None:
        paid_at = now
    return {
        "id": order_id,
        "price": data.get("price"),
        "cost": data.get("cost"),
        "status": status,
        "status_group": group,
        "created_at": naive_utc(data.get("created_at")) or now,
        "paid_at": paid_at,
        "client_id": str_or_none(data.get("client_id")),
        "visit_id": str_or_none(data.get("visit_id")),
        "responsible_user_id": str_or_none(data.get("responsible_user_id")),
        "fields": data.get("fields") or {},
        "first_seen_at": now,
        "updated_at": now,
    }
