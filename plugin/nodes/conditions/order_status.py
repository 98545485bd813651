"""Condition «Статус»: the order's status name is (not) in a list; case-insensitive."""

from __future__ import annotations

from typing import Any

from plugin.nodes.conditions._order import ORDER_EVENTS, order_value
from plugin.nodes.operators import Access, Test, fold, is_absent, split_list, text_key, to_text

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


def _names(params: dict[str, Any]) -> frozenset[str]:
    operator = params.get("operator", "in")
    if operator not in ("in", "not_in"):
        raise ValueError(f"unknown status operator {operator!r}, expected 'in' or 'not_in'")
    return frozenset(fold(name) for name in split_list(params.get("value")))


def _status(context: dict[str, Any]) -> str | None:
    return text_key(order_value(context, "status"))


def prepare(params: dict[str, Any]) -> Test:
    names = _names(params)
    negate = params.get("operator", "in") == "not_in"

    def test(context: dict[str, Any]) -> bool:
        status = _status(context)
        if status is None:
            return negate
        return (status in names) is not negate

    return test


def access(params: dict[str, Any]) -> Access | None:
    """«in» is keyed by the folded status name; «not_in» holds for almost anything: no access."""
    names = _names(params)
    if params.get("operator", "in") != "in":
        return None
    return Access(source=("text", "order", "status", False), read=_status, op="in", value=names,
                  weight=min(1.0, 0.1 * len(names)))
