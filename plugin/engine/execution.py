"""Executing a stored run step by step; every state change is committed before the next call.

The database holds the truth: a run is leased by one worker at a time, an action step is marked
``running`` (with its attempt counted) before the call and its result is committed right after,
so a crash leaves at worst a ``running`` step that is retried with the same idempotency key.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from plugin.engine import rollup, waits
from plugin.engine.calls import Engine, Outcome, busy_outcome, call_action, refused_outcome
from plugin.engine.context import for_conditions, iso
from plugin.engine.graph import DONE, Graph, StepView, choose, judge
from plugin.engine.recipients import recipient_of
from plugin.engine.sendwindow import window_outcome
from plugin.storage.models import Flow, Run, Step, new_id, utcnow
from plugin.storage.secrets import open_params
from plugin.transport.destinations import lane_of
from plugin.transport.sendstage import Cancelled, Late, stage

log = logging.getLogger(__name__)


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


def execute_run(session: Session, engine: Engine, run_id: str) -> str | None:
    """Advance one run as far as it can go now; returns its status (None if leased elsewhere)."""
    if not lease(session, run_id, engine.lease_seconds):
        return None
    walk = _Walk(session, engine, session.get(Run, run_id))
    renewed = time.monotonic()
    while (moved := walk.advance()) is True:
        # a long walk (each call waited for) keeps its lease: the sweeper would walk it too
        if time.monotonic() - renewed >= engine.lease_seconds / 3:
            walk.run.lease_until = utcnow() + timedelta(seconds=engine.lease_seconds)
            session.commit()
            renewed = time.monotonic()
    if moved is LATE:  # still leased; the late calls' settler settles the call and goes on
        stage().hand_over(run_id)
        return "running"
    return _settle(session, engine, walk.run, walk.steps, walk.graph, walk.wake_at)


_NEXT = object()  # a node that cannot move now: look at the next one
_DECIDED = object()  # a node decided: committed, and the walk starts over


class _Walk:
    """A leased run walked node by node, each change committed before the next one."""

    def __init__(self, session: Session, engine: Engine, run: Run):
        self.session, self.engine, self.run, self.run_id = session, engine, run, run.id
        self.graph = Graph(run.definition, engine.registry)
        self.steps = {s.node_id: s for s in session.query(Step).filter(Step.run_id == run.id)}
        self.context = run.context
        self.cond_ctx = for_conditions(self.context)
        self.flow_info = {"id": run.flow_id or "", "name": run.flow_name}
        self.wake_at: float | None = None  # epoch second of the earliest retry or wait's end

    def advance(self):
        """One pass in graph order: True when a node moved (walk again), else False; :data:`LATE`
        when an action's call outlived the wait."""
        views = self.graph.views(self.steps)
        for nid in self.graph.order:
            moved = self._node(nid, views)
            if moved is _DECIDED:
                self.session.commit()
                return True
            if moved is not _NEXT:
                return moved
        return False

    def _node(self, nid: str, views: dict[str, StepView]):
        step = self.steps.get(nid)
        if step is not None and step.status in DONE:
            return _NEXT
        active = self.graph.activation(nid, views)
        if active is None:
            return _NEXT
        if step is None:
            step = Step(
                run_id=self.run_id,
                node_id=nid,
                node_type=self.graph.nodes[nid]["type"],
                status="pending",
                state={},
                attempts=0,
            )
            self.session.add(step)
            self.steps[nid] = step
        if active is False:
            step.status = "not_reached"
            return _DECIDED
        return _BY_KIND.get(self.graph.kind[nid], _Walk._action)(self, nid, step)

    def _event(self, nid: str, step: Step):
        _finish(step, "succeeded")
        return _DECIDED

    def _condition(self, nid: str, step: Step):
        step.verdict, output = judge(self.graph, nid, self.cond_ctx)
        _finish(step, "succeeded")
        if output is not None:
            step.output = output
        elif step.verdict is False:
            step.output = {"verdict": False}
        return _DECIDED

    def _flow(self, nid: str, step: Step):
        if nid not in self.graph.splits:
            return self._delay(nid, step)
        view = choose(self.graph, nid, self.context, flow_id=self.run.flow_id, run_id=self.run_id)
        self.run.branch = self.run.branch or view.branch  # the analytics' branch: the variant
        step.output = view.output
        _finish(step, view.status)
        return _DECIDED

    def _delay(self, nid: str, step: Step):
        if self.graph.nodes[nid]["type"] == waits.NODE_TYPE:  # flow.wait_event: see waits.py
            return _DECIDED if waits.walk(self, nid, step) else _NEXT
        now = time.time()
        if step.resume_at is None:
            seconds = self.graph.spec(nid).module.delay_seconds(self.graph.nodes[nid].get("params") or {})
            step.status = "waiting"
            step.started_at = utcnow()
            step.resume_at = utcnow() + timedelta(seconds=seconds)
            step.output = {"delay_seconds": seconds, "resume_at": step.resume_at.isoformat() + "Z"}
        if step.resume_at.timestamp() <= now + 0.001:
            _finish(step, "succeeded")
            return _DECIDED
        self._wake(step.resume_at.timestamp())
        self.session.commit()
        return _NEXT

    def _action(self, nid: str, step: Step):
        if step.resume_at is not None and step.resume_at.timestamp() > time.time():
            self._wake(step.resume_at.timestamp())
            return _NEXT
        _mark_triggered(self.session, self.run)
        result = _attempt(self.session, self.engine, self.graph, self.run, step, self.context, self.flow_info)
        if result is LATE:
            self.session.commit()
            return LATE
        if result is not None:
            self._wake(result)
            return _NEXT
        return _DECIDED

    def _wake(self, at: float) -> None:
        self.wake_at = min(self.wake_at or float("inf"), at)


_BY_KIND = {"event": _Walk._event, "condition": _Walk._condition, "flow": _Walk._flow}


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
        rollup.count(session, run.flow_id, run.created_at, triggered=1)
        session.execute(
            update(Flow)
            .where(Flow.id == run.flow_id)
            .values(triggered_count=Flow.triggered_count + 1, last_triggered_at=now)
        )
    session.commit()


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


def _attempt(
    session, engine: Engine, graph: Graph, run: Run, step: Step, context, flow_info, *, inline: bool = False
):
    """One call of an action; returns the epoch second to try again at, None when settled, or
    :data:`LATE` when the call outlived the wait (``inline``: waited for, however long)."""
    node = graph.nodes[step.node_id]
    spec = graph.spec(step.node_id)
    params = open_params(engine.registry, engine.secrets, node, engine.connections)
    step.attempts += 1
    step.status = "running"
    step.started_at = step.started_at or utcnow()
    session.commit()  # the attempt is on record before anything leaves the process
    call = partial(
        call_action,
        engine,
        spec,
        node,
        params,
        context,
        run_id=run.id,
        flow_info=flow_info,
        event_type=run.event_type,
        attempt=step.attempts,
        state=step.state or {},
    )
    lane = lane_of(node["type"], params)
    refused = None if inline else refused_outcome(engine, lane, step.state)
    if not inline and graph.settings:  # outside the flow's send window: a wait, no call
        refused = window_outcome(engine, graph, step.node_id, step.state) or refused
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
    rollup.after_call(session, run, step.node_id, outcome)
    session.commit()
    return wake


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
    rollup.count_end(session, run, failed=bool(failed))
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
    failed = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status.in_(("queued", "running", "waiting")))
        .values(
            status="failed",
            error=error,
            finished_at=now,
            updated_at=now,
            lease_until=None,
            next_attempt_at=None,
        )
        .returning(Run.flow_id, Run.created_at)
    ).first()
    flow_id = failed[0] if failed else None
    if flow_id:
        rollup.count(session, flow_id, failed[1], failed=1)
        session.execute(update(Flow).where(Flow.id == flow_id).values(failed_count=Flow.failed_count + 1))
    session.commit()


def step_dict(step: Step) -> dict[str, Any]:
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


def execute_direct(
    session: Session,
    engine: Engine,
    spec,
    node: dict,
    sealed_node: dict,
    context: dict,
    flow: Run | None = None,
) -> dict:
    """One action called by a third-party platform (SPEC §7): recorded as a direct run, no retries.

    ``node`` carries the caller's plain params (used for this call), ``sealed_node`` the same with
    secrets encrypted (what is stored on the run). A ``flow``'s test message (``trigger`` ``test``) is
    a run template: its flow id, version and name are kept, nothing of its stats or rules is touched.
    """
    flow = flow or Run(flow_id=None, flow_version=0, flow_name="", trigger="direct", event_type="direct")
    run = Run(
        id=new_id(),
        flow_id=flow.flow_id,
        flow_version=flow.flow_version,
        flow_name=flow.flow_name,
        trigger=flow.trigger,
        event_type=flow.event_type,
        definition={"nodes": [sealed_node], "edges": []},
        status="running",
        context=context,
        order_id=(context.get("order") or {}).get("id"),
        client_id=(context.get("client") or {}).get("external_id"),
        recipient=recipient_of({"nodes": [node]}, context),
    )
    step = Step(run_id=run.id, node_id=node["id"], node_type=node["type"], status="pending", state={})
    session.add(run)
    session.add(step)
    session.commit()
    once = Engine(
        engine.registry, engine.secrets, engine.services, max_attempts=1, connections=engine.connections
    )
    graph = Graph({"nodes": [sealed_node], "edges": []}, engine.registry)
    flow_info = {"id": flow.flow_id or "", "name": flow.flow_name}
    wait = _attempt(session, once, graph, run, step, context, flow_info, inline=True)
    if wait is not None:  # rate limited for longer than we hold an HTTP request
        step.status = "failed"
        step.error = f"rate limited: try again in {max(0.0, wait - time.time()):.1f} s"
    run.status = "failed" if step.status == "failed" else "succeeded"
    run.error = step.error
    run.finished_at = utcnow()
    session.commit()
    return {"run_id": run.id, "status": step.status, "output": step.output, "error": step.error}
