"""«Токены доступа»: list with scope and last use, create (shown once, copied), revoke with confirmation."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.helpers import assert_in_viewport
from tests.conftest import wait_for

pytestmark = pytest.mark.browser


def _tokens(ui) -> dict[str, dict]:
    return {t["name"]: t for t in ui.api.get("/api/v1/tokens").json()["tokens"]}


def test_a_marketer_creates_copies_and_revokes_a_site_token(ui):
    page = ui.page
    login = ui.api.post("/api/v1/tokens", json={"name": "Вход", "scope": "admin"}).json()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui.url)
    page.goto(f"{ui.url}/?token={login['token']}")
    ui.by("flow-table").wait_for()

    ui.by("nav-tokens").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Токены доступа")
    own = ui.by(f"token-row-{login['id']}")
    expect(own).to_contain_text("этот токен")
    expect(ui.by(f"token-scope-{login['id']}")).to_have_text("Полный доступ")
    expect(ui.by(f"token-revoke-{login['id']}")).to_be_disabled()  # not itself

    options = ui.by("token-scope").locator("option").all_inner_texts()
    assert options == ["Приём событий (для сайта)", "Только чтение", "Полный доступ"]
    expect(ui.by("token-scope-hint")).to_contain_text("только отправлять")
    ui.by("token-scope").select_option("read")
    expect(ui.by("token-scope-hint")).to_contain_text("ничего не меняет")
    ui.by("token-scope").select_option("ingest")
    assert_in_viewport(page, ui.by("token-form"), ui.by("token-create"))
    ui.by("token-name").fill("Сайт shop.ru")
    ui.by("token-create").click()

    dialog = ui.by("token-created")
    expect(dialog).to_contain_text("после закрытия окна его нельзя будет посмотреть снова")
    value = ui.by("token-value").input_value()
    assert value.startswith("an_") and len(value) > 20
    ui.by("token-copy").click()
    expect(ui.by("token-copied")).to_have_text("Скопировано")
    assert page.evaluate("navigator.clipboard.readText()") == value
    ui.by("token-created-close").click()
    expect(dialog).to_have_count(0)
    assert value not in page.content()  # shown once: gone with the dialog

    site = _tokens(ui)["Сайт shop.ru"]
    assert site["scope"] == "ingest"
    expect(ui.by(f"token-scope-{site['id']}")).to_have_text("Приём событий (для сайта)")
    expect(ui.by(f"token-used-{site['id']}")).to_have_text("ещё не использовался")

    # the site uses it: events go in, nothing else is allowed; the list shows the last use
    bearer = {"Authorization": f"Bearer {value}"}
    lead = requests.post(
        f"{ui.url}/api/v1/events", json={"id": "e1", "name": "lead"}, headers=bearer, timeout=10
    )
    assert lead.status_code == 202
    assert requests.get(f"{ui.url}/api/v1/flows", headers=bearer, timeout=10).status_code == 403
    wait_for(lambda: _tokens(ui)["Сайт shop.ru"]["last_used_at"], message="the site token's last use")
    page.reload()
    expect(ui.by(f"token-used-{site['id']}")).not_to_have_text("ещё не использовался")
    expect(ui.by(f"token-used-{site['id']}")).not_to_be_empty()

    # revoke: asked first; cancelling keeps it
    ui.by(f"token-revoke-{site['id']}").click()
    expect(ui.by("confirm-dialog")).to_contain_text("перестанет работать сразу")
    ui.by("confirm-cancel").click()
    expect(ui.by(f"token-row-{site['id']}")).to_be_visible()
    ui.by(f"token-revoke-{site['id']}").click()
    ui.by("confirm-ok").click()
    expect(ui.by(f"token-row-{site['id']}")).to_have_count(0)
    expect(ui.by("toast")).to_have_text("Токен отозван")
    assert (
        requests.post(
            f"{ui.url}/api/v1/events", json={"id": "e2", "name": "x"}, headers=bearer, timeout=10
        ).status_code
        == 401
    )

    ui.by("lang-en").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Access tokens")
    ui.by("nav-flows").click()
    expect(ui.by("flow-table")).to_be_visible()
