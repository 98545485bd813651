"""Templates («Шаблоны»): save the event and conditions, save an action, apply both in a new scenario."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import connect, edge, node_ids

pytestmark = pytest.mark.browser

SOURCE = {
    "format": "automation-flow/1",
    "name": "Оплата из Москвы",
    "enabled": False,
    "nodes": [
        {
            "id": "paid",
            "type": "event.order_status_changed",
            "params": {"to": ["Оплачено"], "from": []},
            "position": {"x": 0, "y": 0},
        },
        {
            "id": "big",
            "type": "condition.order_price",
            "params": {"operator": "gte", "value": 5000},
            "position": {"x": 0, "y": 150},
        },
        {
            "id": "moscow",
            "type": "condition.visit_city",
            "params": {"operator": "equals", "value": "Москва"},
            "position": {"x": 0, "y": 300},
        },
        {
            "id": "crm",
            "type": "action.webhook",
            "params": {
                "url": "http://127.0.0.1:9/crm",
                "method": "GET",
                "headers": {"X-Source": "automation"},
            },
            "position": {"x": 0, "y": 450},
        },
    ],
    "edges": [
        {"from": "paid", "to": "big"},
        {"from": "big", "to": "moscow", "branch": "true"},
        {"from": "moscow", "to": "crm", "branch": "true"},
    ],
}


def _save_template(ui, kind: str, title: str, name: str, submit_with_enter: bool) -> None:
    dialog = ui.by(f"preset-dialog-{kind}")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text(title)
    name_input = ui.by("prompt-input")
    expect(name_input).to_have_attribute("placeholder", "Введите название шаблона")
    expect(name_input).to_be_focused()
    expect(ui.by("prompt-save")).to_be_disabled()
    name_input.fill(name)
    if submit_with_enter:
        name_input.press("Enter")
    else:
        ui.by("prompt-save").click()
    expect(dialog).to_have_count(0)
    expect(ui.by("toast")).to_contain_text(name)


def test_save_both_kinds_of_template_and_apply_them_in_a_new_scenario(ui):
    page = ui.page
    answer = ui.api.post("/api/v1/flows", json=SOURCE)
    assert answer.status_code == 201, answer.text
    ui.open(f"#/flows/{answer.json()['id']}")
    # opening a node's form fills in its defaults (the city condition's case_sensitive) - not an edit
    for node in ("crm", "paid", "big", "moscow"):
        ui.by(f"node-{node}").click()
        expect(ui.by("panel-node")).to_have_attribute("data-node-id", node)
    expect(ui.by("dirty-mark")).to_have_count(0)

    ui.by("save-trigger-preset").click()
    _save_template(ui, "trigger", "Сохранить событие и условия как шаблон", "Оплата ≥ 5000 из Москвы", False)
    expect(ui.by("save-action-preset")).to_be_disabled()  # no action selected yet
    ui.by("node-crm").click()
    ui.by("save-action-preset").click()
    _save_template(ui, "action", "Сохранить действие как шаблон", "GET в CRM", True)

    presets = {p["kind"]: p for p in ui.api.get("/api/v1/presets").json()["presets"]}
    trigger, action = presets["trigger"], presets["action"]
    assert trigger["name"] == "Оплата ≥ 5000 из Москвы" and action["name"] == "GET в CRM"
    assert sorted(n["type"] for n in trigger["nodes"]) == [
        "condition.order_price",
        "condition.visit_city",
        "event.order_status_changed",
    ]
    assert [n["type"] for n in action["nodes"]] == ["action.webhook"]
    palette = ui.by("palette")
    expect(palette.get_by_role("heading", name="Шаблоны")).to_be_visible()
    expect(ui.by(f"palette-preset-{trigger['id']}")).to_contain_text("Оплата ≥ 5000 из Москвы")
    expect(ui.by(f"palette-preset-{action['id']}")).to_contain_text("GET в CRM")

    # a new scenario from both templates, dragged from the «Шаблоны» section
    ui.by("nav-home").click()
    ui.by("flow-add").click()
    expect(ui.by("canvas-empty")).to_be_visible()
    pane = page.locator(".react-flow__pane")
    ui.by(f"palette-preset-{trigger['id']}").drag_to(pane, target_position={"x": 330, "y": 40})
    expect(page.locator(".react-flow__node")).to_have_count(3)
    first = set(node_ids(page))
    ui.by(f"palette-preset-{action['id']}").drag_to(pane, target_position={"x": 330, "y": 560})
    expect(page.locator(".react-flow__node")).to_have_count(4)
    (hook,) = set(node_ids(page)) - first
    types = {i: ui.by(f"node-{i}").get_attribute("data-type") for i in first}
    city = next(i for i, t in types.items() if t == "condition.visit_city")
    connect(page, f"handle-{city}-true", f"handle-{hook}-in")
    expect(edge(page, city, hook, "true")).to_be_attached()
    expect(page.locator(".react-flow__edge")).to_have_count(3)

    ui.by("flow-name").fill("Из шаблонов")
    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)
    expect(ui.by("editor-errors")).to_have_count(0)
    saved = next(f for f in ui.api.get("/api/v1/flows").json()["flows"] if f["name"] == "Из шаблонов")
    saved = ui.api.get(f"/api/v1/flows/{saved['id']}").json()

    def shape(nodes):
        return sorted((n["type"], repr(sorted(n["params"].items()))) for n in nodes)

    assert shape(saved["nodes"]) == shape(trigger["nodes"] + action["nodes"])
    for source in SOURCE["nodes"]:  # the templates carry every parameter of the source flow
        assert any(
            n["type"] == source["type"] and n["params"].items() >= source["params"].items()
            for n in saved["nodes"]
        ), source
    by_id = {n["id"]: n["type"] for n in saved["nodes"]}
    assert sorted((by_id[e["from"]], by_id[e["to"]], e.get("branch")) for e in saved["edges"]) == [
        ("condition.order_price", "condition.visit_city", "true"),
        ("condition.visit_city", "action.webhook", "true"),
        ("event.order_status_changed", "condition.order_price", None),
    ]
