"""Who a run's messages go to (its «получатель» in the history): the first action's recipient.

Read from what the run is stored with — its flow definition and context — so it costs a look at a
handful of nodes when the run row is built, and no template is rendered: e-mail and SMS go to the
client's address, Telegram to the node's chat id, a webhook to its URL's host. A recipient the
action's schema marks ``x-secret`` (a Slack webhook URL, a CRM address) is never shown: the
channel and the placeholder stand for it. ``tests/engine/test_recipients.py`` checks this table
against the schemas.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from plugin.masking import SECRET_PLACEHOLDER

MAX_LENGTH = 320

# action type → (where the recipient is, the param or client field, is it secret)
SOURCES: dict[str, tuple[str, str, bool]] = {
    "action.email": ("client", "email", False),
    "action.sms": ("client", "phone", False),
    "action.telegram": ("params", "chat_id", False),
    "action.webhook": ("params", "url", False),
    "action.slack": ("params", "webhook_url", True),
    "action.crm_task": ("params", "base_url", True),
}


def recipient_of(definition: dict | None, context: dict | None) -> str | None:
    """The recipient of the first action of ``definition`` that has one, or None."""
    for node in (definition or {}).get("nodes") or ():
        source = SOURCES.get(node.get("type", "")) if isinstance(node, dict) else None
        if source is None:
            continue
        found = _recipient(node, source, context or {})
        if found:
            return found[:MAX_LENGTH]
    return None


def _recipient(node: dict, source: tuple[str, str, bool], context: dict) -> str | None:
    where, field, secret = source
    if secret:  # the channel alone: the value is a secret, and so is any part of it
        return f"{node['type'].removeprefix('action.')}:{SECRET_PLACEHOLDER}"
    if where == "client":
        value = (context.get("client") or {}).get(field)
        return (str(value).strip() or None) if value is not None else None
    params = node.get("params") or {}
    value = params.get(field)
    if value is None or isinstance(value, dict | list) or "{" in str(value):
        return None  # from a connection, or a template: only known once rendered
    if field == "url":
        try:
            return urlsplit(str(value)).hostname or None
        except ValueError:
            return None
    return str(value)
