"""A flow's graph (SPEC §6): its nodes and edges, and every walk over them.

One class serves everything that walks a flow: the validator (cycles, reachability from the
event), the runner and the dry run (topological order; which node runs next given the steps
decided so far, :meth:`Graph.activation`, or a whole pass, :meth:`Graph.walk`), matching (whether
a context lets a flow reach an action, :meth:`Graph.reaches_action`) and the flow index (the
straight line event → conditions → action that most flows are, :attr:`Graph.chain`).

Pure: a definition (and the registry, for the node types) in; no database, no I/O.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from plugin.engine.context import for_conditions
from plugin.nodes.operators import Access
from plugin.registry import NodeType, Registry

log = logging.getLogger(__name__)

PENDING = ("pending", "running", "waiting", "retrying")
DONE = ("succeeded", "failed", "skipped", "not_reached")
EVERY_BRANCH = "\x00every"  # a split's branch when any variant may be taken (reaches_action)


@dataclass
class StepView:
    """What the walker needs to know about one node's step."""

    status: str = "pending"
    verdict: bool | None = None
    resume_at: float | None = None  # epoch seconds
    attempts: int = 0
    state: dict = field(default_factory=dict)
    branch: str | None = None  # a split's chosen variant: the one branch its edges follow
    output: dict | None = None  # what the step records, when decided in memory (a group's trace)


def kind_of(node: dict) -> str:
    """``"event"``, ``"condition"``, ``"action"`` or ``"flow"``: the first part of the node's type."""
    return node["type"].split(".")[0]


class Check:
    """One condition node prepared for matching: ``test(cond_ctx)`` is ``evaluate(params, cond_ctx)``
    with the params worked out once (the module's ``prepare``), ``access`` how a flow index can
    find the contexts it holds for (the module's ``access``; ``None``: it cannot), ``key`` equal
    for equal conditions (type and params), whose verdicts on one context are equal."""

    __slots__ = ("access", "key", "test", "type")

    def __init__(
        self, test: Callable[[dict], bool], type_id: str, access: Access | None = None, key: str = ""
    ):
        self.test, self.type, self.access, self.key = test, type_id, access, key


def prepare_condition(node: dict, registry: Registry) -> Check:
    """The :class:`Check` of a condition node. Params a module cannot prepare (invalid ones, whose
    ``evaluate`` raises) keep calling ``evaluate``, so the verdict — and its log — stay the same."""
    module = registry[node["type"]].module
    params = node.get("params") or {}
    key = node["type"] + json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
    try:
        test = module.prepare(params)
    except Exception:  # noqa: BLE001 - invalid params: evaluate raises (a logged False) per event
        return Check(functools.partial(module.evaluate, params), node["type"], None, key)
    try:
        access = module.access(params)
    except Exception:  # noqa: BLE001 - no access: the index evaluates it like an unindexed one
        access = None
    return Check(test, node["type"], access, key)


class Graph:
    """A flow definition prepared for walking: its nodes by id, their kinds, the edges into and out
    of each, a topological order and the event node.

    ``registry`` (for the node types) is needed by :meth:`spec`, :attr:`chain` (``None`` without
    it) and :meth:`reaches_action`. Disabled nodes are left out, with their edges, unless
    ``disabled`` is true (the validator sees every node). Edges to or from a node not in the graph
    are ignored.
    """

    def __init__(self, definition: dict, registry: Registry | None = None, *, disabled: bool = False):
        nodes = definition["nodes"]
        if disabled:
            self.nodes: dict[str, dict] = {n["id"]: n for n in nodes}
        else:
            self.nodes = {n["id"]: n for n in nodes if not n.get("disabled")}
        self.kind = {nid: n["type"].split(".")[0] for nid, n in self.nodes.items()}  # kind_of, inlined
        self.incoming: dict[str, list[tuple[str, str]]] = {nid: [] for nid in self.nodes}
        self.outgoing: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for edge in definition["edges"]:
            if edge["from"] in self.nodes and edge["to"] in self.nodes:
                self.incoming[edge["to"]].append((edge["from"], edge.get("branch", "true")))
                self.outgoing[edge["from"]].append(edge["to"])
        self.order = self._topological_order()
        self.event_id = next((nid for nid in self.order if self.kind[nid] == "event"), None)
        self.registry = registry
        # the nodes that pick one branch of their edges (flow.split): known by their module's ``choose``
        self.splits = frozenset(
            nid
            for nid, n in self.nodes.items()
            if self.kind[nid] == "flow" and registry is not None and _chooses(registry, n["type"])
        )
        self.settings: dict = definition.get("settings") or {}  # SPEC §11 flow settings
        self.chain = self._as_chain() if registry is not None else None

    def _topological_order(self) -> list[str]:
        """Kahn's order (ties in definition order); the nodes of a cycle are left out."""
        indegree = {nid: len(self.incoming[nid]) for nid in self.nodes}
        ready = [nid for nid in self.nodes if indegree[nid] == 0]
        order: list[str] = []
        while ready:
            nid = ready.pop(0)  # a handful of nodes: cheaper than a deque
            order.append(nid)
            for nxt in self.outgoing[nid]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        return order

    # -- structure --------------------------------------------------------------------------

    def reachable(self, start: str) -> set[str]:
        """The nodes reachable from ``start`` along the edges (``start`` included)."""
        seen, stack = {start}, [start]
        while stack:
            for nxt in self.outgoing[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    def cycle(self) -> list[str] | None:
        """One cycle as a path that ends where it starts (``[a, b, a]``), or ``None``: a depth-first
        search from each node in definition order, following edges in definition order."""
        color: dict[str, int] = {}  # 1: on the current path, 2: done
        path: list[str] = []

        def visit(node: str) -> list[str] | None:
            color[node] = 1
            path.append(node)
            for nxt in self.outgoing[node]:
                if color.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if color.get(nxt) is None:
                    found = visit(nxt)
                    if found:
                        return found
            color[node] = 2
            path.pop()
            return None

        for node in self.outgoing:
            if color.get(node) is None:
                found = visit(node)
                if found:
                    return found
        return None

    def straight_line(self) -> list[str] | None:
        """The nodes between the event and the action when the flow is one straight line event →
        conditions (true branches) / delays → action, as most flows are; ``None`` otherwise."""
        if self.event_id is None:
            return None
        line, nid = [], self.event_id
        while True:
            nexts = self.outgoing[nid]
            if len(nexts) != 1:
                return None
            nid = nexts[0]
            if len(self.incoming[nid]) != 1 or self.incoming[nid][0][1] == "false":
                return None
            kind = self.kind[nid]
            if kind == "action":
                return line
            if kind not in ("condition", "flow"):  # a delay passes the context through
                return None
            line.append(nid)

    def _as_chain(self) -> list[Check] | None:
        """A straight-line flow's conditions, prepared, so matching is a short-circuiting loop."""
        line = self.straight_line()
        if line is None:
            return None
        conditions = (self.nodes[nid] for nid in line if self.kind[nid] == "condition")
        return [prepare_condition(node, self.registry) for node in conditions]

    def branch(self, statuses: dict[str, str]) -> str | None:
        """A run's branch for the analytics, from its steps' statuses (node id → status): its
        first succeeded action node in graph order (None: it reached no one)."""
        return next(
            (n for n in self.order if self.kind[n] == "action" and statuses.get(n) == "succeeded"), None
        )

    def spec(self, node_id: str) -> NodeType:
        return self.registry[self.nodes[node_id]["type"]]

    # -- walking ----------------------------------------------------------------------------

    def _edge(self, src: str, branch: str, steps: dict[str, StepView]) -> bool | None:
        step = steps.get(src)
        if step is None or step.status in PENDING:
            return None
        kind = self.kind[src]
        if kind == "condition" or (kind == "flow" and step.verdict is not None):  # a wait's came / timed out
            return step.status == "succeeded" and step.verdict is (branch != "false")
        if kind == "action":
            return step.status in ("succeeded", "skipped")
        if src in self.splits:  # only the edge of the chosen variant (none when none is recorded)
            return step.status == "succeeded" and (step.branch == branch or step.branch == EVERY_BRANCH)
        return step.status == "succeeded"

    def views(self, steps: dict) -> dict[str, StepView]:
        """The walker's views of stored steps by node id (rows or ORM objects of the steps table)."""
        return {
            nid: StepView(
                status=s.status,
                verdict=s.verdict,
                resume_at=s.resume_at.timestamp() if s.resume_at else None,
                attempts=s.attempts,
                state=s.state or {},
                branch=self.branch_of(nid, s.output),
            )
            for nid, s in steps.items()
        }

    def branch_of(self, node_id: str, output) -> str | None:
        """The branch a stored step of ``node_id`` took (a split's ``output.variant``), or None."""
        if node_id in self.splits and isinstance(output, dict):
            return output.get("variant")
        return None

    def activation(self, node_id: str, steps: dict[str, StepView]) -> bool | None:
        """True: the node runs; False: it is not reached; None: not decided yet."""
        if self.kind[node_id] == "event":
            return True
        verdicts = [self._edge(src, branch, steps) for src, branch in self.incoming[node_id]]
        if any(v is True for v in verdicts):
            return True
        if verdicts and all(v is False for v in verdicts):
            return False
        return None

    def walk(self, steps: dict[str, StepView]) -> Iterator[tuple[str, bool]]:
        """One pass over the nodes in topological order, each with whether it runs: the caller
        records in ``steps`` the step of each node that runs before taking the next one; a node
        that does not run (or is not decided) is recorded here as ``not_reached``."""
        for nid in self.order:
            runs = bool(self.activation(nid, steps))
            if not runs:
                steps[nid] = StepView(status="not_reached")
            yield nid, runs

    def reaches_action(self, context: dict, now=None, cond_ctx: dict | None = None) -> bool:
        """Whether the conditions let this context reach any action (delays pass through)."""
        cond_ctx = cond_ctx or for_conditions(context, now)
        if self.chain is not None:
            for check in self.chain:
                try:
                    if not check.test(cond_ctx):
                        return False
                except Exception:  # a condition bug is a False verdict, logged
                    log.exception("condition %s failed to evaluate", check.type)
                    return False
            return True
        steps: dict[str, StepView] = {}
        for nid, runs in self.walk(steps):
            if not runs:
                continue
            kind = self.kind[nid]
            if kind == "action":
                return True
            verdict = evaluate(self, nid, cond_ctx) if kind == "condition" else None
            # any variant of a split: a run is made whichever it takes (a control group's too)
            branch = EVERY_BRANCH if nid in self.splits else None
            steps[nid] = StepView(status="succeeded", verdict=verdict, branch=branch)
        return False


def _chooses(registry: Registry, type_id: str) -> bool:
    spec = registry.get(type_id)
    return spec is not None and hasattr(spec.module, "choose")


def evaluate(graph: Graph, node_id: str, cond_ctx: dict) -> bool:
    """A condition node's verdict on a context (``module.evaluate``); a condition that raises is
    a False verdict, logged."""
    node = graph.nodes[node_id]
    try:
        return bool(graph.spec(node_id).module.evaluate(node.get("params") or {}, cond_ctx))
    except Exception:  # a condition bug must not stop the run: it is a False verdict, logged
        log.exception("condition %s failed to evaluate", node["type"])
        return False


def judge(graph: Graph, node_id: str, cond_ctx: dict) -> tuple[bool, dict | None]:
    """A condition node's verdict and what its step records: a group's trace (its module's
    ``explain``: every inner verdict), else None. A condition that raises is a False verdict, logged."""
    node = graph.nodes[node_id]
    explain = getattr(graph.spec(node_id).module, "explain", None)
    if explain is None:
        return evaluate(graph, node_id, cond_ctx), None
    try:
        output = explain(node.get("params") or {}, cond_ctx)
    except Exception:  # a condition bug must not stop the run: it is a False verdict, logged
        log.exception("condition %s failed to evaluate", node["type"])
        return False, {"verdict": False}
    return bool(output["verdict"]), output


def choose(graph: Graph, node_id: str, context: dict, *, flow_id: str | None, run_id: str) -> StepView:
    """A split's decided step: the variant of this context's subject, the same whenever this
    split (flow id + node id) meets it, with ``run:<id>`` as the subject when there is none."""
    node = graph.nodes[node_id]
    try:
        output = graph.spec(node_id).module.choose(
            node.get("params") or {}, context, salt=f"{flow_id or ''}:{node_id}", fallback=f"run:{run_id}"
        )
    except Exception as exc:  # params the validator would refuse: the step fails, no branch is taken
        log.exception("split %s could not choose a variant", node_id)
        return StepView(status="failed", output={"error": f"{type(exc).__name__}: {exc}"})
    return StepView(status="succeeded", branch=output["variant"], output=output)
