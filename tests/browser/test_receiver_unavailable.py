"""The run history says, in Russian, that a receiver is unavailable and when the next try is."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.browser


def test_a_run_held_by_an_open_circuit_says_receiver_unavailable_and_the_retry_time(ui, procs):
    refused = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there: connections are refused
    flow = {
        "format": "automation-flow/1",
        "name": "Вебхук в выключенную CRM",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.custom", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "hook",
                "type": "action.webhook",
                "params": {"url": refused},
                "position": {"x": 0, "y": 160},
            },
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }
    flow_id = ui.api.post("/api/v1/flows", json=flow).json()["id"]
    procs.start("worker")
    # five refused connections open the receiver's circuit; the sixth send is not even attempted
    for i in range(5):
        assert ui.api.post("/api/v1/events", json={"id": f"e{i}", "name": "go"}).status_code == 202
    wait_for(
        lambda: len(ui.api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]) == 5,
        timeout=20,
        message="five runs\n" + procs.logs(),
    )
    assert ui.api.post("/api/v1/events", json={"id": "e5", "name": "go"}).status_code == 202

    def held():
        for run in ui.api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]:
            detail = ui.api.get(f"/api/v1/runs/{run['id']}").json()
            step = next(s for s in detail["steps"] if s["node_id"] == "hook")
            if (step["error"] or "").startswith("receiver unavailable"):
                return run["id"]
        return None

    run_id = wait_for(held, timeout=20, message="a run held by the open circuit\n" + procs.logs())
    ui.open(f"#/flows/{flow_id}")
    ui.by("editor-history").click()
    run = ui.by(f"run-{run_id}")
    expect(run).to_have_attribute("data-status", "waiting")
    run.locator(":scope > details > summary").click()
    expect(run.get_by_test_id("step-retry-hook")).to_have_text(
        re.compile(r"^Получатель недоступен, повтор в \d\d:\d\d$")
    )
