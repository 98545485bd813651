"""«Список отписки» and the status picker in a real Chromium, in Russian: add an address by hand, import
a CSV file and read its result, delete an entry; «Статус» offers the statuses seen in orders and warns
on one never seen; the custom-field conditions are in the palette."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import drop

CSV = (
    "email;phone;channel;reason\n"
    "anna@example.ru;;email;жалоба\n"
    ";+7 912 000-00-01;sms;\n"
    "битый-адрес;;;\n"
    "ivan@example.ru;;email;повтор\n"
)


def test_a_marketer_adds_imports_and_deletes_suppressed_addresses(ui):
    ui.console.allow(422)  # the bad address below is refused by the server, as it should be
    page = ui.page
    ui.open()
    ui.by("nav-optout").click()
    expect(page).to_have_url(re.compile(r"#/optout$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Список отписки")
    expect(ui.by("optout-empty")).to_have_text("Список пуст")

    expect(ui.by("optout-submit")).to_be_disabled()
    ui.by("optout-address").fill("  Ivan@Example.RU ")
    ui.by("optout-channel").select_option(label="Email")
    ui.by("optout-reason").fill("просил не писать")
    ui.by("optout-submit").click()
    expect(ui.by("toast")).to_have_text("Адрес добавлен в список отписки")
    row = ui.by("optout-row").first
    expect(row).to_contain_text("ivan@example.ru")
    expect(row).to_contain_text("Вручную / API")
    expect(row).to_contain_text("просил не писать")

    ui.by("optout-address").fill("не адрес")  # a bad phone: the server's problem shown on the field
    ui.by("optout-submit").click()
    expect(ui.by("optout-field-error")).to_contain_text("некорректный телефон")

    ui.by("optout-file").set_input_files(
        {"name": "список.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    ui.by("optout-import-submit").click()
    result = ui.by("optout-import-result")
    expect(result).to_contain_text("Добавлено: 2, уже были в списке: 1, ошибок: 1")
    expect(ui.by("optout-import-errors")).to_contain_text("Строка 4:")
    expect(ui.by("optout-row")).to_have_count(3)
    expect(ui.by("optout-table")).to_contain_text("+79120000001")
    expect(ui.by("optout-table")).to_contain_text("Импорт CSV")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "optout.png"), full_page=True)

    ui.by("optout-search").fill("anna")
    expect(ui.by("optout-row")).to_have_count(1)
    ui.by("optout-delete").click()
    expect(ui.by("confirm-dialog")).to_contain_text(
        "Сценарии снова смогут отправлять сообщения на «anna@example.ru»"
    )
    ui.by("confirm-ok").click()
    expect(ui.by("toast")).to_have_text("Адрес удалён из списка")
    ui.by("optout-search").fill("")
    expect(ui.by("optout-row")).to_have_count(2)
    rows = ui.api.get("/api/v1/suppressions").json()["suppressions"]
    assert sorted(r.get("email") or r.get("phone") for r in rows) == ["+79120000001", "ivan@example.ru"]


def test_the_status_field_offers_seen_statuses_and_warns_on_an_unknown_one(ui):
    for order_id, status in (("1", "Новая"), ("2", "Новая"), ("3", "Оплачено")):
        assert ui.api.put(f"/api/v1/orders/{order_id}", json={"status": status}).status_code == 202
    page = ui.page
    ui.open()
    ui.by("flow-add").click()
    page.locator(".react-flow__pane").wait_for()
    expect(ui.by("palette-condition.order_field")).to_contain_text("Поле сделки")
    expect(ui.by("palette-condition.client_field")).to_contain_text("Поле клиента")
    drop(page, "palette-event.order_created", 330, 80)
    condition = drop(page, "palette-condition.order_status", 330, 260)
    ui.by(f"node-{condition}").click()

    draft = page.locator("input[id$='__new']").first
    options = page.locator(f"datalist#{draft.get_attribute('list')} option")
    expect(options).to_have_count(2)
    expect(options.first).to_have_attribute("value", "Новая")
    expect(options.first).to_have_text("сделок: 2")

    draft.fill("Новя")  # a typo
    draft.press("Enter")
    warning = page.locator("p.field-warning")
    expect(warning).to_have_text("Статус «Новя» ещё не встречался в сделках — проверьте написание")
    page.screenshot(path=str(SCREENSHOTS / "status-warning.png"))
    draft.fill("оплачено")  # case does not matter, as in the condition
    draft.press("Enter")
    expect(warning).to_have_count(1)
    page.get_by_role("button", name=re.compile("Новя")).click()  # remove the typo's chip
    expect(warning).to_have_count(0)


def test_the_unsubscribe_link_asks_then_unsubscribes_in_russian(ui, app):
    ui.console.allow(403)  # the forged link at the end is refused, as it should be
    page = ui.page
    token = app.extensions["automation"].services.unsubscribe.token("email", "ivan.petrov@example.ru")
    page.goto(f"{ui.url}/api/v1/unsubscribe/{token}")  # no token of the API: the link is signed
    expect(page.get_by_role("heading", level=1)).to_have_text("Отписка от рассылки")
    expect(page.locator("body")).to_contain_text("Больше не присылать писем на iv…@example.ru?")
    page.screenshot(path=str(SCREENSHOTS / "unsubscribe.png"))
    assert ui.api.get("/api/v1/suppressions").json()["suppressions"] == []  # opening it changes nothing

    page.get_by_role("button", name="Отписаться").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Вы отписаны")
    [entry] = ui.api.get("/api/v1/suppressions").json()["suppressions"]
    assert (entry["email"], entry["source"]) == ("ivan.petrov@example.ru", "unsubscribe")

    payload, signature = token.split(".")
    page.goto(f"{ui.url}/api/v1/unsubscribe/{payload}.{signature[::-1]}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ссылка недействительна")
