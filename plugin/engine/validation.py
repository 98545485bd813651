"""Flow and preset validation: every problem at once, each with a JSON-pointer path (SPEC §6, §7).

Pure: a document and the registry in, a list of problems out. Each message is a
:class:`plugin.messages.Message`: English text plus a code, said in Russian by the API.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from plugin.engine import journey_checks, node_checks, sendwindow, templating
from plugin.engine.flow_checks import condition_event_problems, graph_problems, kinds_of, no_node, node_title
from plugin.engine.schema_problems import field_name, pointer, schema_problems, without_secrets
from plugin.messages import msg
from plugin.nodes.base import SECRET_PLACEHOLDER
from plugin.registry import SCHEMAS_DIR, Registry

Problem = dict[str, str]


@lru_cache(maxsize=1)
def flow_validator() -> Draft202012Validator:
    schema = json.loads((Path(SCHEMAS_DIR) / "flow.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def validate_flow(doc: Any, registry: Registry, *, enabling: bool = False) -> list[Problem]:
    """All problems of a flow document; empty when it can be saved."""
    if not isinstance(doc, dict):
        return [{"path": "/", "message": msg("flow.not_object", "a flow document must be a JSON object")}]
    problems = schema_problems(flow_validator(), doc, ())
    window = (doc.get("settings") or {}).get("send_window") if isinstance(doc.get("settings"), dict) else None
    settings_ok = isinstance(doc.get("settings"), dict) and not any(
        p["path"].startswith("/settings") for p in problems
    )
    if window and settings_ok:
        problems += sendwindow.problems(window)
    if settings_ok:
        problems += journey_checks.settings_problems(doc["settings"], registry)
    # Every problem at once: a bad name or one malformed node must not hide the others' problems
    broken = {_under(p["path"]) for p in problems} - {None}
    nodes, edges = doc.get("nodes"), doc.get("edges")
    if "nodes" not in broken:
        skip = {part[1] for part in broken if isinstance(part, tuple)}
        problems += _node_problems(nodes, registry, skip=skip)
        problems += journey_checks.wait_problems(nodes, registry, skip=skip)
    if broken:
        return problems
    problems += graph_problems(nodes, edges, registry)
    if enabling:
        problems += _unimported_secrets(nodes, registry)
    return problems


def _unimported_secrets(nodes: list[dict], registry: Registry) -> list[Problem]:
    problems: list[Problem] = []
    for index, node in enumerate(nodes):
        spec = registry.get(node["type"])
        for path in spec.secret_paths(node["params"]) if spec else ():
            if _at(node["params"], path) == SECRET_PLACEHOLDER:
                field = field_name(spec.properties.get(path[0]), path)
                problems.append(
                    {
                        "path": pointer("nodes", index, "params", *path),
                        "message": msg(
                            "secret.not_imported",
                            "this secret was not imported: fill it in before enabling the flow",
                            field=field,
                            node=node_title(registry, node["type"]),
                        ),
                    }
                )
    return problems


def _under(path: str) -> Any:
    """Which part of a flow a schema problem breaks: "nodes", "edges", ("nodes", i), or None."""
    parts = path.split("/")
    if len(parts) < 2 or parts[1] not in ("nodes", "edges"):
        return None
    if len(parts) == 2 or parts[1] == "edges" or not parts[2].isdigit():
        return parts[1]
    return ("nodes", int(parts[2]))


def _node_problems(nodes: list[dict], registry: Registry, *, skip: set[int] = frozenset()) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(nodes):
        if index in skip:
            continue
        if node["id"] in seen:
            problems.append(
                {
                    "path": pointer("nodes", index, "id"),
                    "message": msg("node.duplicate_id", f"duplicate node id {node['id']!r}", id=node["id"]),
                }
            )
        seen.setdefault(node["id"], index)
        spec = registry.get(node["type"])
        if spec is None:
            problems.append(
                {
                    "path": pointer("nodes", index, "type"),
                    "message": msg(
                        "node.unknown_type", f"unknown node type {node['type']!r}", type=node["type"]
                    ),
                }
            )
            continue
        if node.get("version", spec.version) > spec.version:
            problems.append(
                {
                    "path": pointer("nodes", index, "version"),
                    "message": msg(
                        "node.version",
                        f"{spec.type} version {node['version']} is newer than this server's {spec.version}",
                        node=node_title(registry, spec.type),
                        version=node["version"],
                        known=spec.version,
                    ),
                }
            )
        found = _param_problems(spec, node["params"], index)
        if not found:  # what the schema cannot say, once the params have the schema's shape
            found = node_checks.param_problems(spec, node["params"], ("nodes", index, "params"), registry)
        problems += found
    return problems


def _param_problems(spec, params: dict, index: int) -> list[Problem]:
    """A node's params against its schema (never quoting a secret) and its templates."""
    paths = spec.secret_paths(params)
    # A secret given as the placeholder stands for the stored (or not yet filled) value: it is
    # not checked against the secret's own schema (an exported Slack URL is "********")
    held = {pointer("nodes", index, "params", *p) for p in paths if _at(params, p) == SECRET_PLACEHOLDER}
    # a secret's own problems never quote it; an object of secrets (webhook headers) is one when
    # it is not an object at all
    blind = frozenset(
        {("under", p) for p in paths}
        | {("at", (n,)) for n, prop in spec.properties.items() if "x-secret-keys" in prop}
    )
    problems = without_secrets(
        [
            p
            for p in schema_problems(spec.validator(), params, ("nodes", index, "params"), blind)
            if p["path"] not in held
        ],
        [_at(params, p) for p in paths],
    )
    for name in spec.template_fields:
        value = params.get(name)
        if isinstance(value, str):
            field = field_name(spec.properties.get(name), (name,))
            for message in templating.check(value, field=field):
                problems.append({"path": pointer("nodes", index, "params", name), "message": message})
    return problems


def validate_preset(doc: Any, registry: Registry) -> list[Problem]:
    """A preset: ``trigger`` (one event + conditions) or ``action`` (one action)."""
    if not isinstance(doc, dict):
        return [{"path": "/", "message": msg("preset.not_object", "a preset must be a JSON object")}]
    problems: list[Problem] = []
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.append(
            {"path": "/name", "message": msg("preset.name", "a preset needs a name of 1–200 characters")}
        )
    kind = doc.get("kind")
    if kind not in ("trigger", "action"):
        problems.append(
            {
                "path": "/kind",
                "message": msg(
                    "preset.kind", f"kind must be 'trigger' or 'action', got {kind!r}", value=kind
                ),
            }
        )
        return problems
    fake = {"name": "preset", "nodes": doc.get("nodes"), "edges": doc.get("edges", [])}
    found = schema_problems(flow_validator(), fake, ())
    if found:
        return problems + found
    nodes = fake["nodes"]
    problems += _node_problems(nodes, registry)
    if kind == "action":
        if len(nodes) != 1 or kinds_of(nodes)[0] != "action":
            problems.append(
                {
                    "path": "/nodes",
                    "message": msg("preset.one_action", "an action preset holds exactly one action node"),
                }
            )
        return problems
    problems += _trigger_preset_problems(nodes, registry)
    if not problems:
        ids = {n["id"] for n in nodes}
        problems += [
            no_node(i, end, edge[end])
            for i, edge in enumerate(fake["edges"])
            for end in ("from", "to")
            if edge[end] not in ids
        ]
    return problems


def _trigger_preset_problems(nodes: list[dict], registry: Registry) -> list[Problem]:
    """A trigger preset holds one event node and conditions (that event can have)."""
    problems: list[Problem] = []
    kinds = kinds_of(nodes)
    if kinds.count("event") != 1:
        problems.append(
            {
                "path": "/nodes",
                "message": msg("preset.one_event", "a trigger preset holds exactly one event node"),
            }
        )
    else:
        event_type = nodes[kinds.index("event")]["type"]
        problems += condition_event_problems(nodes, event_type, registry)
    for i, k in enumerate(kinds):
        if k not in ("event", "condition"):
            problems.append(
                {
                    "path": pointer("nodes", i, "type"),
                    "message": msg(
                        "preset.trigger_only", "a trigger preset holds only an event and conditions"
                    ),
                }
            )
    return problems


def _at(params: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        params = params.get(part) if isinstance(params, dict) else None
    return params
