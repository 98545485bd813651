"""Twilio Programmable Messaging: form POST to Messages.json with HTTP Basic, 201 on success."""

from __future__ import annotations

import re
from typing import Any

from plugin.nodes.base import PermanentError
from plugin.transport import http
from plugin.transport.wire import Response

SERVICE = "twilio"
DEFAULT_BASE_URL = "https://api.twilio.com"
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")


def request(base_url: str | None, account_sid: str, to: str, sender: str, text: str) -> dict[str, Any]:
    """The form POST; a ``MG…`` sender is a Messaging Service, anything else the ``From`` number/id."""
    root = (base_url or DEFAULT_BASE_URL).rstrip("/")
    data = {"To": to, "Body": text}
    data["MessagingServiceSid" if MESSAGING_SERVICE_SID.match(sender) else "From"] = sender
    return {"method": "POST", "url": f"{root}/2010-04-01/Accounts/{account_sid}/Messages.json", "data": data}


def _describe(resp: Response) -> str | None:
    body = http.json_or_none(resp)
    if isinstance(body, dict) and ("code" in body or "message" in body):
        return f"{body.get('code')} {http.trim(str(body.get('message') or ''), 200)}"
    return None


def send(
    services: Any,
    base_url: str | None,
    account_sid: str,
    auth_token: str,
    to: str,
    sender: str | None,
    text: str,
) -> str:
    """Send one SMS (``to`` in +E.164) and return the message ``sid``."""
    if not sender:
        raise PermanentError(f"{SERVICE}: sender (a Twilio number, sender id or MG… service sid) is required")
    req = request(base_url, account_sid, to, sender, text)
    resp = http.send(
        services, "POST", req["url"], service=SERVICE, data=req["data"], auth=(account_sid, auth_token)
    )
    http.check(resp, service=SERVICE, describe=_describe)
    body = http.json_or_none(resp)
    if not isinstance(body, dict) or not body.get("sid"):
        raise PermanentError(f"{SERVICE}: HTTP {resp.status_code} without a message sid")
    return str(body["sid"])
