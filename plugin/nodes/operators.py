"""Operators shared by conditions: coercion of stored values and the text / numeric comparisons."""

from __future__ import annotations

import json
import logging
import math
import operator as op
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

log = logging.getLogger(__name__)

TEXT_OPERATORS = ("equals", "not_equals", "any_of", "contains", "not_contains", "is_empty", "is_not_empty")
NUMERIC_OPERATORS = ("eq", "gt", "lt", "gte", "lte", "ne")

# Operators that hold when the data is absent (SPEC §3.2); every other operator is then false.
TRUE_WHEN_ABSENT = frozenset({"not_equals", "not_contains", "is_empty", "ne", "not_in"})

_NUMERIC = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
    "gte": lambda a, b: a >= b,
    "lte": lambda a, b: a <= b,
}

ItemMatch = Callable[[str, str], bool]
"""``(actual, expected_item) -> bool`` equality used by equals / not_equals / any_of."""


def is_absent(value: Any) -> bool:
    """No data: ``None``, a blank string, or an empty list / object."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict)):
        return not value
    return False


def to_text(value: Any) -> str:
    """The text form of a stored value: ``120.0`` → ``"120"``, ``True`` → ``"true"``, objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return format_number(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def format_number(value: float | Decimal) -> str:
    """Integral numbers without a fractional part (``120.0`` → ``"120"``), others in shortest form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value == int(value):
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return repr(value)


def to_number(value: Any) -> float | None:
    """A finite number from a number or a numeric string (``" 120.5 "``); ``None`` otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range (JSON allows 400-digit numbers)
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text or "_" in text:  # float() accepts "1_000"; data never means that
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def to_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string (``...Z`` or ``+03:00``); naive means UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)  # noqa: DTZ001 - naive UTC, as stored
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text[-1] in "zZ":
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            log.debug("not an ISO-8601 date: %r", value)
            return None
    else:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past year 9999 in UTC
        log.debug("date out of range in UTC: %r", value)
        return None


def split_list(value: Any) -> list[str]:
    """A list of non-empty trimmed strings from a list or one comma-separated string."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    texts = (to_text(item).strip() for item in items if item is not None)
    return [text for text in texts if text]


def fold(text: str, case_sensitive: bool = False) -> str:
    """Case folding for comparisons (``str.casefold``: «МОСКВА» == «москва»; ё and е stay apart)."""
    return text if case_sensitive else text.casefold()


def text_match(
    operator: str,
    actual: Any,
    expected: Any = None,
    *,
    case_sensitive: bool = False,
    item_match: ItemMatch | None = None,
) -> bool:
    """Apply a text operator to ``actual`` (the data) and ``expected`` (the param ``value``).

    A list ``expected`` for ``equals`` / ``contains`` means "any of these"; for ``not_equals`` /
    ``not_contains`` it means "none of these". ``item_match`` replaces plain equality (IP ranges).
    """
    if operator not in TEXT_OPERATORS:
        raise ValueError(f"unknown text operator {operator!r}, expected one of {TEXT_OPERATORS}")
    if is_absent(actual):
        return operator in TRUE_WHEN_ABSENT
    if operator == "is_empty":
        return False
    if operator == "is_not_empty":
        return True

    data = fold(to_text(actual).strip(), case_sensitive)
    if operator in ("contains", "not_contains"):
        needles = expected if isinstance(expected, (list, tuple)) else [expected]
        found = any(fold(to_text(n), case_sensitive) in data for n in needles if not is_absent(n))
        return found if operator == "contains" else not found

    if operator == "any_of" or isinstance(expected, (list, tuple)):
        items = split_list(expected)
    else:
        items = [to_text(expected).strip()]
    if item_match is None:
        equal = any(data == fold(item, case_sensitive) for item in items)
    else:
        raw = to_text(actual).strip()
        equal = any(item_match(raw, item) for item in items)
    return not equal if operator == "not_equals" else equal


def numeric_match(operator: str, actual: Any, expected: Any) -> bool:
    """Apply a numeric operator; numeric strings count as numbers, anything else as absent."""
    compare = _NUMERIC.get(operator)
    if compare is None:
        raise ValueError(f"unknown numeric operator {operator!r}, expected one of {NUMERIC_OPERATORS}")
    wanted = to_number(expected)
    if wanted is None:
        log.debug("numeric condition without a numeric value: %r", expected)
        return False
    number = to_number(actual)
    if number is None:
        return operator in TRUE_WHEN_ABSENT
    return compare(number, wanted)


def match(operator: str, actual: Any, params: dict[str, Any], *, item_match: ItemMatch | None = None) -> bool:
    """Dispatch on the operator family: numeric operators or text operators."""
    if operator in _NUMERIC:
        return numeric_match(operator, actual, params.get("value"))
    return text_match(
        operator,
        actual,
        params.get("value"),
        case_sensitive=bool(params.get("case_sensitive", False)),
        item_match=item_match,
    )


# -- prepared conditions and index access ---------------------------------------------------------
# ``text_test`` / ``numeric_test`` / ``match_test`` are ``text_match`` / ``numeric_match`` /
# ``match`` with the params worked out once (lists split, needles folded, numbers parsed): a
# condition's ``prepare(params)`` builds its test from them, and the flow index and
# ``Graph.reaches_action`` call that test for every event. ``text_access`` / ``numeric_access`` /
# ``match_access`` tell the flow index how to find the contexts a condition holds for without
# evaluating it (an :class:`Access`). The operator families of plugin/nodes/conditions/_condition.py
# pair each operator's three forms; tests/engine/test_flow_index.py checks them against each other.

Test = Callable[[Any], bool]

_FAST_NUMERIC = {
    "eq": op.eq,
    "ne": op.ne,
    "gt": op.gt,
    "lt": op.lt,
    "gte": op.ge,
    "lte": op.le,
}
RANGE_OPERATORS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class Access:
    """An exact index key of a condition: it holds **iff** ``read(context)`` is not ``None`` and

    - ``op == "in"``: the value read is one of ``value`` (a frozenset; folded text or floats);
    - ``op`` in ``gt gte lt lte``: the value read (a float) compares so with ``value`` (a float).

    ``source`` names what ``read`` reads and how it normalizes it (two accesses with the same
    source read the same key), ``weight`` estimates the share of contexts it holds for.
    """

    source: tuple
    read: Callable[[dict[str, Any]], Any]
    op: str
    value: Any
    weight: float


def text_key(value: Any, case_sensitive: bool = False) -> str | None:
    """What equality operators compare: the trimmed (folded) text; ``None`` when absent."""
    if is_absent(value):
        return None
    return fold(to_text(value).strip(), case_sensitive)


def equality_items(operator: str, expected: Any) -> list[str]:
    """The trimmed items ``equals`` / ``not_equals`` / ``any_of`` compare with (as text_match)."""
    if operator == "any_of" or isinstance(expected, (list, tuple)):
        return split_list(expected)
    return [to_text(expected).strip()]


def text_test(
    operator: str, expected: Any, *, case_sensitive: bool = False, item_match: ItemMatch | None = None
) -> Test:
    """``text_match(operator, actual, expected, …)`` as a function of ``actual`` alone."""
    if operator not in TEXT_OPERATORS:
        raise ValueError(f"unknown text operator {operator!r}, expected one of {TEXT_OPERATORS}")
    when_absent = operator in TRUE_WHEN_ABSENT
    if operator in ("is_empty", "is_not_empty"):
        present = operator == "is_not_empty"
        return lambda actual: when_absent if is_absent(actual) else present
    if operator in ("contains", "not_contains"):
        return _contains_test(operator == "contains", expected, case_sensitive, when_absent)
    return _equals_test(operator, expected, case_sensitive, item_match, when_absent)


def _contains_test(positive: bool, expected: Any, cs: bool, when_absent: bool) -> Test:
    """``contains`` (``positive``) / ``not_contains``: any of the needles is in the text."""
    needles = expected if isinstance(expected, (list, tuple)) else [expected]
    texts = tuple(fold(to_text(n), cs) for n in needles if not is_absent(n))

    def contains(actual: Any) -> bool:
        if is_absent(actual):
            return when_absent
        data = fold(to_text(actual).strip(), cs)
        return any(t in data for t in texts) is positive

    return contains


def _equals_test(
    operator: str, expected: Any, cs: bool, item_match: ItemMatch | None, when_absent: bool
) -> Test:
    """``equals`` / ``any_of`` / ``not_equals``: the text is (not) one of the items."""
    items = equality_items(operator, expected)
    negate = operator == "not_equals"
    if item_match is None:
        keys = frozenset(fold(item, cs) for item in items)

        def equals(actual: Any) -> bool:
            if is_absent(actual):
                return when_absent
            return (fold(to_text(actual).strip(), cs) in keys) is not negate

        return equals

    def matches_item(actual: Any) -> bool:
        if is_absent(actual):
            return when_absent
        raw = to_text(actual).strip()
        return any(item_match(raw, item) for item in items) is not negate

    return matches_item


def numeric_test(operator: str, expected: Any) -> Test:
    """``numeric_match(operator, actual, expected)`` as a function of ``actual`` alone."""
    compare = _FAST_NUMERIC.get(operator)
    if compare is None:
        raise ValueError(f"unknown numeric operator {operator!r}, expected one of {NUMERIC_OPERATORS}")
    wanted = to_number(expected)
    if wanted is None:
        return lambda actual: False
    when_absent = operator in TRUE_WHEN_ABSENT

    def test(actual: Any) -> bool:
        number = to_number(actual)
        if number is None:
            return when_absent
        return compare(number, wanted)

    return test


def match_test(operator: str, params: dict[str, Any], *, item_match: ItemMatch | None = None) -> Test:
    """``match(operator, actual, params, …)`` as a function of ``actual`` alone."""
    if operator in _NUMERIC:
        return numeric_test(operator, params.get("value"))
    return text_test(
        operator,
        params.get("value"),
        case_sensitive=bool(params.get("case_sensitive", False)),
        item_match=item_match,
    )


def text_access(
    operator: str,
    expected: Any,
    source: tuple,
    read_raw: Callable[[dict[str, Any]], Any],
    *,
    case_sensitive: bool = False,
    item_match: ItemMatch | None = None,
) -> Access | None:
    """The access of ``text_test(operator, expected, …)`` applied to ``read_raw(context)``:
    ``equals`` / ``any_of`` compare folded text with a set of keys; other operators have none."""
    if item_match is not None or operator not in ("equals", "any_of"):
        return None
    keys = frozenset(fold(item, case_sensitive) for item in equality_items(operator, expected))
    cs = case_sensitive
    return Access(
        source=("text", *source, cs),
        read=lambda context: text_key(read_raw(context), cs),
        op="in",
        value=keys,
        weight=min(1.0, 0.1 * len(keys)),
    )


def numeric_access(
    operator: str, expected: Any, source: tuple, read_raw: Callable[[dict[str, Any]], Any]
) -> Access | None:
    """The access of ``numeric_test(operator, expected)`` applied to ``read_raw(context)``:
    ``eq`` is a key, ``gt gte lt lte`` a threshold; ``ne`` (true when absent) has none."""
    if operator != "eq" and operator not in RANGE_OPERATORS:
        return None
    wanted = to_number(expected)
    source = ("number", *source)

    def read(context: dict[str, Any]) -> float | None:
        return to_number(read_raw(context))

    if wanted is None:  # never holds
        return Access(source=source, read=read, op="in", value=frozenset(), weight=0.0)
    if operator == "eq":
        return Access(source=source, read=read, op="in", value=frozenset({wanted}), weight=0.1)
    return Access(source=source, read=read, op=operator, value=wanted, weight=0.5)


def match_access(
    operator: str, params: dict[str, Any], source: tuple, read_raw: Callable[[dict[str, Any]], Any]
) -> Access | None:
    """The access of ``match_test(operator, params)`` applied to ``read_raw(context)``."""
    if operator in _NUMERIC:
        return numeric_access(operator, params.get("value"), source, read_raw)
    return text_access(
        operator,
        params.get("value"),
        source,
        read_raw,
        case_sensitive=bool(params.get("case_sensitive", False)),
    )
