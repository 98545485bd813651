"""Shared connections (SPEC §11): CRUD with sealed secrets, the real «Проверить подключение»,
actions that name a connection (validated, resolved at send time: rotation takes effect at once),
the 409 of a connection in use; and action templates that keep their secrets."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine.execution import execute_isolated
from plugin.jobs.worker import make_engine
from plugin.storage.models import Run
from tests.conftest import free_port, wait_for
from tests.engine.test_ingest_and_runs import drain
from tests.fakes.slack import FakeSlack

PLACEHOLDER = "********"


def problem_paths(resp, status: int = 422) -> list[str]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    return [e["path"] for e in resp.get_json()["errors"]]


def slack_connection(client, url: str, name: str = "Slack продаж") -> dict:
    resp = client.post(
        "/api/v1/connections", json={"name": name, "type": "slack", "params": {"webhook_url": url}}
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def slack_flow(params: dict, name: str = "Сделка → Slack", enabled: bool = True, **node_extra) -> dict:
    return {
        "name": name,
        "enabled": enabled,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "notify", "type": "action.slack", "params": params, **node_extra},
        ],
        "edges": [{"from": "start", "to": "notify"}],
    }


def test_connection_crud_seals_masks_and_keeps_secrets(app, client, fake_slack):
    created = slack_connection(client, fake_slack.hook_url)
    assert created["type"] == "slack" and created["params"] == {"webhook_url": PLACEHOLDER}
    assert created["used_by"] == {"flows": [], "presets": []}
    with app.app_context():
        stored = db.session.execute(text("SELECT params FROM connections")).scalar_one()
    assert fake_slack.hook_url not in str(stored) and "$secret" in str(stored)

    cid = created["id"]
    assert client.get(f"/api/v1/connections/{cid}").get_json()["params"] == {"webhook_url": PLACEHOLDER}
    assert [c["id"] for c in client.get("/api/v1/connections").get_json()["connections"]] == [cid]
    # a PUT that omits the secret (or sends the placeholder) keeps it; the check still reaches the hook
    resp = client.put(
        f"/api/v1/connections/{cid}", json={"name": "Slack: продажи", "type": "slack", "params": {}}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["name"] == "Slack: продажи"
    assert client.post(f"/api/v1/connections/{cid}/test").get_json()["ok"] is True


def test_bad_connection_bodies_list_every_problem(client):
    paths = problem_paths(client.post("/api/v1/connections", json={"name": " ", "type": "fax", "params": []}))
    assert {"/name", "/type", "/params"} <= set(paths)
    resp = client.post(
        "/api/v1/connections",
        json={
            "name": "x",
            "type": "smtp",
            "params": {"smtp_port": 0, "password": "p", "from_email": "a@b.c"},
        },
    )
    assert {"/params/smtp_host", "/params/smtp_port", "/params/from_email"} <= set(problem_paths(resp))
    resp = client.post(
        "/api/v1/connections", json={"name": "x", "type": "slack", "params": {"webhook_url": "ftp://s3cret"}}
    )
    body = resp.get_data(as_text=True)
    assert problem_paths(resp) == ["/params/webhook_url"] and "s3cret" not in body
    created = client.post(
        "/api/v1/connections", json={"name": "t", "type": "telegram", "params": {"bot_token": "1:a"}}
    ).get_json()
    resp = client.put(
        f"/api/v1/connections/{created['id']}", json={"name": "t", "type": "slack", "params": {}}
    )
    assert problem_paths(resp) == ["/type"]
    dup = client.post(
        "/api/v1/connections", json={"name": "t", "type": "telegram", "params": {"bot_token": "2:b"}}
    )
    assert problem_paths(dup) == ["/name"]
    assert client.get("/api/v1/connections/nope").status_code == 404


def _check(client, body: dict) -> dict:
    resp = client.post("/api/v1/connections", json=body)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return client.post(f"/api/v1/connections/{resp.get_json()['id']}/test").get_json()


def test_check_really_connects_and_says_what_failed(client, fake_slack, fake_smtp, fake_telegram):
    slack = _check(client, {"name": "s", "type": "slack", "params": {"webhook_url": fake_slack.hook_url}})
    assert slack["ok"] is True and fake_slack.messages == []  # nothing was posted to the channel
    dead = _check(
        client,
        {"name": "d", "type": "slack", "params": {"webhook_url": fake_slack.url + "/services/T/B/gone"}},
    )
    assert dead["ok"] is False and "no_service" in dead["message"] and "gone" not in dead["message"]

    smtp = {
        "smtp_host": "127.0.0.1",
        "smtp_port": fake_smtp.ssl_port,
        "security": "ssl",
        "username": fake_smtp.login,
    }
    good = _check(client, {"name": "m", "type": "smtp", "params": {**smtp, "password": fake_smtp.password}})
    assert good == {
        "ok": True,
        "message": f"SMTP-сервер 127.0.0.1:{fake_smtp.ssl_port} принял подключение и вход",
    }
    bad = _check(client, {"name": "m2", "type": "smtp", "params": {**smtp, "password": "wrong-pass"}})
    assert bad["ok"] is False and "отклонил логин или пароль" in bad["message"]
    assert fake_smtp.messages == []

    token = next(iter(fake_telegram.tokens))
    tg = _check(
        client,
        {"name": "tg", "type": "telegram", "params": {"bot_token": token, "base_url": fake_telegram.url}},
    )
    assert tg["ok"] is True and "@fake_bot" in tg["message"]
    tg_bad = _check(
        client,
        {"name": "tg2", "type": "telegram", "params": {"bot_token": "9:zz", "base_url": fake_telegram.url}},
    )
    assert tg_bad["ok"] is False and "401" in tg_bad["message"]


def test_check_webhook_reaches_the_address_without_sending_data(client, fake_receiver):
    hook = {"name": "w", "type": "webhook", "params": {"url": fake_receiver.url + "/hook"}}
    up = _check(client, hook)
    assert up["ok"] is True and "пробные данные не отправлялись" in up["message"], up
    assert fake_receiver.deliveries == []  # a HEAD request, never an event
    fake_receiver.respond_with(503)
    down = _check(client, {**hook, "name": "w2"})
    assert down == {"ok": False, "message": "Сервер по адресу отвечает ошибкой (HTTP 503)"}
    fake_receiver.gone()
    gone = _check(client, {**hook, "name": "w3"})
    assert gone == {"ok": False, "message": "Адрес не найден на сервере (HTTP 410)"}
    refused = _check(client, {**hook, "name": "w4", "params": {"url": f"http://127.0.0.1:{free_port()}/h"}})
    assert refused["ok"] is False and refused["message"].startswith("Не удалось связаться с сервером"), (
        refused
    )


def test_check_crm_and_sms_accounts(client, fake_amocrm, fake_bitrix24, fake_smsru, fake_twilio):
    token = next(iter(fake_amocrm.tokens))
    assert _check(
        client, {"name": "a", "type": "amocrm", "params": {"base_url": fake_amocrm.url, "token": token}}
    )["ok"]
    amo_bad = _check(
        client, {"name": "a2", "type": "amocrm", "params": {"base_url": fake_amocrm.url, "token": "bad"}}
    )
    assert amo_bad["ok"] is False and "401" in amo_bad["message"]
    assert _check(
        client, {"name": "b", "type": "bitrix24", "params": {"base_url": fake_bitrix24.webhook_url}}
    )["ok"]
    wrong = fake_bitrix24.webhook_url.replace(fake_bitrix24.code, "wrongcode")
    b_bad = _check(client, {"name": "b2", "type": "bitrix24", "params": {"base_url": wrong}})
    assert (
        b_bad["ok"] is False
        and "INVALID_CREDENTIALS" in b_bad["message"]
        and "wrongcode" not in b_bad["message"]
    )
    api_id = next(iter(fake_smsru.api_ids))
    assert _check(
        client, {"name": "r", "type": "smsru", "params": {"api_id": api_id, "base_url": fake_smsru.url}}
    )["ok"]
    sms_bad = _check(
        client, {"name": "r2", "type": "smsru", "params": {"api_id": "nope", "base_url": fake_smsru.url}}
    )
    assert sms_bad["ok"] is False and "api_id" in sms_bad["message"]
    tw = {"account_sid": fake_twilio.account_sid, "base_url": fake_twilio.url}
    assert _check(
        client, {"name": "w", "type": "twilio", "params": {**tw, "auth_token": fake_twilio.auth_token}}
    )["ok"]
    assert not _check(client, {"name": "w2", "type": "twilio", "params": {**tw, "auth_token": "bad"}})["ok"]


def test_flow_validation_of_connection_references(client, fake_slack, fake_smtp):
    slack = slack_connection(client, fake_slack.hook_url)
    smtp = client.post(
        "/api/v1/connections", json={"name": "Почта", "type": "smtp", "params": {"smtp_host": "127.0.0.1"}}
    ).get_json()
    cases = [
        ({"text": "t"}, "/nodes/1/params/webhook_url"),  # neither a connection nor the URL
        ({"text": "t", "connection": "missing"}, "/nodes/1/params/connection"),
        ({"text": "t", "connection": smtp["id"]}, "/nodes/1/params/connection"),  # wrong type
        (
            {"text": "t", "connection": slack["id"], "webhook_url": fake_slack.hook_url},
            "/nodes/1/params/webhook_url",
        ),
    ]
    for params, path in cases:
        assert problem_paths(client.post("/api/v1/flows", json=slack_flow(params))) == [path], params
    sms = {
        "name": "sms",
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "sms",
                "type": "action.sms",
                "params": {"text": "t", "provider": "twilio", "connection": slack["id"]},
            },
        ],
        "edges": [{"from": "start", "to": "sms"}],
    }
    assert problem_paths(client.post("/api/v1/flows", json=sms)) == ["/nodes/1/params/connection"]


def _drain_through_the_rate_limit(app, messages: list, expected: int) -> None:
    """Dispatch, then resume what waits on our own Slack limit (1/s per hook): the second message
    to a hook waits ~1 s, which fits the job's in-place wait budget (1 s) on an idle machine only;
    on a busy one the step is left ``waiting`` for RQ, which this in-process test plays."""
    drain(app)

    def resumed() -> bool:
        with app.app_context():
            engine = make_engine(rt(), db.engine)
            for run in db.session.query(Run).filter(Run.status == "waiting").all():
                execute_isolated(db.session, engine, run.id)
        return len(messages) >= expected

    if len(messages) < expected:
        wait_for(resumed, timeout=15, interval=0.5, message=f"{expected} messages")


def _settled(client, timeout: float = 15.0) -> list[dict]:
    """The runs once none is in flight (``running``: a late call not stored yet) or queued."""

    def runs():
        found = client.get("/api/v1/runs").get_json()["runs"]
        return found if not any(r["status"] in ("running", "queued") for r in found) else None

    return wait_for(runs, timeout=timeout, interval=0.1, message="the runs to settle")


def test_actions_send_through_the_connection_and_rotation_applies_everywhere(app, client, fake_slack):
    conn = slack_connection(client, fake_slack.hook_url)
    for name in ("Первый", "Второй"):
        resp = client.post(
            "/api/v1/flows",
            json=slack_flow({"text": f"{name}: {{order_id}}", "connection": conn["id"]}, name),
        )
        assert resp.status_code == 201 and resp.get_json()["enabled"] is True, resp.get_data(as_text=True)
    assert client.put("/api/v1/orders/1", json={"price": 10, "status": "Новая"}).status_code == 202
    _drain_through_the_rate_limit(app, fake_slack.messages, 2)
    assert sorted(fake_slack.messages) == ["Второй: 1", "Первый: 1"]

    rotated = FakeSlack(rate_limited=False)
    rotated.start()
    try:
        resp = client.put(
            f"/api/v1/connections/{conn['id']}",
            json={"name": conn["name"], "type": "slack", "params": {"webhook_url": rotated.hook_url}},
        )
        assert resp.status_code == 200
        assert client.put("/api/v1/orders/2", json={"price": 10, "status": "Новая"}).status_code == 202
        _drain_through_the_rate_limit(app, rotated.messages, 2)
        assert sorted(rotated.messages) == ["Второй: 2", "Первый: 2"]
        assert len(fake_slack.messages) == 2
    finally:
        rotated.stop()
    # a call that outlived its waiter's patience (a loaded machine: the in-place rate-limit wait
    # plus the send > 1 s) is stored by the late settler's thread, after the receiver had it
    runs = _settled(client)
    assert all(r["status"] == "succeeded" for r in runs), [(r["status"], r.get("error")) for r in runs]
    assert "XXXXXXXX" not in json.dumps(runs)  # the hook's secret path is never shown


def test_dry_run_and_direct_execute_resolve_the_connection(client, fake_slack):
    conn = slack_connection(client, fake_slack.hook_url)
    flow = client.post(
        "/api/v1/flows", json=slack_flow({"text": "Сделка {order_id}", "connection": conn["id"]})
    ).get_json()
    dry = client.post(f"/api/v1/flows/{flow['id']}/test", json={"context": {"order": {"id": "7"}}}).get_json()
    step = dry["steps"][1]
    assert step["status"] == "would_send" and step["output"]["body"] == {"text": "Сделка 7"}
    assert "XXXXXXXX" not in json.dumps(dry)
    resp = client.post(
        "/api/v1/nodes/action.slack/execute",
        json={"params": {"text": "Прямой вызов", "connection": conn["id"]}, "context": {}},
    )
    assert resp.status_code == 200 and resp.get_json()["status"] == "succeeded", resp.get_data(as_text=True)
    assert fake_slack.messages == ["Прямой вызов"]
    bad = client.post(
        "/api/v1/nodes/action.slack/execute",
        json={"params": {"text": "x", "connection": "nope"}, "context": {}},
    )
    assert problem_paths(bad) == ["/params/connection"]


def test_delete_in_use_is_409_listing_the_flows(client, fake_slack):
    conn = slack_connection(client, fake_slack.hook_url)
    flow = client.post(
        "/api/v1/flows", json=slack_flow({"text": "t", "connection": conn["id"]}, "Уведомление")
    ).get_json()
    resp = client.delete(f"/api/v1/connections/{conn['id']}")
    assert resp.status_code == 409 and resp.mimetype == "application/problem+json"
    assert [e["flow"] for e in resp.get_json()["errors"]] == [{"id": flow["id"], "name": "Уведомление"}]
    assert client.get(f"/api/v1/connections/{conn['id']}").get_json()["used_by"]["flows"] == [
        {"id": flow["id"], "name": "Уведомление"}
    ]
    assert client.delete(f"/api/v1/flows/{flow['id']}").status_code == 204
    assert client.delete(f"/api/v1/connections/{conn['id']}").status_code == 204


def test_export_names_connections_and_import_maps_them(app, client, fake_slack):
    conn = slack_connection(client, fake_slack.hook_url, "Slack продаж")
    flow = client.post(
        "/api/v1/flows", json=slack_flow({"text": "Импорт {order_id}", "connection": conn["id"]})
    ).get_json()
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    assert exported["connections"] == [{"id": conn["id"], "name": "Slack продаж", "type": "slack"}]

    # another server: the id is unknown, the name and type match → mapped, enabled, delivers
    moved = json.loads(json.dumps(exported).replace(conn["id"], "0123456789abcdef"))
    moved["id"] = "imported-flow"
    resp = client.post("/api/v1/flows/import?on_conflict=copy", json=moved)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    [imported] = resp.get_json()["flows"]
    assert imported["nodes"][1]["params"]["connection"] == conn["id"] and imported["enabled"] is True
    client.delete(f"/api/v1/flows/{flow['id']}")
    assert client.put("/api/v1/orders/5", json={"price": 1, "status": "Новая"}).status_code == 202
    drain(app)
    assert fake_slack.messages == ["Импорт 5"]

    # nothing of that name: a 422 naming it, nothing imported
    lost = json.loads(json.dumps(moved, ensure_ascii=False).replace("Slack продаж", "Slack склада"))
    lost["id"] = "lost-flow"
    resp = client.post("/api/v1/flows/import", json={"flows": [lost]})
    assert problem_paths(resp) == ["/flows/0/nodes/1/params/connection"]
    error = resp.get_json()["errors"][0]
    assert error["connection"] == {"id": "0123456789abcdef", "name": "Slack склада", "type": "slack"}
    assert "Slack склада" in error["message"]
    assert client.get("/api/v1/flows/lost-flow").status_code == 404


def test_the_failure_alert_connection_is_exported_mapped_on_import_and_guarded_on_delete(client, fake_slack):
    alerts = slack_connection(client, fake_slack.hook_url, "Slack дежурных")
    doc = slack_flow({"text": "Заказ {order_id}", "webhook_url": fake_slack.hook_url}, enabled=False)
    doc["settings"] = {
        "alert": {"failure_share": 0.5, "window_minutes": 60, "min_runs": 5, "connection": alerts["id"]}
    }
    resp = client.post("/api/v1/flows", json=doc)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    flow = resp.get_json()
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    assert exported["connections"] == [{"id": alerts["id"], "name": "Slack дежурных", "type": "slack"}]

    # deleting it would silence the alert: 409 naming the scenario
    refused = client.delete(f"/api/v1/connections/{alerts['id']}")
    assert refused.status_code == 409 and refused.get_json()["errors"][0]["flow"]["id"] == flow["id"]

    # another server: mapped by name and type
    moved = json.loads(json.dumps(exported).replace(alerts["id"], "fedcba9876543210"))
    moved["id"] = "moved-alert"
    resp = client.post("/api/v1/flows/import?on_conflict=copy", json=moved)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    [imported] = resp.get_json()["flows"]
    assert imported["settings"]["alert"]["connection"] == alerts["id"]

    lost = json.loads(json.dumps(moved, ensure_ascii=False).replace("Slack дежурных", "Slack никого"))
    lost["id"] = "lost-alert"
    resp = client.post("/api/v1/flows/import", json={"flows": [lost]})
    assert problem_paths(resp) == ["/flows/0/settings/alert/connection"]
    assert client.get("/api/v1/flows/lost-alert").status_code == 404


def test_template_secret_is_carried_into_a_scenario_built_from_it(app, client, fake_slack):
    """The defect of issue #17: a scenario built from an action template with a secret could not
    be switched on (422 «this secret was not imported») although the form showed it as set."""
    preset = {
        "name": "Уведомить продажи",
        "kind": "action",
        "nodes": [
            {
                "id": "notify",
                "type": "action.slack",
                "params": {"text": "Шаблон {order_id}", "webhook_url": fake_slack.hook_url},
            }
        ],
    }
    created = client.post("/api/v1/presets", json=preset).get_json()
    applied = created["nodes"][0]["params"]  # what the editor pastes: the secret as the placeholder
    assert applied["webhook_url"] == PLACEHOLDER
    # without saying where the node came from the placeholder has nothing behind it
    assert problem_paths(client.post("/api/v1/flows", json=slack_flow(applied))) == [
        "/nodes/1/params/webhook_url"
    ]
    source = {"preset": {"id": created["id"], "node": "notify"}}
    resp = client.post("/api/v1/flows", json=slack_flow(applied, **source))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    flow = resp.get_json()
    assert flow["enabled"] is True and flow["needs_secrets"] == []
    assert flow["nodes"][1]["params"]["webhook_url"] == PLACEHOLDER and "preset" not in flow["nodes"][1]
    assert client.put("/api/v1/orders/9", json={"price": 1, "status": "Новая"}).status_code == 202
    drain(app)
    assert fake_slack.messages == ["Шаблон 9"]


def test_template_can_reference_a_connection(client, fake_slack):
    conn = slack_connection(client, fake_slack.hook_url)
    preset = {
        "name": "Через подключение",
        "kind": "action",
        "nodes": [{"id": "n", "type": "action.slack", "params": {"text": "t", "connection": conn["id"]}}],
    }
    created = client.post("/api/v1/presets", json=preset)
    assert created.status_code == 201 and created.get_json()["nodes"][0]["params"]["connection"] == conn["id"]
    bad = client.post(
        "/api/v1/presets",
        json={**preset, "nodes": [{**preset["nodes"][0], "params": {"text": "t", "connection": "x"}}]},
    )
    assert problem_paths(bad) == ["/nodes/0/params/connection"]
    resp = client.delete(f"/api/v1/connections/{conn['id']}")
    assert resp.status_code == 409 and resp.get_json()["errors"][0]["preset"]["name"] == "Через подключение"


@pytest.mark.parametrize("scope,status", [("read", 403), ("admin", 201)])
def test_scopes(app, scope, status):
    from plugin.api.auth import create_token

    with app.app_context():
        token = create_token("t", scope)
    c = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/v1/connections", headers=headers).status_code == 200
    resp = c.post(
        "/api/v1/connections",
        headers=headers,
        json={"name": "s", "type": "slack", "params": {"webhook_url": "https://h.example/x"}},
    )
    assert resp.status_code == status


def test_openapi_documents_the_connection_routes(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/connections"])
    assert {"get", "put", "delete"} <= set(paths["/api/v1/connections/{connection_id}"])
    assert "409" in paths["/api/v1/connections/{connection_id}"]["delete"]["responses"]
    assert "post" in paths["/api/v1/connections/{connection_id}/test"]
    links = paths["/api/v1/connections"]["post"]["responses"]["201"]["links"]
    assert {"ConnectionGet", "ConnectionTestPost"} <= set(links)
    assert "connections" in spec["components"]["schemas"]["FlowExport"]["properties"]
    assert "connection" in paths["/api/v1/flows/import"]["post"]["description"]


def test_a_connection_implies_its_provider_over_the_form_default(client, fake_twilio):
    """The editor fills ``provider: smsru`` (the schema default); a twilio connection wins."""
    conn = client.post(
        "/api/v1/connections",
        json={
            "name": "Twilio",
            "type": "twilio",
            "params": {
                "account_sid": fake_twilio.account_sid,
                "auth_token": fake_twilio.auth_token,
                "base_url": fake_twilio.url,
            },
        },
    ).get_json()
    params = {
        "provider": "smsru",
        "connection": conn["id"],
        "sender": "+15005550006",
        "text": "Заказ {order_id}",
    }
    context = {"client": {"phone": "+79161234567"}, "order": {"id": "3"}}
    resp = client.post("/api/v1/nodes/action.sms/execute", json={"params": params, "context": context})
    assert resp.status_code == 200 and resp.get_json()["status"] == "succeeded", resp.get_data(as_text=True)
    assert [m["body"] for m in fake_twilio.messages] == ["Заказ 3"]
    clash = {**params, "auth_token": "inline-token"}
    assert problem_paths(
        client.post("/api/v1/nodes/action.sms/execute", json={"params": clash, "context": context})
    ) == ["/params/auth_token"]
