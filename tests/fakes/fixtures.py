"""Pytest fixtures for the fakes, action services and the shared Redis (import with ``*`` in a conftest)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from plugin.nodes._services import Services, Settings
from plugin.nodes.base import ActionCall
from tests.fakes.amocrm import FakeAmoCRM
from tests.fakes.bitrix24 import FakeBitrix24
from tests.fakes.receiver import FakeReceiver
from tests.fakes.slack import FakeSlack
from tests.fakes.smsru import FakeSmsRu
from tests.fakes.smtp import FakeSMTP
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio

__all__ = [
    "fake_amocrm",
    "fake_bitrix24",
    "fake_receiver",
    "fake_slack",
    "fake_smsru",
    "fake_smtp",
    "fake_telegram",
    "fake_twilio",
    "limits_redis",
    "make_action_call",
    "make_services",
    "sample_context",
]


def make_services(redis: Any = None, **settings: Any) -> Services:
    """Services for action tests: the product's guarded HTTP client, loopback allowed (the fakes live there)."""
    base = {
        "http_timeout": 5.0,
        "smtp_timeout": 5.0,
        "smtp_verify_tls": False,
        "outbound_allowlist": ("127.0.0.1",),
    }
    return Services(settings=Settings(**{**base, **settings}), redis=redis)


_runs = itertools.count(1)


@pytest.fixture
def make_action_call():
    """``make_action_call(params, context=..., services=...)`` → an :class:`ActionCall` with a fresh run id."""

    def make(
        params: dict[str, Any],
        context: dict[str, Any] | None = None,
        *,
        services: Services | None = None,
        event_type: str = "order_created",
        flow: dict[str, Any] | None = None,
        run_id: str | None = None,
        node_id: str = "action-1",
        attempt: int = 1,
        state: dict[str, Any] | None = None,
    ) -> ActionCall:
        base_context = {"visit": None, "order": None, "client": None, "event": None}
        return ActionCall(
            params=params,
            context={**base_context, **(context or {})},
            run_id=run_id or f"run{next(_runs)}",
            node_id=node_id,
            flow=flow or {"id": "19", "name": "Тестовый сценарий"},
            event_type=event_type,
            attempt=attempt,
            state=state if state is not None else {},
            services=services or make_services(),
        )

    return make


@pytest.fixture
def limits_redis() -> Iterator[Any]:
    """The real Redis: a database leased for this test (as ``redis_url``), flushed before and after.

    Its URL is ``limits_redis.lease_url`` (for worker processes of the test).
    """
    import redis

    from tests.conftest import leased_redis_db

    with leased_redis_db() as url:
        client = redis.Redis.from_url(url)
        client.lease_url = url
        yield client
        client.close()


def _serve(fake):
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    yield from _serve(FakeSlack())


@pytest.fixture
def fake_receiver() -> Iterator[FakeReceiver]:
    yield from _serve(FakeReceiver())


@pytest.fixture
def fake_amocrm() -> Iterator[FakeAmoCRM]:
    yield from _serve(FakeAmoCRM())


@pytest.fixture
def fake_bitrix24() -> Iterator[FakeBitrix24]:
    yield from _serve(FakeBitrix24())


@pytest.fixture
def fake_smsru() -> Iterator[FakeSmsRu]:
    yield from _serve(FakeSmsRu())


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    yield from _serve(FakeTwilio())


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    yield from _serve(FakeTelegram())


@pytest.fixture
def fake_smtp() -> Iterator[FakeSMTP]:
    yield from _serve(FakeSMTP())


def sample_context(**overrides: Any) -> dict[str, Any]:
    """A full order context (visit, order, client) in the engine's shape; ``overrides`` replace parts."""
    context: dict[str, Any] = {
        "visit": {
            "id": 12345,
            "ip": "123.45.67.89",
            "marker": "test_page_post",
            "city": "Москва",
            "country": "Россия",
            "referrer": "testpage.com",
            "domain": "site.com",
            "landing_page": "site.com/test/page",
            "utm_source": "yandex",
            "utm_medium": None,
            "utm_campaign": None,
            "utm_term": None,
            "utm_content": None,
            "roistat_param_1": "p1",
            "roistat_param_2": None,
            "roistat_param_3": None,
            "roistat_param_4": None,
            "roistat_param_5": None,
            "created_at": "2026-01-01T10:00:00Z",
            "client_id": "2",
        },
        "order": {
            "id": "100",
            "price": 120,
            "cost": 100,
            "status": "Новая",
            "status_group": "in_work",
            "responsible_user_id": None,
            "fields": {},
        },
        "client": {
            "external_id": "2",
            "name": "Иван Петров",
            "company": None,
            "phone": "8 (912) 345-67-89",
            "email": "ivan@example.com",
            "fields": {},
        },
        "event": None,
    }
    context.update(overrides)
    return context
