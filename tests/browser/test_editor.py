"""The editor in Chromium: build a scenario by drag and drop, save, enable it in the list, fire it, read its run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import assert_in_viewport, connect, drop, edge
from tests.conftest import wait_for

pytestmark = pytest.mark.browser


def _flow_id(page) -> str:
    """The id in the address once a new scenario's first save replaced #/flows/new."""
    expect(page).to_have_url(re.compile(r"#/flows/(?!new$)[^/]+$"))
    return page.url.rsplit("/", 1)[1]


def test_build_by_drag_and_drop_enable_in_the_list_and_see_the_run(ui, procs, fake_slack, fake_receiver):
    procs.start("worker")
    page = ui.page
    ui.open()
    expect(ui.by("flows-empty")).to_have_text("Нет данных")
    ui.by("flow-add").click()
    expect(ui.by("canvas-empty")).to_be_visible()

    # event → condition → (да) Slack / (нет) webhook, each dragged from the palette onto the pane;
    # a dropped node is connected after the selected one, the node added before it
    event = drop(page, "palette-event.order_created", 330, 50)
    cond = drop(page, "palette-condition.order_price", 330, 200)
    slack = drop(page, "palette-action.slack", 180, 380)
    expect(edge(page, event, cond)).to_be_attached()
    expect(edge(page, cond, slack, "true")).to_be_attached()
    page.locator(".react-flow__pane").click(
        position={"x": 600, "y": 600}
    )  # nothing selected: after the chain's end
    hook = drop(page, "palette-action.webhook", 480, 380)
    expect(ui.by("canvas-empty")).to_have_count(0)
    expect(ui.by(f"node-{hook}")).to_have_attribute("data-type", "action.webhook")
    expect(edge(page, slack, hook)).to_be_attached()
    edge(page, slack, hook).click()
    page.keyboard.press("Delete")
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    connect(page, f"handle-{cond}-false", f"handle-{hook}-in")
    expect(edge(page, event, cond)).to_be_attached()
    expect(edge(page, cond, slack, "true")).to_be_attached()
    expect(edge(page, cond, hook, "false")).to_be_attached()
    # refused connections: into the event (it has no input), and one closing a cycle
    connect(page, f"handle-{slack}-out", f"node-{event}")
    connect(page, f"handle-{hook}-out", f"handle-{cond}-in")
    expect(page.locator(".react-flow__edge")).to_have_count(3)

    ui.by(f"node-{cond}").click()
    expect(ui.by("panel-node")).to_have_attribute("data-node-id", cond)
    page.locator("#root_operator").select_option(label="Больше")
    page.locator("#root_value").fill("10000")
    ui.by(f"node-{slack}").click()
    text = page.locator("#root_text")
    text.fill("Крупный заказ {order_id} на ")
    ui.by("root_text__vars").click()  # the variable picker inserts at the caret
    ui.by("var-order_price").click()
    expect(text).to_have_value("Крупный заказ {order_id} на {order_price}")
    expect(text).to_be_focused()
    page.keyboard.type(" ₽")
    page.locator("#root_webhook_url").fill(fake_slack.hook_url)
    ui.by(f"node-{hook}").click()
    page.locator("#root_url").fill(fake_receiver.url + "/hook")
    ui.by("flow-name").fill("Крупный заказ → Slack")
    expect(ui.by("dirty-mark")).to_be_visible()

    ui.by("flow-save").click()
    flow_id = _flow_id(page)
    expect(ui.by("toast")).to_be_visible()
    expect(ui.by("dirty-mark")).to_have_count(0)

    saved = ui.api.get(f"/api/v1/flows/{flow_id}").json()
    assert saved["name"] == "Крупный заказ → Slack" and saved["enabled"] is False
    types = {n["id"]: n["type"] for n in saved["nodes"]}
    assert types == {
        event: "event.order_created",
        cond: "condition.order_price",
        slack: "action.slack",
        hook: "action.webhook",
    }
    params = {n["id"]: n["params"] for n in saved["nodes"]}
    assert params[cond] == {"operator": "gt", "value": 10000}
    assert params[slack]["text"] == "Крупный заказ {order_id} на {order_price} ₽"
    assert params[hook]["url"] == fake_receiver.url + "/hook"
    edges = {(e["from"], e["to"], e.get("branch")) for e in saved["edges"]}
    assert edges == {(event, cond, None), (cond, slack, "true"), (cond, hook, "false")}

    # back to the list, switch it on with the Статус toggle
    ui.by("editor-cancel").click()
    toggle = ui.by(f"flow-toggle-{flow_id}")
    expect(toggle).not_to_be_checked()
    expect(ui.by(f"flow-triggered-{flow_id}")).to_have_text("0")
    toggle.click()
    expect(toggle).to_be_checked()
    wait_for(lambda: ui.api.get(f"/api/v1/flows/{flow_id}").json()["enabled"], message="enabled via PATCH")

    answer = ui.api.put("/api/v1/orders/1", json={"price": 12000, "cost": 100, "status": "Новая"})
    assert answer.status_code == 202, answer.text
    # the list polls every 5 s
    expect(ui.by(f"flow-triggered-{flow_id}")).to_have_text("1", timeout=15_000)
    wait_for(lambda: fake_slack.messages, timeout=15, message="the Slack message\n" + procs.logs())
    assert fake_slack.messages == ["Крупный заказ 1 на 12000 ₽"]
    assert fake_receiver.deliveries == []
    wait_for(
        lambda: (
            [r["status"] for r in ui.api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]]
            == ["succeeded"]
        ),
        timeout=15,
        message="the run to succeed\n" + procs.logs(),
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "list.png"))

    # the run and its steps in the history panel of the editor
    ui.by(f"flow-open-{flow_id}").click()
    ui.by("editor-history").click()
    runs = ui.by("runs-panel").locator(".run-list > li")
    expect(runs).to_have_count(1)
    expect(runs.first).to_have_attribute("data-status", "succeeded")
    runs.first.locator(":scope > details > summary").click()
    expect(ui.by(f"step-{cond}")).to_have_attribute("data-status", "succeeded")
    expect(ui.by(f"step-verdict-{cond}")).to_have_text("Результат условия: да")
    expect(ui.by(f"step-{slack}")).to_have_attribute("data-status", "succeeded")
    expect(ui.by(f"step-{slack}")).to_contain_text("Попыток: 1")
    expect(ui.by(f"step-{hook}")).to_have_attribute("data-status", "not_reached")  # the «нет» branch
    page.screenshot(path=str(SCREENSHOTS / "editor.png"))


def _slack_flow(hook_url: str) -> dict:
    return {
        "format": "automation-flow/1",
        "name": "Slack с опечаткой",
        "enabled": False,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "notify",
                "type": "action.slack",
                "position": {"x": 0, "y": 160},
                "params": {"text": "Заказ {order_id}", "webhook_url": hook_url},
            },
        ],
        "edges": [{"from": "start", "to": "notify"}],
    }


def test_a_server_validation_error_lands_on_its_field_and_marks_the_node(ui, fake_slack):
    flow_id = ui.api.post("/api/v1/flows", json=_slack_flow(fake_slack.hook_url)).json()["id"]
    typo = {**_slack_flow(fake_slack.hook_url)}
    typo["nodes"] = [dict(n) for n in typo["nodes"]]
    typo["nodes"][1]["params"] = {
        "text": "Заказ {order_id} от {clinet_name}",
        "webhook_url": fake_slack.hook_url,
    }
    # the problem as the Russian UI asks for it (Accept-Language: ru)
    refused = ui.api.put(f"/api/v1/flows/{flow_id}", json=typo, headers={"Accept-Language": "ru"})
    assert refused.status_code == 422
    (problem,) = refused.json()["errors"]
    assert problem["path"] == "/nodes/1/params/text"

    page = ui.page
    ui.console.allow(422)
    ui.open(f"#/flows/{flow_id}")
    node = ui.by("node-notify")
    expect(node).not_to_have_attribute("data-error", "true")
    node.click()
    text = page.locator("#root_text")
    text.fill("Заказ {order_id} от {clinet_name}")
    ui.by("flow-save").click()

    # the server's own message, under the field, on the node and in the banner
    field_error = page.locator("#root_text__error")
    expect(field_error).to_have_text(problem["message"])
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(node).to_have_attribute("data-error", "true")
    expect(node).to_have_attribute("title", problem["message"])
    expect(ui.by("editor-errors")).to_contain_text(problem["message"])
    expect(ui.by("dirty-mark")).to_be_visible()
    # the banner pushes the editor down, but the field, its message and «Сохранить» stay in the window
    assert_in_viewport(page, ui.by("editor-errors"), text, field_error, ui.by("flow-save"), node)
    assert "clinet_name" not in str(ui.api.get(f"/api/v1/flows/{flow_id}").json())
    # leaving with the refused edit asks first; «Остаться» keeps it
    ui.by("editor-cancel").click()
    expect(ui.by("confirm-dialog")).to_contain_text("Есть несохранённые изменения")
    ui.by("confirm-cancel").click()
    expect(ui.by("confirm-dialog")).to_have_count(0)
    expect(text).to_have_value("Заказ {order_id} от {clinet_name}")

    # the banner's link selects the node it names; fixing the field clears its error
    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    expect(ui.by("panel-node")).to_have_count(0)
    ui.by("problem-node-notify").click()
    expect(ui.by("panel-node")).to_have_attribute("data-node-id", "notify")
    text.fill("Заказ {order_id} от {client_name}")
    expect(field_error).to_have_count(0)
    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)
    expect(ui.by("editor-errors")).to_have_count(0)
    expect(node).not_to_have_attribute("data-error", "true")
    saved = ui.api.get(f"/api/v1/flows/{flow_id}").json()
    assert saved["nodes"][1]["params"]["text"] == "Заказ {order_id} от {client_name}"
    ui.by("editor-cancel").click()  # saved: no question
    expect(ui.by(f"flow-row-{flow_id}")).to_be_visible()


def test_a_dry_run_shows_each_step_on_the_canvas_and_in_the_test_panel(ui, fake_slack):
    flow = _slack_flow(fake_slack.hook_url)
    flow["nodes"].insert(
        1,
        {
            "id": "big",
            "type": "condition.order_price",
            "params": {"operator": "gte", "value": 10000},
            "position": {"x": 0, "y": 80},
        },
    )
    flow["nodes"].append(
        {
            "id": "hook",
            "type": "action.webhook",
            "params": {"url": "http://127.0.0.1:9/small"},
            "position": {"x": 250, "y": 160},
        }
    )
    flow["edges"] = [
        {"from": "start", "to": "big"},
        {"from": "big", "to": "notify", "branch": "true"},
        {"from": "big", "to": "hook", "branch": "false"},
    ]
    flow["nodes"][2]["params"]["text"] = "Заказ {order_id} от {client_name}"
    flow_id = ui.api.post("/api/v1/flows", json=flow).json()["id"]
    ui.open(f"#/flows/{flow_id}")
    ui.by("editor-test").click()
    context = ui.by("test-context")

    context.fill('{"order": {"id": "7", "price": 20000}, "client": {"name": "Анна"}}')
    ui.by("test-run").click()
    expect(ui.by("test-result")).to_be_visible()
    expect(ui.by("node-big")).to_have_attribute("data-step-status", "succeeded")
    expect(ui.by("step-badge-big")).to_have_text("да")
    expect(ui.by("node-notify")).to_have_attribute("data-step-status", "would_send")
    expect(ui.by("step-notify")).to_contain_text("Заказ 7 от Анна")
    expect(ui.by("node-hook")).to_have_attribute("data-step-status", "not_reached")

    context.fill('{"order": {"id": "8", "price": 500}}')
    ui.by("test-run").click()
    expect(ui.by("step-badge-big")).to_have_text("нет")
    expect(ui.by("node-hook")).to_have_attribute("data-step-status", "would_send")
    expect(ui.by("node-notify")).to_have_attribute("data-step-status", "not_reached")
    assert fake_slack.messages == []  # a dry run sends nothing
