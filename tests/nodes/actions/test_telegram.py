"""action.telegram against the fake Bot API: HTML mode, truncation, error envelope, 429, rate limits."""

from __future__ import annotations

import pytest

from plugin.nodes._services.telegram import truncate
from plugin.nodes.actions import telegram
from plugin.nodes.base import SECRET_PLACEHOLDER, Deferred, PermanentError, RetryableError
from tests.fakes.fixtures import make_services
from tests.fakes.telegram import parse_html

TOKEN = "123456:ABC-DEF_ghi"


def params(fake, text="<b>Новый заказ</b> 100 от Иван Петров", chat_id="100200300", **extra):
    return {"bot_token": TOKEN, "chat_id": chat_id, "text": text, "base_url": fake.url, **extra}


def test_sends_html_message(fake_telegram, make_action_call):
    out = telegram.execute(make_action_call(params(fake_telegram)))

    assert out == {"message_id": 156}
    req = fake_telegram.requests[-1]
    assert req.path == f"/bot{TOKEN}/sendMessage" and req.content_type == "application/json"
    assert req.json() == {
        "chat_id": 100200300,
        "text": "<b>Новый заказ</b> 100 от Иван Петров",
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    assert fake_telegram.sent[0]["text"] == "Новый заказ 100 от Иван Петров"


def test_channel_username_is_sent_as_a_string(fake_telegram, make_action_call):
    telegram.execute(make_action_call(params(fake_telegram, chat_id="@news")))
    assert fake_telegram.requests[-1].json()["chat_id"] == "@news"


def test_values_escaped_by_the_engine_reach_the_chat_literally(fake_telegram, make_action_call):
    # {client_name} = "<script> & Co" rendered by the engine for HTML mode
    telegram.execute(make_action_call(params(fake_telegram, text="Клиент: <i>&lt;script&gt; &amp; Co</i>")))
    assert fake_telegram.sent[0]["text"] == "Клиент: <script> & Co"


def test_unescaped_angle_bracket_is_refused_by_telegram(fake_telegram, make_action_call):
    with pytest.raises(PermanentError, match="can't parse entities") as err:
        telegram.execute(make_action_call(params(fake_telegram, text="5 < 6")))
    assert err.value.status == 400


def test_long_text_is_truncated_at_a_safe_point(fake_telegram, make_action_call):
    text = "<b>" + "Заказ &amp; " * 500 + "</b>"
    telegram.execute(make_action_call(params(fake_telegram, text=text)))
    sent = fake_telegram.requests[-1].json()["text"]
    assert len(sent) <= 4096 and sent.endswith("…</b>")
    assert parse_html(sent)  # balanced and no half entity
    assert not sent[: -len("…</b>")].endswith(("&", "&a", "&am", "&amp"))


@pytest.mark.parametrize("cut_inside", ["&amp;", "&#8212;", '<a href="https://example.com/x">'])
def test_truncation_never_cuts_inside_an_entity_or_tag(cut_inside):
    text = "x" * 4090 + cut_inside + "tail" * 10 + ("</a>" if cut_inside.startswith("<a") else "")
    out = truncate(text)
    assert len(out) <= 4096 and out.startswith("x" * 4000)
    assert out[4090:].startswith("…") or out[4090:].startswith(cut_inside)
    parse_html(out)


def test_short_text_is_untouched():
    assert truncate("<b>ok</b>") == "<b>ok</b>"


def test_unknown_token_is_permanent_and_not_leaked(fake_telegram, make_action_call):
    with pytest.raises(PermanentError, match="Unauthorized") as err:
        telegram.execute(make_action_call(params(fake_telegram, bot_token="999:WRONG")))
    assert err.value.status == 401 and "WRONG" not in str(err.value)


def test_unknown_chat_is_permanent(fake_telegram, make_action_call):
    with pytest.raises(PermanentError, match="chat not found"):
        telegram.execute(make_action_call(params(fake_telegram, chat_id="1")))


def test_blocked_bot_is_permanent(fake_telegram, make_action_call):
    fake_telegram.block("100200300")
    with pytest.raises(PermanentError, match="blocked by the user") as err:
        telegram.execute(make_action_call(params(fake_telegram)))
    assert err.value.status == 403


def test_migrated_group_names_the_new_chat(fake_telegram, make_action_call):
    fake_telegram.migrate("-1001234567890", -1009999)
    with pytest.raises(PermanentError, match="-1009999"):
        telegram.execute(make_action_call(params(fake_telegram, chat_id="-1001234567890")))


def test_429_uses_parameters_retry_after(fake_telegram, make_action_call):
    fake_telegram.throttle(retry_after=35)
    with pytest.raises(RetryableError, match="Too Many Requests") as err:
        telegram.execute(make_action_call(params(fake_telegram)))
    assert err.value.status == 429 and err.value.retry_after == 35


def test_fake_limits_each_chat_to_one_per_second(fake_telegram, make_action_call):
    statuses = []
    for _ in range(5):
        try:
            telegram.execute(make_action_call(params(fake_telegram)))
            statuses.append(200)
        except RetryableError as exc:
            statuses.append((exc.status, exc.retry_after))
    assert statuses[:3] == [200, 200, 200] and (429, 1) in statuses[3:]
    telegram.execute(make_action_call(params(fake_telegram, chat_id="@news")))  # another chat is not limited


def test_our_rate_limit_is_per_chat(fake_telegram, make_action_call, limits_redis):
    services = make_services(redis=limits_redis)
    telegram.execute(make_action_call(params(fake_telegram), services=services))
    with pytest.raises(Deferred):
        telegram.execute(make_action_call(params(fake_telegram), services=services))
    telegram.execute(make_action_call(params(fake_telegram, chat_id="@news"), services=services))
    assert len(fake_telegram.sent) == 2


def test_preview_masks_the_token(make_action_call):
    out = telegram.preview(make_action_call({"bot_token": TOKEN, "chat_id": "100200300", "text": "Привет"}))
    assert out == {
        "method": "POST",
        "url": f"https://api.telegram.org/bot{SECRET_PLACEHOLDER}/sendMessage",
        "headers": {"Content-Type": "application/json"},
        "body": {
            "chat_id": 100200300,
            "text": "Привет",
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        },
    }
