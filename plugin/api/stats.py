"""Scenario analytics (SPEC §11): ``GET /api/v1/flows/{id}/stats`` and ``GET /api/v1/stats/overview``.

Counts come from the hourly rollup (engine/stats.py), conversions and revenue from the
attribution of paid orders (engine/attribution.py: last touch within ``window_days``, each paid
order counted once per scenario).
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.common import moment
from plugin.api.extensions import db
from plugin.api.openapi_stats import OVERVIEW_RESPONSES, STATS_PARAMETERS, STATS_RESPONSES
from plugin.engine import attribution, conversions, stats
from plugin.errors import NotFound, ValidationFailed
from plugin.messages import msg
from plugin.storage.models import Flow, utcnow

blp = Blueprint("stats", __name__, url_prefix="/api/v1", description="Scenario analytics")

DEFAULT_DAYS = 30
MAX_WINDOW_DAYS = attribution.MAX_WINDOW_DAYS


def _query() -> tuple[stats.Period, int]:
    """The period (``from``, ``to``, ``interval``, ``tz``) and ``window_days``; every problem at once."""
    args, problems = request.args, []
    start, end = (moment(args, name, problems) for name in ("from", "to"))
    interval = args.get("interval", "day")
    if interval not in stats.INTERVALS:
        said = msg("query.one_of", f"must be hour or day, got {interval!r}", allowed=stats.INTERVALS)
        problems.append({"path": "/interval", "message": said})
    window = _window(args.get("window_days"), problems)
    tz = args.get("tz") or current_app.config.get("TIMEZONE") or "Europe/Moscow"
    if not _zone_ok(tz):
        said = msg("query.timezone", f"must be an IANA time zone, got {tz[:60]!r}", value=tz[:60])
        problems.append({"path": "/tz", "message": said})
    end = end or utcnow()
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        problems.append({"path": "/to", "message": msg("query.to", "must be later than from")})
    if problems:
        raise ValidationFailed(msg("query.invalid", "invalid query"), problems)
    period = stats.Period(start, end, interval, tz)
    most = stats.MAX_POINTS[interval]
    if period.points() > most:
        said = msg("query.points", f"the period has {period.points()} points; at most {most}", most=most)
        raise ValidationFailed(msg("query.invalid", "invalid query"), [{"path": "/from", "message": said}])
    return period, window


def _window(raw: str | None, problems: list) -> int:
    if raw is None:
        return 7
    try:
        value = int(raw)
        if not 1 <= value <= MAX_WINDOW_DAYS:
            raise ValueError(raw)
        return value
    except ValueError:
        english = f"expected an integer from 1 to {MAX_WINDOW_DAYS}, got {raw[:20]!r}"
        said = msg("query.int_range", english, low=1, high=MAX_WINDOW_DAYS, value=raw[:20])
        problems.append({"path": "/window_days", "message": said})
        return 7


def _zone_ok(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
        return True
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError (a path), anything odd: not a zone
        return False


def _bounds(period: stats.Period) -> dict:
    return {"from": period.label(period.start), "to": period.label(period.end), "interval": period.interval}


@blp.route("/flows/<string:flow_id>/stats")
class FlowStats(MethodView):
    @blp.doc(
        summary="A scenario's firings, failures and conversions over a period",
        parameters=STATS_PARAMETERS,
        responses=STATS_RESPONSES,
    )
    def get(self, flow_id: str):
        if db.session.get(Flow, flow_id) is None:
            raise NotFound(msg("notfound.flow", f"no flow {flow_id!r}", id=flow_id))
        period, window = _query()
        series = stats.flow_series(db.session, flow_id, period)
        converted = conversions.conversions(
            db.session, flow_id, period.start, period.end, window_days=window, tz=period.zone
        )
        return {
            "flow_id": flow_id,
            **_bounds(period),
            "window_days": window,
            **series,
            "conversions": converted,
        }


@blp.route("/stats/overview")
class Overview(MethodView):
    @blp.doc(
        summary="Totals and top scenarios over a period",
        parameters=[p for p in STATS_PARAMETERS if p["name"] != "id"],
        responses=OVERVIEW_RESPONSES,
    )
    def get(self):
        period, window = _query()
        found = stats.overview(db.session, period)
        converted, revenue = conversions.revenue_total(
            db.session, period.start, period.end, window_days=window
        )
        found["totals"].update(converted=converted, revenue=revenue)
        found["top"]["revenue"] = conversions.top_revenue(
            db.session, period.start, period.end, window_days=window, limit=stats.TOP
        )
        return {**_bounds(period), "window_days": window, **found}
