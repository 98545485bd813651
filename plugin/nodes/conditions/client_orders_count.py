"""Condition «Количество заказов»: how many orders the client has (0 without a known client)."""

from __future__ import annotations

from typing import Any

from plugin.nodes.operators import Access, Test, numeric_access, numeric_match, numeric_test

EVENTS = None


def _count(context: dict[str, Any]) -> Any:
    return context.get("client_orders_count") or 0


def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
    count = context.get("client_orders_count") or 0
    return numeric_match(params.get("operator", "eq"), count, params.get("value"))


def prepare(params: dict[str, Any]) -> Test:
    test = numeric_test(params.get("operator", "eq"), params.get("value"))
    return lambda context: test(context.get("client_orders_count") or 0)


def access(params: dict[str, Any]) -> Access | None:
    return numeric_access(params.get("operator", "eq"), params.get("value"), ("client_orders_count",), _count)
