"""Event «Новая сделка»: an order id is seen for the first time."""

from __future__ import annotations

from typing import Any

from plugin.nodes.events._common import is_trigger

TRIGGERS = ("order_created",)
PAYLOAD_EVENT_TYPE = "order_created"


def matches(params: dict[str, Any], event: dict[str, Any]) -> bool:
    return is_trigger(event, TRIGGERS)
