"""Secrets (SPEC §8): never in responses, exports, run traces, logs or error messages - even when the
remote side echoes them back - and key rotation leaves only the new key able to decrypt."""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import sys
import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from plugin.masking import url_parts
from plugin.storage.secrets import SecretBox
from tests.conftest import ROOT, TOKEN, wait_for
from tests.fakes._http import Reply

SLACK_PATH = "/services/T0LEAK1234/B0LEAK5678/k9SlackSecretTokenXq7"
SMTP_PASSWORD = "smtp-Pa55-leak-9f3e"
SIGNING_SECRET = "whsec_" + base64.b64encode(b"signing-secret-leak-0123456789ab").decode()
BOT_TOKEN = "987654:AAleakBotTokenZZ9"


class EchoingSMTP:
    """An SMTP server that refuses every login and quotes the password back (a badly written one)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.sessions = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.sessions += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        out = conn.makefile("wb")
        lines = conn.makefile("rb")

        def say(line: str):
            out.write(line.encode() + b"\r\n")
            out.flush()

        say("220 echo.local ESMTP")
        try:
            for raw in lines:
                line = raw.decode(errors="replace").strip()
                verb = line.split(" ")[0].upper()
                if verb in ("EHLO", "HELO"):
                    say("250-echo.local")
                    say("250 AUTH PLAIN LOGIN")
                elif verb == "AUTH" and line.upper().startswith("AUTH PLAIN "):
                    _, user, password = base64.b64decode(line.split(" ", 2)[2]).split(b"\0")
                    say(
                        f"535 5.7.8 bad credentials {user.decode()}:{password.decode()} ({line.split(' ', 2)[2]})"
                    )
                elif verb == "AUTH":  # AUTH LOGIN
                    say("334 VXNlcm5hbWU6")
                    user = base64.b64decode(lines.readline().strip()).decode()
                    say("334 UGFzc3dvcmQ6")
                    password = base64.b64decode(lines.readline().strip()).decode()
                    say(f"535 5.7.8 password {password!r} is wrong for {user}")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 ok")
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def echoing_smtp():
    server = EchoingSMTP()
    yield server
    server.close()


def _secrets(fake_slack) -> list[str]:
    """Every secret of the flow and every part of it a remote side might echo alone."""
    values = [fake_slack.url + SLACK_PATH, SMTP_PASSWORD, SIGNING_SECRET, BOT_TOKEN]
    variants = {v for s in values for v in [s, *url_parts(s)]}
    variants.add(base64.b64encode(f"\0u\0{SMTP_PASSWORD}".encode()).decode())  # the AUTH PLAIN blob
    variants.add(base64.b64encode(SMTP_PASSWORD.encode()).decode())
    return sorted(variants, key=len, reverse=True)


def _flow(fake_slack, fake_receiver, fake_telegram, smtp_port) -> dict:
    nodes = [
        {"id": "start", "type": "event.order_created", "params": {}},
        {
            "id": "slack",
            "type": "action.slack",
            "params": {"text": "Заказ {order_id}", "webhook_url": fake_slack.url + SLACK_PATH},
        },
        {
            "id": "mail",
            "type": "action.email",
            "params": {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "security": "none",
                "username": "u",
                "password": SMTP_PASSWORD,
                "from_email": "shop@example.com",
                "subject": "Заказ {order_id}",
                "html": "<p>Спасибо</p>",
            },
        },
        {
            "id": "hook",
            "type": "action.webhook",
            "params": {"url": fake_receiver.url + "/h", "signing_secret": SIGNING_SECRET},
        },
        {
            "id": "tg",
            "type": "action.telegram",
            "params": {"bot_token": BOT_TOKEN, "chat_id": 5, "text": "x", "base_url": fake_telegram.url},
        },
    ]
    edges = [{"from": "start", "to": n["id"]} for n in nodes[1:]]
    return {"format": "automation-flow/1", "name": "Секреты", "enabled": True, "nodes": nodes, "edges": edges}


def _echo_everything(fake_slack, fake_receiver, fake_telegram) -> None:
    """Every remote side answers with an error that quotes the secret it was given."""
    url = fake_slack.url + SLACK_PATH
    fake_slack.force(Reply(404, f"no_service for {SLACK_PATH} ({url}) token k9SlackSecretTokenXq7"), None)
    fake_receiver.force(Reply(400, f"bad signature, expected secret {SIGNING_SECRET}"), None)
    fake_telegram.force(
        Reply(
            401, {"ok": False, "error_code": 401, "description": f"Unauthorized: bot{BOT_TOKEN} is not valid"}
        ),
        None,
    )


def _found(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


@pytest.mark.slow
def test_secrets_never_leave_even_when_the_remote_side_echoes_them(
    app, client, procs, fake_slack, fake_receiver, fake_telegram, echoing_smtp, caplog
):
    caplog.set_level(logging.DEBUG)
    secrets = _secrets(fake_slack)
    _echo_everything(fake_slack, fake_receiver, fake_telegram)
    created = client.post(
        "/api/v1/flows", json=_flow(fake_slack, fake_receiver, fake_telegram, echoing_smtp.port)
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    flow_id = created.get_json()["id"]
    procs.start("worker")
    assert (
        client.put(
            "/api/v1/orders/501",
            json={"price": 10, "client": {"external_id": "c1", "name": "Иван", "email": "ivan@example.com"}},
        ).status_code
        == 202
    )

    def finished():
        runs = client.get("/api/v1/runs").get_json()["runs"]
        return runs if runs and runs[0]["status"] == "failed" else None

    try:
        (run,) = wait_for(finished, timeout=60, message="the run to fail")
    except AssertionError:
        logs = "\n".join(p.read_text(errors="replace") for p in sorted(procs.log_dir.glob("*.log")))
        raise AssertionError(f"{client.get('/api/v1/runs').get_json()}\n{logs[:6000]}") from None
    errors = {s["node_id"]: s["error"] for s in run["steps"]}
    assert all(errors[n] for n in ("slack", "mail", "hook", "tg")), errors
    assert "********" in errors["mail"] and "********" in errors["slack"], errors  # the echo was there
    assert echoing_smtp.sessions >= 1 and fake_slack.requests and fake_receiver.requests

    # direct calls (the third-party platform path) and dry runs answer with the same masking
    body = {"params": {"text": "x", "webhook_url": fake_slack.url + SLACK_PATH}, "context": {}}
    direct = client.post("/api/v1/nodes/action.slack/execute", json=body)
    dry = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": {"order": {"id": "1"}}})
    export = client.get(f"/api/v1/flows/{flow_id}/export")
    preset = client.post(
        "/api/v1/presets",
        json={
            "name": "p",
            "kind": "action",
            "nodes": [
                {
                    "id": "mail",
                    **{
                        k: v
                        for k, v in _flow(fake_slack, fake_receiver, fake_telegram, 25)["nodes"][2].items()
                        if k != "id"
                    },
                }
            ],
        },
    )
    assert preset.status_code == 201, preset.get_data(as_text=True)
    responses = [
        created,
        direct,
        dry,
        export,
        preset,
        client.get("/api/v1/flows"),
        client.get(f"/api/v1/flows/{flow_id}"),
        client.get("/api/v1/runs"),
        client.get(f"/api/v1/runs/{run['id']}"),
        client.get("/api/v1/presets"),
        client.get(f"/api/v1/presets/{preset.get_json()['id']}"),
        client.patch(f"/api/v1/flows/{flow_id}", json={"name": "Секреты 2"}),
    ]
    for response in responses:
        assert response.status_code < 300, response.get_data(as_text=True)
        assert not _found(response.get_data(as_text=True), secrets), response.request.path

    assert not _found(procs.logs(), secrets), "a secret in the worker log"
    ours = [r for r in caplog.records if not r.name.startswith("tests.")]  # tests.fakes = the remote side
    assert ours  # the API did log (the direct Slack call at least)
    assert not _found("\n".join(r.getMessage() for r in ours), secrets), "a secret in the API log"
    with app.app_context():  # at rest: only ciphertext
        from plugin.api.extensions import db

        dump = "\n".join(
            str(row)
            for table in ("flows", "presets", "runs", "steps")
            for row in db.session.execute(text(f"SELECT * FROM {table}"))
        )
    assert not _found(dump, [fake_slack.url + SLACK_PATH, SMTP_PASSWORD, SIGNING_SECRET, BOT_TOKEN])


def test_a_validation_error_does_not_quote_a_secret(client):
    flow = {
        "format": "automation-flow/1",
        "name": "x",
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "s",
                "type": "action.slack",
                "params": {"text": "x", "webhook_url": "ftp://not-a-hook/secret-xyz-123"},
            },
        ],
        "edges": [{"from": "start", "to": "s"}],
    }
    response = client.post("/api/v1/flows", json=flow)
    assert response.status_code == 422
    assert "/nodes/1/params/webhook_url" in [e["path"] for e in response.get_json()["errors"]]
    assert "secret-xyz-123" not in response.get_data(as_text=True)


# -- key rotation --------------------------------------------------------------------------


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args],
        check=False,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _sealed_values(app) -> list[str]:
    """Every ``{"$secret": ...}`` ciphertext stored in flows, their versions, presets and runs."""
    from plugin.api.extensions import db

    out = []
    with app.app_context():
        db.session.remove()
        for table in ("flows", "flow_versions", "presets", "runs"):
            for (definition,) in db.session.execute(text(f"SELECT definition FROM {table}")):
                doc = definition if isinstance(definition, dict) else json.loads(definition)
                for node in doc.get("nodes", []):
                    out += [v["$secret"] for v in (node.get("params") or {}).values() if isinstance(v, dict)]
        db.session.remove()
    return out


@pytest.mark.slow
def test_key_rotation_re_encrypts_flows_versions_presets_and_pending_runs(
    app, env, client, procs, fake_receiver
):
    key_a = env["AUTOMATION_SECRET_KEY"]
    key_b = Fernet.generate_key().decode()
    fake_receiver.respond_with(*([503] * 100))  # the run keeps retrying across the rotation
    flow = {
        "format": "automation-flow/1",
        "name": "rot",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {
                "id": "hook",
                "type": "action.webhook",
                "params": {"url": fake_receiver.url + "/h", "signing_secret": SIGNING_SECRET},
            },
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    preset = {
        "name": "p",
        "kind": "action",
        "nodes": [
            {
                "id": "mail",
                "type": "action.email",
                "params": {
                    "smtp_host": "smtp.example.com",
                    "password": SMTP_PASSWORD,
                    "from_email": "a@example.com",
                    "subject": "s",
                    "html": "<p>x</p>",
                },
            }
        ],
    }
    assert client.post("/api/v1/presets", json=preset).status_code == 201
    worker = procs.start("worker")
    assert client.put("/api/v1/orders/7", json={"price": 1}).status_code == 202
    wait_for(lambda: len(fake_receiver.requests) >= 2, timeout=30, message="retries\n" + procs.logs())
    worker.terminate()
    worker.wait(timeout=20)

    before = _sealed_values(app)
    assert len(before) == 4  # flow, its version, preset, run snapshot
    box_a, box_b = SecretBox([key_a.encode()]), SecretBox([key_b.encode()])
    assert all(box_a.decrypt({"$secret": v}) for v in before)

    result = _cli({**env, "AUTOMATION_SECRET_KEY": f"{key_b},{key_a}"}, "secrets", "rotate")
    assert result.returncode == 0, result.stderr
    assert "1 runs" in result.stdout, result.stdout

    after = _sealed_values(app)
    assert len(after) == 4 and set(after).isdisjoint(before)
    assert sorted(box_b.decrypt({"$secret": v}) for v in after) == sorted(
        [SIGNING_SECRET, SIGNING_SECRET, SIGNING_SECRET, SMTP_PASSWORD]
    )
    for value in after:
        with pytest.raises(ValueError, match="cannot be decrypted"):
            box_a.decrypt({"$secret": value})

    # with only the new key, the retrying run still delivers (signed with the same secret)
    fake_receiver.reset()
    fake_receiver.secret = SIGNING_SECRET
    procs.env["AUTOMATION_SECRET_KEY"] = key_b
    procs.start("worker")
    procs.start("scheduler")
    wait_for(lambda: fake_receiver.deliveries, timeout=60, message="delivery after rotation\n" + procs.logs())
    assert not fake_receiver.rejections
    assert TOKEN not in procs.logs()
