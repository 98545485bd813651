"""Durable waits of ``flow.wait_event`` (issue #20): a run waits at the node for an event about
its order, client or visitor, with a timeout; branch ``true`` when it came, ``false`` when not.

A wait is a row of ``journey_waits`` stored with the step's ``waiting`` status, in one commit.
Three parties may end it, each with one conditional UPDATE (``… WHERE state = 'waiting'``), so
exactly one wins, once, whatever the order or the workers that crash between them:

- dispatch (batch.py, through journeys.py), in the transaction that stores the event's runs:
  the event's subjects looked up through the ``(kind, subject)`` index → ``came``, the event's
  data in ``result``, the run handed to the step path;
- the walker of the run itself, woken at the timeout (RQ's scheduler, as for ``flow.delay``) →
  ``timed_out``;
- the sweeper's timeout pass (:func:`sweep_timeouts`), through the ``timeout_at`` index, for the
  runs whose scheduled job was lost → ``timed_out``, the runs resumed.

The walker then takes the branch of whatever state the row holds (:func:`advance`).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import JSON, any_, bindparam, func, select, tuple_, update
from sqlalchemy.orm import Session

from plugin.engine.context import for_conditions, iso
from plugin.storage import bulk
from plugin.storage.journey_models import WAITING, RunCancel, Wait
from plugin.storage.models import Run, Step, utcnow

log = logging.getLogger(__name__)

NODE_TYPE = "flow.wait_event"
PARK_SECONDS = 30  # a run to be cancelled waits this long for the sweeper (every 10 s by default)
_WAITS = Wait.__table__
_RUNS = Run.__table__


def walk(walker, nid: str, step: Step) -> bool:
    """The run walker's (execution._Walk) step at a wait node: True once decided (the event that
    came joined its context), False while it waits (its wake-up noted, the wait committed)."""
    wake = advance(walker.session, walker.run, walker.graph, nid, step)
    if wake is None:
        walker.context = walker.run.context
        walker.cond_ctx = for_conditions(walker.context)
        return True
    walker.wake_at = min(walker.wake_at or float("inf"), wake)
    walker.session.commit()
    return False


def advance(session: Session, run: Run, graph, nid: str, step: Step) -> float | None:
    """Walk a wait node: start its wait, or take its branch once decided. Returns the epoch second
    to be woken at while it waits, None once the step is decided (``run.context`` may then hold the
    event under ``wait``). Nothing is committed here: the walker commits."""
    module = graph.spec(nid).module
    params = graph.nodes[nid].get("params") or {}
    now = utcnow()
    wait = session.execute(select(_WAITS).where(_WAITS.c.run_id == run.id, _WAITS.c.node_id == nid)).first()
    if wait is None:
        if session.get(RunCancel, run.id) is not None:  # cancelled while it walked: parked, not waiting,
            return (now + timedelta(seconds=PARK_SECONDS)).timestamp()  # until the sweeper ends it
        subject = module.subject(params.get("per", "order"), run.context)
        if subject is None:  # nothing to wait for: the event can never come
            _decide(step, False, {"came": False, "reason": f"no {params.get('per')} in the run's context"})
            return None
        timeout_at = now + timedelta(seconds=module.delay_seconds(params))
        session.execute(
            _WAITS.insert().values(
                run_id=run.id,
                node_id=nid,
                flow_id=run.flow_id,
                kind=module.trigger(params),
                subject=subject,
                params={k: params[k] for k in ("to_status", "to_group", "name") if params.get(k)},
                state="waiting",
                timeout_at=timeout_at,
                created_at=now,
            )
        )
        step.status = "waiting"
        step.started_at = step.started_at or now
        step.resume_at = timeout_at
        step.output = {
            "waiting_for": module.trigger(params),
            "subject": subject,
            "timeout_at": iso(timeout_at),
        }
        return timeout_at.timestamp()
    state = wait.state
    if state == "waiting":
        if wait.timeout_at > now + timedelta(milliseconds=1):
            step.resume_at = wait.timeout_at
            return wait.timeout_at.timestamp()
        if not _end(session, wait.id, "timed_out", now):  # an event won the race meanwhile
            wait = session.execute(select(_WAITS).where(_WAITS.c.id == wait.id)).first()
        state = wait.state if wait.state != "waiting" else "timed_out"
    if state == "came":
        result = wait.result or {}
        _decide(step, True, {"came": True, **result})
        run.context = _joined(run.context, result)
    else:  # timed_out (a cancelled wait's run is never walked: it is cancelled)
        _decide(step, False, {"came": False, "timeout_at": iso(wait.timeout_at)})
    return None


def _decide(step: Step, came: bool, output: dict) -> None:
    now = utcnow()
    step.status = "succeeded"
    step.verdict = came
    step.output = output
    step.started_at = step.started_at or now
    step.finished_at = now
    step.resume_at = None


def _joined(context: dict, result: dict) -> dict:
    """The run's context with the event that came: under ``wait``, and its fresher order / client
    snapshots (the same order, now paid) in their places."""
    out = {**(context or {}), "wait": result}
    for key, field in (("order", "id"), ("client", "external_id")):
        fresh, held = result.get(key), (context or {}).get(key)
        if fresh and (not held or held.get(field) == fresh.get(field)):
            out[key] = fresh
    return out


def _end(session: Session, wait_id: int, state: str, now) -> bool:
    """The one conditional UPDATE that ends a wait; whether this call ended it."""
    ended = session.execute(
        update(_WAITS)
        .where(_WAITS.c.id == wait_id, WAITING)
        .values(state=state, resolved_at=now)
        .returning(_WAITS.c.id)
    ).first()
    return ended is not None


def event_subjects(event, context: dict) -> list[str]:
    """Whom an event is about, as the waits name them: its order (order events only), the client,
    the visitor."""
    subjects = []
    order = context.get("order") or {}
    if event.trigger.startswith("order_") and order.get("id"):
        subjects.append(f"order:{order['id']}")
    client = (context.get("client") or {}).get("external_id") or order.get("client_id")
    if client:
        subjects.append(f"client:{client}")
    visit = (context.get("visit") or {}).get("id")
    if visit:
        subjects.append(f"visitor:{visit}")
    return [s[:200] for s in subjects]


def resolve(session: Session, registry, events: list, contexts: dict, now) -> list[str]:
    """Dispatch's part: the waits these events answer, ended ``came`` in the caller's transaction
    (not committed); returns their runs, to be walked on. Waits are found by ``(kind, subject)``
    among the waiting rows only; an event stored after a wait's timeout does not answer it."""
    wanted: dict[tuple[str, str], list] = {}
    for event in events:
        context = contexts.get(event.id)
        if context is None:
            continue
        for subject in event_subjects(event, context):
            wanted.setdefault((event.trigger, subject), []).append(event)
    if not wanted:
        return []
    found = session.execute(
        select(
            _WAITS.c.id,
            _WAITS.c.kind,
            _WAITS.c.subject,
            _WAITS.c.params,
            _WAITS.c.run_id,
            _WAITS.c.timeout_at,
        )
        .where(WAITING, tuple_(_WAITS.c.kind, _WAITS.c.subject).in_(list(wanted)))
        .order_by(_WAITS.c.id)
    ).all()
    if not found:
        return []
    module = registry[NODE_TYPE].module
    ends = []
    for wait in found:
        for event in wanted[(wait.kind, wait.subject)]:
            context = contexts[event.id]
            if event.created_at <= wait.timeout_at and module.matches(wait.params or {}, event.data, context):
                ends.append(
                    {"wait_id": wait.id, "event_id": event.id, "result": _result(event, context, now)}
                )
                break
    return _came(session, ends, now)


def _result(event, context: dict, now) -> dict:
    return {
        "event": event.trigger,
        "event_id": event.id,
        "at": iso(now),
        "data": event.data or {},
        "order": context.get("order"),
        "client": context.get("client"),
        "visit": context.get("visit"),
        "custom_event": context.get("event"),
    }


_CAME = (
    update(_WAITS)
    .where(_WAITS.c.id == bindparam("wait_id"), WAITING)
    .values(
        state="came",
        resolved_at=bindparam("now"),
        event_id=bindparam("event_id"),
        result=bindparam("result", type_=JSON),
    )
    .returning(_WAITS.c.run_id)
)


def _came(session: Session, ends: list[dict], now) -> list[str]:
    """End these waits ``came`` (those still waiting); their runs, marked due now (the sweeper
    resumes them should the hand-off be lost)."""
    runs = []
    for end in sorted(ends, key=lambda e: e["wait_id"]):  # one lock order for every dispatcher
        row = session.execute(_CAME, {**end, "now": now}).first()
        if row is not None:
            runs.append(row.run_id)
    if runs:
        session.execute(
            update(_RUNS)
            .where(bulk.among(session, _RUNS.c.id, runs), _RUNS.c.status == "waiting")
            .values(next_attempt_at=now, updated_at=now)
        )
    return runs


def sweep_timeouts(session: Session, now=None, limit: int = 5000) -> list[str]:
    """The sweeper's pass: up to ``limit`` waits past their timeout ended ``timed_out`` (those still
    waiting, found through the ``timeout_at`` index), in one statement; committed. Returns their
    runs, to resume (their ``next_attempt_at`` is the timeout already: the sweep of lost work
    finds them too, should this hand-off be lost)."""
    now = now or utcnow()
    started = time.monotonic()
    expired = (
        select(_WAITS.c.id)
        .where(WAITING, _WAITS.c.timeout_at <= now)
        .order_by(_WAITS.c.timeout_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":  # one index probe per id (see claim.py)
        chosen = _WAITS.c.id == any_(func.array(expired.scalar_subquery()))
    else:
        chosen = _WAITS.c.id.in_(expired)
    runs = list(
        session.scalars(
            update(_WAITS)
            .where(chosen, WAITING)
            .values(state="timed_out", resolved_at=now)
            .returning(_WAITS.c.run_id)
        )
    )
    session.commit()
    if runs:
        log.info("waits: %d timed out in %.0f ms", len(runs), (time.monotonic() - started) * 1000)
    return runs


def drop(session: Session, run_ids: list[str], now) -> None:
    """The waits of these (cancelled) runs ended ``cancelled`` (not committed)."""
    if run_ids:
        session.execute(
            update(_WAITS)
            .where(bulk.among(session, _WAITS.c.run_id, run_ids), WAITING)
            .values(state="cancelled", resolved_at=now)
        )
