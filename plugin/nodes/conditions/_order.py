"""Shared parts of the order conditions: the events that carry an order, and the date-age check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from plugin.nodes.operators import to_datetime

ORDER_EVENTS = frozenset(
    {
        "event.order_created",
        "event.order_status_changed",
        "event.order_days_since_created",
        "event.order_days_since_paid",
    }
)

AGE_OPERATORS = ("older_than_days", "newer_than_days")


def order_value(context: dict[str, Any], key: str) -> Any:
    """``context["order"][key]``, or ``None`` when there is no order."""
    return (context.get("order") or {}).get(key)


def age_condition(field: str) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    """Build ``evaluate`` for «older / newer than N days» on the order date ``field``.

    Older means strictly more than N days ago, newer strictly less; no date is false for both.
    """

    def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
        operator = params.get("operator", "older_than_days")
        if operator not in AGE_OPERATORS:
            raise ValueError(f"unknown date operator {operator!r}, expected one of {AGE_OPERATORS}")
        moment = to_datetime(order_value(context, field))
        if moment is None:
            return False
        age = context["now"] - moment
        limit = timedelta(days=int(params["value"]))
        return age > limit if operator == "older_than_days" else age < limit

    return evaluate


def age_prepare(field: str) -> Callable[[dict[str, Any]], Callable[[dict[str, Any]], bool]]:
    """Build ``prepare(params)`` for :func:`age_condition` (operator and limit parsed once).

    Params it cannot parse are left to ``evaluate`` (which raises only when there is a date)."""

    def prepare(params: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
        operator = params.get("operator", "older_than_days")
        if operator not in AGE_OPERATORS:
            raise ValueError(f"unknown date operator {operator!r}, expected one of {AGE_OPERATORS}")
        limit = timedelta(days=int(params["value"]))
        older = operator == "older_than_days"

        def test(context: dict[str, Any]) -> bool:
            moment = to_datetime(order_value(context, field))
            if moment is None:
                return False
            age = context["now"] - moment
            return age > limit if older else age < limit

        return test

    return prepare
