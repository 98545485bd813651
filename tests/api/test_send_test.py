"""«Отправить тестовое сообщение»: one action of a saved scenario really sent to a chosen recipient,
recorded as a test run, outside the scenario's stats and the per-client caps."""

from __future__ import annotations

import pytest

from tests.api.test_dry_run_holds import email_flow
from tests.conftest import TOKEN, app_env, make_app
from tests.e2e.helpers import webhook_flow


def send(client, flow_id: str, node_id: str, body: dict):
    return client.post(f"/api/v1/flows/{flow_id}/nodes/{node_id}/send-test", json=body)


@pytest.fixture
def order(client):
    body = {
        "price": 15000,
        "status": "Новая",
        "client": {"external_id": "c1", "name": "Анна", "email": "anna@example.ru"},
    }
    assert client.put("/api/v1/orders/1001", json=body).status_code == 202


def test_a_webhook_is_sent_once_on_a_stored_deal_and_recorded_as_a_test_run(client, order, fake_receiver):
    flow_id = client.post(
        "/api/v1/flows", json=webhook_flow(fake_receiver.url + "/h", name="Крупный")
    ).get_json()["id"]
    resp = send(client, flow_id, "hook", {"order_id": "1001"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    result = resp.get_json()
    assert result["status"] == "succeeded" and result["output"]["status"] == 200
    [delivery] = fake_receiver.deliveries
    assert delivery.payload["event_type"] == "order_created" and delivery.payload["script_id"] == flow_id
    assert delivery.payload["order"]["id"] == "1001" and delivery.payload["client"]["name"] == "Анна"
    [run] = client.get(f"/api/v1/runs?flow_id={flow_id}").get_json()["runs"]
    assert run["id"] == result["run_id"] and run["trigger"] == "test" and run["status"] == "succeeded"
    assert [s["node_id"] for s in run["steps"]] == ["hook"]
    stats = client.get(f"/api/v1/flows/{flow_id}").get_json()["stats"]
    assert stats["triggered"] == 0 and stats["last_triggered_at"] is None
    assert client.post(f"/api/v1/runs/{run['id']}/retry").status_code == 409


def test_a_test_letter_goes_to_the_chosen_address_and_no_cap_counts_it(
    database_url, redis_url, tmp_path, fake_smtp
):
    app = make_app(app_env(database_url, redis_url, tmp_path / "data", AUTOMATION_EMAIL_CAP="1"))
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    flow_id = client.post("/api/v1/flows", json=email_flow(fake_smtp)).get_json()["id"]
    context = {
        "order": {"id": "7"},
        "client": {"external_id": "c1", "name": "Анна", "email": "anna@example.ru"},
    }
    for _ in range(2):  # over the cap of 1: a test letter is neither stopped nor counted
        body = {"context": context, "recipient": {"email": "marketer@example.com"}}
        assert send(client, flow_id, "mail", body).get_json()["status"] == "succeeded"
    assert [m.rcpt_tos for m in fake_smtp.messages] == [["marketer@example.com"]] * 2
    assert fake_smtp.messages[0].message["Subject"] == "Заказ 7"
    dry = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": context}).get_json()
    assert dry["steps"][1]["status"] == "would_send"  # the client's one letter is still free


def test_the_ssrf_guard_applies_to_a_test_message(client, order):
    flow_id = client.post("/api/v1/flows", json=webhook_flow("http://127.0.0.2:9/h")).get_json()["id"]
    result = send(client, flow_id, "hook", {"order_id": "1001"}).get_json()
    assert result["status"] == "failed" and "loopback" in result["error"]


def test_bad_requests_are_problems_naming_the_field(client, order, fake_smtp):
    flow_id = client.post("/api/v1/flows", json=email_flow(fake_smtp)).get_json()["id"]
    cases = [
        ("mail", {"context": {}}, 422, "/recipient/email"),
        ("mail", {"recipient": {"email": "not-an-address"}}, 422, "/recipient/email"),
        ("mail", {"recipient": "me@example.com"}, 422, "/recipient"),
        # found by the schemathesis fuzz (ST201): an address that is not text, even one this
        # action does not read, was accepted
        ("mail", {"recipient": {"email": "me@example.com", "phone": [{}]}}, 422, "/recipient/phone"),
        ("mail", {"recipient": {"chat_id": 5}}, 422, "/recipient/chat_id"),
        ("start", {}, 422, "/node_id"),
        ("mail", {"recipient": {"email": "me@example.com"}, "order_id": "nope"}, 422, "/order_id"),
    ]
    for node_id, body, status, path in cases:
        resp = send(client, flow_id, node_id, body)
        assert resp.status_code == status and resp.content_type == "application/problem+json", body
        assert [e["path"] for e in resp.get_json()["errors"]] == [path]
    assert send(client, flow_id, "ghost", {}).status_code == 404
    assert send(client, "no-such-flow", "mail", {}).status_code == 404
    assert fake_smtp.messages == []
    assert client.get(f"/api/v1/runs?flow_id={flow_id}").get_json()["runs"] == []


def test_a_telegram_test_goes_to_the_chosen_chat_and_the_stored_node_is_unchanged(
    client, order, fake_telegram
):
    params = {
        "bot_token": "123456:ABC-DEF_ghi",
        "chat_id": -1001234567890,
        "text": "Сделка {order_id}",
        "base_url": fake_telegram.url,
    }
    doc = webhook_flow("http://127.0.0.1:9/h")
    doc["nodes"][-1] = {"id": "tg", "type": "action.telegram", "params": params}
    doc["edges"][-1]["to"] = "tg"
    created = client.post("/api/v1/flows", json=doc)
    assert created.status_code == 201, created.get_data(as_text=True)
    flow_id = created.get_json()["id"]
    chosen = send(
        client, flow_id, "tg", {"order_id": "1001", "recipient": {"chat_id": "100200300"}}
    ).get_json()
    default = send(client, flow_id, "tg", {"order_id": "1001"}).get_json()
    assert chosen["status"] == default["status"] == "succeeded"
    assert [(str(m["chat"]["id"]), m["text"]) for m in fake_telegram.sent] == [
        ("100200300", "Сделка 1001"),
        ("-1001234567890", "Сделка 1001"),
    ]
    stored = client.get(f"/api/v1/flows/{flow_id}").get_json()["nodes"][-1]["params"]
    assert stored["chat_id"] == -1001234567890
    bad = send(client, flow_id, "tg", {"order_id": "1001", "recipient": {"chat_id": "news channel"}})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["path"] == "/recipient/chat_id"
    assert len(fake_telegram.sent) == 2


def test_a_failed_test_message_never_raises_the_scenarios_failure_alert(app, client, order, fake_slack):
    from plugin.api.context import rt
    from plugin.api.extensions import db
    from plugin.engine import alerts
    from plugin.jobs.worker import make_engine

    slack = {"name": "Оповещения", "type": "slack", "params": {"webhook_url": fake_slack.hook_url}}
    connection = client.post("/api/v1/connections", json=slack).get_json()["id"]
    doc = webhook_flow("http://127.0.0.1:9/refused")
    doc["settings"] = {
        "alert": {"failure_share": 0.5, "min_runs": 1, "connection": connection, "pause": True}
    }
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    for _ in range(2):
        assert send(client, flow_id, "hook", {"order_id": "1001"}).get_json()["status"] == "failed"
    with app.app_context():
        assert alerts.check(db.session, make_engine(rt(), db.engine), rt().redis) == []
    assert fake_slack.messages == [] and client.get(f"/api/v1/flows/{flow_id}").get_json()["enabled"] is True
