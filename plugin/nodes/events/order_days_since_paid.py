"""Event «С момента продажи по сделке прошло N дней»: due N days after the order was paid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from plugin.nodes.events._common import days_after, is_trigger

TRIGGERS = ("order_days_since_paid",)
PAYLOAD_EVENT_TYPE = "order_days_since_paid"
# The periodic sweep decides due-ness from TIME_FIELD + ``days`` (catching up at most
# ``catch_up_hours`` after the flow is enabled), so ``matches`` only checks the trigger.
TIME_FIELD = "paid_at"


def matches(params: dict[str, Any], event: dict[str, Any]) -> bool:
    return is_trigger(event, TRIGGERS)


def due_at(params: dict[str, Any], order: dict[str, Any] | None) -> datetime | None:
    """When this order becomes due for the flow; ``None`` while the order has no paid_at."""
    return days_after(order, TIME_FIELD, params["days"])
