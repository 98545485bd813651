"""Prometheus metrics, read from the database at scrape time (true across all processes)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
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


def render_metrics() -> tuple[bytes, str]:
    registry = CollectorRegistry()
    registry.register(_DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
