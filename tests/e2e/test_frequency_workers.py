"""A frequency rule with two RQ worker processes dispatching at once: 40 visits of one client,
posted from four threads, to a «не чаще 3 раз на клиента за 24 ч» scenario → exactly 3
deliveries and 37 runs ``suppressed``."""

from __future__ import annotations

import threading

from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow


def test_two_workers_let_exactly_the_limit_through(live, procs, fake_receiver):
    api = Api(live.url)
    flow = webhook_flow(fake_receiver.url + "/h", event="event.visit_created", name="Повторный визит")
    flow["settings"] = {"frequency": {"per": "client", "limit": 3, "window_hours": 24}}
    flow_id = api.post("/api/v1/flows", json=flow).json()["id"]
    assert api.put("/api/v1/clients/c1", json={"name": "Анна"}).status_code == 202
    procs.start("worker")
    procs.start("worker")

    def post(start: int) -> None:
        own = Api(live.url)
        for i in range(start, start + 10):
            assert own.post("/api/v1/visits", json={"id": f"v{i}", "client_id": "c1"}).status_code == 202

    threads = [threading.Thread(target=post, args=(n * 10,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    def finished() -> list[dict]:
        runs = api.get(f"/api/v1/runs?flow_id={flow_id}&limit=100").json()["runs"]
        return runs if len(runs) == 40 and all(r["finished_at"] for r in runs) else []

    runs = wait_for(finished, timeout=60, message="40 finished runs\n" + procs.logs())
    statuses = sorted(r["status"] for r in runs)
    assert statuses == ["succeeded"] * 3 + ["suppressed"] * 37
    assert len(fake_receiver.deliveries) == 3
    assert api.get(f"/api/v1/flows/{flow_id}").json()["stats"]["suppressed"] == 37
