"""The dispatch job stays for LINGER_SECONDS after its last event, is woken by the next one, then ends.

No scheduler runs here, so no sweeper: every delivery below comes from the dispatch path alone,
including events committed exactly as an idle job is giving up (its flag still set).
"""

from __future__ import annotations

import time

import pytest
import redis

from plugin.jobs.queue import DISPATCH_FLAG
from plugin.jobs.worker import LINGER_SECONDS
from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow


@pytest.fixture
def stack(live, procs, fake_receiver, env):
    procs.start("worker")
    api = Api(live.url)
    wait_for(
        lambda: api.get("/api/v1/health").json()["workers"] >= 1, timeout=30, message="the worker to register"
    )
    flow = webhook_flow(fake_receiver.url + "/hook", event="event.custom", event_params={"name": "ping"})
    assert api.post("/api/v1/flows", json=flow).status_code == 201
    return api, fake_receiver, procs, redis.Redis.from_url(env["REDIS_URL"])


def _deliver(api, receiver, procs, n: int, timeout: float) -> float:
    started = time.monotonic()
    assert api.post("/api/v1/events", json={"id": f"ping-{n}", "name": "ping"}).status_code == 202
    wait_for(
        lambda: len(receiver.deliveries) > n,
        timeout=timeout,
        message=f"delivery of event {n}\n" + procs.logs(),
    )
    return time.monotonic() - started


def test_an_idle_dispatch_job_is_woken_at_once_and_then_ends(stack):
    api, receiver, procs, r = stack
    _deliver(api, receiver, procs, 0, timeout=10)  # the first one enqueues the job
    assert r.exists(DISPATCH_FLAG)  # the job is alive, waiting for the next event
    waits = [_deliver(api, receiver, procs, n, timeout=5) for n in range(1, 11)]
    assert max(waits) < 1.0, waits  # woken, not an RQ job start per event
    wait_for(lambda: not r.exists(DISPATCH_FLAG), timeout=LINGER_SECONDS + 5, message="the idle job to end")
    assert _deliver(api, receiver, procs, 11, timeout=5) < 2.0  # no job alive: a new one is enqueued
    assert [d.payload["event"]["id"] for d in receiver.deliveries] == [f"ping-{n}" for n in range(12)]


@pytest.mark.parametrize("offset", [-0.05, 0.0, 0.1])
def test_an_event_at_the_end_of_the_linger_is_not_left_behind(stack, offset):
    """A smoke test of the hand-over (the exact race window is microseconds wide): an event posted
    around the moment the idle job gives up is delivered without any sweeper."""
    api, receiver, procs, _redis = stack
    _deliver(api, receiver, procs, 0, timeout=10)
    time.sleep(max(0.0, LINGER_SECONDS + offset))  # the job is about to give up, or just did
    assert _deliver(api, receiver, procs, 1, timeout=6) < 6
    assert len(receiver.deliveries) == 2


def test_a_dispatch_job_does_not_wait_behind_a_backlog_of_run_jobs(stack, env):
    """Workers take dispatch jobs first (their own queue, served before the runs' queue): with
    thousands of run jobs queued (a rate-limited CRM's backlog), a new event still reaches its
    flow at once. Before, the dispatch job was queued behind them (21 s in bench/crm_rate_limits)."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    from plugin.jobs.queue import JOB_PREFIX

    api, receiver, procs, r = stack
    _deliver(api, receiver, procs, 0, timeout=10)
    wait_for(lambda: not r.exists(DISPATCH_FLAG), timeout=LINGER_SECONDS + 5, message="the idle job to end")
    runs = Queue(env["AUTOMATION_QUEUE"], connection=r, serializer=JSONSerializer)
    backlog = 3000
    with r.pipeline() as pipe:
        for i in range(backlog):  # runs that do not exist: each job is a lookup that finds nothing
            runs.enqueue(JOB_PREFIX + "execute_runs", [f"no-such-run-{i}"], result_ttl=0, pipeline=pipe)
        pipe.execute()
    assert runs.count > backlog // 2
    _deliver(api, receiver, procs, 1, timeout=30)
    assert runs.count > backlog // 3, "the event waited for the backlog of run jobs"
