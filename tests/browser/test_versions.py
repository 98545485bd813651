"""«История» in a real Chromium, in Russian: the versions of a scenario with who and what changed,
the diff of two, and «Восстановить» bringing back an old version as a new one (SPEC §11)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.api.test_flows import load
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXX"


def test_a_marketer_sees_what_changed_compares_two_versions_and_restores_one(ui):
    page = ui.page
    doc = {**load("big_order_slack"), "enabled": False}
    flow_id = ui.api.post("/api/v1/flows", json=doc).json()["id"]
    ui.open(f"#/flows/{flow_id}")

    # version 2: renamed and re-tagged in the editor, saved by the UI
    ui.by("flow-name").fill("Крупный заказ → Slack (v2)")
    ui.by("panel-tab-settings").click()
    ui.by("flow-tags").fill("Продажи, VIP")
    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)
    # version 3: the threshold raised through the API (by a token)
    stored = ui.api.get(f"/api/v1/flows/{flow_id}").json()
    stored["nodes"][1]["params"]["value"] = 50000
    assert ui.api.put(f"/api/v1/flows/{flow_id}", json=stored).status_code == 200
    page.reload()
    page.locator(".react-flow__pane").wait_for()

    ui.by("panel-tab-versions").click()
    panel = ui.by("versions-panel")
    expect(panel.locator(".version-item")).to_have_count(3)
    v3, v2, v1 = ui.by("version-3"), ui.by("version-2"), ui.by("version-1")
    expect(v3).to_contain_text("текущая")
    expect(v3).to_contain_text("токен AUTOMATION_API_TOKEN")
    expect(v3).to_contain_text("Изменён узел «Сумма заказа (big)»")
    expect(v3).to_contain_text("Сумма: 10000 → 50000")
    expect(v2).to_contain_text("интерфейс")
    expect(v2).to_contain_text("Название: «Крупный заказ → Slack» → «Крупный заказ → Slack (v2)»")
    expect(v2).to_contain_text("Метки: (пусто) → Продажи, VIP")
    expect(v1).to_contain_text("Сценарий создан")

    # view one version, then the diff of 1 → 3
    ui.by("version-view-1").click()
    expect(ui.by("version-view-version")).to_contain_text("Узлы версии 1")
    expect(ui.by("version-view-version")).to_contain_text("Сумма заказа (big)")
    ui.by("version-pick-1").check()
    ui.by("version-pick-3").check()
    ui.by("versions-compare").click()
    diff = ui.by("diff-changes")
    expect(ui.by("version-view-diff")).to_contain_text("Изменения: версия 1 → версия 3")
    expect(diff).to_contain_text("Сумма: 10000 → 50000")
    expect(diff).to_contain_text("Метки: (пусто) → Продажи, VIP")
    assert SLACK_URL not in page.content()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "history.png"))

    # restore version 1: asked first, then the editor shows it and the list has version 4
    ui.by("version-restore-1").click()
    expect(ui.by("confirm-dialog")).to_contain_text("Восстановить версию 1?")
    ui.by("confirm-ok").click()
    expect(ui.by("toast")).to_have_text("Восстановлена версия 1")
    expect(ui.by("flow-name")).to_have_value("Крупный заказ → Slack")
    expect(ui.by("dirty-mark")).to_have_count(0)
    expect(ui.by("version-4")).to_contain_text("восстановлена версия 1")
    expect(ui.by("version-4")).to_contain_text("текущая")
    ui.by("node-big").click()
    expect(page.locator("#root_value")).to_have_value("10000")

    restored = ui.api.get(f"/api/v1/flows/{flow_id}").json()
    assert restored["version"] == 4 and restored["nodes"][1]["params"]["value"] == 10000
    assert "tags" not in restored and restored["name"] == "Крупный заказ → Slack"
    assert json.dumps(restored).count("********") == 1  # the Slack URL, sealed as in version 1
