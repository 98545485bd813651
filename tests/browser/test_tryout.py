"""The test panel on real data (Chromium, Russian UI): a stored deal picked by its client's name,
the dry run marking the webhook a real run would block, a clear error for bad JSON, and a test
letter really received by a local SMTP server and recorded as a test run."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

ANNA = {"external_id": "c-anna", "name": "Анна Смирнова", "email": "anna@example.ru", "phone": "+79161234567"}


def store_order(ui, order_id: str = "1001") -> None:
    body = {"price": 15000, "status": "Новая", "client": ANNA}
    assert ui.api.put(f"/api/v1/orders/{order_id}", json=body).status_code == 202


def flow(name: str, actions: list[dict]) -> dict:
    nodes = [{"id": "start", "type": "event.order_created", "params": {}, "position": {"x": 0, "y": 0}}]
    for i, action in enumerate(actions):
        nodes.append({**action, "position": {"x": 260, "y": 120 * i}})
    edges = [{"from": "start", "to": a["id"]} for a in actions]
    return {"format": "automation-flow/1", "name": name, "nodes": nodes, "edges": edges}


def open_test_panel(ui, flow_id: str) -> None:
    ui.open(f"#/flows/{flow_id}")
    ui.by("editor-test").click()
    expect(ui.by("test-panel")).to_be_visible()


def test_a_real_deal_shows_the_webhook_that_a_real_run_would_block(ui, fake_receiver):
    store_order(ui, "1001")
    store_order(ui, "2002")
    doc = flow(
        "Крупная сделка",
        [
            # the tests' allowlist lets 127.0.0.1 through, as a real run would; 127.0.0.2 is not in it
            {"id": "internal", "type": "action.webhook", "params": {"url": "http://127.0.0.2:9000/hook"}},
            {"id": "receiver", "type": "action.webhook", "params": {"url": fake_receiver.url + "/hook"}},
        ],
    )
    flow_id = ui.api.post("/api/v1/flows", json=doc).json()["id"]
    open_test_panel(ui, flow_id)

    ui.by("record-search").fill("Борис")
    expect(ui.by("record-none")).to_have_text("Ничего не найдено")
    ui.by("record-search").fill("Анна")
    expect(ui.by("record-order-2002")).to_be_visible()
    ui.by("record-order-1001").click()
    expect(ui.by("test-subject")).to_contain_text("Тест на реальных данных: Сделка №1001")
    ui.by("test-run").click()

    expect(ui.by("test-result")).to_be_visible()
    expect(ui.by("node-internal")).to_have_attribute("data-step-status", "blocked")
    expect(ui.by("step-internal")).to_contain_text("Будет заблокировано")
    expect(ui.by("step-error-internal")).to_contain_text("Будет заблокировано: адрес во внутренней сети")
    expect(ui.by("node-receiver")).to_have_attribute("data-step-status", "would_send")
    expect(ui.by("step-receiver")).to_contain_text("Будет отправлено")
    expect(ui.by("test-context")).to_have_value(re.compile(r'"id": "1001"'))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ui.page.screenshot(path=str(SCREENSHOTS / "tryout.png"))
    assert fake_receiver.deliveries == []  # a dry run sends nothing

    ui.by("test-context").fill('{"order": {"id": "7",}}')
    ui.by("test-run").click()
    expect(ui.by("test-error")).to_contain_text("Данные не в формате JSON: ошибка в строке 1, позиция 22")
    expect(ui.by("test-result")).to_have_count(0)  # the old result is gone
    expect(ui.by("node-internal")).not_to_have_attribute("data-step-status", "blocked")


def test_a_test_letter_reaches_the_chosen_address_and_is_a_test_run_in_the_history(ui, fake_smtp):
    store_order(ui, "1001")
    params = {
        "smtp_host": "127.0.0.1",
        "smtp_port": fake_smtp.ssl_port,
        "security": "ssl",
        "username": fake_smtp.login,
        "password": fake_smtp.password,
        "from_email": "shop@example.ru",
        "subject": "Ваш заказ {order_id}",
        "html": "<p>Здравствуйте, {client_name}!</p>",
    }
    hook = {"id": "hook", "type": "action.webhook", "params": {"url": "http://127.0.0.1:9/h"}}
    doc = flow("Письмо клиенту", [{"id": "mail", "type": "action.email", "params": params}, hook])
    flow_id = ui.api.post("/api/v1/flows", json=doc).json()["id"]
    open_test_panel(ui, flow_id)

    ui.by("record-order-1001").click()
    ui.by("send-node").select_option("mail")
    ui.by("send-button").click()
    expect(ui.by("send-error")).to_contain_text("Введите email, на который отправить тестовое письмо")
    ui.by("send-recipient").fill("marketer@example.com")
    ui.by("send-button").click()
    expect(ui.by("send-result")).to_contain_text("Выполнено")
    ui.by("send-result").scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ui.page.screenshot(path=str(SCREENSHOTS / "tryout-send.png"))
    [letter] = fake_smtp.messages
    assert letter.rcpt_tos == ["marketer@example.com"]
    assert letter.message["Subject"] == "Ваш заказ 1001"
    assert "Анна Смирнова" in letter.message.get_body(("html",)).get_content()

    ui.by("panel-tab-history").click()
    expect(ui.by("run-trigger").first).to_have_text("Источник: тестовое сообщение")
    stats = ui.api.get(f"/api/v1/flows/{flow_id}").json()["stats"]
    assert stats["triggered"] == 0  # a test message is not a trigger of the scenario


def test_the_sample_form_fills_the_data_for_the_flows_event(ui):
    doc = flow("Визит", [{"id": "hook", "type": "action.webhook", "params": {"url": "http://127.0.0.1:9/h"}}])
    doc["nodes"][0]["type"] = "event.visit_created"
    flow_id = ui.api.post("/api/v1/flows", json=doc).json()["id"]
    open_test_panel(ui, flow_id)
    expect(ui.by("record-kind-visit")).to_have_attribute("aria-pressed", "true")
    ui.by("sample-form").locator("summary").click()
    expect(ui.by("sample-order_id")).to_have_count(0)  # a visit has no deal
    ui.by("sample-city").fill("Казань")
    ui.by("sample-email").fill("guest@example.ru")
    ui.by("sample-apply").click()
    ui.by("test-run").click()
    expect(ui.by("node-hook")).to_have_attribute("data-step-status", "would_send")
    expect(ui.by("step-hook")).to_contain_text("Казань")
