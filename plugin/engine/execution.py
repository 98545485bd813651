"""Executing a stored run step by step; every state change is committed before the next call.

The database holds the truth: a run is leased by one worker at a time, an action step is marked
``running`` (with its attempt counted) before the call and its result is committed right after,
so a crash leaves at worst a ``running`` step that is retried with the same idempotency key.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from plugin.engine import templating
from plugin.engine.context import for_conditions
from plugin.engine.lifecycle import STOPPING
from plugin.engine.runner import DONE, Graph, StepView, backoff, build_call, evaluate, mask
from plugin.nodes.base import ActionFailed, Deferred, Skip
from plugin.storage.models import Flow, Run, Step, utcnow
from plugin.storage.secrets import open_params

log = logging.getLogger(__name__)

INLINE_WAIT = 1.0  # rate-limit waits are slept in place up to this long in all, per attempt


class Engine:
    """What execution needs from the process: registry, secrets, services, tunables."""

    def __init__(self, registry, secrets, services, *, lease_seconds=120, retry_base=5.0, max_attempts=8,
                 schedule=None):
        self.registry = registry
        self.secrets = secrets
        self.services = services
        self.lease_seconds = lease_seconds
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.schedule = schedule  # callable(run_id, seconds) that re-enqueues a run later


def lease(session: Session, run_id: str, seconds: float) -> bool:
    now = utcnow()
    result = session.execute(
        update(Run)
        .where(Run.id == run_id)
        .where(Run.status.in_(("queued", "running", "waiting")))
        .where(or_(Run.lease_until.is_(None), Run.lease_until < now))
        .values(lease_until=now + timedelta(seconds=seconds), status="running", updated_at=now)
    )
    session.commit()
    return result.rowcount == 1


def _views(steps: dict[str, Step]) -> dict[str, StepView]:
    return {
        nid: StepView(
            status=s.status,
            verdict=s.verdict,
            resume_at=s.resume_at.timestamp() if s.resume_at else None,
            attempts=s.attempts,
            state=s.state or {},
        )
        for nid, s in steps.items()
    }


def execute_run(session: Session, engine: Engine, run_id: str) -> str | None:
    """Advance one run as far as it can go now; returns its status (None if leased elsewhere)."""
    if not lease(session, run_id, engine.lease_seconds):
        return None
    run = session.get(Run, run_id)
    graph = Graph(run.definition, engine.registry)
    steps = {s.node_id: s for s in session.query(Step).filter(Step.run_id == run_id)}
    context = run.context
    cond_ctx = for_conditions(context)
    flow_info = {"id": run.flow_id or "", "name": run.flow_name}
    wake_at: float | None = None

    progress = True
    while progress:
        progress = False
        views = _views(steps)
        for nid in graph.order:
            step = steps.get(nid)
            if step is not None and step.status in DONE:
                continue
            active = graph.activation(nid, views)
            if active is None:
                continue
            node = graph.nodes[nid]
            if step is None:
                step = Step(run_id=run_id, node_id=nid, node_type=node["type"], status="pending", state={})
                session.add(step)
                steps[nid] = step
            if active is False:
                step.status = "not_reached"
                session.commit()
                progress = True
                break
            kind = graph.kind[nid]
            if kind == "event":
                _finish(step, "succeeded")
            elif kind == "condition":
                step.verdict = evaluate(graph, nid, cond_ctx)
                _finish(step, "succeeded")
                if step.verdict is False:
                    step.output = {"verdict": False}
            elif kind == "flow":
                now = time.time()
                if step.resume_at is None:
                    seconds = graph.spec(nid).module.delay_seconds(node.get("params") or {})
                    step.status = "waiting"
                    step.started_at = utcnow()
                    step.resume_at = utcnow() + timedelta(seconds=seconds)
                    step.output = {"delay_seconds": seconds, "resume_at": step.resume_at.isoformat() + "Z"}
                if step.resume_at.timestamp() <= now + 0.001:
                    _finish(step, "succeeded")
                else:
                    wake_at = min(wake_at or float("inf"), step.resume_at.timestamp())
                    session.commit()
                    continue
            else:
                if step.resume_at is not None and step.resume_at.timestamp() > time.time():
                    wake_at = min(wake_at or float("inf"), step.resume_at.timestamp())
                    continue
                _mark_triggered(session, run)
                result = _attempt(session, engine, graph, run, step, context, flow_info)
                if result is not None:
                    wake_at = min(wake_at or float("inf"), result)
                    continue
            session.commit()
            progress = True
            break

    return _settle(session, engine, run, steps, graph, wake_at)


def _finish(step: Step, status: str) -> None:
    now = utcnow()
    step.status = status
    step.started_at = step.started_at or now
    step.finished_at = now
    step.resume_at = None


def _mark_triggered(session: Session, run: Run) -> None:
    """Срабатываний counts runs whose path reached an action, once per run."""
    if run.counted:
        return
    now = utcnow()
    run.triggered = True
    run.counted = True
    if run.flow_id:
        session.execute(
            update(Flow)
            .where(Flow.id == run.flow_id)
            .values(triggered_count=Flow.triggered_count + 1, last_triggered_at=now)
        )
    session.commit()


@dataclass
class Outcome:
    """The result of one action attempt, before it is stored."""

    status: str  # succeeded | skipped | failed | retrying | waiting
    output: dict | None = None
    error: str | None = None
    state: dict = field(default_factory=dict)
    resume_in: float | None = None  # seconds, for retrying / waiting
    counted: bool = True  # a rate-limit wait is not an attempt
    duration_ms: float = 0.0


def call_action(engine: Engine, spec, node: dict, params: dict, context: dict, *, run_id: str, flow_info: dict,
                event_type: str, attempt: int, state: dict) -> Outcome:
    """Perform one attempt of an action and classify what happened; touches no database."""
    secret_values = [params.get(n) for n in spec.secret_fields]
    state = dict(state or {})
    started = time.monotonic()
    waited = 0.0  # in-place rate-limit waits so far: bounded, so a worker is never held longer
    while True:
        try:
            call = build_call(
                spec, node, params, context, run_id=run_id, flow=flow_info, event_type=event_type,
                attempt=attempt, state=state, services=engine.services,
            )
            output = spec.module.execute(call)
        except Deferred as exc:
            if exc.seconds <= INLINE_WAIT - waited and not STOPPING.is_set():
                pause = max(exc.seconds, 0.01)
                waited += pause
                time.sleep(pause)
                continue
            outcome = Outcome("waiting", error=f"waiting: {exc.reason}", resume_in=exc.seconds, counted=False)
        except Skip as exc:
            outcome = Outcome("skipped", output={"skipped": exc.reason})
        except ActionFailed as exc:
            message = _describe(exc)
            if exc.retryable and attempt < engine.max_attempts:
                delay = exc.retry_after if exc.retry_after is not None else backoff(attempt, engine.retry_base)
                outcome = Outcome("retrying", error=message, resume_in=max(0.0, min(float(delay), 86400.0)))
            else:
                suffix = f" (gave up after {attempt} attempts)" if exc.retryable else ""
                outcome = Outcome("failed", error=message + suffix)
        except templating.TemplateError as exc:
            outcome = Outcome("failed", error=f"template error: {exc}")
        except Exception as exc:  # a bug in an action: recorded, never silent
            log.exception("action %s crashed", node["type"])
            outcome = Outcome("failed", error=f"internal error in {node['type']}: {exc!r}")
        else:
            outcome = Outcome("succeeded", output=output if isinstance(output, dict) else {"result": output})
        outcome.state = mask(state, secret_values)
        outcome.output = mask(outcome.output, secret_values)
        outcome.error = mask(outcome.error, secret_values)
        outcome.duration_ms = round((time.monotonic() - started) * 1000, 2)
        return outcome


def apply_outcome(step: Step, outcome: Outcome) -> float | None:
    """Store an outcome on its step; returns the epoch second to try again at, if any."""
    if not outcome.counted:
        step.attempts -= 1
    step.state = outcome.state
    step.duration_ms = outcome.duration_ms
    step.error = outcome.error
    if outcome.status in ("retrying", "waiting"):
        step.status = outcome.status
        step.resume_at = utcnow() + timedelta(seconds=outcome.resume_in or 0.0)
        return step.resume_at.timestamp()
    step.output = outcome.output
    _finish(step, outcome.status)
    return None


def _attempt(session, engine: Engine, graph: Graph, run: Run, step: Step, context, flow_info) -> float | None:
    """One call of an action; returns the epoch second to try again at, or None when settled."""
    node = graph.nodes[step.node_id]
    spec = graph.spec(step.node_id)
    params = open_params(engine.registry, engine.secrets, node)
    step.attempts += 1
    step.status = "running"
    step.started_at = step.started_at or utcnow()
    session.commit()  # the attempt is on record before anything leaves the process
    outcome = call_action(
        engine, spec, node, params, context, run_id=run.id, flow_info=flow_info, event_type=run.event_type,
        attempt=step.attempts, state=step.state or {},
    )
    wake = apply_outcome(step, outcome)
    session.commit()
    return wake


def _describe(exc: ActionFailed) -> str:
    parts = [exc.message]
    if exc.status is not None and str(exc.status) not in exc.message:
        parts.append(f"(HTTP {exc.status})")
    return " ".join(parts)


def _settle(session, engine: Engine, run: Run, steps: dict[str, Step], graph: Graph, wake_at) -> str:
    now = utcnow()
    pending = [s for s in steps.values() if s.status not in DONE]
    run.lease_until = None
    run.updated_at = now
    if pending and wake_at is not None:
        run.status = "waiting"
        run.next_attempt_at = now + timedelta(seconds=max(0.0, wake_at - time.time()))
        session.commit()
        if engine.schedule:
            engine.schedule(run.id, max(0.0, wake_at - time.time()))
        return run.status
    failed = [s for s in steps.values() if s.status == "failed"]
    run.status = "failed" if failed else "succeeded"
    run.error = failed[0].error if failed else None
    run.finished_at = now
    run.next_attempt_at = None
    if failed and run.flow_id:
        session.execute(update(Flow).where(Flow.id == run.flow_id).values(failed_count=Flow.failed_count + 1))
    session.commit()
    return run.status


def step_dict(step: Step) -> dict[str, Any]:
    from plugin.engine.context import iso

    return {
        "node_id": step.node_id,
        "type": step.node_type,
        "status": step.status,
        "verdict": step.verdict,
        "output": step.output,
        "error": step.error,
        "attempts": step.attempts,
        "started_at": iso(step.started_at),
        "finished_at": iso(step.finished_at),
        "resume_at": iso(step.resume_at),
        "duration_ms": step.duration_ms,
    }


def execute_direct(session: Session, engine: Engine, spec, node: dict, sealed_node: dict, context: dict) -> dict:
    """One action called by a third-party platform (SPEC §7): recorded as a direct run, no retries.

    ``node`` carries the caller's plain params (used for this call), ``sealed_node`` the same with
    secrets encrypted (what is stored on the run).
    """
    from plugin.storage.models import new_id

    run = Run(
        id=new_id(), flow_id=None, flow_version=0, flow_name="", trigger="direct", event_type="direct",
        definition={"nodes": [sealed_node], "edges": []}, status="running", context=context,
        order_id=(context.get("order") or {}).get("id"), client_id=(context.get("client") or {}).get("external_id"),
    )
    step = Step(run_id=run.id, node_id=node["id"], node_type=node["type"], status="pending", state={})
    session.add(run)
    session.add(step)
    session.commit()
    once = Engine(engine.registry, engine.secrets, engine.services, max_attempts=1)
    graph = Graph({"nodes": [sealed_node], "edges": []}, engine.registry)
    wait = _attempt(session, once, graph, run, step, context, {"id": "", "name": ""})
    if wait is not None:  # rate limited for longer than we hold an HTTP request
        step.status = "failed"
        step.error = f"rate limited: try again in {max(0.0, wait - time.time()):.1f} s"
    run.status = "failed" if step.status == "failed" else "succeeded"
    run.error = step.error
    run.finished_at = utcnow()
    session.commit()
    return {"run_id": run.id, "status": step.status, "output": step.output, "error": step.error}
