"""action.slack against the fake Slack webhook: success, errors, rate limits, secrecy of the URL, preview."""

from __future__ import annotations

import pytest

from plugin.nodes.actions import slack
from plugin.nodes.base import SECRET_PLACEHOLDER, Deferred, PermanentError, RetryableError
from tests.fakes._http import Reply
from tests.fakes.fixtures import make_services, sample_context
from tests.fakes.slack import HOOK_PATH


def params(fake, text="Новый заказ 100 от Иван Петров"):
    return {"webhook_url": fake.hook_url, "text": text}


def assert_secret_hidden(exc: Exception) -> None:
    assert HOOK_PATH.rsplit("/", 1)[-1] not in str(exc)
    assert "/services/" not in str(exc)


def test_posts_text_and_reports_status(fake_slack, make_action_call):
    out = slack.execute(make_action_call(params(fake_slack), sample_context()))

    assert out == {"status": 200}
    assert fake_slack.messages == ["Новый заказ 100 от Иван Петров"]
    req = fake_slack.requests[-1]
    assert req.method == "POST" and req.content_type == "application/json"
    assert req.json() == {"text": "Новый заказ 100 от Иван Петров"}


def test_text_escaped_by_the_engine_is_sent_as_is(fake_slack, make_action_call):
    # The engine renders {client_name} = "<!channel> & co" as "&lt;!channel&gt; &amp; co"; no double escaping.
    text = "Клиент: &lt;!channel&gt; &amp; co <https://example.com|заказ>"
    slack.execute(make_action_call(params(fake_slack, text)))
    assert fake_slack.messages == [text]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("channel_is_archived", 410),
        ("no_service", 404),
        ("channel_not_found", 404),
        ("action_prohibited", 403),
    ],
)
def test_documented_errors_are_permanent_and_name_only_the_host(fake_slack, make_action_call, code, status):
    fake_slack.fail(code)
    with pytest.raises(PermanentError) as err:
        slack.execute(make_action_call(params(fake_slack)))
    assert err.value.status == status
    assert code in str(err.value) and f"127.0.0.1:{fake_slack.port}" in str(err.value)
    assert_secret_hidden(err.value)


def test_unknown_hook_path_is_no_service(fake_slack, make_action_call):
    p = {"webhook_url": fake_slack.url + "/services/T0/B0/wrong", "text": "x"}
    with pytest.raises(PermanentError, match="no_service"):
        slack.execute(make_action_call(p))


def test_empty_text_is_refused_by_slack_as_no_text(fake_slack, make_action_call):
    with pytest.raises(PermanentError, match="no_text"):
        slack.execute(make_action_call(params(fake_slack, "")))


def test_rate_limited_answer_is_retryable_with_retry_after(fake_slack, make_action_call):
    fake_slack.throttle(retry_after=3)
    with pytest.raises(RetryableError) as err:
        slack.execute(make_action_call(params(fake_slack)))
    assert err.value.status == 429 and err.value.retry_after == 3.0


def test_fake_enforces_one_per_second_with_a_burst(fake_slack, make_action_call):
    outcomes = []
    for _ in range(5):
        try:
            slack.execute(make_action_call(params(fake_slack)))
            outcomes.append("ok")
        except RetryableError as exc:
            outcomes.append(exc.retry_after)
    assert outcomes[:3] == ["ok", "ok", "ok"]
    assert 1.0 in outcomes[3:]


def test_server_error_is_retryable(fake_slack, make_action_call):
    fake_slack.fail("rollup_error")
    with pytest.raises(RetryableError, match="rollup_error") as err:
        slack.execute(make_action_call(params(fake_slack)))
    assert err.value.status == 500


def test_redirect_is_not_followed(fake_slack, make_action_call):
    fake_slack.force(Reply(302, "", headers={"Location": "http://169.254.169.254/"}))
    with pytest.raises(PermanentError, match="redirect not followed"):
        slack.execute(make_action_call(params(fake_slack)))
    assert len(fake_slack.requests) == 1


def test_timeout_is_retryable_and_hides_the_url(fake_slack, make_action_call):
    fake_slack.force(Reply(200, "ok", delay=1.5))
    call = make_action_call(params(fake_slack), services=make_services(http_timeout=0.3))
    with pytest.raises(RetryableError, match="timed out") as err:
        slack.execute(call)
    assert_secret_hidden(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_connection_refused_is_retryable(make_action_call):
    p = {"webhook_url": "http://127.0.0.1:9" + HOOK_PATH, "text": "x"}
    with pytest.raises(RetryableError, match="cannot connect") as err:
        slack.execute(make_action_call(p))
    assert_secret_hidden(err.value)


def test_our_rate_limit_defers_the_second_post_to_the_same_hook(fake_slack, make_action_call, limits_redis):
    services = make_services(redis=limits_redis)
    slack.execute(make_action_call(params(fake_slack), services=services))
    with pytest.raises(Deferred) as err:
        slack.execute(make_action_call(params(fake_slack), services=services))
    assert 0 < err.value.seconds <= 1.0
    assert len(fake_slack.messages) == 1


def test_preview_masks_the_webhook_url(fake_slack, make_action_call):
    out = slack.preview(make_action_call(params(fake_slack)))
    assert out == {
        "method": "POST",
        "url": f"http://127.0.0.1:{fake_slack.port}/{SECRET_PLACEHOLDER}",
        "headers": {"Content-Type": "application/json"},
        "body": {"text": "Новый заказ 100 от Иван Петров"},
    }
    assert fake_slack.requests == []


def test_200_without_ok_is_not_success(fake_slack, make_action_call):
    fake_slack.force(Reply(200, "<html>login page</html>"))
    with pytest.raises(PermanentError, match="unexpected answer"):
        slack.execute(make_action_call(params(fake_slack)))
