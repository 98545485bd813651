"""The plugin manifest (``plugin.json``) a host platform reads, generated from the registry."""

from __future__ import annotations

import json
from pathlib import Path

from plugin import __version__
from plugin.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = ROOT / "plugin.json"


def build_manifest(registry: Registry) -> dict:
    return {
        "$schema": "plugin/schemas/manifest.json",
        "id": "automation-nodes",
        "name": "Marketing automation scenarios",
        "name_ru": "Автоматизация маркетинга — сценарии",
        "version": __version__,
        "description": "Event → conditions → actions scenarios (a self-hosted rebuild of Roistat's "
        "«Автоматизация маркетинга → Сценарии») served as a node server.",
        "api": {"base": "/api/v1", "openapi": "/api/v1/openapi.json", "health": "/api/v1/health"},
        "auth": {"type": "bearer", "header": "Authorization", "scheme": "Bearer"},
        "entry_points": {"server": "server.py", "ui": "/", "manifest": "/plugin.json"},
        "flow_format": "automation-flow/1",
        "nodes": [
            {
                "type": node.type,
                "kind": node.kind,
                "version": node.version,
                "title": node.title,
                "schema": "plugin/" + node.schema_path,
                "execute": f"/api/v1/nodes/{node.type}/execute",
            }
            for node in sorted(registry, key=lambda n: (["event", "condition", "action", "flow"].index(n.kind), n.type))
        ],
    }


def write_manifest(registry: Registry, path: Path = MANIFEST_PATH) -> None:
    path.write_text(json.dumps(build_manifest(registry), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
