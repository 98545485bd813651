"""The template sandbox's checks before a filter or an operator runs: the filters and operators whose
output grows with an argument (``center``, ``replace``, ``*``, ``**``...) are refused when it would
be too large, and every filter's result is weighed (see :mod:`plugin.engine.sandbox`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from jinja2.sandbox import SecurityError

from plugin.engine.sandbox_limits import (
    MAX_FORMAT_NUMBER,
    MAX_INT_BITS,
    MAX_RANGE,
    MAX_WEIGHT,
    built,
    check_percent_format,
    check_weight,
    format_args,
    to_text,
    weight,
)

DROPPED_FILTERS = ("pprint", "xmlattr", "urlize")  # Python reprs and HTML that the channel escapes anyway
_TEXT_FILTERS = frozenset(
    [
        "capitalize",
        "center",
        "e",
        "escape",
        "forceescape",
        "format",
        "indent",
        "lower",
        "replace",
        "safe",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "wordcount",
        "wordwrap",
    ]
)

Precheck = Callable[[tuple, dict], None]
"""A size check of one filter: ``(args, kwargs)``, ``args`` starting at the filtered value."""


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _value(args: tuple) -> Any:
    return args[0] if args else None


def _text(args: tuple) -> str:
    value = _value(args)
    return value if isinstance(value, str) else ""


def _center(args: tuple, kwargs: dict) -> None:
    if _int(_arg(args, kwargs, 1, "width", 80)) > MAX_WEIGHT:
        raise SecurityError(f"center width above {MAX_WEIGHT}")


def _indent(args: tuple, kwargs: dict) -> None:
    text = _text(args)
    width = _arg(args, kwargs, 1, "width", 4)
    size = len(width) if isinstance(width, str) else _int(width)
    if size > MAX_FORMAT_NUMBER or (text.count("\n") + 1) * size + len(text) > MAX_WEIGHT:
        raise SecurityError("indentation too large")


def _replace(args: tuple, kwargs: dict) -> None:
    text = _text(args)
    old, new = str(_arg(args, kwargs, 1, "old", "")), str(_arg(args, kwargs, 2, "new", ""))
    count = _arg(args, kwargs, 3, "count", None)
    hits = len(text) + 1 if old == "" else text.count(old)
    if count is not None:
        hits = min(hits, max(_int(count), 0))
    if len(text) + hits * len(new) > MAX_WEIGHT:
        raise SecurityError(f"replace would build more than {MAX_WEIGHT} characters")


def _format(args: tuple, kwargs: dict) -> None:
    check_percent_format(_value(args))


def _wordwrap(args: tuple, kwargs: dict) -> None:
    wrapstring = _arg(args, kwargs, 3, "wrapstring", None)
    if wrapstring is not None and (len(_text(args)) + 1) * len(str(wrapstring)) > MAX_WEIGHT:
        raise SecurityError("wordwrap wrapstring too large")


def _join(args: tuple, kwargs: dict) -> None:
    value = _value(args)
    items = list(value) if value is not None and not isinstance(value, str | dict) else None
    separator = str(_arg(args, kwargs, 1, "d", ""))
    if items is not None and weight(items) + len(separator) * len(items) > MAX_WEIGHT:
        raise SecurityError(f"join would build more than {MAX_WEIGHT} characters")


def _parts(name: str, count_name: str) -> Precheck:
    """``batch`` / ``slice``: the number of parts and the filler they pad with."""

    def check(args: tuple, kwargs: dict) -> None:
        count = _int(_arg(args, kwargs, 1, count_name, 1), 1)
        fill = _arg(args, kwargs, 2, "fill_with", None)
        if name == "slice" and count > MAX_RANGE:
            raise SecurityError(f"slice into more than {MAX_RANGE} parts")
        if fill is not None and count * weight(fill) > MAX_WEIGHT:
            raise SecurityError(f"{name} fill too large")

    return check


def _sum(args: tuple, kwargs: dict) -> None:
    start = _arg(args, kwargs, 2, "start", 0)
    if not isinstance(start, int | float | Decimal) or isinstance(start, bool):
        raise SecurityError("sum adds numbers only")


def _tojson(args: tuple, kwargs: dict) -> None:
    indent = _arg(args, kwargs, 1, "indent", None)
    if indent is not None and (len(indent) if isinstance(indent, str) else _int(indent)) > 16:
        raise SecurityError("tojson indent above 16")


_PRECHECKS: dict[str, Precheck] = {
    "center": _center,
    "indent": _indent,
    "replace": _replace,
    "format": _format,
    "wordwrap": _wordwrap,
    "join": _join,
    "batch": _parts("batch", "linecount"),
    "slice": _parts("slice", "slices"),
    "sum": _sum,
    "tojson": _tojson,
}


def _filter_args(name: str, rest: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The value and arguments a filter gets: text filters take text, ``format`` data, ``join`` a list."""
    if name in _TEXT_FILTERS and rest and not isinstance(rest[0], str):
        rest = (to_text(rest[0]), *rest[1:])
    if name == "format":
        rest = (rest[0], *format_args(rest[1:])) if rest else rest
        kwargs = format_args(kwargs)
    if name == "join" and rest and not isinstance(rest[0], str | dict) and rest[0] is not None:
        attribute = _arg(rest, kwargs, 2, "attribute", None)
        items = list(rest[0])
        rest = ((items if attribute is not None else [to_text(i) for i in items]), *rest[1:])
    return rest, kwargs


def guard_filter(name: str, func: Callable) -> Callable:
    """The filter ``func`` with its arguments weighed and coerced, its size checked before it runs
    (``_PRECHECKS``) and its result weighed and counted after."""
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    precheck = _PRECHECKS.get(name)

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        head, rest = args[:offset], args[offset:]
        for value in (*rest, *kwargs.values()):
            check_weight(value, "filter argument")
        rest, kwargs = _filter_args(name, rest, kwargs)
        if precheck is not None:
            precheck(rest, kwargs)
        return built(func(*head, *rest, **kwargs), f"result of |{name}")

    return guarded


# -- operators ------------------------------------------------------------------------------------


def _power(left: Any, right: Any) -> None:
    if isinstance(right, int | float | Decimal) and abs(right) > 64:
        raise SecurityError("exponent too large")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() * abs(right) > MAX_INT_BITS:
        raise SecurityError("number too large")


def _times(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
        if sized and weight(seq) * count > MAX_WEIGHT:
            raise SecurityError("result too large")
    both_int = isinstance(left, int) and isinstance(right, int)
    if both_int and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise SecurityError("number too large")


def _plus(left: Any, right: Any) -> None:
    if not isinstance(left, int | float | Decimal) and weight(left) + weight(right) > MAX_WEIGHT:
        raise SecurityError("result too large")


_OPERATOR_CHECKS: dict[str, Callable[[Any, Any], None]] = {"**": _power, "*": _times, "+": _plus}


def binop_operands(operator: str, left: Any, right: Any) -> Any:
    """Check ``left <operator> right`` before it runs; returns the right operand to use (a ``%``
    format's arguments as data)."""
    if operator == "%":
        if isinstance(left, str):
            check_percent_format(left)
            check_weight(right)
            right = format_args(right)
        return right
    check = _OPERATOR_CHECKS.get(operator)
    if check is not None:
        check(left, right)
    return right
