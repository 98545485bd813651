"""/metrics: runs per scenario and status, with the series bounded (the most active 100 scenarios,
the rest summed as flow_id="other")."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from plugin.api.extensions import db
from plugin.api.metrics import FLOW_SERIES
from plugin.storage.models import Run, utcnow


def _samples(client) -> dict[tuple[str, str], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.get_data(as_text=True))}
    return {
        (s.labels["flow_id"], s.labels["status"]): s.value for s in families["automation_flow_runs"].samples
    }


def test_runs_by_scenario_and_status_with_bounded_series(app, client):
    now = utcnow()
    rows = []
    # flow fK has 104 - K runs, one of them failed: f100, f101 and f102 have the fewest, "other"
    for k in range(FLOW_SERIES + 3):
        for i in range(FLOW_SERIES + 4 - k):
            rows.append(
                {
                    "id": f"r{k}-{i}",
                    "flow_id": f"f{k:03d}",
                    "flow_name": "x",
                    "definition": {},
                    "trigger": "event",
                    "event_type": "order_created",
                    "status": "failed" if i == 0 else "succeeded",
                    "context": {},
                    "created_at": now,
                    "updated_at": now,
                }
            )
    with app.app_context():
        db.session.execute(insert(Run), rows)
        db.session.commit()
    samples = _samples(client)
    assert samples[("f000", "failed")] == 1 and samples[("f000", "succeeded")] == FLOW_SERIES + 3
    assert samples[("f099", "failed")] == 1 and samples[("f099", "succeeded")] == 4
    assert samples[("other", "failed")] == 3 and samples[("other", "succeeded")] == 3 + 2 + 1
    assert ("f100", "failed") not in samples and ("f102", "succeeded") not in samples
    assert len({flow for flow, _ in samples}) == FLOW_SERIES + 1
