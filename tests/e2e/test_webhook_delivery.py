"""The real path: HTTP ingest → database → Redis → RQ worker process → a local webhook receiver."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def stack(live, procs, fake_receiver):
    procs.start("worker")
    api = Api(live.url)
    # timings below are measured from a running worker, not from a process still booting
    wait_for(
        lambda: api.get("/api/v1/health").json()["workers"] >= 1, timeout=30, message="the worker to register"
    )
    return api, fake_receiver, procs


def test_order_upsert_delivers_exact_payload_once(stack):
    api, receiver, procs = stack
    flow = webhook_flow(
        receiver.url + "/hook",
        secret=SECRET,
        name="Новая сделка → webhook",
        conditions=[("condition.order_price", {"operator": "gt", "value": 10000})],
    )
    created = api.post("/api/v1/flows", json=flow)
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    assert (
        api.put(
            "/api/v1/clients/2",
            json={"name": "Test Client", "phone": "79012223344", "email": "test@client.com"},
        ).status_code
        == 202
    )
    assert (
        api.post(
            "/api/v1/visits",
            json={
                "id": "12345",
                "ip": "123.45.67.89",
                "marker": "test_page_post",
                "city": "Москва",
                "country": "Россия",
                "referrer": "testpage.com",
                "domain": "site.com",
                "landing_page": "site.com/test/page",
                "client_id": "2",
            },
        ).status_code
        == 202
    )
    started = time.monotonic()
    r = api.put(
        "/api/v1/orders/100",
        json={"price": 12000, "cost": 100, "status": "Новая", "client_id": "2", "visit_id": "12345"},
    )
    assert r.status_code == 202, r.text
    wait_for(lambda: receiver.deliveries, timeout=10, message="the webhook delivery\n" + procs.logs())
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"delivered after {elapsed:.2f} s"
    delivery = receiver.deliveries[0]
    assert delivery.payload == {
        "event_type": "order_created",
        "script_id": flow_id,
        "script_name": "Новая сделка → webhook",
        "visit": {
            "id": "12345",
            "ip": "123.45.67.89",
            "marker": "test_page_post",
            "city": "Москва",
            "country": "Россия",
            "referrer": "testpage.com",
            "domain": "site.com",
            "landing_page": "site.com/test/page",
            "utm_source": None,
            "utm_medium": None,
            "utm_campaign": None,
            "utm_term": None,
            "utm_content": None,
            "roistat_param_1": None,
            "roistat_param_2": None,
            "roistat_param_3": None,
            "roistat_param_4": None,
            "roistat_param_5": None,
        },
        "order": {"id": "100", "price": 12000, "cost": 100, "status": "Новая"},
        "client": {
            "external_id": "2",
            "name": "Test Client",
            "company": None,
            "phone": "79012223344",
            "email": "test@client.com",
        },
    }
    assert not receiver.rejections, receiver.rejections  # the receiver verified the signature

    # the same upsert again changes nothing → fires nothing; a non-matching order fires nothing
    assert (
        api.put(
            "/api/v1/orders/100",
            json={"price": 12000, "cost": 100, "status": "Новая", "client_id": "2", "visit_id": "12345"},
        ).json()["events"]
        == 0
    )
    assert api.put("/api/v1/orders/101", json={"price": 500, "status": "Новая"}).status_code == 202
    time.sleep(1.5)
    assert len(receiver.deliveries) == 1
    assert sum(receiver.duplicates.values()) == 0

    listed = api.get("/api/v1/flows").json()["flows"]
    assert [f["stats"]["triggered"] for f in listed if f["id"] == flow_id] == [1]
    runs = api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"]
    assert len(runs) == 1 and runs[0]["status"] == "succeeded" and runs[0]["order_id"] == "100"
    steps = {s["node_id"]: s for s in runs[0]["steps"]}
    assert steps["c0"]["verdict"] is True
    assert steps["hook"]["status"] == "succeeded" and steps["hook"]["attempts"] == 1
    assert SECRET not in str(runs)


def test_retry_on_503_then_success_keeps_one_webhook_id(stack):
    api, receiver, procs = stack
    receiver.respond_with(503, 503)
    flow_id = api.post("/api/v1/flows", json=webhook_flow(receiver.url + "/h")).json()["id"]
    api.put("/api/v1/orders/200", json={"price": 1})
    wait_for(lambda: receiver.deliveries, timeout=20, message="delivery after retries\n" + procs.logs())
    attempts = [r for r in receiver.requests if r.path == "/h"]
    assert len(attempts) == 3
    assert len({r.headers["webhook-id"] for r in attempts}) == 1
    assert len(receiver.deliveries) == 1
    run = wait_for(
        lambda: [
            r for r in api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"] if r["status"] == "succeeded"
        ],
        message="run succeeded",
    )[0]
    hook = next(s for s in run["steps"] if s["node_id"] == "hook")
    assert hook["attempts"] == 3


def test_400_fails_at_once_and_manual_retry_replays(stack):
    api, receiver, procs = stack
    receiver.respond_with(400)
    flow_id = api.post("/api/v1/flows", json=webhook_flow(receiver.url + "/h")).json()["id"]
    api.put("/api/v1/orders/300", json={"price": 1})
    run = wait_for(
        lambda: [
            r for r in api.get(f"/api/v1/runs?flow_id={flow_id}").json()["runs"] if r["status"] == "failed"
        ],
        timeout=10,
        message="failed run\n" + procs.logs(),
    )[0]
    hook = next(s for s in run["steps"] if s["node_id"] == "hook")
    assert hook["attempts"] == 1 and "400" in hook["error"]
    assert api.get("/api/v1/flows").json()["flows"][0]["stats"]["failed"] == 1
    assert api.post(f"/api/v1/runs/{run['id']}/retry").status_code == 202
    wait_for(lambda: receiver.deliveries, timeout=10, message="delivery after manual retry")
    assert len([r for r in receiver.requests if r.path == "/h"]) == 2


def test_429_retry_after_is_honoured(stack):
    api, receiver, procs = stack
    receiver.throttle(retry_after="2")
    api.post("/api/v1/flows", json=webhook_flow(receiver.url + "/h"))
    api.put("/api/v1/orders/400", json={"price": 1})
    wait_for(lambda: receiver.deliveries, timeout=15, message="delivery after 429\n" + procs.logs())
    attempts = [r for r in receiver.requests if r.path == "/h"]
    assert len(attempts) == 2
    gap = attempts[1].received_at - attempts[0].received_at
    assert 1.9 <= gap <= 4.0, gap
