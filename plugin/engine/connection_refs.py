"""A flow's references to connections (SPEC §11): the connection exists, is of a type the action
takes, agrees with the action's discriminator, and the action does not give its fields again."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from plugin.engine.connections import Kind, kinds, references
from plugin.engine.flow_checks import node_title
from plugin.engine.schema_problems import field_name, pointer
from plugin.errors import ValidationFailed, problems_detail
from plugin.messages import msg
from plugin.registry import Registry
from plugin.storage.models import Connection

Problem = dict[str, Any]


def reference_problems(session: Session, registry: Registry, nodes: Any, base: str = "") -> list[Problem]:
    """What is wrong with the nodes' connection references: the connection exists, is of a type
    the action takes, agrees with the action's discriminator, and the action does not also give
    the fields the connection holds."""
    problems: list[Problem] = []
    types = kinds(registry)
    for index, ref in references(nodes if isinstance(nodes, list) else []):
        node = nodes[index]
        spec = registry.get(node.get("type", ""))
        rules = (spec.schema.get("x-connections") or {}) if spec else {}
        at = base + pointer("nodes", index, "params")
        row = session.get(Connection, ref)
        if row is None:
            problems.append(
                {
                    "path": at + "/connection",
                    "message": msg("connection.missing", f"no connection {ref!r}", id=ref),
                }
            )
            continue
        if row.type not in rules:
            takes = ", ".join(rules) or "none"
            problems.append(
                {
                    "path": at + "/connection",
                    "message": msg(
                        "connection.type",
                        f"the connection {row.name!r} is of type {row.type}; {node['type']} takes: {takes}",
                        name=row.name,
                        type=row.type,
                        node=node_title(registry, node["type"]),
                        takes=takes,
                    ),
                }
            )
            continue
        problems += _overlap_problems(spec, types[row.type], row.name, node["params"], at)
    return problems


def _idle(spec, field: str, value: Any) -> bool:
    """A value the editor fills in by itself (the schema's default, or empty): with a connection
    it is ignored, the connection's own value is sent."""
    return value in ("", {}, [], None) or value == spec.properties.get(field, {}).get("default")


def _overlap_problems(spec, kind: Kind, name: str, params: dict, at: str) -> list[Problem]:
    """A connection's field given in the action too, or a discriminator that contradicts it."""
    problems: list[Problem] = []
    for field, value in kind.when.items():
        if field in params and params[field] != value and not _idle(spec, field, params[field]):
            problems.append(
                {
                    "path": f"{at}/{field}",
                    "message": msg(
                        "connection.discriminator",
                        f"the connection {name!r} is {kind.type}: {field} must be {value!r} or left out",
                        name=name,
                        type=kind.type,
                        field=field_name(spec.properties.get(field), (field,)),
                        value=value,
                    ),
                }
            )
    for field in kind.fields:
        if field in params and not _idle(spec, field, params[field]):
            problems.append(
                {
                    "path": f"{at}/{field}",
                    "message": msg(
                        "connection.overlap",
                        f"{field!r} comes from the connection {name!r}: remove it here",
                        name=name,
                        field=field_name(spec.properties.get(field), (field,)),
                    ),
                }
            )
    return problems


def check_references(session: Session, registry: Registry, nodes: Any, what: str = "flow") -> None:
    problems = reference_problems(session, registry, nodes)
    if problems:
        raise ValidationFailed(problems_detail(what, len(problems)), problems)
