"""The searchable run history and the failure alert in a real Chromium, in Russian (issue #19): a
marketer filters the history by recipient and sees the deal, amount and client of each run,
downloads the filtered CSV, and sets «Оповещать об ошибках», which is saved and shown again."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import insert

from plugin.api.extensions import db
from plugin.storage.models import Run, utcnow


def _flow(ui) -> str:
    doc = {
        "name": "Спасибо за заказ",
        "enabled": False,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "hook", "type": "action.webhook", "params": {"url": "http://127.0.0.1:9/h"}},
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }
    answer = ui.api.post("/api/v1/flows", json=doc)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _seed(app, ui, flow_id: str) -> None:
    ui.api.put("/api/v1/clients/c1", json={"name": "Анна Смирнова", "email": "anna@shop.ru"})
    ui.api.put("/api/v1/clients/c2", json={"name": "Борис", "email": "boris@shop.ru"})
    ui.api.put("/api/v1/orders/o1", json={"price": 15000, "status": "Оплачен", "client_id": "c1"})
    ui.api.put("/api/v1/orders/o2", json={"price": 500, "status": "Новый", "client_id": "c2"})
    now = utcnow()
    base = {
        "flow_id": flow_id,
        "flow_name": "Спасибо за заказ",
        "definition": {},
        "trigger": "event",
        "event_type": "order_created",
        "context": {},
        "updated_at": now,
    }
    with app.app_context():
        db.session.execute(
            insert(Run),
            [
                {
                    **base,
                    "id": "run-anna",
                    "status": "succeeded",
                    "order_id": "o1",
                    "client_id": "c1",
                    "recipient": "anna@shop.ru",
                    "created_at": now - timedelta(minutes=2),
                },
                {
                    **base,
                    "id": "run-boris",
                    "status": "failed",
                    "order_id": "o2",
                    "client_id": "c2",
                    "recipient": "boris@shop.ru",
                    "error": "webhook: HTTP 500",
                    "created_at": now - timedelta(minutes=1),
                },
            ],
        )
        db.session.commit()


def test_a_marketer_filters_the_history_and_downloads_it(ui, app, tmp_path):
    page = ui.page
    flow_id = _flow(ui)
    _seed(app, ui, flow_id)
    ui.open(f"#/flows/{flow_id}")
    ui.by("panel-tab-history").click()
    expect(ui.by("run-run-boris")).to_be_visible()
    expect(ui.by("run-deal-run-anna")).to_contain_text("Сделка o1")
    expect(ui.by("run-deal-run-anna")).to_contain_text("₽ · Оплачен")
    expect(ui.by("run-client-run-anna")).to_have_text("Анна Смирнова")
    expect(ui.by("run-recipient-run-boris")).to_have_text("→ boris@shop.ru")

    ui.by("runs-filter-recipient").fill("anna*")
    ui.by("runs-filter-apply").click()
    expect(ui.by("run-run-boris")).to_have_count(0)
    expect(ui.by("run-client-run-anna")).to_have_text("Анна Смирнова")

    with page.expect_download() as info:
        ui.by("runs-csv").click()
    download = info.value
    assert download.suggested_filename == "runs.csv"
    path = tmp_path / "runs.csv"
    download.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert [r[1] for r in rows[1:]] == ["run-anna"]
    assert rows[1][5:11] == ["o1", "Оплачен", "15000", "c1", "Анна Смирнова", "anna@shop.ru"]

    ui.by("runs-filter-reset").click()
    ui.by("runs-filter-status").select_option(label="Ошибка")
    ui.by("runs-filter-apply").click()
    expect(ui.by("run-run-anna")).to_have_count(0)
    expect(ui.by("run-deal-run-boris")).to_contain_text("Сделка o2")
    ui.by("runs-filter-client_id").fill("c1")
    ui.by("runs-filter-apply").click()
    expect(ui.by("runs-empty")).to_have_text("Ничего не найдено: измените фильтры.")


def test_alert_settings_are_saved_and_shown_again(ui, fake_slack):
    page = ui.page
    slack = ui.api.post(
        "/api/v1/connections",
        json={"name": "Slack дежурных", "type": "slack", "params": {"webhook_url": fake_slack.hook_url}},
    ).json()["id"]
    ui.api.post(
        "/api/v1/connections",
        json={"name": "Вебхук CRM", "type": "webhook", "params": {"url": "http://127.0.0.1:9/x"}},
    )
    flow_id = _flow(ui)
    ui.open(f"#/flows/{flow_id}")
    ui.by("panel-tab-settings").click()
    ui.by("alert-on").check()
    expect(ui.by("settings-alert")).to_contain_text("Оповещать, если доля ошибок выше")
    # only connections an alert can go through are offered
    expect(ui.by("alert-connection").locator("option")).to_have_text(
        ["— выберите подключение —", "Slack дежурных"]
    )
    ui.by("alert-share").fill("30")
    ui.by("alert-window").fill("120")
    ui.by("alert-connection").select_option(label="Slack дежурных")
    ui.by("alert-pause").check()
    expect(ui.by("settings-alert")).to_contain_text("остановить сценарий")
    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)
    saved = ui.api.get(f"/api/v1/flows/{flow_id}").json()["settings"]["alert"]
    assert saved == {
        "failure_share": 0.3,
        "window_minutes": 120,
        "min_runs": 10,
        "connection": slack,
        "pause": True,
    }

    page.reload()
    page.locator(".react-flow__pane").wait_for()
    ui.by("panel-tab-settings").click()
    expect(ui.by("alert-on")).to_be_checked()
    expect(ui.by("alert-share")).to_have_value("30")
    expect(ui.by("alert-window")).to_have_value("120")
    expect(ui.by("alert-connection")).to_have_value(slack)
    expect(ui.by("alert-pause")).to_be_checked()
