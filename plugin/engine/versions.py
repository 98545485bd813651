"""Versions of a flow (SPEC §11): every save stored with who, when and what changed; restore.

A version keeps the flow's name and definition as stored, secrets sealed; whatever leaves this
module for a reader goes through ``mask_nodes`` first. What changed is computed against the
version before, as a list of changes a person reads (see :func:`diff`).
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from plugin.engine import alerts, connection_refs
from plugin.engine.context import iso
from plugin.engine.graph import Graph
from plugin.engine.validation import validate_flow
from plugin.errors import Conflict, NotFound
from plugin.messages import msg
from plugin.storage.models import Flow, FlowVersion, utcnow
from plugin.storage.secrets import mask_nodes, missing_secrets

TEXT_LIMIT = 200  # a changed value longer than this is cut in a summary
_DOC_KEYS = ("description", "settings", "tags")


def latest(session: Session, flow_id: str) -> FlowVersion | None:
    return session.scalars(
        select(FlowVersion).where(FlowVersion.flow_id == flow_id).order_by(FlowVersion.number.desc()).limit(1)
    ).first()


def record(session: Session, registry, flow: Flow, author: dict, action: str, **extra: Any) -> FlowVersion:
    """Store ``flow`` as it now is as its version ``flow.version``, with what changed since the last."""
    before = latest(session, flow.id)
    if before is not None and before.number >= flow.version:
        flow.version = before.number + 1  # a flow saved before versions existed, or a rename
    old = (before.name, before.definition) if before is not None else None
    summary = {"changes": diff(registry, old, (flow.name, flow.definition)), **extra}
    row = FlowVersion(
        flow_id=flow.id,
        number=flow.version,
        name=flow.name,
        definition=copy.deepcopy(flow.definition),
        author=author.get("author", ""),
        author_name=author.get("name", ""),
        action=action,
        summary=summary,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def rename(session: Session, registry, flow: Flow, name: str, author: dict) -> None:
    """A new name is a new version (the name is part of the document); the same name is nothing."""
    if name != flow.name:
        flow.name = name
        flow.version += 1
        record(session, registry, flow, author, "rename")


def get(session: Session, flow_id: str, number: int) -> FlowVersion:
    row = session.scalars(
        select(FlowVersion).where(FlowVersion.flow_id == flow_id, FlowVersion.number == number)
    ).first()
    if row is None:
        raise NotFound(
            msg("notfound.version", f"flow {flow_id!r} has no version {number}", flow=flow_id, number=number)
        )
    return row


def listing(session: Session, flow_id: str, limit: int, before: int | None) -> list[FlowVersion]:
    """Newest first; ``before``: only numbers below it (the next page)."""
    query = select(FlowVersion).where(FlowVersion.flow_id == flow_id)
    if before is not None:
        query = query.where(FlowVersion.number < before)
    return list(session.scalars(query.order_by(FlowVersion.number.desc()).limit(limit)))


def count(session: Session, flow_id: str) -> int:
    return session.scalar(select(func.count()).where(FlowVersion.flow_id == flow_id)) or 0


def summary_item(row: FlowVersion) -> dict[str, Any]:
    """A version in the list: no document."""
    return {
        "number": row.number,
        "name": row.name,
        "author": row.author,
        "author_name": row.author_name,
        "action": row.action,
        "created_at": iso(row.created_at),
        "changes": (row.summary or {}).get("changes", []),
        "restored_from": (row.summary or {}).get("restored_from"),
    }


def document(registry, row: FlowVersion, current: int) -> dict[str, Any]:
    """A version with its document (secrets as placeholders)."""
    doc: dict[str, Any] = {
        "format": "automation-flow/1",
        "id": row.flow_id,
        "name": row.name,
        "version": row.number,
        "nodes": mask_nodes(registry, row.definition.get("nodes") or []),
        "edges": copy.deepcopy(row.definition.get("edges") or []),
    }
    for key in _DOC_KEYS:
        if row.definition.get(key):
            doc[key] = copy.deepcopy(row.definition[key])
    return {**summary_item(row), "current": row.number == current, "document": doc}


def restore(session: Session, registry, flow: Flow, row: FlowVersion, author: dict) -> FlowVersion:
    """Make ``row``'s document the flow's again, as a new version; 409 when it is the current one
    or no longer valid here (a node type or a connection it names is gone)."""
    if row.definition == flow.definition and row.name == flow.name:
        english = f"version {row.number} is the flow's current document: nothing to restore"
        raise Conflict(msg("restore.current", english, number=row.number))
    masked = {
        "name": row.name,
        "nodes": mask_nodes(registry, row.definition["nodes"]),
        "edges": row.definition["edges"],
        **{k: row.definition[k] for k in _DOC_KEYS if k in row.definition},
    }
    problems = validate_flow(masked, registry) or (
        connection_refs.reference_problems(session, registry, row.definition["nodes"])
        + alerts.problems(session, row.definition.get("settings"))  # the failure alert's connection
    )
    if problems:
        english = f"version {row.number} cannot be restored: it is not valid now"
        raise Conflict(msg("restore.invalid", english, number=row.number), problems)
    if flow.enabled and missing_secrets(registry, row.definition["nodes"]):
        english = f"version {row.number} lacks secrets the enabled scenario needs: switch it off first"
        said = msg("restore.secret_missing", "this secret is not set in that version")
        raise Conflict(
            msg("restore.secrets", english, number=row.number),
            [{"path": p, "message": said} for p in missing_secrets(registry, row.definition["nodes"])],
        )
    flow.name = row.name
    flow.definition = copy.deepcopy(row.definition)
    graph = Graph(flow.definition, disabled=True)
    flow.event_type = graph.nodes[graph.event_id]["type"]
    flow.version += 1
    flow.updated_at = utcnow()
    return record(session, registry, flow, author, "restore", restored_from=row.number)


# -- what changed ------------------------------------------------------------------------------


def diff(registry, old: tuple[str, dict] | None, new: tuple[str, dict]) -> list[dict]:
    """What changed from ``old`` to ``new`` (each ``(name, definition)``), secrets as placeholders:
    ``name``, ``node_added`` / ``node_removed`` / ``node_changed`` (its ``fields``, each with
    ``from`` and ``to``) / ``node_moved``, ``edge_added`` / ``edge_removed``, and one change per
    top-level key of the document (``settings``, ``tags``, ``description``)."""
    if old is None:
        return [{"kind": "created"}]
    changes: list[dict] = []
    if old[0] != new[0]:
        changes.append({"kind": "name", "from": old[0], "to": new[0]})
    changes += _node_changes(registry, old[1].get("nodes") or [], new[1].get("nodes") or [])
    changes += _edge_changes(old[1].get("edges") or [], new[1].get("edges") or [])
    for key in _DOC_KEYS:
        if old[1].get(key) != new[1].get(key):
            changes.append({"kind": key, "from": _short(old[1].get(key)), "to": _short(new[1].get(key))})
    return changes


def _node_changes(registry, old_nodes: list[dict], new_nodes: list[dict]) -> list[dict]:
    old = {n["id"]: (n, m) for n, m in zip(old_nodes, mask_nodes(registry, old_nodes), strict=True)}
    new = {n["id"]: (n, m) for n, m in zip(new_nodes, mask_nodes(registry, new_nodes), strict=True)}
    out = []
    for node_id, (_node, masked) in new.items():
        if node_id not in old:
            out.append({"kind": "node_added", "node": node_id, "type": masked["type"]})
            continue
        fields = _field_changes(old[node_id], (_node, masked))
        if fields:
            out.append({"kind": "node_changed", "node": node_id, "type": masked["type"], "fields": fields})
        elif old[node_id][0].get("position") != _node.get("position"):
            out.append({"kind": "node_moved", "node": node_id, "type": masked["type"]})
    for node_id, (_node, masked) in old.items():
        if node_id not in new:
            out.append({"kind": "node_removed", "node": node_id, "type": masked["type"]})
    return out


def _field_changes(old: tuple[dict, dict], new: tuple[dict, dict]) -> list[dict]:
    """The changed params (and type, name, disabled) of one node: compared sealed, shown masked."""
    fields = []
    for key in ("type", "name", "disabled"):
        if old[0].get(key) != new[0].get(key):
            fields.append({"name": key, "from": old[1].get(key), "to": new[1].get(key)})
    old_params, new_params = old[0].get("params") or {}, new[0].get("params") or {}
    shown_old, shown_new = old[1].get("params") or {}, new[1].get("params") or {}
    for key in sorted(set(old_params) | set(new_params)):
        if old_params.get(key) != new_params.get(key):
            fields.append(
                {
                    "name": f"params.{key}",
                    "from": _short(shown_old.get(key)),
                    "to": _short(shown_new.get(key)),
                }
            )
    return fields


def _edge_changes(old_edges: list[dict], new_edges: list[dict]) -> list[dict]:
    def key(edge: dict) -> tuple:
        return edge.get("from"), edge.get("to"), edge.get("branch", "true")

    old, new = {key(e) for e in old_edges}, {key(e) for e in new_edges}
    out = [{"kind": "edge_added", "from": a, "to": b, "branch": c} for a, b, c in new if (a, b, c) not in old]
    out += [
        {"kind": "edge_removed", "from": a, "to": b, "branch": c} for a, b, c in old if (a, b, c) not in new
    ]
    return sorted(out, key=lambda c: (c["kind"], c["from"], c["to"], c["branch"]))


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > TEXT_LIMIT:
        return value[:TEXT_LIMIT] + "…"
    return copy.deepcopy(value)


def forget(session: Session, flow_id: str) -> None:
    """A deleted flow's history goes with it (its runs keep their own copy of what they ran)."""
    session.execute(delete(FlowVersion).where(FlowVersion.flow_id == flow_id))
