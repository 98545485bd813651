"""The graph rules of a flow (SPEC §6): one event, at least one action, edges between known nodes,
no cycle, every node reachable, conditions the event can have (SPEC §3.2). Pure, like validation."""

from __future__ import annotations

from plugin.engine.graph import Graph, kind_of
from plugin.engine.node_checks import conditions_in, edge_branch_problems
from plugin.engine.schema_problems import pointer
from plugin.messages import Tr, msg
from plugin.registry import Registry

Problem = dict[str, str]


def node_title(registry: Registry, node_type: str) -> Tr:
    """A node type's human name («Данные события»), or the type id when unknown."""
    spec = registry.get(node_type)
    if spec is None:
        return Tr(ru=node_type, en=node_type)
    return Tr(ru=spec.title.get("ru") or node_type, en=spec.title.get("en") or node_type)


def graph_problems(nodes: list[dict], edges: list[dict], registry: Registry) -> list[Problem]:
    index_of = {n["id"]: i for i, n in enumerate(nodes)}
    kinds = {n["id"]: kind_of(n) for n in nodes}
    events = [n for n in nodes if kinds[n["id"]] == "event"]
    problems = _shape_problems(events, kinds, index_of)
    branches = {n["id"]: _branches(registry, n) for n in nodes}
    edge_problems, linked = _edge_problems(edges, index_of, kinds, branches)
    problems += edge_problems
    graph = Graph({"nodes": nodes, "edges": linked}, disabled=True)
    cycle = graph.cycle()
    if cycle:
        problems.append(
            {
                "path": "/edges",
                "message": msg("graph.cycle", "the flow has a cycle: " + " → ".join(cycle), ids=tuple(cycle)),
            }
        )
    if len(events) == 1:
        reachable = graph.reachable(events[0]["id"])
        for node in nodes:
            if node["id"] not in reachable:
                problems.append(
                    {
                        "path": pointer("nodes", index_of[node["id"]]),
                        "message": msg(
                            "graph.unreachable",
                            f"node {node['id']!r} is not reachable from the event",
                            node=node_title(registry, node["type"]),
                            id=node["id"],
                        ),
                    }
                )
        problems += condition_event_problems(nodes, events[0]["type"], registry)
    return problems


def _shape_problems(events: list[dict], kinds: dict[str, str], index_of: dict[str, int]) -> list[Problem]:
    """Exactly one event node, at least one action."""
    problems: list[Problem] = []
    if not events:
        problems.append(
            {
                "path": "/nodes",
                "message": msg("graph.no_event", "a flow needs exactly one event node; it has none"),
            }
        )
    for node in events[1:]:
        problems.append(
            {
                "path": pointer("nodes", index_of[node["id"]], "type"),
                "message": msg(
                    "graph.second_event", "a flow needs exactly one event node; this is a second one"
                ),
            }
        )
    if not any(k == "action" for k in kinds.values()):
        problems.append(
            {"path": "/nodes", "message": msg("graph.no_action", "a flow needs at least one action")}
        )
    return problems


def _branches(registry: Registry, node: dict) -> tuple[tuple[str, ...] | None, bool]:
    """The branches a node's outgoing edges may name (None: none), and whether they must name
    one (a split's variant; a condition's default to ``true``)."""
    spec = registry.get(node["type"])
    if spec is None:  # an unknown type is its own problem: its edges are not judged
        return None, False
    # a wait node's edges, like a condition's, default to ``true`` (came); a split's must name one
    must = hasattr(spec.module, "branches") and getattr(spec.module, "DEFAULT_BRANCH", None) is None
    return spec.branches(node.get("params")), must


def _edge_problems(
    edges: list[dict], index_of: dict[str, int], kinds: dict[str, str], branches: dict
) -> tuple[list[Problem], list[dict]]:
    """The problems of every edge, and the edges that link two nodes (the graph's, for its walks)."""
    problems: list[Problem] = []
    linked: list[dict] = []
    seen: set[tuple] = set()
    for i, edge in enumerate(edges):
        found, links = _one_edge_problems(i, edge, index_of, kinds, seen)
        if links:
            found += edge_branch_problems(i, edge, *branches[edge["from"]])
        problems += found
        if links:
            linked.append(edge)
    return problems, linked


def no_node(i: int, end: str, node_id: str) -> Problem:
    return {
        "path": pointer("edges", i, end),
        "message": msg("edge.no_node", f"no node with id {node_id!r}", id=node_id, end=end),
    }


def _one_edge_problems(
    i: int, edge: dict, index_of: dict[str, int], kinds: dict[str, str], seen: set[tuple]
) -> tuple[list[Problem], bool]:
    """The problems of edge ``i``, and whether it links two nodes (``seen``: the edges so far)."""
    missing = [end for end in ("from", "to") if edge[end] not in index_of]
    if missing:
        return [no_node(i, end, edge[end]) for end in missing], False
    src, dst = edge["from"], edge["to"]
    if src == dst:
        return [
            {
                "path": pointer("edges", i),
                "message": msg("edge.self", "an edge cannot connect a node to itself", id=src),
            }
        ], False
    problems: list[Problem] = []
    if kinds[dst] == "event":
        problems.append(
            {
                "path": pointer("edges", i, "to"),
                "message": msg("edge.into_event", "the event node cannot have incoming edges"),
            }
        )
    key = (src, dst, edge.get("branch", "true"))
    if key in seen:
        problems.append(
            {
                "path": pointer("edges", i),
                "message": msg("edge.duplicate", "duplicate edge", src=src, dst=dst),
            }
        )
    seen.add(key)
    return problems, True


def condition_event_problems(nodes: list[dict], event_type: str, registry: Registry) -> list[Problem]:
    """Conditions whose data the event cannot have (SPEC §3.2), e.g. event_data without event.custom."""
    problems: list[Problem] = []
    inner = ((i, at, t) for i, n in enumerate(nodes) for at, t in conditions_in(n, registry))
    for index, at, type_id in inner:
        spec = registry.get(type_id)
        if spec is None or spec.kind != "condition":
            continue
        allowed = spec.module.EVENTS
        if allowed is not None and event_type not in allowed:
            event = node_title(registry, event_type)
            problems.append(
                {
                    "path": pointer("nodes", index, *at),
                    "message": msg(
                        "condition.event",
                        f"{spec.type} cannot be used with the event {event_type} («{event['ru']}»): "
                        f"it needs one of {', '.join(sorted(allowed))}",
                        condition=node_title(registry, spec.type),
                        event=event,
                        allowed=Tr(
                            ru=", ".join(f"«{node_title(registry, t)['ru']}»" for t in sorted(allowed)),
                            en=", ".join(sorted(allowed)),
                        ),
                        many=len(allowed) > 1,
                    ),
                }
            )
    return problems


def kinds_of(nodes: list[dict]) -> list[str]:
    return [kind_of(n) for n in nodes]
