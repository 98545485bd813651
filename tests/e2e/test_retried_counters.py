"""After a failed run is retried and succeeds, the scenario's counters show it: no failure left."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow


@pytest.fixture
def stack(live, procs, fake_receiver):
    procs.env["AUTOMATION_MAX_ATTEMPTS"] = "2"  # two 500s and the run is failed
    procs.start("worker")
    api = Api(live.url)
    wait_for(
        lambda: api.get("/api/v1/health").json()["workers"] >= 1, timeout=30, message="the worker to register"
    )
    return api, fake_receiver, procs


def _stats(api, flow_id: str) -> dict:
    return next(f for f in api.get("/api/v1/flows").json()["flows"] if f["id"] == flow_id)["stats"]


def test_a_failed_run_retried_successfully_leaves_no_failure_in_the_counters(stack):
    api, receiver, procs = stack
    receiver.respond_with(500, 500)
    flow_id = api.post("/api/v1/flows", json=webhook_flow(receiver.url + "/h")).json()["id"]
    api.put("/api/v1/orders/500", json={"price": 1})
    run = wait_for(
        lambda: api.get(f"/api/v1/runs?flow_id={flow_id}&status=failed").json()["runs"],
        timeout=20,
        message="failed run\n" + procs.logs(),
    )[0]
    assert _stats(api, flow_id)["failed"] == 1
    assert api.get(f"/api/v1/flows/{flow_id}").json()["stats"]["failed"] == 1
    # the receiver answers 200 from now on
    assert api.post(f"/api/v1/runs/{run['id']}/retry").status_code == 202
    wait_for(
        lambda: api.get(f"/api/v1/runs/{run['id']}").json()["status"] == "succeeded",
        timeout=15,
        message="the retried run to succeed\n" + procs.logs(),
    )
    assert len(receiver.deliveries) == 1
    assert _stats(api, flow_id)["failed"] == 0
    assert _stats(api, flow_id)["triggered"] == 1
    assert api.get(f"/api/v1/flows/{flow_id}").json()["stats"]["failed"] == 0
    assert api.get(f"/api/v1/runs?flow_id={flow_id}&status=failed").json()["runs"] == []
    # a second retry of the same run: it is not failed any more
    assert api.post(f"/api/v1/runs/{run['id']}/retry").status_code == 409
    assert _stats(api, flow_id)["failed"] == 0
