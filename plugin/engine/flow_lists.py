"""The scenario list (search, filters, sort), duplicates, import collisions and bulk on/off."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.engine.flows import enable_problems, set_enabled
from plugin.errors import Conflict, ValidationFailed
from plugin.messages import msg
from plugin.storage.models import Flow, new_id, utcnow

COPY_SUFFIX = " (копия)"
NAME_MAX = 200
# sort key → the value a flow sorts by (ties: name, then id)
SORTS = {
    "name": lambda f: f.name.casefold(),
    "created": lambda f: f.created_at,
    "updated": lambda f: f.updated_at,
    "status": lambda f: f.enabled,
    "event": lambda f: f.event_type,
    "runs": lambda f: f.triggered_count or 0,
    "failed": lambda f: f.failed_count or 0,
    "last_triggered": lambda f: (f.last_triggered_at is not None, f.last_triggered_at or f.created_at),
}
STATUSES = ("enabled", "disabled")


def list_flows(session: Session, filters: dict[str, Any]) -> list[Flow]:
    """Flows matching ``filters`` (``q``, ``status``, ``event``, ``tag``, ``has_errors``), sorted by
    ``sort`` (a key of SORTS, ``-`` in front for descending; default: created)."""
    query = select(Flow)
    if filters.get("status"):
        query = query.where(Flow.enabled.is_(filters["status"] == "enabled"))
    if filters.get("event"):
        query = query.where(Flow.event_type == filters["event"])
    if filters.get("has_errors") is not None:
        query = query.where(Flow.failed_count > 0 if filters["has_errors"] else Flow.failed_count == 0)
    flows = list(session.scalars(query))
    if filters.get("q"):  # in Python: SQLite's lower() folds ASCII only, «Заказ» must match «заказ»
        needle = filters["q"].strip().casefold()
        flows = [f for f in flows if needle in f.name.casefold()]
    if filters.get("tag"):
        wanted = filters["tag"].strip().casefold()
        flows = [f for f in flows if wanted in (t.casefold() for t in f.definition.get("tags") or [])]
    sort = filters.get("sort") or "created"
    key = SORTS[sort.lstrip("-")]
    flows.sort(key=lambda f: (f.name.casefold(), f.id))
    flows.sort(key=key, reverse=sort.startswith("-"))
    return flows


def copy_name(session: Session, name: str) -> str:
    """``name (копия)``, or ``name (копия 2)``… the first that no flow has."""
    taken = set(session.scalars(select(Flow.name).where(Flow.name.startswith(name[:100], autoescape=True))))
    for n in range(1, 1000):
        suffix = COPY_SUFFIX if n == 1 else f" (копия {n})"
        candidate = name[: NAME_MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    return name[: NAME_MAX - 33] + f" (копия {new_id()})"


def duplicate(session: Session, flow: Flow) -> Flow:
    """A disabled copy of ``flow`` under a new id and the name «<name> (копия)»; its secrets stay
    sealed as they are (the same key opens them)."""
    now = utcnow()
    copied = Flow(
        id=new_id(),
        name=copy_name(session, flow.name),
        enabled=False,
        version=1,
        event_type=flow.event_type,
        definition=copy.deepcopy(flow.definition),
        created_at=now,
        updated_at=now,
        triggered_count=0,
        failed_count=0,
        suppressed_count=0,
    )
    session.add(copied)
    return copied


def collisions(session: Session, docs: list[dict], base: str) -> list[dict]:
    """Each document whose id or name a stored flow already has: the problems of a 409."""
    out = []
    for i, doc in enumerate(docs):
        prefix = f"{base}/{i}" if base else ""
        found = find_existing(session, doc)
        if found is None:
            continue
        field = "id" if found.id == doc.get("id") else "name"
        out.append(
            {
                "path": f"{prefix}/{field}",
                "message": msg(
                    "import.collision",
                    f"a scenario with this {field} exists: «{found.name}» ({found.id})",
                    field=field,
                    name=found.name,
                    id=found.id,
                ),
                "existing": {"id": found.id, "name": found.name},
            }
        )
    return out


def find_existing(session: Session, doc: dict) -> Flow | None:
    """The stored flow a document collides with: the same id, else the same name."""
    if isinstance(doc.get("id"), str):
        found = session.get(Flow, doc["id"])
        if found is not None:
            return found
    if isinstance(doc.get("name"), str):
        return session.scalars(select(Flow).where(Flow.name == doc["name"]).order_by(Flow.created_at)).first()
    return None


def bulk_enable(session: Session, registry, ids: list[str], enabled: bool) -> list[Flow]:
    """Switch every flow of ``ids`` on or off, all or none: an unknown id is a 422 naming it, a flow
    that cannot be enabled (a secret still to fill in) a 409 naming it."""
    flows = {f.id: f for f in session.scalars(select(Flow).where(Flow.id.in_(set(ids))))}
    missing = [
        {"path": f"/ids/{i}", "message": msg("notfound.flow", f"no flow {fid!r}", id=fid)}
        for i, fid in enumerate(ids)
        if fid not in flows
    ]
    if missing:
        english = f"{len(missing)} unknown flow id(s); nothing was changed"
        raise ValidationFailed(msg("bulk.unknown", english, count=len(missing)), missing)
    if enabled:
        blocked = [
            {**p, "path": f"/ids/{i}", "message": _blocked(flows[fid].name, p)}
            for i, fid in enumerate(ids)
            for p in enable_problems(registry, flows[fid])
        ]
        if blocked:
            english = f"{len(blocked)} scenario(s) cannot be enabled; nothing was changed"
            raise Conflict(msg("bulk.blocked", english, count=len(blocked)), blocked)
    for fid in dict.fromkeys(ids):
        set_enabled(flows[fid], enabled)
    return [flows[fid] for fid in dict.fromkeys(ids)]


def _blocked(name: str, problem: dict):
    english = f"«{name}»: {problem['message']} ({problem['path']})"
    return msg("bulk.blocked_item", english, name=name, problem=problem["message"], path=problem["path"])
