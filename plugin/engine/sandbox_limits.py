"""The template sandbox's limits: the render's time and size budget, value weights, and the guards
that loops, ``~``, literals and printed text go through (see :mod:`plugin.engine.sandbox`)."""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from jinja2.runtime import Undefined
from jinja2.sandbox import SecurityError

from plugin.engine.variables import as_text

MAX_WEIGHT = 1024 * 1024
"""The largest value (in printed characters, roughly) a template may build."""
MAX_BUILT = 4 * MAX_WEIGHT
"""All a render may build, together: every value a filter, operator, call or literal makes, and every
character printed, also into a ``{% set %}`` block, a macro or a ``{% filter %}`` (≤ 16 MB of text)."""
SLOT = 8
"""What one item of a list or dict weighs on top of its content: keeps weighing fast (≤ 128 Ki items)."""
MAX_RANGE = 1000
MAX_ITERATIONS = 1_000_000
MAX_INT_BITS = 14_000
"""Python refuses to print integers of more than 4,300 digits anyway."""
MAX_FORMAT_NUMBER = 1000
"""The widest field width or precision in a ``%`` format."""

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")


class Budget:
    """The time and output allowance of one render."""

    def __init__(self, seconds: float, max_output: int):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.iterations = 0
        self.printed = 0
        self.max_printed = 4 * max_output
        self.built = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(f"rendering took longer than {self.seconds} s")

    def charge(self, size: int) -> None:
        """Count ``size`` characters built; memory is bounded by the sum, not only by each value."""
        self.built += size
        if self.built > MAX_BUILT:
            raise SecurityError(f"the template built more than {MAX_BUILT} characters in all")


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("template_budget", default=None)


def start(budget: Budget) -> contextvars.Token:
    return _budget.set(budget)


def stop(token: contextvars.Token) -> None:
    _budget.reset(token)


def tick() -> None:
    budget = _budget.get()
    if budget is not None:  # None while Jinja folds constants at compile time
        budget.tick()


def charge(size: int) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.charge(size)


def _leaf_weight(item: Any) -> int:
    if isinstance(item, str | bytes):
        return len(item)
    if isinstance(item, bool) or item is None:
        return 5
    if isinstance(item, int):
        return item.bit_length() // 3 + 1
    return 0 if isinstance(item, Undefined) else 24


def weight(value: Any, limit: int = MAX_WEIGHT) -> int:
    """About how many characters ``value`` prints as; stops counting once past ``limit``.

    A container shared many times (``[l, l]``) is weighed once and counted each time it appears,
    so doubling structures cost linear time to weigh.
    """
    memo: dict[int, int] = {}
    visits = 0

    def visit(item: Any) -> int:
        nonlocal visits
        if isinstance(item, dict):
            items: Iterable[Any] = (x for pair in item.items() for x in pair)
        elif isinstance(item, list | tuple | set | frozenset):
            items = item
        else:
            return _leaf_weight(item)
        key = id(item)
        if key in memo:
            return memo[key]
        visits += 1
        if visits % 1024 == 0:
            tick()
        total = 2 + SLOT * len(item)
        for x in items if total <= limit else ():
            kind = type(x)
            if kind is str:
                total += len(x)
            elif kind is int or kind is float:
                total += 24
            else:
                total += visit(x)
            if total > limit:
                break
        memo[key] = total
        return total

    return visit(value)


def check_weight(value: Any, what: str = "value") -> Any:
    if weight(value) > MAX_WEIGHT:
        raise SecurityError(f"{what} larger than {MAX_WEIGHT} characters")
    return value


def built(value: Any, what: str = "value") -> Any:
    """A value a filter, operator or call has just made: bounded alone and counted in the render's total."""
    if isinstance(value, str | list | tuple | dict):
        size = weight(value)
        if size > MAX_WEIGHT:
            raise SecurityError(f"{what} larger than {MAX_WEIGHT} characters")
        charge(size)
    return value


def to_text(value: Any) -> str:
    """Data as it reads in a message (see :func:`as_text`); any other object as ``""``."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return ""
    if isinstance(value, int | float | Decimal | bool) or value is None:
        return as_text(value)
    if isinstance(value, dict | list | tuple):
        check_weight(value)
        return as_text(_plain(value))
    if isinstance(value, type({}.items()) | type({}.keys()) | type({}.values())):
        return to_text(list(value))
    return ""


def _plain(value: Any) -> Any:
    """``value`` with every non-data leaf replaced by ``None`` (so JSON never holds a repr)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if isinstance(k, str | int | float | bool)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool | Decimal) or value is None:
        return value
    return None


def check_percent_format(template: Any) -> None:
    """Refuse ``%`` formats whose width or precision would build a huge string."""
    if not isinstance(template, str):
        return
    for width, precision in _PERCENT_SPEC.findall(template):
        for number in (width, precision):
            if number == "*":
                raise SecurityError("a '*' width or precision is not allowed in a format")
            if number and int(number) > MAX_FORMAT_NUMBER:
                raise SecurityError(f"a format width or precision above {MAX_FORMAT_NUMBER} is not allowed")


def format_args(args: Any) -> Any:
    """The arguments of a ``%`` format or ``|format``: data as is, any other object as its text."""
    if isinstance(args, tuple):
        return tuple(a if isinstance(a, int | float | Decimal | str) else to_text(a) for a in args)
    if isinstance(args, dict):
        return {k: (v if isinstance(v, int | float | Decimal | str) else to_text(v)) for k, v in args.items()}
    return args if isinstance(args, int | float | Decimal | str) else to_text(args)


def bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise SecurityError(f"range of {len(rng)} items exceeds the limit of {MAX_RANGE}")
    return rng


def guard_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every loop iterates through this: time budget and iteration count."""
    budget = _budget.get()
    for item in iterable:
        if budget is not None:
            budget.iterations += 1
            if budget.iterations > MAX_ITERATIONS:
                raise SecurityError(f"more than {MAX_ITERATIONS} loop iterations")
            budget.tick()
        yield item


def guard_concat(*items: Any) -> str:
    """``a ~ b``: text of bounded size."""
    texts = [to_text(item) for item in items]
    size = sum(len(t) for t in texts)
    if size > MAX_WEIGHT:
        raise SecurityError(f"text larger than {MAX_WEIGHT} characters")
    charge(size)
    return "".join(texts)


def guard_value(value: Any) -> Any:
    """A list, tuple or dict literal: bounded size (``[l, l]`` doubles); its own slots are counted."""
    check_weight(value)
    charge(2 + SLOT * len(value))
    return value


def guard_data(size: int) -> str:
    """Count the template's literal text before it is output: in a loop inside a ``{% set %}`` block
    or a macro it is collected in memory, where the streaming output check does not see it."""
    budget = _budget.get()
    if budget is not None:
        budget.printed += size
        if budget.printed > budget.max_printed:
            raise SecurityError(f"templates may print at most {budget.max_printed} characters in all")
        budget.charge(size)
        budget.tick()
    return ""


def printed(value: Any, budget: Budget | None) -> str:
    """Account for text printed by ``{{ }}`` (also inside ``{% set %}`` blocks and macros)."""
    text = to_text(value)
    if budget is not None:
        budget.printed += len(text)
        if budget.printed > budget.max_printed:
            raise SecurityError(f"templates may print at most {budget.max_printed} characters in all")
        budget.charge(len(text))
        budget.tick()
    return text
