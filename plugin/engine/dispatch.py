"""What feeds the one dispatch path (engine/batch.py), besides the events ingestion stores: the due events of
N-day flows (the sweep and the upsert check), the sweep of lost work, the flow generation.

Runs are made in one place, batch.dispatch_batch: a run row (with its context snapshot) is
committed before anything of it is sent, and its ``dedupe_key`` makes dispatching the same event
twice, or sweeping the same order twice, a no-op.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import JSON, DateTime, String, and_, literal, or_, select, update
from sqlalchemy.orm import Session

from plugin.engine.index import FlowIndex  # the flow index lives there; importable from here too
from plugin.registry import Registry
from plugin.storage.models import NOT_SUCCEEDED, Event, Flow, Order, Run, utcnow

log = logging.getLogger(__name__)


def bump_generation(redis) -> None:
    try:
        redis.incr("automation:flows:generation")
    except Exception:  # noqa: BLE001 - Redis unreachable: workers refresh on their own
        log.warning("could not bump the flow generation in Redis; workers refresh within 2 s")


# -- date-relative events (SPEC §3.1) --------------------------------------------------------
#
# A due (flow, order) is recorded as an engine event — trigger ``order_days_since_created`` /
# ``order_days_since_paid``, ``data = {"flow_id": …}``, ``dedupe_key = days:{flow}:{order}`` —
# with ``INSERT … ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`` (the unique
# index is partial, as only due events carry a key, and a conflict target must state the
# predicate for either database to infer it): the sweep (one set-based statement per flow) and
# the upsert check race freely, the row exists once. The batched dispatch turns these
# events into runs like any other event, evaluating the flow's conditions against the order's
# state at dispatch; a due event targets only the flow it names. The run keeps the dedupe key
# ``days:{flow}:{order}``, so an event dispatched twice still makes one run.

UPSERT_TRIGGERS = ("order_created", "order_status_changed", "order_dates_changed", "order_updated")
OVERLAP = timedelta(seconds=1)  # each sweep re-reads 1 s before its watermark: rows committed late


class DaysFlow(NamedTuple):
    id: str
    trigger: str  # the event trigger of this flow's due events
    field: str  # Order time field (created_at / paid_at)
    days: timedelta
    catch_up: timedelta
    enabled_at: object  # naive UTC datetime or None

    def floor(self, now):
        """The earliest moment this flow fires for: ``catch_up_hours`` before it was enabled."""
        return (self.enabled_at or now) - self.catch_up


def days_key(flow_id: str, order_id: str) -> str:
    return f"days:{flow_id}:{order_id}"


def days_triggers(registry: Registry) -> dict[str, str]:
    """Event node type → trigger of its due events, for the N-day event types."""
    return {
        n.type: n.module.TRIGGERS[0]
        for n in registry.of_kind("event")
        if getattr(n.module, "TIME_FIELD", None)
    }


def is_days_trigger(trigger: str) -> bool:
    return trigger in ("order_days_since_created", "order_days_since_paid")


def due_flow(index: FlowIndex, trigger: str, data: dict | None):
    """A due event fires exactly the flow it was recorded for, never another flow of its type.

    The flow a due event names — ``(info, definition, graph)`` — if it is still enabled with
    this trigger, else None. One dict lookup (cached per index load; refresh the index first)."""
    cached = getattr(index, "_due_by_id", None)
    if cached is None or cached[0] is not index.by_trigger:
        by_id = {
            (trig, entry[0]["id"]): entry
            for trig in ("order_days_since_created", "order_days_since_paid")
            for entry in index.by_trigger.get(trig, ())
        }
        cached = index._due_by_id = (index.by_trigger, by_id)
    return cached[1].get((trigger, (data or {}).get("flow_id")))


def _days_flow(registry: Registry, flow_id, event_type, definition, enabled_at) -> DaysFlow | None:
    node = next((n for n in definition.get("nodes", ()) if n.get("type") == event_type), None)
    if node is None:
        return None
    module = registry[event_type].module
    params = node.get("params") or {}
    return DaysFlow(
        id=flow_id,
        trigger=module.TRIGGERS[0],
        field=module.TIME_FIELD,
        days=timedelta(days=int(params.get("days", 0))),
        catch_up=timedelta(hours=int(params.get("catch_up_hours", 24))),
        enabled_at=enabled_at,
    )


def days_flows(session: Session, registry: Registry, index: FlowIndex | None = None) -> list[DaysFlow]:
    """The enabled N-day flows: from the (already refreshed) index when given, else one query."""
    types = days_triggers(registry)
    out = []
    if index is not None:
        # cached per index load: ``by_trigger`` is a new dict each time the index reloads
        cached = getattr(index, "_days_flows", None)
        if cached is not None and cached[0] is index.by_trigger:
            return cached[1]
        for event_type, trigger in types.items():
            for info, definition, _graph in index.by_trigger.get(trigger, ()):
                flow = _days_flow(registry, info["id"], event_type, definition, info.get("enabled_at"))
                if flow is not None:
                    out.append(flow)
        index._days_flows = (index.by_trigger, out)
        return out
    rows = session.execute(
        select(Flow.id, Flow.event_type, Flow.definition, Flow.enabled_at).where(
            Flow.enabled.is_(True), Flow.event_type.in_(list(types))
        )
    ).all()
    for row in rows:
        flow = _days_flow(registry, row.id, row.event_type, row.definition, row.enabled_at)
        if flow is not None:
            out.append(flow)
    return out


def _insert_events(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(Event)


def _once_per_key(stmt):
    """``ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING``: the partial unique index."""
    return stmt.on_conflict_do_nothing(
        index_elements=["dedupe_key"], index_where=Event.dedupe_key.is_not(None)
    )


def sweep_days(session: Session, registry: Registry, now=None) -> list[int]:
    """Record, once, a due event for every (N-day flow, order) whose moment fell due since the
    flow's last sweep; returns the ids of the events recorded now (already committed).

    One ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per flow over the order time-field index,
    and the flow's watermark advanced, all in one transaction. Nothing is built in Python per
    order: the runs come from dispatching these events (the caller notifies dispatch).
    """
    now = now or utcnow()
    recorded: list[int] = []
    types = days_triggers(registry)
    flows = session.execute(
        select(Flow.id, Flow.event_type, Flow.definition, Flow.enabled_at, Flow.sweep_watermark)
        .where(Flow.enabled.is_(True), Flow.event_type.in_(list(types)))
        .order_by(Flow.id)
    ).all()
    session.commit()
    orders = Order.__table__
    # keys are inserted in one order everywhere — flow id, then order id bytewise (as the upsert
    # check sorts them) — so concurrent sweeps and upsert checks wait for each other, never deadlock
    by_id = orders.c.id.collate("C") if session.get_bind().dialect.name == "postgresql" else orders.c.id
    for row in flows:
        flow = _days_flow(registry, row.id, row.event_type, row.definition, row.enabled_at)
        if flow is None:
            continue
        column = orders.c[flow.field]
        # moment = column + N days; due when floor <= moment <= now, and not before the
        # watermark (minus the overlap) once the flow has been swept
        floor = flow.floor(now)
        where = [column.is_not(None), column <= now - flow.days]
        if row.sweep_watermark is not None and row.sweep_watermark - OVERLAP > floor:
            where.append(column > row.sweep_watermark - OVERLAP - flow.days)
        else:
            where.append(column >= floor - flow.days)
        due = (
            select(
                literal(flow.trigger, String),
                orders.c.id,
                literal({"flow_id": flow.id}, JSON),
                literal(now, DateTime),
                literal(f"days:{flow.id}:", String) + orders.c.id,
            )
            .where(*where)
            .order_by(by_id)
        )
        columns = ["trigger", "subject_id", "data", "created_at", "dedupe_key"]
        stmt = _once_per_key(_insert_events(session).from_select(columns, due)).returning(Event.id)
        recorded += session.execute(stmt).scalars().all()
        session.execute(
            update(Flow)
            .where(Flow.id == flow.id, or_(Flow.sweep_watermark.is_(None), Flow.sweep_watermark < now))
            .values(sweep_watermark=now)
            .execution_options(synchronize_session=False)
        )
    session.commit()  # one transaction: every flow's due events and watermark, or none
    return recorded


def record_due(session: Session, flows: list[DaysFlow], orders, now=None) -> list[int]:
    """The upsert check: record the due events of these orders (objects or rows with ``id`` and
    the time fields) for the given N-day flows, whatever the watermark. Does not commit."""
    if not flows:
        return []
    now = now or utcnow()
    rows, seen = [], set()
    for order in orders:
        for flow in flows:
            value = getattr(order, flow.field, None)
            if value is None:
                continue
            if not (flow.floor(now) <= value + flow.days <= now):
                continue
            key = days_key(flow.id, order.id)
            if key in seen:
                continue
            seen.add(key)
            rows.append(
                {
                    "trigger": flow.trigger,
                    "subject_id": order.id,
                    "data": {"flow_id": flow.id},
                    "created_at": now,
                    "dedupe_key": key,
                }
            )
    if not rows:
        return []
    rows.sort(key=lambda r: (r["data"]["flow_id"], r["subject_id"]))  # the sweep's order: no deadlock
    stmt = _once_per_key(_insert_events(session)).returning(Event.id)
    return list(session.execute(stmt, rows).scalars().all())


def stale_work(session: Session, now=None, limit: int = 1000) -> tuple[list[int], list[str]]:
    """Events never dispatched and runs not finished whose time has come (lost jobs)."""
    now = now or utcnow()
    events = session.scalars(
        select(Event.id)
        .where(Event.dispatched_at.is_(None), Event.created_at < now - timedelta(seconds=5))
        .order_by(Event.id)
        .limit(limit)
    ).all()
    runs = session.scalars(
        select(Run.id)
        .where(
            NOT_SUCCEEDED,  # the partial index's own term: see models.NOT_SUCCEEDED
            Run.status.in_(("queued", "running", "waiting")),
            or_(Run.lease_until.is_(None), Run.lease_until < now),
            or_(Run.next_attempt_at.is_(None), Run.next_attempt_at <= now),
            or_(Run.status != "queued", Run.updated_at < now - timedelta(seconds=5)),
            and_(Run.created_at < now - timedelta(seconds=2)),
        )
        .limit(limit)
    ).all()
    return list(events), list(runs)
