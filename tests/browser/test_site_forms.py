"""«Формы сайта» in a real Chromium: reach it from the navigation, create a source, copy its URL,
see Tilda's test request arrive, find the name in «Пользовательское событие», delete it."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from tests.browser.helpers import drop


def test_a_marketer_creates_a_site_form_source_copies_its_url_and_deletes_it(ui):
    page = ui.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui.url)
    ui.open()
    ui.by("nav-forms").click()
    expect(page).to_have_url(re.compile(r"#/forms$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Формы сайта")
    expect(ui.by("hooks-empty")).to_have_text("Источников пока нет")
    expect(ui.by("forms-help")).to_contain_text("Настройки сайта → Формы → Webhook")

    expect(ui.by("hook-create")).to_be_disabled()
    ui.by("hook-name").fill("tilda_lead")
    ui.by("hook-create").click()
    expect(ui.by("toast")).to_have_text("Источник «tilda_lead» создан")
    (source,) = ui.api.get("/api/v1/hooks").json()["hooks"]
    url_box = ui.by(f"hook-url-{source['id']}")
    expect(url_box).to_have_value(source["url"])
    expect(ui.by("forms-html-example")).to_contain_text(f'<form action="{source["url"]}" method="post">')
    expect(ui.by(f"hook-row-{source['id']}")).to_contain_text("ещё не было")

    ui.by(f"hook-copy-{source['id']}").click()
    expect(ui.by("toast")).to_have_text("Адрес скопирован")
    assert page.evaluate("navigator.clipboard.readText()") == source["url"]

    # Tilda adds the webhook: its test request is answered "ok" and shows as the last submission
    assert requests.post(source["url"], data={"test": "test"}, timeout=10).text == "ok"
    page.reload()
    expect(ui.by(f"hook-row-{source['id']}")).not_to_contain_text("ещё не было")

    # «Пользовательское событие» offers the source's name
    ui.by("nav-flows").click()
    ui.by("flow-add").click()
    page.locator(".react-flow__pane").wait_for()
    event = drop(page, "palette-event.custom", 330, 80)
    ui.by(f"node-{event}").click()
    name_input = page.locator("#root_name")
    suggestions = page.locator(f"datalist#{name_input.get_attribute('list')} option")
    expect(suggestions.first).to_have_attribute("value", "tilda_lead")

    # back to the sources (leaving the unsaved scenario is confirmed), then delete with confirmation
    ui.by("nav-forms").click()
    ui.by("confirm-ok").click()
    ui.by(f"hook-delete-{source['id']}").click()
    expect(ui.by("confirm-dialog")).to_contain_text(
        "Формы, отправляющие заявки на адрес источника «tilda_lead»"
    )
    ui.by("confirm-cancel").click()
    expect(ui.by(f"hook-row-{source['id']}")).to_be_visible()
    ui.by(f"hook-delete-{source['id']}").click()
    ui.by("confirm-ok").click()
    expect(ui.by("toast")).to_have_text("Источник удалён")
    expect(ui.by("hooks-empty")).to_be_visible()
    assert ui.api.get("/api/v1/hooks").json()["hooks"] == []
    assert requests.post(source["url"], data={"test": "test"}, timeout=10).status_code == 404


def test_the_forms_page_in_english(ui):
    ui.open()
    ui.by("lang-en").click()
    ui.by("nav-forms").click()
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Site forms")
    expect(ui.by("hooks-empty")).to_have_text("No sources yet")


def test_a_visitor_submitting_a_plain_html_form_sees_the_thanks_page_without_errors(ui):
    """The HTML example of the page, as a site would use it: the browser lands on our thanks page
    (which must not make it ask for a /favicon.ico that answers 401)."""
    source = ui.api.post("/api/v1/hooks", json={"name": "plain_form"}).json()
    page = ui.page
    ui.open()
    page.set_content(
        f'<form action="{source["url"]}" method="post"><input name="email" value="a@example.com">'
        '<button type="submit">Отправить</button></form>'
    )
    page.get_by_role("button", name="Отправить").click()
    expect(page.locator("body")).to_contain_text("Спасибо! Заявка отправлена.")
    page.wait_for_load_state("networkidle")
    (listed,) = ui.api.get("/api/v1/hooks").json()["hooks"]
    assert listed["last_used_at"] is not None  # the submission was stored
    # the fixture's console guard fails the test on any 4xx the page caused
