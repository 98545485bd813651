"""E-mail over SMTP: build the multipart message and send it with ``smtplib`` (contracts.md §5)."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import formatdate
from typing import Any

from plugin.masking import mask_current
from plugin.nodes._services.htmltext import html_to_text
from plugin.nodes.base import PermanentError, RetryableError
from plugin.transport import net

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


def _address(name: str | None, addr: str, what: str) -> Address:
    for value in (name or "", addr):
        if "\r" in value or "\n" in value:
            raise PermanentError(f"email: {what} contains a line break")
    try:
        return Address(display_name=name or "", addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise PermanentError(f"email: {what} {addr!r} is not a valid address: {exc}") from None


def build_message(
    *,
    from_email: str,
    from_name: str | None,
    to_email: str,
    to_name: str | None,
    subject: str,
    html: str,
    message_id: str,
) -> EmailMessage:
    """From, To, Subject (RFC 2047 as needed), Date, Message-ID; text/plain then the HTML as is."""
    if "\r" in subject or "\n" in subject:
        raise PermanentError("email: the subject contains a line break")
    msg = EmailMessage()
    try:
        msg["From"] = _address(from_name, from_email, "from_email")
        msg["To"] = _address(to_name, to_email, "client email")
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = message_id
    except ValueError as exc:  # EmailMessage refuses CR/LF in any header (header injection)
        raise PermanentError(f"email: invalid header: {exc}") from None
    msg.set_content(html_to_text(html) or " ")
    msg.make_alternative()
    # The HTML goes as its exact UTF-8 bytes (base64): no line-ending or trailing-newline rewriting.
    html_part = MIMEPart(policy=msg.policy)
    html_part.set_content(html.encode("utf-8"), "text", "html", cte="base64", params={"charset": "utf-8"})
    msg.attach(html_part)
    return msg


def message_id(idempotency_key: str, from_email: str) -> str:
    """``<key@sender-domain>``: the same on every retry, so receivers and bounces can correlate."""
    domain = from_email.rsplit("@", 1)[-1] or "localhost"
    local = "".join(c if c.isalnum() or c in "-_." else "_" for c in idempotency_key)
    return f"<{local}@{domain}>"


def check_host(host: str, port: int, settings: Any) -> str:
    """The IP the SSRF guard approves for ``host``: connect there, keep ``host`` for TLS and greetings.

    Raises :class:`~plugin.transport.net.BlockedDestination` (a PermanentError) when refused.
    """
    try:
        return net.check_host(host, port, settings)
    except socket.gaierror:
        raise RetryableError(f"email: cannot resolve {host}") from None


def tls_context(settings: Any) -> ssl.SSLContext:
    """Verifying by default; ``smtp_verify_tls=False`` only for self-signed test servers."""
    ctx = ssl.create_default_context(cafile=(settings.extra or {}).get("smtp_ca_file"))
    if not settings.smtp_verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _PinnedSMTP(smtplib.SMTP):
    """Connects to the IP the SSRF guard approved, while TLS still checks the host name."""

    def __init__(self, host: str, port: int, *, pinned_ip: str | None, **kwargs: Any):
        self.pinned_ip = pinned_ip
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(self.pinned_ip or host, port, timeout)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    """Implicit TLS to the approved IP; ``SMTP_SSL`` wraps with ``server_hostname`` = the host name."""

    def __init__(self, host: str, port: int, *, pinned_ip: str | None, **kwargs: Any):
        self.pinned_ip = pinned_ip
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(self.pinned_ip or host, port, timeout)


def _code_error(code: int, text: str) -> Exception:
    cls = PermanentError if code >= 500 else RetryableError
    return cls(f"email: SMTP {code} {text}".strip(), status=code)


def _text(raw: bytes | str) -> str:
    """A server's reply, without the call's secrets (a server may quote the password it refused)."""
    return mask_current((raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip())


def send(
    settings: Any,
    *,
    host: str,
    port: int,
    security: str,
    username: str | None,
    password: str | None,
    msg: EmailMessage,
    pinned_ip: str | None = None,
) -> None:
    """Deliver ``msg``; 5xx and auth/TLS failures raise PermanentError, 4xx and network RetryableError."""
    try:
        _deliver(settings, host, port, security, (username, password), msg, pinned_ip)
    except smtplib.SMTPException as exc:  # an OSError too: told first
        raise _smtp_error(exc, host, port) from None
    except OSError as exc:  # TLS, timeouts, refused or reset connections
        raise _network_error(exc, host, port) from None


def _deliver(
    settings: Any,
    host: str,
    port: int,
    security: str,
    login: tuple[str | None, str | None],
    msg: EmailMessage | None,
    pinned_ip: str | None,
) -> None:
    """One SMTP session: connect (implicit TLS, STARTTLS or plain), log in when a user is given,
    send (no ``msg``: only the login, for a connection check)."""
    timeout = settings.smtp_timeout
    if security == "ssl":
        client: smtplib.SMTP = _PinnedSMTPSSL(
            host, port, pinned_ip=pinned_ip, timeout=timeout, context=tls_context(settings)
        )
    else:
        client = _PinnedSMTP(host, port, pinned_ip=pinned_ip, timeout=timeout)
    username, password = login
    with client:
        client.ehlo()
        if security == "starttls":
            client.starttls(context=tls_context(settings))
            client.ehlo()
        if username:
            client.login(username, password or "")
        if msg is not None:
            client.send_message(msg)


def login_only(
    settings: Any, host: str, port: int, security: str, username: str | None, password: str | None
) -> None:
    """Connect through the SSRF guard and log in, sending nothing; smtplib's errors propagate."""
    _deliver(settings, host, port, security, (username, password), None, check_host(host, port, settings))


def _smtp_error(exc: smtplib.SMTPException, host: str, port: int) -> Exception:
    """What the server answered: a 5xx or a refused login is permanent, a 4xx or a lost line retryable."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return PermanentError(
            f"email: login refused: {exc.smtp_code} {_text(exc.smtp_error)}", status=exc.smtp_code
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
        return _code_error(code, _text(text))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"email: server does not support {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return RetryableError(f"email: connection to {host}:{port} lost: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _code_error(exc.smtp_code, _text(exc.smtp_error))
    return PermanentError(f"email: {type(exc).__name__}: {exc}")


def _network_error(exc: OSError, host: str, port: int) -> Exception:
    """A TLS or network failure: an untrusted certificate or a failed handshake is permanent."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(f"email: TLS certificate of {host} not trusted: {exc.verify_message}")
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return RetryableError(f"email: TLS connection to {host}:{port} cut: {exc.reason}")
    if isinstance(exc, ssl.SSLError):
        return PermanentError(f"email: TLS handshake with {host}:{port} failed: {exc.reason}")
    return RetryableError(f"email: cannot reach {host}:{port}: {type(exc).__name__}: {exc}")
