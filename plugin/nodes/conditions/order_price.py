"""Condition «Сумма заказа»: a numeric comparison on the order's price."""

from __future__ import annotations

from typing import Any

from plugin.nodes.conditions._order import ORDER_EVENTS, order_value
from plugin.nodes.operators import Access, Test, numeric_access, numeric_match, numeric_test

EVENTS = ORDER_EVENTS


def _price(context: dict[str, Any]) -> Any:
    return order_value(context, "price")


def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
    return numeric_match(params.get("operator", "eq"), order_value(context, "price"), params.get("value"))


def prepare(params: dict[str, Any]) -> Test:
    test = numeric_test(params.get("operator", "eq"), params.get("value"))
    return lambda context: test(order_value(context, "price"))


def access(params: dict[str, Any]) -> Access | None:
    return numeric_access(params.get("operator", "eq"), params.get("value"), ("order", "price"), _price)
