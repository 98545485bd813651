"""Executing a stored run step by step; every state change is committed before the next call.

The database holds the truth: a run is leased by one worker at a time, an action step is marked
``running`` (with its attempt counted) before the call and its result is committed right after,
so a crash leaves at worst a ``running`` step that is retried with the same idempotency key.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from plugin.engine import templating
from plugin.engine.context import for_conditions
from plugin.engine.runner import DONE, Graph, StepView, backoff, build_call, evaluate, mask
from plugin.lifecycle import STOPPING
from plugin.nodes.base import ActionFailed, Deferred, Skip
from plugin.storage.models import Flow, Run, Step, utcnow
from plugin.storage.secrets import open_params
from plugin.transport.destinations import CircuitOpen, lane_of
from plugin.transport.sendstage import Cancelled, Late, stage

log = logging.getLogger(__name__)

INLINE_WAIT = 1.0  # rate-limit waits are slept in place up to this long in all, per attempt


class Engine:
    """What execution needs from the process: registry, secrets, services, tunables."""

    def __init__(self, registry, secrets, services, *, lease_seconds=120, retry_base=5.0, max_attempts=8,
                 schedule=None, schedule_many=None):
        self.registry = registry
        self.secrets = secrets
        self.services = services
        self.lease_seconds = lease_seconds
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.schedule = schedule  # callable(run_id, seconds) that re-enqueues a run later
        self._schedule_many = schedule_many  # callable([(run_id, naive UTC datetime)]), grouped

    def schedule_many(self, runs: list[tuple[str, Any]]) -> None:
        """Resume these runs at their times (naive UTC datetimes); the sweeper is the fallback."""
        if self._schedule_many is not None:
            self._schedule_many(runs)
        elif self.schedule is not None:
            now = utcnow()
            for run_id, at in runs:
                self.schedule(run_id, max(0.0, (at - now).total_seconds()))


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
                if result is LATE:  # still leased; the send stage settles the call and goes on
                    session.commit()
                    return "running"
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
        except CircuitOpen as exc:  # raised before anything went out (a probe is under way)
            outcome = held_outcome(engine, exc, state)
        except ActionFailed as exc:
            outcome = failure_outcome(engine, exc, attempt)
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


BUSY_RETRY = 5.0


def busy_outcome(engine: Engine, exc: Exception) -> Outcome:
    """A call its destination's lane never started (the receiver holds every place): try again in
    a few seconds; not an attempt."""
    seconds = BUSY_RETRY * random.uniform(0.8, 1.2)
    at = (utcnow() + timedelta(seconds=seconds)).strftime("%H:%M:%S")
    return Outcome("waiting", error=f"waiting: {exc}; next try after {at} UTC", resume_in=seconds, counted=False)


def failure_outcome(engine: Engine, exc: ActionFailed, attempt: int) -> Outcome:
    """A failed attempt: retried later (by backoff, or when the remote side said) or failed."""
    message = _describe(exc)
    if exc.retryable and attempt < engine.max_attempts:
        delay = backoff(attempt, engine.retry_base)
        if exc.retry_after is not None:  # a 429 or 503 says when to come back
            delay = exc.retry_after
        return Outcome("retrying", error=message, resume_in=max(0.0, min(float(delay), 86400.0)))
    suffix = f" (gave up after {attempt} attempts)" if exc.retryable else ""
    return Outcome("failed", error=message + suffix)


def refused_outcome(engine: Engine, lane: str, state: dict | None = None) -> Outcome | None:
    """The outcome of a call whose destination's circuit is open, without making it; else None."""
    refusal = engine.services.destinations.refusal(lane) if "://" in lane else None
    return held_outcome(engine, refusal, state) if refusal is not None else None


def held_outcome(engine: Engine, exc: CircuitOpen, state: dict | None) -> Outcome:
    """A call held back by its destination's open circuit: not an attempt (nothing went out); tried
    again when the circuit lets a probe through. The step gives up once its receiver has been
    unavailable for as long as its retries would have lasted (``held_since`` in its state)."""
    state = dict(state or {})
    now = time.time()
    since = float(state.setdefault("held_since", now))
    window = sum(min(engine.retry_base * 4 ** k, 6 * 3600.0) for k in range(max(engine.max_attempts - 1, 0)))
    message = _describe(exc)
    if now - since > window:
        return Outcome("failed", error=f"{message} (unavailable for {(now - since) / 3600:.1f} h: gave up)",
                       state=state)
    delay = max(float(exc.retry_after or 0.0), 0.0) * random.uniform(1.0, 1.2)
    return Outcome("retrying", error=message, resume_in=min(delay, 86400.0), counted=False, state=state)


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


LATE = object()
"""What :func:`_attempt` returns for a call still in flight: the send stage settles it."""


def _attempt(session, engine: Engine, graph: Graph, run: Run, step: Step, context, flow_info, *,
             inline: bool = False):
    """One call of an action; returns the epoch second to try again at, None when settled, or
    :data:`LATE` when the call outlived the wait (``inline``: waited for, however long)."""
    node = graph.nodes[step.node_id]
    spec = graph.spec(step.node_id)
    params = open_params(engine.registry, engine.secrets, node)
    step.attempts += 1
    step.status = "running"
    step.started_at = step.started_at or utcnow()
    session.commit()  # the attempt is on record before anything leaves the process
    call = partial(
        call_action, engine, spec, node, params, context, run_id=run.id, flow_info=flow_info,
        event_type=run.event_type, attempt=step.attempts, state=step.state or {},
    )
    lane = lane_of(node["type"], params)
    refused = None if inline else refused_outcome(engine, lane, step.state)
    if refused is not None:
        outcome = refused
    elif inline:
        outcome = call()
    else:
        try:
            outcome = stage().call((run.id, None, step.node_id), lane, call)
        except Late:
            return LATE
        except Cancelled as exc:
            outcome = refused_outcome(engine, lane, step.state) or busy_outcome(engine, exc)
    wake = apply_outcome(step, outcome)
    session.commit()
    return wake


class LateSettler:
    """Settles the calls the send stage finished after their waiter had moved on (one thread).

    It stores the outcome on its step and takes the run on from there (step by step), and keeps
    the leases of runs whose calls are still in flight, so the sweeper does not resume them."""

    def __init__(self, engine: Engine, sessions):
        self.engine = engine
        self.sessions = sessions  # callable: a new SQLAlchemy Session (this thread's own)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, key, outcome, error) -> None:
        self._queue.put((key, outcome, error))
        self.start()

    def start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="late-settler", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        session = self.sessions()
        renew_every = max(self.engine.lease_seconds / 3, 0.1)
        renewed = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=renew_every)
            except queue.Empty:
                item = None
                if stage().on_late is not self:  # replaced (a new engine in this process): done
                    session.close()
                    return
            try:
                if time.monotonic() - renewed >= renew_every:
                    self._renew(session)
                    renewed = time.monotonic()
                if item is not None:
                    self.settle(session, *item)
            except Exception:
                session.rollback()
                log.exception("could not settle a late call %s", item[0] if item else "")

    def _renew(self, session: Session) -> None:
        run_ids = sorted({key[0] for key in stage().late_in_flight()})
        if not run_ids:
            return
        session.execute(
            update(Run).where(Run.id.in_(run_ids), Run.status == "running")
            .values(lease_until=utcnow() + timedelta(seconds=self.engine.lease_seconds))
            .execution_options(synchronize_session=False)
        )
        session.commit()

    def settle(self, session: Session, key, outcome, error) -> str | None:
        run_id, _graph, node_id = key
        if error is not None:
            log.error("late call of %s/%s raised %r", run_id, node_id, error)
            outcome = Outcome("failed", error=f"internal error: {error!r}")
        step = session.query(Step).filter(Step.run_id == run_id, Step.node_id == node_id).one_or_none()
        if step is None or step.status != "running":
            session.rollback()
            return None
        apply_outcome(step, outcome)
        session.execute(
            update(Run).where(Run.id == run_id, Run.status == "running")
            .values(status="queued", lease_until=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return execute_isolated(session, self.engine, run_id)


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


TRANSIENT = (OperationalError, InterfaceError, TimeoutError, ConnectionError)
"""Errors that say nothing about the run in hand: the database or its connection is unwell."""


def execute_isolated(session: Session, engine: Engine, run_id: str) -> str | None:
    """:func:`execute_run`, with a poison run recorded as failed (with the error) instead of
    being retried for ever; a transient error leaves it to the sweeper."""
    try:
        return execute_run(session, engine, run_id)
    except TRANSIENT:
        session.rollback()
        log.warning("run %s could not be executed (the database is unwell); the sweeper resumes it", run_id)
        return None
    except Exception as exc:
        session.rollback()
        log.exception("run %s cannot be executed; recorded as failed", run_id)
        fail_run(session, run_id, f"internal error: {type(exc).__name__}: {exc}")
        return "failed"


def fail_run(session: Session, run_id: str, error: str) -> None:
    """End an unfinished run as failed with ``error`` (counted in the flow's failures)."""
    error = error.encode("utf-8", "replace").decode("utf-8")[:2000]
    now = utcnow()
    flow_id = session.execute(
        update(Run).where(Run.id == run_id, Run.status.in_(("queued", "running", "waiting")))
        .values(status="failed", error=error, finished_at=now, updated_at=now, lease_until=None, next_attempt_at=None)
        .returning(Run.flow_id)
    ).scalar()
    if flow_id:
        session.execute(update(Flow).where(Flow.id == flow_id).values(failed_count=Flow.failed_count + 1))
    session.commit()


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
    wait = _attempt(session, once, graph, run, step, context, {"id": "", "name": ""}, inline=True)
    if wait is not None:  # rate limited for longer than we hold an HTTP request
        step.status = "failed"
        step.error = f"rate limited: try again in {max(0.0, wait - time.time()):.1f} s"
    run.status = "failed" if step.status == "failed" else "succeeded"
    run.error = step.error
    run.finished_at = utcnow()
    session.commit()
    return {"run_id": run.id, "status": step.status, "output": step.output, "error": step.error}
