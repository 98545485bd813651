"""Send and settle: the calls of runs already on record (a batch's first wave, a backlog of due
retries) sent concurrently on the send stage, their outcomes stored in a few statements.

Outcomes are committed in small groups as they arrive, so a crash re-sends (with the same
idempotency key) only what was in flight in the last few milliseconds, not the whole batch. Each
run then ends, waits for its retries, or is handed to the step-by-step path (execution.py).
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from plugin.engine import rollup
from plugin.engine.calls import Engine, Outcome, busy_outcome, call_action, refused_outcome
from plugin.engine.graph import Graph, StepView
from plugin.engine.sendwindow import window_outcome
from plugin.storage import bulk
from plugin.storage.models import Flow, Run, Step, utcnow
from plugin.storage.secrets import open_params
from plugin.storage.writes import Writes, update_rows
from plugin.transport.destinations import lane_of
from plugin.transport.sendstage import Cancelled, stage

FLUSH_SECONDS = 0.02

_STEPS = Step.__table__
_RUNS = Run.__table__
_FLOWS = Flow.__table__


def send_and_settle(
    session: Session,
    engine: Engine,
    runs: list[dict],
    graphs: dict,
    sends: list[tuple],
    first_views: dict[str, dict[str, StepView]],
    leased_at: float | None = None,
) -> list[str]:
    """Send ``sends`` — ``(run_id, graph, node_id, context, flow_info, event_type, attempt, state)``,
    their steps already marked ``running`` — and settle the runs (``runs``: rows with ``id`` and
    ``flow_id``; ``first_views``: each run's steps as stored before these calls; ``leased_at``:
    when their lease began, ``time.monotonic()``, default now). Returns the runs handed to the
    step-by-step path."""
    outcomes: dict[str, dict] = {run_id: {} for run_id in graphs}
    last_group = _gather(
        session, engine, sends, outcomes, time.monotonic() if leased_at is None else leased_at
    )
    # the last group is stored with the runs' final states below: one commit (and one statement) less
    writes = Writes(session).update(_STEPS, ("run_id", "node_id"), last_group)
    # a run with a send still in flight (a silent receiver) stays leased: the send stage settles
    # that send when it ends, and the run goes on from there once all its sends have ended and
    # this is stored (sendstage.py, settlers.LateSettler: sooner, its other sends would go twice)
    late = {send[0] for send in sends if send[2] not in outcomes[send[0]]}
    now = utcnow()
    ends = _Ends(now)
    flow_of = {r["id"]: (r["flow_id"], r["created_at"], r.get("branch")) for r in runs}
    for run_id, got in outcomes.items():
        if run_id not in late:
            ends.add(run_id, graphs[run_id], first_views[run_id], got, *flow_of[run_id])
    ends.store(writes)
    session.commit()
    for run_id in late:  # what was settled here is stored: the late calls' settler takes them on
        stage().hand_over(run_id)
    if ends.waiting:
        engine.schedule_many([(row["id"], row["next_attempt_at"]) for row in ends.waiting])
    return ends.handoff


def _gather(
    session: Session, engine: Engine, sends: list[tuple], outcomes: dict[str, dict], leased_at: float
) -> list[dict]:
    """Send, filing each outcome under its run as ``{node_id: (outcome, resume_at)}`` and storing
    the outcomes every ``FLUSH_SECONDS``; returns the step updates of the last group, not stored.

    The runs were stored leased for ``lease_seconds``. Sends to slow or silent receivers can take
    longer than that (200 sends through 16 senders, each up to the HTTP timeout), and a run whose
    lease ran out is resumed by the sweeper — which would send again what is still in flight
    here (a second Slack message: no idempotency key there). So the lease of the batch's runs is
    renewed every third of it (counted from ``leased_at``) until they are settled."""
    step_updates: list[dict] = []
    attempt_of = {(send[0], send[2]): send[6] for send in sends}
    last_flush, renewed = time.monotonic(), leased_at
    renew_every = engine.lease_seconds / 3
    for sent in _sent(engine, sends):
        if time.monotonic() - renewed >= renew_every:
            _renew_leases(session, engine, list(outcomes), step_updates)
            renewed = last_flush = time.monotonic()
        if sent is None:
            continue
        (run_id, _graph, nid), outcome = sent
        row = _step_update(run_id, nid, outcome, attempt_of[run_id, nid])
        step_updates.append(row)
        outcomes[run_id][nid] = (outcome, row["resume_at"])
        if time.monotonic() - last_flush >= FLUSH_SECONDS:
            _flush_steps(session, step_updates)
            last_flush = time.monotonic()
    return step_updates


def _step_update(run_id: str, nid: str, outcome: Outcome, attempt: int) -> dict:
    """The row update storing ``outcome`` on its step (``attempt``: the attempt marked at send)."""
    now = utcnow()
    resume_at = now + timedelta(seconds=outcome.resume_in) if outcome.resume_in is not None else None
    final = outcome.status not in ("retrying", "waiting")
    return {
        "run_id": run_id,
        "node_id": nid,
        "status": outcome.status,
        "output": outcome.output if final else None,
        "error": outcome.error,
        "state": outcome.state,
        "attempts": attempt - (0 if outcome.counted else 1),
        "finished_at": now if final else None,
        "resume_at": resume_at,
        "duration_ms": outcome.duration_ms,
    }


class _Ends:
    """Where each settled run goes — finished, waiting for its retries, or handed to the step
    path — gathered to be stored in a few statements."""

    def __init__(self, now):
        self.now = now
        self.handoff: list[str] = []
        self.finals: list[dict] = []
        self.waiting: list[dict] = []
        self.not_reached: list[dict] = []
        self.failed_flows: dict[str, int] = {}
        self.tally = rollup.Tally()
        self.branches: list[dict] = []  # runs going on that reached their client already

    def _reached(self, run_id: str, branch: str | None, fresh: bool) -> None:
        if branch is not None and fresh:
            self.branches.append({"id": run_id, "branch": branch})

    def add(
        self,
        run_id: str,
        graph: Graph,
        first: dict[str, StepView],
        got: dict,
        flow_id,
        created_at,
        branch=None,
    ) -> None:
        """One run, with the outcomes of its calls (``got``) and its steps as stored (``first``);
        ``branch``: the one it has already (a resumed run that reached its client before)."""
        views = {nid: StepView(status=got[nid][0].status) for nid in graph.order if nid in got}
        for outcome, _at in got.values():
            self.tally.sent(flow_id, created_at, outcome.duration_ms)
        fresh = branch is None
        branch = branch or graph.branch({nid: v.status for nid, v in views.items()})
        decided, needs_more = decided_views(graph, first, views)
        resumes = [at for o, at in got.values() if o.status in ("retrying", "waiting")]
        if resumes and not runnable_now(graph, first, views):
            # only retries (or rate-limit waits) are left: the run waits, without the step-by-step
            # path's statements per run; RQ's scheduler resumes it (Engine.schedule_many)
            self._reached(run_id, branch, fresh)
            self.waiting.append(
                {
                    "id": run_id,
                    "status": "waiting",
                    "lease_until": None,
                    "next_attempt_at": min(resumes),
                    "updated_at": self.now,
                }
            )
            return
        if needs_more or resumes:
            self._reached(run_id, branch, fresh)
            self.handoff.append(run_id)
            return
        self._end(run_id, graph, decided, got, flow_id, created_at, branch)

    def _end(
        self, run_id: str, graph: Graph, decided: list[str], got: dict, flow_id, created_at, branch
    ) -> None:
        """A run that ends here: its nodes left not reached, its status, its counts."""
        for nid in decided:
            self.not_reached.append(
                {
                    "run_id": run_id,
                    "node_id": nid,
                    "node_type": graph.nodes[nid]["type"],
                    "status": "not_reached",
                    "attempts": 0,
                    "state": {},
                }
            )
        failed = [o.error for o, _ in got.values() if o.status == "failed"]
        self.finals.append(
            {
                "id": run_id,
                "status": "failed" if failed else "succeeded",
                "branch": branch,
                "error": failed[0] if failed else None,
                "finished_at": self.now,
                "updated_at": self.now,
                "lease_until": None,
                "next_attempt_at": None,
            }
        )
        if failed:
            self.failed_flows[flow_id] = self.failed_flows.get(flow_id, 0) + 1
        self.tally.add(flow_id, created_at, "failed" if failed else "succeeded")

    def store(self, writes: Writes) -> None:
        """The statements of every run's end, sent with ``writes`` (not committed)."""
        session = writes.session
        writes.insert(_STEPS, self.not_reached)
        for rows in (self.finals, self.waiting, self.branches):
            writes.update(_RUNS, ("id",), rows)
        self.tally.gather(writes)  # before the flows' rows, as every writer of both does
        for flow_id, count in sorted(self.failed_flows.items()):
            writes.add_to(_FLOWS, "id", {"id": flow_id, "failed_count": count}, counts=("failed_count",))
        writes.flush()
        if self.handoff:  # the step-by-step path takes over right away (or at the retry time it finds)
            session.execute(
                update(Run)
                .where(bulk.among(session, Run.id, self.handoff))
                .values(status="queued", lease_until=None, updated_at=self.now)
                .execution_options(synchronize_session=False)
            )


def _send(engine: Engine, run_id, graph: Graph, nid, params, context, info, event_type, attempt, state):
    return call_action(
        engine,
        graph.spec(nid),
        graph.nodes[nid],
        params,
        context,
        run_id=run_id,
        flow_info={"id": info["id"], "name": info["name"]},
        event_type=event_type,
        attempt=attempt,
        state=state,
    )


def _sent(engine: Engine, sends: list[tuple]):
    """Send on the send stage, each in its destination's lane; yield ``((run_id, graph, node_id),
    outcome)`` as each ends, and ``None`` while nothing ends. A send still in flight when the stage
    stops waiting is late: not yielded, settled by the stage when it ends (see sendstage.py); one
    its lane never started comes back as a wait of ``busy_retry`` seconds, not an attempt.

    An exception inside a send is raised here, as ``future.result()`` would."""
    items = []
    circuits_open = engine.services.destinations.any_open()
    for run_id, graph, nid, context, info, event_type, attempt, state in sends:
        wait = window_outcome(engine, graph, nid, state) if graph.settings else None
        if wait is not None:  # outside the flow's send window: a wait until it opens, no call
            yield (run_id, graph, nid), wait
            continue
        node = graph.nodes[nid]
        params = open_params(engine.registry, engine.secrets, node, engine.connections)
        lane = lane_of(node["type"], params)
        refused = refused_outcome(engine, lane, state) if circuits_open else None
        if refused is not None:  # its receiver's circuit is open: a scheduled retry, no call
            yield (run_id, graph, nid), refused
            continue
        items.append(
            (
                (run_id, graph, nid),
                lane,
                _send,
                (engine, run_id, graph, nid, params, context, info, event_type, attempt, state),
            )
        )
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


def _flush_steps(session: Session, step_updates: list[dict]) -> None:
    if not step_updates:
        return
    update_rows(session, _STEPS, ("run_id", "node_id"), step_updates)
    session.commit()
    step_updates.clear()


def _renew_leases(session: Session, engine: Engine, run_ids: list[str], step_updates: list[dict]) -> None:
    """The runs still being settled here leased for another term, with the outcomes so far."""
    session.execute(
        update(_RUNS)
        .where(bulk.among(session, _RUNS.c.id, run_ids), _RUNS.c.status == "running")
        .values(lease_until=utcnow() + timedelta(seconds=engine.lease_seconds))
    )
    _flush_steps(session, step_updates)  # commits when outcomes are pending
    session.commit()


def runnable_now(graph: Graph, first: dict[str, StepView], action_views: dict[str, StepView]) -> bool:
    """Whether some node of the run could run now (not only after a pending retry or wait)."""
    views = {**first, **action_views}
    return any(nid not in views and graph.activation(nid, views) is True for nid in graph.order)


def decided_views(
    graph: Graph, first: dict[str, StepView], action_views: dict[str, StepView]
) -> tuple[list[str], bool]:
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
