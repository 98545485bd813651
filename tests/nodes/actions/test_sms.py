"""action.sms against the SMS.ru and Twilio fakes: phone normalisation, per-number results, errors, caps."""

from __future__ import annotations

import base64

import pytest

from plugin.nodes.actions import sms
from plugin.nodes.base import SECRET_PLACEHOLDER, PermanentError, RetryableError, Skip
from tests.fakes.fixtures import make_services, sample_context


def smsru_params(fake, **extra):
    return {
        "provider": "smsru",
        "api_id": "SMSRU-API-ID",
        "text": "Заказ 100 принят",
        "sender": "SHOP",
        "base_url": fake.url,
        **extra,
    }


def twilio_params(fake, **extra):
    return {
        "provider": "twilio",
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "sender": "+15005550006",
        "text": "Заказ 100 принят",
        "base_url": fake.url,
        **extra,
    }


def with_phone(phone):
    return sample_context(client={"external_id": "2", "name": "Иван", "phone": phone})


# SMS.ru


def test_smsru_sends_digits_without_plus_by_form_post(fake_smsru, make_action_call):
    out = sms.execute(make_action_call(smsru_params(fake_smsru), sample_context()))

    assert fake_smsru.sent == [
        {"to": "79123456789", "msg": "Заказ 100 принят", "from": "SHOP", "sms_id": out["sms_id"]}
    ]
    assert out == {"provider": "smsru", "sms_id": "000001-10000000"}
    req = fake_smsru.requests[-1]
    assert req.method == "POST" and req.path == "/sms/send"
    assert req.content_type == "application/x-www-form-urlencoded"
    assert req.form_first() == {
        "api_id": "SMSRU-API-ID",
        "to": "79123456789",
        "msg": "Заказ 100 принят",
        "json": "1",
        "from": "SHOP",
    }


@pytest.mark.parametrize("phone", ["8 (912) 345-67-89", "+7 912 345-67-89", "79123456789", "9123456789"])
def test_russian_phone_spellings_normalise_to_one_number(fake_smsru, make_action_call, phone):
    sms.execute(make_action_call(smsru_params(fake_smsru), with_phone(phone)))
    assert fake_smsru.sent[0]["to"] == "79123456789"


def test_no_sender_sends_no_from_field(fake_smsru, make_action_call):
    sms.execute(make_action_call(smsru_params(fake_smsru, sender=""), sample_context()))
    assert "from" not in fake_smsru.requests[-1].form_first()


@pytest.mark.parametrize(
    "client", [None, {"external_id": "2", "phone": None}, {"external_id": "2", "phone": " "}]
)
def test_no_phone_is_skipped(fake_smsru, make_action_call, client):
    with pytest.raises(Skip, match="client has no phone"):
        sms.execute(make_action_call(smsru_params(fake_smsru), sample_context(client=client)))
    assert fake_smsru.requests == []


@pytest.mark.parametrize("phone", ["8916123456", "not a phone", "+7 (000) 000"])
def test_invalid_phone_is_skipped(fake_smsru, make_action_call, phone):
    with pytest.raises(Skip, match="invalid phone"):
        sms.execute(make_action_call(smsru_params(fake_smsru), with_phone(phone)))
    assert fake_smsru.requests == []


def test_wrong_api_id_is_permanent(fake_smsru, make_action_call):
    with pytest.raises(PermanentError, match="Неправильный api_id") as err:
        sms.execute(make_action_call(smsru_params(fake_smsru, api_id="wrong"), sample_context()))
    assert err.value.status == 200


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (207, PermanentError),
        (209, PermanentError),
        (202, PermanentError),
        (220, RetryableError),
        (500, RetryableError),
        (999, PermanentError),
    ],
)
def test_per_number_status_code_decides(fake_smsru, make_action_call, code, error):
    fake_smsru.fail_number("79123456789", code)
    with pytest.raises(error) as err:
        sms.execute(make_action_call(smsru_params(fake_smsru), sample_context()))
    assert err.value.status == code


@pytest.mark.parametrize(
    ("code", "error"), [(201, PermanentError), (220, RetryableError), (500, RetryableError)]
)
def test_request_level_status_code_decides(fake_smsru, make_action_call, code, error):
    fake_smsru.fail_request(code)
    with pytest.raises(error) as err:
        sms.execute(make_action_call(smsru_params(fake_smsru), sample_context()))
    assert err.value.status == code


def test_identical_text_within_a_minute_is_refused(fake_smsru, make_action_call):
    sms.execute(make_action_call(smsru_params(fake_smsru), sample_context()))
    with pytest.raises(PermanentError, match="231"):
        sms.execute(make_action_call(smsru_params(fake_smsru), sample_context()))
    assert len(fake_smsru.sent) == 1


def test_smsru_preview_masks_the_api_id(make_action_call):
    out = sms.preview(
        make_action_call({"provider": "smsru", "api_id": "real-key", "text": "Привет"}, sample_context())
    )
    assert out == {
        "method": "POST",
        "url": "https://sms.ru/sms/send",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "body": {"api_id": SECRET_PLACEHOLDER, "to": "79123456789", "msg": "Привет", "json": "1"},
    }


# Twilio


def test_twilio_creates_a_message_with_basic_auth(fake_twilio, make_action_call):
    out = sms.execute(make_action_call(twilio_params(fake_twilio), sample_context()))

    [message] = fake_twilio.messages
    assert out == {"provider": "twilio", "sid": message["sid"]}
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    assert (message["to"], message["from"], message["body"]) == (
        "+79123456789",
        "+15005550006",
        "Заказ 100 принят",
    )
    req = fake_twilio.requests[-1]
    assert req.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert req.content_type == "application/x-www-form-urlencoded"
    expected = base64.b64encode(f"{fake_twilio.account_sid}:{fake_twilio.auth_token}".encode()).decode()
    assert req.headers["authorization"] == f"Basic {expected}"


def test_messaging_service_sender(fake_twilio, make_action_call):
    service_sid = "MG" + "a" * 32
    sms.execute(make_action_call(twilio_params(fake_twilio, sender=service_sid), sample_context()))
    assert fake_twilio.messages[0]["messaging_service_sid"] == service_sid
    assert "From" not in fake_twilio.requests[-1].form_first()


def test_twilio_bad_credentials_are_permanent(fake_twilio, make_action_call):
    with pytest.raises(PermanentError, match="20003") as err:
        sms.execute(make_action_call(twilio_params(fake_twilio, auth_token="nope"), sample_context()))
    assert err.value.status == 401


def test_twilio_429_is_retryable(fake_twilio, make_action_call):
    fake_twilio.throttle(retry_after="4")
    with pytest.raises(RetryableError, match="20429") as err:
        sms.execute(make_action_call(twilio_params(fake_twilio), sample_context()))
    assert err.value.status == 429 and err.value.retry_after == 4.0


def test_twilio_unsubscribed_recipient_is_permanent(fake_twilio, make_action_call):
    fake_twilio.fail(400, 21610, "Attempt to send to unsubscribed recipient")
    with pytest.raises(PermanentError, match="21610 Attempt to send to unsubscribed recipient"):
        sms.execute(make_action_call(twilio_params(fake_twilio), sample_context()))


def test_twilio_server_error_is_retryable(fake_twilio, make_action_call):
    fake_twilio.fail(503, 20500, "Service unavailable")
    with pytest.raises(RetryableError):
        sms.execute(make_action_call(twilio_params(fake_twilio), sample_context()))


def test_twilio_body_over_1600_is_refused(fake_twilio, make_action_call):
    with pytest.raises(PermanentError, match="21617"):
        sms.execute(make_action_call(twilio_params(fake_twilio, text="я" * 1601), sample_context()))


def test_twilio_without_sender_fails_before_calling(fake_twilio, make_action_call):
    with pytest.raises(PermanentError, match="sender"):
        sms.execute(make_action_call(twilio_params(fake_twilio, sender=""), sample_context()))
    assert fake_twilio.requests == []


def test_twilio_preview_masks_the_auth_token(fake_twilio, make_action_call):
    out = sms.preview(make_action_call(twilio_params(fake_twilio), sample_context()))
    assert out["url"] == f"{fake_twilio.url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    assert out["headers"]["Authorization"] == f"Basic {SECRET_PLACEHOLDER}"
    assert out["body"] == {"To": "+79123456789", "Body": "Заказ 100 принят", "From": "+15005550006"}
    assert fake_twilio.auth_token not in repr(out)


# caps


def test_sms_cap_per_client(fake_twilio, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, sms_cap_per_client=2)
    for _ in range(2):
        sms.execute(make_action_call(twilio_params(fake_twilio), sample_context(), services=services))
    with pytest.raises(Skip, match="SMS cap of 2"):
        sms.execute(make_action_call(twilio_params(fake_twilio), sample_context(), services=services))
    assert len(fake_twilio.messages) == 2


def test_sms_permanent_failure_releases_the_slot(fake_twilio, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, sms_cap_per_client=1)
    fake_twilio.fail(400, 21610, "Attempt to send to unsubscribed recipient")
    with pytest.raises(PermanentError):
        sms.execute(make_action_call(twilio_params(fake_twilio), sample_context(), services=services))
    sms.execute(make_action_call(twilio_params(fake_twilio), sample_context(), services=services))
    assert len(fake_twilio.messages) == 1


def test_email_and_sms_caps_are_separate(fake_twilio, make_action_call, limits_redis):
    from plugin.nodes._services import limits

    services = make_services(redis=limits_redis, sms_cap_per_client=1)
    assert limits.reserve(services, "email", "id:2", "other-run", 1)
    sms.execute(make_action_call(twilio_params(fake_twilio), sample_context(), services=services))
    assert len(fake_twilio.messages) == 1
