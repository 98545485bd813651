"""Caps and rate limits hold across two worker processes, each with its own Redis connection."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from plugin.nodes._services import limits
from plugin.nodes.base import Deferred
from tests.fakes.fixtures import make_services, sample_context
from tests.fakes.workers import run_action

BASE_SETTINGS = {
    "http_timeout": 5.0,
    "smtp_timeout": 5.0,
    "smtp_verify_tls": False,
    "outbound_allowlist": ("127.0.0.1",),
}


def run_in_two_processes(redis_url, settings, action, params, context, per_process):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(
            target=run_action,
            args=(
                redis_url,
                settings,
                action,
                params,
                context,
                f"worker{i}",
                per_process,
                barrier,
                results,
            ),
        )
        for i in range(2)
    ]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    return outcomes


def test_email_cap_is_shared_by_two_workers(fake_smtp, limits_redis):
    settings = {**BASE_SETTINGS, "email_cap_per_client": 5}
    params = {
        "smtp_host": "127.0.0.1",
        "smtp_port": fake_smtp.ssl_port,
        "security": "ssl",
        "username": fake_smtp.login,
        "password": fake_smtp.password,
        "from_email": "sender@example.ru",
        "subject": "Привет",
        "html": "<p>Привет</p>",
    }
    outcomes = run_in_two_processes(
        limits_redis.lease_url, settings, "email", params, sample_context(), per_process=4
    )

    flat = [o for worker in outcomes for o in worker]
    assert sorted(flat) == ["ok"] * 5 + ["skipped"] * 3, outcomes
    assert len(fake_smtp.messages) == 5


def test_slack_rate_limit_is_shared_by_two_workers(fake_slack, limits_redis):
    # one post per 5 s to one webhook: of four simultaneous posts from two processes exactly one goes out
    settings = {**BASE_SETTINGS, "extra": {"rate_limits": {"slack": {"rate": 0.2, "burst": 1}}}}
    params = {"webhook_url": fake_slack.hook_url, "text": "Новый заказ"}
    outcomes = run_in_two_processes(
        limits_redis.lease_url, settings, "slack", params, sample_context(), per_process=2
    )

    flat = [o for worker in outcomes for o in worker]
    assert sorted(flat) == ["deferred"] * 3 + ["ok"], outcomes
    assert fake_slack.messages == ["Новый заказ"]


def test_sms_cap_is_shared_by_two_workers(fake_twilio, limits_redis):
    settings = {**BASE_SETTINGS, "sms_cap_per_client": 3}
    params = {
        "provider": "twilio",
        "account_sid": fake_twilio.account_sid,
        "auth_token": fake_twilio.auth_token,
        "sender": "+15005550006",
        "text": "Привет",
        "base_url": fake_twilio.url,
    }
    outcomes = run_in_two_processes(
        limits_redis.lease_url, settings, "sms", params, sample_context(), per_process=3
    )

    flat = [o for worker in outcomes for o in worker]
    assert sorted(flat) == ["ok"] * 3 + ["skipped"] * 3, outcomes
    assert len(fake_twilio.messages) == 3


def test_without_redis_limits_are_not_enforced():
    services = make_services(redis=None, email_cap_per_client=0)
    assert limits.reserve(services, "email", "id:2", "run-1", cap=0)
    for _ in range(10):
        limits.throttle(services, "slack", "https://hooks.slack.com/services/T/B/X")


def test_bucket_allows_its_burst_then_defers_by_the_interval(limits_redis):
    services = make_services(
        redis=limits_redis, extra={"rate_limits": {"telegram": {"rate": 0.1, "burst": 3}}}
    )
    for _ in range(3):
        limits.throttle(services, "telegram", "chat-1")
    with pytest.raises(Deferred) as err:
        limits.throttle(services, "telegram", "chat-1")
    assert 9.0 < err.value.seconds <= 10.0
    limits.throttle(services, "telegram", "chat-2")  # another destination has its own bucket
    assert not any(b"chat" in key for key in limits_redis.keys("*"))  # destinations are hashed


def test_cap_window_slides(limits_redis):
    services = make_services(redis=limits_redis, cap_window_seconds=1)
    assert limits.reserve(services, "sms", "id:2", "run-1", cap=1)
    assert not limits.reserve(services, "sms", "id:2", "run-2", cap=1)
    time.sleep(1.1)
    assert limits.reserve(services, "sms", "id:2", "run-2", cap=1)
