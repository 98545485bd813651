"""The editor in Chromium, in Russian: a condition group («любое» of a price and a nested group) and
an A/B split whose edges take the variants, built by hand, saved, and run through a test deal; an
A/B split's «Статистика» with the significance of each variant's conversions."""

from __future__ import annotations

import math
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from plugin.api.extensions import db
from plugin.engine import attribution
from plugin.storage.models import Run, utcnow
from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import drop, edge
from tests.conftest import wait_for
from tests.engine.test_flow_rules import drain

pytestmark = pytest.mark.browser


def test_build_a_group_and_a_split_in_russian_save_and_run(ui, procs, fake_receiver):
    procs.start("worker")
    page = ui.page
    ui.open()
    ui.by("flow-add").click()

    event = drop(page, "palette-event.order_created", 330, 40)
    group = drop(page, "palette-condition.group", 330, 170)
    split = drop(page, "palette-flow.split", 330, 300)
    hook_a = drop(page, "palette-action.webhook", 180, 450)
    expect(edge(page, event, group)).to_be_attached()
    expect(edge(page, group, split, "true")).to_be_attached()
    expect(edge(page, split, hook_a, "A")).to_be_attached()  # the first variant without an edge
    ui.by(f"node-{split}").click()
    hook_b = drop(page, "palette-action.webhook", 480, 450)
    expect(edge(page, split, hook_b, "B")).to_be_attached()  # then the next one
    expect(edge(page, split, hook_a, "A")).to_contain_text("A · 50 %")

    # the group: «любое» of «Сумма заказа» > 50 000 and a nested group «все» of «Город» = Москва
    ui.by(f"node-{group}").click()
    expect(ui.by("panel-node")).to_contain_text("Группа условий")
    page.locator("#root_mode").select_option(label="любое")
    ui.by("condition-1-add").select_option(label="Сумма заказа")
    page.locator("#root_conditions_0_operator").select_option(label="Больше")
    page.locator("#root_conditions_0_value").fill("50000")
    ui.by("condition-1-add").select_option(label="Группа условий")
    ui.by("condition-2-add").select_option(label="Город")
    page.locator("#root_conditions_1_conditions_0_value").fill("Москва")
    # a group at the third level offers no fourth
    ui.by("condition-2-add").select_option(label="Группа условий")
    third = ui.by("condition-3-add")
    expect(third.locator("option", has_text="Город")).to_have_count(1)
    expect(third.locator("option", has_text="Группа условий")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "group.png"))
    ui.by("condition-2-1-remove").click()
    expect(ui.by("condition-3-add")).to_have_count(0)
    expect(ui.by(f"summary-{group}")).to_have_text("любое из 2")

    # the split: 70 / 30, renamed variant B → «Скидка» takes its edge along
    ui.by(f"node-{split}").click()
    ui.by("variant-0-weight").fill("70")
    ui.by("variant-1-weight").fill("30")
    expect(ui.by("variant-0-share")).to_have_text("70 %")
    expect(ui.by("variants-sum")).to_have_text("Сумма весов: 100")
    ui.by("variant-1-key").fill("Скидка")
    expect(edge(page, split, hook_b, "Скидка")).to_contain_text("Скидка · 30 %")
    expect(ui.by(f"conn-variant-{hook_b}")).to_have_value("Скидка")

    page.screenshot(path=str(SCREENSHOTS / "split.png"))
    ui.by(f"node-{hook_a}").click()
    page.locator("#root_url").fill(fake_receiver.url + "/a")
    ui.by(f"node-{hook_b}").click()
    page.locator("#root_url").fill(fake_receiver.url + "/b")
    ui.by("flow-name").fill("VIP: письмо A или со скидкой")
    ui.by("flow-save").click()
    expect(page).to_have_url(re.compile(r"#/flows/(?!new$)[^/]+$"))
    flow_id = page.url.rsplit("/", 1)[1]
    expect(ui.by("dirty-mark")).to_have_count(0)

    saved = ui.api.get(f"/api/v1/flows/{flow_id}").json()
    params = {n["id"]: n["params"] for n in saved["nodes"]}
    assert params[group] == {
        "mode": "any",
        "conditions": [
            {"type": "condition.order_price", "params": {"operator": "gt", "value": 50000}},
            {
                "type": "condition.group",
                "params": {
                    "mode": "all",
                    "conditions": [
                        {
                            "type": "condition.visit_city",
                            "params": {"operator": "equals", "value": "Москва", "case_sensitive": False},
                        }
                    ],
                },
            },
        ],
    }
    assert params[split] == {
        "variants": [{"key": "A", "weight": 70}, {"key": "Скидка", "weight": 30}],
        "sticky": "client",
    }
    edges = {(e["from"], e["to"], e.get("branch")) for e in saved["edges"]}
    assert edges == {
        (event, group, None),
        (group, split, "true"),
        (split, hook_a, "A"),
        (split, hook_b, "Скидка"),
    }

    # a test deal: the run takes one variant, the other is not reached
    assert ui.api.patch(f"/api/v1/flows/{flow_id}", json={"enabled": True}).status_code == 200
    ui.api.put("/api/v1/clients/anna", json={"name": "Анна"})
    assert ui.api.put("/api/v1/orders/d1", json={"price": 60000, "client_id": "anna"}).status_code == 202
    wait_for(lambda: len(fake_receiver.deliveries) == 1, timeout=15, message="the delivery\n" + procs.logs())
    run = wait_for(
        lambda: next(
            (
                r
                for r in ui.api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]
                if r["status"] == "succeeded"
            ),
            None,
        ),
        timeout=15,
        message="the run to succeed\n" + procs.logs(),
    )
    steps = {s["node_id"]: s for s in ui.api.get(f"/api/v1/runs/{run['id']}").json()["steps"]}
    variant = steps[split]["output"]["variant"]
    assert steps[split]["output"]["subject"] == "client:anna"
    chosen, other = (hook_a, hook_b) if variant == "A" else (hook_b, hook_a)
    assert fake_receiver.deliveries[0].request.path == ("/a" if variant == "A" else "/b")
    assert steps[chosen]["status"] == "succeeded" and steps[other]["status"] == "not_reached"
    assert [i["verdict"] for i in steps[group]["output"]["items"]] == [True, False]

    # the run in the editor's history: the variant taken and each inner verdict of the group
    ui.by("editor-history").click()
    runs = ui.by("runs-panel").locator(".run-list > li")
    expect(runs).to_have_count(1)
    runs.first.locator(":scope > details > summary").click()
    expect(ui.by(f"step-variant-{split}")).to_have_text(f"Вариант: {variant}")
    expect(ui.by(f"step-{other}")).to_have_attribute("data-status", "not_reached")
    trace = ui.by(f"step-items-{group}")
    expect(trace.locator(":scope > li")).to_have_count(2)
    expect(trace.locator(":scope > li").first).to_have_text("Сумма заказа: да")
    expect(trace.locator(":scope > li").nth(1)).to_contain_text("Группа условий: нет")
    expect(trace.locator(":scope > li").nth(1)).to_contain_text("Город: нет")


def _z_test(n1: int, x1: int, n2: int, x2: int) -> float:
    """The two-sided p of the pooled two-proportion z-test (math.erfc: independent of the UI's)."""
    pooled = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return math.erfc(abs(z) / math.sqrt(2))


def test_a_split_statistics_tab_says_whether_the_variants_differ(ui, app, fake_receiver):
    """120 deals through an A/B/control split (45/45/10, the control without an edge); B's deals
    paid one in two, A's one in four, the control's one in three: «Значимость» calls B the best, A
    significantly worse (its p the same as the test's own), and the small control «мало данных»."""
    doc = {
        "name": "A/B: письмо со скидкой",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "ab",
                "type": "flow.split",
                "params": {
                    "variants": [
                        {"key": "A", "weight": 45},
                        {"key": "B", "weight": 45},
                        {"key": "control", "weight": 10},
                    ]
                },
            },
            {"id": "mail_a", "type": "action.webhook", "params": {"url": fake_receiver.url + "/a"}},
            {"id": "mail_b", "type": "action.webhook", "params": {"url": fake_receiver.url + "/b"}},
        ],
        "edges": [
            {"from": "start", "to": "ab"},
            {"from": "ab", "to": "mail_a", "branch": "A"},
            {"from": "ab", "to": "mail_b", "branch": "B"},
        ],
    }
    answer = ui.api.post("/api/v1/flows", json=doc)
    assert answer.status_code == 201, answer.text
    flow_id = answer.json()["id"]
    deals = [
        {"type": "order", "data": {"id": f"d{i}", "price": 1000, "client": {"external_id": f"k{i}"}}}
        for i in range(120)
    ]
    assert ui.api.post("/api/v1/batch", json={"items": deals}).status_code == 202
    drain(app)
    with app.app_context():
        runs = db.session.execute(select(Run.order_id, Run.branch).where(Run.flow_id == flow_id)).all()
    by_variant: dict[str, list[str]] = {}
    for order_id, branch in sorted(runs):
        by_variant.setdefault(branch, []).append(order_id)
    assert set(by_variant) == {"A", "B", "control"} and len(runs) == 120
    paid = by_variant["A"][::4] + by_variant["B"][::2] + by_variant["control"][::3]
    items = [{"type": "order", "data": {"id": o, "status": "Оплачен"}} for o in paid]
    assert ui.api.post("/api/v1/batch", json={"items": items}).status_code == 202
    drain(app)
    with app.app_context():
        attribution.catch_up(db.session, now=utcnow() + timedelta(minutes=10))
    branches = ui.api.get(f"/api/v1/flows/{flow_id}/stats").json()["conversions"]["by_branch"]
    n = {k: (b["clients_reached"], b["converted"]) for k, b in branches.items()}
    assert n["A"][0] >= 30 and n["B"][0] >= 30 and n["control"][0] < 30, n
    assert n["B"][1] / n["B"][0] > n["A"][1] / n["A"][0]
    p = _z_test(*n["A"], *n["B"])
    assert p < 0.05, n

    ui.open(f"#/flows/{flow_id}")
    ui.by("panel-tab-stats").click()
    table = ui.by("branch-table")
    expect(ui.by("sig-head")).to_have_text("Значимость")
    expect(ui.by("sig-B")).to_have_text("лучшая доля — с ней сравниваются остальные")
    expect(ui.by("sig-A")).to_have_attribute("data-kind", "significant")
    text = ui.by("sig-A").inner_text()
    shown = re.match(r"p ([=<]) (\d+(?:,\d+)?) — разница значима\n?−\d+(?:,\d)? % к «B»$", text)
    assert shown, text
    if shown[1] == "=":  # two significant digits of the same p
        assert float(shown[2].replace(",", ".")) == pytest.approx(p, rel=0.05), (text, p)
    else:
        assert p < 0.001, (text, p)
    expect(ui.by("sig-control")).to_have_text("мало данных")
    expect(ui.by("sig-hint")).to_contain_text("z-тест двух долей")
    table.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ui.page.screenshot(path=str(SCREENSHOTS / "stats-split.png"))
    ui.by("lang-en").click()
    expect(ui.by("sig-head")).to_have_text("Significance")
    expect(ui.by("sig-A")).to_contain_text("the difference is significant")
    expect(ui.by("sig-control")).to_have_text("too little data")
