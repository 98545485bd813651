"""Calls that outlive the send stage's wait are sent once (issue #15): a real worker (and, for
lapsed leases, the scheduler's sweeper), real PostgreSQL/SQLite and Redis, the channels' fakes
answering late; each fake counts what it was asked to send.

A step whose call may still be in flight must never be sent again: not by the late settler taking
its run on while other calls of the run are still out (every late step of a run sent twice:
duplicate SMS, SMS.ru's 231), nor by the sweeper because a lease lapsed while the late settler was
busy walking another run, or while a long step-by-step walk held its run.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import wait_for
from tests.fakes.receiver import FakeReceiver

PHONE = "+79123456789"
TWILIO_SID, TWILIO_TOKEN = "AC" + "7" * 32, "twilio-late-token"
SMSRU_API_ID = "SMSRU-LATE-API-ID"


def _flow(name: str, actions: list[tuple[str, str, dict]], *, chain: bool = False) -> dict:
    nodes = [{"id": "start", "type": "event.order_created", "params": {}}]
    edges, prev = [], "start"
    for nid, node_type, params in actions:
        nodes.append({"id": nid, "type": node_type, "params": params})
        edges.append({"from": prev if chain else "start", "to": nid})
        prev = nid
    return {"format": "automation-flow/1", "name": name, "enabled": True, "nodes": nodes, "edges": edges}


def _order(client, order_id: str) -> None:
    body = {"price": 10, "client": {"external_id": f"c-{order_id}", "phone": PHONE}}
    assert client.put(f"/api/v1/orders/{order_id}", json=body).status_code == 202


def _finished(client, count: int):
    runs = client.get("/api/v1/runs?limit=50").get_json()["runs"]
    if len(runs) == count and all(r["status"] in ("succeeded", "failed") for r in runs):
        return [client.get(f"/api/v1/runs/{r['id']}").get_json() for r in runs]
    return None


def _attempts(runs: list[dict]) -> dict[str, int]:
    return {s["node_id"]: s["attempts"] for r in runs for s in r["steps"] if s["type"].startswith("action.")}


def _per_webhook_id(*receivers: FakeReceiver) -> Counter:
    return Counter(r.headers["webhook-id"] for fake in receivers for r in fake.requests)


@pytest.mark.slow
def test_the_late_calls_of_one_run_are_each_sent_once(
    client, procs, fake_receiver, fake_slack, fake_twilio, fake_smsru
):
    """Four channels of one run answer after the stage's wait, each later than the one before: the
    first late outcome must not take the run on while the three others are still out."""
    fake_twilio.account_sid, fake_twilio.auth_token = TWILIO_SID, TWILIO_TOKEN
    fake_smsru.api_ids = {SMSRU_API_ID}
    for n, fake in enumerate((fake_receiver, fake_slack, fake_smsru, fake_twilio)):
        fake.answer_after(0.4 * (n + 1))  # a new destination is waited for 0.1 s (sendstage)
    actions = [
        ("hook", "action.webhook", {"url": fake_receiver.url + "/h"}),
        ("slack", "action.slack", {"text": "order {order_id}", "webhook_url": fake_slack.hook_url}),
        (
            "smsru",
            "action.sms",
            {"provider": "smsru", "api_id": SMSRU_API_ID, "text": "ru", "base_url": fake_smsru.url},
        ),
        (
            "twilio",
            "action.sms",
            {
                "provider": "twilio",
                "account_sid": TWILIO_SID,
                "auth_token": TWILIO_TOKEN,
                "sender": "+15005550006",
                "text": "tw",
                "base_url": fake_twilio.url,
            },
        ),
    ]
    assert client.post("/api/v1/flows", json=_flow("Поздние", actions)).status_code == 201
    procs.start("worker")
    _order(client, "1")
    runs = wait_for(lambda: _finished(client, 1), timeout=60, message="the run\n" + procs.logs())
    assert "still in flight are settled when they end" in procs.logs(), "no call was late: proves nothing"

    assert runs[0]["status"] == "succeeded", runs[0]["steps"]
    assert _attempts(runs) == {"hook": 1, "slack": 1, "smsru": 1, "twilio": 1}
    assert list(_per_webhook_id(fake_receiver).values()) == [1]
    assert len(fake_slack.requests) == len(fake_slack.messages) == 1
    assert len(fake_twilio.requests) == len(fake_twilio.messages) == 1
    assert len(fake_smsru.requests) == len(fake_smsru.sent) == 1  # a second one is answered 231


@pytest.mark.slow
def test_no_lease_lapses_while_the_late_settler_is_busy(client, procs):
    """One run's late call takes 9 s; meanwhile the late settler walks another run step by step
    through ten calls of 0.8 s each. Leases are 3 s and the sweeper looks every second: neither
    run's lease may lapse (the late call's run, the walked run), or the sweeper sends again."""
    with FakeReceiver() as quick, FakeReceiver() as slow:
        quick.answer_after(0.8)
        slow.answer_after(9)
        chain = [(f"a{i}", "action.webhook", {"url": quick.url + "/h"}) for i in range(10)]
        assert client.post("/api/v1/flows", json=_flow("Цепочка", chain, chain=True)).status_code == 201
        one = [("hook", "action.webhook", {"url": slow.url + "/h"})]
        assert client.post("/api/v1/flows", json=_flow("Долгий", one)).status_code == 201
        procs.env.update({"AUTOMATION_LEASE_SECONDS": "3", "AUTOMATION_HTTP_TIMEOUT": "30"})
        procs.start("worker")
        procs.start("scheduler")  # the sweeper, every second
        _order(client, "1")
        runs = wait_for(lambda: _finished(client, 2), timeout=90, message="both runs\n" + procs.logs())

        assert [r["status"] for r in runs] == ["succeeded", "succeeded"], procs.logs()
        assert set(_attempts(runs).values()) == {1}, _attempts(runs)
        sent = _per_webhook_id(quick, slow)
        assert len(sent) == 11 and set(sent.values()) == {1}, sent
