"""Ingestion: store visits, clients, orders and custom events, and derive engine events (SPEC §3.1).

This module stores visits, clients and custom events one by one, with the helpers the others
share; orders are upserted by ``plugin.ingest.orders``, batches stored by ``plugin.ingest.batch``.
Everything here runs inside the caller's transaction; the caller commits once (durably) and
only then enqueues the dispatch of the returned event ids. Idempotent: a repeated visit or event
id, or an order upsert that changes nothing, derives no event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from plugin.nodes.base import VISIT_FIELDS
from plugin.storage.models import Client, CustomEvent, Event, Visit, new_id, utcnow

_INSERT_EVENT = insert(Event).returning(Event.id)

STATUS_GROUPS = ("in_work", "paid", "cancelled")
DEFAULT_STATUS_MAP = {
    "оплачен": "paid",
    "оплачено": "paid",
    "оплачена": "paid",
    "успешно реализовано": "paid",
    "сделка успешна": "paid",
    "paid": "paid",
    "won": "paid",
    "closed won": "paid",
    "отменен": "cancelled",
    "отменён": "cancelled",
    "отменено": "cancelled",
    "отказ": "cancelled",
    "закрыто и не реализовано": "cancelled",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "lost": "cancelled",
}


@lru_cache(maxsize=8)
def status_map(config_value: str) -> dict[str, str]:
    """The status-name → group map: built-ins plus ``AUTOMATION_STATUS_GROUPS`` (JSON or name:group,…).

    Cached per configuration value; callers only read the map."""
    mapping = dict(DEFAULT_STATUS_MAP)
    mapping.update({k.casefold(): v for k, v in configured_statuses(config_value).items()})
    return mapping


@lru_cache(maxsize=8)
def configured_statuses(config_value: str) -> dict[str, str]:
    """The statuses ``AUTOMATION_STATUS_GROUPS`` names, as spelt there, each with its group."""
    raw = (config_value or "").strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        extra = json.loads(raw)
    else:
        extra = dict(item.rsplit(":", 1) for item in raw.split(",") if ":" in item)
    return {k.strip(): v.strip() for k, v in extra.items() if v.strip() in STATUS_GROUPS}


def naive_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def add_event(session: Session, trigger: str, subject_id: str, data: dict | None = None) -> Event:
    event = Event(trigger=trigger, subject_id=subject_id, data=data or {}, created_at=utcnow())
    session.add(event)
    return event


def visit_row(data: dict, now: datetime) -> dict:
    """The ``visits`` row of a loaded ``VisitIn`` body."""
    values = {"id": str(data["id"]), "created_at": naive_utc(data.get("created_at")) or now}
    for name in VISIT_FIELDS:
        values[name] = str_or_none(data.get(name))
    values["client_id"] = str_or_none(data.get("client_id"))
    return values


def custom_event_row(data: dict, now: datetime) -> dict:
    """The ``custom_events`` row of a loaded ``CustomEventIn`` body (an id generated when absent)."""
    return {
        "id": str(data.get("id") or new_id()),
        "name": data["name"],
        "visit_id": str_or_none(data.get("visit_id")),
        "client_id": str_or_none(data.get("client_id")),
        "data": data.get("data") or {},
        "created_at": naive_utc(data.get("created_at")) or now,
    }


def ingest_visit(session: Session, data: dict) -> tuple[bool, list[Event]]:
    values = visit_row(data, utcnow())
    if not _insert_new(session, Visit, values):
        return False, []
    return True, [_event_row(session, "visit_created", values["id"], {})]


def upsert_client(
    session: Session, external_id: str, data: dict, known: dict | None = None
) -> tuple[bool, bool]:
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
    event_id = (
        session.connection()
        .execute(
            _INSERT_EVENT, {"trigger": trigger, "subject_id": subject_id, "data": data, "created_at": now}
        )
        .scalar_one()
    )
    return Event(id=event_id, trigger=trigger, subject_id=subject_id, data=data, created_at=now)


def ingest_custom_event(session: Session, data: dict) -> tuple[bool, list[Event]]:
    values = custom_event_row(data, utcnow())
    if not _insert_new(session, CustomEvent, values):
        return False, []
    return True, [_event_row(session, "custom_event", values["id"], {"name": data["name"]})]
