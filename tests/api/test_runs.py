"""Run history: each status filter lists exactly the runs in that status, newest first, across cursor pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from plugin.api.extensions import db
from plugin.storage.models import Run, utcnow

STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "not_triggered", "suppressed")


def _runs(count: int) -> dict[str, list[str]]:
    """``count`` runs cycling through every status, one second apart; ids per status, newest first."""
    now = utcnow()
    rows = [
        {
            "id": f"r{i:03d}",
            "flow_id": "f1",
            "flow_version": 1,
            "flow_name": "f",
            "definition": {},
            "trigger": "event",
            "event_type": "custom_event",
            "status": STATUSES[i % len(STATUSES)],
            "triggered": True,
            "counted": True,
            "context": {},
            "order_id": f"o{i % 4}" if i % 2 else None,
            "created_at": now - timedelta(seconds=count - i),
            "updated_at": now,
        }
        for i in range(count)
    ]
    db.session.execute(insert(Run), rows)
    db.session.commit()
    return {s: [r["id"] for r in reversed(rows) if r["status"] == s] for s in STATUSES}


def _listed(client, query: str) -> list[str]:
    ids, cursor = [], None
    while True:
        page = client.get(
            f"/api/v1/runs?{query}&limit=4" + (f"&cursor={cursor}" if cursor else "")
        ).get_json()
        ids += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def test_each_status_filter_lists_its_runs_newest_first(app, client):
    with app.app_context():
        expected = _runs(60)
    for status in STATUSES:
        assert _listed(client, f"status={status}") == expected[status], status


def test_status_and_order_filters_combine(app, client):
    with app.app_context():
        _runs(60)
    listed = client.get("/api/v1/runs?status=not_triggered&order_id=o1&limit=50").get_json()["runs"]
    assert listed and all(r["status"] == "not_triggered" and r["order_id"] == "o1" for r in listed)
    assert [r["created_at"] for r in listed] == sorted((r["created_at"] for r in listed), reverse=True)
