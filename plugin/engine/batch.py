"""Dispatch: claimed events become runs in one transaction, and their first calls go out together.

The one path from stored events to runs, whatever the batch's size. The guarantees are those of
the step-by-step path (see execution.py), with fewer commits: T1 inserts every run with its
decided steps — condition verdicts, and each action of the first wave marked ``running`` with
its attempt counted — and marks the events dispatched, atomically (plan.py decides them).
Only then do the calls leave the process (concurrently, on kept-alive connections). T2 stores
every outcome (settle.py). A crash between T1 and T2 leaves leased ``running`` runs that the
sweeper resumes with the same idempotency keys; anything beyond the first wave (an action's
successors, retries, delays) continues on the step-by-step path.

A run's ``dedupe_key`` makes dispatching an event twice a no-op: a batch that hits an existing
run (an event claimed again after its claim ran out) leaves that run out and stores the rest.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.engine import claim, frequency, journeys, rollup
from plugin.engine.calls import Engine
from plugin.engine.context import contexts_for, for_conditions
from plugin.engine.dispatch import (
    UPSERT_TRIGGERS,
    FlowIndex,
    days_flows,
    due_flow,
    is_days_trigger,
    record_due,
)
from plugin.engine.execution import TRANSIENT
from plugin.engine.plan import Plan
from plugin.engine.settle import send_and_settle
from plugin.storage import bulk
from plugin.storage.models import Event, Flow, Order, Run, Step, utcnow
from plugin.storage.writes import Writes, insert_rows

log = logging.getLogger(__name__)

_STEPS = Step.__table__
_RUNS = Run.__table__
_EVENTS = Event.__table__
_FLOWS = Flow.__table__


def dispatch_batch(
    session: Session, engine: Engine, index: FlowIndex, event_ids: list[int], redis=None, settlers=None
) -> list[str]:
    """Dispatch claimed events; returns ids of runs that still need the step-by-step path.

    With ``settlers`` (:class:`settlers.Settlers`), the sends and their settling are handed over
    once the runs are committed, and this returns at once (the settlers take the step path
    themselves)."""
    events = _events(session, event_ids)
    index.flows_for(session, "", redis)  # refresh once for the whole batch
    plan, orphans = _plan(session, engine, index, events)
    _store(session, engine, index, events, plan, orphans)
    # whatever the batch loaded as ORM objects (flows through the index…) is done with: every
    # outcome commit below would otherwise expire each of them again
    session.expunge_all()
    if plan.waiting:
        engine.schedule_many(plan.waiting)
    runs = [r for r in plan.runs if r["id"] in plan.graphs]
    if settlers is not None and plan.sends:
        settlers.submit(runs, plan.graphs, plan.sends, plan.first_views, plan.leased_at)
        return plan.resumed  # runs whose waits the events answered walk on the step path
    settled = send_and_settle(
        session, engine, runs, plan.graphs, plan.sends, plan.first_views, plan.leased_at
    )
    return settled + plan.resumed


def _events(session: Session, event_ids) -> list:
    """The rows of the events: a :class:`claim.Claim` carries them, else they are read (rows, not
    ORM objects: see context.py)."""
    events = getattr(event_ids, "rows", None)
    if events is None:
        chosen = bulk.among(session, _EVENTS.c.id, event_ids)
        events = session.execute(select(_EVENTS).where(chosen).order_by(_EVENTS.c.id)).all()
    return events


def _plan(session: Session, engine: Engine, index: FlowIndex, events: list) -> tuple[Plan, list[int]]:
    """The runs these events fire (matched through the refreshed index), and the due events whose
    flow is no longer enabled (or no longer this N-day type)."""
    registry = engine.registry
    candidates, orphans = [], []
    for event in (e for e in events if is_days_trigger(e.trigger)):  # due: the flow named, any verdict
        target = due_flow(index, event.trigger, event.data)
        if target is not None:
            info, definition, graph = target
            candidates.append((event, info, definition, graph, registry[graph.nodes[graph.event_id]["type"]]))
        else:
            orphans.append(event.id)
    # other events: the index returns the flows whose event node matches and conditions hold
    wanted = [
        e
        for e in events
        if not is_days_trigger(e.trigger) and index.may_fire(session, e.trigger, e.data or {}, fresh=True)
    ]
    contexts = contexts_for(session, [c[0] for c in candidates] + wanted) if candidates or wanted else {}
    plan = Plan(engine, utcnow())
    aware_now = plan.now.replace(tzinfo=UTC)
    cond_ctxs = {eid: for_conditions(c, aware_now) for eid, c in contexts.items() if c is not None}
    for e in (e for e in wanted if e.id in cond_ctxs):
        seen = plan.seen[e.id] = []
        matches = index.matching(session, e.trigger, e.data or {}, cond_ctxs[e.id], fresh=True, seen=seen)
        candidates += [(e, *m) for m in matches]
    for event, info, definition, graph, spec in candidates:
        if contexts.get(event.id) is not None:
            plan.add(event, info, definition, graph, spec, contexts[event.id], cond_ctxs[event.id])
    plan.journey = journeys.prepare(session, index, registry, events, contexts)  # run modes, exits, waits
    return plan, orphans


def _store(
    session: Session, engine: Engine, index: FlowIndex, events: list, plan: Plan, orphans: list[int]
) -> None:
    """T1: the plan's runs and steps, the events dispatched, committed together. A run that
    exists already (the same event dispatched twice) is left out, and the rest stored."""
    while True:
        try:
            lost = _write(session, engine, index, events, plan, orphans)
            session.commit()
            index.recorded.update(g for groups in plan.seen.values() for g, _ in groups)
            plan.suppress(lost | plan.held.keys())
            return
        except IntegrityError:
            session.rollback()
            kept = claim.retake(session, [e.id for e in events])  # the rollback freed a held claim
            if len(kept) < len(events):
                raise ClaimLost(kept) from None
            existing = _existing_keys(session, plan.keys())
            if not existing:
                raise
            log.warning(
                "batch of %d events hit %d existing runs; storing the others", len(events), len(existing)
            )
            plan.drop(existing)


def _write(
    session: Session, engine: Engine, index: FlowIndex, events: list, plan: Plan, orphans: list[int]
) -> set[str]:
    """The statements of T1 (not committed); returns the runs stored ``suppressed`` by their
    flow's frequency rule (claimed here, so that a rolled-back T1 gives its slots back)."""
    now = plan.now
    # the upsert check (SPEC §3.1): N-day flows whose moment for an upserted order already fell
    # get their due events recorded in this same transaction; the next claim dispatches them
    upserted = {e.subject_id for e in events if e.trigger in UPSERT_TRIGGERS}
    due_flows = days_flows(session, engine.registry, index) if upserted else []
    if due_flows:
        orders = session.execute(
            select(Order.id, Order.created_at, Order.paid_at).where(bulk.among(session, Order.id, upserted))
        ).all()
        record_due(session, due_flows, orders, now)
    if plan.quiet:
        insert_rows(session, _RUNS, plan.quiet)
    plan.journey.hold(session, plan, now)  # run modes: plan.held (journeys.py)
    limited = [c for c in plan.limited if c[0] not in plan.held]
    lost = frequency.claim(session, limited, now) if limited else set()
    runs, steps, suppressed = plan.split(lost)
    writes = Writes(session)  # from here, one statement on PostgreSQL (its parts in this order)
    writes.insert(_RUNS, suppressed).insert(_RUNS, runs).insert(_STEPS, steps)
    if plan.journey.reads_runs:
        writes.flush()  # it reads the runs stored
        plan.journey.write(session, plan, now)  # exit events, waits answered: plan.resumed
    writes.update_in(_EVENTS, "id", [e.id for e in events], dispatched_at=now)
    # an orphan (no run was made): its (flow, order) key freed, so that re-enabling the flow
    # catches the order up (within catch_up_hours) instead of the old key blocking it forever
    writes.update_in(_EVENTS, "id", orphans, dedupe_key=None)
    _tally(session, index, plan, runs, suppressed, writes)
    # last: a flow's row is locked from here to the commit, and a concurrent dispatch job
    # updating the same flow waits for it (it waited through the events' update before); the
    # flows in one order (a batch's runs are mostly of one flow)
    for flow_id, count in sorted(Counter(run["flow_id"] for run in runs).items()):
        row = {"id": flow_id, "triggered_count": count, "last_triggered_at": now}
        writes.add_to(_FLOWS, "id", row, counts=("triggered_count",))
    held = Counter(row["flow_id"] for row in suppressed if row["status"] == "suppressed")
    for flow_id, count in sorted(held.items()):  # (a run a restart replaced is stored cancelled)
        writes.add_to(_FLOWS, "id", {"id": flow_id, "suppressed_count": count}, counts=("suppressed_count",))
    writes.flush()
    return lost


def _tally(
    session: Session,
    index: FlowIndex,
    plan: Plan,
    runs: list[dict],
    suppressed: list[dict],
    writes: Writes,
) -> None:
    """The batch's counts by the hour (engine/rollup.py), added to ``writes``: runs triggered,
    held back, not triggered, and the events each group of flows saw."""
    tally, now = rollup.Tally(), plan.now
    for row in runs:
        tally.add(row["flow_id"], now, "triggered")
        tally.add(row["flow_id"], now, "fired", row["trigger"] == "event")
    for row in suppressed:
        tally.add(row["flow_id"], now, "suppressed")
        tally.add(row["flow_id"], now, "fired", row["trigger"] == "event")
    for row in plan.quiet:
        tally.add(row["flow_id"], now, "not_triggered")
    new_groups = {}
    for groups in plan.seen.values():
        for group_id, flow_ids in groups:
            tally.saw(group_id, now)
            if group_id not in index.recorded:
                new_groups[group_id] = flow_ids
    rollup.record_groups(session, new_groups)
    tally.gather(writes)


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    """Which of these run dedupe keys are taken already."""
    if not keys:
        return set()
    taken = select(_RUNS.c.dedupe_key).where(bulk.among(session, _RUNS.c.dedupe_key, keys))
    return set(session.scalars(taken))


class ClaimLost(Exception):
    """A rollback freed the batch's held claim and another worker took some of its events before
    they were locked again: the batch is planned anew with those still held (``kept``)."""

    def __init__(self, kept):
        super().__init__(f"{len(kept)} events still held")
        self.kept = kept


def dispatch_isolating(
    session: Session,
    engine: Engine,
    index: FlowIndex,
    event_ids: list[int],
    redis=None,
    settlers=None,
    *,
    retake: bool = False,
) -> list[str]:
    """:func:`dispatch_batch`, with a poison event isolated: when the batch fails for a reason of
    its events, it is halved until the event that fails alone is found; that one is recorded as
    dispatched with its ``error`` (no run), and every other event of the batch goes on.

    The halves are claimed again first (``retake``): the rollback, and the first half's commit,
    freed a held claim (claim.py)."""
    if retake:
        event_ids = claim.retake(session, list(event_ids))
        if not event_ids:
            return []
    try:
        return dispatch_batch(session, engine, index, event_ids, redis, settlers)
    except ClaimLost as lost:
        return dispatch_isolating(session, engine, index, lost.kept, redis, settlers) if lost.kept else []
    except TRANSIENT:
        session.rollback()
        raise
    except Exception as exc:  # noqa: BLE001 - one of these events, or a bug it triggers
        session.rollback()
        ids = list(event_ids)
        if len(ids) == 1:
            if claim.retake(session, ids):
                _record_failed_event(session, ids[0], exc)
            return []
        half = len(ids) // 2
        return dispatch_isolating(
            session, engine, index, ids[:half], redis, settlers, retake=True
        ) + dispatch_isolating(session, engine, index, ids[half:], redis, settlers, retake=True)


def _record_failed_event(session: Session, event_id: int, exc: Exception) -> None:
    log.error("event %s cannot be dispatched; recorded as failed: %r", event_id, exc, exc_info=exc)
    message = f"dispatch failed: {type(exc).__name__}: {exc}"
    message = message.encode("utf-8", "replace").decode("utf-8")[:2000]  # storable, whatever it quotes
    session.execute(
        update(_EVENTS)
        .where(_EVENTS.c.id == event_id, _EVENTS.c.dispatched_at.is_(None))
        .values(dispatched_at=utcnow(), error=message)
    )
    session.commit()
