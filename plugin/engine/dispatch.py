"""From stored events to runs: match flows by event type through an index, create runs once.

A run row (with its context snapshot) is committed before any job for it is enqueued; the
``dedupe_key`` makes dispatching the same event twice, or sweeping the same order twice, a no-op.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.engine import context as ctx
from plugin.engine.runner import Graph
from plugin.nodes.conditions._operators import fold, split_list, to_text
from plugin.registry import Registry
from plugin.storage.models import CustomEvent, Event, Flow, Order, Run, Visit, new_id, utcnow

log = logging.getLogger(__name__)


class FlowIndex:
    """Enabled flows grouped by trigger, cached per process and refreshed when flows change.

    The cache is keyed by a generation counter in Redis that every flow write bumps, so a
    worker scans nothing per event: one dict lookup, then only the flows of that event type.
    """

    def __init__(self, registry: Registry):
        self.registry = registry
        self.generation: bytes | None = None
        self.by_trigger: dict[str, list[tuple[Flow, dict, Graph]]] = {}
        self.by_key: dict[str, dict[str, list]] = {}  # trigger -> folded key -> flows
        self.checked_at = 0.0

    def candidates(self, session: Session, trigger: str, data: dict, redis=None, *, fresh: bool = False):
        """The flows an event may fire: those without a key filter, plus those filed under its key.

        ``fresh``: the caller refreshed the index for this batch already (one Redis read a batch).
        """
        flows = self.by_trigger.get(trigger, []) if fresh else self.flows_for(session, trigger, redis)
        keyed = self.by_key.get(trigger)
        if keyed is None:
            return flows
        value = data.get(self.index_field[trigger])
        hits = keyed.get(fold(to_text(value).strip()), []) if value is not None else []
        return flows + hits

    def flows_for(self, session: Session, trigger: str, redis=None) -> list[tuple[dict, dict, Graph]]:
        generation = None
        if redis is not None:
            try:
                generation = redis.get("automation:flows:generation") or b"0"
            except Exception:  # Redis down: fall back to a short time-based refresh
                generation = None
        stale = generation is None and time.monotonic() - self.checked_at > 2.0
        if generation != self.generation or stale or not self.checked_at:
            self._load(session)
            self.generation = generation
            self.checked_at = time.monotonic()
        return self.by_trigger.get(trigger, [])

    def _load(self, session: Session) -> None:
        by_trigger: dict[str, list] = {}
        by_key: dict[str, dict[str, list]] = {}
        self.index_field: dict[str, str] = {}
        triggers_of = {n.type: n.module.TRIGGERS for n in self.registry.of_kind("event")}
        index_key = {n.type: getattr(n.module, "INDEX_KEY", None) for n in self.registry.of_kind("event")}
        rows = session.execute(
            select(Flow.id, Flow.name, Flow.version, Flow.event_type, Flow.definition, Flow.enabled_at)
            .where(Flow.enabled.is_(True))
        ).all()
        for row in rows:
            info = {
                "id": row.id, "name": row.name, "version": row.version, "event_type": row.event_type,
                "enabled_at": row.enabled_at,
            }
            graph = Graph(row.definition, self.registry)
            param = index_key.get(row.event_type)
            keys = set()
            if param:
                event_params = graph.nodes[graph.event_id].get("params") or {}
                keys = {fold(k) for k in split_list(event_params.get(param))}
            for trigger in triggers_of.get(row.event_type, ()):
                if param:
                    self.index_field[trigger] = param
                    by_key.setdefault(trigger, {})
                if keys:
                    for key in keys:
                        by_key[trigger].setdefault(key, []).append((info, row.definition, graph))
                else:
                    by_trigger.setdefault(trigger, []).append((info, row.definition, graph))
        self.by_trigger = by_trigger
        self.by_key = by_key


def bump_generation(redis) -> None:
    try:
        redis.incr("automation:flows:generation")
    except Exception:
        log.warning("could not bump the flow generation in Redis; workers refresh within 2 s")


def event_context(session: Session, event: Event) -> dict | None:
    if event.trigger in ("order_created", "order_status_changed", "order_updated"):
        order = session.get(Order, event.subject_id)
        return ctx.for_order(session, order) if order else None
    if event.trigger == "visit_created":
        visit = session.get(Visit, event.subject_id)
        return ctx.for_visit(session, visit) if visit else None
    if event.trigger == "custom_event":
        custom = session.get(CustomEvent, event.subject_id)
        return ctx.for_custom_event(session, custom) if custom else None
    return None


def payload_event_type(registry: Registry, event_node_type: str) -> str:
    return registry[event_node_type].module.PAYLOAD_EVENT_TYPE


def dispatch_event(session: Session, registry: Registry, index: FlowIndex, event_id: int, redis=None) -> list[str]:
    """Create the runs one stored event fires; returns their ids (already committed)."""
    event = session.get(Event, event_id)
    if event is None:
        return []
    created: list[str] = []
    context = None
    for info, definition, graph in index.candidates(session, event.trigger, event.data or {}, redis):
        event_node = graph.nodes[graph.event_id]
        spec = registry[event_node["type"]]
        if not spec.module.matches(event_node.get("params") or {}, {"type": event.trigger, "data": event.data or {}}):
            continue
        if context is None:
            context = event_context(session, event)
            if context is None:
                break
        if not graph.reaches_action(context):
            continue
        run_id = _create_run(
            session, info, definition, context, trigger="event", event_id=event.id,
            event_type=spec.module.PAYLOAD_EVENT_TYPE, dedupe_key=f"ev:{event.id}:{info['id']}",
        )
        if run_id:
            created.append(run_id)
    if event.trigger.startswith("order_"):
        order = session.get(Order, event.subject_id)
        if order is not None:
            created += check_order_due(session, registry, order)
    if event.dispatched_at is None:
        event.dispatched_at = utcnow()
    session.commit()
    return created


def _create_run(session, info, definition, context, *, trigger, event_id, event_type, dedupe_key) -> str | None:
    run = Run(
        id=new_id(),
        flow_id=info["id"],
        flow_version=info["version"],
        flow_name=info["name"],
        definition=definition,
        trigger=trigger,
        event_id=event_id,
        event_type=event_type,
        dedupe_key=dedupe_key,
        status="queued",
        context=context,
        order_id=(context.get("order") or {}).get("id"),
        client_id=(context.get("client") or {}).get("external_id"),
    )
    nested = session.begin_nested()
    session.add(run)
    try:
        nested.commit()
    except IntegrityError:
        nested.rollback()
        return None
    return run.id


# -- date-relative events (SPEC §3.1) --------------------------------------------------------


def _days_flows(session: Session, registry: Registry):
    types = [n.type for n in registry.of_kind("event") if getattr(n.module, "TIME_FIELD", None)]
    return session.scalars(select(Flow).where(Flow.enabled.is_(True), Flow.event_type.in_(types))).all()


def _window(flow: Flow, params: dict, now):
    """The moments (``time field + N days``) this flow still has to fire for: (start, now]."""
    catch_up = timedelta(hours=int(params.get("catch_up_hours", 24)))
    floor = (flow.enabled_at or now) - catch_up
    start = max(flow.sweep_watermark, floor) if flow.sweep_watermark else floor
    return start, floor


def sweep_days(session: Session, registry: Registry, now=None, batch: int = 5000) -> list[str]:
    """Fire every N-day flow once for each order whose moment fell due since the last sweep."""
    now = now or utcnow()
    created: list[str] = []
    for flow in _days_flows(session, registry):
        graph = Graph(flow.definition, registry)
        event_node = graph.nodes[graph.event_id]
        spec = registry[event_node["type"]]
        params = event_node.get("params") or {}
        days = timedelta(days=int(params.get("days", 0)))
        column = getattr(Order, spec.module.TIME_FIELD)
        start, _floor = _window(flow, params, now)
        # moment = column + days in (start, now]  <=>  column in (start - days, now - days]
        # 1 s of overlap with the last sweep covers rows committed late; dedupe keeps it exact
        low, high = start - days - timedelta(seconds=1), now - days
        info = {"id": flow.id, "name": flow.name, "version": flow.version}
        last_id = ""
        while True:
            orders = session.scalars(
                select(Order)
                .where(column.is_not(None), column > low, column <= high, Order.id > last_id)
                .order_by(Order.id)
                .limit(batch)
            ).all()
            if not orders:
                break
            last_id = orders[-1].id
            keys = {f"days:{flow.id}:{o.id}": o for o in orders}
            done = set(session.scalars(select(Run.dedupe_key).where(Run.dedupe_key.in_(list(keys)))).all())
            due = {key: order for key, order in keys.items() if key not in done}
            if due:
                created += _fire_days_bulk(session, graph, info, flow.definition, spec, due, now)
        flow.sweep_watermark = now
        session.commit()
    return created


def _fire_days_bulk(session, graph, info, definition, spec, due: dict[str, Order], now) -> list[str]:
    """Create the runs of many due orders with one multi-row insert; contexts are built in bulk."""
    from types import SimpleNamespace

    from plugin.engine.batch import contexts_for

    subjects = [SimpleNamespace(id=o.id, trigger="order_created", subject_id=o.id) for o in due.values()]
    contexts = contexts_for(session, subjects)
    rows, queued = [], []
    for key, order in due.items():
        context = contexts[order.id]
        triggered = graph.reaches_action(context, now)
        run_id = new_id()
        rows.append({
            "id": run_id, "flow_id": info["id"], "flow_version": info["version"], "flow_name": info["name"],
            "definition": definition, "trigger": "schedule", "event_id": None,
            "event_type": spec.module.PAYLOAD_EVENT_TYPE, "dedupe_key": key,
            "status": "queued" if triggered else "not_triggered", "triggered": False, "counted": False,
            "context": context, "order_id": order.id, "client_id": (context.get("client") or {}).get("external_id"),
            "created_at": now, "updated_at": now, "finished_at": None if triggered else now,
        })
        if triggered:
            queued.append(run_id)
    try:
        session.execute(insert(Run), rows)
        session.commit()
    except IntegrityError:  # an upsert check fired some of them meanwhile: one at a time, exactly once
        session.rollback()
        queued = []
        for key, order in due.items():
            run_id = _fire_days(session, graph, info, definition, spec, order, key)
            if run_id:
                queued.append(run_id)
        session.commit()
    return queued


def _fire_days(session, graph, info, definition, spec, order: Order, key: str) -> str | None:
    context = ctx.for_order(session, order)
    run_id = _create_run(
        session, info, definition, context, trigger="schedule", event_id=None,
        event_type=spec.module.PAYLOAD_EVENT_TYPE, dedupe_key=key,
    )
    if run_id and not graph.reaches_action(context):
        run = session.get(Run, run_id)
        run.status = "not_triggered"
        run.finished_at = utcnow()
        return None
    return run_id


def check_order_due(session: Session, registry: Registry, order: Order, now=None) -> list[str]:
    """On upsert: fire N-day flows whose moment for this order is already due (SPEC §3.1)."""
    now = now or utcnow()
    created = []
    for flow in _days_flows(session, registry):
        graph = Graph(flow.definition, registry)
        event_node = graph.nodes[graph.event_id]
        spec = registry[event_node["type"]]
        params = event_node.get("params") or {}
        value = getattr(order, spec.module.TIME_FIELD)
        if value is None:
            continue
        moment = value + timedelta(days=int(params.get("days", 0)))
        _start, floor = _window(flow, params, now)
        if not (floor <= moment <= now):
            continue
        key = f"days:{flow.id}:{order.id}"
        if session.scalar(select(Run.id).where(Run.dedupe_key == key)):
            continue
        info = {"id": flow.id, "name": flow.name, "version": flow.version}
        run_id = _fire_days(session, graph, info, flow.definition, spec, order, key)
        if run_id:
            created.append(run_id)
    session.commit()
    return created


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
            Run.status.in_(("queued", "running", "waiting")),
            or_(Run.lease_until.is_(None), Run.lease_until < now),
            or_(Run.next_attempt_at.is_(None), Run.next_attempt_at <= now),
            or_(Run.status != "queued", Run.updated_at < now - timedelta(seconds=5)),
            and_(Run.created_at < now - timedelta(seconds=2)),
        )
        .limit(limit)
    ).all()
    return list(events), list(runs)
