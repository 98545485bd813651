"""The analytics' read side (SPEC §11): a scenario's counts over a period, and the overview.

Everything is read from the hourly rollup (storage/stats_models.py, written by rollup.py), never
from the runs, so a year of a busy site costs at most 8,760 rows per scenario. Days are the days
of ``tz`` (``AUTOMATION_TIMEZONE``: a Moscow marketer's «вчера» starts at 00:00 Moscow time).

``not_triggered`` of an hour is the runs stored as not triggered plus, for the events the flow
index matched, the events the flow's event node matched that did not become a run
(``seen − fired``, see stats_models.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal, select, text

from plugin.engine import rollup
from plugin.engine.rollup import hour
from plugin.storage.models import Flow
from plugin.storage.stats_models import FlowStat, FlowStatDay, StatsGroup, StatsSeen

SERIES = ("triggered", "succeeded", "failed", "suppressed", "not_triggered")
INTERVALS = ("hour", "day")
MAX_POINTS = {"hour": 24 * 93, "day": 3 * 366}  # a chart's points: 93 days by the hour, 3 years by day
TOP = 10


class Period:
    """``[start, end)`` in naive UTC, cut into the buckets of ``interval`` in the zone ``tz``."""

    def __init__(self, start: datetime, end: datetime, interval: str, tz: str):
        self.zone = ZoneInfo(tz)
        self.interval = interval
        if interval == "hour":
            self.start, self.end = hour(start), _ceil_hour(end)
        else:  # whole local days: from the first one's midnight to the last one's end
            first, last = self.local_day(start), self.local_day(end - timedelta(microseconds=1))
            self.start, self.end = self.midnight(first), self.midnight(last + timedelta(days=1))

    def local_day(self, at: datetime) -> date:
        return at.replace(tzinfo=UTC).astimezone(self.zone).date()

    def midnight(self, day: date) -> datetime:
        local = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return local.astimezone(UTC).replace(tzinfo=None)

    def points(self) -> int:
        if self.interval == "hour":
            return int((self.end - self.start).total_seconds() // 3600)
        return (self.local_day(self.end - timedelta(microseconds=1)) - self.local_day(self.start)).days + 1

    def bucket_keys(self) -> list:
        """Every bucket's key, oldest first: hours (naive UTC) or local dates."""
        if self.interval == "hour":
            return [self.start + timedelta(hours=i) for i in range(self.points())]
        first = self.local_day(self.start)
        return [first + timedelta(days=i) for i in range(self.points())]

    def key(self, bucket: datetime):
        return bucket if self.interval == "hour" else self.local_day(bucket)

    @staticmethod
    def label(key) -> str:
        return key.isoformat() + "Z" if isinstance(key, datetime) else key.isoformat()


def _ceil_hour(at: datetime) -> datetime:
    floor = hour(at)
    return floor if floor == at else floor + timedelta(hours=1)


_ALL = (*SERIES, "fired")


def _by_days(period: Period) -> bool:
    """Whether whole local days of the rollup's own zone: then the daily rows answer."""
    return period.interval == "day" and str(period.zone) == str(rollup.zone())


def _counts(session, period: Period, flow_id: str | None, by: str) -> dict:
    """Sums of the rollup grouped ``by`` ``"bucket"`` (hour or local day, as Period keys) or by
    ``"flow"``; ``not_triggered`` includes the events seen that became no run (seen − fired:
    a flow's fired events are all among its seen ones, so the difference adds up)."""
    days = _by_days(period)
    table = FlowStatDay if days else FlowStat
    when = table.day if days else table.bucket
    low, high = (
        (period.local_day(period.start), period.local_day(period.end)) if days else (period.start, period.end)
    )
    key = table.flow_id if by == "flow" else when
    query = select(key, *(func.sum(getattr(table, c)) for c in _ALL)).where(when >= low, when < high)
    if flow_id is not None:
        query = query.where(table.flow_id == flow_id)
    out: dict = defaultdict(lambda: dict.fromkeys(SERIES, 0))
    for row in session.execute(query.group_by(key)):
        k = row[0] if by == "flow" else (row[0] if days else period.key(row[0]))
        counts = out[k]
        for c, total in zip(_ALL, row[1:], strict=True):
            if c == "fired":
                counts["not_triggered"] -= int(total or 0)
            else:
                counts[c] += int(total or 0)
    if by == "flow":  # the top lists read triggered and failed only: no events seen per flow
        return out
    for k, n in _seen(session, period, flow_id):
        out[k]["not_triggered"] += n
    return out


def _seen(session, period: Period, flow_id: str | None):
    """``(bucket key, events seen)`` of one flow, or of all (each group's count times its
    members: summed per group and hour before the join, 8 groups × 2,160 hours stay 17,280 rows)."""
    if flow_id is not None:
        members = select(StatsGroup.group_id, literal(1).label("n")).where(StatsGroup.flow_id == flow_id)
    else:
        members = select(StatsGroup.group_id, func.count().label("n")).group_by(StatsGroup.group_id)
    members = members.subquery()
    local_days = period.interval == "day" and session.get_bind().dialect.name == "postgresql"
    # by day on PostgreSQL: the hours summed into the zone's days by the server (its zone data),
    # 90 rows, not 2,160 hours each converted here
    key = (
        func.date(func.timezone(str(period.zone), func.timezone("UTC", StatsSeen.bucket)))
        if local_days
        else StatsSeen.bucket
    )
    query = (
        select(key, func.sum(StatsSeen.count * members.c.n))
        .join(members, members.c.group_id == StatsSeen.group_id)
        .where(StatsSeen.bucket >= period.start, StatsSeen.bucket < period.end)
        .group_by(text("1"))  # the key by position: its bound zone names would not match twice
    )
    for at, n in session.execute(query):
        yield (at if local_days else period.key(at)), int(n or 0)


def flow_series(session, flow_id: str, period: Period) -> dict:
    """``{"series": [{"t", triggered…}], "totals": {…}}`` of one scenario, zero-filled."""
    return _series(_counts(session, period, flow_id, "bucket"), period)


def _series(found: dict, period: Period) -> dict:
    zero = dict.fromkeys(SERIES, 0)
    series = [{"t": period.label(key), **found.get(key, zero)} for key in period.bucket_keys()]
    return {"series": series, "totals": {c: sum(p[c] for p in series) for c in SERIES}}


def overview(session, period: Period) -> dict:
    """Totals, the series by bucket and the top scenarios by triggered and failed (revenue is the
    caller's: conversions.py)."""
    found = _series(_counts(session, period, None, "bucket"), period)
    per_flow = _counts(session, period, None, "flow")
    names = (
        dict(session.execute(select(Flow.id, Flow.name).where(Flow.id.in_(list(per_flow)))).all())
        if per_flow
        else {}
    )
    found["top"] = {
        c: [
            {"id": fid, "name": names[fid], "value": counts[c]}
            for fid, counts in sorted(per_flow.items(), key=lambda kv: (-kv[1][c], names.get(kv[0], "")))
            if fid in names and counts[c] > 0
        ][:TOP]
        for c in ("triggered", "failed")
    }
    return found


def last_days(session, flow_ids: list[str], now: datetime, tz: str, days: int = 7) -> dict[str, dict]:
    """Per flow, the last ``days`` local days (today included): triggered and failed, and the
    triggered per day for the list's sparkline (oldest first)."""
    if not flow_ids:
        return {}
    zone = ZoneInfo(tz)
    today = now.replace(tzinfo=UTC).astimezone(zone).date()
    period = Period(now - timedelta(days=days - 1), now, "day", tz)
    first = today - timedelta(days=days - 1)
    out = {fid: {"triggered": 0, "failed": 0, "daily": [0] * days} for fid in flow_ids}
    table = FlowStatDay if _by_days(period) else FlowStat
    when = table.day if table is FlowStatDay else table.bucket
    low, high = (first, today + timedelta(days=1)) if table is FlowStatDay else (period.start, period.end)
    query = select(table.flow_id, when, table.triggered, table.failed).where(
        table.flow_id.in_(flow_ids), when >= low, when < high
    )
    for fid, at, triggered, failed in session.execute(query):
        index = ((at if table is FlowStatDay else period.local_day(at)) - first).days
        entry = out[fid]
        entry["triggered"] += triggered or 0
        entry["failed"] += failed or 0
        if 0 <= index < days:
            entry["daily"][index] += triggered or 0
    return out
