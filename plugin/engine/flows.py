"""Flows and presets: validation, secret sealing, (de)serialisation of the SPEC §6 document."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.orm import Session

from plugin.engine import alerts, connection_refs, connections
from plugin.engine.context import iso
from plugin.engine.graph import Graph
from plugin.engine.validation import validate_flow, validate_preset
from plugin.errors import ValidationFailed, problems_detail
from plugin.messages import msg
from plugin.storage.models import Flow, Preset, new_id, utcnow
from plugin.storage.secrets import mask_nodes, missing_secrets, seal_nodes

FORMAT = "automation-flow/1"


def _clean_nodes(registry, nodes: list[dict]) -> list[dict]:
    """Fill each node's version and defaults so stored flows are explicit."""
    out = []
    for node in copy.deepcopy(nodes):
        spec = registry.get(node["type"])
        node.setdefault("version", spec.version if spec else 1)
        out.append(node)
    return out


def previous_nodes(session: Session, nodes: list[dict], stored: list[dict] | None) -> list[dict]:
    """What a placeholder secret of ``nodes`` keeps: the stored flow's node of the same id and
    type, else the node it was made from: a template's node (its ``preset``: ``{"id", "node"}``)
    or a stored scenario's node it was copied from (its ``copy_of``: ``{"flow", "node"}``), whose
    sealed secrets the new node carries (never shown)."""
    before = {n.get("id"): n for n in stored or []}
    out = list(stored or [])
    for node in nodes:
        kept = before.get(node.get("id"))
        if kept is not None and kept.get("type") == node.get("type"):
            continue
        source = _source_node(session, node)
        if source is not None and source.get("type") == node.get("type"):
            out.append({"id": node["id"], "type": node["type"], "params": source.get("params") or {}})
    return out


def _source_node(session: Session, node: dict) -> dict | None:
    """The stored node a new node was made from (``preset`` or ``copy_of``), or None."""
    for key, model, id_key in (("preset", Preset, "id"), ("copy_of", Flow, "flow")):
        ref = node.get(key)
        if not isinstance(ref, dict):
            continue
        row = session.get(model, ref.get(id_key)) if isinstance(ref.get(id_key), str) else None
        found = next(
            (n for n in (row.definition["nodes"] if row else []) if n.get("id") == ref.get("node")), None
        )
        if found is not None:
            return found
    return None


def _strip_sources(nodes: list[dict]) -> list[dict]:
    """The nodes as stored: a node's ``preset`` / ``copy_of`` source is spent once its secrets are sealed."""
    return [{k: v for k, v in node.items() if k not in ("preset", "copy_of")} for node in nodes]


def _event_type(nodes: list[dict], edges: list[dict]) -> str:
    """The type of a valid flow's one event node."""
    graph = Graph({"nodes": nodes, "edges": edges}, disabled=True)
    return graph.nodes[graph.event_id]["type"]


def flow_document(registry, flow: Flow, *, with_stats: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "id": flow.id,
        "name": flow.name,
        "enabled": flow.enabled,
        "version": flow.version,
        "nodes": mask_nodes(registry, flow.definition["nodes"]),
        "edges": copy.deepcopy(flow.definition["edges"]),
    }
    if flow.definition.get("description"):
        doc["description"] = flow.definition["description"]
    if flow.definition.get("settings"):
        doc["settings"] = copy.deepcopy(flow.definition["settings"])
    if flow.definition.get("tags"):
        doc["tags"] = list(flow.definition["tags"])
    if with_stats:
        doc["event_type"] = flow.event_type
        doc["stats"] = flow_stats(flow)
        doc["created_at"] = iso(flow.created_at)
        doc["updated_at"] = iso(flow.updated_at)
        doc["needs_secrets"] = missing_secrets(registry, flow.definition["nodes"])
    return doc


def export_document(registry, flow: Flow, session: Session | None = None) -> dict[str, Any]:
    """The portable document; with a ``session``, the connections its nodes name (id, name and
    type: no params, no secrets), so an import can map them."""
    doc = flow_document(registry, flow, with_stats=False)
    if session is not None:
        doc["connections"] = connections.export_list(
            session, flow.definition["nodes"], flow.definition.get("settings")
        )
    return doc


def flow_stats(flow: Flow) -> dict[str, Any]:
    return {
        "triggered": flow.triggered_count,
        "failed": flow.failed_count,
        "suppressed": flow.suppressed_count or 0,
        "last_triggered_at": iso(flow.last_triggered_at),
    }


def flow_summary(flow: Flow) -> dict[str, Any]:
    return {
        "id": flow.id,
        "name": flow.name,
        "enabled": flow.enabled,
        "version": flow.version,
        "event_type": flow.event_type,
        "created_at": iso(flow.created_at),
        "updated_at": iso(flow.updated_at),
        "tags": list(flow.definition.get("tags") or []),
        "stats": flow_stats(flow),
    }


def _check(registry, doc: Any, *, enabling: bool, base: str = "") -> None:
    problems = validate_flow(doc, registry, enabling=enabling)
    if problems:
        if base:
            problems = [{**p, "path": base + (p["path"] if p["path"] != "/" else "")} for p in problems]
        raise ValidationFailed(problems_detail("flow", len(problems)), problems)


def save_flow(
    session: Session, registry, box, doc: Any, flow: Flow | None = None, *, imported=False, base: str = ""
) -> Flow:
    """Create (``flow`` None) or replace a flow from a SPEC §6 document; raises ValidationFailed."""
    _check(registry, doc, enabling=False, base=base)
    _check_connections(session, registry, doc["nodes"], base, doc.get("settings"))
    nodes = _clean_nodes(registry, doc["nodes"])
    previous = previous_nodes(session, nodes, flow.definition["nodes"] if flow is not None else None)
    sealed = _strip_sources(seal_nodes(registry, box, nodes, previous))
    wants_enabled = bool(doc.get("enabled", False))
    missing = set(missing_secrets(registry, sealed)) if wants_enabled else set()
    if missing:
        if imported:
            wants_enabled = False  # SPEC §8: imported flows with placeholder secrets stay disabled
        else:
            _refuse_missing(registry, doc, sealed, missing, base)
    definition = {"nodes": sealed, "edges": copy.deepcopy(doc["edges"])}
    if isinstance(doc.get("description"), str):
        definition["description"] = doc["description"]
    if doc.get("settings"):
        definition["settings"] = copy.deepcopy(doc["settings"])
    if doc.get("tags"):
        definition["tags"] = list(dict.fromkeys(tag.strip() for tag in doc["tags"]))
    now = utcnow()
    if flow is None:
        keep_id = imported and doc.get("id") and session.get(Flow, doc["id"]) is None
        flow_id = doc.get("id") if keep_id else new_id()
        flow = Flow(
            id=flow_id, created_at=now, version=0, triggered_count=0, failed_count=0, suppressed_count=0
        )
        session.add(flow)
    flow.name = doc["name"]
    flow.definition = definition
    flow.event_type = _event_type(nodes, doc["edges"])
    flow.version = (flow.version or 0) + 1
    flow.updated_at = now
    set_enabled(flow, wants_enabled)
    return flow


def _refuse_missing(registry, doc: dict, sealed: list[dict], missing: set[str], base: str) -> None:
    """The enabling problems of just the secrets that have no value (the masked document shows every
    stored secret as the placeholder too: those are set, not missing)."""
    masked = {**doc, "nodes": mask_nodes(registry, sealed)}
    found = validate_flow(masked, registry, enabling=True)
    problems = [p for p in found if p["path"] in missing] or found
    if base:
        problems = [{**p, "path": base + p["path"]} for p in problems]
    raise ValidationFailed(problems_detail("flow", len(problems)), problems)


def _check_connections(session: Session, registry, nodes: list[dict], base: str = "", settings=None) -> None:
    problems = connection_refs.reference_problems(session, registry, nodes, base)
    problems += alerts.problems(session, settings, base)  # the failure alert's connection
    if problems:
        raise ValidationFailed(problems_detail("flow", len(problems)), problems)


def set_enabled(flow: Flow, enabled: bool) -> None:
    if enabled and not flow.enabled:
        flow.enabled_at = utcnow()
        flow.sweep_watermark = None
    flow.enabled = enabled


def enable_problems(registry, flow: Flow) -> list[dict]:
    return [
        {
            "path": path,
            "message": msg("secret.not_set", "this secret is not set: fill it in before enabling the flow"),
        }
        for path in missing_secrets(registry, flow.definition["nodes"])
    ]


def preset_document(registry, preset: Preset) -> dict[str, Any]:
    return {
        "id": preset.id,
        "name": preset.name,
        "kind": preset.kind,
        "nodes": mask_nodes(registry, preset.definition["nodes"]),
        "edges": copy.deepcopy(preset.definition.get("edges", [])),
        "created_at": iso(preset.created_at),
        "updated_at": iso(preset.updated_at),
    }


def save_preset(session: Session, registry, box, doc: Any, preset: Preset | None = None) -> Preset:
    problems = validate_preset(doc, registry)
    if problems:
        raise ValidationFailed(problems_detail("preset", len(problems)), problems)
    _check_connections(session, registry, doc["nodes"])
    nodes = _clean_nodes(registry, doc["nodes"])
    previous = previous_nodes(session, nodes, preset.definition["nodes"] if preset is not None else None)
    now = utcnow()
    if preset is None:
        preset = Preset(id=new_id(), created_at=now)
        session.add(preset)
    preset.name = doc["name"].strip()
    preset.kind = doc["kind"]
    preset.definition = {
        "nodes": _strip_sources(seal_nodes(registry, box, nodes, previous)),
        "edges": copy.deepcopy(doc.get("edges", [])),
    }
    preset.updated_at = now
    return preset
