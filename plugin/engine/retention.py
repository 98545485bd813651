"""Data retention: delete dispatched inbox events and finished runs (with their steps) past their age.

What is never deleted, and why:

- events not yet dispatched (``dispatched_at IS NULL``, claimed or not): they are work to do;
- events with a ``dedupe_key`` (the N-day due events ``days:{flow}:{order}``): the sweep and the
  order-upsert check record a due (flow, order) with ``INSERT … ON CONFLICT (dedupe_key) DO
  NOTHING``, and the upsert check (``dispatch.record_due``) tests the whole window since the
  flow was enabled, not a watermark: without the row, the next update of an order that fell due
  long ago would record it again and fire the flow a second time;
- runs keyed ``days:…``: the second guard of that once-per-(flow, order) promise (a due event
  dispatched twice makes one run because of this key);
- runs not finished (queued, running, waiting): work to do;
- the newest event row, whatever its age: SQLite (no ``AUTOINCREMENT`` on ``events.id``) hands out
  ``max(id) + 1``, so deleting the newest rows would reuse ids, and a stored run key
  ``ev:{event}:{flow}`` would then swallow the run of the new event;
- domain data (visits, orders, clients, custom events), flows, presets and their counters;
- the frequency rules' slots still inside their flow's window, and every slot of a rule over all
  time (``frequency.prune_slots`` deletes the others at the end of each prune).

Both tables are walked in key order — events by ``id``, runs by ``(created_at, id)``, the primary
key and ``ix_runs_created`` — and the walk stops at the first row too young to go (an event is
dispatched after it is created, a run finishes after it is created). The rows to delete are
picked in Python from a chunk of at most :data:`CHUNK` rows and deleted with one statement that
re-checks the rule, each chunk in its own short transaction, events and runs in turn, until both
walks end or the time budget is spent. Rows kept for good (the N-day ones above) would be walked
again by every run; a *mark* — the key up to which every row is deleted or kept for good, saved in
Redis by the scheduled job — lets the next walk start after them. A lost mark costs one longer walk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_
from sqlalchemy.orm import Session

from plugin.config import RetentionPolicy as Policy
from plugin.engine import frequency
from plugin.storage.bulk import among
from plugin.storage.journey_models import Wait
from plugin.storage.models import Event, Run, Step, utcnow

log = logging.getLogger(__name__)

FINISHED = (
    "succeeded",
    "failed",
    "not_triggered",
    "suppressed",
    "cancelled",
)  # the other statuses (queued, running, waiting) are open
CHUNK = 5000
BUDGET_SECONDS = 20.0  # per scheduled run: a worker is not held longer than a dispatch job holds it
PAUSE_SECONDS = 0.02  # between chunks: SQLite writers waiting on the lock get their turn
TOTALS_KEY = "automation:retention:pruned"  # Redis hash: rows deleted so far, per table, for /metrics
MARKS_KEY = "automation:retention:marks:"  # + a hash of the database URL: one mark set per database


@dataclass
class Pruned:
    """Rows deleted (or, for a dry run, that would be); ``complete`` is False when the budget ran out."""

    events: int = 0
    runs: int = 0
    steps: int = 0
    complete: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _event_rule(cutoff: datetime) -> list:
    return [Event.dispatched_at.is_not(None), Event.dispatched_at < cutoff, Event.dedupe_key.is_(None)]


def _run_rule(cutoff: datetime) -> list:
    return [
        Run.created_at < cutoff,  # implied by finished_at < cutoff; lets ix_runs_created narrow it
        Run.status.in_(FINISHED),
        Run.finished_at.is_not(None),
        Run.finished_at < cutoff,
        or_(Run.dedupe_key.is_(None), ~Run.dedupe_key.startswith("days:", autoescape=True)),
    ]


def _newest_event(session: Session) -> int:
    return session.scalar(select(func.max(Event.id))) or 0


def count(session: Session, policy: Policy, now: datetime | None = None) -> Pruned:
    """What :func:`prune` would delete now, whole (the CLI's ``--dry-run``)."""
    now = now or utcnow()
    out = Pruned()
    if policy.event_hours > 0:
        rule = [*_event_rule(now - timedelta(hours=policy.event_hours)), Event.id < _newest_event(session)]
        out.events = session.scalar(select(func.count()).select_from(Event).where(*rule)) or 0
    if policy.run_days > 0:
        runs = select(Run.id).where(*_run_rule(now - timedelta(days=policy.run_days)))
        out.runs = session.scalar(select(func.count()).select_from(runs.subquery())) or 0
        out.steps = session.scalar(select(func.count()).select_from(Step).where(Step.run_id.in_(runs))) or 0
    session.rollback()
    return out


class _Walk:
    """Where a walk over one table is: ``position``, the key of the last row looked at; ``mark``, the
    key up to which every row is deleted or kept for good; ``blocked`` once a row that may go later
    was passed (the mark stays before it)."""

    def __init__(self, mark: Any):
        self.position, self.mark, self.blocked = mark, mark, False

    def sort(self, rows, cutoff: datetime, key: Callable, kept: Callable, due: Callable) -> tuple[list, bool]:
        """The ids of ``rows`` to delete (``due`` ones), and whether a row too young to go ended the walk."""
        doomed = []
        for row in rows:
            if row.created_at >= cutoff:  # so is every row after it (but for a few events)
                return doomed, True
            self.position = key(row)
            if kept(row):
                pass  # kept for good
            elif due(row):
                doomed.append(row.id)
            else:
                self.blocked = True  # may go later: the next walk starts before it
            if not self.blocked:
                self.mark = self.position
        return doomed, False


def _event_chunks(session: Session, cutoff: datetime, chunk: int, mark: int | None):
    """Walk events by id after ``mark``, deleting the old dispatched ones; yields ``(deleted, mark)``
    after each chunk, ``mark`` being the id up to which every row is deleted or kept for good."""
    newest = _newest_event(session)
    walk = _Walk(mark)

    def due(row) -> bool:
        return row.dispatched_at is not None and row.dispatched_at < cutoff and row.id < newest

    while True:
        query = select(Event.id, Event.created_at, Event.dispatched_at, Event.dedupe_key)
        if walk.position is not None:
            query = query.where(Event.id > walk.position)
        rows = session.execute(query.order_by(Event.id).limit(chunk)).all()
        session.commit()  # the read ends here: on SQLite the write below starts a fresh transaction
        before = walk.mark
        doomed, young = walk.sort(rows, cutoff, _event_key, _has_dedupe_key, due)
        deleted = _delete_events(session, cutoff, doomed)
        if deleted < len(doomed):  # gone already, or changed meanwhile: the next walk looks again
            walk.mark, walk.blocked = before, True
        yield deleted, walk.mark
        if young or len(rows) < chunk:
            return


def _event_key(row) -> int:
    return row.id


def _has_dedupe_key(row) -> bool:
    return row.dedupe_key is not None


def _delete_events(session: Session, cutoff: datetime, doomed: list[int]) -> int:
    if not doomed:
        return 0
    deleted = session.execute(
        delete(Event)
        .where(among(session, Event.id, doomed), *_event_rule(cutoff))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return deleted


def _after(position: tuple[datetime, str]):
    # a row-value comparison: one range over ix_runs_created (created_at, id) on both databases
    return tuple_(Run.created_at, Run.id) > tuple_(*position)


def _run_key(row) -> tuple[datetime, str]:
    return (row.created_at, row.id)


def _is_days_run(row) -> bool:
    return row.dedupe_key is not None and row.dedupe_key.startswith("days:")


def _run_chunks(session: Session, cutoff: datetime, chunk: int, mark: tuple[datetime, str] | None):
    """Walk runs by (created_at, id) after ``mark``, deleting the old finished ones and their steps;
    yields ``(runs, steps, mark)`` after each chunk."""
    rule = _run_rule(cutoff)
    postgresql = session.get_bind().dialect.name == "postgresql"
    walk = _Walk(mark)

    def due(row) -> bool:
        return row.status in FINISHED and row.finished_at is not None and row.finished_at < cutoff

    while True:
        query = select(Run.id, Run.created_at, Run.status, Run.finished_at, Run.dedupe_key)
        if walk.position is not None:
            query = query.where(_after(walk.position))
        rows = session.execute(query.order_by(Run.created_at, Run.id).limit(chunk)).all()
        session.commit()
        before = walk.mark
        doomed, young = walk.sort(rows, cutoff, _run_key, _is_days_run, due)
        runs, steps = _delete_runs(session, rule, doomed, postgresql)
        session.commit()
        if runs < len(doomed):  # retried meanwhile (or gone already): the next walk looks again
            walk.mark, walk.blocked = before, True
        yield runs, steps, walk.mark
        if young or len(rows) < chunk:
            return


def _delete_runs(session: Session, rule: list, doomed: list[str], postgresql: bool) -> tuple[int, int]:
    """Delete these runs (those still matching ``rule``) and their steps; returns ``(runs, steps)``."""
    if doomed and postgresql:
        # lock them: a run retried meanwhile (failed → queued) is skipped, never left without steps
        doomed = list(
            session.scalars(
                select(Run.id).where(among(session, Run.id, doomed), *rule).with_for_update(skip_locked=True)
            )
        )
    if not doomed:
        return 0, 0
    # steps first and explicitly (SQLite may not enforce ON DELETE CASCADE); both statements
    # re-check that the run is still finished — on SQLite under its one write lock
    still = select(Run.id).where(among(session, Run.id, doomed), *rule)
    steps = session.execute(
        delete(Step)
        .where(among(session, Step.run_id, doomed), Step.run_id.in_(still))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        delete(Wait).where(among(session, Wait.run_id, doomed), Wait.run_id.in_(still))
    )  # their waits
    runs = session.execute(
        delete(Run).where(among(session, Run.id, doomed), *rule).execution_options(synchronize_session=False)
    ).rowcount
    return runs, steps


def _walks(session: Session, policy: Policy, now: datetime, chunk: int, marks: dict) -> list:
    """The walks the policy asks for: ``(table name, chunk generator)``."""
    walks = []
    if policy.event_hours > 0:
        cutoff = now - timedelta(hours=policy.event_hours)
        walks.append(("events", _event_chunks(session, cutoff, chunk, marks.get("events"))))
    if policy.run_days > 0:
        cutoff = now - timedelta(days=policy.run_days)
        walks.append(("runs", _run_chunks(session, cutoff, chunk, marks.get("runs"))))
    return walks


def _count(out: Pruned, marks: dict, name: str, step: tuple) -> None:
    """Add one chunk of the walk over ``name`` to the totals and its mark to ``marks``."""
    if name == "events":
        out.events += step[0]
        marks["events"] = step[1]
    else:
        out.runs += step[0]
        out.steps += step[1]
        marks["runs"] = step[2]


def prune(
    session: Session,
    policy: Policy,
    now: datetime | None = None,
    *,
    budget: float | None = BUDGET_SECONDS,
    chunk: int = CHUNK,
    marks: dict | None = None,
) -> Pruned:
    """Delete what the policy no longer keeps: a chunk of events, then one of runs, in turn.

    Stops when both walks end or once ``budget`` seconds have passed (None: no limit); a started
    chunk is finished, so each table gets at least one per call. ``marks`` (``{"events": id,
    "runs": (created_at, id)}``) says where the walks may start, and is updated as they go.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be a positive number of rows, got {chunk!r}")
    now = now or utcnow()
    marks = {} if marks is None else marks
    started = time.monotonic()
    out = Pruned()
    walks = _walks(session, policy, now, chunk, marks)
    first = True
    while walks:
        if not first and budget is not None and time.monotonic() - started >= budget:
            out.complete = False
            break
        first = False
        for walk in list(walks):
            name, chunks = walk
            step = next(chunks, None)
            if step is None:
                walks.remove(walk)
            else:
                _count(out, marks, name, step)
        if walks:
            time.sleep(PAUSE_SECONDS)
    for _name, chunks in walks:
        chunks.close()
    frequency.prune_slots(session, now)  # the frequency rules' slots no window holds any more
    return out


# -- the scheduled job: marks and totals in Redis (shared by every process) -------------------


def _marks_key(database_url: str) -> str:
    # per database: a mark taken on one database must never let a walk skip rows of another
    return MARKS_KEY + hashlib.sha256(database_url.encode()).hexdigest()[:16]


def load_marks(redis, database_url: str) -> dict:
    try:
        raw = redis.get(_marks_key(database_url))
        data = json.loads(raw) if raw else {}
        marks = {}
        if isinstance(data.get("events"), int):
            marks["events"] = data["events"]
        if isinstance(data.get("runs"), list) and len(data["runs"]) == 2:
            marks["runs"] = (datetime.fromisoformat(data["runs"][0]), str(data["runs"][1]))
        return marks
    except Exception:  # noqa: BLE001 - without marks the walks start at the beginning: slower, same result
        log.warning("could not read the retention marks; walking from the start")
        return {}


def save_marks(redis, database_url: str, marks: dict) -> None:
    data = {}
    if marks.get("events") is not None:
        data["events"] = marks["events"]
    if marks.get("runs") is not None:
        data["runs"] = [marks["runs"][0].isoformat(), marks["runs"][1]]
    try:
        redis.set(_marks_key(database_url), json.dumps(data))
    except Exception:  # noqa: BLE001
        log.warning("could not save the retention marks; the next run walks from the last saved ones")


def record(redis, pruned: Pruned) -> None:
    """Add to the running totals behind ``automation_pruned_rows_total``."""
    try:
        with redis.pipeline() as pipe:
            for table in ("events", "runs", "steps"):
                pipe.hincrby(TOTALS_KEY, table, getattr(pruned, table))
            pipe.hset(TOTALS_KEY, "last_run", f"{time.time():.3f}")
            pipe.execute()
    except Exception:  # noqa: BLE001 - metrics must not fail the prune that already happened
        log.warning("could not record the retention totals in Redis")


def totals(redis) -> dict[str, float]:
    """The totals :func:`record` keeps; empty when Redis cannot be read."""
    try:
        raw = redis.hgetall(TOTALS_KEY)
    except Exception:  # noqa: BLE001 - a scrape without these beats a failed scrape
        return {}
    return {key.decode(): float(value) for key, value in raw.items()}


def report(pruned: Pruned, seconds: float) -> None:
    if pruned.events or pruned.runs or pruned.steps or not pruned.complete:
        log.info(
            "retention: pruned %d events, %d runs and %d steps in %.1f s%s",
            pruned.events,
            pruned.runs,
            pruned.steps,
            seconds,
            "" if pruned.complete else "; the rest is left for the next run",
        )
