"""/metrics: runs per scenario and outcome, from the rollup, with the series bounded (the most
active 100 scenarios, the rest summed as flow_id="other")."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from plugin.api.extensions import db
from plugin.api.metrics import FLOW_SERIES
from plugin.engine import rollup
from plugin.storage.models import utcnow


def _samples(client) -> dict[tuple[str, str], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.get_data(as_text=True))}
    return {
        (s.labels["flow_id"], s.labels["status"]): s.value for s in families["automation_flow_runs"].samples
    }


def test_runs_by_scenario_and_outcome_with_bounded_series(app, client):
    now = utcnow()
    tally = rollup.Tally()  # as the engine counts runs: triggered when stored, then their outcome
    # flow fK has 104 - K runs, one of them failed: f100, f101 and f102 have the fewest, "other"
    for k in range(FLOW_SERIES + 3):
        runs = FLOW_SERIES + 4 - k
        # on two days, so the days are summed
        tally.add(f"f{k:03d}", now - timedelta(days=3), "triggered", 1)
        tally.add(f"f{k:03d}", now - timedelta(days=3), "failed", 1)
        tally.add(f"f{k:03d}", now, "triggered", runs - 1)
        tally.add(f"f{k:03d}", now, "succeeded", runs - 1)
    tally.add("f000", now, "triggered", 2)  # two runs under way
    tally.add("f000", now, "suppressed", 5)
    tally.add("f000", now, "not_triggered", 7)  # not a run's outcome here
    with app.app_context():
        tally.store(db.session)
        db.session.commit()
    samples = _samples(client)
    assert samples[("f000", "failed")] == 1 and samples[("f000", "succeeded")] == FLOW_SERIES + 3
    assert samples[("f000", "open")] == 2 and samples[("f000", "suppressed")] == 5
    assert samples[("f099", "failed")] == 1 and samples[("f099", "succeeded")] == 4
    assert samples[("f099", "open")] == 0 and samples[("f099", "suppressed")] == 0
    assert samples[("other", "failed")] == 3 and samples[("other", "succeeded")] == 3 + 2 + 1
    assert ("f100", "failed") not in samples and ("f102", "succeeded") not in samples
    assert len({flow for flow, _ in samples}) == FLOW_SERIES + 1
    assert {status for _, status in samples} == {"succeeded", "failed", "suppressed", "open"}


def test_a_retried_run_moves_from_failed_to_succeeded(app, client):
    now = utcnow()
    with app.app_context():
        rollup.count(db.session, "fx", now, triggered=1, failed=1)
        db.session.commit()
        assert _samples(client)[("fx", "failed")] == 1
        rollup.count(db.session, "fx", now, failed=-1, succeeded=1)  # as the retry's settle does
        db.session.commit()
    samples = _samples(client)
    assert (samples[("fx", "failed")], samples[("fx", "succeeded")], samples[("fx", "open")]) == (0, 1, 0)
