"""Condition «Сумма заказа»: a numeric comparison on the order's price."""

from __future__ import annotations

from typing import Any

from plugin.nodes.conditions._operators import numeric_match
from plugin.nodes.conditions._order import ORDER_EVENTS, order_value

EVENTS = ORDER_EVENTS


def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
    return numeric_match(params.get("operator", "eq"), order_value(context, "price"), params.get("value"))
