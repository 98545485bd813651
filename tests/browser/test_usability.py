"""Keyboard-only use, the 1280×800 layout and the RU/EN switch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import assert_in_viewport, edge
from tests.conftest import TOKEN

pytestmark = pytest.mark.browser

ACTIVE_MATCHES = "sel => document.activeElement ? document.activeElement.matches(sel) : false"


def tab_to(page: Page, selector: str, *, back: bool = False, limit: int = 150) -> None:
    """Presses Tab (or Shift+Tab) until the focused element matches ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(ACTIVE_MATCHES, selector):
            return
    raise AssertionError(f"{selector} not reached with {'Shift+' if back else ''}Tab in {limit} presses")


def add_from_palette_by_keyboard(page: Page, search: str, testid: str) -> None:
    """From the palette search box: type a filter, Tab to the first item, Enter; back to the search box."""
    page.keyboard.press("Control+A")
    page.keyboard.type(search)
    page.keyboard.press("Tab")
    expect(page.get_by_test_id(testid)).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_test_id("palette-search")).to_be_focused()


def test_the_main_actions_work_from_the_keyboard(ui):
    page = ui.page
    ui.open()
    tab_to(page, "[data-testid=flow-add]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/flows/new$"))
    expect(ui.by("canvas-empty")).to_be_visible()

    # a palette item takes Enter; each node added so is connected after the selected one
    tab_to(page, "[data-testid=palette-search]")
    add_from_palette_by_keyboard(page, "Новая сделка", "palette-event.order_created")
    add_from_palette_by_keyboard(page, "Сумма заказа", "palette-condition.order_price")
    expect(ui.by("panel-node")).to_have_attribute("data-node-id", "order_price")
    tab_to(page, "#root_value")
    page.keyboard.type("15000")
    tab_to(page, "[data-testid=palette-search]", back=True)
    add_from_palette_by_keyboard(page, "Webhook", "palette-action.webhook")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(edge(page, "order_created", "order_price")).to_be_attached()
    expect(edge(page, "order_price", "webhook", "true")).to_be_attached()
    expect(ui.by("panel-node")).to_have_attribute("data-node-id", "webhook")

    tab_to(page, "#root_url")
    page.keyboard.type("http://127.0.0.1:9/kbd")
    tab_to(page, "[data-testid=flow-name]", back=True)
    page.keyboard.press("Control+A")
    page.keyboard.type("С клавиатуры")
    tab_to(page, "[data-testid=flow-save]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/flows/(?!new$)[^/]+$"))
    expect(ui.by("dirty-mark")).to_have_count(0)

    (listed,) = ui.api.get("/api/v1/flows").json()["flows"]
    saved = ui.api.get(f"/api/v1/flows/{listed['id']}").json()
    assert saved["name"] == "С клавиатуры"
    assert [n["type"] for n in saved["nodes"]] == [
        "event.order_created",
        "condition.order_price",
        "action.webhook",
    ]
    assert saved["nodes"][1]["params"] == {"operator": "gt", "value": 15000}
    assert saved["nodes"][2]["params"]["url"] == "http://127.0.0.1:9/kbd"
    assert sorted((e["from"], e["to"], e.get("branch")) for e in saved["edges"]) == [
        ("order_created", "order_price", None),
        ("order_price", "webhook", "true"),
    ]

    # back to the list by keyboard: the header link, then the new row's toggle
    tab_to(page, "[data-testid=nav-home]", back=True)
    page.keyboard.press("Enter")
    toggle = ui.by(f"flow-toggle-{listed['id']}")
    tab_to(page, f"[data-testid=flow-toggle-{listed['id']}]")
    page.keyboard.press("Space")
    expect(toggle).to_be_checked()


LIST_FLOW = {
    "format": "automation-flow/1",
    "name": "Очень длинное название сценария, чтобы проверить, что таблица не уезжает вправо за край окна",
    "enabled": True,
    "nodes": [
        {"id": "start", "type": "event.order_created", "params": {}, "position": {"x": 0, "y": 0}},
        {
            "id": "big",
            "type": "condition.order_price",
            "params": {"operator": "gte", "value": 10000},
            "position": {"x": 0, "y": 150},
        },
        {
            "id": "hook",
            "type": "action.webhook",
            "params": {"url": "http://127.0.0.1:9/x"},
            "position": {"x": 0, "y": 300},
        },
    ],
    "edges": [{"from": "start", "to": "big"}, {"from": "big", "to": "hook", "branch": "true"}],
}


def test_key_controls_fit_a_1280x800_window(ui):
    page = ui.page
    flow_id = ui.api.post("/api/v1/flows", json=LIST_FLOW).json()["id"]
    ui.open()
    assert page.viewport_size == {"width": 1280, "height": 800}
    assert_in_viewport(
        page,
        ui.by("flow-add"),
        ui.by("import-open"),
        ui.by("lang-en"),
        ui.by("logout"),
        ui.by(f"flow-toggle-{flow_id}"),
        ui.by(f"flow-open-{flow_id}"),
        ui.by(f"flow-triggered-{flow_id}"),
        ui.by(f"flow-export-{flow_id}"),
        ui.by(f"flow-delete-{flow_id}"),
    )

    ui.by(f"flow-open-{flow_id}").click()
    page.locator(".react-flow__pane").wait_for()
    ui.by("node-hook").click()
    assert_in_viewport(
        page,
        ui.by("flow-name"),
        ui.by("flow-enabled"),
        ui.by("editor-export"),
        ui.by("editor-test"),
        ui.by("editor-history"),
        ui.by("editor-cancel"),
        ui.by("flow-save"),
        ui.by("palette-search"),
        ui.by("palette-event.order_created"),
        page.locator(".react-flow__pane"),
        ui.by("node-start"),
        ui.by("node-big"),
        ui.by("node-hook"),
        ui.by("save-trigger-preset"),
        ui.by("save-action-preset"),
        ui.by("panel-tab-params"),
        ui.by("panel-tab-history"),
        page.locator("#root_url"),
    )
    # the editor fills the window; the palette and the side panel scroll inside it
    sizes = page.evaluate(
        "() => [document.documentElement.scrollHeight, document.documentElement.clientHeight]"
    )
    assert sizes[0] <= sizes[1], f"the editor page scrolls vertically: {sizes}"
    palette = ui.by("palette")
    assert palette.evaluate("el => el.scrollHeight > el.clientHeight && getComputedStyle(el).overflowY") in (
        "auto",
        "scroll",
    )
    ui.by("palette-action.slack").scroll_into_view_if_needed()
    assert_in_viewport(page, ui.by("palette-action.slack"), ui.by("flow-save"))


def test_the_english_switch_changes_the_labels(ui):
    page = ui.page
    ui.open()
    expect(page.get_by_role("heading", level=1)).to_have_text("Сценарии")
    expect(ui.by("flow-add")).to_have_text("+ Добавить сценарий")

    ui.by("lang-en").click()
    expect(ui.by("lang-en")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("heading", level=1)).to_have_text("Scenarios")
    expect(ui.by("flow-add")).to_have_text("+ Add scenario")
    expect(ui.by("import-open")).to_have_text("Import")
    expect(ui.by("flow-table").locator("thead th")).to_have_text(
        [
            "",
            "Status",
            "Scenarios",
            "Last 7 days",
            "Triggered",
            "Failed",
            "Last triggered",
            "Updated",
            re.compile(".*"),
        ]
    )
    expect(ui.by("flows-empty")).to_have_text("No data")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_title(re.compile("Scenarios"))

    ui.by("flow-add").click()
    palette = ui.by("palette")
    expect(palette.locator("h3")).to_have_text(
        ["Events", "Conditions", "Actions", "Flow control", "Templates"]
    )
    expect(ui.by("palette-event.order_created")).to_have_text("New deal")
    expect(ui.by("flow-save")).to_have_text("Save scenario")
    expect(ui.by("editor-cancel")).to_have_text("Cancel")
    expect(ui.by("save-trigger-preset")).to_have_text("Save event and conditions as a template")
    expect(ui.by("save-action-preset")).to_have_text("Save action as a template")
    ui.by("palette-action.slack").click()
    expect(page.locator("label[for=root_text]")).to_contain_text("Message text")

    page.reload()  # the choice is remembered
    expect(ui.by("flow-save")).to_have_text("Save scenario")
    ui.by("nav-home").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Scenarios")
    ui.by("lang-ru").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Сценарии")
    expect(ui.by("flow-add")).to_have_text("+ Добавить сценарий")


def test_login_keeps_the_token_out_of_the_address_bar_and_asks_again_for_a_wrong_one(ui):
    page = ui.page
    ui.open()
    assert "token" not in page.url  # taken from /?token=… into sessionStorage
    page.reload()
    expect(ui.by("flow-table")).to_be_visible()

    fresh = page.context.new_page()  # a new tab has its own session: the UI asks for the token
    try:
        fresh.on("console", ui.console.on_console)
        fresh.on("pageerror", ui.console.on_page_error)
        ui.console.allow(401)
        fresh.goto(ui.url + "/")
        expect(fresh.get_by_test_id("login-form")).to_be_visible()
        fresh.get_by_test_id("login-token").fill("wrong-token")
        fresh.get_by_test_id("login-submit").click()
        expect(fresh.get_by_test_id("login-expired")).to_be_visible()
        fresh.get_by_test_id("login-token").fill(TOKEN)
        fresh.keyboard.press("Enter")
        expect(fresh.get_by_test_id("flow-table")).to_be_visible()
        expect(fresh.get_by_test_id("logout")).to_be_visible()
        fresh.get_by_test_id("logout").click()
        expect(fresh.get_by_test_id("login-form")).to_be_visible()
    finally:
        fresh.close()
