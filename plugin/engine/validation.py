"""Flow and preset validation: every problem at once, each with a JSON-pointer path (SPEC §6, §7).

Pure: a document and the registry in, a list of problems out.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from plugin.engine import sendwindow, templating
from plugin.engine.graph import Graph, kind_of
from plugin.masking import mask, strings_in
from plugin.nodes.base import SECRET_PLACEHOLDER
from plugin.registry import SCHEMAS_DIR, Registry

Problem = dict[str, str]


@lru_cache(maxsize=1)
def flow_validator() -> Draft202012Validator:
    schema = json.loads((Path(SCHEMAS_DIR) / "flow.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def pointer(*parts: Any) -> str:
    out = ""
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out or "/"


def _schema_message(error: ValidationError) -> str:
    if error.validator == "required":
        return error.message
    if error.validator == "additionalProperties":
        return error.message
    if error.validator in ("enum", "const"):
        return f"{error.instance!r} is not one of the allowed values {error.validator_value!r}"
    return error.message


def _without_secrets(problems: list[Problem], secrets: list[Any]) -> list[Problem]:
    """jsonschema quotes the offending value ("'ftp://…/T1/B1/xyz' does not match …"): not a secret's,
    in any spelling (a secret with the wrong JSON type is a secret still: every string in it)."""
    values = [v for v in strings_in(secrets) if v and v != SECRET_PLACEHOLDER]
    for value in sorted(values, key=len, reverse=True):
        for problem in problems:
            problem["message"] = problem["message"].replace(repr(value), repr(SECRET_PLACEHOLDER))
    for problem in problems:
        problem["message"] = mask(problem["message"], values)
    return problems


def _is_secret(path: tuple, secret: frozenset) -> bool:
    """Whether a problem at ``path`` is about a secret: ``secret`` holds ("under", path) for a
    secret and everything in it, ("at", path) for that one place."""
    return any(path[: len(p)] == p if how == "under" else path == p for how, p in secret)


def _blind_message(error: ValidationError) -> str:
    """What is wrong with a secret's value, without the value (which jsonschema would quote)."""
    expected = error.validator_value
    messages = {
        "type": lambda: (
            f"must be of type {' or '.join(expected) if isinstance(expected, list) else expected}"
        ),
        "minLength": lambda: f"must be at least {expected} characters long",
        "maxLength": lambda: f"must be at most {expected} characters long",
        "pattern": lambda: f"does not match the pattern {expected!r}",
        "format": lambda: f"is not a valid {expected}",
        "enum": lambda: "is not one of the allowed values",
        "const": lambda: "is not the allowed value",
    }
    said = messages.get(error.validator, lambda: f"is not valid ({error.validator})")()
    return f"{said} (a secret: the value is not repeated here)"


def _schema_problems(
    validator: Draft202012Validator, instance: Any, base: tuple, secret: frozenset = frozenset()
) -> list[Problem]:
    """Every schema problem; one at or under a path in ``secret`` never quotes the value."""
    problems = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        problems.extend(_flatten(error, base, secret))
    return problems


def _flatten(error: ValidationError, base: tuple, secret: frozenset = frozenset()) -> list[Problem]:
    # For anyOf/oneOf the most useful message is the best sub-error, not "is not valid under any"
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = max(error.context, key=lambda e: len(e.absolute_path))
        return _flatten(best, base, secret)
    path = base + tuple(error.absolute_path)
    if _is_secret(tuple(error.absolute_path), secret):
        return [{"path": pointer(*path), "message": _blind_message(error)}]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # Point at each unexpected key itself, not at the object that holds it
        extras = _unexpected_keys(error.instance, error.schema)
        if extras:
            allowed = ", ".join(sorted(error.schema.get("properties", {}))) or "none"
            return [
                {"path": pointer(*path, key), "message": f"unknown field {key!r} (allowed: {allowed})"}
                for key in extras
            ]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path = path + ((missing,) if missing else ())
    return [{"path": pointer(*path), "message": _schema_message(error)}]


def _unexpected_keys(instance: dict, schema: dict) -> list[str]:
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)]


def validate_flow(doc: Any, registry: Registry, *, enabling: bool = False) -> list[Problem]:
    """All problems of a flow document; empty when it can be saved."""
    if not isinstance(doc, dict):
        return [{"path": "/", "message": "a flow document must be a JSON object"}]
    problems = _schema_problems(flow_validator(), doc, ())
    window = (doc.get("settings") or {}).get("send_window") if isinstance(doc.get("settings"), dict) else None
    if window and not any(p["path"].startswith("/settings") for p in problems):
        problems += sendwindow.problems(window)
    # Every problem at once: a bad name or one malformed node must not hide the others' problems
    broken = {_under(p["path"]) for p in problems} - {None}
    nodes, edges = doc.get("nodes"), doc.get("edges")
    if "nodes" not in broken:
        skip = {part[1] for part in broken if isinstance(part, tuple)}
        problems += _node_problems(nodes, registry, skip=skip)
    if broken:
        return problems
    problems += _graph_problems(nodes, edges, registry)
    if enabling:
        for index, node in enumerate(nodes):
            spec = registry.get(node["type"])
            for path in spec.secret_paths(node["params"]) if spec else ():
                if _at(node["params"], path) == SECRET_PLACEHOLDER:
                    problems.append(
                        {
                            "path": pointer("nodes", index, "params", *path),
                            "message": "this secret was not imported: fill it in before enabling the flow",
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
                {"path": pointer("nodes", index, "id"), "message": f"duplicate node id {node['id']!r}"}
            )
        seen.setdefault(node["id"], index)
        spec = registry.get(node["type"])
        if spec is None:
            problems.append(
                {"path": pointer("nodes", index, "type"), "message": f"unknown node type {node['type']!r}"}
            )
            continue
        if node.get("version", spec.version) > spec.version:
            problems.append(
                {
                    "path": pointer("nodes", index, "version"),
                    "message": f"{spec.type} version {node['version']} is newer than this server's "
                    f"{spec.version}",
                }
            )
        params = node["params"]
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
        problems += _without_secrets(
            [
                p
                for p in _schema_problems(spec.validator(), params, ("nodes", index, "params"), blind)
                if p["path"] not in held
            ],
            [_at(params, p) for p in paths],
        )
        for name in spec.template_fields:
            value = params.get(name)
            if isinstance(value, str):
                for message in templating.check(value):
                    problems.append({"path": pointer("nodes", index, "params", name), "message": message})
    return problems


def _graph_problems(nodes: list[dict], edges: list[dict], registry: Registry) -> list[Problem]:
    index_of = {n["id"]: i for i, n in enumerate(nodes)}
    kinds = {n["id"]: kind_of(n) for n in nodes}
    events = [n for n in nodes if kinds[n["id"]] == "event"]
    problems = _shape_problems(events, kinds, index_of)
    edge_problems, linked = _edge_problems(edges, index_of, kinds)
    problems += edge_problems
    graph = Graph({"nodes": nodes, "edges": linked}, disabled=True)
    cycle = graph.cycle()
    if cycle:
        problems.append({"path": "/edges", "message": "the flow has a cycle: " + " → ".join(cycle)})
    if len(events) == 1:
        reachable = graph.reachable(events[0]["id"])
        for node in nodes:
            if node["id"] not in reachable:
                problems.append(
                    {
                        "path": pointer("nodes", index_of[node["id"]]),
                        "message": f"node {node['id']!r} is not reachable from the event",
                    }
                )
        problems += _condition_event_problems(nodes, events[0]["type"], registry)
    return problems


def _shape_problems(events: list[dict], kinds: dict[str, str], index_of: dict[str, int]) -> list[Problem]:
    """Exactly one event node, at least one action."""
    problems: list[Problem] = []
    if not events:
        problems.append({"path": "/nodes", "message": "a flow needs exactly one event node; it has none"})
    for node in events[1:]:
        problems.append(
            {
                "path": pointer("nodes", index_of[node["id"]], "type"),
                "message": "a flow needs exactly one event node; this is a second one",
            }
        )
    if not any(k == "action" for k in kinds.values()):
        problems.append({"path": "/nodes", "message": "a flow needs at least one action"})
    return problems


def _edge_problems(
    edges: list[dict], index_of: dict[str, int], kinds: dict[str, str]
) -> tuple[list[Problem], list[dict]]:
    """The problems of every edge, and the edges that link two nodes (the graph's, for its walks)."""
    problems: list[Problem] = []
    linked: list[dict] = []
    seen: set[tuple] = set()
    for i, edge in enumerate(edges):
        found, links = _one_edge_problems(i, edge, index_of, kinds, seen)
        problems += found
        if links:
            linked.append(edge)
    return problems, linked


def _one_edge_problems(
    i: int, edge: dict, index_of: dict[str, int], kinds: dict[str, str], seen: set[tuple]
) -> tuple[list[Problem], bool]:
    """The problems of edge ``i``, and whether it links two nodes (``seen``: the edges so far)."""
    missing = [end for end in ("from", "to") if edge[end] not in index_of]
    if missing:
        return [
            {"path": pointer("edges", i, end), "message": f"no node with id {edge[end]!r}"} for end in missing
        ], False
    src, dst = edge["from"], edge["to"]
    if src == dst:
        return [{"path": pointer("edges", i), "message": "an edge cannot connect a node to itself"}], False
    problems: list[Problem] = []
    if kinds[dst] == "event":
        problems.append(
            {"path": pointer("edges", i, "to"), "message": "the event node cannot have incoming edges"}
        )
    if "branch" in edge and kinds[src] != "condition":
        problems.append(
            {"path": pointer("edges", i, "branch"), "message": "only a condition's edges take a branch"}
        )
    key = (src, dst, edge.get("branch", "true"))
    if key in seen:
        problems.append({"path": pointer("edges", i), "message": "duplicate edge"})
    seen.add(key)
    return problems, True


def _condition_event_problems(nodes: list[dict], event_type: str, registry: Registry) -> list[Problem]:
    """Conditions whose data the event cannot have (SPEC §3.2), e.g. event_data without event.custom."""
    problems: list[Problem] = []
    for index, node in enumerate(nodes):
        spec = registry.get(node["type"])
        if spec is None or spec.kind != "condition":
            continue
        allowed = spec.module.EVENTS
        if allowed is not None and event_type not in allowed:
            event_spec = registry.get(event_type)
            label = event_spec.title["ru"] if event_spec else event_type
            problems.append(
                {
                    "path": pointer("nodes", index, "type"),
                    "message": f"{spec.type} cannot be used with the event {event_type} («{label}»): "
                    f"it needs one of {', '.join(sorted(allowed))}",
                }
            )
    return problems


def validate_preset(doc: Any, registry: Registry) -> list[Problem]:
    """A preset: ``trigger`` (one event + conditions) or ``action`` (one action)."""
    if not isinstance(doc, dict):
        return [{"path": "/", "message": "a preset must be a JSON object"}]
    problems: list[Problem] = []
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.append({"path": "/name", "message": "a preset needs a name of 1–200 characters"})
    kind = doc.get("kind")
    if kind not in ("trigger", "action"):
        problems.append({"path": "/kind", "message": f"kind must be 'trigger' or 'action', got {kind!r}"})
        return problems
    fake = {"name": "preset", "nodes": doc.get("nodes"), "edges": doc.get("edges", [])}
    schema_problems = _schema_problems(flow_validator(), fake, ())
    if schema_problems:
        return problems + schema_problems
    nodes = fake["nodes"]
    problems += _node_problems(nodes, registry)
    if kind == "action":
        if len(nodes) != 1 or kind_of(nodes[0]) != "action":
            problems.append({"path": "/nodes", "message": "an action preset holds exactly one action node"})
        return problems
    problems += _trigger_preset_problems(nodes, registry)
    if not problems:
        problems += _preset_edge_problems(nodes, fake["edges"])
    return problems


def _trigger_preset_problems(nodes: list[dict], registry: Registry) -> list[Problem]:
    """A trigger preset holds one event node and conditions (that event can have)."""
    problems: list[Problem] = []
    kinds = [kind_of(n) for n in nodes]
    if kinds.count("event") != 1:
        problems.append({"path": "/nodes", "message": "a trigger preset holds exactly one event node"})
    else:
        event_type = nodes[kinds.index("event")]["type"]
        problems += _condition_event_problems(nodes, event_type, registry)
    for i, k in enumerate(kinds):
        if k not in ("event", "condition"):
            problems.append(
                {
                    "path": pointer("nodes", i, "type"),
                    "message": "a trigger preset holds only an event and conditions",
                }
            )
    return problems


def _preset_edge_problems(nodes: list[dict], edges: list[dict]) -> list[Problem]:
    ids = {n["id"] for n in nodes}
    return [
        {"path": pointer("edges", i, end), "message": f"no node with id {edge[end]!r}"}
        for i, edge in enumerate(edges)
        for end in ("from", "to")
        if edge[end] not in ids
    ]


def _at(params: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        params = params.get(part) if isinstance(params, dict) else None
    return params
