"""«Настройки сценария» in a real Chromium, in Russian: a marketer sets «не чаще 1 раза на клиента
за 24 часа» and «только пн–пт с 09:00 до 21:00», saves, sees them again after a reload, and the
run history shows a run held back («Подавлен» with the rule) and one waiting for the window."""

from __future__ import annotations

from datetime import datetime

from playwright.sync_api import expect

from tests.engine.test_flow_rules import Clock, drain, email_flow


def test_a_marketer_sets_a_frequency_rule_and_a_send_window_and_sees_them_work(ui, app, fake_smtp):
    page = ui.page
    doc = email_flow(fake_smtp, {})
    doc.pop("settings")
    flow_id = ui.api.post("/api/v1/flows", json=doc).json()["id"]
    ui.open(f"#/flows/{flow_id}")

    ui.by("panel-tab-settings").click()
    expect(ui.by("scenario-settings")).to_contain_text("Настройки сценария")
    ui.by("frequency-on").check()
    expect(ui.by("settings-frequency")).to_contain_text("Не чаще чем")
    ui.by("frequency-limit").fill("1")
    ui.by("frequency-per").select_option(label="клиента")
    ui.by("frequency-hours").fill("24")
    ui.by("window-on").check()
    for day in (6, 7):
        expect(ui.by(f"window-day-{day}")).not_to_be_checked()
    ui.by("window-from").fill("09:00")
    ui.by("window-to").fill("21:00")
    ui.by("window-timezone").select_option("Europe/Moscow")
    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)

    settings = ui.api.get(f"/api/v1/flows/{flow_id}").json()["settings"]
    assert settings == {
        "frequency": {"per": "client", "limit": 1, "window_hours": 24},
        "send_window": {"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "21:00", "timezone": "Europe/Moscow"},
    }

    page.reload()
    page.locator(".react-flow__pane").wait_for()
    ui.by("panel-tab-settings").click()
    expect(ui.by("frequency-limit")).to_have_value("1")
    expect(ui.by("frequency-per")).to_have_value("client")
    expect(ui.by("frequency-hours")).to_have_value("24")
    expect(ui.by("window-day-1")).to_be_checked()
    expect(ui.by("window-day-6")).not_to_be_checked()
    expect(ui.by("window-from")).to_have_value("09:00")
    expect(ui.by("window-timezone")).to_have_value("Europe/Moscow")

    # «за всё время» clears the hours; a saved change shows at once
    ui.by("frequency-span").select_option(label="за всё время")
    expect(ui.by("frequency-hours")).to_have_count(0)
    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)
    assert ui.api.get(f"/api/v1/flows/{flow_id}").json()["settings"]["frequency"]["window_hours"] is None

    # two visits of one client on Monday at 03:00 in Moscow: one run waits for 09:00, one is held back
    ui.api.put("/api/v1/clients/c1", json={"name": "Анна", "email": "anna@example.ru"})
    ui.api.post("/api/v1/visits", json={"id": "v1", "client_id": "c1"})
    ui.api.post("/api/v1/visits", json={"id": "v2", "client_id": "c1"})
    drain(app, Clock(datetime(2026, 12, 7, 0, 0)))
    runs = {r["status"]: r for r in ui.api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]}
    assert set(runs) == {"waiting", "suppressed"} and not fake_smtp.messages

    ui.by("panel-tab-history").click()
    held = ui.by(f"run-{runs['suppressed']['id']}")
    expect(held.locator(".badge")).to_have_text("Подавлен")
    held.locator("summary").click()
    expect(ui.by(f"run-reason-{runs['suppressed']['id']}")).to_contain_text(
        "Не выполнен: подавлен: правило частоты — не чаще 1 раза на клиента за всё время"
    )
    waiting = ui.by(f"run-{runs['waiting']['id']}")
    expect(waiting.locator(".badge").first).to_have_text("Ожидание")
    waiting.locator("summary").click()
    expect(waiting.get_by_test_id("step-window-mail")).to_have_text("Ждёт окна отправки до 09:00")
