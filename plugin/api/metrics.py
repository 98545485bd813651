"""Prometheus metrics, read from the database at scrape time (true across all processes)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from plugin.api.extensions import db
from plugin.storage.models import Event, Flow, Run


class _DatabaseCollector:
    def collect(self):
        flows = GaugeMetricFamily("automation_flows", "Flows by state", labels=["enabled"])
        for enabled, count in db.session.execute(select(Flow.enabled, func.count()).group_by(Flow.enabled)):
            flows.add_metric(["true" if enabled else "false"], count)
        yield flows
        runs = GaugeMetricFamily("automation_runs", "Runs by status", labels=["status"])
        for status, count in db.session.execute(select(Run.status, func.count()).group_by(Run.status)):
            runs.add_metric([status], count)
        yield runs
        yield _runs_by_flow()
        pending = db.session.scalar(
            select(func.count()).select_from(Event).where(Event.dispatched_at.is_(None))
        )
        yield GaugeMetricFamily(
            "automation_events_undispatched", "Stored events not yet matched", value=pending or 0
        )
        triggered = db.session.scalar(select(func.coalesce(func.sum(Flow.triggered_count), 0)))
        yield GaugeMetricFamily(
            "automation_flow_triggered_total", "Sum of Срабатываний", value=triggered or 0
        )
        failed = db.session.scalar(select(func.count()).select_from(Event).where(Event.error.is_not(None)))
        yield GaugeMetricFamily(
            "automation_events_failed",
            "Stored events that could not be dispatched (see events.error)",
            value=failed or 0,
        )
        yield from _retention()
        yield from _destinations()
        yield from _send_latency()
        yield from _destination_failures()


FLOW_SERIES = 100
"""The most scenarios with a series of their own in ``automation_flow_runs``: the ones with the
most runs; the rest are summed under ``flow_id="other"``. With 4 statuses that bounds the metric
at 404 series however many scenarios there are."""


def _runs_by_flow() -> GaugeMetricFamily:
    """Runs per scenario by outcome, all time, from the daily rollup (engine/rollup.py): a row
    per scenario and day is summed, where a GROUP BY over the runs read every run at each scrape
    (5 M runs: seconds of PostgreSQL per scrape). ``open``: reached an action, not ended yet."""
    from plugin.storage.stats_models import FlowStatDay

    family = GaugeMetricFamily(
        "automation_flow_runs",
        "Runs per scenario (flow_id) and outcome: succeeded, failed, suppressed, open",
        labels=["flow_id", "status"],
    )
    columns = ("triggered", "succeeded", "failed", "suppressed")
    sums = [func.coalesce(func.sum(getattr(FlowStatDay, c)), 0) for c in columns]
    counts: dict[str, dict[str, int]] = {}
    for flow_id, triggered, succeeded, failed, suppressed in db.session.execute(
        select(FlowStatDay.flow_id, *sums).group_by(FlowStatDay.flow_id)
    ):
        found = {
            "succeeded": int(succeeded),
            "failed": int(failed),
            "suppressed": int(suppressed),
            "open": max(0, int(triggered) - int(succeeded) - int(failed)),
        }
        if any(found.values()):
            counts[flow_id] = found
    ranked = sorted(counts, key=lambda f: (-sum(counts[f].values()), f))
    other: dict[str, int] = {}
    for flow_id in ranked[FLOW_SERIES:]:
        for status, count in counts.pop(flow_id).items():
            other[status] = other.get(status, 0) + count
    if other:
        counts["other"] = other
    for flow_id in sorted(counts):
        for status, count in sorted(counts[flow_id].items()):
            family.add_metric([flow_id, status], count)
    return family


def _retention():
    """Rows deleted by retention so far: totals the pruning process keeps in Redis."""
    from plugin.api.context import rt
    from plugin.engine.retention import totals

    kept = totals(rt().redis)
    if not kept:
        return
    pruned = CounterMetricFamily("automation_pruned_rows", "Rows deleted by retention", labels=["table"])
    for table in ("events", "runs", "steps"):
        pruned.add_metric([table], kept.get(table, 0.0))
    yield pruned
    if "last_run" in kept:
        yield GaugeMetricFamily(
            "automation_prune_last_run_timestamp_seconds", "When retention last ran", value=kept["last_run"]
        )


def _destinations():
    """Each destination's circuit as its processes last published it (open = its calls are
    scheduled retries without a connection attempt)."""
    import time

    from plugin.api.context import rt
    from plugin.transport.destinations import published

    circuits = published(rt().redis)
    if not circuits:
        return
    state = GaugeMetricFamily(
        "automation_destination_circuit_open",
        "1 while calls to the destination are held back by its open circuit",
        labels=["destination", "reason"],
    )
    until = GaugeMetricFamily(
        "automation_destination_circuit_open_until_timestamp_seconds",
        "When the destination's open circuit lets a probe through",
        labels=["destination"],
    )
    now = time.time()
    for dest, value in sorted(circuits.items()):
        is_open = value.get("state") == "open" and (value.get("open_until") or 0) > now
        state.add_metric([dest, value.get("reason") or ""], 1 if is_open else 0)
        if is_open:
            until.add_metric([dest], value["open_until"])
    yield state
    yield until


def _send_latency():
    """Each scenario's calls by how long they took (the rollup's days, all time): a histogram per
    scenario for the :data:`FLOW_SERIES` scenarios with the most calls, the rest as ``other``."""
    from plugin.storage.stats_models import LATENCY, LATENCY_MS, FlowStatDay

    sums = [func.sum(getattr(FlowStatDay, c)) for c in (*LATENCY, "send_ms")]
    rows = db.session.execute(select(FlowStatDay.flow_id, *sums).group_by(FlowStatDay.flow_id)).all()
    rows = sorted((r for r in rows if r[1]), key=lambda r: (-r[1], r[0]))
    if not rows:
        return
    family = HistogramMetricFamily(
        "automation_flow_send_seconds", "How long each action's call took, per scenario", labels=["flow_id"]
    )
    series: dict[str, list[int]] = {}
    for flow_id, *numbers in rows:
        key = flow_id if len(series) < FLOW_SERIES or flow_id in series else "other"
        kept = series.setdefault(key, [0] * len(numbers))
        for i, n in enumerate(numbers):
            kept[i] += int(n or 0)
    for flow_id, (sends, *counts, send_ms) in series.items():
        buckets, running = [], 0
        for ms, n in zip(LATENCY_MS, counts, strict=True):
            running += n
            buckets.append((str(ms / 1000), running))
        buckets.append(("+Inf", sends))
        family.add_metric([flow_id], buckets, sum_value=send_ms / 1000)
    yield family


def _destination_failures():
    """Failed calls per destination (host) and reason — a transport failure or an HTTP error
    status — counted by every process in Redis; the 100 destinations with the most."""
    from plugin.api.context import rt
    from plugin.transport.destinations import failures

    counted = failures(rt().redis)
    if not counted:
        return
    per_dest: dict[str, int] = {}
    for (dest, _reason), n in counted.items():
        per_dest[dest] = per_dest.get(dest, 0) + n
    kept = set(sorted(per_dest, key=lambda d: (-per_dest[d], d))[:FLOW_SERIES])
    family = CounterMetricFamily(
        "automation_destination_failures",
        "Failed calls per destination and reason",
        labels=["destination", "reason"],
    )
    for (dest, reason), n in sorted(counted.items()):
        if dest in kept:
            family.add_metric([dest, reason], n)
    yield family


def render_metrics() -> tuple[bytes, str]:
    registry = CollectorRegistry()
    registry.register(_DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
