"""Fake SMTP server (aiosmtpd): implicit TLS, STARTTLS and plain ports, optional AUTH, on-demand 4xx/5xx."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Received:
    """One accepted message: the envelope and the parsed ``EmailMessage``."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    tls: bool
    login: str | None


class _Handler:
    def __init__(self, fake: FakeSMTP, tls: bool):
        self.fake, self.tls = fake, tls

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self.fake._forced_reply("mail")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.fake._forced_reply("rcpt")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self.fake._forced_reply("data")
        if reply:
            return reply
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        tls = self.tls or session.ssl is not None
        with self.fake._lock:
            self.fake.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message, tls, login)
            )
        return "250 Message accepted for delivery"


class _QuietController(Controller):
    """aiosmtpd warns about AUTH without STARTTLS; here TLS is implicit (or the port is plain on purpose)."""

    def factory(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return super().factory()


class FakeSMTP:
    """Three listeners sharing one mailbox: ``ssl_port`` (implicit TLS), ``starttls_port`` and ``plain_port``.

    With ``login``/``password`` set, AUTH is required (after STARTTLS on the STARTTLS port).
    ``fail(stage, reply)`` answers the next MAIL/RCPT/DATA with e.g. ``"451 4.3.0 Try again later"``.
    """

    def __init__(self, login: str | None = "sender@example.ru", password: str | None = "app-password"):
        self.login, self.password = login, password
        self.messages: list[Received] = []
        self.auth_attempts: list[tuple[str, bool]] = []
        self._forced: dict[str, list[str]] = {"mail": [], "rcpt": [], "data": []}
        self._lock = threading.Lock()
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert(HOST, "localhost")
        self._controllers: list[Controller] = []
        self.ssl_port = self.starttls_port = self.plain_port = 0
        self._echo: list[str] = []
        self._echo_fail = False
        self._echo_turn = 0

    def echo(self, secrets: list[str], fail: bool = False) -> None:
        """Quote these spellings (``tests.fakes._http.spellings``) in the AUTH answer: refused with
        them (``fail``, rotated per login so each leads once) or accepted with them."""
        with self._lock:
            self._echo, self._echo_fail = list(secrets), fail

    def _echo_reply(self, ok: bool) -> str | None:
        with self._lock:
            if not self._echo:
                return None
            turn, self._echo_turn = self._echo_turn % len(self._echo), self._echo_turn + 1
            echo = self._echo[turn:] + self._echo[:turn]
            refused = self._echo_fail or not ok
        return ("535 5.7.8 refused " if refused else "235 2.7.0 accepted ") + " ".join(echo)

    def ca_file(self, directory: Path) -> str:
        """Write the test CA to ``directory`` (for ``settings.extra["smtp_ca_file"]``)."""
        path = directory / "smtp-test-ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return str(path)

    def _server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        return ctx

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.login
            and auth_data.password.decode() == self.password
        )
        self.auth_attempts.append(
            (auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "", ok)
        )
        echo = self._echo_reply(ok)
        if echo is not None:
            ok = echo.startswith("235")
        return AuthResult(success=ok, handled=False, auth_data=auth_data, message=echo)

    def _controller(self, port: int, tls: bool, **kwargs: Any) -> Controller:
        auth: dict[str, Any] = {}
        if self.login is not None:
            auth = {"authenticator": self._authenticate, "auth_required": True}
        return _QuietController(_Handler(self, tls), hostname=HOST, port=port, **auth, **kwargs)

    def start(self) -> FakeSMTP:
        self.ssl_port, self.starttls_port, self.plain_port = free_port(), free_port(), free_port()
        self._controllers = [
            self._controller(self.ssl_port, True, ssl_context=self._server_context(), auth_require_tls=False),
            self._controller(
                self.starttls_port,
                False,
                tls_context=self._server_context(),
                require_starttls=True,
                auth_require_tls=True,
            ),
            self._controller(self.plain_port, False, auth_require_tls=False),
        ]
        for controller in self._controllers:
            controller.start()
        return self

    def stop(self) -> None:
        for controller in self._controllers:
            controller.stop()
        self._controllers = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(self, stage: str, reply: str, times: int = 1) -> None:
        """Answer the next ``times`` ``stage`` commands (``mail``/``rcpt``/``data``) with ``reply``."""
        with self._lock:
            self._forced[stage].extend([reply] * times)

    def _forced_reply(self, stage: str) -> str | None:
        with self._lock:
            return self._forced[stage].pop(0) if self._forced[stage] else None
