"""Running a flow's nodes (SPEC §6): action calls (params rendered, secrets masked), retry backoff,
and dry runs.

Pure: a definition, a context and the states of the steps done so far in; decisions out. The
engine's execution modules persist them; the API calls :func:`dry_run` directly. The graph itself
(order, activation, condition verdicts) is :mod:`plugin.engine.graph`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from plugin.engine import templating
from plugin.engine.context import for_conditions
from plugin.engine.graph import Graph, StepView, choose, judge
from plugin.masking import mask, strings_in
from plugin.nodes._services import optout
from plugin.nodes.base import SECRET_PLACEHOLDER, ActionCall, NodeError, Skip
from plugin.registry import NodeType, Registry
from plugin.storage.secrets import sealed_paths

log = logging.getLogger(__name__)


def render_params(spec: NodeType, params: dict, context: dict) -> dict:
    """Params with every ``x-template`` field rendered and escaped for its channel."""
    out = dict(params)
    for name, channel in spec.template_fields.items():
        if isinstance(out.get(name), str):
            out[name] = templating.render(out[name], context, channel)
    return out


def secret_paths(spec: NodeType, params: dict, node: dict | None = None) -> tuple[tuple[str, ...], ...]:
    """Where ``params`` hold secrets: the schema's secret params, and whatever is sealed in the
    stored node (secret when it was saved, whatever the schema or the marks say now)."""
    stored = sealed_paths((node or {}).get("params") or {})
    return tuple(dict.fromkeys([*spec.secret_paths(params), *stored]))


def secret_values(spec: NodeType, params: dict, node: dict | None = None) -> list[str]:
    """Every secret string in ``params`` (x-secret fields, secret webhook headers, ...)."""
    out: list[str] = []
    for path in secret_paths(spec, params, node):
        out += strings_in(_at(params, path))
    return out


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
    rendered = render_params(spec, params, with_unsubscribe(spec, params, context, services))
    return ActionCall(
        params=rendered,
        context={k: context.get(k) for k in ("visit", "order", "client", "event")},
        run_id=run_id,
        node_id=node["id"],
        flow=flow,
        event_type=event_type,
        attempt=attempt,
        state=state,
        services=services,
        secret_paths=secret_paths(spec, rendered, node),
    )


def with_unsubscribe(spec, params: dict, context: dict, services: Any) -> dict:
    """The context with ``unsubscribe.url`` (``{unsubscribe_url}``) when a template field of the
    node uses it: signed for the step's recipient (``nodes._services.optout.unsubscribe_url``)."""
    if not any(isinstance(params.get(n), str) and "unsubscribe" in params[n] for n in spec.template_fields):
        return context
    return {**context, "unsubscribe": {"url": optout.unsubscribe_url(services, spec.type, context)}}


def backoff(attempt: int, base: float, cap: float = 6 * 3600) -> float:
    """Exponential backoff with ±20 % jitter: base, 4·base, 16·base, … capped."""
    delay = min(base * (4 ** (attempt - 1)), cap)
    return delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


def dry_run(
    definition: dict,
    registry: Registry,
    context: dict,
    *,
    open_params,
    flow: dict,
    event_type: str,
    services: Any = None,
    hold: Callable[..., dict | None] | None = None,
    waits: dict | None = None,
) -> dict:
    """Every verdict and the exact rendered messages, with no side effects (SPEC §7).

    ``hold(graph, nid, call, output)`` says what a real run would hold back of an action whose
    preview succeeded (``engine.dryrules.hold``): blocked, capped, or waiting for a send window.
    ``waits`` chooses the branch of each ``flow.wait_event`` node (node id → ``"true"`` (the
    event came, the default) or ``"false"`` (timed out)): a dry run does not wait."""
    graph = Graph(definition, registry)
    steps: dict[str, StepView] = {}
    cond_ctx = for_conditions(context)

    def preview(nid: str) -> tuple[StepView, dict]:
        return _preview_action(
            graph,
            nid,
            context,
            open_params=open_params,
            flow=flow,
            event_type=event_type,
            services=services,
            hold=hold,
        )

    results = []
    started = time.monotonic()
    for nid, runs in graph.walk(steps):
        entry = {
            "node_id": nid,
            "type": graph.nodes[nid]["type"],
            "verdict": None,
            "output": None,
            "error": None,
        }
        if runs:
            steps[nid], outcome = _dry_step(
                graph, nid, cond_ctx, preview, waits or {}, flow_id=flow.get("id")
            )
        else:
            outcome = {"status": "not_reached"}
        results.append({**entry, **outcome})
    triggered = _triggered(graph, results)
    return {
        "status": "would_trigger" if triggered else "not_triggered",
        "triggered": triggered,
        "steps": results,
        "duration_ms": round((time.monotonic() - started) * 1000, 2),
    }


def _triggered(graph: Graph, results: list[dict]) -> bool:
    """Whether a dry run reached an action (whatever that action would do)."""
    return any(
        r["status"] in ("would_send", "needs_secret", "skipped", "blocked", "would_wait")
        for r in results
        if graph.kind.get(r["node_id"]) == "action"
    )


def _dry_step(
    graph: Graph,
    nid: str,
    cond_ctx: dict,
    preview: Callable[[str], tuple[StepView, dict]],
    waits: dict,
    *,
    flow_id: str | None,
) -> tuple[StepView, dict]:
    """One node of a dry run that runs: its step, and what the dry run shows of it (a group's
    every inner verdict, a split's variant: the one a real run of this flow would take)."""
    kind = graph.kind[nid]
    if kind == "event":
        return StepView(status="succeeded"), {"status": "succeeded"}
    if kind == "condition":
        verdict, output = judge(graph, nid, cond_ctx)
        shown = {"status": "succeeded", "verdict": verdict}
        return StepView(status="succeeded", verdict=verdict), {**shown, "output": output} if output else shown
    if nid in graph.splits:
        view = choose(graph, nid, cond_ctx, flow_id=flow_id, run_id="dry-run")
        return view, {"status": view.status, "output": view.output}
    if kind == "flow":
        seconds = graph.spec(nid).module.delay_seconds(graph.nodes[nid].get("params") or {})
        if graph.nodes[nid]["type"] == "flow.wait_event":  # the branch chosen: came unless told
            came = str(waits.get(nid, "true")).lower() != "false"
            output = {"delay_seconds": seconds, "branch": "true" if came else "false"}
            return StepView(status="succeeded", verdict=came), {
                "status": "would_wait",
                "verdict": came,
                "output": output,
            }
        return StepView(status="succeeded"), {"status": "would_wait", "output": {"delay_seconds": seconds}}
    return preview(nid)


def _preview_action(
    graph: Graph,
    nid: str,
    context: dict,
    *,
    open_params,
    flow: dict,
    event_type: str,
    services: Any,
    hold=None,
) -> tuple[StepView, dict]:
    """An action in a dry run: the request it would send, secrets masked.

    An imported flow whose secret was never filled shows what it would send, and says that it
    cannot until the secret is set (status ``needs_secret``; the path still counts)."""
    node, spec = graph.nodes[nid], graph.spec(nid)
    params = open_params(node)
    unset = ["/".join(p) for p in secret_paths(spec, params, node) if _at(params, p) == SECRET_PLACEHOLDER]
    try:
        call = build_call(
            spec,
            node,
            params,
            context,
            run_id="dry-run",
            flow=flow,
            event_type=event_type,
            attempt=1,
            state={},
            services=services,
        )
        preview = spec.module.preview(call)
    except NodeError as exc:
        status = "skipped" if isinstance(exc, Skip) else "failed"
        return StepView(status=status), {
            "status": status,
            "error": mask(str(exc), secret_values(spec, params, node)),
        }
    except templating.TemplateError as exc:
        return StepView(status="failed"), {
            "status": "failed",
            "error": mask(str(exc), secret_values(spec, params, node)),
        }
    output = mask(preview, secret_values(spec, params, node))
    held = hold(graph, nid, call, output) if hold is not None and not unset else None
    if held is not None:  # a blocked call fails the step; a capped one is skipped; a wait still sends
        step_status = {"blocked": "failed", "skipped": "skipped"}.get(held["status"], "succeeded")
        return StepView(status=step_status), held
    if unset:
        error = f"secret {', '.join(unset)} is not set: fill it in before this can send"
        return StepView(status="succeeded"), {"status": "needs_secret", "output": output, "error": error}
    return StepView(status="succeeded"), {"status": "would_send", "output": output}


def _at(params: dict, path: tuple[str, ...]) -> Any:
    for part in path:
        params = params.get(part) if isinstance(params, dict) else None
    return params
