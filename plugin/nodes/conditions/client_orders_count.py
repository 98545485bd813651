"""Condition «Количество заказов»: how many orders the client has (0 without a known client)."""

from __future__ import annotations

from typing import Any

from plugin.nodes.conditions._operators import numeric_match

EVENTS = None


def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
    count = context.get("client_orders_count") or 0
    return numeric_match(params.get("operator", "eq"), count, params.get("value"))
