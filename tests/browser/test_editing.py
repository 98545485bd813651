"""Editing a marketer trusts (issue #18), in Chromium with the Russian UI: undo/redo of add, delete,
connect and a param edit; copy/paste and «Дублировать» (a copy with a sealed secret saves and sends);
one auto-connect rule for Enter, drag and templates; the palette greys out what the event cannot feed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import center, connect, drop, edge
from tests.conftest import wait_for

pytestmark = pytest.mark.browser


def _nodes(page):
    return page.locator(".react-flow__node")


def _edges(page):
    return page.locator(".react-flow__edge")


def _click_edge_between(page, source_handle: str, target_handle: str) -> None:
    """A straight vertical edge has no width for Playwright's visibility check: click its middle."""
    (x1, y1), (x2, y2) = (
        center(page.get_by_test_id(source_handle)),
        center(page.get_by_test_id(target_handle)),
    )
    page.mouse.click((x1 + x2) / 2, (y1 + y2) / 2)


def test_undo_and_redo_of_add_delete_connect_and_a_param_edit(ui):
    page = ui.page
    ui.open("#/flows/new")
    undo, redo = ui.by("editor-undo"), ui.by("editor-redo")
    expect(undo).to_have_text("Отменить")
    expect(redo).to_have_text("Повторить")
    expect(undo).to_be_disabled()

    ui.by("palette-event.order_created").click()
    ui.by("palette-condition.order_price").click()
    expect(_nodes(page)).to_have_count(2)
    expect(edge(page, "order_created", "order_price")).to_be_attached()

    # add: Ctrl+Z takes the condition and its edge away, «Повторить» brings both back
    page.locator(".react-flow__pane").click(position={"x": 500, "y": 500})
    page.keyboard.press("Control+z")
    expect(_nodes(page)).to_have_count(1)
    expect(_edges(page)).to_have_count(0)
    redo.click()
    expect(_nodes(page)).to_have_count(2)
    expect(edge(page, "order_created", "order_price")).to_be_attached()

    # delete with the Delete key, no question asked, and undone
    ui.by("node-order_price").click()
    page.keyboard.press("Delete")
    expect(_nodes(page)).to_have_count(1)
    expect(_edges(page)).to_have_count(0)
    undo.click()
    expect(_nodes(page)).to_have_count(2)
    expect(edge(page, "order_created", "order_price")).to_be_attached()

    # connect: drawn by hand after removing the automatic edge; Ctrl+Z, then Ctrl+Shift+Z and Ctrl+Y
    _click_edge_between(page, "handle-order_created-out", "handle-order_price-in")
    page.keyboard.press("Delete")
    expect(_edges(page)).to_have_count(0)
    connect(page, "handle-order_created-out", "handle-order_price-in")
    expect(_edges(page)).to_have_count(1)
    page.keyboard.press("Control+z")
    expect(_edges(page)).to_have_count(0)
    page.keyboard.press("Control+Shift+z")
    expect(_edges(page)).to_have_count(1)
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+y")
    expect(edge(page, "order_created", "order_price")).to_be_attached()

    # a move is one step however many mouse moves it takes
    node = ui.by("node-order_price")
    before = node.bounding_box()
    x, y = center(node)
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(x + 30 * step, y + 10 * step)
    page.mouse.up()
    moved = node.bounding_box()
    assert moved["x"] > before["x"] + 60 and moved["y"] > before["y"] + 20, (before, moved)
    page.keyboard.press("Control+z")
    back = node.bounding_box()
    assert abs(back["x"] - before["x"]) < 2 and abs(back["y"] - before["y"]) < 2, (before, back)
    expect(edge(page, "order_created", "order_price")).to_be_attached()

    # a param edit typed key by key is one step; the operator starts at «Больше», the amount is a number
    ui.by("node-order_price").click()
    expect(page.locator("#root_value")).to_have_attribute("type", "number")
    expect(page.locator("#root_operator option:checked")).to_have_text("Больше")
    page.locator("#root_value").click()
    page.keyboard.type("10000", delay=30)
    expect(ui.by("summary-order_price")).to_have_text("Сумма заказа > 10 000")
    # leaving the field ends its step: the next edit of it is a step of its own
    page.keyboard.press("Tab")
    page.locator("#root_value").click()
    page.keyboard.press("End")
    page.keyboard.type("5")
    expect(page.locator("#root_value")).to_have_value("100005")
    undo.click()
    expect(page.locator("#root_value")).to_have_value("10000")
    undo.click()
    expect(page.locator("#root_value")).to_have_value("")
    expect(ui.by("summary-order_price")).not_to_contain_text("10")
    redo.click()
    expect(page.locator("#root_value")).to_have_value("10000")


def test_copy_paste_and_duplicate_keep_a_sealed_secret_working(ui, procs, fake_slack):
    procs.start("worker")
    page = ui.page
    flow = {
        "name": "Сделка → Slack",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "slack",
                "type": "action.slack",
                "params": {"text": "Оригинал {order_id}", "webhook_url": fake_slack.hook_url},
                "position": {"x": 0, "y": 160},
            },
        ],
        "edges": [{"from": "start", "to": "slack"}],
    }
    answer = ui.api.post("/api/v1/flows", json=flow)
    assert answer.status_code == 201, answer.text
    flow_id = answer.json()["id"]
    ui.open(f"#/flows/{flow_id}")

    ui.by("node-slack").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(_nodes(page)).to_have_count(3)
    expect(ui.by("panel-node")).to_have_attribute("data-node-id", "slack_2")
    expect(page.locator("#root_webhook_url")).not_to_have_value(fake_slack.hook_url)  # masked, as the source
    page.locator("#root_text").fill("Копия {order_id}")
    connect(page, "handle-start-out", "handle-slack_2-in")
    expect(edge(page, "start", "slack_2")).to_be_attached()

    # «Дублировать» the copy: a third Slack node, undone again
    ui.by("node-slack_2").click()
    ui.by("editor-duplicate").click()
    expect(_nodes(page)).to_have_count(4)
    ui.by("editor-undo").click()
    expect(_nodes(page)).to_have_count(3)

    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)
    expect(ui.by("editor-errors")).to_have_count(0)
    saved = ui.api.get(f"/api/v1/flows/{flow_id}").json()
    assert saved["enabled"] is True and saved["needs_secrets"] == []
    copy = next(n for n in saved["nodes"] if n["id"] == "slack_2")
    assert copy["params"] == {"text": "Копия {order_id}", "webhook_url": "********"} and "copy_of" not in copy

    assert ui.api.put("/api/v1/orders/77", json={"price": 10, "status": "Новая"}).status_code == 202
    wait_for(
        lambda: len(fake_slack.messages) == 2, timeout=20, message="both Slack messages\n" + procs.logs()
    )
    assert sorted(fake_slack.messages) == ["Копия 77", "Оригинал 77"]


def test_one_auto_connect_rule_and_a_palette_that_fits_the_event(ui):
    page = ui.page
    preset = {
        "name": "Вебхук в CRM",
        "kind": "action",
        "nodes": [{"id": "hook", "type": "action.webhook", "params": {"url": "http://127.0.0.1:9/crm"}}],
    }
    answer = ui.api.post("/api/v1/presets", json=preset)
    assert answer.status_code == 201, answer.text
    preset_id = answer.json()["id"]
    ui.open("#/flows/new")
    event_data = ui.by("palette-condition.event_data")
    expect(event_data).not_to_have_attribute("aria-disabled", "true")  # no event chosen yet

    drop(page, "palette-event.order_created", 330, 40)
    expect(event_data).to_have_attribute("aria-disabled", "true")
    expect(ui.by("palette-reason-condition.event_data")).to_have_text(
        "Работает только с событием «Пользовательское событие»"
    )
    event_data.click(force=True)
    expect(_nodes(page)).to_have_count(1)
    expect(ui.by("palette-condition.order_price")).not_to_have_attribute("aria-disabled", "true")

    # Enter on a palette item: connected after the selected event
    ui.by("palette-condition.order_price").focus()
    page.keyboard.press("Enter")
    expect(edge(page, "order_created", "order_price")).to_be_attached()
    # dragged from the palette: connected after the selected condition, by its «да»
    drop(page, "palette-action.slack", 330, 420)
    expect(edge(page, "order_price", "slack", "true")).to_be_attached()
    # a template with nothing selected: connected after the end of the chain
    page.locator(".react-flow__pane").click(position={"x": 60, "y": 500})
    ui.by(f"palette-preset-{preset_id}").drag_to(
        page.locator(".react-flow__pane"), target_position={"x": 330, "y": 560}
    )
    expect(_nodes(page)).to_have_count(4)
    expect(edge(page, "slack", "webhook")).to_be_attached()
    expect(_edges(page)).to_have_count(3)
    # the template's insertion is one step too
    ui.by("editor-undo").click()
    expect(_nodes(page)).to_have_count(3)
    expect(_edges(page)).to_have_count(2)
    ui.by("editor-redo").click()
    expect(edge(page, "slack", "webhook")).to_be_attached()
    expect(ui.by("summary-webhook")).to_have_text("POST 127.0.0.1:9")
    # the address is checked while typing, at the field
    ui.by("node-webhook").click()
    page.locator("#root_url").fill("ftp://crm.example.com")
    expect(ui.by("panel-node")).to_contain_text("Адрес должен начинаться с http:// или https://")
    page.locator("#root_url").fill("https://crm.example.com/hook")
    expect(ui.by("panel-node")).not_to_contain_text("Адрес должен начинаться")
    expect(ui.by("summary-webhook")).to_have_text("POST crm.example.com")
    ui.by("palette-condition.event_data").scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "editing.png"))

    # under «Пользовательское событие» the event's data can be checked
    ui.by("palette-event.custom").click()
    ui.by("confirm-ok").click()
    expect(event_data).not_to_have_attribute("aria-disabled", "true")
    expect(ui.by("palette-condition.order_price")).to_have_attribute("aria-disabled", "true")


def test_a_typed_secret_can_be_shown_and_a_stored_one_never_is(ui, fake_slack):
    """#18: a bad webhook URL in a password field could not be seen to be fixed."""
    page = ui.page
    flow = {
        "name": "Секрет",
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "slack",
                "type": "action.slack",
                "params": {"text": "Заказ {order_id}", "webhook_url": fake_slack.hook_url},
                "position": {"x": 0, "y": 160},
            },
        ],
        "edges": [{"from": "start", "to": "slack"}],
    }
    flow_id = ui.api.post("/api/v1/flows", json=flow).json()["id"]
    ui.open(f"#/flows/{flow_id}")
    ui.by("node-slack").click()
    field = page.locator("#root_webhook_url")
    expect(ui.by("root_webhook_url__set")).to_have_text("задано")
    expect(ui.by("root_webhook_url__show")).to_have_count(0)  # the stored value is not in the page at all
    assert fake_slack.hook_url not in page.content()

    field.fill("hooks.slack.com/services/T0/B0/typo")
    expect(field).to_have_attribute("type", "password")
    ui.by("root_webhook_url__show").click()
    expect(field).to_have_attribute("type", "text")
    expect(field).to_have_value("hooks.slack.com/services/T0/B0/typo")
    expect(ui.by("root_webhook_url__show")).to_have_text("Скрыть")
    ui.by("root_webhook_url__show").click()
    expect(field).to_have_attribute("type", "password")
    expect(ui.by("root_webhook_url__show")).to_have_text("Показать")
