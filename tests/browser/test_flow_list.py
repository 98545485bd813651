"""The scenario list in a real Chromium, in Russian: search and filters over 200 scenarios answer
within 200 ms of typing, sort by a column, «Дублировать», bulk on/off and the import that asks
«Копия / Заменить / Отмена» on a collision (issue #18 «List»)."""

from __future__ import annotations

import copy

import pytest
from playwright.sync_api import expect

from tests.api.test_flows import load
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

# types a value into the search box as React sees a keystroke, then waits until the table shows
# `rows` rows: the time from the input event to that frame, measured in the page
MEASURE = """([value, rows]) => new Promise((resolve) => {
  const input = document.querySelector('[data-testid="list-search"]');
  const body = document.querySelector('[data-testid="flow-table"] tbody');
  const start = performance.now();
  const count = () => body.querySelectorAll('tr[data-testid^="flow-row-"]').length;
  const check = () => {
    const ms = performance.now() - start;
    if (count() === rows || ms > 5000) resolve({ ms, rows: count() });
    else requestAnimationFrame(check);
  };
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
  check();
})"""


def _many(ui, count: int) -> None:
    base = load("big_order_slack")
    visit = load("city_branch_slack")
    flows = []
    for i in range(count):
        doc = copy.deepcopy(visit if i % 4 == 0 else base)
        doc["name"] = f"Сценарий {i:03d} {'визит' if i % 4 == 0 else 'заказ'}"
        doc["enabled"] = i % 2 == 0 and i % 4 != 0
        doc.pop("id", None)
        if i % 10 == 0:
            doc["tags"] = ["Акция"]
        flows.append(doc)
    resp = ui.api.post("/api/v1/flows/import", json={"flows": flows})
    assert resp.status_code == 201, resp.text


def test_search_and_filters_over_200_scenarios_answer_within_200_ms(ui):
    page = ui.page
    _many(ui, 200)
    ui.open()
    rows = ui.by("flow-table").locator('tbody tr[data-testid^="flow-row-"]')
    expect(rows).to_have_count(200)
    expect(ui.by("list-count")).to_have_text("Показано: 200 из 200")

    result = page.evaluate(MEASURE, ["сценарий 12", 10])  # 120–129
    assert result["rows"] == 10 and result["ms"] < 200, f"the filtered list after typing: {result}"
    expect(ui.by("list-count")).to_have_text("Показано: 10 из 200")
    result = page.evaluate(MEASURE, ["ВИЗИТ", 50])
    assert result["rows"] == 50 and result["ms"] < 200, f"the filtered list after typing: {result}"

    ui.by("list-search").fill("")
    ui.by("filter-event").select_option(label="Новый визит")
    expect(rows).to_have_count(50)
    ui.by("filter-status").select_option(label="Включены")
    expect(rows).to_have_count(0)
    expect(ui.by("flows-empty")).to_have_text("Ничего не найдено")
    ui.by("filter-reset").click()
    ui.by("filter-status").select_option(label="Включены")
    expect(rows).to_have_count(50)  # even and not a visit
    ui.by("filter-tag").select_option("Акция")
    expect(rows).to_have_count(10)  # 10, 30, … 190
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "list-filters.png"))
    ui.by("filter-status").select_option(label="Все")
    expect(rows).to_have_count(20)

    # sort by the name column: ascending, then descending
    ui.by("filter-reset").click()
    ui.by("sort-name").click()
    expect(rows.first).to_contain_text("Сценарий 000")
    ui.by("sort-name").click()
    expect(rows.first).to_contain_text("Сценарий 199")
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("Сценарии")


def test_duplicate_bulk_switch_and_tag_chip(ui):
    a = ui.api.post("/api/v1/flows", json={**load("big_order_slack"), "tags": ["VIP"]}).json()
    b = ui.api.post("/api/v1/flows", json=load("city_branch_slack")).json()
    ui.open()
    rows = ui.by("flow-table").locator('tbody tr[data-testid^="flow-row-"]')
    expect(rows).to_have_count(2)

    ui.by(f"flow-duplicate-{a['id']}").click()
    expect(ui.by("toast")).to_have_text("Создана копия «Крупный заказ → Slack (копия)»")
    expect(rows).to_have_count(3)
    copy_row = rows.filter(has_text="(копия)")
    expect(copy_row.get_by_role("switch")).not_to_be_checked()

    # a tag chip filters the list by its tag
    ui.by(f"flow-row-{a['id']}").get_by_test_id("flow-tag").click()
    expect(ui.by("filter-tag")).to_have_value("VIP")
    expect(rows).to_have_count(2)  # the original and its copy
    ui.by("filter-reset").click()

    ui.by("select-all").check()
    expect(ui.by("bulk-bar")).to_contain_text("Выбрано: 3")
    ui.by("bulk-on").click()
    expect(ui.by("toast")).to_have_text("Сценариев изменено: 3")
    for row in rows.all():
        expect(row.get_by_role("switch")).to_be_checked()
    assert all(f["enabled"] for f in ui.api.get("/api/v1/flows").json()["flows"])
    ui.by(f"flow-check-{a['id']}").uncheck()
    ui.by("bulk-off").click()
    expect(ui.by(f"flow-toggle-{a['id']}")).to_be_checked()
    expect(ui.by(f"flow-toggle-{b['id']}")).not_to_be_checked()
    flows = {f["id"]: f["enabled"] for f in ui.api.get("/api/v1/flows").json()["flows"]}
    assert flows[a["id"]] is True and flows[b["id"]] is False


def test_import_of_a_colliding_scenario_asks_copy_replace_or_cancel(ui):
    flow = ui.api.post("/api/v1/flows", json=load("big_order_slack")).json()
    exported = ui.api.get(f"/api/v1/flows/{flow['id']}/export").json()
    import json

    ui.console.allow(409)
    ui.open()
    rows = ui.by("flow-table").locator('tbody tr[data-testid^="flow-row-"]')

    def ask(doc: dict):
        ui.by("import-open").click()
        ui.by("import-text").fill(json.dumps(doc, ensure_ascii=False))
        ui.by("import-submit").click()
        expect(ui.by("import-conflict")).to_contain_text("Такой сценарий уже есть")
        expect(ui.by("import-conflict")).to_contain_text("Уже есть сценарий «Крупный заказ → Slack»")

    ask(exported)
    ui.by("import-conflict-cancel").click()
    expect(ui.by("import-conflict")).to_have_count(0)
    ui.by("import-dialog").get_by_role("button", name="Отменить").last.click()
    expect(ui.by("import-dialog")).to_have_count(0)
    assert len(ui.api.get("/api/v1/flows").json()["flows"]) == 1

    ask(exported)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ui.page.screenshot(path=str(SCREENSHOTS / "import-conflict.png"))
    ui.by("import-copy").click()
    expect(ui.by("import-dialog")).to_have_count(0)
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Крупный заказ → Slack (копия)")).to_have_count(1)

    ask({**exported, "name": "Заменённый"})
    ui.by("import-replace").click()
    expect(ui.by("import-dialog")).to_have_count(0)
    expect(ui.by(f"flow-row-{flow['id']}")).to_contain_text("Заменённый")
    expect(rows).to_have_count(2)
    assert ui.api.get(f"/api/v1/flows/{flow['id']}").json()["version"] == 2
