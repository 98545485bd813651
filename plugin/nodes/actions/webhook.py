"""action.webhook: deliver the SPEC §5 payload with Standard Webhooks headers."""

from __future__ import annotations

import binascii
import json
import logging
import time
from pathlib import Path

from plugin.nodes._services import webhooks
from plugin.nodes.base import SECRET_PLACEHOLDER, ActionCall, PermanentError, secret_keys
from plugin.transport import http

log = logging.getLogger(__name__)

SERVICE = "webhook"


def _build(call: ActionCall, timestamp: int) -> dict:
    params = call.params
    method = (params.get("method") or "POST").upper()
    if method not in ("POST", "GET"):
        raise PermanentError(f"{SERVICE}: method must be POST or GET, got {method!r}")
    body = webhooks.serialize(webhooks.build_payload(call.event_type, call.flow, call.context))
    msg_id = webhooks.message_id(call.idempotency_key)
    secret = params.get("signing_secret") or ""
    try:
        signature = webhooks.sign(secret, msg_id, timestamp, body) if secret else None
    except (binascii.Error, ValueError) as exc:
        raise PermanentError(f"{SERVICE}: signing_secret is not valid whsec_ base64: {exc}") from None
    headers = webhooks.headers(
        params.get("headers"), msg_id, timestamp, signature, with_body=method == "POST"
    )
    return {"method": method, "url": params["url"], "headers": headers, "body": body}


def execute(call: ActionCall) -> dict:
    """Send once; any 2xx is success, 410 means the endpoint is gone, the rest per ``http.check``."""
    req = _build(call, int(time.time()))
    if req["method"] == "GET":
        kwargs = {"params": {"payload": req["body"].decode("utf-8")}}
    else:
        kwargs = {"data": req["body"]}
    resp = http.send(
        call.services, req["method"], req["url"], service=SERVICE, headers=req["headers"], **kwargs
    )
    if resp.status_code == 410:
        raise PermanentError(
            f"{SERVICE}: endpoint gone (HTTP 410 from {http.host_of(req['url'])})", status=410
        )
    http.check(resp, service=SERVICE)
    log.debug(  # per delivery: the run's steps are the record; INFO would log every action
        "webhook %s delivered to %s: %s",
        req["headers"]["webhook-id"],
        http.host_of(req["url"]),
        resp.status_code,
    )
    return {"status": resp.status_code, "webhook_id": req["headers"]["webhook-id"]}


def preview(call: ActionCall) -> dict:
    """The exact request: method, URL, headers (signature and credentials masked), JSON body."""
    req = _build(call, int(time.time()))
    secret = _secret_headers(call)
    headers = {k: (SECRET_PLACEHOLDER if k in secret else v) for k, v in req["headers"].items()}
    if "webhook-signature" in headers:
        headers["webhook-signature"] = "v1," + SECRET_PLACEHOLDER
    body = req["body"].decode("utf-8")
    if req["method"] == "GET":
        return {
            "method": "GET",
            "url": req["url"],
            "headers": headers,
            "query": {"payload": body},
            "body": None,
        }
    return {"method": "POST", "url": req["url"], "headers": headers, "body": json.loads(body)}


_HEADER_RULE = json.loads(
    (Path(__file__).parents[2] / "schemas" / "actions" / "webhook.json").read_text("utf-8")
)["properties"]["headers"]["x-secret-keys"]
"""The schema's rule of which headers are secret (by name, or listed in ``secret_headers``)."""


def _secret_headers(call: ActionCall) -> set[str]:
    """The secret headers of the call: the engine says; a bare call applies the schema's rule."""
    if call.secret_paths:
        return {path[1] for path in call.secret_paths if path[0] == "headers"}
    headers = call.params.get("headers")
    return set(secret_keys(headers, _HEADER_RULE, call.params)) if isinstance(headers, dict) else set()
