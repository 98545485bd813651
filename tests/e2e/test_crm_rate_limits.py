"""action.crm_task under the CRMs' documented rate limits, through the real path: HTTP ingest →
RQ workers → the amoCRM / Bitrix24 fakes (which answer 429 / 503 above the limit).

Every new deal gets its task exactly once, every run succeeds, lookups stay at one per deal at
most, and the workers stay free for other flows while the CRM account is saturated.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow

TEXT = "Позвонить по сделке {order_id}"


def crm_flow(params: dict, name: str = "Новая сделка → Задача в CRM") -> dict:
    return {
        "format": "automation-flow/1",
        "name": name,
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "task", "type": "action.crm_task", "params": params},
        ],
        "edges": [{"from": "start", "to": "task"}],
    }


def new_deals(api: Api, first: int, count: int) -> None:
    items = [{"type": "order", "data": {"id": str(i), "price": i}} for i in range(first, first + count)]
    for start in range(0, len(items), 1000):
        r = api.post("/api/v1/batch", json={"items": items[start : start + 1000]})
        assert r.status_code == 202, r.text


def runs_of(api: Api, flow_id: str) -> list[dict]:
    return api.get(f"/api/v1/runs?flow_id={flow_id}&limit=500").json()["runs"]


def amo_setup(fake, count: int, lookup: bool) -> dict:
    for lead in range(1, count + 1):
        fake.add_lead(lead, responsible_user_id=5000 + lead % 3)
    params = {"crm": "amocrm", "base_url": fake.url, "token": "amo-long-lived-token", "text": TEXT}
    if not lookup:
        params["responsible_user_id"] = 42
    return params


def b24_setup(fake, count: int, lookup: bool) -> dict:
    for deal in range(1, count + 1):
        fake.add_deal(deal, assigned_by_id=(1, 7, 42)[deal % 3])
    params = {"crm": "bitrix24", "base_url": fake.webhook_url, "text": TEXT}
    if not lookup:
        params["responsible_user_id"] = 42
    return params


def tasks_per_deal(crm: str, fake) -> Counter:
    if crm == "amocrm":
        return Counter(str(t["entity_id"]) for t in fake.tasks)
    return Counter(link[2:] for t in fake.tasks for link in t["ufCrmTask"])


def calls(crm: str, fake) -> Counter:
    """What the CRM was asked: lookups of the deal, task lookups, creates, and refusals."""
    out: Counter = Counter()
    for req in fake.requests:
        if crm == "amocrm":
            kind = {("GET", True): "deal", ("GET", False): "task_list", ("POST", False): "create"}.get(
                (req.method, req.path.startswith("/api/v4/leads/")), "other"
            )
        else:
            method = req.path.rsplit("/", 1)[-1].removesuffix(".json")
            kind = {"crm.deal.get": "deal", "tasks.task.list": "task_list", "tasks.task.add": "create"}.get(
                method, "other"
            )
        out[kind] += 1
    out["refused"] = fake.refused
    return out


CASES = [
    # the reproduction: 10 new deals, a fixed responsible user (7 tasks, 3 runs stuck before)
    pytest.param("amocrm", 10, False, id="amocrm-10-fixed"),
    # a lookup of the lead's responsible user per deal: 120 requests at 7/s
    pytest.param("amocrm", 60, True, id="amocrm-60-lookup"),
    # Bitrix24: a burst of 50, then 2/s; 40 deals with lookups are 80 requests
    pytest.param("bitrix24", 40, True, id="bitrix24-40-lookup"),
]


def delivered(fake_receiver, probe: str) -> bool:
    return any((d.payload.get("event") or {}).get("id") == probe for d in fake_receiver.deliveries)


def start_processes(procs, api: Api, fake_receiver, redis_url: str) -> None:
    """Two workers and the scheduler, up and delivering before the deals come: the probes measure
    what the CRM backlog does to other flows, not the processes' start-up (their imports alone
    take 5-10 s on a loaded 2-core machine, which the first probe used to measure)."""
    import redis as redis_lib
    from rq import Worker

    for _ in range(2):
        procs.start("worker")
    procs.start("scheduler")
    client = redis_lib.Redis.from_url(redis_url)
    try:
        wait_for(
            lambda: Worker.count(connection=client) == 2, timeout=60, message="two workers\n" + procs.logs()
        )
    finally:
        client.close()
    assert api.post("/api/v1/events", json={"id": "probe-0", "name": "probe"}).status_code == 202
    wait_for(lambda: delivered(fake_receiver, "probe-0"), timeout=60, message="probe 0\n" + procs.logs())


@pytest.mark.parametrize(("crm", "count", "lookup"), CASES)
def test_every_new_deal_gets_its_task_exactly_once(
    live, procs, redis_url, fake_amocrm, fake_bitrix24, fake_receiver, crm, count, lookup
):
    fake = fake_amocrm if crm == "amocrm" else fake_bitrix24
    if crm == "amocrm":
        params = amo_setup(fake, count, lookup)
    else:
        params = b24_setup(fake, count, lookup)
    api = Api(live.url)
    r = api.post("/api/v1/flows", json=crm_flow(params))
    assert r.status_code == 201, r.text
    flow_id = r.json()["id"]
    # an unrelated flow: its events must not wait behind the CRM's queue
    hook = webhook_flow(fake_receiver.url + "/h", event="event.custom", name="Unrelated")
    assert api.post("/api/v1/flows", json=hook).status_code == 201
    start_processes(procs, api, fake_receiver, redis_url)

    started = time.monotonic()
    new_deals(api, 1, count)
    latencies = []
    budget = count * (2 if lookup else 1) / (7 if crm == "amocrm" else 2) + 60
    deadline = time.monotonic() + budget
    probe = 0
    while time.monotonic() < deadline:
        runs = runs_of(api, flow_id)
        if len(runs) == count and all(run["status"] in ("succeeded", "failed") for run in runs):
            break
        probe += 1  # while the CRM account is saturated, an unrelated event is delivered promptly
        sent = time.monotonic()
        assert api.post("/api/v1/events", json={"id": f"probe-{probe}", "name": "probe"}).status_code == 202
        wait_for(
            lambda p=probe: delivered(fake_receiver, f"probe-{p}"),
            timeout=30,
            message=f"probe {probe} to be delivered\n" + procs.logs(),
        )
        latencies.append(time.monotonic() - sent)
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    runs = runs_of(api, flow_id)
    statuses = Counter(run["status"] for run in runs)
    seen = calls(crm, fake)
    report = (
        f"{crm} {count} deals in {elapsed:.1f} s: runs {dict(statuses)}, calls {dict(seen)}, probes "
        f"max {max(latencies, default=0):.2f} s"
    )
    print(report)
    assert statuses == {"succeeded": count}, report + "\n" + procs.logs()
    per_deal = tasks_per_deal(crm, fake)
    assert per_deal == Counter({str(i): 1 for i in range(1, count + 1)}), report
    assert seen["deal"] <= (count if lookup else 0) + seen["refused"], report  # about one lookup per deal
    assert seen["task_list"] == 0, report  # no create was ever ambiguous: never a "did it go?" lookup
    # our own limiter keeps within the CRM's: it counts the sends themselves, so the booked slots
    # RQ's scheduler resumes late (up to a second or two) no longer go out together (when they
    # did, 9-15 of 60 were refused). A refusal can still come from a request held up between its
    # count and its arrival on a loaded machine (2 of 60 in one of 20 runs at load average 8);
    # each is retried at its Retry-After, and every task is still created once (asserted above)
    assert seen["refused"] <= max(3, count // 12), report
    if latencies:
        assert max(latencies) < 10.0, (
            report
        )  # measured 1–5 s on a loaded 2-core machine; the captured workers of the issue: ~50 s


def test_direct_call_answers_promptly_while_the_account_is_rate_limited(live, fake_amocrm, app):
    """The account's limiter is booked 30 s ahead (by the workers' sends): a direct node call is
    told when to try again at once, and sends nothing."""
    fake_amocrm.add_lead(100, responsible_user_id=5001)
    from plugin.nodes._services import limits

    redis_url = app.config["REDIS_URL"]
    import redis as redis_lib

    client = redis_lib.Redis.from_url(redis_url)
    seconds, micros = client.time()
    key = limits.rate_key("amocrm", limits.account(fake_amocrm.url))
    client.set(key, seconds * 1000 + micros // 1000 + 30_000, px=60_000)
    api = Api(live.url)
    body = {
        "params": {
            "crm": "amocrm",
            "base_url": fake_amocrm.url,
            "token": "amo-long-lived-token",
            "text": "t",
        },
        "context": {"order": {"id": "100"}},
    }
    started = time.monotonic()
    r = api.post("/api/v1/nodes/action.crm_task/execute", json=body)
    took = time.monotonic() - started
    assert r.status_code == 200, r.text
    assert took < 2.0, took
    answer = r.json()
    assert answer["status"] == "failed" and "rate limited: try again in" in answer["error"], answer
    assert 25 <= float(answer["error"].split("try again in ")[1].split()[0]) <= 31, answer
    assert fake_amocrm.requests == []
    client.close()
