"""Walking a flow graph (SPEC §6): which node runs next, condition verdicts, action calls, dry runs.

Pure: a definition, a context and the states of the steps done so far in; decisions out. The
tasks module persists them; the API calls :func:`dry_run` directly.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from plugin.engine import templating
from plugin.engine.context import for_conditions
from plugin.nodes.base import SECRET_PLACEHOLDER, ActionCall, NodeError
from plugin.nodes.operators import Access
from plugin.registry import Registry

log = logging.getLogger(__name__)

PENDING = ("pending", "running", "waiting", "retrying")
DONE = ("succeeded", "failed", "skipped", "not_reached")


@dataclass
class StepView:
    """What the walker needs to know about one node's step."""

    status: str = "pending"
    verdict: bool | None = None
    resume_at: float | None = None  # epoch seconds
    attempts: int = 0
    state: dict = field(default_factory=dict)


class Check:
    """One condition node prepared for matching: ``test(cond_ctx)`` is ``evaluate(params, cond_ctx)``
    with the params worked out once (the module's ``prepare``), ``access`` how a flow index can
    find the contexts it holds for (the module's ``access``; ``None``: it cannot), ``key`` equal
    for equal conditions (type and params), whose verdicts on one context are equal."""

    __slots__ = ("access", "key", "test", "type")

    def __init__(self, test: Callable[[dict], bool], type_id: str, access: Access | None = None, key: str = ""):
        self.test, self.type, self.access, self.key = test, type_id, access, key


def prepare_condition(node: dict, registry: Registry) -> Check:
    """The :class:`Check` of a condition node. Params a module cannot prepare (invalid ones, whose
    ``evaluate`` raises) keep calling ``evaluate``, so the verdict — and its log — stay the same."""
    module = registry[node["type"]].module
    params = node.get("params") or {}
    key = node["type"] + json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
    prepare, access = getattr(module, "prepare", None), getattr(module, "access", None)
    if prepare is not None:
        try:
            test = prepare(params)
        except Exception:  # noqa: BLE001 - invalid params: evaluate raises (a logged False) per event
            test = None
        if test is not None:
            try:
                return Check(test, node["type"], access(params) if access is not None else None, key)
            except Exception:  # noqa: BLE001 - no access: the index evaluates it like an unindexed one
                return Check(test, node["type"], None, key)
    return Check(functools.partial(module.evaluate, params), node["type"], None, key)


class Graph:
    """A flow definition prepared for walking: topological order and incoming edges."""

    def __init__(self, definition: dict, registry: Registry):
        self.nodes = {n["id"]: n for n in definition["nodes"] if not n.get("disabled")}
        self.kind = {nid: n["type"].split(".")[0] for nid, n in self.nodes.items()}
        self.incoming: dict[str, list[tuple[str, str]]] = {nid: [] for nid in self.nodes}
        outgoing: dict[str, list[str]] = {nid: [] for nid in self.nodes}
        for edge in definition["edges"]:
            if edge["from"] in self.nodes and edge["to"] in self.nodes:
                self.incoming[edge["to"]].append((edge["from"], edge.get("branch", "true")))
                outgoing[edge["from"]].append(edge["to"])
        indegree = {nid: len(self.incoming[nid]) for nid in self.nodes}
        ready = [nid for nid in self.nodes if indegree[nid] == 0]
        self.order: list[str] = []
        while ready:
            nid = ready.pop(0)
            self.order.append(nid)
            for nxt in outgoing[nid]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        self.event_id = next((nid for nid in self.order if self.kind[nid] == "event"), None)
        self.registry = registry
        self.chain = self._as_chain(outgoing)

    def _as_chain(self, outgoing: dict[str, list[str]]) -> list[Check] | None:
        """A flow that is one straight line event → conditions (true branches) / delays → action:
        its conditions, prepared, so matching is a short-circuiting loop (most flows)."""
        if self.event_id is None:
            return None
        chain, nid = [], self.event_id
        while True:
            nexts = outgoing[nid]
            if len(nexts) != 1:
                return None
            nid = nexts[0]
            if len(self.incoming[nid]) != 1 or self.incoming[nid][0][1] == "false":
                return None
            kind = self.kind[nid]
            if kind == "action":
                return chain
            if kind == "condition":
                chain.append(prepare_condition(self.nodes[nid], self.registry))
            elif kind != "flow":  # a delay passes the context through; anything else: walk the graph
                return None

    def spec(self, node_id: str):
        return self.registry[self.nodes[node_id]["type"]]

    def _edge(self, src: str, branch: str, steps: dict[str, StepView]) -> bool | None:
        step = steps.get(src)
        if step is None or step.status in PENDING:
            return None
        kind = self.kind[src]
        if kind == "condition":
            return step.status == "succeeded" and step.verdict is (branch != "false")
        if kind == "action":
            return step.status in ("succeeded", "skipped")
        return step.status == "succeeded"

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
        for nid in self.order:
            active = self.activation(nid, steps)
            if active is False or active is None:
                steps[nid] = StepView(status="not_reached")
                continue
            kind = self.kind[nid]
            if kind == "action":
                return True
            if kind == "condition":
                steps[nid] = StepView(status="succeeded", verdict=evaluate(self, nid, cond_ctx))
            else:
                steps[nid] = StepView(status="succeeded")
        return False


def evaluate(graph: Graph, node_id: str, cond_ctx: dict) -> bool:
    node = graph.nodes[node_id]
    try:
        return bool(graph.spec(node_id).module.evaluate(node.get("params") or {}, cond_ctx))
    except Exception:  # a condition bug must not stop the run: it is a False verdict, logged
        log.exception("condition %s failed to evaluate", node["type"])
        return False


def render_params(spec, params: dict, context: dict) -> dict:
    """Params with every ``x-template`` field rendered and escaped for its channel."""
    out = dict(params)
    for name, channel in spec.template_fields.items():
        if isinstance(out.get(name), str):
            out[name] = templating.render(out[name], context, channel)
    return out


def secret_variants(secret: str) -> list[str]:
    """The secret, plus the parts of a secret URL a remote side may echo on their own.

    A Slack webhook or a Bitrix24 inbound-webhook URL is secret because of its path: a 404 page
    or a proxy error quoting just ``/services/T…/B…/xxxx`` (or one of its tokens) must be masked
    as well. Short plain words (``services``, ``rest``) are not secrets and are kept.
    """
    out = [secret]
    if "://" in secret:
        try:
            parts = urlsplit(secret)
            password = parts.password
        except ValueError:
            return out
        if password:
            out.append(password)
        tail = secret.split(parts.netloc, 1)[-1] if parts.netloc else ""
        if len(tail.strip("/")) >= 8:
            out.append(tail)
        out += [seg for seg in parts.path.split("/") if len(seg) >= 16 or (len(seg) >= 8 and not seg.isalpha())]
    return out


def mask(value: Any, secrets: list[str]) -> Any:
    """Remove every secret value (and the echoable parts of a secret URL) from a stored or shown structure."""
    secrets = sorted(
        {v for s in secrets if isinstance(s, str) and len(s) >= 4 for v in secret_variants(s)},
        key=len,
        reverse=True,
    )
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, SECRET_PLACEHOLDER)
        return value
    if isinstance(value, dict):
        return {k: mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, secrets) for v in value]
    return value


def build_call(
    spec,
    node: dict,
    params: dict,
    context: dict,
    *,
    run_id: str,
    flow: dict,
    event_type: str,
    attempt: int,
    state: dict,
    services: Any,
) -> ActionCall:
    return ActionCall(
        params=render_params(spec, params, context),
        context={k: context.get(k) for k in ("visit", "order", "client", "event")},
        run_id=run_id,
        node_id=node["id"],
        flow=flow,
        event_type=event_type,
        attempt=attempt,
        state=state,
        services=services,
    )


def backoff(attempt: int, base: float, cap: float = 6 * 3600) -> float:
    """Exponential backoff with ±20 % jitter: base, 4·base, 16·base, … capped."""
    delay = min(base * (4 ** (attempt - 1)), cap)
    return delay * random.uniform(0.8, 1.2)


def dry_run(
    definition: dict,
    registry: Registry,
    context: dict,
    *,
    open_params,
    flow: dict,
    event_type: str,
    services: Any = None,
) -> dict:
    """Every verdict and the exact rendered messages, with no side effects (SPEC §7)."""
    graph = Graph(definition, registry)
    steps: dict[str, StepView] = {}
    cond_ctx = for_conditions(context)
    results = []
    started = time.monotonic()
    for nid in graph.order:
        node = graph.nodes[nid]
        kind = graph.kind[nid]
        entry: dict[str, Any] = {"node_id": nid, "type": node["type"], "verdict": None, "output": None, "error": None}
        active = graph.activation(nid, steps)
        if not active:
            steps[nid] = StepView(status="not_reached")
            results.append({**entry, "status": "not_reached"})
            continue
        if kind == "event":
            steps[nid] = StepView(status="succeeded")
            results.append({**entry, "status": "succeeded"})
        elif kind == "condition":
            verdict = evaluate(graph, nid, cond_ctx)
            steps[nid] = StepView(status="succeeded", verdict=verdict)
            results.append({**entry, "status": "succeeded", "verdict": verdict})
        elif kind == "flow":
            seconds = graph.spec(nid).module.delay_seconds(node.get("params") or {})
            steps[nid] = StepView(status="succeeded")
            results.append({**entry, "status": "would_wait", "output": {"delay_seconds": seconds}})
        else:
            spec = graph.spec(nid)
            params = open_params(node)
            # an imported flow whose secret was never filled: show what it would send, and say
            # that it cannot until the secret is set (status needs_secret, the path still counts)
            unset = [name for name in spec.secret_fields if params.get(name) == SECRET_PLACEHOLDER]
            try:
                call = build_call(
                    spec, node, params, context, run_id="dry-run", flow=flow, event_type=event_type,
                    attempt=1, state={}, services=services,
                )
                preview = spec.module.preview(call)
                secret_values = [params.get(n) for n in spec.secret_fields]
                steps[nid] = StepView(status="succeeded")
                if unset:
                    results.append({**entry, "status": "needs_secret", "output": mask(preview, secret_values),
                                    "error": f"secret {', '.join(unset)} is not set: fill it in before this can send"})
                else:
                    results.append({**entry, "status": "would_send", "output": mask(preview, secret_values)})
            except NodeError as exc:
                from plugin.nodes.base import Skip

                status = "skipped" if isinstance(exc, Skip) else "failed"
                steps[nid] = StepView(status=status)
                results.append({**entry, "status": status, "error": str(exc)})
            except templating.TemplateError as exc:
                steps[nid] = StepView(status="failed")
                results.append({**entry, "status": "failed", "error": str(exc)})
    triggered = any(r["status"] in ("would_send", "needs_secret", "skipped") for r in results if graph.kind.get(r["node_id"]) == "action")
    return {
        "status": "would_trigger" if triggered else "not_triggered",
        "triggered": triggered,
        "steps": results,
        "duration_ms": round((time.monotonic() - started) * 1000, 2),
    }
