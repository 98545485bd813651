"""The run context of SPEC §2: ``{visit, order, client, event}`` snapshots as plain dicts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.storage.models import VISIT_FIELDS, Client, CustomEvent, Order, Visit


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


def _latest_order(session: Session, client_id: str | None) -> Order | None:
    if not client_id:
        return None
    return session.scalars(
        select(Order).where(Order.client_id == client_id).order_by(Order.created_at.desc()).limit(1)
    ).first()


def _orders_count(session: Session, client_id: str | None) -> int:
    if not client_id:
        return 0
    return session.scalar(select(func.count()).select_from(Order).where(Order.client_id == client_id)) or 0


def for_order(session: Session, order: Order) -> dict:
    client = session.get(Client, order.client_id) if order.client_id else None
    visit = session.get(Visit, order.visit_id) if order.visit_id else None
    return {
        "visit": visit_dict(visit),
        "order": order_dict(order),
        "client": client_dict(client),
        "event": None,
        "client_orders_count": _orders_count(session, order.client_id),
    }


def for_visit(session: Session, visit: Visit) -> dict:
    client = session.get(Client, visit.client_id) if visit.client_id else None
    return {
        "visit": visit_dict(visit),
        "order": order_dict(_latest_order(session, visit.client_id)),
        "client": client_dict(client),
        "event": None,
        "client_orders_count": _orders_count(session, visit.client_id),
    }


def for_custom_event(session: Session, event: CustomEvent) -> dict:
    visit = session.get(Visit, event.visit_id) if event.visit_id else None
    client_id = event.client_id or (visit.client_id if visit else None)
    client = session.get(Client, client_id) if client_id else None
    return {
        "visit": visit_dict(visit),
        "order": order_dict(_latest_order(session, client_id)),
        "client": client_dict(client),
        "event": custom_event_dict(event),
        "client_orders_count": _orders_count(session, client_id),
    }


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
