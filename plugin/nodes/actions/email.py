"""action.email: send the HTML letter to the client's e-mail over SMTP."""

from __future__ import annotations

import logging

from plugin.nodes._services import limits, optout
from plugin.nodes.base import SECRET_PLACEHOLDER, ActionCall, PermanentError, Skip

log = logging.getLogger(__name__)

CHANNEL = "email"


def _smtp():
    """``plugin.nodes._services.smtp``, imported at the first letter: smtplib and the letter's
    builder (0.7 MB RSS) stay out of a worker that sends none."""
    from plugin.nodes._services import smtp

    return smtp


def _recipient(call: ActionCall) -> tuple[str, str | None]:
    client = (call.context or {}).get("client") or {}
    email = (client.get("email") or "").strip()
    if not email:
        raise Skip("у клиента нет email (client has no email)")
    return email, client.get("name")


def _message(call: ActionCall, to_email: str, to_name: str | None):
    p = call.params
    msg = _smtp().build_message(
        from_email=p["from_email"],
        from_name=p.get("from_name"),
        to_email=to_email,
        to_name=to_name,
        subject=p["subject"],
        html=p["html"],
        message_id=_smtp().message_id(call.idempotency_key, p["from_email"]),
    )
    _list_unsubscribe(call, msg, to_email)
    return msg


def _list_unsubscribe(call: ActionCall, msg, to_email: str) -> None:
    """RFC 2369 ``List-Unsubscribe`` and RFC 8058 one-click ``List-Unsubscribe-Post`` on every letter.

    Set as raw text that is never refolded: the policy would otherwise fold the long URL into
    RFC 2047 encoded words, which no mail client reads as a link."""
    links = getattr(call.services, "unsubscribe", None)
    address = optout.normalize_email(to_email)
    if links is None or address is None:
        return
    value = links.list_unsubscribe(address)
    if "\r" in value or "\n" in value:  # a configured mailto with a line break: no header injection
        raise PermanentError("email: the unsubscribe address contains a line break")
    msg.policy = msg.policy.clone(refold_source="none")
    msg.set_raw("List-Unsubscribe", value)
    msg.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")


def _port(params: dict) -> tuple[str, int]:
    security = params.get("security") or "ssl"
    if security not in _smtp().DEFAULT_PORTS:
        raise PermanentError(f"email: security must be ssl, starttls or none, got {security!r}")
    return security, int(params.get("smtp_port") or _smtp().DEFAULT_PORTS[security])


def cap_identity(call: ActionCall) -> str:
    """Whom this send counts against in the per-client cap: what ``execute`` books (a dry run asks)."""
    return limits.client_identity(call.context, _recipient(call)[0])


def execute(call: ActionCall) -> dict:
    """Send once per step: capped per client across flows; Skip without an address, when the address
    is on the suppression list or when capped."""
    p, settings = call.params, call.services.settings
    to_email, to_name = _recipient(call)
    optout.check(call.services, CHANNEL, call.context)
    security, port = _port(p)
    msg = _message(call, to_email, to_name)
    host = p["smtp_host"]
    pinned_ip = _smtp().check_host(host, port, settings)
    who = limits.client_identity(call.context, to_email)
    if not limits.reserve(call.services, CHANNEL, who, call.idempotency_key, settings.email_cap_per_client):
        raise Skip(limits.cap_reason(CHANNEL, settings))
    try:
        _smtp().send(
            settings,
            host=host,
            port=port,
            security=security,
            username=p.get("username"),
            password=p.get("password"),
            msg=msg,
            pinned_ip=pinned_ip,
        )
    except BaseException:  # nothing went out: the cap counts only sends (a retry books again)
        limits.release(call.services, CHANNEL, who, call.idempotency_key)
        raise
    log.debug("email %s sent via %s:%s", msg["Message-ID"], host, port)
    return {"message_id": msg["Message-ID"], "to": to_email}


def preview(call: ActionCall) -> dict:
    """The letter that would be sent (addresses, subject, both parts, Message-ID), password masked."""
    p = call.params
    to_email, to_name = _recipient(call)
    optout.check(call.services, CHANNEL, call.context)
    security, port = _port(p)
    msg = _message(call, to_email, to_name)
    return {
        "smtp": {
            "host": p["smtp_host"],
            "port": port,
            "security": security,
            "username": p.get("username"),
            "password": SECRET_PLACEHOLDER if p.get("password") else None,
        },
        "to": str(msg["To"]),
        "from": str(msg["From"]),
        "subject": p["subject"],
        "html": p["html"],
        "text": msg.get_body(("plain",)).get_content(),
        "message_id": msg["Message-ID"],
        "list_unsubscribe": str(msg["List-Unsubscribe"]) if msg["List-Unsubscribe"] else None,
    }
