"""The editor in Russian: the server's problems come back in Russian and land beside their fields."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.api.test_flow_validation import base_flow
from tests.conftest import wait_for

pytestmark = pytest.mark.browser

AMOUNT = "Сумма: обязательное поле — заполните его"
VARIABLE = "Текст сообщения: неизвестная переменная {clent_name} — может быть, {client_name}?"


def test_a_bad_amount_and_an_unknown_variable_are_said_in_russian_beside_their_fields(ui):
    flow_id = ui.api.post("/api/v1/flows", json=base_flow()).json()["id"]
    page = ui.page
    ui.console.allow(422)
    ui.open(f"#/flows/{flow_id}")

    ui.by("node-big").click()
    amount = page.locator("#root_value")
    # the amount is a number field now (letters cannot be typed): a bad amount is an empty one
    amount.fill("")
    ui.by("node-slack").click()
    text = page.locator("#root_text")
    text.fill("Заказ {order_id} для {clent_name}")
    ui.by("flow-save").click()

    # beside the field of the open node, on the banner, and on the other node's field once opened
    expect(page.locator("#root_text__error")).to_have_text(VARIABLE)
    banner = ui.by("editor-errors")
    expect(banner).to_contain_text("Ошибка в данных")
    expect(banner).to_contain_text(VARIABLE)
    expect(banner).to_contain_text(AMOUNT)
    expect(banner).not_to_contain_text("Сумма: Сумма:")
    ui.by("problem-node-big").click()
    expect(page.locator("#root_value__error")).to_have_text(AMOUNT)
    expect(ui.by("node-big")).to_have_attribute("data-error", "true")

    # the same scenario in English: the messages follow the UI's language
    ui.by("lang-en").click()
    ui.by("flow-save").click()
    expect(page.locator("#root_value__error")).to_have_text("'value' is a required property")


def test_a_run_step_error_stored_in_english_is_shown_in_russian(ui, procs):
    flow = {
        "name": "Вебхук во внутреннюю сеть",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.custom", "params": {}, "position": {"x": 0, "y": 0}},
            {"id": "hook", "type": "action.webhook", "params": {"url": "http://10.0.0.1/hook"}},
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }
    flow_id = ui.api.post("/api/v1/flows", json=flow).json()["id"]
    procs.start("worker")
    assert ui.api.post("/api/v1/events", json={"id": "e1", "name": "go"}).status_code == 202

    def failed():
        runs = ui.api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]
        return runs[0]["id"] if runs and runs[0]["status"] == "failed" else None

    run_id = wait_for(failed, timeout=20, message="the blocked run\n" + procs.logs())
    stored = ui.api.get(f"/api/v1/runs/{run_id}").json()["steps"][-1]["error"]
    assert "AUTOMATION_OUTBOUND_ALLOWLIST" in stored and "10.0.0.1" in stored  # English in the API

    ui.open(f"#/flows/{flow_id}")
    ui.by("editor-history").click()
    run = ui.by(f"run-{run_id}")
    run.locator(":scope > details > summary").click()
    expect(run.get_by_test_id("step-hook").locator(".step-error")).to_have_text(
        "Ошибка: Отправка на 10.0.0.1 запрещена: это внутренний адрес. "
        "Разрешить можно в AUTOMATION_OUTBOUND_ALLOWLIST"
    )
