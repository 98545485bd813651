"""Telegram Bot API ``sendMessage`` in HTML parse mode (contracts.md §6)."""

from __future__ import annotations

import re
from typing import Any

from plugin.nodes.base import PermanentError, RetryableError
from plugin.transport import http

SERVICE = "telegram"
DEFAULT_BASE_URL = "https://api.telegram.org"
MAX_TEXT = 4096
ELLIPSIS = "…"
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>")


def _closing_tags(html: str) -> str:
    stack: list[str] = []
    for match in _TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if not closing:
            stack.append(name)
        elif name in stack:
            while stack and stack.pop() != name:
                pass
    return "".join(f"</{name}>" for name in reversed(stack))


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    """At most ``limit`` characters, ending in "…", never inside a tag or entity; open tags closed."""
    if len(text) <= limit:
        return text
    cut = limit - len(ELLIPSIS)
    while cut > 0:
        head = text[:cut]
        if head.rfind("<") > head.rfind(">"):
            head = head[: head.rfind("<")]
        entity = re.search(r"&#?[A-Za-z0-9]*$", head)
        if entity:
            head = head[: entity.start()]
        result = head + ELLIPSIS + _closing_tags(head)
        if len(result) <= limit:
            return result
        cut -= len(result) - limit
    return ELLIPSIS


def chat_id_value(chat_id: Any) -> int | str:
    """Numeric ids go as numbers, ``@channelusername`` as a string."""
    text = str(chat_id).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def request(base_url: str | None, token: str, chat_id: Any, text: str) -> dict[str, Any]:
    """The JSON POST to ``/bot<token>/sendMessage``."""
    root = (base_url or DEFAULT_BASE_URL).rstrip("/")
    body = {
        "chat_id": chat_id_value(chat_id),
        "text": truncate(text),
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    return {"method": "POST", "url": f"{root}/bot{token}/sendMessage", "body": body}


def send(services: Any, base_url: str | None, token: str, chat_id: Any, text: str) -> int:
    """Send and return ``message_id``; ``ok: false`` answers are mapped by ``error_code``."""
    req = request(base_url, token, chat_id, text)
    resp = http.send(services, "POST", req["url"], service=SERVICE, json=req["body"])
    body = http.json_or_none(resp)
    if not isinstance(body, dict):
        http.check(resp, service=SERVICE)
        raise PermanentError(f"{SERVICE}: HTTP {resp.status_code} answer is not JSON")
    if body.get("ok") is True:
        return int((body.get("result") or {}).get("message_id") or 0)
    code = int(body.get("error_code") or resp.status_code)
    params = body.get("parameters") or {}
    message = f"{SERVICE}: {code} {http.trim(str(body.get('description') or ''), 200)}"
    if code == 429 or code >= 500:
        wait = params.get("retry_after")
        raise RetryableError(
            message,
            status=code,
            retry_after=float(wait)
            if wait is not None
            else http.retry_after(resp.headers.get("Retry-After")),
        )
    if params.get("migrate_to_chat_id"):
        message += f" (the group is now chat {params['migrate_to_chat_id']}: update chat_id)"
    raise PermanentError(message, status=code)
