"""Shared parts of the order conditions: the events that carry an order, the order's age as a field,
and the status and age operators."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from plugin.nodes.conditions._condition import Field, Operators, Params, Read
from plugin.nodes.operators import Access, Test, fold, split_list, text_key, to_datetime

ORDER_EVENTS = frozenset(
    {
        "event.order_created",
        "event.order_status_changed",
        "event.order_days_since_created",
        "event.order_days_since_paid",
    }
)

AGE_OPERATORS = ("older_than_days", "newer_than_days")
STATUS_OPERATORS = ("in", "not_in")


class OrderAge(Field):
    """How long ago the order's date ``field`` was (``context["now"]`` minus it); ``None`` when
    there is no order or no valid date."""

    def __init__(self, field: str):
        self.field = field

    def source(self, params: Params) -> tuple:
        return ("order", "age", self.field)

    def reader(self, params: Params) -> Read:
        field = self.field

        def read(context: dict[str, Any]) -> timedelta | None:
            moment = to_datetime((context.get("order") or {}).get(field))
            return None if moment is None else context["now"] - moment

        return read

    def read(self, params: Params, context: dict[str, Any]) -> timedelta | None:
        moment = to_datetime((context.get("order") or {}).get(self.field))
        return None if moment is None else context["now"] - moment


def _age_operator(operator: str) -> bool:
    """Whether the operator is «older than» (else «newer than»)."""
    if operator not in AGE_OPERATORS:
        raise ValueError(f"unknown date operator {operator!r}, expected one of {AGE_OPERATORS}")
    return operator == "older_than_days"


class AgeOperators(Operators):
    """«older / newer than N days» (the param ``value``): strictly more / less than N days ago; no
    date is false for both. A ``value`` that is not a number raises only when there is a date."""

    default = "older_than_days"

    def match(self, operator: str, actual: timedelta | None, params: Params) -> bool:
        older = _age_operator(operator)
        if actual is None:
            return False
        limit = timedelta(days=int(params["value"]))
        return actual > limit if older else actual < limit

    def test(self, operator: str, params: Params) -> Test:
        older = _age_operator(operator)
        limit = timedelta(days=int(params["value"]))

        def test(age: timedelta | None) -> bool:
            if age is None:
                return False
            return age > limit if older else age < limit

        return test


def _status_operator(operator: str) -> None:
    if operator not in STATUS_OPERATORS:
        raise ValueError(f"unknown status operator {operator!r}, expected 'in' or 'not_in'")


def _status_names(operator: str, params: Params) -> frozenset[str]:
    _status_operator(operator)
    return frozenset(fold(name) for name in split_list(params.get("value")))


class StatusOperators(Operators):
    """«in» / «not in» the list of names (the param ``value``), case-insensitive; no status is in
    no list."""

    default = "in"

    def match(self, operator: str, actual: Any, params: Params) -> bool:
        _status_operator(operator)
        status = text_key(actual)
        if status is None:
            return operator == "not_in"
        found = status in {fold(name) for name in split_list(params.get("value"))}
        return found if operator == "in" else not found

    def test(self, operator: str, params: Params) -> Test:
        names = _status_names(operator, params)
        negate = operator == "not_in"

        def test(actual: Any) -> bool:
            status = text_key(actual)
            if status is None:
                return negate
            return (status in names) is not negate

        return test

    def access(self, operator: str, params: Params, source: tuple, read: Read) -> Access | None:
        """«in» is keyed by the folded status name; «not_in» holds for almost anything: no access."""
        names = _status_names(operator, params)
        if operator != "in":
            return None
        return Access(
            source=("text", *source, False),
            read=lambda context: text_key(read(context)),
            op="in",
            value=names,
            weight=min(1.0, 0.1 * len(names)),
        )


AGE = AgeOperators()
STATUS = StatusOperators()
