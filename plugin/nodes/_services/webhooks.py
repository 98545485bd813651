"""Outgoing webhooks: the SPEC §5 payload, serialised once and signed per Standard Webhooks."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from plugin.nodes.base import VISIT_FIELDS

VISIT_KEYS = ("id", *VISIT_FIELDS)
ORDER_KEYS = ("id", "price", "cost", "status")
CLIENT_KEYS = ("external_id", "name", "company", "phone", "email")
ID_KEYS = frozenset({"id", "external_id"})

PROTECTED_HEADERS = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
    }
)


def _pick(source: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    source = source or {}
    out = {}
    for key in keys:
        value = source.get(key)
        out[key] = str(value) if key in ID_KEYS and value is not None else value
    return out


def build_payload(event_type: str, flow: dict[str, Any], context: dict[str, Any] | None) -> dict[str, Any]:
    """Roistat's webhook shape (SPEC §5); absent objects keep every key, each ``null``."""
    context = context or {}
    flow_id = (flow or {}).get("id")
    payload = {
        "event_type": event_type,
        "script_id": None if flow_id in (None, "") else str(flow_id),
        "script_name": (flow or {}).get("name") or None,
        "visit": _pick(context.get("visit"), VISIT_KEYS),
        "order": _pick(context.get("order"), ORDER_KEYS),
        "client": _pick(context.get("client"), CLIENT_KEYS),
    }
    if event_type == "custom_event":
        event = context.get("event") or {}
        event_id = event.get("id")
        payload["event"] = {
            "id": None if event_id is None else str(event_id),
            "meta_id": event.get("meta_id", event.get("name")),
            "data": event.get("data"),
        }
    return payload


def serialize(payload: dict[str, Any]) -> bytes:
    """The one serialisation of the body: these exact bytes are signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def message_id(idempotency_key: str) -> str:
    """``webhook-id``: stable across retries; no dots (they separate the signed parts)."""
    return "msg_" + re.sub(r"[^A-Za-z0-9_-]", "_", idempotency_key)


def signing_key(secret: str) -> bytes:
    """``whsec_<base64>`` → the decoded bytes; any other string → its UTF-8 bytes. ValueError when unusable."""
    if secret.startswith("whsec_"):
        encoded = secret[len("whsec_") :]
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    else:
        key = secret.encode("utf-8")
    if not key:
        raise ValueError("the signing secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``msg_id.timestamp.body`` (Standard Webhooks v1)."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(signing_key(secret)).sign(msg_id, when, body.decode("utf-8"))


def headers(
    user_headers: dict[str, Any] | None,
    msg_id: str,
    timestamp: int,
    signature: str | None,
    *,
    with_body: bool = True,
) -> dict[str, str]:
    """User headers first, then ours, which they can never override."""
    out = {str(k): str(v) for k, v in (user_headers or {}).items() if str(k).lower() not in PROTECTED_HEADERS}
    if with_body:
        out["Content-Type"] = "application/json"
    out["webhook-id"] = msg_id
    out["webhook-timestamp"] = str(timestamp)
    if signature:
        out["webhook-signature"] = signature
    return out
