"""Opting out (SPEC §11): the addresses a suppression entry is written for, the check an e-mail or
SMS step makes before it sends, and the signed one-click unsubscribe links.

A link is ``{base}/api/v1/unsubscribe/{token}``; the token is the channel and the normalised
address, then an HMAC-SHA256 of them under a key derived from the secret keys (see
``SecretBox.derived_keys``): it cannot be forged or altered without the server's key, and it needs
no stored state. The first key signs; every configured key verifies, so rotating the secret key
keeps old letters' links working while the old key is listed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from typing import Any

from plugin.nodes._services import phones
from plugin.nodes.base import RetryableError, Skip

PATH = "/api/v1/unsubscribe/"
CHANNEL_CODES = {"email": "e", "sms": "s"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_SIGNATURE_BYTES = 16


def normalize_email(raw: object) -> str | None:
    """``"  Ivan@Example.RU "`` → ``"ivan@example.ru"``; ``None`` for what is not an address."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().lower()
    if not text or len(text) > 320 or not _EMAIL.match(text):
        return None
    return text


def normalize_phone(raw: object, region: str = phones.DEFAULT_REGION) -> str | None:
    """As the SMS action reads a client's phone: E.164 (``"8 912 345-67-89"`` → ``"+79123456789"``)."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None
    return phones.to_e164(str(raw), region)


def addresses_of(client: dict | None, channel: str, region: str = phones.DEFAULT_REGION) -> list[str]:
    """The normalised addresses of a client that the list is searched for before a step of ``channel``:
    its e-mail for a letter; its phone and its e-mail for an SMS (an e-mail entry for ``sms`` or ``all``
    stops the texts to whoever has that e-mail). A letter does not read the phone: phonenumbers is
    loaded by the first SMS only."""
    client = client or {}
    found = [normalize_email(client.get("email"))]
    if channel == "sms":
        found.append(normalize_phone(client.get("phone"), region))
    return [a for a in found if a]


def region_of(services: Any) -> str:
    settings = getattr(services, "settings", None)
    return (getattr(settings, "extra", None) or {}).get("phone_region", phones.DEFAULT_REGION)


def check(services: Any, channel: str, context: dict | None) -> None:
    """Raise :class:`Skip` when the client of ``context`` is on the suppression list for ``channel``.

    ``services.suppressed`` is the process's look-up (``storage.suppressions.Checker``); without
    one (a bare unit test, a process with no database) nothing is held back."""
    lookup: Callable[[str, Iterable[str]], str | None] | None = getattr(services, "suppressed", None)
    if lookup is None:
        return
    addresses = addresses_of((context or {}).get("client"), channel, region_of(services))
    if not addresses:
        return
    try:
        reason = lookup(channel, addresses)
    except Exception as exc:  # noqa: BLE001 - the database is away: try later rather than send blind
        raise RetryableError(f"список отписки недоступен (suppression list unavailable): {exc}") from None
    if reason is not None:
        raise Skip(reason)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Links:
    """Signs and checks one-click unsubscribe links; ``base_url`` is the server as recipients reach it."""

    def __init__(self, keys: list[bytes], base_url: str, mailto: str = ""):
        if not keys:
            raise ValueError("at least one key is required to sign unsubscribe links")
        self.keys = list(keys)
        self.base_url = base_url.rstrip("/")
        self.mailto = mailto.strip()

    def _signature(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, b"unsubscribe\x00" + payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def token(self, channel: str, address: str) -> str:
        payload = f"{CHANNEL_CODES[channel]}:{address}".encode()
        return f"{_b64(payload)}.{_b64(self._signature(self.keys[0], payload))}"

    def url(self, channel: str, address: str) -> str:
        return f"{self.base_url}{PATH}{self.token(channel, address)}"

    def verify(self, token: str) -> tuple[str, str] | None:
        """``(channel, address)`` of a token this server signed; ``None`` for anything else."""
        try:
            payload_text, signature_text = token.split(".")
            payload, signature = _unb64(payload_text), _unb64(signature_text)
            code, address = payload.decode().split(":", 1)
        except (ValueError, UnicodeDecodeError):
            return None
        channel = {v: k for k, v in CHANNEL_CODES.items()}.get(code)
        if channel is None or not address:
            return None
        if not any(hmac.compare_digest(self._signature(k, payload), signature) for k in self.keys):
            return None
        return channel, address

    def list_unsubscribe(self, address: str) -> str:
        """The ``List-Unsubscribe`` header of a letter to ``address`` (RFC 2369, RFC 8058)."""
        value = f"<{self.url('email', address)}>"
        if self.mailto:
            value += f", <mailto:{self.mailto}?subject=unsubscribe>"
        return value


def unsubscribe_url(services: Any, node_type: str, context: dict | None) -> str:
    """The ``{unsubscribe_url}`` of a step: the client's phone for an SMS, else the client's e-mail;
    ``""`` without links configured or without that address."""
    links: Links | None = getattr(services, "unsubscribe", None)
    if links is None:
        return ""
    client = (context or {}).get("client") or {}
    if node_type == "action.sms":
        phone = normalize_phone(client.get("phone"), region_of(services))
        return links.url("sms", phone) if phone else ""
    email = normalize_email(client.get("email"))
    return links.url("email", email) if email else ""
