"""The plugin manifest (``plugin.json``) a host platform reads, generated from the registry.

The committed ``plugin.json`` must equal :func:`build_manifest` of the live registry (a test checks
it); regenerate it with ``python server.py manifest`` after adding or changing a node. The shape is
described by ``plugin/schemas/manifest.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plugin import __version__
from plugin.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = ROOT / "plugin.json"
SCHEMA_ID = "https://automation-nodes.dev/schemas/manifest.json"
SCHEMA_PATH = "plugin/schemas/manifest.json"

API_BASE = "/api/v1"
# What ``POST /api/v1/nodes/{type}/execute`` answers, by kind (SPEC §7).
EXECUTE_ANSWER = {"event": "matches", "condition": "result", "action": "status", "flow": "delay_seconds"}
PUBLIC_PATHS = ("/api/v1/health", "/api/v1/openapi.json", "/api/v1/plugin.json", "/plugin.json")


def _node(node, event_types: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": node.type,
        "kind": node.kind,
        "version": node.version,
        "title": node.title,
        "description": node.description,
        "schema": f"{API_BASE}/nodes/{node.type}/schema",
        "catalog": f"{API_BASE}/nodes/{node.type}",
        "execute": f"{API_BASE}/nodes/{node.type}/execute",
        "answer": getattr(node.module, "ANSWER", EXECUTE_ANSWER[node.kind]),  # flow.split: variant
        "secrets": list(node.secret_fields),
        "templates": sorted(node.template_fields),
    }
    if node.kind == "event":
        entry["event_type"] = node.module.PAYLOAD_EVENT_TYPE
    if node.kind == "condition":
        allowed = node.module.EVENTS
        entry["events"] = sorted(allowed) if allowed is not None else list(event_types)
    return entry


def build_manifest(registry: Registry) -> dict[str, Any]:
    """The manifest as a dict; deterministic for a given registry and version."""
    nodes = registry.catalog()
    event_types = [n.type for n in nodes if n.kind == "event"]
    return {
        "$schema": SCHEMA_ID,
        "manifest_version": 1,
        "id": "automation-nodes",
        "name": "Marketing automation scenarios",
        "title": {"ru": "Автоматизация маркетинга — сценарии", "en": "Marketing automation scenarios"},
        "version": __version__,
        "description": "Event → conditions → actions scenarios (a self-hosted rebuild of Roistat's "
        "«Автоматизация маркетинга → Сценарии») served as a node server: other platforms post events to "
        "it and call any node directly.",
        "homepage": "/",
        "api": {
            "base": API_BASE,
            "openapi": f"{API_BASE}/openapi.json",
            "health": f"{API_BASE}/health",
            "nodes": f"{API_BASE}/nodes",
            "variables": f"{API_BASE}/variables",
            "manifest": f"{API_BASE}/plugin.json",
            "node_schema": {"method": "GET", "path": f"{API_BASE}/nodes/{{type}}/schema"},
            "execute": {"method": "POST", "path": f"{API_BASE}/nodes/{{type}}/execute"},
            "ingest": {
                "visit": {"method": "POST", "path": f"{API_BASE}/visits"},
                "client": {"method": "PUT", "path": f"{API_BASE}/clients/{{external_id}}"},
                "order": {"method": "PUT", "path": f"{API_BASE}/orders/{{id}}"},
                "event": {"method": "POST", "path": f"{API_BASE}/events"},
                "batch": {"method": "POST", "path": f"{API_BASE}/batch"},
                "site_form": {"method": "POST", "path": f"{API_BASE}/hooks/{{key}}"},
            },
            "flows": f"{API_BASE}/flows",
            "flows_import": {"method": "POST", "path": f"{API_BASE}/flows/import"},
            "connections": f"{API_BASE}/connections",
            "suppressions": f"{API_BASE}/suppressions",
            "statuses": f"{API_BASE}/statuses",
            "unsubscribe": {"method": "POST", "path": f"{API_BASE}/unsubscribe/{{token}}"},
        },
        "auth": {
            "type": "http",
            "scheme": "bearer",
            "header": "Authorization",
            "format": "Bearer <token>",
            "public": list(PUBLIC_PATHS),
        },
        "entry_points": {
            "server": "python server.py",
            "ui": "/",
            "manifest": "/plugin.json",
            "metrics": "/metrics",
        },
        "flow_format": {"id": "automation-flow/1", "schema": "plugin/schemas/flow.json"},
        "nodes": [_node(n, event_types) for n in nodes],
    }


def render_manifest(registry: Registry) -> str:
    """The exact text of ``plugin.json``."""
    return json.dumps(build_manifest(registry), ensure_ascii=False, indent=2) + "\n"


def write_manifest(registry: Registry, path: Path = MANIFEST_PATH) -> None:
    path.write_text(render_manifest(registry), encoding="utf-8")
