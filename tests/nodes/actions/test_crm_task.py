"""action.crm_task against the amoCRM and Bitrix24 fakes, including the ambiguous-timeout retry."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
import requests

from plugin.nodes.actions import crm_task
from plugin.nodes.base import SECRET_PLACEHOLDER, Deferred, PermanentError, RetryableError, Skip
from tests.fakes._http import Reply
from tests.fakes.bitrix24 import FakeBitrix24
from tests.fakes.fixtures import make_services, sample_context

TEXT = "Позвонить клиенту Иван Петров по заказу 100"


def amo_params(fake, **extra):
    return {"crm": "amocrm", "base_url": fake.url, "token": "amo-long-lived-token", "text": TEXT, **extra}


def b24_params(fake, **extra):
    return {"crm": "bitrix24", "base_url": fake.webhook_url, "text": TEXT, **extra}


@pytest.fixture
def amo(fake_amocrm):
    fake_amocrm.add_lead(100, responsible_user_id=5001)
    return fake_amocrm


@pytest.fixture
def b24(fake_bitrix24):
    fake_bitrix24.add_deal(100, assigned_by_id=7)
    return fake_bitrix24


def test_no_order_is_skipped(make_action_call):
    call = make_action_call(
        {"crm": "amocrm", "base_url": "https://x.amocrm.ru", "text": "t", "token": "t"},
        sample_context(order=None),
    )
    with pytest.raises(Skip, match="no order"):
        crm_task.execute(call)


# amoCRM


def test_amocrm_task_on_the_lead_for_its_responsible(amo, make_action_call):
    call = make_action_call(amo_params(amo), sample_context())
    before = int(time.time())
    out = crm_task.execute(call)

    assert out == {"crm": "amocrm", "task_id": 4745251}
    lead_get, create = amo.requests
    assert (lead_get.method, lead_get.path) == ("GET", "/api/v4/leads/100")
    assert create.headers["authorization"] == "Bearer amo-long-lived-token"
    [task] = create.json()
    assert task == {
        "text": TEXT,
        "complete_till": task["complete_till"],
        "entity_id": 100,
        "entity_type": "leads",
        "responsible_user_id": 5001,
        "request_id": call.idempotency_key,
    }
    assert before + 86400 <= task["complete_till"] <= int(time.time()) + 86400
    assert call.state["task_id"] == 4745251 and "pending" not in call.state


def test_amocrm_given_responsible_skips_the_lookup(amo, make_action_call):
    crm_task.execute(
        make_action_call(amo_params(amo, responsible_user_id=77, deadline_days=3), sample_context())
    )
    [create] = amo.requests
    assert create.json()[0]["responsible_user_id"] == 77
    assert amo.tasks[0]["complete_till"] >= int(time.time()) + 3 * 86400 - 5


def test_amocrm_unknown_lead_is_permanent(amo, make_action_call):
    context = sample_context(order={"id": "999", "price": 1})
    with pytest.raises(PermanentError, match="lead not found"):
        crm_task.execute(make_action_call(amo_params(amo), context))
    assert amo.tasks == []


def test_amocrm_bad_token_is_permanent(amo, make_action_call):
    with pytest.raises(PermanentError, match="Invalid user name or password") as err:
        crm_task.execute(make_action_call(amo_params(amo, token="expired"), sample_context()))
    assert err.value.status == 401


def test_amocrm_validation_error_is_permanent_with_details(amo, make_action_call):
    with pytest.raises(PermanentError, match="NotBlank") as err:
        crm_task.execute(make_action_call(amo_params(amo, text="", responsible_user_id=1), sample_context()))
    assert err.value.status == 400


def test_amocrm_non_numeric_lead_id_is_permanent(amo, make_action_call):
    with pytest.raises(PermanentError, match="must be a number"):
        crm_task.execute(make_action_call(amo_params(amo), sample_context(order={"id": "A-100"})))


def test_amocrm_over_seven_per_second_is_429_then_ban_is_403(amo, make_action_call):
    errors = []
    for _ in range(5):  # 2 requests each: the 8th request in the same second is refused
        try:
            crm_task.execute(make_action_call(amo_params(amo), sample_context()))
        except RetryableError as exc:
            errors.append(exc.status)
    assert 429 in errors
    amo.ban()
    with pytest.raises(PermanentError) as err:
        crm_task.execute(make_action_call(amo_params(amo), sample_context()))
    assert err.value.status == 403


def test_amocrm_ambiguous_timeout_creates_exactly_one_task(amo, make_action_call):
    services = make_services(http_timeout=0.5)
    state: dict = {}
    amo.slow_create(1.5)
    with pytest.raises(RetryableError, match="timed out"):
        crm_task.execute(make_action_call(amo_params(amo), sample_context(), services=services, state=state))
    assert len(amo.tasks) == 1 and state["pending"]["text"] == TEXT
    time.sleep(1.2)  # let the slow answer finish (a real retry comes much later)

    out = crm_task.execute(
        make_action_call(amo_params(amo), sample_context(), services=services, state=state, attempt=2)
    )
    assert out == {"crm": "amocrm", "task_id": amo.tasks[0]["id"]}
    assert len(amo.tasks) == 1
    assert [r.method for r in amo.requests] == ["GET", "POST", "GET"]  # lead, create, lookup
    assert amo.requests[-1].query["filter[entity_id][]"] == ["100"]


def test_amocrm_retry_after_a_definite_failure_creates_once(amo, make_action_call):
    state: dict = {}
    amo.add_lead(100)
    call = make_action_call(amo_params(amo, responsible_user_id=5001), sample_context(), state=state)
    amo.force(Reply(502, "Bad Gateway"))
    with pytest.raises(RetryableError):
        crm_task.execute(call)
    deadline = state["deadline"]
    crm_task.execute(
        make_action_call(amo_params(amo, responsible_user_id=5001), sample_context(), state=state, attempt=2)
    )
    assert len(amo.tasks) == 1 and amo.tasks[0]["complete_till"] == deadline


def test_amocrm_does_nothing_once_the_task_is_known(amo, make_action_call):
    out = crm_task.execute(make_action_call(amo_params(amo), sample_context(), state={"task_id": 5}))
    assert out == {"crm": "amocrm", "task_id": 5} and amo.requests == []


def test_amocrm_our_rate_limit_defers(amo, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, extra={"rate_limits": {"amocrm": {"rate": 1, "burst": 1}}})
    state: dict = {}
    with pytest.raises(Deferred):  # the lead lookup took the only token; the create must wait
        crm_task.execute(make_action_call(amo_params(amo), sample_context(), services=services, state=state))
    assert state["responsible_user_id"] == 5001 and amo.tasks == []


def test_amocrm_preview(make_action_call):
    call = make_action_call(
        {
            "crm": "amocrm",
            "base_url": "https://shop.amocrm.ru",
            "token": "secret-token",
            "text": TEXT,
            "responsible_user_id": 9,
        },
        sample_context(),
    )
    out = crm_task.preview(call)
    assert out["method"] == "POST" and out["url"] == "https://shop.amocrm.ru/api/v4/tasks"
    assert out["headers"]["Authorization"] == f"Bearer {SECRET_PLACEHOLDER}"
    assert out["body"][0]["entity_id"] == 100 and out["body"][0]["responsible_user_id"] == 9
    assert out["responsible_lookup"] is False
    assert "secret-token" not in repr(out)


def test_fake_amocrm_serves_both_oauth_grants(fake_amocrm):
    url = fake_amocrm.url + "/oauth2/access_token"
    base = {"client_id": "client-id", "client_secret": "client-secret", "redirect_uri": "https://x"}
    first = requests.post(url, json={**base, "grant_type": "authorization_code", "code": "auth-code"}).json()
    assert first["token_type"] == "Bearer" and first["expires_in"] > 0
    second = requests.post(
        url, json={**base, "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200
    assert second.json()["access_token"] in fake_amocrm.tokens


# Bitrix24


def test_bitrix24_task_linked_to_the_deal_for_its_assignee(b24, make_action_call):
    out = crm_task.execute(
        make_action_call(b24_params(b24, text=TEXT + "\nПодробности в сделке"), sample_context())
    )
    assert out == {"crm": "bitrix24", "task_id": 3711}
    get, add = b24.requests
    assert get.path == "/rest/1/s3cr3tc0de/crm.deal.get.json" and get.json() == {"id": "100"}
    fields = add.json()["fields"]
    assert fields["TITLE"] == TEXT and fields["DESCRIPTION"] == TEXT + "\nПодробности в сделке"
    assert fields["RESPONSIBLE_ID"] == 7 and fields["UF_CRM_TASK"] == ["D_100"]
    deadline = datetime.fromisoformat(fields["DEADLINE"])
    assert deadline.utcoffset() is not None
    assert abs(deadline.timestamp() - (time.time() + 86400)) < 10


def test_bitrix24_given_responsible_skips_the_lookup(b24, make_action_call):
    crm_task.execute(make_action_call(b24_params(b24, responsible_user_id=42), sample_context()))
    assert [r.path.rsplit("/", 1)[-1] for r in b24.requests] == ["tasks.task.add.json"]


def test_bitrix24_unknown_deal_is_permanent(b24, make_action_call):
    with pytest.raises(PermanentError, match="Not found"):
        crm_task.execute(make_action_call(b24_params(b24), sample_context(order={"id": "555"})))


def test_bitrix24_unknown_assignee_is_permanent(b24, make_action_call):
    with pytest.raises(PermanentError, match='"Assignee" field not found'):
        crm_task.execute(make_action_call(b24_params(b24, responsible_user_id=999), sample_context()))


def test_bitrix24_wrong_webhook_code_is_permanent_and_not_leaked(b24, make_action_call):
    p = b24_params(b24, base_url=f"{b24.url}/rest/1/wrongcode/")
    with pytest.raises(PermanentError, match="INVALID_CREDENTIALS") as err:
        crm_task.execute(make_action_call(p, sample_context()))
    assert "wrongcode" not in str(err.value) and err.value.status == 401


def test_bitrix24_query_limit_is_retryable(make_action_call):
    with FakeBitrix24(threshold=1) as fake:
        fake.add_deal(100)
        with pytest.raises(RetryableError, match="QUERY_LIMIT_EXCEEDED") as err:
            crm_task.execute(make_action_call(b24_params(fake), sample_context()))
        assert err.value.status == 503 and fake.tasks == []


def test_bitrix24_ambiguous_timeout_creates_exactly_one_task(b24, make_action_call):
    services = make_services(http_timeout=0.5)
    state: dict = {}
    b24.slow_create(1.5)
    with pytest.raises(RetryableError, match="timed out"):
        crm_task.execute(make_action_call(b24_params(b24), sample_context(), services=services, state=state))
    assert len(b24.tasks) == 1
    time.sleep(1.2)

    out = crm_task.execute(
        make_action_call(b24_params(b24), sample_context(), services=services, state=state, attempt=2)
    )
    assert out == {"crm": "bitrix24", "task_id": 3711} and len(b24.tasks) == 1
    lookup = b24.requests[-1]
    assert lookup.path.endswith("tasks.task.list.json")
    assert lookup.json()["filter"] == {"UF_CRM_TASK": "D_100", "TITLE": TEXT}


def test_bitrix24_accepts_form_encoded_calls_too(b24):
    resp = requests.post(
        b24.webhook_url + "tasks.task.add",
        data={"fields[TITLE]": "Форма", "fields[RESPONSIBLE_ID]": "1", "fields[UF_CRM_TASK][]": "D_100"},
    )
    assert resp.json()["result"]["task"]["ufCrmTask"] == ["D_100"]
    assert resp.json()["result"]["task"]["id"] == "3711"


def test_bitrix24_preview_masks_the_webhook(b24, make_action_call):
    out = crm_task.preview(make_action_call(b24_params(b24), sample_context()))
    assert out["url"] == f"http://127.0.0.1:{b24.port}/{SECRET_PLACEHOLDER}/tasks.task.add.json"
    assert out["body"]["fields"]["UF_CRM_TASK"] == ["D_100"] and out["responsible_lookup"] is True
    assert "s3cr3tc0de" not in repr(out)
    assert b24.requests == []


# Rate limits: one booked slot per request, nothing marked "possibly sent" before it may go out


@pytest.mark.parametrize("crm", ["amocrm", "bitrix24"])
def test_a_create_deferred_by_our_limiter_is_not_possibly_sent(crm, amo, b24, make_action_call, limits_redis):
    """The lookup took the account's only token; the create waits for a booked slot. It was never
    sent, so its retry creates at once: no lookup of "did it go?", no second deal lookup."""
    fake = amo if crm == "amocrm" else b24
    params = amo_params(amo) if crm == "amocrm" else b24_params(b24)
    services = make_services(redis=limits_redis, extra={"rate_limits": {crm: {"rate": 2, "burst": 1}}})
    state: dict = {}
    with pytest.raises(Deferred) as deferred:
        crm_task.execute(make_action_call(params, sample_context(), services=services, state=state))
    assert "pending" not in state and state["rate_slot"] and fake.tasks == []
    assert 1.0 < deferred.value.seconds <= 1.1  # booked past the engine's in-place wait: rescheduled
    time.sleep(deferred.value.seconds)
    out = crm_task.execute(
        make_action_call(params, sample_context(), services=services, state=state, attempt=1)
    )
    assert out["task_id"] == (amo.tasks[0]["id"] if crm == "amocrm" else 3711)
    assert len(fake.tasks) == 1 and len(fake.requests) == 2  # the deal's lookup, the create


def test_waiting_creates_book_successive_slots(amo, make_action_call, limits_redis):
    """Three deals at once against 2/s: the second's slot is booked 1.1 s ahead (past the engine's
    in-place wait), the third's half a second after it (its own slot, not the same moment as the
    second's: a backlog comes back spread out). Back together at the third's time (the second
    late), they do not go out at once: one waits for the sends' next place, half a second at
    most, with its slot kept."""
    services = make_services(redis=limits_redis, extra={"rate_limits": {"amocrm": {"rate": 2, "burst": 1}}})
    waits, states = [], []
    for lead in (100, 101, 102):
        amo.add_lead(lead)
        states.append({})
        call = make_action_call(
            amo_params(amo, responsible_user_id=5001),
            sample_context(order={"id": str(lead)}),
            services=services,
            state=states[-1],
        )
        try:
            crm_task.execute(call)
            waits.append(0.0)
        except Deferred as exc:
            waits.append(exc.seconds)
    assert waits[0] == 0.0 and 1.0 < waits[1] <= 1.1 and 1.5 < waits[2] <= 1.6, waits
    time.sleep(waits[2])
    for lead, state in zip((101, 102), states[1:], strict=True):
        slot = state["rate_slot"]
        while True:  # as the engine does: a short wait is slept in place, then the step tries again
            call = make_action_call(
                amo_params(amo, responsible_user_id=5001),
                sample_context(order={"id": str(lead)}),
                services=services,
                state=state,
            )
            try:
                crm_task.execute(call)
                break
            except Deferred as exc:
                assert exc.seconds <= 0.5 and state["rate_slot"] == slot, (exc.seconds, state)
                time.sleep(exc.seconds)
    assert sorted(t["entity_id"] for t in amo.tasks) == [100, 101, 102] and len(amo.requests) == 3


def test_a_429_from_the_crm_is_retried_after_its_retry_after_without_a_lookup(make_action_call):
    """amoCRM's own limit refused the create (429 + Retry-After): nothing was created, so the
    retry, when the CRM said, creates once and looks nothing up."""
    from tests.fakes.amocrm import FakeAmoCRM

    with FakeAmoCRM(rate=1, burst=1) as fake:
        fake.add_lead(100)
        fake.add_lead(101)
        crm_task.execute(make_action_call(amo_params(fake, responsible_user_id=5001), sample_context()))
        state: dict = {}
        params = amo_params(fake, responsible_user_id=5001)
        context = sample_context(order={"id": "101"})
        with pytest.raises(RetryableError) as err:
            crm_task.execute(make_action_call(params, context, state=state))
        assert err.value.status == 429 and err.value.retry_after == 1.0 and fake.refused == 1
        assert "pending" not in state
        time.sleep(err.value.retry_after)
        crm_task.execute(make_action_call(params, context, state=state, attempt=2))
        assert [t["entity_id"] for t in fake.tasks] == [100, 101]
        assert [r.method for r in fake.requests] == ["POST", "POST", "POST"]


def test_bitrix24_query_limit_is_retried_in_a_second_without_a_lookup(make_action_call):
    with FakeBitrix24(threshold=1) as fake:
        fake.add_deal(100)
        state: dict = {}
        params = b24_params(fake, responsible_user_id=42)
        crm_task.execute(make_action_call(params, sample_context(order={"id": "100"})))
        with pytest.raises(RetryableError) as err:
            crm_task.execute(make_action_call(params, sample_context(), state=state))
        assert err.value.retry_after == 1.0 and "pending" not in state and fake.refused == 1
        time.sleep(0.6)  # the bucket drains 2/s
        crm_task.execute(make_action_call(params, sample_context(), state=state, attempt=2))
        methods = [r.path.rsplit("/", 1)[-1] for r in fake.requests]
        assert methods == ["tasks.task.add.json"] * 3 and len(fake.tasks) == 2


@pytest.mark.parametrize("crm", ["amocrm", "bitrix24"])
def test_the_deals_responsible_is_looked_up_once_for_every_run(crm, amo, b24, make_action_call, limits_redis):
    fake = amo if crm == "amocrm" else b24
    params = amo_params(amo) if crm == "amocrm" else b24_params(b24)
    services = make_services(redis=limits_redis)
    for _ in range(3):  # three runs (flows, or the same flow again) on one deal
        crm_task.execute(make_action_call(params, sample_context(), services=services))
    assert len(fake.tasks) == 3 and len(fake.requests) == 4  # one lookup, three creates


def test_the_limit_counts_per_account_whatever_the_spelling():
    from plugin.nodes._services.limits import account

    assert account("https://Shop.amocrm.ru/") == account("https://shop.amocrm.ru:443") == "shop.amocrm.ru"
    # Bitrix24 counts per portal: two inbound webhooks of one portal share its bucket
    assert account("https://x.bitrix24.ru/rest/1/aaa/") == account("https://x.bitrix24.ru/rest/7/bbb/")
    assert account("http://127.0.0.1:8080/rest/1/c/") == "127.0.0.1:8080"
