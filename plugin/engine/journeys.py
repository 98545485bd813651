"""Journeys at dispatch (issue #20): a flow's run mode, its exit event and the waits an event
answers, decided in the transaction that stores a batch's runs (batch.py calls in here).

- **Run mode** (``settings.run_mode``): ``single`` — a run for a client (or order) whose earlier
  run of the flow is still active (queued, running, waiting) is stored ``suppressed`` with the
  reason; ``restart`` — the active runs are ``cancelled`` (reason: restarted by the new run) and
  the new one starts. Dispatchers deciding for the same flow and entity take turns on a row of
  ``run_locks`` (an upsert locks it to the commit; SQLite has one writer): the second one sees
  the first one's run.
- **Exit event** (``settings.exit_event``): an event of that type and params about an entity ends
  every active run of the flow for it, ``cancelled`` with the reason, its waits dropped.
- **Waits**: the waits the batch's events answer (waits.resolve); their runs walk on.

A run that a worker holds (leased, mid-call) is not cancelled under its feet: the cancellation is
recorded (``run_cancels``) and the sweeper carries it out once the worker lets go
(:func:`sweep_cancels`). Nothing here runs unless some enabled flow has a wait node, an exit
event or a run mode (:func:`info`, cached per load of the flow index).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from plugin.engine import waits
from plugin.engine.context import contexts_for
from plugin.storage import bulk
from plugin.storage.journey_models import RunCancel, RunLock
from plugin.storage.models import NOT_SUCCEEDED, Run, Step

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running", "waiting")
_RUNS = Run.__table__
_STEPS = Step.__table__
_LOCKS = RunLock.__table__
_CANCELS = RunCancel.__table__
_WHOM = {"client": ("клиента", "client"), "order": ("сделки", "order")}


class Info(NamedTuple):
    """What the enabled flows ask of dispatch: the triggers their wait nodes wait for, their exit
    events by trigger ``(flow_id, event module, params, to_group, per)``, their run modes."""

    waits: frozenset
    exits: dict
    modes: dict


def info(index, registry) -> Info | None:
    """The enabled flows' journey needs, or None when no flow has any (cached per index load)."""
    cached = getattr(index, "_journeys", None)
    if cached is not None and cached[0] is index.by_trigger:
        return cached[1]
    waits_for, exits, modes, seen = set(), {}, {}, set()
    for entries in index.by_trigger.values():
        for flow, definition, graph in entries:
            if flow["id"] in seen:
                continue
            seen.add(flow["id"])
            for node in graph.nodes.values():
                if node["type"] == waits.NODE_TYPE:
                    waits_for.add(registry[waits.NODE_TYPE].module.trigger(node.get("params") or {}))
            settings = (definition or {}).get("settings") or {}
            mode = settings.get("run_mode") or {}
            if mode.get("mode") in ("single", "restart"):
                modes[flow["id"]] = (mode["mode"], mode.get("per", "client"))
            exit_event = settings.get("exit_event")
            if exit_event and exit_event.get("type") in registry:
                module = registry[exit_event["type"]].module
                params = dict(exit_event.get("params") or {})
                group = params.pop("to_group", None)
                per = exit_event.get("per") or (
                    "order" if exit_event["type"].startswith("event.order") else "client"
                )
                for trigger in module.TRIGGERS:
                    exits.setdefault(trigger, []).append((flow["id"], module, params, group, per))
    found = Info(frozenset(waits_for), exits, modes) if waits_for or exits or modes else None
    index._journeys = (index.by_trigger, found)
    return found


def prepare(session: Session, index, registry, events: list, contexts: dict) -> Journey | _Nothing:
    """The journey work of a batch (:data:`NO_JOURNEY`: none), with the contexts of the events it needs."""
    needs = info(index, registry)
    if needs is None:
        return NO_JOURNEY
    asked = [e for e in events if e.trigger in needs.waits or e.trigger in needs.exits]
    if not asked and not needs.modes:
        return NO_JOURNEY
    missing = [e for e in asked if e.id not in contexts]
    if missing:
        contexts = {**contexts, **contexts_for(session, missing)}
    return Journey(needs, registry, asked, contexts)


class _Nothing:
    """The journey work of a batch that has none."""

    reads_runs = False  # nothing to read: the batch's writes stay gathered in one statement

    def hold(self, session: Session, plan, now) -> None:
        pass

    def write(self, session: Session, plan, now) -> None:
        pass


NO_JOURNEY = _Nothing()


class Journey:
    """A batch's run modes (:meth:`hold`, before its runs are stored) and exit events and waits
    (:meth:`write`, after), in its transaction."""

    reads_runs = True  # :meth:`write` reads the batch's runs: they are sent before it

    def __init__(self, needs: Info, registry, events: list, contexts: dict):
        self.needs, self.registry, self.events, self.contexts = needs, registry, events, contexts

    def hold(self, session: Session, plan, now) -> None:
        """Fill ``plan.held``: the runs a ``single`` mode suppresses, the earlier runs of the batch
        a ``restart`` replaces; cancel the stored runs a ``restart`` replaces."""
        plan.held = {}
        keyed: dict[tuple, tuple[str, list[str]]] = {}
        for row in plan.runs:
            mode = self.needs.modes.get(row["flow_id"])
            if mode is None:
                continue
            value = row["client_id"] if mode[1] == "client" else row["order_id"]
            if value:
                keyed.setdefault((row["flow_id"], mode[1], str(value)), (mode[0], []))[1].append(row["id"])
        for (flow_id, per, value), (mode, ids) in sorted(keyed.items()):  # one lock order everywhere
            _lock(session, flow_id, f"{per}:{value}", now)
            active = active_runs(session, flow_id, per, value)
            if mode == "single":
                keep = ids[:1] if not active else []
                plan.held.update({rid: ("suppressed", single_reason(per)) for rid in ids if rid not in keep})
            else:
                winner = ids[-1]
                plan.held.update({rid: ("cancelled", restart_reason(winner)) for rid in ids[:-1]})
                cancel(session, active, restart_reason(winner), now)

    def write(self, session: Session, plan, now) -> None:
        """End the runs the batch's exit events name, then the waits its events answer (their
        runs in ``plan.resumed``)."""
        new = {row["id"] for row in plan.runs}
        for event in self.events:
            context = self.contexts.get(event.id)
            if context is None:
                continue
            for flow_id, module, params, group, per in self.needs.exits.get(event.trigger, ()):
                if not module.matches(params, {"type": event.trigger, "data": event.data or {}}):
                    continue
                if group and (context.get("order") or {}).get("status_group") != group:
                    continue
                value = _entity(context, per)
                ids = [r for r in active_runs(session, flow_id, per, value) if r not in new] if value else []
                cancel(session, ids, exit_reason(event.trigger), now)
        asked = [e for e in self.events if e.trigger in self.needs.waits]
        plan.resumed = waits.resolve(session, self.registry, asked, self.contexts, now) if asked else []


def _entity(context: dict, per: str) -> str | None:
    order = context.get("order") or {}
    if per == "order":
        return order.get("id")
    return (context.get("client") or {}).get("external_id") or order.get("client_id")


def _lock(session: Session, flow_id: str, subject: str, now) -> None:
    """Lock the (flow, entity) row to the commit: inserted, or updated when it is there."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(_LOCKS).values(flow_id=flow_id, subject=subject[:200], used_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[_LOCKS.c.flow_id, _LOCKS.c.subject], set_={"used_at": now}
        )
    )


def active_runs(session: Session, flow_id: str, per: str, value) -> list[str]:
    """The flow's runs for this client (or order) that are queued, running or waiting."""
    column = _RUNS.c.client_id if per == "client" else _RUNS.c.order_id
    return list(
        session.scalars(
            select(_RUNS.c.id)
            .where(
                column == str(value), _RUNS.c.flow_id == flow_id, NOT_SUCCEEDED, _RUNS.c.status.in_(ACTIVE)
            )
            .order_by(_RUNS.c.created_at)
        )
    )


def cancel(session: Session, run_ids: list[str], reason: str, now) -> list[str]:
    """End these runs ``cancelled`` with ``reason`` (not committed): those no worker holds now, their
    waits and pending steps dropped; the others recorded for the sweeper. Returns the ended ones."""
    if not run_ids:
        return []
    done = list(
        session.scalars(
            update(_RUNS)
            .where(bulk.among(session, _RUNS.c.id, run_ids), _RUNS.c.status.in_(ACTIVE))
            .where(or_(_RUNS.c.lease_until.is_(None), _RUNS.c.lease_until < now))
            .values(
                status="cancelled",
                error=reason,
                finished_at=now,
                updated_at=now,
                lease_until=None,
                next_attempt_at=None,
            )
            .returning(_RUNS.c.id)
        )
    )
    if done:
        waits.drop(session, done, now)
        session.execute(
            update(_STEPS)
            .where(
                bulk.among(session, _STEPS.c.run_id, done),
                _STEPS.c.status.in_(("pending", "waiting", "retrying")),
            )
            .values(status="not_reached", resume_at=None, finished_at=now)
        )
    busy = [r for r in run_ids if r not in set(done)]
    if busy:
        _defer(session, busy, reason, now)
    return done


def _defer(session: Session, run_ids: list[str], reason: str, now) -> None:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    rows = [{"run_id": r, "reason": reason, "created_at": now} for r in sorted(set(run_ids))]
    session.execute(insert(_CANCELS).on_conflict_do_nothing(index_elements=[_CANCELS.c.run_id]), rows)


def sweep_cancels(session: Session, now, limit: int = 1000) -> int:
    """The sweeper's part: the recorded cancellations carried out where the run's worker has let go;
    dropped once the run has ended (cancelled, or finished first). Committed; how many were ended."""
    pending = session.execute(select(_CANCELS.c.run_id, _CANCELS.c.reason).limit(limit)).all()
    if not pending:
        session.commit()
        return 0
    ended = 0
    by_reason: dict[str, list[str]] = {}
    for row in pending:
        by_reason.setdefault(row.reason, []).append(row.run_id)
    for reason, ids in by_reason.items():
        done = cancel(session, ids, reason, now)
        ended += len(done)
    ids = [row.run_id for row in pending]
    still = set(
        session.scalars(
            select(_RUNS.c.id).where(bulk.among(session, _RUNS.c.id, ids), _RUNS.c.status.in_(ACTIVE))
        )
    )
    over = [r for r in ids if r not in still]
    if over:
        session.execute(delete(_CANCELS).where(bulk.among(session, _CANCELS.c.run_id, over)))
    session.commit()
    return ended


def prune_locks(session: Session, now, hours: int = 1) -> int:
    """Delete the run-mode lock rows unused for ``hours`` (a lock matters only within the
    transaction that took it; a row in use is waited for, not deleted under it); committed."""
    gone = session.execute(delete(_LOCKS).where(_LOCKS.c.used_at < now - timedelta(hours=hours))).rowcount
    session.commit()
    return gone


def single_reason(per: str) -> str:
    ru, en = _WHOM[per]
    return f"подавлен: уже идёт запуск для {ru} (run mode single: a run for this {en} is active)"


def restart_reason(run_id: str) -> str:
    return f"отменён: перезапущен запуском {run_id} (run mode restart: restarted by run {run_id})"


def exit_reason(trigger: str) -> str:
    return f"отменён: пришло событие выхода {trigger} (exit event {trigger})"
