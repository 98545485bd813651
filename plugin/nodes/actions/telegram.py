"""action.telegram: send the rendered HTML text to a chat through the Bot API."""

from __future__ import annotations

import logging

from plugin.nodes._services import limits, telegram
from plugin.nodes.base import SECRET_PLACEHOLDER, ActionCall

log = logging.getLogger(__name__)


def execute(call: ActionCall) -> dict:
    """``params.text`` is already HTML-escaped by the engine; over 4096 characters it is truncated."""
    p = call.params
    limits.throttle(call.services, "telegram", f"{p['bot_token']}:{p['chat_id']}")
    message_id = telegram.send(call.services, p.get("base_url"), p["bot_token"], p["chat_id"], p["text"])
    log.debug("telegram message %s sent", message_id)
    return {"message_id": message_id}


def preview(call: ActionCall) -> dict:
    """The exact request, bot token masked in the URL."""
    p = call.params
    req = telegram.request(p.get("base_url"), SECRET_PLACEHOLDER, p.get("chat_id", ""), p.get("text", ""))
    return {**req, "headers": {"Content-Type": "application/json"}}
