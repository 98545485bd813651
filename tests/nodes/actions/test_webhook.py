"""action.webhook against the fake Standard Webhooks receiver: SPEC §5 payload, signatures, delivery semantics."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from email.utils import formatdate
from time import time

import pytest
from standardwebhooks.webhooks import Webhook

from plugin.nodes._services import webhooks
from plugin.nodes.actions import webhook
from plugin.nodes.base import SECRET_PLACEHOLDER, PermanentError, RetryableError
from tests.conftest import ROOT
from tests.fakes.fixtures import make_services, sample_context
from tests.fakes.receiver import FakeReceiver, expected_signature

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

EXPECTED_PAYLOAD = {
    "event_type": "order_created",
    "script_id": "19",
    "script_name": "Тестовый сценарий",
    "visit": {
        "id": "12345",
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
    },
    "order": {"id": "100", "price": 120, "cost": 100, "status": "Новая"},
    "client": {
        "external_id": "2",
        "name": "Иван Петров",
        "company": None,
        "phone": "8 (912) 345-67-89",
        "email": "ivan@example.com",
    },
}


@pytest.fixture
def receiver():
    fake = FakeReceiver(secret=SECRET)
    fake.start()
    yield fake
    fake.stop()


def test_test_vector_of_the_spec():
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert webhooks.sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
    assert expected_signature(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body) == expected


def test_delivers_the_exact_spec_payload_signed(receiver, make_action_call):
    call = make_action_call({"url": receiver.url + "/hook", "signing_secret": SECRET}, sample_context())
    out = webhook.execute(call)

    assert out["status"] == 200
    [delivery] = receiver.deliveries
    assert delivery.payload == EXPECTED_PAYLOAD
    assert list(delivery.payload) == ["event_type", "script_id", "script_name", "visit", "order", "client"]
    assert list(delivery.payload["visit"]) == list(EXPECTED_PAYLOAD["visit"])
    # one compact UTF-8 serialisation, exactly what was signed
    assert delivery.raw == json.dumps(EXPECTED_PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode()
    assert "Иван".encode() in delivery.raw
    headers = delivery.request.headers
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == f"msg_{call.run_id}-{call.node_id}" == out["webhook_id"]
    assert abs(int(headers["webhook-timestamp"]) - time()) < 5
    # the reference library agrees with the fake's independent check
    assert Webhook(SECRET).verify(delivery.raw, headers) == EXPECTED_PAYLOAD


def test_a_plain_string_secret_is_used_as_utf8_bytes(make_action_call):
    with FakeReceiver(secret="мой секрет") as receiver:
        webhook.execute(
            make_action_call({"url": receiver.url, "signing_secret": "мой секрет"}, sample_context())
        )
        assert len(receiver.deliveries) == 1 and receiver.rejections == []


def test_without_secret_there_is_no_signature(fake_receiver, make_action_call):
    webhook.execute(make_action_call({"url": fake_receiver.url}, sample_context()))
    [delivery] = fake_receiver.deliveries
    assert "webhook-signature" not in delivery.request.headers


def test_wrong_secret_is_rejected_by_the_receiver_as_permanent(receiver, make_action_call):
    call = make_action_call({"url": receiver.url, "signing_secret": "whsec_" + "QUJD" * 8}, sample_context())
    with pytest.raises(PermanentError) as err:
        webhook.execute(call)
    assert err.value.status == 401
    assert receiver.rejections[0][0] == "no matching signature"


def test_retries_keep_the_webhook_id_so_the_receiver_dedupes(receiver, make_action_call):
    first = make_action_call({"url": receiver.url, "signing_secret": SECRET}, sample_context(), run_id="r42")
    retry = make_action_call(
        {"url": receiver.url, "signing_secret": SECRET}, sample_context(), run_id="r42", attempt=2
    )
    webhook.execute(first)
    webhook.execute(retry)
    assert len(receiver.deliveries) == 1
    assert receiver.duplicates == {"msg_r42-action-1": 1}


def test_webhook_id_never_contains_dots(receiver, make_action_call):
    call = make_action_call(
        {"url": receiver.url, "signing_secret": SECRET}, sample_context(), run_id="a.b", node_id="n.1"
    )
    webhook.execute(call)
    assert receiver.deliveries[0].webhook_id == "msg_a_b-n_1"


def test_custom_event_carries_the_event_object(fake_receiver, make_action_call):
    context = sample_context(order=None, event={"id": 77, "name": "form_sent", "data": {"form": "callback"}})
    webhook.execute(make_action_call({"url": fake_receiver.url}, context, event_type="custom_event"))
    payload = fake_receiver.deliveries[0].payload
    assert payload["event"] == {"id": "77", "meta_id": "form_sent", "data": {"form": "callback"}}
    assert payload["order"] == {"id": None, "price": None, "cost": None, "status": None}


def test_missing_context_gives_nulls(fake_receiver, make_action_call):
    webhook.execute(
        make_action_call(
            {"url": fake_receiver.url}, {}, event_type="visit_created", flow={"id": "", "name": ""}
        )
    )
    payload = fake_receiver.deliveries[0].payload
    assert payload["script_id"] is None and payload["script_name"] is None
    assert set(payload["visit"].values()) == {None} and len(payload["visit"]) == 18
    assert set(payload["client"].values()) == {None}
    assert "event" not in payload


def test_user_headers_are_added_but_cannot_override_ours(receiver, make_action_call):
    headers = {
        "X-Token": "abc",
        "webhook-id": "msg_forged",
        "Content-Type": "text/plain",
        "WEBHOOK-SIGNATURE": "v1,forged",
    }
    call = make_action_call(
        {"url": receiver.url, "signing_secret": SECRET, "headers": headers}, sample_context()
    )
    webhook.execute(call)
    got = receiver.deliveries[0].request.headers
    assert got["x-token"] == "abc"
    assert got["webhook-id"] == f"msg_{call.run_id}-{call.node_id}"
    assert got["content-type"] == "application/json"
    assert "forged" not in got["webhook-signature"]


def test_get_sends_the_payload_as_one_query_parameter(receiver, make_action_call):
    webhook.execute(
        make_action_call({"url": receiver.url, "method": "GET", "signing_secret": SECRET}, sample_context())
    )
    [delivery] = receiver.deliveries
    assert delivery.request.method == "GET" and delivery.request.body == b""
    assert list(delivery.request.query) == ["payload"]
    assert delivery.payload == EXPECTED_PAYLOAD


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_success(make_action_call, status):
    with FakeReceiver(success_status=status) as receiver:
        assert webhook.execute(make_action_call({"url": receiver.url}, sample_context()))["status"] == status


def test_410_means_endpoint_gone(fake_receiver, make_action_call):
    fake_receiver.gone()
    with pytest.raises(PermanentError, match="endpoint gone") as err:
        webhook.execute(make_action_call({"url": fake_receiver.url}, sample_context()))
    assert err.value.status == 410


def test_429_is_retryable_with_retry_after_seconds(fake_receiver, make_action_call):
    fake_receiver.throttle(retry_after="7")
    with pytest.raises(RetryableError) as err:
        webhook.execute(make_action_call({"url": fake_receiver.url}, sample_context()))
    assert err.value.status == 429 and err.value.retry_after == 7.0


def test_503_retry_after_as_http_date(fake_receiver, make_action_call):
    fake_receiver.throttle(retry_after=formatdate(time() + 120, usegmt=True), status=503)
    with pytest.raises(RetryableError) as err:
        webhook.execute(make_action_call({"url": fake_receiver.url}, sample_context()))
    assert 100 < err.value.retry_after <= 120


def test_500_then_success_on_retry(fake_receiver, make_action_call):
    fake_receiver.respond_with(500)
    call = make_action_call({"url": fake_receiver.url}, sample_context())
    with pytest.raises(RetryableError):
        webhook.execute(call)
    webhook.execute(call)
    assert len(fake_receiver.deliveries) == 1 and not fake_receiver.duplicates


def test_other_4xx_is_permanent(fake_receiver, make_action_call):
    fake_receiver.respond_with(422)
    with pytest.raises(PermanentError) as err:
        webhook.execute(make_action_call({"url": fake_receiver.url}, sample_context()))
    assert err.value.status == 422 and "status 422" in str(err.value)


def test_redirect_is_a_failure_and_not_followed(fake_receiver, make_action_call):
    fake_receiver.redirect()
    with pytest.raises(PermanentError, match="redirect not followed"):
        webhook.execute(make_action_call({"url": fake_receiver.url}, sample_context()))
    assert len(fake_receiver.requests) == 1


def test_slow_receiver_times_out_as_retryable(fake_receiver, make_action_call):
    fake_receiver.slow(2.0)
    call = make_action_call(
        {"url": fake_receiver.url}, sample_context(), services=make_services(http_timeout=0.3)
    )
    with pytest.raises(RetryableError, match="timed out"):
        webhook.execute(call)


def test_invalid_whsec_secret_is_permanent(fake_receiver, make_action_call):
    with pytest.raises(PermanentError, match="signing_secret"):
        webhook.execute(make_action_call({"url": fake_receiver.url, "signing_secret": "whsec_***"}))
    assert fake_receiver.requests == []


def test_preview_shows_the_request_with_secrets_masked(make_action_call):
    params = {
        "url": "https://crm.example.com/hook",
        "signing_secret": SECRET,
        "headers": {"Authorization": "Bearer top-secret", "X-Source": "automation"},
    }
    call = make_action_call(params, sample_context())
    out = webhook.preview(call)
    assert out["method"] == "POST" and out["url"] == "https://crm.example.com/hook"
    assert out["body"] == EXPECTED_PAYLOAD
    assert out["headers"]["Authorization"] == SECRET_PLACEHOLDER
    assert out["headers"]["X-Source"] == "automation"
    assert out["headers"]["webhook-signature"] == "v1," + SECRET_PLACEHOLDER
    assert out["headers"]["webhook-id"] == f"msg_{call.run_id}-{call.node_id}"
    assert "top-secret" not in json.dumps(out) and SECRET not in json.dumps(out)


def test_line_break_in_a_user_header_is_permanent(fake_receiver, make_action_call):
    params = {"url": fake_receiver.url, "headers": {"X-Note": "a\r\nX-Injected: 1"}}
    with pytest.raises(PermanentError, match="invalid request"):
        webhook.execute(make_action_call(params, sample_context()))
    assert fake_receiver.requests == []


def test_a_delivery_is_logged_at_debug_only(fake_receiver, make_action_call, caplog):
    """A line per delivered action would flood INFO on a busy site; AUTOMATION_LOG_LEVEL=DEBUG shows it."""
    caplog.set_level(logging.INFO, logger="plugin.nodes.actions.webhook")
    webhook.execute(make_action_call({"url": fake_receiver.url}, sample_context()))
    assert not [r for r in caplog.records if "delivered" in r.getMessage()]
    caplog.set_level(logging.DEBUG, logger="plugin.nodes.actions.webhook")
    out = webhook.execute(make_action_call({"url": fake_receiver.url}, sample_context()))
    [record] = [r for r in caplog.records if "delivered" in r.getMessage()]
    assert record.levelno == logging.DEBUG and out["webhook_id"] in record.getMessage()


def test_the_log_level_setting_is_checked(tmp_path):
    env = {**os.environ, "AUTOMATION_LOG_LEVEL": "loud", "AUTOMATION_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "manifest"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "AUTOMATION_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got 'LOUD'" in done.stderr
