"""Condition «Количество заказов»: how many orders the client has (0 without a known client)."""

from __future__ import annotations

from typing import Any

from plugin.nodes.conditions._condition import NUMERIC, Condition, Field, Params, Read


def _count(context: dict[str, Any]) -> Any:
    return context.get("client_orders_count") or 0


class OrdersCount(Field):
    """``context["client_orders_count"]``, 0 when absent."""

    def source(self, params: Params) -> tuple:
        return ("client_orders_count",)

    def reader(self, params: Params) -> Read:
        return _count

    def read(self, params: Params, context: dict[str, Any]) -> Any:
        return context.get("client_orders_count") or 0


CONDITION = Condition(OrdersCount(), NUMERIC)
EVENTS, evaluate, prepare, access = CONDITION.hooks()
