"""SMS.ru ``sms/send``: HTTP 200 on every outcome, so the per-number ``status_code`` decides."""

from __future__ import annotations

from typing import Any

from plugin.nodes.base import PermanentError, RetryableError
from plugin.transport import http

SERVICE = "sms.ru"
DEFAULT_BASE_URL = "https://sms.ru"
RETRYABLE_CODES = frozenset({220, 500})
"""Per contracts.md §4.1 only these heal by themselves; every other code (and unknown ones) is final."""

MEANINGS = {
    200: "wrong api_id",
    201: "insufficient balance",
    202: "bad recipient or no route",
    203: "no message text",
    204: "sender name not approved",
    205: "message too long",
    206: "daily limit reached",
    207: "cannot send to this number",
    208: "bad time",
    209: "number is in the stop-list",
    210: "GET used where POST is required",
    211: "method not found",
    212: "text is not UTF-8",
    213: "more than 100 numbers",
    220: "service temporarily unavailable",
    230: "daily limit for this number",
    231: "identical message to this number within a minute",
    232: "identical message to this number within a day",
    300: "bad token",
    301: "bad password",
    302: "account not confirmed",
    500: "server error",
}


def request(base_url: str | None, api_id: str, to: str, text: str, sender: str | None) -> dict[str, Any]:
    """The form POST for one number (``to`` is digits without ``+``)."""
    data = {"api_id": api_id, "to": to, "msg": text, "json": "1"}
    if sender:
        data["from"] = sender
    return {"method": "POST", "url": f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/sms/send", "data": data}


def _fail(code: Any, text: str | None, where: str) -> Exception:
    try:
        code = int(code)
    except (TypeError, ValueError):
        code = None
    meaning = text or MEANINGS.get(code, "unknown error")
    message = f"{SERVICE}: {where} error {code}: {http.trim(str(meaning), 200)}"
    if code in RETRYABLE_CODES:
        return RetryableError(message, status=code)
    return PermanentError(message, status=code)


def send(services: Any, base_url: str | None, api_id: str, to: str, text: str, sender: str | None) -> str:
    """Send one SMS and return its ``sms_id``."""
    req = request(base_url, api_id, to, text, sender)
    resp = http.send(services, "POST", req["url"], service=SERVICE, data=req["data"])
    http.check(resp, service=SERVICE)
    body = http.json_or_none(resp)
    if not isinstance(body, dict):
        raise PermanentError(f"{SERVICE}: answer from {http.host_of(req['url'])} is not JSON")
    if body.get("status") != "OK":
        raise _fail(body.get("status_code"), body.get("status_text"), "request")
    result = (body.get("sms") or {}).get(to)
    if not isinstance(result, dict):
        raise PermanentError(f"{SERVICE}: no result for the number in the answer")
    if result.get("status") != "OK":
        raise _fail(result.get("status_code"), result.get("status_text"), "number")
    return str(result.get("sms_id"))
