"""Scenario analytics in a real Chromium, in Russian (issue #19): visits and deals ingested through
the public API are dispatched on the real path (in-process, a real local webhook receiver); then a
marketer sees them in the scenario's «Статистика» (ECharts canvases drawing the same numbers as
the totals beside them, conversions per branch), in the list's last 7 days and sorted columns, in
«Обзор» (totals, the daily chart, the three top lists), searches the history of every scenario,
downloads it as CSV, pages it with «Показать ещё», and opens a client's card with its timeline."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import expect

from plugin.api.extensions import db
from plugin.engine import attribution
from tests.browser.conftest import SCREENSHOTS
from tests.engine.test_flow_rules import drain

# what a chart draws: each series' id and data, and the x axis, read from the ECharts instance
CHART = """el => {
  const option = el.chart.getOption();
  return {
    x: option.xAxis[0].data,
    series: Object.fromEntries(option.series.map(s => [s.id, s.data])),
    canvas: el.querySelectorAll('canvas').length,
  };
}"""
EXTRA_VISITS = 19  # anonymous visits: with the three of clients, more runs than one page of 20


def _flows(ui, receiver) -> tuple[str, str]:
    visit = {
        "name": "Визит → вебхук",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.visit_created", "params": {}},
            {
                "id": "utm",
                "type": "condition.visit_utm",
                "params": {"tag": "utm_source", "operator": "equals", "value": "yandex"},
            },
            {
                "id": "yandex",
                "name": "Из Яндекса",
                "type": "action.webhook",
                "params": {"url": receiver.url + "/y"},
            },
            {
                "id": "other",
                "name": "Остальные",
                "type": "action.webhook",
                "params": {"url": receiver.url + "/o"},
            },
        ],
        "edges": [
            {"from": "start", "to": "utm"},
            {"from": "utm", "to": "yandex", "branch": "true"},
            {"from": "utm", "to": "other", "branch": "false"},
        ],
    }
    deal = {
        "name": "Крупная сделка → CRM",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "big", "type": "condition.order_price", "params": {"operator": "gte", "value": 10000}},
            {
                "id": "crm",
                "name": "В CRM",
                "type": "action.webhook",
                "params": {"url": receiver.url + "/crm"},
            },
        ],
        "edges": [{"from": "start", "to": "big"}, {"from": "big", "to": "crm", "branch": "true"}],
    }
    ids = []
    for doc in (visit, deal):
        answer = ui.api.post("/api/v1/flows", json=doc)
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    return ids[0], ids[1]


def _ok(answer) -> None:
    assert answer.status_code in (200, 201, 202), answer.text


def _seed(ui, app, receiver) -> tuple[str, str]:
    """Three clients visit (two from Yandex), 19 anonymous visits; three deals: 15 000 ₽ (paid
    later), 500 ₽ (below the scenario's 10 000) and 20 000 ₽, whose webhook answers 410 (failed)."""
    visit_flow, deal_flow = _flows(ui, receiver)
    api = ui.api
    _ok(
        api.put(
            "/api/v1/clients/c1",
            json={"name": "Анна Смирнова", "email": "anna@shop.ru", "phone": "+79001234567"},
        )
    )
    _ok(api.put("/api/v1/clients/c2", json={"name": "Борис", "email": "boris@shop.ru"}))
    _ok(api.put("/api/v1/clients/c3", json={"name": "Вера", "email": "vera@shop.ru"}))
    for vid, client, source in (("v1", "c1", "yandex"), ("v2", "c2", "google"), ("v3", "c3", "yandex")):
        _ok(
            api.post(
                "/api/v1/visits",
                json={"id": vid, "client_id": client, "utm_source": source, "city": "Москва"},
            )
        )
    for i in range(EXTRA_VISITS):
        _ok(api.post("/api/v1/visits", json={"id": f"anon{i}", "utm_source": "vk"}))
    drain(app)  # before the deals: a visit's run would carry its client's latest deal
    _ok(api.put("/api/v1/orders/o1", json={"price": 15000, "status": "Новый", "client_id": "c1"}))
    _ok(api.put("/api/v1/orders/o2", json={"price": 500, "status": "Новый", "client_id": "c2"}))
    drain(app)
    receiver.respond_with(410)
    _ok(api.put("/api/v1/orders/o3", json={"price": 20000, "status": "Новый", "client_id": "c3"}))
    drain(app)
    _ok(api.put("/api/v1/orders/o1", json={"price": 15000, "status": "Оплачен", "client_id": "c1"}))
    drain(app)
    with app.app_context():  # the periodic «attribution» job's pass, in-process
        assert attribution.attribute(db.session) == 2  # o1 for both scenarios that reached Анна
    return visit_flow, deal_flow


def _chart(ui, testid: str) -> dict:
    chart = ui.by(testid)
    expect(chart.locator("canvas")).to_have_count(1)
    return chart.evaluate(CHART)


def test_a_scenario_statistics_tab_draws_the_seeded_runs_and_conversions(ui, app, fake_receiver):
    page = ui.page
    visit_flow, deal_flow = _seed(ui, app, fake_receiver)
    answer = ui.api.get(f"/api/v1/flows/{visit_flow}/stats?interval=day&window_days=7").json()
    assert answer["totals"]["triggered"] == 3 + EXTRA_VISITS
    assert answer["conversions"]["converted"] == 1 and answer["conversions"]["revenue"] == 15000

    # the list: the last 7 days as a sparkline and numbers, columns sorted by the server's keys
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    ui.open()
    expect(ui.by(f"flow-triggered-{visit_flow}")).to_have_text(str(3 + EXTRA_VISITS))
    expect(ui.by(f"flow-failed-{deal_flow}")).to_have_text("1")
    week = ui.by(f"flow-week-{visit_flow}")
    expect(week).to_have_attribute("data-daily", f"0,0,0,0,0,0,{3 + EXTRA_VISITS}")
    expect(week).to_contain_text(str(3 + EXTRA_VISITS))
    expect(ui.by(f"flow-week-{deal_flow}")).to_contain_text("ошибок: 1")
    rows = ui.by("flow-table").locator('tbody tr[data-testid^="flow-row-"]')
    ui.by("sort-failed").click()
    expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Ошибок")
    with page.expect_response(lambda r: "/api/v1/flows?sort=-failed" in r.url):
        ui.by("sort-failed").click()  # a second click: descending
    expect(rows.first).to_have_attribute("data-testid", f"flow-row-{deal_flow}")
    ui.by("sort-runs").click()
    ui.by("sort-runs").click()
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("Срабатываний")
    expect(rows.first).to_have_attribute("data-testid", f"flow-row-{visit_flow}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "list-week.png"))

    # «Статистика» of the visit scenario: the totals, the charts drawing the same numbers
    ui.by(f"flow-open-{visit_flow}").click()
    page.locator(".react-flow__pane").wait_for()
    assert not [u for u in scripts if "/echarts-" in u], "the list or the editor loaded the chart library"
    ui.by("panel-tab-stats").click()
    expect(ui.by("panel-tab-stats")).to_have_text("Статистика")
    expect(ui.by("chart-runs")).to_be_visible()
    assert [u for u in scripts if "/echarts-" in u], "«Статистика» draws without the chart chunk?"
    expect(ui.by("stats-days-30")).to_have_attribute("aria-pressed", "true")
    totals = ui.by("stats-totals")
    expect(totals.get_by_test_id("total-triggered")).to_have_text(str(3 + EXTRA_VISITS))
    expect(totals.get_by_test_id("total-succeeded")).to_have_text(str(3 + EXTRA_VISITS))
    expect(totals.get_by_test_id("total-failed")).to_have_text("0")
    runs = _chart(ui, "chart-runs")
    assert len(runs["x"]) == len(answer["series"]) and runs["canvas"] == 1
    assert sum(runs["series"]["triggered"]) == 3 + EXTRA_VISITS
    assert runs["series"]["triggered"][-1] == 3 + EXTRA_VISITS  # all of them today
    assert set(runs["series"]) == {"triggered", "failed", "suppressed", "not_triggered"}

    conv = ui.by("conv-totals")
    expect(conv.get_by_test_id("total-converted")).to_have_text("1")
    expect(conv.get_by_test_id("total-revenue")).to_have_text("15\u00a0000 ₽")
    drawn = _chart(ui, "chart-conversions")
    assert sum(drawn["series"]["converted"]) == 1 and sum(drawn["series"]["revenue"]) == 15000
    yandex = ui.by("branch-table").locator("tbody tr").filter(has_text="Из Яндекса")
    expect(yandex.locator("td")).to_have_text(["2", "1", "50 %", "15\u00a0000 ₽"])
    expect(
        ui.by("branch-table").locator("tbody tr").filter(has_text="Остальные").locator("td").nth(1)
    ).to_have_text("0")
    page.screenshot(path=str(SCREENSHOTS / "stats.png"))
    ui.by("branch-table").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "stats-conversions.png"))

    # by the hour over 7 days: 7 × 24 (+ the current hour) points, the same total
    with page.expect_response(lambda r: "interval=hour" in r.url):
        ui.by("stats-days-7").click()
        ui.by("stats-interval-hour").click()
    expect(ui.by("stats-interval-hour")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-runs]').chart.getOption().xAxis[0].data.length > 100"
    )
    hourly = _chart(ui, "chart-runs")
    assert 168 <= len(hourly["x"]) <= 169 and sum(hourly["series"]["triggered"]) == 3 + EXTRA_VISITS

    # the deal scenario: one below the threshold (not triggered), one failed
    ui.open(f"#/flows/{deal_flow}")
    ui.by("panel-tab-stats").click()
    expect(ui.by("total-failed").first).to_have_text("1")
    expect(ui.by("total-not_triggered").first).to_have_text("1")
    failed = _chart(ui, "chart-runs")
    assert sum(failed["series"]["failed"]) == 1 and sum(failed["series"]["not_triggered"]) == 1


def test_a_scenario_without_runs_says_so(ui):
    flow = ui.api.post(
        "/api/v1/flows",
        json={
            "name": "Тихий",
            "enabled": False,
            "nodes": [
                {"id": "start", "type": "event.order_created", "params": {}},
                {"id": "hook", "type": "action.webhook", "params": {"url": "http://127.0.0.1:9/h"}},
            ],
            "edges": [{"from": "start", "to": "hook"}],
        },
    ).json()["id"]
    ui.open(f"#/flows/{flow}")
    # six tabs on one line in the 360 px panel
    tabs = ui.page.locator(".panel-tabs")
    assert tabs.evaluate("el => el.scrollWidth <= el.clientWidth"), "the side panel's tabs overflow"
    tops = tabs.locator("[role=tab]").evaluate_all("els => els.map(e => e.getBoundingClientRect().top)")
    assert len(tops) == 6 and len(set(tops)) == 1, tops
    ui.by("panel-tab-stats").click()
    expect(ui.by("stats-empty")).to_have_text("За выбранный период запусков не было.")
    expect(ui.by("chart-runs")).to_have_count(0)


def test_the_overview_lists_the_scenarios_and_opens_one(ui, app, fake_receiver):
    page = ui.page
    _visit_flow, deal_flow = _seed(ui, app, fake_receiver)
    ui.open()
    ui.by("nav-overview").click()
    expect(ui.by("nav-overview")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Обзор")
    totals = ui.by("overview-totals")
    expect(totals.get_by_test_id("total-triggered")).to_have_text(str(3 + EXTRA_VISITS + 2))
    expect(totals.get_by_test_id("total-failed")).to_have_text("1")
    expect(totals.get_by_test_id("total-not_triggered")).to_have_text("1")
    expect(totals.get_by_test_id("total-revenue")).to_contain_text("₽")
    daily = _chart(ui, "chart-overview")
    assert sum(daily["series"]["triggered"]) == 3 + EXTRA_VISITS + 2
    assert daily["series"]["failed"][-1] == 1 and len(daily["x"]) in (30, 31)

    expect(ui.by("top-triggered").locator("li a")).to_have_text(["Визит → вебхук", "Крупная сделка → CRM"])
    expect(ui.by("top-triggered").locator("li").first).to_contain_text(str(3 + EXTRA_VISITS))
    expect(ui.by("top-failed").locator("li a")).to_have_text(["Крупная сделка → CRM"])
    expect(ui.by("top-revenue").locator("li").first).to_contain_text("15\u00a0000 ₽")
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)

    ui.by("stats-days-7").click()
    expect(ui.by("stats-days-7")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=chart-overview]').chart.getOption().xAxis[0].data.length <= 8"
    )
    ui.by("lang-en").click()  # English too
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    expect(ui.by("top-failed").locator("h2")).to_have_text("Most failures")
    expect(ui.by("overview-totals").locator("dt").first).to_have_text("Triggered")
    ui.by("lang-ru").click()
    ui.by(f"top-failed-{deal_flow}").click()
    page.locator(".react-flow__pane").wait_for()
    expect(ui.by("flow-name")).to_have_value("Крупная сделка → CRM")


def test_the_history_of_every_scenario_is_searched_downloaded_paged_and_opens_a_client(
    ui, app, fake_receiver, tmp_path
):
    page = ui.page
    _seed(ui, app, fake_receiver)
    ui.open()
    ui.by("nav-runs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("История запусков")
    runs = ui.by("run-history").locator("li.run")
    expect(runs).to_have_count(20)  # one page of 20 of the 24 runs
    ui.by("runs-more").click()
    expect(runs).to_have_count(3 + EXTRA_VISITS + 2)  # the 500 ₽ deal made no run
    expect(ui.by("runs-more")).to_have_count(0)

    # scenario and status: only the failed deal
    ui.by("runs-filter-flow_id").select_option(label="Крупная сделка → CRM")
    ui.by("runs-filter-status").select_option(label="Ошибка")
    ui.by("runs-filter-apply").click()
    expect(runs).to_have_count(1)
    only = runs.first
    expect(only).to_have_attribute("data-status", "failed")
    expect(only).to_contain_text("Сделка o3")
    expect(only).to_contain_text("Крупная сделка → CRM")
    with page.expect_download() as info:
        ui.by("runs-csv").click()
    path = tmp_path / "runs.csv"
    info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""), delimiter=";"))
    assert len(rows) == 2 and rows[1][5] == "o3", rows

    # the deal filter, then the client: the visit and the deal of Анна
    ui.by("runs-filter-reset").click()
    expect(runs).to_have_count(20)
    ui.by("runs-filter-order_id").fill("o1")
    ui.by("runs-filter-apply").click()
    expect(runs).to_have_count(1)
    expect(runs.first).to_contain_text("Сделка o1")
    ui.by("runs-filter-order_id").fill("")
    ui.by("runs-filter-client_id").fill("c1")
    ui.by("runs-filter-apply").click()
    expect(runs).to_have_count(2)
    expect(runs.locator(".run-flow")).to_have_text(["Крупная сделка → CRM", "Визит → вебхук"])
    page.screenshot(path=str(SCREENSHOTS / "history-all.png"))

    # the client's card from the history: name, contacts, the timeline with what each run sent
    runs.first.locator(".run-client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Анна Смирнова")
    expect(ui.by("client-email")).to_contain_text("@shop.ru")
    timeline = ui.by("timeline")
    kinds = timeline.locator("li").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert {"visit", "order", "status", "run"} <= set(kinds), kinds
    expect(timeline.locator("li[data-kind=status]")).to_contain_text("Сделка o1: Новый → Оплачен")
    expect(ui.by("timeline-visit-v1")).to_contain_text("Визит v1 · yandex · Москва")
    expect(ui.by("timeline-order-o1")).to_contain_text("Сделка o1 · 15\u00a0000 ₽ · Оплачен")
    visit_run = timeline.locator("li[data-kind=run]").filter(has_text="Визит → вебхук")
    expect(visit_run.locator(".badge").first).to_have_text("Выполнено")
    visit_run.locator(".timeline-steps > summary").click()
    expect(visit_run.get_by_test_id("step-yandex")).to_have_attribute("data-status", "succeeded")
    page.screenshot(path=str(SCREENSHOTS / "client.png"), full_page=True)

    ui.by("client-runs").click()
    expect(runs).to_have_count(2)
    expect(ui.by("runs-filter-client_id")).to_have_value("c1")
