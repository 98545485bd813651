"""Flow node «Ждать событие»: wait, durably, for an event about the run's order, client or visitor."""

# Branch ``true`` when it came (its data joins the run's context under ``wait``), ``false`` at the
# timeout. The waiting itself is the engine's (plugin.engine.waits); here: what the params mean.

from __future__ import annotations

from typing import Any

from plugin.nodes.events._common import name_matches

MIN_SECONDS = 60
MAX_SECONDS = 90 * 86400
TRIGGERS = {
    "order_status_changed": "order_status_changed",
    "order_created": "order_created",
    "custom": "custom_event",
    "visit_created": "visit_created",
}
# whom each event can be about: a visit or a custom event names no order
PER = {
    "order_status_changed": ("order", "client", "visitor"),
    "order_created": ("client", "visitor"),
    "custom": ("client", "visitor"),
    "visit_created": ("client",),
}
_SUBJECT_FIELDS = {"order": ("order", "id"), "client": ("client", "external_id"), "visitor": ("visit", "id")}


def delay_seconds(params: dict[str, Any]) -> int:
    """The timeout in seconds (what a dry run shows as the wait)."""
    timeout = params.get("timeout") or {}
    return (
        int(timeout.get("days") or 0) * 86400
        + int(timeout.get("hours") or 0) * 3600
        + int(timeout.get("minutes") or 0) * 60
    )


def trigger(params: dict[str, Any]) -> str:
    """The event trigger waited for (``custom_event`` for ``custom``)."""
    return TRIGGERS[params.get("event", "order_status_changed")]


def subject(per: str, context: dict[str, Any]) -> str | None:
    """``"order:42"``: whom a run of ``context`` waits for, or None when the context has no such one."""
    record, field = _SUBJECT_FIELDS[per]
    value = ((context or {}).get(record) or {}).get(field)
    if value in (None, "") and per == "client":
        value = ((context or {}).get("order") or {}).get("client_id")
    return None if value in (None, "") else f"{per}:{value}"[:200]


def matches(params: dict[str, Any], data: dict[str, Any], context: dict[str, Any] | None) -> bool:
    """Whether an event of the waited trigger, with ``data`` and its ``context``, is the one waited for."""
    data = data or {}
    if params.get("to_status") and not name_matches(data.get("to"), params["to_status"]):
        return False
    if params.get("to_group"):
        group = ((context or {}).get("order") or {}).get("status_group")
        if group != params["to_group"]:
            return False
    return not params.get("name") or name_matches(data.get("name"), params["name"])


DEFAULT_BRANCH = "true"  # an edge that names no branch leaves on «дождались», as a condition's does


def branches(params: dict[str, Any]) -> tuple[str, ...]:
    """«дождались» (``true``: the event came) and «не дождались» (``false``: the timeout)."""
    return ("true", "false")
