"""The failure alert on the real path: orders → worker → a receiver answering 400 → the scheduler's
alerts job → exactly one message in the fake Slack, and the scenario switched off."""

from __future__ import annotations

import time

from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow


def test_failing_scenario_alerts_once_through_slack_and_pauses(live, procs, fake_receiver, fake_slack):
    procs.env["AUTOMATION_ALERT_INTERVAL"] = "1"
    procs.start("worker")
    procs.start("scheduler")
    api = Api(live.url)
    wait_for(lambda: api.get("/api/v1/health").json()["workers"] >= 1, timeout=30, message="a worker")
    slack = api.post(
        "/api/v1/connections",
        json={"name": "Slack", "type": "slack", "params": {"webhook_url": fake_slack.hook_url}},
    ).json()["id"]
    flow = webhook_flow(fake_receiver.url + "/h", name="Заказ → CRM")
    flow["settings"] = {"alert": {"failure_share": 0.5, "min_runs": 10, "connection": slack, "pause": True}}
    created = api.post("/api/v1/flows", json=flow)
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    fake_receiver.respond_with(*[400] * 10)
    for i in range(10):
        api.put(f"/api/v1/orders/a{i}", json={"price": i})
    wait_for(lambda: fake_slack.messages, timeout=30, message="the alert\n" + procs.logs())
    assert "Сценарий «Заказ → CRM»: 10 из 10 запусков с ошибкой (100 %)" in fake_slack.messages[0]
    assert "Сценарий остановлен" in fake_slack.messages[0]
    wait_for(lambda: api.get(f"/api/v1/flows/{flow_id}").json()["enabled"] is False, message="paused")
    time.sleep(3)  # three more checks: told once per window
    assert len(fake_slack.messages) == 1
    api.put("/api/v1/orders/a99", json={"price": 1})  # a paused scenario fires no more
    time.sleep(1)
    assert len(api.get(f"/api/v1/runs?flow_id={flow_id}&limit=100").json()["runs"]) == 10
