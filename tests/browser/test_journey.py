"""The abandoned-cart journey built by hand in the Russian editor (Chromium): «Новая сделка» →
«Ждать событие» (оплата, 3 дня) → «дождались»: спасибо / «не дождались»: напоминание, with
«Режим запуска» and «Условие выхода» set in «Настройки»; the «Тест» tab runs it on a stored deal,
and a real worker runs it when the deal is paid."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.helpers import connect, drop, edge
from tests.conftest import wait_for

ANNA = {"external_id": "c-anna", "name": "Анна Смирнова", "email": "anna@example.ru"}


def test_a_marketer_builds_the_abandoned_cart_journey_and_runs_it_on_a_deal(ui, procs, fake_receiver):
    page = ui.page
    ui.open()
    ui.by("flow-add").click()
    start = drop(page, "palette-event.order_created", 330, 50)
    wait = drop(page, "palette-flow.wait_event", 330, 200)
    thanks = drop(page, "palette-action.webhook", 180, 400)
    expect(edge(page, start, wait)).to_be_attached()
    expect(edge(page, wait, thanks, "true")).to_be_attached()
    expect(edge(page, wait, thanks, "true")).to_contain_text("дождались")
    page.locator(".react-flow__pane").click(position={"x": 600, "y": 600})
    remind = drop(page, "palette-action.webhook", 480, 400)
    if edge(page, thanks, remind).count():  # connected after the chain's end: not this journey
        edge(page, thanks, remind).click()
        page.keyboard.press("Delete")
    expect(ui.by(f"handle-{wait}-false")).to_have_attribute("aria-label", "не дождались")
    connect(page, f"handle-{wait}-false", f"handle-{remind}-in")
    expect(edge(page, wait, remind, "false")).to_contain_text("не дождались")

    # the wait's form: what to wait for, the fields of that kind, for whom, how long
    ui.by(f"node-{wait}").click()
    expect(ui.by("panel-node")).to_have_attribute("data-node-id", wait)
    event = page.locator("#root_event")
    expect(event.locator("option:checked")).to_have_text("Смена статуса сделки")
    expect(page.locator("#root_name")).to_have_count(0)  # a custom event's field
    event.select_option(label="Пользовательское событие")
    expect(page.locator("#root_name")).to_be_visible()
    expect(page.locator("#root_to_group")).to_have_count(0)
    event.select_option(label="Смена статуса сделки")
    page.locator("#root_to_group").select_option(label="Оплачено")
    page.locator("#root_per").select_option(label="сделки")
    expect(page.locator("#root_timeout_days")).to_have_value("3")
    ui.by(f"node-{thanks}").click()
    page.locator("#root_url").fill(fake_receiver.url + "/thanks")
    ui.by(f"node-{remind}").click()
    page.locator("#root_url").fill(fake_receiver.url + "/remind")
    ui.by("flow-name").fill("Брошенная корзина")

    ui.by("panel-tab-settings").click()
    expect(ui.by("settings-run-mode")).to_contain_text("Режим запуска")
    ui.by("run-mode").select_option(label="Один активный")
    ui.by("run-mode-per").select_option(label="для сделки")
    expect(ui.by("settings-exit-event")).to_contain_text("Условие выхода")
    ui.by("exit-type").select_option(label="Смена статуса сделки")
    ui.by("exit-group").select_option(label="Отменено")
    ui.by("flow-save").click()
    expect(page).to_have_url(re.compile(r"#/flows/(?!new$)[^/]+$"))
    expect(ui.by("dirty-mark")).to_have_count(0)
    flow_id = page.url.rsplit("/", 1)[1]

    saved = ui.api.get(f"/api/v1/flows/{flow_id}").json()
    params = {n["id"]: n["params"] for n in saved["nodes"]}
    assert params[wait] == {
        "event": "order_status_changed",
        "to_status": [],  # any status of the group
        "to_group": "paid",
        "per": "order",
        "timeout": {"days": 3, "hours": 0, "minutes": 0},
    }
    assert {(e["from"], e["to"], e.get("branch")) for e in saved["edges"]} == {
        (start, wait, None),
        (wait, thanks, "true"),
        (wait, remind, "false"),
    }
    assert saved["settings"] == {
        "run_mode": {"mode": "single", "per": "order"},
        "exit_event": {"type": "event.order_status_changed", "params": {"to_group": "cancelled"}},
    }

    # «Тест» on a stored deal: the wait takes «дождались» (a dry run does not wait), nothing is sent
    assert (
        ui.api.put(
            "/api/v1/orders/1001", json={"price": 15000, "status": "Новая", "client": ANNA}
        ).status_code
        == 202
    )
    ui.by("editor-test").click()
    ui.by("record-search").fill("Анна")
    ui.by("record-order-1001").click()
    ui.by("test-run").click()
    expect(ui.by("test-result")).to_be_visible()
    expect(ui.by(f"step-badge-{wait}")).to_have_text("дождались")
    expect(ui.by(f"node-{thanks}")).to_have_attribute("data-step-status", "would_send")
    expect(ui.by(f"node-{remind}")).to_have_attribute("data-step-status", "not_reached")
    assert fake_receiver.deliveries == []

    # for real: switched on, a new deal waits; paid, it gets the thank-you only
    assert ui.api.patch(f"/api/v1/flows/{flow_id}", json={"enabled": True}).status_code == 200
    procs.start("worker")
    ui.api.put("/api/v1/orders/2002", json={"price": 990, "status": "Новая", "client": ANNA})

    def waiting():
        runs = ui.api.get(f"/api/v1/runs?flow_id={flow_id}&order_id=2002").json()["runs"]
        return [r for r in runs if r["status"] == "waiting"]

    (run,) = wait_for(waiting, timeout=20, message="the run to wait\n" + procs.logs())
    ui.api.put("/api/v1/orders/2002", json={"status": "Оплачен"})
    wait_for(lambda: fake_receiver.deliveries, timeout=20, message="the thank-you\n" + procs.logs())
    assert [(d.request.path, d.payload["order"]["id"]) for d in fake_receiver.deliveries] == [
        ("/thanks", "2002")
    ]
    # the exit condition: a waiting deal cancelled ends its run, «Отменён» with the reason
    ui.api.put("/api/v1/orders/3003", json={"price": 500, "status": "Новая", "client": ANNA})

    def run_of_3003(status):
        runs = ui.api.get(f"/api/v1/runs?flow_id={flow_id}&order_id=3003").json()["runs"]
        return [r for r in runs if r["status"] == status]

    (other,) = wait_for(lambda: run_of_3003("waiting"), timeout=20, message="the second run to wait")
    ui.api.put("/api/v1/orders/3003", json={"status": "Отменён", "status_group": "cancelled"})
    wait_for(lambda: run_of_3003("cancelled"), timeout=20, message="the exit event\n" + procs.logs())
    ui.by("editor-history").click()
    item = ui.by(f"run-{run['id']}")
    expect(item.locator(".badge").first).to_have_text("Выполнено", timeout=15_000)
    ended = ui.by(f"run-{other['id']}")
    expect(ended.locator(".badge").first).to_have_text("Отменён")
    ended.locator("summary").first.click()
    expect(ui.by(f"run-reason-{other['id']}")).to_contain_text("Остановлен: отменён: пришло событие выхода")
    assert len(fake_receiver.deliveries) == 1  # neither branch for the cancelled deal
