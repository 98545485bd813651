"""Failure alerts (engine/alerts.py): one message per window through the real fake Slack when the
failed share passes the threshold, the scenario paused when asked, and the setting validated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine import alerts
from plugin.jobs.worker import make_engine
from plugin.storage.models import Run, utcnow


def _connection(client, kind: str, params: dict) -> str:
    answer = client.post(
        "/api/v1/connections", json={"name": f"Оповещения {kind}", "type": kind, "params": params}
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def _flow(client, alert: dict, name: str = "Письмо после оплаты") -> dict:
    doc = {
        "name": name,
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "hook", "type": "action.webhook", "params": {"url": "http://127.0.0.1:9/h"}},
        ],
        "edges": [{"from": "start", "to": "hook"}],
        "settings": {"alert": alert},
    }
    return client.post("/api/v1/flows", json=doc)


def _runs(flow_id: str, failed: int, succeeded: int, *, minutes_ago: int = 5) -> None:
    now = utcnow()
    rows = [
        {
            "id": f"{flow_id[:8]}-{i}-{minutes_ago}",
            "flow_id": flow_id,
            "flow_name": "x",
            "definition": {},
            "trigger": "event",
            "event_type": "order_created",
            "status": "failed" if i < failed else "succeeded",
            "error": f"webhook: HTTP 500 from 127.0.0.1 (№{i})" if i < failed else None,
            "context": {},
            "created_at": now - timedelta(minutes=minutes_ago, seconds=i),
            "updated_at": now,
        }
        for i in range(failed + succeeded)
    ]
    db.session.execute(insert(Run), rows)
    db.session.commit()


def _check():
    return alerts.check(
        db.session, make_engine(rt(), db.engine), rt().redis, public_url="https://crm.example/auto"
    )


@pytest.fixture
def slack_id(client, fake_slack):
    return _connection(client, "slack", {"webhook_url": fake_slack.hook_url})


@pytest.mark.parametrize("pause", [True, False])
def test_one_message_per_window_and_the_scenario_paused_when_asked(app, client, fake_slack, slack_id, pause):
    alert = {
        "failure_share": 0.5,
        "window_minutes": 60,
        "min_runs": 10,
        "connection": slack_id,
        "pause": pause,
    }
    flow_id = _flow(client, alert).get_json()["id"]
    assert client.get(f"/api/v1/flows/{flow_id}").get_json()["settings"]["alert"] == alert
    with app.app_context():
        _runs(flow_id, failed=6, succeeded=4)
        _runs(flow_id, failed=30, succeeded=0, minutes_ago=90)  # outside the window: not counted
        sent = _check()
        assert sent == [{"flow_id": flow_id, "failed": 6, "finished": 10, "paused": pause}]
        _runs(flow_id, failed=5, succeeded=0, minutes_ago=1)
        assert _check() == []  # told already in this window
    assert len(fake_slack.messages) == 1
    text = fake_slack.messages[0]
    assert "Сценарий «Письмо после оплаты»: 6 из 10 запусков с ошибкой (60 %) за последние 60 мин." in text
    assert "Последняя ошибка: webhook: HTTP 500 from 127.0.0.1 (№0)" in text
    assert f"https://crm.example/auto/#/flows/{flow_id}" in text
    assert ("Сценарий остановлен" in text) is pause
    assert client.get(f"/api/v1/flows/{flow_id}").get_json()["enabled"] is (not pause)


@pytest.mark.parametrize(("failed", "succeeded"), [(9, 0), (4, 6)])
def test_no_message_below_min_runs_or_below_the_share(app, client, fake_slack, slack_id, failed, succeeded):
    """9 failed of 9: fewer than the default min_runs (10); 4 of 10: under the share."""
    flow_id = _flow(client, {"failure_share": 0.5, "connection": slack_id}).get_json()["id"]
    with app.app_context():
        _runs(flow_id, failed=failed, succeeded=succeeded)
        _runs(flow_id, failed=20, succeeded=0, minutes_ago=61)  # just outside the default window
        assert _check() == []
    assert fake_slack.messages == []


def test_a_message_that_could_not_go_is_tried_again_next_check(app, client, fake_slack, slack_id):
    flow_id = _flow(client, {"failure_share": 0.5, "connection": slack_id}).get_json()["id"]
    fake_slack.fail("channel_not_found")
    with app.app_context():
        _runs(flow_id, failed=10, succeeded=0)
        assert _check() == []
        assert [s["flow_id"] for s in _check()] == [flow_id]
    assert len(fake_slack.messages) == 1


def test_the_alert_setting_is_validated_with_paths(client, fake_slack, slack_id):
    hook = _connection(client, "webhook", {"url": "http://127.0.0.1:9/x"})
    telegram = _connection(client, "telegram", {"bot_token": "123456:ABCdefGhIJKlmNoPQRstuVWxyz0123456789"})
    cases = [
        ({"failure_share": 0.5, "connection": "nope"}, "/settings/alert/connection"),
        ({"failure_share": 0.5, "connection": hook}, "/settings/alert/connection"),
        ({"failure_share": 0.5, "connection": telegram}, "/settings/alert/to"),
        ({"failure_share": 1.5, "connection": slack_id}, "/settings/alert/failure_share"),
        (
            {"failure_share": 0.5, "window_minutes": 0, "connection": slack_id},
            "/settings/alert/window_minutes",
        ),
        ({"connection": slack_id}, "/settings/alert/failure_share"),
        ({"failure_share": 0.5, "connection": slack_id, "pause": "yes"}, "/settings/alert/pause"),
    ]
    for alert, path in cases:
        answer = _flow(client, alert)
        assert answer.status_code == 422, (alert, answer.get_json())
        assert [e["path"] for e in answer.get_json()["errors"]] == [path], alert
    assert (
        _flow(client, {"failure_share": 0.5, "connection": telegram, "to": "-100200300"}).status_code == 201
    )


def test_a_telegram_alert_goes_to_its_chat_with_the_text_escaped(app, client, fake_telegram):
    connection = _connection(
        client, "telegram", {"bot_token": "123456:ABC-DEF_ghi", "base_url": fake_telegram.url}
    )
    alert = {"failure_share": 0.2, "min_runs": 5, "connection": connection, "to": "100200300"}
    flow_id = _flow(client, alert, name="Скидка <VIP> & друзья").get_json()["id"]
    with app.app_context():
        _runs(flow_id, failed=1, succeeded=4)
        assert [s["failed"] for s in _check()] == [1]
    [message] = fake_telegram.sent
    assert message["raw"]["chat_id"] in (100200300, "100200300")
    assert "Сценарий «Скидка <VIP> & друзья»: 1 из 5 запусков с ошибкой (20 %)" in message["text"]
