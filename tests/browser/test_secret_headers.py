"""The webhook's headers in the node form: a «секрет» checkbox per header (issue #16). A header
secret by its name is always secret; another one is marked by the marketer; both are stored
encrypted, shown as «задано», and delivered as typed."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import wait_for

AUTH = "Bearer ui-Auth-Token-123"
SESSION = "ui-session-value-456"


def _flow(url: str) -> dict:
    return {
        "format": "automation-flow/1",
        "name": "Заголовки",
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}, "position": {"x": 0, "y": 0}},
            {
                "id": "hook",
                "type": "action.webhook",
                "position": {"x": 0, "y": 160},
                "params": {"url": url, "headers": {"X-Source": "shop"}},
            },
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }


def test_a_marketer_marks_a_header_secret_and_it_is_never_shown_again(ui, procs, fake_receiver):
    flow_id = ui.api.post("/api/v1/flows", json=_flow(fake_receiver.url + "/h")).json()["id"]
    page = ui.page
    ui.open(f"#/flows/{flow_id}")
    ui.by("node-hook").click()
    field = ui.by("headers-field")
    expect(field).to_be_visible()
    expect(field.get_by_text("секрет").first).to_be_visible()
    expect(ui.by("root_headers_0__secret")).not_to_be_checked()

    # Authorization is secret by its name: checked, and cannot be unchecked
    ui.by("root_headers__add").click()
    ui.by("root_headers_1__name").fill("Authorization")
    expect(ui.by("root_headers_1__secret")).to_be_checked()
    expect(ui.by("root_headers_1__secret")).to_be_disabled()
    expect(ui.by("root_headers_1__value")).to_have_attribute("type", "password")
    ui.by("root_headers_1__value").fill(AUTH)
    # X-Session is not: the marketer marks it «секрет»
    ui.by("root_headers__add").click()
    ui.by("root_headers_2__name").fill("X-Session")
    ui.by("root_headers_2__value").fill(SESSION)
    expect(ui.by("root_headers_2__value")).to_have_attribute("type", "text")
    ui.by("root_headers_2__secret").check()
    expect(ui.by("root_headers_2__value")).to_have_attribute("type", "password")
    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)

    saved = ui.api.get(f"/api/v1/flows/{flow_id}").json()
    params = saved["nodes"][1]["params"]
    assert params["headers"] == {"X-Source": "shop", "Authorization": "********", "X-Session": "********"}
    assert params["secret_headers"] == ["X-Session"]
    assert AUTH not in str(saved) and SESSION not in str(saved)

    # opened again: «задано», the values are not in the page; saving again keeps them
    ui.open(f"#/flows/{flow_id}")
    ui.by("node-hook").click()
    expect(ui.by("root_headers_1__value")).to_have_value("")
    expect(ui.by("root_headers_2__secret")).to_be_checked()
    expect(ui.by("headers-field").get_by_text("задано")).to_have_count(2)
    assert AUTH not in page.content() and SESSION not in page.content()
    ui.by("root_headers_0__value").fill("shop-2")
    ui.by("flow-save").click()
    expect(ui.by("dirty-mark")).to_have_count(0)

    # what the receiver gets is what was typed
    dry = ui.api.post(f"/api/v1/flows/{flow_id}/test", json={"context": {"order": {"id": "1"}}}).json()
    headers = dry["steps"][1]["output"]["headers"]
    assert headers["Authorization"] == "********" and headers["X-Session"] == "********"
    assert headers["X-Source"] == "shop-2"
    enabled = ui.api.patch(f"/api/v1/flows/{flow_id}", json={"enabled": True})
    assert enabled.status_code == 200, enabled.text
    procs.start("worker")
    assert ui.api.put("/api/v1/orders/77", json={"price": 1}).status_code == 202
    wait_for(lambda: fake_receiver.deliveries, timeout=30, message="the delivery\n" + procs.logs())
    got = fake_receiver.deliveries[0].request.headers
    assert got["authorization"] == AUTH and got["x-session"] == SESSION and got["x-source"] == "shop-2"
