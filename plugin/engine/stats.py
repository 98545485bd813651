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

from sqlalchemy import func, select

from plugin.engine.rollup import hour
from plugin.storage.models import Flow
from plugin.storage.stats_models import FlowStat, StatsGroup, StatsSeen

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


def _hours(session, period: Period, flow_id: str | None = None) -> dict:
    """Per flow and hour: the rollup's counts, ``not_triggered`` completed with the events seen."""
    columns = [FlowStat.flow_id, FlowStat.bucket, *(getattr(FlowStat, c) for c in (*SERIES, "fired"))]
    query = select(*columns).where(FlowStat.bucket >= period.start, FlowStat.bucket < period.end)
    if flow_id is not None:
        query = query.where(FlowStat.flow_id == flow_id)
    hours: dict[tuple, dict] = {}
    for row in session.execute(query):
        hours[row.flow_id, row.bucket] = {c: getattr(row, c) or 0 for c in (*SERIES, "fired")}
    seen = (
        select(StatsGroup.flow_id, StatsSeen.bucket, func.sum(StatsSeen.count))
        .join(StatsGroup, StatsGroup.group_id == StatsSeen.group_id)
        .where(StatsSeen.bucket >= period.start, StatsSeen.bucket < period.end)
        .group_by(StatsGroup.flow_id, StatsSeen.bucket)
    )
    if flow_id is not None:
        seen = seen.where(StatsGroup.flow_id == flow_id)
    for fid, bucket, n in session.execute(seen):
        counts = hours.setdefault((fid, bucket), dict.fromkeys((*SERIES, "fired"), 0))
        counts["not_triggered"] += max(0, int(n or 0) - counts["fired"])
    return hours


def flow_series(session, flow_id: str, period: Period) -> dict:
    """``{"series": [{"t", triggered…}], "totals": {…}}`` of one scenario, zero-filled."""
    by_key = {key: dict.fromkeys(SERIES, 0) for key in period.bucket_keys()}
    for (_fid, bucket), counts in _hours(session, period, flow_id).items():
        point = by_key.get(period.key(bucket))
        if point is not None:
            for c in SERIES:
                point[c] += counts[c]
    series = [{"t": period.label(key), **point} for key, point in by_key.items()]
    totals = {c: sum(p[c] for p in series) for c in SERIES}
    return {"series": series, "totals": totals}


def overview(session, period: Period) -> dict:
    """Totals, the series by bucket and the top scenarios by triggered and failed (revenue is the
    caller's: attribution.py)."""
    by_key = {key: dict.fromkeys(SERIES, 0) for key in period.bucket_keys()}
    per_flow: dict[str, dict] = defaultdict(lambda: dict.fromkeys(SERIES, 0))
    for (fid, bucket), counts in _hours(session, period).items():
        point = by_key.get(period.key(bucket))
        flow = per_flow[fid]
        for c in SERIES:
            flow[c] += counts[c]
            if point is not None:
                point[c] += counts[c]
    series = [{"t": period.label(key), **point} for key, point in by_key.items()]
    names = (
        dict(session.execute(select(Flow.id, Flow.name).where(Flow.id.in_(list(per_flow)))).all())
        if per_flow
        else {}
    )
    top = {
        c: [
            {"id": fid, "name": names[fid], "value": counts[c]}
            for fid, counts in sorted(per_flow.items(), key=lambda kv: (-kv[1][c], names.get(kv[0], "")))
            if fid in names and counts[c] > 0
        ][:TOP]
        for c in ("triggered", "failed")
    }
    return {"series": series, "totals": {c: sum(p[c] for p in series) for c in SERIES}, "top": top}


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
    query = select(FlowStat.flow_id, FlowStat.bucket, FlowStat.triggered, FlowStat.failed).where(
        FlowStat.flow_id.in_(flow_ids), FlowStat.bucket >= period.start, FlowStat.bucket < period.end
    )
    for fid, bucket, triggered, failed in session.execute(query):
        index = (period.local_day(bucket) - first).days
        entry = out[fid]
        entry["triggered"] += triggered or 0
        entry["failed"] += failed or 0
        if 0 <= index < days:
            entry["daily"][index] += triggered or 0
    return out
