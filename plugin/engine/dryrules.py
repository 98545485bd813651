"""What a real run would hold back of an action a dry run previews, decided by the same functions
the real run calls: the SSRF guard of the transport (with ``AUTOMATION_OUTBOUND_ALLOWLIST``), the
per-client caps of e-mail and SMS (peeked, nothing booked), the flow's send window, and, for the
run as a whole, the flow's frequency rule. The suppression list needs nothing here: an action's
``preview`` checks it as ``execute`` does.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime
from typing import Any

from plugin.engine import frequency, sendwindow
from plugin.nodes._services import limits
from plugin.transport import net

log = logging.getLogger(__name__)

BLOCKED_WORDS = "адрес во внутренней сети"
CAPPED = {"action.email": "email", "action.sms": "sms"}


def destination_block(output: dict, settings: Any) -> str | None:
    """Why the transport would refuse the call a preview shows (its ``url``, or an e-mail's SMTP
    host), or None. A host that does not resolve here is not judged: the real call would fail or
    be retried for reasons a dry run cannot know ahead."""
    try:
        if isinstance(output.get("url"), str):
            net.check_url(output["url"], settings)
        elif isinstance(output.get("smtp"), dict):
            smtp = output["smtp"]
            net.check_host(str(smtp.get("host") or ""), int(smtp.get("port") or 25), settings, quiet=True)
    except net.BlockedDestination as exc:
        return f"{BLOCKED_WORDS}: {exc.ip or exc.host}; разрешается в {net.ALLOWLIST_SETTING} ({exc})"
    except (OSError, ValueError, socket.gaierror):
        return None
    return None


def cap_block(node_type: str, spec, call, services: Any) -> str | None:
    """The reason a send would be skipped because the client's cap of its channel is reached."""
    channel = CAPPED.get(node_type)
    if channel is None:
        return None
    who = spec.module.cap_identity(call)
    cap = limits.cap_of(channel, services.settings)
    if limits.capped(services, channel, who, call.idempotency_key, cap):
        return limits.cap_reason(channel, services.settings)
    return None


def hold(graph, nid: str, call, output: dict, *, services: Any, now: datetime, timezone: str) -> dict | None:
    """The dry-run outcome of an action whose preview succeeded, when a real run would not send it
    now: ``blocked`` (the SSRF guard), ``skipped`` (a cap), ``would_wait`` (the send window, with
    when it would go); None: it would be sent."""
    node_type = graph.nodes[nid]["type"]
    settings = getattr(services, "settings", None)
    reason = destination_block(output, settings) if settings is not None else None
    if reason:
        return {"status": "blocked", "output": output, "error": reason}
    capped = cap_block(node_type, graph.spec(nid), call, services) if settings is not None else None
    if capped:
        return {"status": "skipped", "output": output, "error": capped}
    wait = sendwindow.dry_wait(graph, nid, now, timezone)
    if wait:
        window = {k: wait[k] for k in ("opens", "local", "timezone")}
        return {"status": "would_wait", "output": {**output, "send_window": window}, "error": wait["error"]}
    return None


def frequency_hold(session, flow_id: str, definition: dict, context: dict, now: datetime) -> str | None:
    """The reason a real run of ``context`` would be stored ``suppressed`` by the flow's rule."""
    rule = (definition.get("settings") or {}).get("frequency")
    return frequency.would_suppress(session, flow_id, rule, context, now) if rule else None
