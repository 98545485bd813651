"""action.email against the aiosmtpd fake: implicit TLS, STARTTLS, plain; message parsed back; caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.nodes.actions import email as email_action
from plugin.nodes.base import SECRET_PLACEHOLDER, PermanentError, RetryableError, Skip
from tests.fakes.fixtures import make_services, sample_context

TILDA = Path(__file__).resolve().parents[2] / "fixtures" / "tilda_email.html"
SIMPLE_HTML = (
    "<!DOCTYPE html><html><head><style>.t-emailBlock { padding: 0 }</style></head><body>"
    '<div>Здравствуйте, Иван Петров!</div><p>Ваш заказ принят. <a href="https://example.ru/o/100">Статус</a></p>'
    "</body></html>"
)


def params(fake, security="ssl", html=SIMPLE_HTML, **extra):
    port = {"ssl": fake.ssl_port, "starttls": fake.starttls_port, "none": fake.plain_port}[security]
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": security,
        "username": fake.login,
        "password": fake.password,
        "from_email": "sender@example.ru",
        "from_name": "Школа Маркетинга",
        "subject": "Ваша заявка принята — спасибо!",
        "html": html,
        **extra,
    }


@pytest.mark.parametrize("security", ["ssl", "starttls", "none"])
def test_sends_a_multipart_letter_that_parses_back(fake_smtp, make_action_call, security):
    call = make_action_call(params(fake_smtp, security), sample_context())
    out = email_action.execute(call)

    [got] = fake_smtp.messages
    msg = got.message
    assert got.tls is (security != "none") and got.login == "sender@example.ru"
    assert got.rcpt_tos == ["ivan@example.com"] and got.mail_from == "sender@example.ru"
    assert msg["Subject"] == "Ваша заявка принята — спасибо!"
    assert msg["From"].addresses[0].display_name == "Школа Маркетинга"
    assert msg["From"].addresses[0].addr_spec == "sender@example.ru"
    assert msg["To"].addresses[0].display_name == "Иван Петров"
    assert msg["To"].addresses[0].addr_spec == "ivan@example.com"
    assert msg["Message-ID"] == f"<{call.run_id}-{call.node_id}@example.ru>" == out["message_id"]
    assert msg["Date"] is not None
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg.get_body(("html",)).get_content() == SIMPLE_HTML
    text = msg.get_body(("plain",)).get_content()
    assert "Здравствуйте, Иван Петров!" in text and "Статус (https://example.ru/o/100)" in text
    assert "t-emailBlock" not in text and "<" not in text
    # the raw headers are RFC 2047 encoded, never raw UTF-8
    assert b"=?utf-8?" in got.raw.split(b"\r\n\r\n", 1)[0]


def test_tilda_document_survives_byte_for_byte(fake_smtp, make_action_call):
    html = TILDA.read_text(encoding="utf-8")
    email_action.execute(make_action_call(params(fake_smtp, html=html), sample_context()))

    msg = fake_smtp.messages[0].message
    html_part = msg.get_body(("html",))
    assert html_part.get_content() == html
    assert html_part.get_payload(decode=True) == TILDA.read_bytes()
    assert html.count("<html") == 1 and html_part.get_content().count("<html") == 1
    text = msg.get_body(("plain",)).get_content()
    assert "Здравствуйте, Иван Петров & коллеги!" in text
    assert "Подробнее о курсе (https://school.example.ru/course?utm_source=email&utm_medium=trigger)" in text
    assert "ExternalClass" not in text and "@media" not in text


def test_message_id_is_stable_across_retries(fake_smtp, make_action_call):
    for attempt in (1, 2):
        email_action.execute(
            make_action_call(params(fake_smtp), sample_context(), run_id="run-7", attempt=attempt)
        )
    ids = {m.message["Message-ID"] for m in fake_smtp.messages}
    assert ids == {"<run-7-action-1@example.ru>"}


def test_verification_on_rejects_the_self_signed_certificate(fake_smtp, make_action_call):
    services = make_services(smtp_verify_tls=True)
    for security in ("ssl", "starttls"):
        with pytest.raises(PermanentError, match="not trusted"):
            email_action.execute(
                make_action_call(params(fake_smtp, security), sample_context(), services=services)
            )
    assert fake_smtp.messages == []


def test_verification_on_accepts_a_configured_ca(fake_smtp, make_action_call, tmp_path):
    services = make_services(smtp_verify_tls=True, extra={"smtp_ca_file": fake_smtp.ca_file(tmp_path)})
    for security in ("ssl", "starttls"):
        email_action.execute(
            make_action_call(params(fake_smtp, security), sample_context(), services=services)
        )
    assert len(fake_smtp.messages) == 2


@pytest.mark.parametrize(
    "client", [None, {"external_id": "2", "name": "Иван", "email": None}, {"external_id": "2", "email": "  "}]
)
def test_client_without_email_is_skipped(fake_smtp, make_action_call, client):
    with pytest.raises(Skip, match="client has no email"):
        email_action.execute(make_action_call(params(fake_smtp), sample_context(client=client)))
    assert fake_smtp.messages == []


@pytest.mark.parametrize("field", ["subject", "from_name"])
def test_line_break_in_a_header_is_permanent(fake_smtp, make_action_call, field):
    p = params(fake_smtp, **{field: "Привет\r\nBcc: victim@example.com"})
    with pytest.raises(PermanentError, match="line break"):
        email_action.execute(make_action_call(p, sample_context()))
    assert fake_smtp.messages == []


def test_line_break_in_the_client_name_is_permanent(fake_smtp, make_action_call):
    client = {"external_id": "2", "name": "Иван\nBcc: x@example.com", "email": "ivan@example.com"}
    with pytest.raises(PermanentError):
        email_action.execute(make_action_call(params(fake_smtp), sample_context(client=client)))


def test_wrong_password_is_permanent(fake_smtp, make_action_call):
    with pytest.raises(PermanentError, match="login refused") as err:
        email_action.execute(make_action_call(params(fake_smtp, password="wrong"), sample_context()))
    assert err.value.status == 535


@pytest.mark.parametrize(
    ("stage", "reply", "error", "status"),
    [
        ("rcpt", "451 4.3.0 Try again later", RetryableError, 451),
        ("rcpt", "550 5.1.1 No such user", PermanentError, 550),
        ("mail", "553 5.7.1 Sender address rejected: not owned by auth user.", PermanentError, 553),
        ("mail", "421 4.7.0 Too many connections", RetryableError, 421),
        ("data", "554 5.7.1 Message rejected as spam", PermanentError, 554),
        ("data", "452 4.2.2 Mailbox full", RetryableError, 452),
    ],
)
def test_smtp_replies_map_by_class(fake_smtp, make_action_call, stage, reply, error, status):
    fake_smtp.fail(stage, reply)
    with pytest.raises(error) as err:
        email_action.execute(make_action_call(params(fake_smtp), sample_context()))
    assert err.value.status == status


def test_connection_refused_is_retryable(make_action_call, fake_smtp):
    p = params(fake_smtp, smtp_port=9)
    with pytest.raises(RetryableError, match="cannot reach"):
        email_action.execute(make_action_call(p, sample_context()))


def test_tls_mode_mismatch_is_an_error(fake_smtp, make_action_call):
    p = params(fake_smtp, "ssl", smtp_port=fake_smtp.plain_port)
    with pytest.raises((PermanentError, RetryableError)):
        email_action.execute(make_action_call(p, sample_context(), services=make_services(smtp_timeout=2)))
    assert fake_smtp.messages == []


def test_cap_per_client_skips_once_reached(fake_smtp, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, email_cap_per_client=2)
    for _ in range(2):
        email_action.execute(make_action_call(params(fake_smtp), sample_context(), services=services))
    with pytest.raises(Skip, match="cap of 2"):
        email_action.execute(make_action_call(params(fake_smtp), sample_context(), services=services))
    assert len(fake_smtp.messages) == 2


def test_retry_of_the_same_step_reuses_its_slot(fake_smtp, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, email_cap_per_client=1)
    fake_smtp.fail("rcpt", "451 4.3.0 Try again later")
    with pytest.raises(RetryableError):
        email_action.execute(
            make_action_call(params(fake_smtp), sample_context(), services=services, run_id="r1")
        )
    email_action.execute(
        make_action_call(params(fake_smtp), sample_context(), services=services, run_id="r1", attempt=2)
    )
    assert len(fake_smtp.messages) == 1


def test_permanent_failure_releases_the_slot(fake_smtp, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, email_cap_per_client=1)
    fake_smtp.fail("data", "554 5.7.1 rejected")
    with pytest.raises(PermanentError):
        email_action.execute(make_action_call(params(fake_smtp), sample_context(), services=services))
    email_action.execute(make_action_call(params(fake_smtp), sample_context(), services=services))
    assert len(fake_smtp.messages) == 1


def test_cap_counts_per_client(fake_smtp, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, email_cap_per_client=1)
    other = {"external_id": "3", "name": "Пётр", "email": "petr@example.com"}
    email_action.execute(make_action_call(params(fake_smtp), sample_context(), services=services))
    email_action.execute(make_action_call(params(fake_smtp), sample_context(client=other), services=services))
    assert [m.rcpt_tos for m in fake_smtp.messages] == [["ivan@example.com"], ["petr@example.com"]]


def test_preview_shows_the_letter_with_the_password_masked(fake_smtp, make_action_call):
    call = make_action_call(params(fake_smtp), sample_context())
    out = email_action.preview(call)
    assert out["to"] == "Иван Петров <ivan@example.com>"
    assert out["from"] == "Школа Маркетинга <sender@example.ru>"
    assert out["subject"] == "Ваша заявка принята — спасибо!"
    assert out["html"] == SIMPLE_HTML
    assert out["text"].startswith("Здравствуйте, Иван Петров!")
    assert out["message_id"] == f"<{call.run_id}-{call.node_id}@example.ru>"
    assert out["smtp"]["password"] == SECRET_PLACEHOLDER
    assert fake_smtp.password not in repr(out)
    assert fake_smtp.messages == []


def test_ssrf_guard_blocks_loopback_unless_allowlisted(fake_smtp, make_action_call, limits_redis):
    services = make_services(redis=limits_redis, outbound_allowlist=(), email_cap_per_client=1)
    with pytest.raises(PermanentError, match="loopback"):
        email_action.execute(make_action_call(params(fake_smtp), sample_context(), services=services))
    assert fake_smtp.messages == []
    # the blocked attempt did not use up the client's only slot
    services.settings.outbound_allowlist = ("127.0.0.1",)
    email_action.execute(make_action_call(params(fake_smtp), sample_context(), services=services))
    assert len(fake_smtp.messages) == 1
