"""Flow settings (SPEC §11): stored with the flow, exported and imported, validated with JSON
paths, published in the OpenAPI document; run history filters by ``suppressed``."""

from __future__ import annotations

import pytest

from tests.api.test_flow_validation import assert_problem, base_flow

SETTINGS = {
    "frequency": {"per": "client", "limit": 1, "window_hours": 24},
    "send_window": {"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "21:00", "timezone": "Europe/Moscow"},
}


def test_settings_are_saved_shown_exported_and_imported(client):
    doc = {**base_flow(), "settings": SETTINGS}
    created = client.post("/api/v1/flows", json=doc)
    assert created.status_code == 201, created.get_json()
    flow_id = created.get_json()["id"]
    assert created.get_json()["settings"] == SETTINGS
    assert client.get(f"/api/v1/flows/{flow_id}").get_json()["settings"] == SETTINGS
    exported = client.get(f"/api/v1/flows/{flow_id}/export").get_json()
    assert exported["settings"] == SETTINGS
    (imported,) = client.post("/api/v1/flows/import?on_conflict=copy", json=exported).get_json()["flows"]
    assert imported["settings"] == SETTINGS

    ever = {"frequency": {"per": "visitor", "limit": 3, "window_hours": None}}
    replaced = client.put(f"/api/v1/flows/{flow_id}", json={**base_flow(), "settings": ever})
    assert replaced.status_code == 200 and replaced.get_json()["settings"] == ever
    cleared = client.put(f"/api/v1/flows/{flow_id}", json=base_flow())
    assert "settings" not in cleared.get_json()


@pytest.mark.parametrize(
    ("settings", "paths"),
    [
        ({"frequency": {"per": "client", "limit": 0, "window_hours": 24}}, ["/settings/frequency/limit"]),
        ({"frequency": {"per": "shop", "limit": 1}}, ["/settings/frequency/per"]),
        (
            {"frequency": {"per": "client", "limit": 1, "window_hours": "day"}},
            ["/settings/frequency/window_hours"],
        ),
        ({"frequency": {"limit": 1}}, ["/settings/frequency/per"]),
        ({"send_window": {"from": "9:00", "to": "21:00"}}, ["/settings/send_window/from"]),
        (
            {"send_window": {"days": [0, 8], "from": "09:00", "to": "21:00"}},
            ["/settings/send_window/days/0", "/settings/send_window/days/1"],
        ),
        (
            {"send_window": {"from": "09:00", "to": "21:00", "timezone": "Mars/Olympus"}},
            ["/settings/send_window/timezone"],
        ),
        (
            {"send_window": {"from": "09:00", "to": "21:00", "timezone": "Europe"}},
            ["/settings/send_window/timezone"],
        ),
        ({"send_window": {"from": "21:00", "to": "09:00"}}, ["/settings/send_window/to"]),
        ({"run_later": True}, ["/settings/run_later"]),
        ("daily", ["/settings"]),
    ],
)
def test_bad_settings_are_a_problem_at_their_path(client, settings, paths):
    body = assert_problem(
        client.post("/api/v1/flows", json={**base_flow(), "settings": settings}), 422, paths
    )
    assert all(e["path"].startswith("/settings") for e in body["errors"])


def test_every_settings_problem_is_listed_with_the_nodes_problems(client):
    doc = {
        **base_flow(),
        "settings": {
            "frequency": {"per": "client", "limit": 500},
            "send_window": {"from": "x", "to": "21:00"},
        },
    }
    doc["nodes"][1]["params"]["value"] = "много"
    body = assert_problem(
        client.post("/api/v1/flows", json=doc),
        422,
        ["/settings/frequency/limit", "/settings/send_window/from", "/nodes/1/params/value"],
    )
    assert len(body["errors"]) == 3


def test_runs_filter_accepts_suppressed_and_openapi_publishes_settings(client):
    assert client.get("/api/v1/runs?status=suppressed").get_json() == {"runs": [], "next_cursor": None}
    spec = client.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    settings = schemas["FlowDocument"]["properties"]["settings"]["properties"]
    assert settings["frequency"]["properties"]["per"]["enum"] == ["client", "order", "visitor"]
    assert set(settings["send_window"]["properties"]) == {"days", "from", "to", "timezone"}
    assert "suppressed" in schemas["Run"]["properties"]["status"]["enum"]
    assert "suppressed" in schemas["FlowStats"]["properties"]
    status = next(p for p in spec["paths"]["/api/v1/runs"]["get"]["parameters"] if p["name"] == "status")
    assert "suppressed" in status["schema"]["enum"]
