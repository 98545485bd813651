"""Operators shared by conditions: coercion of stored values and the text / numeric comparisons."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
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
        parsed = datetime(value.year, value.month, value.day)
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
