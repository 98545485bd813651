"""Scenario counts by the hour (storage/stats_models.py), written where runs change.

A :class:`Tally` gathers the changes of one transaction — ``add(flow_id, created_at, column)`` —
and :meth:`Tally.store` writes them as one upsert per (flow, hour) row, in key order (two
dispatch jobs counting the same rows lock them in the same order). Each change lands in the hour
(``flow_stats``) and in the local day (``flow_stats_days``, days of ``AUTOMATION_TIMEZONE``) the
run was *created* in, so a run retried days later moves from ``failed`` to ``succeeded`` in
its own hour, and a chart's bars stay comparable.

Each call site is the statement that already changes the flow's list counters
(``flows.triggered_count`` …); the rollup adds one statement to those transactions on PostgreSQL
(hours, days and seen groups together: storage/writes.Writes.add_counts), three on SQLite.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from plugin.storage import bulk
from plugin.storage.stats_models import ALL_COUNTS, LATENCY_MS, FlowStat, FlowStatDay, StatsGroup, StatsSeen
from plugin.storage.writes import Writes

_STATS = FlowStat.__table__
_DAYS = FlowStatDay.__table__
_SEEN = StatsSeen.__table__
_GROUPS = StatsGroup.__table__


def hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


@functools.cache
def zone() -> ZoneInfo:
    """The zone of the daily rows: ``AUTOMATION_TIMEZONE`` (the config checks it), else Moscow."""
    try:
        return ZoneInfo((os.environ.get("AUTOMATION_TIMEZONE") or "Europe/Moscow").strip())
    except Exception:  # noqa: BLE001 - an invalid name: the app refuses to start with it anyway
        return ZoneInfo("Europe/Moscow")


def local_day(at: datetime, tz: ZoneInfo | None = None) -> date:
    return at.replace(tzinfo=UTC).astimezone(tz or zone()).date()


_UNSET = object()


class Tally:
    """Count changes of one transaction, stored together by :meth:`store`."""

    __slots__ = ("_buckets", "days", "rows", "seen")

    def __init__(self):
        self.rows: dict[tuple[str, datetime], dict[str, int]] = defaultdict(dict)
        self.days: dict[tuple[str, date], dict[str, int]] = defaultdict(dict)
        self.seen: dict[tuple[str, datetime], int] = defaultdict(int)
        self._buckets: tuple = (_UNSET, None, None)  # (moment, its hour, its local day): a batch's are one

    def add(self, flow_id: str | None, created_at: datetime, column: str, n: int = 1) -> None:
        if not flow_id or not n:
            return
        at, bucket, today = self._buckets
        if at != created_at:
            at, bucket, today = self._buckets = (created_at, hour(created_at), local_day(created_at))
        row = self.rows[flow_id, bucket]
        row[column] = row.get(column, 0) + n
        day = self.days[flow_id, today]
        day[column] = day.get(column, 0) + n

    def sent(self, flow_id: str | None, created_at: datetime, ms: float | None) -> None:
        """One call of an action that took ``ms`` (the send latency histogram); ``0`` or ``None``:
        no call went out (an open circuit, outside the send window)."""
        if not ms:
            return
        self.add(flow_id, created_at, "sends")
        self.add(flow_id, created_at, "send_ms", round(ms))
        bucket = next((f"le_{b}" for b in LATENCY_MS if ms <= b), None)
        if bucket is not None:  # slower than the last bucket: in sends (+Inf) only
            self.add(flow_id, created_at, bucket)

    def saw(self, group_id: str, at: datetime, n: int = 1) -> None:
        """An event matched by the event node of the flows of ``group_id``."""
        self.seen[group_id, hour(at)] += n

    def __bool__(self) -> bool:
        return bool(self.rows) or bool(self.seen)

    def store(self, session: Session) -> None:
        """The upserts, in one statement on PostgreSQL (not committed); the tally is emptied."""
        writes = Writes(session)
        self.gather(writes)
        writes.flush()

    def gather(self, writes: Writes) -> None:
        """The upserts added to ``writes``, sent with the transaction's other writes; the tally
        is emptied."""
        if not self:
            return
        hours = [{"flow_id": f, "bucket": b, **counts} for (f, b), counts in sorted(self.rows.items())]
        days = [{"flow_id": f, "day": d, **counts} for (f, d), counts in sorted(self.days.items())]
        seen = [{"group_id": g, "bucket": b, "count": n} for (g, b), n in sorted(self.seen.items())]
        writes.add_counts(
            [
                (_STATS, ("flow_id", "bucket"), ALL_COUNTS, hours),
                (_DAYS, ("flow_id", "day"), ALL_COUNTS, days),
                (_SEEN, ("group_id", "bucket"), ("count",), seen),
            ],
        )
        self.rows.clear()
        self.days.clear()
        self.seen.clear()


def count(session: Session, flow_id: str | None, created_at: datetime, **columns: int) -> None:
    """One run's change stored at once (not committed): ``count(s, f, at, failed=-1, succeeded=1)``."""
    tally = Tally()
    for column, n in columns.items():
        tally.add(flow_id, created_at, column, n)
    if tally:
        tally.store(session)


def count_end(session: Session, run, *, failed: bool) -> None:
    """A run of the step path ended: ``failed``, ``succeeded`` if it reached an action, else
    ``not_triggered`` (a test run is not the scenario's: not counted)."""
    if run.flow_id and run.trigger != "test":
        outcome = "failed" if failed else ("succeeded" if run.counted else "not_triggered")
        count(session, run.flow_id, run.created_at, **{outcome: 1})


def after_call(session: Session, run, node_id: str, outcome) -> None:
    """An action's call on the step path (not committed): its latency counted (a ``duration_ms``
    of 0: no call went out), and the run's branch set when it first reached its client."""
    if outcome.status == "succeeded" and run.branch is None:
        run.branch = node_id
    if run.flow_id and run.trigger != "test" and outcome.duration_ms:
        tally = Tally()
        tally.sent(run.flow_id, run.created_at, outcome.duration_ms)
        tally.store(session)


def record_groups(session: Session, groups: dict[str, list[str]]) -> None:
    """Store the members of groups met for the first time (an existing membership is kept)."""
    rows = [{"group_id": g, "flow_id": f} for g, flows in sorted(groups.items()) for f in sorted(set(flows))]
    if rows:
        session.execute(bulk.dialect_insert(session, _GROUPS).on_conflict_do_nothing(), rows)
