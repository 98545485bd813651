"""SSRF at the engine level (SPEC §8): flows run by a real worker never reach a non-allowlisted address.

The app allows only 127.0.0.1/32. A canary listens on 0.0.0.0, so it answers on 127.0.0.2 and
[::ffff:127.0.0.2] too; every action of every kind is pointed at it in several spellings. Each
step must fail with the guard's reason and the canary must see no connection at all. Redirects
from an allowlisted receiver to the canary are not followed either.
"""

from __future__ import annotations

import socket
import threading

import pytest

from plugin.transport.net import GuardedClient
from tests.conftest import wait_for
from tests.fakes._http import Reply
from tests.security.conftest import isolated_env

SPELLINGS = {
    "dotted": "127.0.0.2",
    "ipv4_mapped": "[::ffff:127.0.0.2]",
    "decimal": "2130706434",
}
SMTP_SPELLINGS = {"dotted": "127.0.0.2", "ipv4_mapped": "::ffff:127.0.0.2", "decimal": "2130706434"}


class Canary:
    """A TCP listener on every interface that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.hits: list[tuple[str, int]] = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            if not self._stop:
                self.hits.append(peer[:2])
            conn.close()

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def canary():
    c = Canary()
    # the canary is reachable in every spelling, so a zero count below means "refused", not "missed"
    for host in ("127.0.0.2", "2130706434"):
        socket.create_connection((host, c.port), timeout=2).close()
    wait_for(lambda: len(c.hits) == 2, timeout=2, message="the canary to count its own probes")
    c.hits.clear()
    yield c
    c.close()


@pytest.fixture
def database_url(tmp_path):
    """The guard does not depend on the database: SQLite only here."""
    return f"sqlite:///{tmp_path / 'automation.db'}"


@pytest.fixture
def env(database_url, redis_url, tmp_path):
    return isolated_env(
        database_url,
        redis_url,
        tmp_path / "data",
        AUTOMATION_OUTBOUND_ALLOWLIST="127.0.0.1/32",
        AUTOMATION_MAX_ATTEMPTS="3",
        AUTOMATION_SMS_CAP="100",  # six SMS actions to one client: not the cap under test here
        AUTOMATION_EMAIL_CAP="100",
    )


def _actions(kind: str, host: str, port: int) -> list[dict]:
    """One node per action type (and provider) pointed at ``host:port``."""
    root = f"http://{host}:{port}"
    if kind == "smtp":
        return [
            {
                "type": "action.email",
                "params": {
                    "smtp_host": host,
                    "smtp_port": port,
                    "security": "none",
                    "username": "u",
                    "password": "smtp-secret",
                    "from_email": "shop@example.com",
                    "subject": "s",
                    "html": "<p>x</p>",
                },
            }
        ]
    return [
        {"type": "action.webhook", "params": {"url": f"{root}/hook"}},
        {"type": "action.slack", "params": {"text": "t", "webhook_url": f"{root}/services/T1/B1/x"}},
        {
            "type": "action.telegram",
            "params": {"bot_token": "1:AA", "chat_id": 1, "text": "t", "base_url": root},
        },
        {"type": "action.sms", "params": {"provider": "smsru", "api_id": "k", "text": "t", "base_url": root}},
        {
            "type": "action.sms",
            "params": {
                "provider": "twilio",
                "account_sid": "AC" + "0" * 32,
                "auth_token": "a" * 32,
                "sender": "+15005550006",
                "text": "t",
                "base_url": root,
            },
        },
        {
            "type": "action.crm_task",
            "params": {"crm": "amocrm", "base_url": root, "token": "tok", "text": "t"},
        },
        {
            "type": "action.crm_task",
            "params": {"crm": "bitrix24", "base_url": f"{root}/rest/1/code/", "text": "t"},
        },
    ]


def _flow(nodes: list[dict]) -> dict:
    out = [{"id": "start", "type": "event.order_created", "params": {}}]
    edges = []
    for i, node in enumerate(nodes):
        out.append({"id": f"a{i}", **node})
        edges.append({"from": "start", "to": f"a{i}"})
    return {"format": "automation-flow/1", "name": "SSRF", "enabled": True, "nodes": out, "edges": edges}


ORDER = {
    "price": 1,
    "client": {"external_id": "c1", "name": "Иван", "email": "ivan@example.com", "phone": "+79001234567"},
}


def _finished_run(client, procs, count: int = 1) -> list[dict]:
    def done():
        runs = client.get("/api/v1/runs?limit=50").get_json()["runs"]
        return (
            runs if len(runs) >= count and all(r["status"] in ("succeeded", "failed") for r in runs) else None
        )

    return wait_for(done, timeout=60, message="the runs to finish\n" + procs.logs())


def test_the_engine_and_the_api_use_the_guarded_session(app):
    from plugin.jobs.worker import make_engine

    runtime = app.extensions["automation"]
    assert isinstance(runtime.services.http, GuardedClient)
    assert isinstance(make_engine(runtime).services.http, GuardedClient)
    assert runtime.services.settings.outbound_allowlist == ("127.0.0.1/32",)


@pytest.mark.slow
def test_every_action_to_a_non_allowlisted_address_fails_in_the_worker_and_never_connects(
    client, procs, canary
):
    nodes, expected = [], {}
    for name, host in SPELLINGS.items():
        for node in _actions("http", host, canary.port):
            expected[f"a{len(nodes)}"] = (node["type"], name)
            nodes.append(node)
    for name, host in SMTP_SPELLINGS.items():
        for node in _actions("smtp", host, canary.port):
            expected[f"a{len(nodes)}"] = (node["type"], name)
            nodes.append(node)
    assert len(nodes) == 24
    response = client.post("/api/v1/flows", json=_flow(nodes))
    assert response.status_code == 201, response.get_data(as_text=True)
    procs.start("worker")
    assert client.put("/api/v1/orders/101", json=ORDER).status_code == 202
    (run,) = _finished_run(client, procs)
    steps = {s["node_id"]: s for s in run["steps"]}
    for node_id, (node_type, spelling) in expected.items():
        step = steps[node_id]
        assert step["status"] == "failed", (node_type, spelling, step)
        assert step["attempts"] == 1, (node_type, spelling, step)  # a refusal is permanent, not retried
        assert "loopback address" in step["error"], (node_type, spelling, step["error"])
        assert "AUTOMATION_OUTBOUND_ALLOWLIST" in step["error"], (node_type, spelling, step["error"])
    assert "smtp-secret" not in str(run)
    assert canary.hits == []
    assert run["status"] == "failed"


def _redirect_to(fake, location: str) -> None:
    fake.force(Reply(302, "", headers={"Location": location}), None)


@pytest.mark.slow
def test_redirects_to_a_non_allowlisted_address_are_not_followed(
    client, procs, canary, fake_receiver, fake_slack, fake_telegram
):
    target = f"http://127.0.0.2:{canary.port}/latest/meta-data/"
    for fake in (fake_receiver, fake_slack, fake_telegram):
        _redirect_to(fake, target)
    nodes = [
        {"type": "action.webhook", "params": {"url": fake_receiver.url + "/h"}},
        {
            "type": "action.slack",
            "params": {"text": "t", "webhook_url": fake_slack.url + "/services/T1/B1/x"},
        },
        {
            "type": "action.telegram",
            "params": {"bot_token": "1:AA", "chat_id": 1, "text": "t", "base_url": fake_telegram.url},
        },
    ]
    assert client.post("/api/v1/flows", json=_flow(nodes)).status_code == 201
    procs.start("worker")
    assert client.put("/api/v1/orders/102", json=ORDER).status_code == 202
    (run,) = _finished_run(client, procs)
    for step in run["steps"][1:]:
        assert step["status"] == "failed", step
        assert "redirect not followed" in step["error"], step
    for fake in (fake_receiver, fake_slack, fake_telegram):
        assert len(fake.requests) == 1  # asked once, answered 302, not retried
    assert canary.hits == []


def test_a_direct_node_call_is_guarded_too(client, canary):
    for host in SPELLINGS.values():
        body = {"params": {"url": f"http://{host}:{canary.port}/x"}, "context": {}}
        response = client.post("/api/v1/nodes/action.webhook/execute", json=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        result = response.get_json()
        assert result["status"] == "failed" and "loopback address" in result["error"], result
    body = {
        "params": {**_actions("smtp", "127.0.0.2", canary.port)[0]["params"]},
        "context": {"client": {"email": "a@example.com"}},
    }
    result = client.post("/api/v1/nodes/action.email/execute", json=body).get_json()
    assert result["status"] == "failed" and "loopback address" in result["error"], result
    assert canary.hits == []


def test_the_allowlisted_address_itself_still_works(client, fake_receiver):
    body = {"params": {"url": fake_receiver.url + "/ok"}, "context": {"order": {"id": "1"}}}
    result = client.post("/api/v1/nodes/action.webhook/execute", json=body).get_json()
    assert result["status"] == "succeeded", result
    assert len(fake_receiver.deliveries) == 1
