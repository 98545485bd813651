"""action.sms: text the client's phone through SMS.ru or Twilio, capped per client."""

from __future__ import annotations

import logging

from plugin.nodes._services import limits, optout, phones, smsru, twilio
from plugin.nodes.base import SECRET_PLACEHOLDER, ActionCall, PermanentError, Skip

log = logging.getLogger(__name__)

CHANNEL = "sms"
PROVIDERS = ("smsru", "twilio")


def _phone(call: ActionCall) -> str:
    client = (call.context or {}).get("client") or {}
    raw = client.get("phone")
    if raw is None or not str(raw).strip():
        raise Skip("у клиента нет телефона (client has no phone)")
    settings = getattr(call.services, "settings", None)
    region = (getattr(settings, "extra", None) or {}).get("phone_region", phones.DEFAULT_REGION)
    e164 = phones.to_e164(str(raw), region)
    if e164 is None:
        raise Skip(f"некорректный телефон клиента (invalid phone {raw!r})")
    return e164


def _provider(params: dict) -> str:
    provider = params.get("provider")
    if provider not in PROVIDERS:
        raise PermanentError(f"sms: provider must be smsru or twilio, got {provider!r}")
    return provider


def cap_identity(call: ActionCall) -> str:
    """Whom this send counts against in the per-client cap: what ``execute`` books (a dry run asks)."""
    return limits.client_identity(call.context, _phone(call))


def execute(call: ActionCall) -> dict:
    """Send one SMS; Skip without a (valid) phone, when it is on the suppression list or when the
    client's SMS cap is reached."""
    p, settings = call.params, call.services.settings
    provider = _provider(p)
    to = _phone(call)
    optout.check(call.services, CHANNEL, call.context)
    who = limits.client_identity(call.context, to)
    if not limits.reserve(call.services, CHANNEL, who, call.idempotency_key, settings.sms_cap_per_client):
        raise Skip(limits.cap_reason(CHANNEL, settings))
    try:
        if provider == "smsru":
            sms_id = smsru.send(
                call.services,
                p.get("base_url"),
                p.get("api_id") or "",
                phones.digits(to),
                p["text"],
                p.get("sender"),
            )
            out = {"provider": provider, "sms_id": sms_id}
        else:
            sid = twilio.send(
                call.services,
                p.get("base_url"),
                p.get("account_sid") or "",
                p.get("auth_token") or "",
                to,
                p.get("sender"),
                p["text"],
            )
            out = {"provider": provider, "sid": sid}
    except BaseException:  # nothing went out: the cap counts only sends (a retry books again)
        limits.release(call.services, CHANNEL, who, call.idempotency_key)
        raise
    log.debug("sms sent via %s", provider)
    return out


def preview(call: ActionCall) -> dict:
    """The provider request that would be sent, credentials masked."""
    p = call.params
    provider = _provider(p)
    to = _phone(call)
    optout.check(call.services, CHANNEL, call.context)
    if provider == "smsru":
        req = smsru.request(
            p.get("base_url"), SECRET_PLACEHOLDER, phones.digits(to), p["text"], p.get("sender")
        )
        return {
            "method": "POST",
            "url": req["url"],
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": req["data"],
        }
    req = twilio.request(p.get("base_url"), p.get("account_sid") or "", to, p.get("sender") or "", p["text"])
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": f"Basic {SECRET_PLACEHOLDER}",
    }
    return {"method": "POST", "url": req["url"], "headers": headers, "body": req["data"]}
