"""``GET /flows/{id}/stats`` and ``/stats/overview``: every bad parameter named with its path
(in Russian by default), unknown scenarios 404, and the answers' numbers read from the rollup
and the conversions as stored (known rows)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert

from plugin.api.extensions import db
from plugin.engine import rollup
from plugin.storage.models import Flow, utcnow
from plugin.storage.stats_models import Conversion, ConversionOrder


def _flow(flow_id: str, name: str) -> dict:
    now = utcnow()
    return {
        "id": flow_id,
        "name": name,
        "enabled": True,
        "version": 1,
        "event_type": "event.order_created",
        "definition": {"name": name, "nodes": [], "edges": []},
        "created_at": now,
        "updated_at": now,
        "triggered_count": 0,
        "failed_count": 0,
        "suppressed_count": 0,
    }


def _seed(app) -> datetime:
    """Two scenarios, two days of counts in UTC hours that straddle a Moscow midnight, and
    conversions: one inside the 7-day window, one 10 days after its touch."""
    day = datetime(2026, 11, 20)
    with app.app_context():
        db.session.execute(insert(Flow), [_flow("fa", "Крупные"), _flow("fb", "Повторные")])
        rows = [
            # 20:00 UTC = 23:00 Moscow on Nov 20; 21:00 UTC = 00:00 Moscow on Nov 21
            {"flow_id": "fa", "bucket": day.replace(hour=20), "triggered": 3, "succeeded": 2, "failed": 1},
            {
                "flow_id": "fa",
                "bucket": day.replace(hour=21),
                "triggered": 5,
                "succeeded": 5,
                "not_triggered": 4,
            },
            {"flow_id": "fb", "bucket": day.replace(hour=21), "triggered": 1, "suppressed": 2},
        ]
        tally = rollup.Tally()  # as the engine writes them: the hours and the days of Moscow
        for row in rows:
            for column, n in row.items():
                if column not in ("flow_id", "bucket"):
                    tally.add(row["flow_id"], row["bucket"], column, n)
        tally.store(db.session)
        db.session.execute(
            insert(Conversion),
            [
                {
                    "flow_id": "fa",
                    "order_id": "o1",
                    "client_id": "c1",
                    "run_id": "r1",
                    "branch": "hook",
                    "touched_at": day,
                    "paid_at": day + timedelta(days=2),
                    "revenue": 1500.0,
                },
                {
                    "flow_id": "fb",
                    "order_id": "o1",
                    "client_id": "c1",
                    "run_id": "r2",
                    "branch": "hook",
                    "touched_at": day,
                    "paid_at": day + timedelta(days=2),
                    "revenue": 1500.0,
                },
                {
                    "flow_id": "fb",
                    "order_id": "o2",
                    "client_id": "c2",
                    "run_id": "r3",
                    "branch": "hook",
                    "touched_at": day - timedelta(days=10),
                    "paid_at": day + timedelta(hours=1),
                    "revenue": 900.0,
                },
            ],
        )
        # each order once, with its nearest touch (as engine/attribution.py stores it)
        db.session.execute(
            insert(ConversionOrder),
            [
                {"order_id": "o1", "paid_at": day + timedelta(days=2), "age_days": 2, "revenue": 1500.0},
                {"order_id": "o2", "paid_at": day + timedelta(hours=1), "age_days": 11, "revenue": 900.0},
            ],
        )
        db.session.commit()
    return day


def test_bad_parameters_are_named_with_their_paths(app, client):
    _seed(app)
    answer = client.get("/api/v1/flows/fa/stats?from=вчера&interval=week&window_days=0&tz=Mars/Base")
    assert answer.status_code == 422
    body = answer.get_json()
    assert {e["path"] for e in body["errors"]} == {"/from", "/interval", "/window_days", "/tz"}
    assert all(e["message"] for e in body["errors"])
    answer = client.get("/api/v1/flows/fa/stats?from=2026-11-20&to=2026-11-19")
    assert answer.status_code == 422 and answer.get_json()["errors"][0]["path"] == "/to"
    assert client.get("/api/v1/flows/nope/stats").status_code == 404
    assert client.get("/api/v1/stats/overview?window_days=91").status_code == 422


def test_a_scenario_by_local_day_with_its_conversions(app, client):
    _seed(app)
    answer = client.get(
        "/api/v1/flows/fa/stats?from=2026-11-20T00:00:00%2B03:00&to=2026-11-23T00:00:00%2B03:00"
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [p["t"] for p in body["series"]] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert body["series"][0] | {} == {
        "t": "2026-11-20",
        "triggered": 3,
        "succeeded": 2,
        "failed": 1,
        "suppressed": 0,
        "not_triggered": 0,
    }
    assert body["series"][1]["triggered"] == 5 and body["series"][1]["not_triggered"] == 4
    assert body["totals"] == {
        "triggered": 8,
        "succeeded": 7,
        "failed": 1,
        "suppressed": 0,
        "not_triggered": 4,
    }
    conv = body["conversions"]
    assert conv["converted"] == 1 and conv["revenue"] == 1500.0 and conv["window_days"] == 7
    assert [d["converted"] for d in conv["by_day"]] == [0, 0, 1]  # paid Nov 22, 00:00 UTC = 03:00 Moscow

    hours = client.get(
        "/api/v1/flows/fa/stats?from=2026-11-20T19:00:00Z&to=2026-11-20T23:00:00Z&interval=hour"
    )
    assert [p["triggered"] for p in hours.get_json()["series"]] == [0, 3, 5, 0]
    assert hours.get_json()["series"][1]["t"] == "2026-11-20T20:00:00Z"


def test_overview_totals_and_tops(app, client):
    _seed(app)
    answer = client.get("/api/v1/stats/overview?from=2026-11-19&to=2026-11-25&window_days=14")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["totals"]["triggered"] == 9 and body["totals"]["suppressed"] == 2
    # o1 counts once across the two scenarios; o2's touch was 10 days before: inside 14 days
    assert body["totals"]["converted"] == 2 and body["totals"]["revenue"] == 2400.0
    assert [(t["id"], t["value"]) for t in body["top"]["triggered"]] == [("fa", 8), ("fb", 1)]
    assert [(t["id"], t["value"]) for t in body["top"]["failed"]] == [("fa", 1)]
    assert [(t["id"], t["name"], t["value"]) for t in body["top"]["revenue"]] == [
        ("fb", "Повторные", 2400.0),
        ("fa", "Крупные", 1500.0),
    ]
    seven = client.get("/api/v1/stats/overview?from=2026-11-19&to=2026-11-25").get_json()
    assert seven["totals"]["converted"] == 1 and seven["totals"]["revenue"] == 1500.0


def test_seen_events_count_in_the_local_day_of_their_hour(app, client):
    """``not_triggered`` from the «seen» counts (no run stored): each hour falls in its day of the
    asked zone — summed by the database on PostgreSQL, here on SQLite — for a scenario and for the
    overview (a group's count once per member scenario)."""
    day = datetime(2026, 11, 20)
    with app.app_context():
        db.session.execute(insert(Flow), [_flow("fa", "Крупные"), _flow("fb", "Повторные")])
        rollup.record_groups(db.session, {"g1": ["fa", "fb"]})
        tally = rollup.Tally()
        tally.saw("g1", day.replace(hour=20, minute=30), 4)  # 23:30 in Moscow, Nov 20
        tally.saw("g1", day.replace(hour=21, minute=5), 6)  # 00:05 in Moscow, Nov 21
        tally.store(db.session)
        db.session.commit()

    def days(path: str) -> dict[str, int]:
        answer = client.get(path)
        assert answer.status_code == 200, answer.get_json()
        return {p["t"]: p["not_triggered"] for p in answer.get_json()["series"] if p["not_triggered"]}

    span = "from=2026-11-19T00:00:00Z&to=2026-11-23T00:00:00Z"
    assert days(f"/api/v1/flows/fa/stats?{span}") == {"2026-11-20": 4, "2026-11-21": 6}
    assert days(f"/api/v1/flows/fa/stats?{span}&tz=UTC") == {"2026-11-20": 10}
    assert days(f"/api/v1/flows/fa/stats?{span}&tz=Asia/Vladivostok") == {"2026-11-21": 10}
    assert days(f"/api/v1/stats/overview?{span}") == {"2026-11-20": 8, "2026-11-21": 12}
    assert days(f"/api/v1/flows/fb/stats?{span}&interval=hour") == {
        "2026-11-20T20:00:00Z": 4,
        "2026-11-20T21:00:00Z": 6,
    }
