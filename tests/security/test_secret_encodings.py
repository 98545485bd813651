"""Secrets in every encoding (issue #16): each secret kind goes out through its channel's fake,
which echoes it back in every spelling (raw, base64 and HTTP Basic, URL- and percent-encoded,
JSON-escaped, hex, inside URLs) in its answers' headers and bodies, succeeding and then failing;
none of those spellings may then be found in any API answer, problem body, database row or log."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import inspect, text

from tests.conftest import wait_for
from tests.fakes._http import spellings
from tests.fakes.smtp import FakeSMTP

SLACK_PATH = "/services/T0ENC12345/B0ENC67890/EncSlackSecretTok9q"
BOT_TOKEN = "765432:AAenc-Bot_Token9xQ"
SMTP_PASSWORD = "smtp/Pa55+enc word"
SMSRU_API_ID = "E1C0DE00-ENC0-4AB1-9C2D-A5ECRE7API1D"
TWILIO_SID = "AC" + "e1" * 16
TWILIO_TOKEN = "twilioEncTok/en+42"
AMO_TOKEN = "amo.enc-Long+Lived/Token=="
BITRIX_CODE = "b24encWebhookC0de"
WEBHOOK_AUTH = "Bearer wh-enc-Auth/Token+77"
WEBHOOK_MARKED = "x-session-enc-S3cret"
WEBHOOK_API_KEY = "k3y-enc-Api/Key+5"
PLAIN = "CLIENT-VISIBLE-HEADER"  # not a secret: must come back as it is


class Secrets:
    """The flow's secrets (URLs need the fakes' ports) and every spelling to look for."""

    def __init__(self, fakes):
        self.slack_url = fakes["slack"].url + SLACK_PATH
        self.bitrix_url = f"{fakes['bitrix24'].url}/rest/1/{BITRIX_CODE}/"
        self.values = [
            self.slack_url,
            SLACK_PATH,
            BOT_TOKEN,
            SMTP_PASSWORD,
            SMSRU_API_ID,
            TWILIO_TOKEN,
            AMO_TOKEN,
            self.bitrix_url,
            BITRIX_CODE,
            WEBHOOK_AUTH,
            WEBHOOK_MARKED,
            WEBHOOK_API_KEY,
        ]

    def echo(self, *values: str, user: str | None = None) -> list[str]:
        return [s for v in values for s in spellings(v, user).values()]

    def needles(self) -> list[str]:
        out = {s for v in self.values for s in spellings(v).values()}
        out |= set(spellings(TWILIO_TOKEN, TWILIO_SID).values())
        return sorted(out, key=len, reverse=True)


def found(body: str, needles: list[str]) -> list[str]:
    return [n for n in needles if n in body]


def _nodes(s: Secrets, fakes, smtp: FakeSMTP) -> list[dict]:
    return [
        {"id": "start", "type": "event.order_created", "params": {}},
        {
            "id": "slack",
            "type": "action.slack",
            "params": {"text": "x {order_id}", "webhook_url": s.slack_url},
        },
        {
            "id": "tg",
            "type": "action.telegram",
            "params": {
                "bot_token": BOT_TOKEN,
                "chat_id": "100200300",
                "text": "x",
                "base_url": fakes["telegram"].url,
            },
        },
        {
            "id": "mail",
            "type": "action.email",
            "params": {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.plain_port,
                "security": "none",
                "username": "u@example.com",
                "password": SMTP_PASSWORD,
                "from_email": "shop@example.com",
                "subject": "s",
                "html": "<p>x</p>",
            },
        },
        {
            "id": "smsru",
            "type": "action.sms",
            "params": {
                "provider": "smsru",
                "api_id": SMSRU_API_ID,
                "text": "x",
                "base_url": fakes["smsru"].url,
            },
        },
        {
            "id": "twilio",
            "type": "action.sms",
            "params": {
                "provider": "twilio",
                "account_sid": TWILIO_SID,
                "auth_token": TWILIO_TOKEN,
                "sender": "+15005550006",
                "text": "x",
                "base_url": fakes["twilio"].url,
            },
        },
        {
            "id": "amo",
            "type": "action.crm_task",
            "params": {
                "crm": "amocrm",
                "base_url": fakes["amocrm"].url,
                "token": AMO_TOKEN,
                "text": "t",
                "responsible_user_id": 5001,
            },
        },
        {
            "id": "b24",
            "type": "action.crm_task",
            "params": {"crm": "bitrix24", "base_url": s.bitrix_url, "text": "t", "responsible_user_id": 7},
        },
        {
            "id": "hook",
            "type": "action.webhook",
            "params": {
                "url": fakes["receiver"].url + "/h",
                "headers": {
                    "Authorization": WEBHOOK_AUTH,
                    "X-Api-Key": WEBHOOK_API_KEY,
                    "X-Session": WEBHOOK_MARKED,
                    "X-Plain": PLAIN,
                },
                "secret_headers": ["X-Session"],
            },
        },
    ]


def _flow(nodes: list[dict]) -> dict:
    edges = [{"from": "start", "to": n["id"]} for n in nodes[1:]]
    return {
        "format": "automation-flow/1",
        "name": "Кодировки",
        "enabled": True,
        "nodes": nodes,
        "edges": edges,
    }


def _setup_fakes(s: Secrets, fakes) -> None:
    fakes["slack"].hooks.add(SLACK_PATH)
    fakes["telegram"].tokens = {BOT_TOKEN}
    fakes["smsru"].api_ids = {SMSRU_API_ID}
    fakes["twilio"].account_sid, fakes["twilio"].auth_token = TWILIO_SID, TWILIO_TOKEN
    fakes["amocrm"].tokens = {AMO_TOKEN}
    fakes["bitrix24"].code = BITRIX_CODE


def _echo(s: Secrets, fakes, smtp: FakeSMTP, fail: int | None) -> None:
    """Every fake quotes the secrets it was given, in every spelling."""
    fakes["slack"].echo(s.echo(s.slack_url, SLACK_PATH), fail)
    fakes["telegram"].echo(s.echo(BOT_TOKEN), fail)
    fakes["smsru"].echo(s.echo(SMSRU_API_ID), fail)
    fakes["twilio"].echo(s.echo(TWILIO_TOKEN, user=TWILIO_SID), fail)
    fakes["amocrm"].echo(s.echo(AMO_TOKEN), fail)
    fakes["bitrix24"].echo(s.echo(s.bitrix_url, BITRIX_CODE), fail)
    fakes["receiver"].echo(s.echo(WEBHOOK_AUTH, WEBHOOK_API_KEY, WEBHOOK_MARKED), fail)
    smtp.echo(s.echo(SMTP_PASSWORD), fail=fail is not None)


def _order(client, order_id: str) -> None:
    body = {
        "price": 10,
        "client": {
            "external_id": f"c-{order_id}",
            "email": f"{order_id}@example.com",
            "phone": "+79123456789",
        },
    }
    assert client.put(f"/api/v1/orders/{order_id}", json=body).status_code == 202


def _runs_done(client, count: int):
    runs = client.get("/api/v1/runs?limit=500").get_json()["runs"]
    done = [r for r in runs if r["status"] in ("succeeded", "failed")]
    return runs if len(runs) >= count and len(done) == len(runs) else None


def _problems(client, s: Secrets) -> list:
    """Wrong JSON types and wrong values in secret fields: each a 422 that must not quote them."""
    base = _flow([{"id": "start", "type": "event.order_created", "params": {}}])
    amo = {"crm": "amocrm", "base_url": "https://x.amocrm.ru", "text": "t", "token": {"nested": AMO_TOKEN}}
    hook = {"url": "https://example.com/h", "headers": {"Authorization": {"n": WEBHOOK_AUTH}}}
    bad = [
        ("action.crm_task", amo),
        ("action.webhook", hook),
        ("action.webhook", {"url": "https://example.com/h", "headers": WEBHOOK_AUTH}),
        (
            "action.webhook",
            {
                "url": "https://e.com/h",
                "headers": {"X-Session": [WEBHOOK_MARKED]},
                "secret_headers": ["X-Session"],
            },
        ),
        ("action.slack", {"text": "x", "webhook_url": ["ftp:" + SLACK_PATH, {"k": s.slack_url}]}),
        ("action.telegram", {"bot_token": BOT_TOKEN * 20, "chat_id": "1", "text": "x"}),
        ("action.sms", {"provider": "smsru", "api_id": 7, "text": "x", "base_url": SMSRU_API_ID}),
    ]
    out = []
    for node_type, params in bad:
        doc = {**base, "nodes": [*base["nodes"], {"id": "a", "type": node_type, "params": params}]}
        doc["edges"] = [{"from": "start", "to": "a"}]
        response = client.post("/api/v1/flows", json=doc)
        assert response.status_code == 422, response.get_data(as_text=True)
        out.append(response)
        execute = client.post(f"/api/v1/nodes/{node_type}/execute", json={"params": params, "context": {}})
        assert execute.status_code == 422, execute.get_data(as_text=True)
        out.append(execute)
    return out


def _dump(app) -> str:
    from plugin.api.extensions import db

    with app.app_context():
        tables = inspect(db.engine).get_table_names()
        rows = [str(row) for t in tables for row in db.session.execute(text(f'SELECT * FROM "{t}"'))]
        db.session.remove()
    return "\n".join(rows)


@pytest.mark.slow
def test_no_secret_in_any_encoding_anywhere(
    app,
    client,
    procs,
    caplog,
    fake_slack,
    fake_telegram,
    fake_smsru,
    fake_twilio,
    fake_amocrm,
    fake_bitrix24,
    fake_receiver,
):
    caplog.set_level(logging.DEBUG)
    fakes = {
        "slack": fake_slack,
        "telegram": fake_telegram,
        "smsru": fake_smsru,
        "twilio": fake_twilio,
        "amocrm": fake_amocrm,
        "bitrix24": fake_bitrix24,
        "receiver": fake_receiver,
    }
    s = Secrets(fakes)
    needles = s.needles()
    _setup_fakes(s, fakes)
    with FakeSMTP(login="u@example.com", password=SMTP_PASSWORD) as smtp:
        created = client.post("/api/v1/flows", json=_flow(_nodes(s, fakes, smtp)))
        assert created.status_code == 201, created.get_data(as_text=True)
        flow_id = created.get_json()["id"]
        procs.env.update({"AUTOMATION_LOG_LEVEL": "DEBUG", "AUTOMATION_LEAN_HTTP": "urllib3"})
        procs.start("worker")

        # the remote sides accept, quoting the secrets in their answers' headers and bodies
        _echo(s, fakes, smtp, None)
        _order(client, "100")
        (run,) = wait_for(
            lambda: _runs_done(client, 1), timeout=60, message="the echoing run\n" + procs.logs()
        )
        detail = client.get(f"/api/v1/runs/{run['id']}").get_json()
        assert run["status"] == "succeeded", [
            (x["node_id"], x["error"]) for x in detail["steps"] if x["error"]
        ]
        assert smtp.messages and fake_receiver.deliveries and fake_twilio.messages and fake_bitrix24.tasks
        delivered = fake_receiver.deliveries[0].request.headers
        assert delivered["authorization"] == WEBHOOK_AUTH and delivered["x-session"] == WEBHOOK_MARKED

        # then refuse, each error quoting them; a spelling leads each answer once (clients trim)
        _echo(s, fakes, smtp, 400)
        rounds = len(spellings(TWILIO_TOKEN, TWILIO_SID))
        for i in range(rounds):
            _order(client, f"2{i:02d}")
        runs = wait_for(
            lambda: _runs_done(client, rounds + 1), timeout=150, message="failing runs\n" + procs.logs()
        )
        failed = [r for r in runs if r["status"] == "failed"]
        assert len(failed) == rounds
        steps = [step for r in failed for step in client.get(f"/api/v1/runs/{r['id']}").get_json()["steps"]]
        errors = {
            step["node_id"]: step["error"] for step in steps if step.get("error") and "****" in step["error"]
        }
        # the echo reached every channel's error, masked
        assert set(errors) == {"slack", "tg", "mail", "smsru", "twilio", "amo", "b24", "hook"}, steps[:9]

        direct = client.post(
            "/api/v1/nodes/action.webhook/execute",
            json={"params": _nodes(s, fakes, smtp)[-1]["params"], "context": {}},
        )
        unsaved = client.post(
            "/api/v1/flows/test", json={"flow": _flow(_nodes(s, fakes, smtp)), "context": {}}
        )
    flow = client.get(f"/api/v1/flows/{flow_id}")
    hook = next(n for n in flow.get_json()["nodes"] if n["id"] == "hook")
    assert hook["params"]["headers"] == {
        "Authorization": "********",
        "X-Api-Key": "********",
        "X-Session": "********",
        "X-Plain": PLAIN,
    }
    put_back = client.put(f"/api/v1/flows/{flow_id}", json=flow.get_json())
    assert put_back.status_code == 200, put_back.get_data(as_text=True)
    responses = [
        created,
        direct,
        unsaved,
        flow,
        put_back,
        client.get("/api/v1/flows"),
        client.get(f"/api/v1/flows/{flow_id}/export"),
        client.post(f"/api/v1/flows/{flow_id}/test", json={"context": {"order": {"id": "1"}}}),
        client.get("/api/v1/runs?limit=500"),
        *[client.get(f"/api/v1/runs/{r['id']}") for r in runs],
        *_problems(client, s),
    ]
    for response in responses:
        body = response.get_data(as_text=True)
        assert not found(body, needles), (response.request.path, found(body, needles), body[:2000])

    assert not found(_dump(app), needles), "a secret in a database row"
    logs = "\n".join(p.read_text(errors="replace") for p in sorted(procs.log_dir.glob("*.log")))
    assert "DEBUG" in logs  # the worker did log what it did
    assert not found(logs, needles), ("a secret in the worker log", found(logs, needles))
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("tests.", "mail.")))
    assert not found(ours, needles), ("a secret in the API log", found(ours, needles))
