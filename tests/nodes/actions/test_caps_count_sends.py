"""The per-client caps (AUTOMATION_SMS_CAP / AUTOMATION_EMAIL_CAP) count only sends that went out:
a failed send — for good or to be retried — gives its slot back (the fake SMS.ru answering
errors, then ok; the fake SMTP refusing, then accepting)."""

from __future__ import annotations

import pytest

from plugin.nodes._services import limits
from plugin.nodes.actions import email, sms
from plugin.nodes.base import PermanentError, RetryableError, Skip
from tests.fakes.fixtures import make_services, sample_context
from tests.nodes.actions.test_email import params as email_params
from tests.nodes.actions.test_sms import smsru_params


def _held(redis, channel: str) -> int:
    return redis.zcard(limits._cap_key(channel, "id:2"))


def test_failed_sms_do_not_use_up_the_cap(fake_smsru, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, sms_cap_per_client=2)
    fake_smsru.fail_request(220, times=5)  # «service temporarily unavailable»: retryable
    fake_smsru.fail_request(201)  # «insufficient balance»: final
    for _ in range(5):
        with pytest.raises(RetryableError):
            sms.execute(make_action_call(smsru_params(fake_smsru), sample_context(), services=services))
    with pytest.raises(PermanentError):
        sms.execute(make_action_call(smsru_params(fake_smsru), sample_context(), services=services))
    assert _held(limits_redis, "sms") == 0 and fake_smsru.sent == []

    for text in ("первое", "второе"):  # SMS.ru answers ok again: the cap of 2 is whole
        sms.execute(
            make_action_call(smsru_params(fake_smsru, text=text), sample_context(), services=services)
        )
    with pytest.raises(Skip, match="SMS cap of 2"):
        sms.execute(
            make_action_call(smsru_params(fake_smsru, text="третье"), sample_context(), services=services)
        )
    assert [m["msg"] for m in fake_smsru.sent] == ["первое", "второе"]


def test_a_retried_step_books_again_and_keeps_one_slot(fake_smsru, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, sms_cap_per_client=1)
    fake_smsru.fail_request(500)
    call = make_action_call(smsru_params(fake_smsru), sample_context(), services=services, run_id="run-1")
    with pytest.raises(RetryableError):
        sms.execute(call)
    assert _held(limits_redis, "sms") == 0
    retry = make_action_call(
        smsru_params(fake_smsru), sample_context(), services=services, run_id="run-1", attempt=2
    )
    sms.execute(retry)
    assert _held(limits_redis, "sms") == 1 and len(fake_smsru.sent) == 1
    with pytest.raises(Skip):  # the slot is the sent one's: another run is capped
        sms.execute(
            make_action_call(smsru_params(fake_smsru, text="ещё"), sample_context(), services=services)
        )


def test_a_refused_email_does_not_use_up_the_cap(fake_smtp, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, email_cap_per_client=1)
    fake_smtp.fail("rcpt", "451 4.3.0 Try again later")
    with pytest.raises(RetryableError):
        email.execute(make_action_call(email_params(fake_smtp, "none"), sample_context(), services=services))
    assert _held(limits_redis, "email") == 0
    email.execute(make_action_call(email_params(fake_smtp, "none"), sample_context(), services=services))
    assert len(fake_smtp.messages) == 1
