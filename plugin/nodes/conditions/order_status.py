"""Condition «Статус»: the order's status name is (not) in a list; case-insensitive."""

from __future__ import annotations

from typing import Any

from plugin.nodes.conditions._operators import fold, is_absent, split_list, to_text
from plugin.nodes.conditions._order import ORDER_EVENTS, order_value

EVENTS = ORDER_EVENTS


def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
    operator = params.get("operator", "in")
    if operator not in ("in", "not_in"):
        raise ValueError(f"unknown status operator {operator!r}, expected 'in' or 'not_in'")
    status = order_value(context, "status")
    if is_absent(status):
        return operator == "not_in"
    found = fold(to_text(status).strip()) in {fold(name) for name in split_list(params.get("value"))}
    return found if operator == "in" else not found
