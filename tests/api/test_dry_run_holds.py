"""A dry run marks what a real run would hold back, decided as the real run decides it: the SSRF
guard (with AUTOMATION_OUTBOUND_ALLOWLIST), the suppression list, the per-client caps, the flow's
send window and its frequency rule."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import TOKEN, app_env, make_app, wait_for
from tests.e2e.helpers import Api, webhook_flow


def dry(client, flow_id: str, body: dict) -> dict:
    resp = client.post(f"/api/v1/flows/{flow_id}/test", json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def steps(result: dict) -> dict[str, dict]:
    return {s["node_id"]: s for s in result["steps"]}


def email_flow(fake_smtp, **settings) -> dict:
    params = {
        "smtp_host": "127.0.0.1",
        "smtp_port": fake_smtp.ssl_port,
        "security": "ssl",
        "username": fake_smtp.login,
        "password": fake_smtp.password,
        "from_email": "shop@example.ru",
        "subject": "Заказ {order_id}",
        "html": "<p>Здравствуйте, {client_name}</p>",
    }
    return {
        "format": "automation-flow/1",
        "name": "Письмо",
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "mail", "type": "action.email", "params": params},
        ],
        "edges": [{"from": "start", "to": "mail"}],
        "settings": settings,
    }


ANNA = {
    "order": {"id": "1001", "price": 100},
    "client": {"external_id": "c1", "name": "Анна", "email": "anna@example.ru"},
}


def test_a_hook_on_an_internal_address_would_be_blocked_as_the_transport_would(client, caplog):
    # the tests' allowlist lets 127.0.0.1 through (as a real run would), not the rest of loopback
    allowed = client.post("/api/v1/flows", json=webhook_flow("http://127.0.0.1:9/h")).get_json()["id"]
    internal = client.post("/api/v1/flows", json=webhook_flow("http://127.0.0.2:9/h")).get_json()["id"]
    metadata = client.post("/api/v1/flows", json=webhook_flow("http://169.254.169.254/latest")).get_json()[
        "id"
    ]
    assert steps(dry(client, allowed, {"context": ANNA}))["hook"]["status"] == "would_send"
    for flow_id, words in ((internal, "127.0.0.2 is a loopback address"), (metadata, "cloud metadata")):
        hook = steps(dry(client, flow_id, {"context": ANNA}))["hook"]
        assert hook["status"] == "blocked"
        assert hook["error"].startswith("адрес во внутренней сети") and words in hook["error"]
        assert hook["output"]["url"].startswith("http://")  # what it would have sent is still shown
    assert "outbound call blocked" not in caplog.text  # nothing was called: no blocked call is logged


def test_without_the_allowlist_the_loopback_receiver_is_blocked_too(database_url, redis_url, tmp_path):
    app = make_app(app_env(database_url, redis_url, tmp_path / "data", AUTOMATION_OUTBOUND_ALLOWLIST=""))
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    flow_id = client.post("/api/v1/flows", json=webhook_flow("http://127.0.0.1:9/h")).get_json()["id"]
    result = dry(client, flow_id, {"context": ANNA})
    assert steps(result)["hook"]["status"] == "blocked" and result["status"] == "would_trigger"
    assert "AUTOMATION_OUTBOUND_ALLOWLIST" in steps(result)["hook"]["error"]


def test_an_unsubscribed_recipient_is_skipped(client, fake_smtp):
    flow_id = client.post("/api/v1/flows", json=email_flow(fake_smtp)).get_json()["id"]
    assert steps(dry(client, flow_id, {"context": ANNA}))["mail"]["status"] == "would_send"
    entry = {"email": "Anna@Example.ru", "channel": "email", "reason": "отписалась"}
    assert client.post("/api/v1/suppressions", json=entry).status_code == 201
    mail = steps(dry(client, flow_id, {"context": ANNA}))["mail"]
    assert mail["status"] == "skipped" and "отписалась" in mail["error"]


def test_a_client_over_the_email_cap_is_skipped_and_the_dry_run_books_nothing(
    database_url, redis_url, tmp_path, fake_smtp
):
    app = make_app(app_env(database_url, redis_url, tmp_path / "data", AUTOMATION_EMAIL_CAP="1"))
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    doc = email_flow(fake_smtp)
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    for _ in range(3):  # a dry run peeks: the one letter allowed is still free afterwards
        assert steps(dry(client, flow_id, {"context": ANNA}))["mail"]["status"] == "would_send"
    sent = client.post(
        "/api/v1/nodes/action.email/execute", json={"params": doc["nodes"][1]["params"], "context": ANNA}
    ).get_json()
    assert sent["status"] == "succeeded" and len(fake_smtp.messages) == 1
    mail = steps(dry(client, flow_id, {"context": ANNA}))["mail"]
    assert mail["status"] == "skipped" and mail["error"].startswith("лимит писем клиенту исчерпан")


def test_outside_the_send_window_the_step_says_when_it_would_go(client, fake_smtp):
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Moscow")).isoweekday()
    window = {"days": [d for d in range(1, 8) if d != today], "from": "10:00", "to": "20:00"}
    flow_id = client.post("/api/v1/flows", json=email_flow(fake_smtp, send_window=window)).get_json()["id"]
    result = dry(client, flow_id, {"context": ANNA})
    mail = steps(result)["mail"]
    assert mail["status"] == "would_wait" and result["status"] == "would_trigger"
    assert mail["error"].startswith("ждёт окна отправки до 10:00")
    when = mail["output"]["send_window"]
    assert when["timezone"] == "Europe/Moscow" and when["local"].endswith(" 10:00")
    assert mail["output"]["subject"] == "Заказ 1001"  # the letter itself is shown as ever
    # an unsaved document (the editor's) keeps its settings too
    unsaved = client.post(
        "/api/v1/flows/test", json={"flow": email_flow(fake_smtp, send_window=window), "context": ANNA}
    )
    assert steps(unsaved.get_json())["mail"]["status"] == "would_wait"


@pytest.mark.parametrize("per", ["client", "order"])
def test_a_subject_that_used_up_the_frequency_rule_would_be_suppressed(live, procs, fake_receiver, per):
    api = Api(live.url)
    flow = webhook_flow(fake_receiver.url + "/h", name="Раз в сутки")
    flow["settings"] = {"frequency": {"per": per, "limit": 1, "window_hours": 24}}
    flow_id = api.post("/api/v1/flows", json=flow).json()["id"]
    body = {"price": 100, "client": {"external_id": "c1", "name": "Анна"}}
    assert api.put("/api/v1/orders/1001", json=body).status_code == 202
    before = api.post(f"/api/v1/flows/{flow_id}/test", json={"order_id": "1001"}).json()
    assert before["status"] == "would_trigger" and "reason" not in before
    procs.start("worker")
    wait_for(lambda: fake_receiver.deliveries, timeout=30, message="the real run's delivery\n" + procs.logs())
    after = api.post(f"/api/v1/flows/{flow_id}/test", json={"order_id": "1001"}).json()
    assert after["status"] == "suppressed" and after["reason"].startswith("подавлен: правило частоты")
    other = {"context": {"order": {"id": "other"}, "client": {"external_id": "c2"}}}
    assert api.post(f"/api/v1/flows/{flow_id}/test", json=other).json()["status"] == "would_trigger"


def test_the_holds_are_documented_in_the_dry_run_schema(client):
    import jsonschema

    document = client.get("/api/v1/openapi.json").get_json()
    validator = jsonschema.Draft202012Validator({**document, "$ref": "#/components/schemas/DryRun"})
    flow_id = client.post("/api/v1/flows", json=webhook_flow("http://127.0.0.2:9/h")).get_json()["id"]
    body = dry(client, flow_id, {"context": ANNA})
    assert steps(body)["hook"]["status"] == "blocked"
    assert not list(validator.iter_errors(body))
    assert not list(validator.iter_errors({**body, "status": "suppressed", "reason": "подавлен"}))
