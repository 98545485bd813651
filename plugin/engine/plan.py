"""The plan of a dispatched batch, decided in memory before anything is written: each run's row,
its first wave of steps (the event, the condition verdicts, the actions reached first, marked
``running`` with their attempt counted) and the sends of those actions.

A run whose every first call goes to a destination with an open circuit is planned ``waiting``
without a send; a due (N-day) event whose conditions are false, as a ``not_triggered`` run.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from plugin.engine.calls import Engine, refused_outcome
from plugin.engine.context import for_conditions
from plugin.engine.dispatch import days_key, is_days_trigger
from plugin.engine.frequency import reason, subject_of
from plugin.engine.graph import Graph, StepView, choose, judge
from plugin.engine.journeys import NO_JOURNEY
from plugin.engine.recipients import recipient_of
from plugin.engine.settle import runnable_now
from plugin.storage.models import new_id, utcnow
from plugin.storage.secrets import open_params
from plugin.transport.destinations import lane_of


class Plan:
    """The rows and sends of a batch's runs (``now``: the batch's time, naive UTC)."""

    def __init__(self, engine: Engine, now):
        self.engine = engine
        self.now = now
        self.lease_until = now + timedelta(seconds=engine.lease_seconds)
        self.leased_at = time.monotonic()  # when that lease began, for its renewals (settle.py)
        self.circuits_open = engine.services.destinations.any_open()
        self.runs: list[dict] = []  # run rows with their first wave (``running``, or ``waiting`` if held)
        self.steps: list[dict] = []
        self.sends: list[tuple] = []
        self.graphs: dict[str, Graph] = {}  # the runs with sends: their graphs and first waves
        self.first_views: dict[str, dict[str, StepView]] = {}
        self.waiting: list[tuple[str, Any]] = []  # runs held back by open circuits, and when they resume
        self.quiet: list[dict] = []  # due events whose conditions are false: stored as not_triggered runs
        # runs under a frequency rule: (run_id, flow_id, subject, rule), claimed when stored
        self.limited: list[tuple] = []
        # per event, the stats groups whose event node matched it (FlowIndex.matching's ``seen``)
        self.seen: dict[int, list[tuple[str, list[str]]]] = {}
        # journeys (journeys.py): runs a run mode holds back, {run_id: (status, reason)}, stored so;
        # runs whose waits the batch's events answered; the batch's journey work, if any
        self.held: dict[str, tuple[str, str]] = {}
        self.resumed: list[str] = []
        self.journey = NO_JOURNEY

    def add(
        self, event, info: dict, definition: dict, graph: Graph, spec, context: dict, cond_ctx: dict
    ) -> None:
        """The run of ``event`` through one flow (``info``: its id, version and name)."""
        days = is_days_trigger(event.trigger)
        if days and not graph.reaches_action(context, cond_ctx=cond_ctx):  # others: checked
            self.quiet.append(_quiet_row(event, info, definition, spec, context, self.now))
            return
        run_id = new_id()
        views, actions = first_wave(graph, context, self.now, flow_id=info["id"], run_id=run_id)
        rule = graph.settings.get("frequency")
        subject = subject_of(rule, context) if rule else None
        if subject is not None:
            self.limited.append((run_id, info["id"], subject, rule))
        held = _held_back(self.engine, graph, views, actions) if self.circuits_open else None
        if held is None:
            self.graphs[run_id] = graph
            self.first_views[run_id] = views
            event_type = spec.module.PAYLOAD_EVENT_TYPE
            self.sends += [(run_id, graph, nid, context, info, event_type, 1, {}) for nid in actions]
        else:  # every call it would make now goes to an open circuit: stored waiting, no send
            self.waiting.append((run_id, min(at for _o, at in held.values())))
        row = _run_row(
            run_id,
            event,
            info,
            definition,
            spec,
            context,
            self.now,
            days=days,
            status="running" if held is None else "waiting",
            triggered=True,
        )
        # the analytics' branch of a split run is its variant (else its first action, once sent)
        row["branch"] = next((views[n].branch for n in graph.order if n in graph.splits and n in views), None)
        row["lease_until"] = self.lease_until if held is None else None
        row["next_attempt_at"] = None if held is None else self.waiting[-1][1]
        self.runs.append(row)
        self.steps += [_step_row(run_id, graph, nid, view, held, self.now) for nid, view in views.items()]

    def drop(self, keys: set[str]) -> None:
        """Leave out the runs with these dedupe keys (they exist already), with their steps and sends."""
        gone = {r["id"] for r in self.runs if r["dedupe_key"] in keys}
        for event_id in {r["event_id"] for r in (*self.runs, *self.quiet) if r["dedupe_key"] in keys}:
            self.seen.pop(event_id, None)  # dispatched before: counted then
        self.quiet = [r for r in self.quiet if r["dedupe_key"] not in keys]
        self.limited = [c for c in self.limited if c[0] not in gone]
        self.suppress(gone)

    def split(self, lost: set[str]) -> tuple[list[dict], list[dict], list[dict]]:
        """The run rows and steps to store, and the ``suppressed`` rows of the runs in ``lost``
        (their frequency rule let them through no slot) and in ``held`` (by their run mode, stored
        with its status and reason); the plan itself is left as it is."""
        lost = lost | self.held.keys()
        if not lost:
            return self.runs, self.steps, []
        rules = {c[0]: c[3] for c in self.limited}
        held = self.held
        suppressed = [
            {
                **row,
                "status": held[row["id"]][0] if row["id"] in held else "suppressed",
                "triggered": False,
                "counted": False,
                "lease_until": None,
                "next_attempt_at": None,
                "finished_at": self.now,
                "error": held[row["id"]][1] if row["id"] in held else reason(rules[row["id"]]),
            }
            for row in self.runs
            if row["id"] in lost
        ]
        runs = [r for r in self.runs if r["id"] not in lost]
        return runs, [s for s in self.steps if s["run_id"] not in lost], suppressed

    def suppress(self, lost: set[str]) -> None:
        """Forget these runs' rows, steps, sends, waits and graphs (stored ``suppressed``, or
        existing already)."""
        if not lost:
            return
        self.runs = [r for r in self.runs if r["id"] not in lost]
        self.steps = [s for s in self.steps if s["run_id"] not in lost]
        self.sends = [s for s in self.sends if s[0] not in lost]
        self.waiting = [w for w in self.waiting if w[0] not in lost]
        for run_id in lost:
            self.graphs.pop(run_id, None)
            self.first_views.pop(run_id, None)

    def keys(self) -> list[str]:
        return [r["dedupe_key"] for r in self.runs] + [r["dedupe_key"] for r in self.quiet]


def first_wave(
    graph: Graph, context: dict, now, *, flow_id: str | None = None, run_id: str = ""
) -> tuple[dict[str, StepView], list[str]]:
    """Decide event, conditions and splits in memory (a split is a function of the context, its
    flow and node ids, like a condition); return their steps and the actions reached first."""
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
            verdict, output = judge(graph, nid, cond_ctx)
            views[nid] = StepView(status="succeeded", verdict=verdict, output=output)
        elif kind == "action":
            views[nid] = StepView(status="running", attempts=1)
            actions.append(nid)
        elif nid in graph.splits:
            views[nid] = choose(graph, nid, context, flow_id=flow_id, run_id=run_id)
        # a delay stays undecided: the step-by-step path starts its wait
    return views, actions


def _held_back(engine: Engine, graph: Graph, views: dict[str, StepView], actions: list[str]):
    """When every action of a run's first wave goes to a destination whose circuit is open (and
    nothing else of it could run now): ``{node_id: (outcome, resume_at)}`` of those retries, the
    run to be stored waiting without a send; else None."""
    if not actions:
        return None
    held, now = {}, utcnow()
    for nid in actions:
        node = graph.nodes[nid]
        lane = lane_of(node["type"], open_params(engine.registry, engine.secrets, node, engine.connections))
        outcome = refused_outcome(engine, lane)
        if outcome is None or outcome.status != "retrying":
            return None
        held[nid] = (outcome, now + timedelta(seconds=outcome.resume_in or 0.0))
    if runnable_now(graph, views, {nid: StepView(status="retrying") for nid in held}):
        return None
    return held


def _run_row(
    run_id: str,
    event,
    info: dict,
    definition: dict,
    spec,
    context: dict,
    now,
    *,
    days: bool,
    status: str,
    triggered: bool,
) -> dict:
    """A run row of ``event`` through the flow ``info``, without its lease or end."""
    return {
        "id": run_id,
        "flow_id": info["id"],
        "flow_version": info["version"],
        "flow_name": info["name"],
        "definition": definition,
        "trigger": "schedule" if days else "event",
        "event_id": event.id,
        "event_type": spec.module.PAYLOAD_EVENT_TYPE,
        "dedupe_key": days_key(info["id"], event.subject_id) if days else f"ev:{event.id}:{info['id']}",
        "status": status,
        "triggered": triggered,
        "counted": triggered,
        "context": context,
        "order_id": (context.get("order") or {}).get("id"),
        # the order's client even when no client record came with it (run modes, exit events count by it)
        "client_id": (context.get("client") or {}).get("external_id")
        or (context.get("order") or {}).get("client_id"),
        "recipient": recipient_of(definition, context),
        "branch": None,
        "created_at": now,
        "updated_at": now,
    }


def _quiet_row(event, info: dict, definition: dict, spec, context: dict, now) -> dict:
    """A finished run row without steps: a due event whose flow's conditions are false."""
    row = _run_row(
        new_id(),
        event,
        info,
        definition,
        spec,
        context,
        now,
        days=True,
        status="not_triggered",
        triggered=False,
    )
    row["finished_at"] = now
    return row


def _step_row(run_id: str, graph: Graph, nid: str, view: StepView, held: dict | None, now) -> dict:
    """A step of the first wave; an action ``held`` back stored as the retry its refusal is."""
    outcome, resume_at = held[nid] if held and nid in held else (None, None)
    return {
        "run_id": run_id,
        "node_id": nid,
        "node_type": graph.nodes[nid]["type"],
        "status": outcome.status if outcome else view.status,
        "verdict": view.verdict,
        "attempts": 0 if outcome else view.attempts,
        "state": outcome.state if outcome else {},
        "started_at": now,
        "finished_at": None if view.status == "running" else now,
        "output": view.output
        if view.output is not None
        else {"verdict": False}
        if view.verdict is False
        else None,
        "error": outcome.error if outcome else None,
        "resume_at": resume_at,
    }
