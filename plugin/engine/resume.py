"""Resuming runs due for a retry, many at once: the counterpart of batch.dispatch_batch for a
receiver's backlog of retries.

Leased in one statement, their due action steps marked ``running`` (the attempt counted) in one
more and committed, then sent on the send stage and settled in bulk, like a batch's first wave
(settle.py). A run that needs anything but a due retry — a delay, an action's successors, a
step left running — is released for the step-by-step path (execution.py).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.engine.calls import Engine
from plugin.engine.graph import DONE, Graph, StepView
from plugin.engine.settle import runnable_now, send_and_settle
from plugin.storage import bulk
from plugin.storage.models import Run, Step, utcnow
from plugin.storage.writes import update_rows

RESUMABLE = ("retrying", "waiting")  # an action step that is to be tried again at its resume_at

_STEPS = Step.__table__
_RUNS = Run.__table__


def resume_runs(session: Session, engine: Engine, run_ids: list[str]) -> list[str]:
    """Resume these runs' due retries together; returns the runs that need the step-by-step path
    (a delay, an action's successors, anything but a due retry), released for it."""
    now = utcnow()
    leased = _lease(session, engine, run_ids, now)
    if not leased:
        session.commit()
        return []
    steps_by_run: dict[str, dict] = {}
    ids = [r.id for r in leased]
    for step in session.execute(select(_STEPS).where(bulk.among(session, _STEPS.c.run_id, ids))):
        steps_by_run.setdefault(step.run_id, {})[step.node_id] = step
    resumed = _Resumed(now)
    graphs: dict[tuple, Graph] = {}
    for run in leased:
        resumed.add(run, _graph_of(engine, run, graphs), steps_by_run.get(run.id, {}))
    resumed.store(session)
    session.commit()
    if resumed.rewait:
        engine.schedule_many([(row["id"], row["next_attempt_at"]) for row in resumed.rewait])
    if not resumed.sends:
        return resumed.step_path
    session.expunge_all()
    return resumed.step_path + send_and_settle(
        session, engine, resumed.runs, resumed.graphs, resumed.sends, resumed.first_views
    )


def _lease(session: Session, engine: Engine, run_ids: list[str], now) -> list:
    """Lease the unfinished runs among ``run_ids`` that no one holds; their rows."""
    return session.execute(
        update(_RUNS)
        .where(bulk.among(session, _RUNS.c.id, run_ids), _RUNS.c.status.in_(("queued", "running", "waiting")))
        .where((_RUNS.c.lease_until.is_(None)) | (_RUNS.c.lease_until < now))
        .values(status="running", lease_until=now + timedelta(seconds=engine.lease_seconds), updated_at=now)
        .returning(
            _RUNS.c.id,
            _RUNS.c.flow_id,
            _RUNS.c.flow_version,
            _RUNS.c.flow_name,
            _RUNS.c.definition,
            _RUNS.c.context,
            _RUNS.c.event_type,
            _RUNS.c.created_at,
            _RUNS.c.branch,
        )
    ).all()


def _graph_of(engine: Engine, run, graphs: dict[tuple, Graph]) -> Graph:
    """The run's graph, built once per flow version among the runs resumed together."""
    key = (run.flow_id, run.flow_version) if run.flow_id else None
    graph = graphs.get(key) if key else None
    if graph is None:
        graph = Graph(run.definition, engine.registry)
        if key:
            graphs[key] = graph
    return graph


class _Resumed:
    """What becomes of each leased run: its due retries sent, a wait until its first retry is
    due, or the step-by-step path; gathered to be stored in a few statements."""

    def __init__(self, now):
        self.now = now
        self.soon = now + timedelta(seconds=0.5)
        self.step_path: list[str] = []
        self.rewait: list[dict] = []
        self.marks: list[dict] = []
        self.sends: list[tuple] = []
        self.graphs: dict[str, Graph] = {}
        self.first_views: dict[str, dict[str, StepView]] = {}
        self.runs: list[dict] = []

    def add(self, run, graph: Graph, steps: dict) -> None:
        due, later, other = self._retries(graph, steps)
        views = graph.views(steps)
        if other or not (due or later) or runnable_now(graph, views, {}):
            self.step_path.append(run.id)
            return
        if not due:  # woken early: wait again until the first retry is due
            self.rewait.append(
                {
                    "id": run.id,
                    "status": "waiting",
                    "lease_until": None,
                    "updated_at": self.now,
                    "next_attempt_at": min(steps[nid].resume_at for nid in later),
                }
            )
            return
        info = {"id": run.flow_id or "", "name": run.flow_name}
        self.graphs[run.id] = graph
        self.first_views[run.id] = {nid: v for nid, v in views.items() if nid not in due}
        self.runs.append(
            {"id": run.id, "flow_id": run.flow_id, "created_at": run.created_at, "branch": run.branch}
        )
        for nid in due:
            attempt = steps[nid].attempts + 1
            self.marks.append(
                {
                    "run_id": run.id,
                    "node_id": nid,
                    "status": "running",
                    "attempts": attempt,
                    "resume_at": None,
                }
            )
            self.sends.append(
                (run.id, graph, nid, run.context, info, run.event_type, attempt, steps[nid].state or {})
            )

    def _retries(self, graph: Graph, steps: dict) -> tuple[list[str], list[str], bool]:
        """The action steps to try again now and later, and whether the run has anything else
        unfinished (a delay, a step left running, a failure: the step path knows them)."""
        due, later, other = [], [], False
        for nid, step in steps.items():
            if step.status in RESUMABLE and graph.kind.get(nid) == "action":
                (due if step.resume_at is None or step.resume_at <= self.soon else later).append(nid)
            elif step.status not in DONE or step.status == "failed":
                other = True
        return due, later, other

    def store(self, session: Session) -> None:
        """Mark the retries sent now, re-wait the runs woken early, release the others (not committed)."""
        if self.marks:  # the attempts are on record before anything leaves the process
            update_rows(session, _STEPS, ("run_id", "node_id"), self.marks)
        if self.rewait:
            update_rows(session, _RUNS, ("id",), self.rewait)
        if self.step_path:
            session.execute(
                update(_RUNS)
                .where(bulk.among(session, _RUNS.c.id, self.step_path))
                .values(status="queued", lease_until=None, updated_at=self.now)
            )
