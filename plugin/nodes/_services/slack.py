"""Slack incoming webhooks: one JSON POST, success only on ``200 ok`` (contracts.md §1)."""

from __future__ import annotations

from typing import Any

from plugin.nodes.base import PermanentError
from plugin.transport import http
from plugin.transport.wire import Response

SERVICE = "slack"

# Slack answers errors as short plain-text codes; give the ones a user can act on a clear meaning.
MEANINGS = {
    "invalid_payload": "the message body was not valid JSON",
    "no_text": "the message text is empty",
    "missing_text_or_fallback_or_attachments": "the message text is empty",
    "no_service": "the webhook is disabled, removed or invalid",
    "no_service_id": "the webhook is disabled, removed or invalid",
    "channel_not_found": "the webhook's channel no longer exists",
    "channel_is_archived": "the webhook's channel is archived",
    "action_prohibited": "a workspace admin restricted this webhook",
    "posting_to_general_channel_denied": "posting to #general is restricted",
    "invalid_token": "the webhook token is invalid",
    "no_team": "the workspace no longer exists",
    "team_disabled": "the workspace is disabled",
    "no_active_hooks": "the webhook is disabled",
    "rollup_error": "Slack-side failure",
}


def request(url: str, text: str) -> dict[str, Any]:
    """The request ``post`` sends (URL unmasked: callers mask it for previews)."""
    return {
        "method": "POST",
        "url": url,
        "headers": {"Content-Type": "application/json"},
        "body": {"text": text},
    }


def _describe(resp: Response) -> str:
    code = http.trim(resp.text or "", 80)
    return f"{code} ({MEANINGS[code]})" if code in MEANINGS else code


def post(services: Any, url: str, text: str) -> None:
    """Post ``text`` to the webhook at ``url``; raise a node error unless Slack says ``ok``."""
    resp = http.send(services, "POST", url, service=SERVICE, json={"text": text})
    http.check(resp, service=SERVICE, describe=_describe)
    if resp.status_code != 200 or resp.text.strip() != "ok":
        raise PermanentError(
            f"{SERVICE}: unexpected answer from {http.host_of(url)}: HTTP {resp.status_code} "
            f"{http.trim(resp.text or '', 80)!r}",
            status=resp.status_code,
        )
