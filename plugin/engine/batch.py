"""Batched dispatch: claim stored events, create their runs in one transaction, send concurrently.

The guarantees are those of the step-by-step path (see execution.py), with fewer commits:
T1 inserts every run with its decided steps — condition verdicts, and each action of the first
wave marked ``running`` with its attempt counted — and marks the events dispatched, atomically.
Only then do the calls leave the process (concurrently, on kept-alive connections). T2 stores
every outcome. A crash between T1 and T2 leaves leased ``running`` runs that the sweeper resumes
with the same idempotency keys; anything beyond the first wave (an action's successors, retries,
delays) continues on the step-by-step path.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import any_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.engine import context as ctx
from plugin.engine.context import for_conditions
from plugin.engine.dispatch import (
    UPSERT_TRIGGERS,
    FlowIndex,
    days_flows,
    days_key,
    dispatch_event,
    due_flow,
    is_days_trigger,
    record_due,
)
from plugin.engine.execution import TRANSIENT, Engine, busy_outcome, call_action, refused_outcome
from plugin.engine.runner import DONE, Graph, StepView, evaluate
from plugin.storage import bulk
from plugin.storage.models import Client, CustomEvent, Event, Flow, Order, Run, Step, Visit, new_id, utcnow
from plugin.storage.secrets import open_params
from plugin.transport.destinations import lane_of
from plugin.transport.sendstage import Cancelled, stage

log = logging.getLogger(__name__)

class Claim(list):
    """The ids of claimed events, in order, with their rows as the claim returned them (``rows``),
    so that dispatching the batch needs no second read of the events."""

    rows: list


def claim_events(session: Session, limit: int, lease_seconds: float) -> Claim:
    """Take up to ``limit`` undispatched events for this worker (others skip them)."""
    now = utcnow()
    postgresql = session.get_bind().dialect.name == "postgresql"
    statement = _claim_statement(postgresql, limit)
    rows = session.execute(statement, {"now": now, "until": now + timedelta(seconds=lease_seconds)}).all()
    rows.sort(key=lambda row: row.id)
    session.commit()
    claim = Claim(row.id for row in rows)
    claim.rows = rows
    return claim


_CLAIMS: dict[tuple[bool, int], Any] = {}


def _claim_statement(postgresql: bool, limit: int):
    """The claim's UPDATE, built once per database kind and limit (its times are parameters)."""
    key = (postgresql, limit)
    if key in _CLAIMS:
        return _CLAIMS[key]
    # the table's columns, not the entity's attributes: an ORM attribute anywhere in an UPDATE
    # sends it through the ORM's bulk-update path (session synchronisation), ~11 % of a dispatch
    # worker's CPU at 200 events/s
    table = Event.__table__
    claimable = (table.c.claimed_until.is_(None)) | (table.c.claimed_until < bindparam("now"))
    pending = select(table.c.id).where(table.c.dispatched_at.is_(None)).where(claimable)
    pending = pending.order_by(table.c.id).limit(limit)
    if postgresql:
        pending = pending.with_for_update(skip_locked=True)
    # computed once (a MATERIALIZED CTE): as a plain ``IN (subquery)`` PostgreSQL may plan it as
    # the inner side of a nested loop and rescan it per row, and each rescan skips the rows this
    # statement already updated and returns the next ones — claiming the whole backlog at once
    pending = pending.cte("pending")
    if postgresql:
        pending = pending.prefix_with("MATERIALIZED")
        # ``id = ANY(ARRAY(…))``: one primary-key probe per claimed id. As ``IN (SELECT … FROM
        # pending)`` the planner, which estimates the CTE at one row, joined it by a nested loop
        # over every undispatched event: ~90 ms per claim of 200 behind a backlog
        chosen = table.c.id == any_(func.array(select(pending.c.id).scalar_subquery()))
    else:
        chosen = table.c.id.in_(select(pending.c.id))
    _CLAIMS[key] = (
        update(table)
        .where(chosen)
        .where(table.c.dispatched_at.is_(None))
        .where(claimable)
        .values(claimed_until=bindparam("until"))
        # what dispatching needs (not ``error``: a claim made before migration 0006 works too)
        .returning(table.c.id, table.c.trigger, table.c.subject_id, table.c.data, table.c.created_at,
                   table.c.dispatched_at, table.c.dedupe_key)
    )
    return _CLAIMS[key]


def contexts_for(session: Session, events: list) -> dict[int, dict | None]:
    """The run context of every event, with a handful of queries for the whole batch.

    Rows are read through the tables (Core), not as ORM objects: the context builders only read
    attributes, and building an instance with its identity-map state cost a quarter of a
    dispatch worker's CPU."""
    def by_id(model, key, ids):
        ids = {i for i in ids if i}
        if not ids:
            return {}
        table = model.__table__
        rows = session.execute(select(table).where(bulk.among(session, table.c[key], ids)))
        return {getattr(row, key): row for row in rows}

    orders = by_id(Order, "id", [e.subject_id for e in events if e.trigger.startswith("order_")])
    customs = by_id(CustomEvent, "id", [e.subject_id for e in events if e.trigger == "custom_event"])
    visit_ids = [e.subject_id for e in events if e.trigger == "visit_created"]
    visit_ids += [o.visit_id for o in orders.values()] + [c.visit_id for c in customs.values()]
    visits = by_id(Visit, "id", visit_ids)
    client_ids = [o.client_id for o in orders.values()] + [v.client_id for v in visits.values()]
    client_ids += [c.client_id for c in customs.values()]
    clients = by_id(Client, "external_id", client_ids)
    counts = {}
    if clients:
        counts = dict(
            session.execute(
                select(Order.client_id, func.count()).where(bulk.among(session, Order.client_id, clients)).group_by(Order.client_id)
            ).all()
        )
    latest: dict[str, Order | None] = {}

    def latest_order(client_id):
        if not client_id:
            return None
        if client_id not in latest:
            orders_table = Order.__table__
            latest[client_id] = session.execute(
                select(orders_table).where(orders_table.c.client_id == client_id)
                .order_by(orders_table.c.created_at.desc()).limit(1)
            ).first()
        return latest[client_id]

    out: dict[int, dict | None] = {}
    for event in events:
        if event.trigger.startswith("order_"):
            order = orders.get(event.subject_id)
            if order is None:
                out[event.id] = None
                continue
            client_id = order.client_id
            out[event.id] = {
                "visit": ctx.visit_dict(visits.get(order.visit_id)),
                "order": ctx.order_dict(order),
                "client": ctx.client_dict(clients.get(client_id)),
                "event": None,
                "client_orders_count": counts.get(client_id, 0),
            }
        elif event.trigger == "visit_created":
            visit = visits.get(event.subject_id)
            if visit is None:
                out[event.id] = None
                continue
            out[event.id] = {
                "visit": ctx.visit_dict(visit),
                "order": ctx.order_dict(latest_order(visit.client_id)),
                "client": ctx.client_dict(clients.get(visit.client_id)),
                "event": None,
                "client_orders_count": counts.get(visit.client_id, 0),
            }
        elif event.trigger == "custom_event":
            custom = customs.get(event.subject_id)
            if custom is None:
                out[event.id] = None
                continue
            visit = visits.get(custom.visit_id)
            client_id = custom.client_id or (visit.client_id if visit else None)
            out[event.id] = {
                "visit": ctx.visit_dict(visit),
                "order": ctx.order_dict(latest_order(client_id)),
                "client": ctx.client_dict(clients.get(client_id)),
                "event": ctx.custom_event_dict(custom),
                "client_orders_count": counts.get(client_id, 0),
            }
        else:
            out[event.id] = None
    return out


def _first_wave(graph: Graph, context: dict, now) -> tuple[dict[str, StepView], list[str]]:
    """Decide event and conditions in memory; return their steps and the actions reached first."""
    views: dict[str, StepView] = {}
    actions: list[str] = []
    cond_ctx = for_conditions(context, now)
    for nid in graph.order:
        active = graph.activation(nid, views)
        if active is None:
            continue
        if active is False:
            continue
        kind = graph.kind[nid]
        if kind == "event":
            views[nid] = StepView(status="succeeded")
        elif kind == "condition":
            views[nid] = StepView(status="succeeded", verdict=evaluate(graph, nid, cond_ctx))
        elif kind == "action":
            views[nid] = StepView(status="running", attempts=1)
            actions.append(nid)
        # a delay stays undecided: the step-by-step path starts its wait
    return views, actions


def dispatch_batch(session: Session, engine: Engine, index: FlowIndex, event_ids: list[int], redis=None,
                   settlers=None) -> list[str]:
    """Dispatch claimed events; returns ids of runs that still need the step-by-step path.

    With ``settlers`` (:class:`Settlers`), the sends and their settling are handed over once the
    runs are committed, and this returns at once (the settlers take the step path themselves)."""
    events = getattr(event_ids, "rows", None)  # a Claim: the rows it returned
    if events is None:
        table = Event.__table__  # rows, not ORM objects (see contexts_for)
        events = session.execute(select(table).where(bulk.among(session, table.c.id, event_ids)).order_by(table.c.id)).all()
    registry = engine.registry
    candidates = []
    index.flows_for(session, "", redis)  # refresh once for the whole batch
    orphans = []  # due events whose flow is no longer enabled (or no longer this N-day type)
    for event in (e for e in events if is_days_trigger(e.trigger)):  # due: the flow named, any verdict
        target = due_flow(index, event.trigger, event.data)
        if target is not None:
            info, definition, graph = target
            candidates.append((event, info, definition, graph, registry[graph.nodes[graph.event_id]["type"]]))
        else:
            orphans.append(event.id)
    # other events: the index returns the flows whose event node matches and conditions hold
    wanted = [e for e in events
              if not is_days_trigger(e.trigger) and index.may_fire(session, e.trigger, e.data or {}, fresh=True)]
    contexts = contexts_for(session, [c[0] for c in candidates] + wanted) if candidates or wanted else {}
    now = utcnow()
    aware_now = now.replace(tzinfo=UTC)
    cond_ctxs = {eid: for_conditions(c, aware_now) for eid, c in contexts.items() if c is not None}
    candidates += [(e, *m) for e in wanted if e.id in cond_ctxs
                   for m in index.matching(session, e.trigger, e.data or {}, cond_ctxs[e.id], fresh=True)]
    lease_until = now + timedelta(seconds=engine.lease_seconds)
    runs, steps, sends, triggered, graphs, first_views = [], [], [], {}, {}, {}
    circuits_open = engine.services.destinations.any_open()
    waiting_runs: list[tuple[str, Any]] = []  # runs held back by open circuits, and when they resume
    quiet = []  # due events whose conditions are false: stored as not_triggered runs
    for event, info, definition, graph, spec in candidates:
        context = contexts.get(event.id)
        days = is_days_trigger(event.trigger)
        if context is None:
            continue
        if days and not graph.reaches_action(context, cond_ctx=cond_ctxs[event.id]):  # others: checked
            quiet.append(_run_row(event, info, definition, spec, context, now, status="not_triggered"))
            continue
        views, actions = _first_wave(graph, context, now)
        run_id = new_id()
        held = _held_back(engine, graph, views, actions) if circuits_open else None
        if held is None:
            graphs[run_id] = graph
            first_views[run_id] = views
        else:  # every call it would make now goes to an open circuit: stored waiting, no send
            waiting_runs.append((run_id, min(at for _o, at in held.values())))
        runs.append({
            "id": run_id, "flow_id": info["id"], "flow_version": info["version"], "flow_name": info["name"],
            "definition": definition, "trigger": "schedule" if days else "event", "event_id": event.id,
            "event_type": spec.module.PAYLOAD_EVENT_TYPE,
            "dedupe_key": days_key(info["id"], event.subject_id) if days else f"ev:{event.id}:{info['id']}",
            "status": "running" if held is None else "waiting", "triggered": True, "counted": True,
            "context": context, "order_id": (context.get("order") or {}).get("id"),
            "client_id": (context.get("client") or {}).get("external_id"),
            "created_at": now, "updated_at": now, "lease_until": lease_until if held is None else None,
            "next_attempt_at": None if held is None else waiting_runs[-1][1],
        })
        triggered[info["id"]] = triggered.get(info["id"], 0) + 1
        for nid, view in views.items():
            outcome, resume_at = held[nid] if held and nid in held else (None, None)
            steps.append({
                "run_id": run_id, "node_id": nid, "node_type": graph.nodes[nid]["type"],
                "status": outcome.status if outcome else view.status, "verdict": view.verdict,
                "attempts": 0 if outcome else view.attempts, "state": outcome.state if outcome else {},
                "started_at": now,
                "finished_at": None if view.status == "running" else now,
                "output": {"verdict": False} if view.verdict is False else None,
                "error": outcome.error if outcome else None, "resume_at": resume_at,
            })
        if held is None:
            for nid in actions:
                sends.append((run_id, graph, nid, context, info, spec.module.PAYLOAD_EVENT_TYPE, 1, {}))
    # the upsert check (SPEC §3.1): N-day flows whose moment for an upserted order already fell
    # get their due events recorded in this same transaction; the next claim dispatches them
    upserted = {e.subject_id for e in events if e.trigger in UPSERT_TRIGGERS}
    due_flows = days_flows(session, registry, index) if upserted else []
    try:
        if due_flows:
            orders = session.execute(
                select(Order.id, Order.created_at, Order.paid_at).where(bulk.among(session, Order.id, upserted))
            ).all()
            record_due(session, due_flows, orders, now)
        if quiet:
            bulk.insert_rows(session, _RUNS, quiet)
        if runs:
            bulk.insert_rows(session, _RUNS, runs)
            bulk.insert_rows(session, _STEPS, steps)
        session.execute(
            update(Event.__table__).where(bulk.among(session, Event.__table__.c.id, [e.id for e in events]))
            .values(dispatched_at=now)
        )
        if orphans:  # no run was made: free the (flow, order) key, so that re-enabling the flow
            # catches the order up (within catch_up_hours) instead of the old key blocking it forever
            session.execute(
                update(Event.__table__).where(bulk.among(session, Event.__table__.c.id, orphans)).values(dedupe_key=None)
            )
        # last: a flow's row is locked from here to the commit, and a concurrent dispatch job
        # updating the same flow waits for it (it waited through the events' update before)
        if triggered:
            session.execute(_COUNT_TRIGGERED, [{"flow_id": flow_id, "count": count, "now": now}
                                               for flow_id, count in sorted(triggered.items())])
        session.commit()
    except IntegrityError:  # a run already exists for some event: fall back to one at a time
        session.rollback()
        log.warning("batch of %d events hit an existing run; dispatching one by one", len(events))
        created = []
        for event in events:
            created += dispatch_event(session, registry, index, event.id, redis)
        return created

    # whatever the batch loaded as ORM objects (flows through the index…) is done with: every
    # outcome commit below would otherwise expire each of them again
    session.expunge_all()
    if waiting_runs:
        engine.schedule_many(waiting_runs)
    runs = [r for r in runs if r["id"] in graphs]
    if settlers is not None and sends:
        settlers.submit(runs, graphs, sends, first_views)
        return []
    return _send_and_settle(session, engine, runs, graphs, sends, first_views)


def _still_held(session: Session, engine: Engine, runs: list[dict], sends: list[tuple]):
    """The runs of a handed-over batch whose lease has not run out while it waited for a settler,
    leased for another term; the others' sends are dropped (the sweeper has resumed, or will
    resume, those runs: sending here too would make a second attempt of each)."""
    now = utcnow()
    kept = set(session.execute(
        update(_RUNS)
        .where(bulk.among(session, _RUNS.c.id, [r["id"] for r in runs]), _RUNS.c.status == "running",
               _RUNS.c.lease_until > now)
        .values(lease_until=now + timedelta(seconds=engine.lease_seconds))
        .returning(_RUNS.c.id)
    ).scalars())
    session.commit()
    if len(kept) < len(runs):
        log.warning("%d runs of a batch outlived their lease before a settler took it; the sweeper resumes them",
                    len(runs) - len(kept))
    return [r for r in runs if r["id"] in kept], [send for send in sends if send[0] in kept]


class Settlers:
    """Threads that send and settle dispatched batches while the dispatcher goes on claiming, so
    that claiming and recording events never wait for a receiver (each thread on its own
    database session). At most ``depth`` batches are in hand; past that ``submit`` waits."""

    def __init__(self, engine: Engine, sessions, threads: int = 2, depth: int = 2):
        self.engine = engine
        self.sessions = sessions
        self._todo: queue.Queue = queue.Queue()
        self._room = threading.BoundedSemaphore(depth)
        self._depth = depth
        for n in range(threads):
            threading.Thread(target=self._work, name=f"settle-{n}", daemon=True).start()

    def submit(self, runs, graphs, sends, first_views) -> None:
        self._room.acquire()
        self._todo.put((runs, graphs, sends, first_views))

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every batch handed over is settled; False if that took over ``timeout``."""
        deadline = time.monotonic() + timeout
        taken = 0
        try:
            while taken < self._depth:
                if not self._room.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    return False
                taken += 1
            return True
        finally:
            for _ in range(taken):
                self._room.release()

    def _work(self) -> None:
        from plugin.engine.execution import execute_isolated

        session = self.sessions()
        while True:
            runs, graphs, sends, first_views = self._todo.get()
            try:
                runs, sends = _still_held(session, self.engine, runs, sends)
                graphs = {run["id"]: graphs[run["id"]] for run in runs}
                for run_id in _send_and_settle(session, self.engine, runs, graphs, sends, first_views):
                    execute_isolated(session, self.engine, run_id)
            except Exception:
                session.rollback()
                log.exception("settling a batch of %d runs failed; the sweeper resumes them", len(runs))
            finally:
                session.expunge_all()
                self._room.release()




def dispatch_isolating(session: Session, engine: Engine, index: FlowIndex, event_ids: list[int],
                       redis=None, settlers=None) -> list[str]:
    """:func:`dispatch_batch`, with a poison event isolated: when the batch fails for a reason of
    its events, it is halved until the event that fails alone is found; that one is recorded as
    dispatched with its ``error`` (no run), and every other event of the batch goes on."""
    try:
        return dispatch_batch(session, engine, index, event_ids, redis, settlers)
    except TRANSIENT:
        session.rollback()
        raise
    except Exception as exc:  # noqa: BLE001 - one of these events, or a bug it triggers
        session.rollback()
        ids = list(event_ids)
        if len(ids) == 1:
            _record_failed_event(session, ids[0], exc)
            return []
        half = len(ids) // 2
        return (dispatch_isolating(session, engine, index, ids[:half], redis, settlers)
                + dispatch_isolating(session, engine, index, ids[half:], redis, settlers))


def _record_failed_event(session: Session, event_id: int, exc: Exception) -> None:
    log.error("event %s cannot be dispatched; recorded as failed: %r", event_id, exc, exc_info=exc)
    message = f"dispatch failed: {type(exc).__name__}: {exc}"
    message = message.encode("utf-8", "replace").decode("utf-8")[:2000]  # storable, whatever it quotes
    table = Event.__table__
    session.execute(update(table).where(table.c.id == event_id).values(dispatched_at=utcnow(), error=message))
    session.commit()


RESUMABLE = ("retrying", "waiting")  # an action step that is to be tried again at its resume_at


def resume_runs(session: Session, engine: Engine, run_ids: list[str]) -> list[str]:
    """Resume runs due for a retry, many at once: the counterpart of :func:`dispatch_batch` for a
    receiver's backlog of retries. Leased in one statement, their due action steps marked
    ``running`` (the attempt counted) in one more and committed, then sent on the send stage and
    settled in bulk, like a batch's first wave. Returns the runs that need the step-by-step path
    (a delay, an action's successors, anything but a due retry), released for it."""
    now = utcnow()
    runs_t = _RUNS
    leased = session.execute(
        update(runs_t)
        .where(bulk.among(session, runs_t.c.id, run_ids), runs_t.c.status.in_(("queued", "running", "waiting")))
        .where((runs_t.c.lease_until.is_(None)) | (runs_t.c.lease_until < now))
        .values(status="running", lease_until=now + timedelta(seconds=engine.lease_seconds), updated_at=now)
        .returning(runs_t.c.id, runs_t.c.flow_id, runs_t.c.flow_version, runs_t.c.flow_name, runs_t.c.definition,
                   runs_t.c.context, runs_t.c.event_type)
    ).all()
    if not leased:
        session.commit()
        return []
    steps_by_run: dict[str, dict] = {}
    for step in session.execute(select(_STEPS).where(bulk.among(session, _STEPS.c.run_id, [r.id for r in leased]))):
        steps_by_run.setdefault(step.run_id, {})[step.node_id] = step
    graphs_cache: dict[tuple, Graph] = {}
    step_path, rewait, marks, sends, graphs, first_views, runs = [], [], [], [], {}, {}, []
    soon = now + timedelta(seconds=0.5)
    for run in leased:
        key = (run.flow_id, run.flow_version) if run.flow_id else None
        graph = graphs_cache.get(key) if key else None
        if graph is None:
            graph = Graph(run.definition, engine.registry)
            if key:
                graphs_cache[key] = graph
        steps = steps_by_run.get(run.id, {})
        due, later, other = [], [], False
        for nid, step in steps.items():
            if step.status in RESUMABLE and graph.kind.get(nid) == "action":
                (due if step.resume_at is None or step.resume_at <= soon else later).append(nid)
            elif step.status not in DONE or step.status == "failed":
                other = True  # a delay, a step left running, a failure: the step path knows them
        views = {nid: StepView(status=st.status, verdict=st.verdict) for nid, st in steps.items()}
        if other or not (due or later) or _runnable_now(graph, views, {}):
            step_path.append(run.id)
            continue
        if not due:  # woken early: wait again until the first retry is due
            rewait.append({"id": run.id, "status": "waiting", "lease_until": None, "updated_at": now,
                           "next_attempt_at": min(steps[nid].resume_at for nid in later)})
            continue
        info = {"id": run.flow_id or "", "name": run.flow_name}
        graphs[run.id] = graph
        first_views[run.id] = {nid: v for nid, v in views.items() if nid not in due}
        runs.append({"id": run.id, "flow_id": run.flow_id})
        for nid in due:
            attempt = steps[nid].attempts + 1
            marks.append({"run_id": run.id, "node_id": nid, "status": "running", "attempts": attempt,
                          "resume_at": None})
            sends.append((run.id, graph, nid, run.context, info, run.event_type, attempt, steps[nid].state or {}))
    if marks:  # the attempts are on record before anything leaves the process
        bulk.update_rows(session, _STEPS, ("run_id", "node_id"), marks)
    if rewait:
        bulk.update_rows(session, _RUNS, ("id",), rewait)
    if step_path:
        session.execute(update(_RUNS).where(bulk.among(session, _RUNS.c.id, step_path))
                        .values(status="queued", lease_until=None, updated_at=now))
    session.commit()
    if rewait:
        engine.schedule_many([(row["id"], row["next_attempt_at"]) for row in rewait])
    if not sends:
        return step_path
    session.expunge_all()
    return step_path + _send_and_settle(session, engine, runs, graphs, sends, first_views)


def _held_back(engine: Engine, graph: Graph, views: dict[str, StepView], actions: list[str]):
    """When every action of a run's first wave goes to a destination whose circuit is open (and
    nothing else of it could run now): ``{node_id: (outcome, resume_at)}`` of those retries, the
    run to be stored waiting without a send; else None."""
    if not actions:
        return None
    held, now = {}, utcnow()
    for nid in actions:
        node = graph.nodes[nid]
        lane = lane_of(node["type"], open_params(engine.registry, engine.secrets, node))
        outcome = refused_outcome(engine, lane)
        if outcome is None or outcome.status != "retrying":
            return None
        held[nid] = (outcome, now + timedelta(seconds=outcome.resume_in or 0.0))
    if _runnable_now(graph, views, {nid: StepView(status="retrying") for nid in held}):
        return None
    return held


def _run_row(event, info, definition, spec, context, now, *, status) -> dict:
    """A finished run row without steps: a due event whose flow's conditions are false."""
    return {
        "id": new_id(), "flow_id": info["id"], "flow_version": info["version"], "flow_name": info["name"],
        "definition": definition, "trigger": "schedule", "event_id": event.id,
        "event_type": spec.module.PAYLOAD_EVENT_TYPE, "dedupe_key": days_key(info["id"], event.subject_id),
        "status": status, "triggered": False, "counted": False, "context": context,
        "order_id": (context.get("order") or {}).get("id"),
        "client_id": (context.get("client") or {}).get("external_id"),
        "created_at": now, "updated_at": now, "finished_at": now,
    }


def _send(engine: Engine, run_id, graph: Graph, nid, params, context, info, event_type, attempt, state):
    return call_action(
        engine, graph.spec(nid), graph.nodes[nid], params, context, run_id=run_id,
        flow_info={"id": info["id"], "name": info["name"]}, event_type=event_type, attempt=attempt, state=state,
    )


FLUSH_SECONDS = 0.02
IDLE_TICK = 0.5  # while no outcome arrives, the settling loop still wakes this often (lease renewal)


_STEPS = Step.__table__
_RUNS = Run.__table__
_FLOWS = Flow.__table__
# the flows' counters, as Core statements built once: through the ORM entity (``update(Flow)``)
# each went through the ORM's bulk-update path (session synchronisation included), ~13 % of a
# dispatch worker's CPU at 200 events/s, where a batch holds an event or two
_COUNT_TRIGGERED = (
    update(_FLOWS).where(_FLOWS.c.id == bindparam("flow_id"))
    .values(triggered_count=_FLOWS.c.triggered_count + bindparam("count"), last_triggered_at=bindparam("now"))
)
_COUNT_FAILED = update(_FLOWS).where(_FLOWS.c.id == bindparam("flow_id")).values(
    failed_count=_FLOWS.c.failed_count + bindparam("count")
)

def _flush_steps(session: Session, step_updates: list[dict]) -> None:
    if not step_updates:
        return
    bulk.update_rows(session, _STEPS, ("run_id", "node_id"), step_updates)
    session.commit()
    step_updates.clear()


def _sent(engine: Engine, sends: list[tuple]):
    """Send on the send stage, each in its destination's lane; yield ``((run_id, graph, node_id),
    outcome)`` as each ends, and ``None`` while nothing ends. A send still in flight when the stage
    stops waiting is late: not yielded, settled by the stage when it ends (see sendstage.py); one
    its lane never started comes back as a wait of ``busy_retry`` seconds, not an attempt.

    An exception inside a send is raised here, as ``future.result()`` would."""
    items = []
    circuits_open = engine.services.destinations.any_open()
    for run_id, graph, nid, context, info, event_type, attempt, state in sends:
        node = graph.nodes[nid]
        params = open_params(engine.registry, engine.secrets, node)
        lane = lane_of(node["type"], params)
        refused = refused_outcome(engine, lane, state) if circuits_open else None
        if refused is not None:  # its receiver's circuit is open: a scheduled retry, no call
            yield (run_id, graph, nid), refused
            continue
        items.append(((run_id, graph, nid), lane, _send,
                      (engine, run_id, graph, nid, params, context, info, event_type, attempt, state)))
    attempts = {key: (args[-2], args[-1]) for key, _lane, _fn, args in items}
    for done in stage().run(items):
        if done is None:
            yield None
            continue
        key, outcome, error = done
        if isinstance(error, Cancelled):  # never started: its circuit may have opened meanwhile
            _attempt, state = attempts[key]
            outcome = refused_outcome(engine, error.lane, state) or busy_outcome(engine, error)
            if outcome.status != "failed" and not outcome.state:
                outcome.state = state
            error = None
        if error is not None:
            raise error
        yield key, outcome


def _send_and_settle(session: Session, engine: Engine, runs: list[dict], graphs: dict, sends: list[tuple],
                     first_views: dict[str, dict[str, StepView]]) -> list[str]:
    # Outcomes are committed in small groups as they arrive, so a crash re-sends (with the same
    # idempotency key) only what was in flight in the last few milliseconds, not the whole batch.
    #
    # The runs were stored leased for ``lease_seconds``. Sends to slow or silent receivers can take
    # longer than that (200 sends through 16 senders, each up to the HTTP timeout), and a run whose
    # lease ran out is resumed by the sweeper — which would send again what is still in flight
    # here (a second Slack message: no idempotency key there). So the lease of the batch's runs is
    # renewed every third of it until they are settled.
    step_updates = []
    by_run: dict[str, tuple[Graph, dict]] = {run_id: (graph, {}) for run_id, graph in graphs.items()}
    attempt_of = {(send[0], send[2]): send[6] for send in sends}
    last_flush = renewed = time.monotonic()
    renew_every = engine.lease_seconds / 3
    for sent in _sent(engine, sends):
        if time.monotonic() - renewed >= renew_every:
            _renew_leases(session, engine, list(by_run), step_updates)
            renewed = last_flush = time.monotonic()
        if sent is None:
            continue
        (run_id, graph, nid), outcome = sent
        now = utcnow()
        resume_at = now + timedelta(seconds=outcome.resume_in) if outcome.resume_in is not None else None
        final = outcome.status not in ("retrying", "waiting")
        step_updates.append({
            "run_id": run_id, "node_id": nid, "status": outcome.status, "output": outcome.output if final else None,
            "error": outcome.error, "state": outcome.state,
            "attempts": attempt_of[run_id, nid] - (0 if outcome.counted else 1),
            "finished_at": now if final else None, "resume_at": resume_at, "duration_ms": outcome.duration_ms,
        })
        by_run[run_id][1][nid] = (outcome, resume_at)
        if time.monotonic() - last_flush >= FLUSH_SECONDS:
            _flush_steps(session, step_updates)
            last_flush = time.monotonic()
    if step_updates:  # the last group is committed with the runs' final states below: one commit less
        bulk.update_rows(session, _STEPS, ("run_id", "node_id"), step_updates)
    # a run with a send still in flight (a silent receiver) stays leased: the send stage settles
    # that send when it ends and the run goes on from there (sendstage.py, execution.LateSettler)
    late = {send[0] for send in sends if send[2] not in by_run[send[0]][1]}
    now = utcnow()
    handoff, finals, failed_flows, not_reached, waiting = [], [], {}, [], []
    stored = {r["id"]: r for r in runs}
    for run_id, (graph, outcomes) in by_run.items():
        if run_id in late:
            continue
        views = {}
        for nid in graph.order:
            if nid in outcomes:
                outcome, _ = outcomes[nid]
                views[nid] = StepView(status=outcome.status)
        decided, needs_more = _decided_views(graph, first_views[run_id], views)
        resumes = [at for o, at in outcomes.values() if o.status in ("retrying", "waiting")]
        if resumes and not _runnable_now(graph, first_views[run_id], views):
            # only retries (or rate-limit waits) are left: the run waits, without the step-by-step
            # path's statements per run; RQ's scheduler resumes it (Engine.schedule_many)
            waiting.append({"id": run_id, "status": "waiting", "lease_until": None,
                            "next_attempt_at": min(resumes), "updated_at": now})
            continue
        if needs_more or resumes:
            handoff.append(run_id)
            continue
        for nid in decided:
            not_reached.append({"run_id": run_id, "node_id": nid, "node_type": graph.nodes[nid]["type"],
                                "status": "not_reached", "attempts": 0, "state": {}})
        failed = [o.error for o, _ in outcomes.values() if o.status == "failed"]
        finals.append({"id": run_id, "status": "failed" if failed else "succeeded",
                       "error": failed[0] if failed else None, "finished_at": now, "updated_at": now,
                       "lease_until": None, "next_attempt_at": None})
        if failed:
            flow_id = stored[run_id]["flow_id"]
            failed_flows[flow_id] = failed_flows.get(flow_id, 0) + 1
    if not_reached:
        bulk.insert_rows(session, _STEPS, not_reached)
    if finals:
        bulk.update_rows(session, _RUNS, ("id",), finals)
    if waiting:
        bulk.update_rows(session, _RUNS, ("id",), waiting)
    for flow_id, count in failed_flows.items():
        session.execute(_COUNT_FAILED, {"flow_id": flow_id, "count": count})
    if handoff:  # the step-by-step path takes over right away (or at the retry time it finds)
        session.execute(
            update(Run).where(bulk.among(session, Run.id, handoff)).values(status="queued", lease_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    if waiting:
        engine.schedule_many([(row["id"], row["next_attempt_at"]) for row in waiting])
    return handoff


def _runnable_now(graph: Graph, first: dict[str, StepView], action_views: dict[str, StepView]) -> bool:
    """Whether some node of the run could run now (not only after a pending retry or wait)."""
    views = {**first, **action_views}
    return any(nid not in views and graph.activation(nid, views) is True for nid in graph.order)


def _renew_leases(session: Session, engine: Engine, run_ids: list[str], step_updates: list[dict]) -> None:
    """The runs still being settled here leased for another term, with the outcomes so far."""
    session.execute(
        update(_RUNS)
        .where(bulk.among(session, _RUNS.c.id, run_ids), _RUNS.c.status == "running")
        .values(lease_until=utcnow() + timedelta(seconds=engine.lease_seconds))
    )
    _flush_steps(session, step_updates)  # commits when outcomes are pending
    session.commit()


def _decided_views(graph: Graph, first: dict[str, StepView], action_views: dict[str, StepView]) -> tuple[list[str], bool]:
    """Nodes left that are certainly not reached, and whether anything else remains to run.

    ``first``: the views of the run's first wave, as dispatch stored them as steps."""
    views = dict(action_views)
    for nid, view in first.items():
        if nid not in views:
            views[nid] = view
    not_reached = []
    for nid in graph.order:
        if nid in views:
            continue
        active = graph.activation(nid, views)
        if active is False:
            views[nid] = StepView(status="not_reached")
            not_reached.append(nid)
        else:
            return [], True
    return not_reached, False
