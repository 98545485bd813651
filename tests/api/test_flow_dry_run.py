"""Dry runs (POST /flows/{id}/test, POST /flows/test): verdicts and exact rendered messages, no side effects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FLOWS = FIXTURES / "flows"
CSS = ".t-emailBlock { padding: 0 }"


def load(name: str) -> dict:
    return json.loads((FLOWS / f"{name}.json").read_text(encoding="utf-8"))


def steps_of(resp) -> dict[str, dict]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {s["node_id"]: s for s in resp.get_json()["steps"]}


@pytest.fixture
def branch_flow(client) -> str:
    resp = client.post("/api/v1/flows", json=load("city_branch_slack"))
    assert resp.status_code == 201
    return resp.get_json()["id"]


def visit_context(city: str | None) -> dict:
    return {
        "visit": {"id": "v1", "city": city, "landing_page": "site.ru/?a=1&b=<2>"},
        "client": {"external_id": "c1", "name": "Иван <Boss> & Co"},
    }


def test_taken_branch_renders_with_slack_escaping_and_the_other_is_not_reached(client, branch_flow):
    resp = client.post(f"/api/v1/flows/{branch_flow}/test", json={"context": visit_context("МОСКВА")})
    body = resp.get_json()
    steps = steps_of(resp)
    assert steps["visit"]["status"] == "succeeded"
    assert steps["moscow"]["status"] == "succeeded" and steps["moscow"]["verdict"] is True
    assert steps["hello_moscow"]["status"] == "would_send"
    assert steps["hello_moscow"]["output"]["body"] == {
        "text": "Москвич Иван &lt;Boss&gt; &amp; Co с site.ru/?a=1&amp;b=&lt;2&gt;"
    }
    assert steps["hello_moscow"]["output"]["url"].startswith("https://hooks.slack.com/")
    assert "moscowsecret" not in json.dumps(body)
    assert steps["hello_other"]["status"] == "not_reached" and steps["hello_other"]["output"] is None
    assert body["status"] == "would_trigger" and body["triggered"] is True


def test_false_verdict_takes_the_else_path(client, branch_flow):
    steps = steps_of(
        client.post(f"/api/v1/flows/{branch_flow}/test", json={"context": visit_context("Казань")})
    )
    assert steps["moscow"]["verdict"] is False
    assert steps["hello_moscow"]["status"] == "not_reached"
    assert steps["hello_other"]["status"] == "would_send"
    assert steps["hello_other"]["output"]["body"]["text"] == "Гость из Казань: Иван &lt;Boss&gt; &amp; Co"


def test_absent_data_renders_as_empty_and_is_false_for_equals(client, branch_flow):
    steps = steps_of(client.post(f"/api/v1/flows/{branch_flow}/test", json={"context": {}}))
    assert steps["moscow"]["verdict"] is False
    assert steps["hello_other"]["output"]["body"]["text"] == "Гость из : "


def test_a_dry_run_has_no_side_effects(client, branch_flow):
    before = client.get(f"/api/v1/flows/{branch_flow}").get_json()
    for _ in range(3):
        steps_of(client.post(f"/api/v1/flows/{branch_flow}/test", json={"context": visit_context("Москва")}))
    assert client.get("/api/v1/runs").get_json()["runs"] == []
    after = client.get(f"/api/v1/flows/{branch_flow}").get_json()
    assert (
        after["stats"]
        == before["stats"]
        == {"triggered": 0, "failed": 0, "suppressed": 0, "last_triggered_at": None}
    )
    assert after["version"] == before["version"]


def test_dry_run_on_stored_visit_and_client(client, branch_flow):
    assert client.put("/api/v1/clients/c-77", json={"name": "Мария"}).status_code == 202
    resp = client.post(
        "/api/v1/visits",
        json={"id": "v-77", "city": "москва", "landing_page": "shop.ru", "client_id": "c-77"},
    )
    assert resp.status_code == 202
    steps = steps_of(client.post(f"/api/v1/flows/{branch_flow}/test", json={"visit_id": "v-77"}))
    assert steps["moscow"]["verdict"] is True
    assert steps["hello_moscow"]["output"]["body"]["text"] == "Москвич Мария с shop.ru"


@pytest.mark.parametrize(
    "body, status",
    [
        ({"visit_id": "nope"}, 422),
        ({"order_id": "nope"}, 422),
        ({"custom_event_id": "nope"}, 422),
        ({"event_id": 123456}, 422),
        ({"event_id": "not-a-number"}, 422),
        ({"event_id": 2**40}, 422),
        ({"event_id": True}, 422),
        ({"visit_id": {"id": 1}}, 422),
        ({"context": "not an object"}, 422),
        ({"context": {"visit": "Москва"}}, 422),
        (["context"], 422),
    ],
)
def test_dry_run_with_an_unknown_or_bad_source_is_a_problem(client, branch_flow, body, status):
    resp = client.post(f"/api/v1/flows/{branch_flow}/test", json=body)
    assert resp.status_code == status, resp.get_data(as_text=True)
    if isinstance(body, dict) and body and str(next(iter(body.values()))) in ("nope", "123456"):
        # the flow exists, what the body names does not: a 422 naming the field, not a 404
        assert [e["path"] for e in resp.get_json()["errors"]] == [f"/{next(iter(body))}"]
    assert resp.mimetype == "application/problem+json"


def test_unsaved_document_dry_run_stores_nothing(client):
    doc = load("city_branch_slack")
    resp = client.post("/api/v1/flows/test", json={"flow": doc, "context": visit_context("Москва")})
    steps = steps_of(resp)
    assert steps["moscow"]["verdict"] is True
    assert steps["hello_moscow"]["status"] == "would_send"
    assert steps["hello_other"]["status"] == "not_reached"
    assert "moscowsecret" not in resp.get_data(as_text=True)
    assert client.get("/api/v1/flows").get_json()["flows"] == []


def test_unsaved_dry_run_of_an_invalid_document_names_its_paths_under_flow(client):
    doc = load("city_branch_slack")
    doc["nodes"][2]["params"]["text"] = "Привет, {clinet_name}"
    resp = client.post("/api/v1/flows/test", json={"flow": doc, "context": {}})
    assert resp.status_code == 422
    assert [e["path"] for e in resp.get_json()["errors"]] == ["/flow/nodes/2/params/text"]


def test_jinja_expressions_render_in_the_sandbox(client):
    doc = load("big_order_slack")
    doc["nodes"][2]["params"]["text"] = (
        "Скидка {{ order.price * 0.9 }} ₽{% if client.company %} для {{ client.company }}{% endif %}"
    )
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    ctx = {"order": {"id": "5", "price": 20000}, "client": {"company": "ООО «Ромашка» & <Ко>"}}
    steps = steps_of(client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}))
    assert steps["slack"]["output"]["body"]["text"] == "Скидка 18000 ₽ для ООО «Ромашка» &amp; &lt;Ко&gt;"
    ctx["client"] = None
    steps = steps_of(client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}))
    assert steps["slack"]["output"]["body"]["text"] == "Скидка 18000 ₽"


@pytest.mark.parametrize(
    "template",
    [
        "{{ order.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ config }}",
    ],
)
def test_templates_that_reach_for_python_internals_are_rejected_at_save_time(client, template):
    doc = load("big_order_slack")
    doc["nodes"][2]["params"]["text"] = template
    resp = client.post("/api/v1/flows", json=doc)
    assert resp.status_code == 422
    assert {e["path"] for e in resp.get_json()["errors"]} == {"/nodes/2/params/text"}
    assert client.get("/api/v1/flows").get_json()["flows"] == []


def email_flow(html: str, subject: str = "{client_name}, спасибо!") -> dict:
    doc = load("big_order_slack")
    doc["nodes"][2] = {
        "id": "mail",
        "type": "action.email",
        "params": {
            "smtp_host": "smtp.example.com",
            "password": "pw-secret",
            "from_email": "shop@example.com",
            "subject": subject,
            "html": html,
        },
    }
    doc["edges"][1]["to"] = "mail"
    return doc


def test_css_in_an_email_passes_validation_and_renders_untouched(client):
    tilda = (FIXTURES / "tilda_email.html").read_text(encoding="utf-8")
    template = tilda.replace("</style>", f" {CSS}</style>", 1).replace(
        "<body", "<p>Здравствуйте, {client_name}!</p><body", 1
    )
    assert CSS in template and "{client_name}" in template
    resp = client.post("/api/v1/flows", json=email_flow(template))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    flow_id = resp.get_json()["id"]
    assert client.get(f"/api/v1/flows/{flow_id}").get_json()["nodes"][2]["params"]["html"] == template

    ctx = {"order": {"id": "9", "price": 50000}, "client": {"name": "Анна <b>", "email": "anna@example.com"}}
    steps = steps_of(client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}))
    out = steps["mail"]["output"]
    assert steps["mail"]["status"] == "would_send"
    assert out["html"] == template.replace("{client_name}", "Анна &lt;b&gt;")
    assert CSS in out["html"]
    assert out["subject"] == "Анна <b>, спасибо!"
    assert "anna@example.com" in out["to"]
    assert out["smtp"]["password"] == "********"


def test_an_unknown_variable_in_an_email_is_rejected_with_its_path(client):
    resp = client.post("/api/v1/flows", json=email_flow(f"<style>{CSS}</style><p>{{clinet_name}}</p>"))
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert [e["path"] for e in errors] == ["/nodes/2/params/html"]
    assert "clinet_name" in errors[0]["message"]


def test_an_email_to_a_client_without_an_address_is_skipped_with_a_reason(client):
    flow_id = client.post("/api/v1/flows", json=email_flow("<p>Hi {client_name}</p>")).get_json()["id"]
    ctx = {"order": {"id": "9", "price": 50000}, "client": {"name": "Без почты"}}
    steps = steps_of(client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}))
    assert steps["mail"]["status"] == "skipped" and steps["mail"]["error"]


@pytest.mark.parametrize(
    "client_data, reason",
    [
        ({"name": "Anna\r\nBcc: evil@example.com", "email": "anna@example.com"}, "subject"),
        ({"name": "Anna", "email": "anna@example.com\r\nBcc: evil@example.com"}, "email"),
    ],
    ids=["via_subject_variable", "via_recipient"],
)
def test_header_injection_through_client_data_fails_the_email_step(client, client_data, reason):
    flow_id = client.post("/api/v1/flows", json=email_flow("<p>x</p>")).get_json()["id"]
    ctx = {"order": {"id": "9", "price": 50000}, "client": client_data}
    steps = steps_of(client.post(f"/api/v1/flows/{flow_id}/test", json={"context": ctx}))
    assert steps["mail"]["status"] == "failed"
    assert reason in steps["mail"]["error"] and "line break" in steps["mail"]["error"]
    assert steps["mail"]["output"] is None
