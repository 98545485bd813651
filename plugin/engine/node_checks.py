"""The checks of params that a node's JSON Schema cannot say: the conditions inside a group (each
against its own type's schema, groups at most ``MAX_DEPTH`` deep) and a split's unique variant
keys. Pure, like validation: params and the registry in, problems with their JSON paths out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from plugin.engine.schema_problems import pointer, schema_problems
from plugin.messages import Tr, msg
from plugin.registry import NodeType, Registry

Problem = dict[str, str]


def _inner(params: Any) -> list[tuple[int, dict]]:
    """A group's items that are ``{"type": str, "params": dict}`` (others are schema problems)."""
    items = params.get("conditions") if isinstance(params, dict) else None
    if not isinstance(items, list):
        return []
    return [
        (i, item)
        for i, item in enumerate(items)
        if isinstance(item, dict)
        and isinstance(item.get("type"), str)
        and isinstance(item.get("params"), dict)
    ]


def is_group(spec: NodeType | None) -> bool:
    return spec is not None and spec.kind == "condition" and hasattr(spec.module, "explain")


def param_problems(spec: NodeType, params: Any, base: tuple, registry: Registry) -> list[Problem]:
    """What the schema of ``spec`` leaves unchecked in ``params`` (at ``base``, e.g.
    ``("nodes", 2, "params")``)."""
    if is_group(spec):
        return _group_problems(spec, params, base, registry, 1)
    if hasattr(spec.module, "branches"):
        return _variant_problems(params, base)
    return []


def _group_problems(
    spec: NodeType, params: Any, base: tuple, registry: Registry, depth: int
) -> list[Problem]:
    problems: list[Problem] = []
    for i, item in _inner(params):
        at = (*base, "conditions", i)
        inner = registry.get(item["type"])
        if inner is None or inner.kind != "condition":
            problems.append(
                {
                    "path": pointer(*at, "type"),
                    "message": msg(
                        "group.unknown_condition",
                        f"unknown condition type {item['type']!r}",
                        type=item["type"],
                    ),
                }
            )
            continue
        if is_group(inner) and depth >= spec.module.MAX_DEPTH:
            problems.append(
                {
                    "path": pointer(*at, "type"),
                    "message": msg(
                        "group.depth",
                        f"groups nest at most {spec.module.MAX_DEPTH} levels deep; this would be level {depth + 1}",
                        limit=spec.module.MAX_DEPTH,
                        level=depth + 1,
                    ),
                }
            )
            continue
        found = schema_problems(inner.validator(), item["params"], (*at, "params"))
        problems += found
        if is_group(inner) and not found:
            problems += _group_problems(inner, item["params"], (*at, "params"), registry, depth + 1)
    return problems


def _variant_problems(params: Any, base: tuple) -> list[Problem]:
    """Each variant key once."""
    variants = params.get("variants") if isinstance(params, dict) else None
    seen: set[str] = set()
    problems: list[Problem] = []
    for i, variant in enumerate(variants if isinstance(variants, list) else []):
        key = variant.get("key") if isinstance(variant, dict) else None
        if not isinstance(key, str):
            continue
        if key in seen:
            problems.append(
                {
                    "path": pointer(*base, "variants", i, "key"),
                    "message": msg("split.duplicate_key", f"variant {key!r} is named twice", key=key),
                }
            )
        seen.add(key)
    return problems


def conditions_in(node: dict, registry: Registry) -> Iterator[tuple[tuple, str]]:
    """Every condition of a node, its own type and those inside groups (however deep), each with
    the path of its ``type`` under the node: ``(("type",), t)``, ``(("params", "conditions", 0,
    "type"), t)``, ..."""
    yield ("type",), node.get("type")

    def walk(params: Any, at: tuple) -> Iterator[tuple[tuple, str]]:
        for i, item in _inner(params):
            path = (*at, "params", "conditions", i)
            yield (*path, "type"), item["type"]
            if is_group(registry.get(item["type"])):
                yield from walk(item["params"], path)

    if is_group(registry.get(node.get("type"))):
        yield from walk(node.get("params"), ())


def edge_branch_problems(i: int, edge: dict, branches: tuple[str, ...] | None, splits: bool) -> list[Problem]:
    """The branch of edge ``i`` against the branches its source node allows (``branches``; None:
    none), ``splits``: whether the source is a split (its edges must name a variant)."""
    at = pointer("edges", i, "branch")
    branch = edge.get("branch")
    if branches is None:
        if branch is None:
            return []
        return [
            {"path": at, "message": msg("edge.branch", "only a condition's or a split's edges take a branch")}
        ]
    names = list(dict.fromkeys(branches))
    listed = Tr(ru=", ".join(f"«{b}»" for b in names), en=", ".join(names))
    if branch is None and splits:
        return [
            {
                "path": at,
                "message": msg(
                    "edge.variant_missing",
                    f"an edge from a split names its variant: one of {', '.join(names)}",
                    variants=listed,
                ),
            }
        ]
    if branch is not None and branch not in branches:
        code = "edge.variant_unknown" if splits else "edge.condition_branch"
        return [
            {
                "path": at,
                "message": msg(
                    code,
                    f"branch {branch!r} is not one of {', '.join(names)}",
                    branch=branch,
                    variants=listed,
                ),
            }
        ]
    return []
