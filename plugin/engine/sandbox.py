"""The template sandbox: Jinja2's immutable sandbox narrowed to data, with bounded time and size.

Jinja2's sandbox stops attribute escapes but not resource exhaustion: ``'%0999999999d'|format(1)``,
``'x'|replace('x', 'x' * 10**5)`` twice, ``[l, l]`` doubled thirty times or three nested loops
over ``range(1000)`` each hang a worker or take gigabytes. So, on top of it:

- attributes: only a short allowlist of side-effect-free, non-amplifying methods of data types
  (``str.upper``, ``dict.items``, ``loop.index``...); ``str.format`` and everything else is refused;
- every loop, call and operator checks the render's time budget; loops count their iterations;
- every value built by a literal, an operator, ``~`` or a filter is weighed (about how many
  characters it would print as) and refused above :data:`MAX_WEIGHT`; filters whose size depends
  on an argument (``center``, ``replace``, ``format``...) are checked before they run;
- values become text through :func:`to_text` only: data reads as in a ``{variable}``, any other
  Python object (a method, a macro, a generator) as an empty string, never its ``repr``.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from types import FunctionType
from typing import Any

from jinja2 import nodes
from jinja2.runtime import LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

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

_SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        [
            "capitalize",
            "casefold",
            "count",
            "endswith",
            "find",
            "index",
            "isalnum",
            "isalpha",
            "isdecimal",
            "isdigit",
            "islower",
            "isnumeric",
            "isspace",
            "istitle",
            "isupper",
            "lower",
            "lstrip",
            "partition",
            "removeprefix",
            "removesuffix",
            "rfind",
            "rindex",
            "rpartition",
            "rsplit",
            "rstrip",
            "split",
            "splitlines",
            "startswith",
            "strip",
            "swapcase",
            "title",
            "upper",
        ]
    ),
    dict: frozenset({"get", "items", "keys", "values"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    int: frozenset({"is_integer"}),
    float: frozenset({"is_integer"}),
}
_LOOP_ATTRIBUTES = frozenset(
    [
        "changed",
        "cycle",
        "depth",
        "depth0",
        "first",
        "index",
        "index0",
        "last",
        "length",
        "nextitem",
        "previtem",
        "revindex",
        "revindex0",
    ]
)
_DROPPED_FILTERS = ("pprint", "xmlattr", "urlize")  # Python reprs and HTML that the channel escapes anyway
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


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:  # None while Jinja folds constants at compile time
        budget.tick()


def _charge(size: int) -> None:
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
            _tick()
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
        _charge(size)
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


def _format_args(args: Any) -> Any:
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
    _charge(size)
    return "".join(texts)


def guard_value(value: Any) -> Any:
    """A list, tuple or dict literal: bounded size (``[l, l]`` doubles); its own slots are counted."""
    check_weight(value)
    _charge(2 + SLOT * len(value))
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


class _Guarder(NodeTransformer):
    """Routes loops, ``~`` and container literals through the guards above."""

    def __init__(self, environment):
        self.environment = environment

    def _call(self, name: str, args: list, lineno: int) -> nodes.Call:
        call = nodes.Call(nodes.Name(name, "load"), args, [], None, None)
        call.set_lineno(lineno)
        call.set_environment(self.environment)
        return call

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = self._call("_guard_iter", [node.iter], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return self._call("_guard_concat", list(node.nodes), node.lineno)

    def _literal(self, node: nodes.Node) -> nodes.Node:
        node = self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node
        try:
            node.as_const()
            return node  # constants are bounded by the template's own size
        except nodes.Impossible:
            return self._call("_guard_value", [node], node.lineno)

    visit_List = visit_Tuple = visit_Dict = _literal

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        node = self.generic_visit(node)
        children: list[nodes.Node] = []
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                children.append(self._call("_guard_data", [nodes.Const(len(child.data))], child.lineno))
            children.append(child)
        node.nodes = children
        return node


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _precheck(name: str, args: tuple, kwargs: dict) -> None:
    """Size checks of the filters whose output grows with an argument (``args`` start at the value)."""
    value = args[0] if args else None
    text = value if isinstance(value, str) else ""
    if name == "center":
        if _int(_arg(args, kwargs, 1, "width", 80)) > MAX_WEIGHT:
            raise SecurityError(f"center width above {MAX_WEIGHT}")
    elif name == "indent":
        width = _arg(args, kwargs, 1, "width", 4)
        size = len(width) if isinstance(width, str) else _int(width)
        if size > MAX_FORMAT_NUMBER or (text.count("\n") + 1) * size + len(text) > MAX_WEIGHT:
            raise SecurityError("indentation too large")
    elif name == "replace":
        old, new = str(_arg(args, kwargs, 1, "old", "")), str(_arg(args, kwargs, 2, "new", ""))
        count = _arg(args, kwargs, 3, "count", None)
        hits = len(text) + 1 if old == "" else text.count(old)
        if count is not None:
            hits = min(hits, max(_int(count), 0))
        if len(text) + hits * len(new) > MAX_WEIGHT:
            raise SecurityError(f"replace would build more than {MAX_WEIGHT} characters")
    elif name == "format":
        check_percent_format(value)
    elif name == "wordwrap":
        wrapstring = _arg(args, kwargs, 3, "wrapstring", None)
        if wrapstring is not None and (len(text) + 1) * len(str(wrapstring)) > MAX_WEIGHT:
            raise SecurityError("wordwrap wrapstring too large")
    elif name == "join":
        items = list(value) if value is not None and not isinstance(value, str | dict) else None
        separator = str(_arg(args, kwargs, 1, "d", ""))
        if items is not None and weight(items) + len(separator) * len(items) > MAX_WEIGHT:
            raise SecurityError(f"join would build more than {MAX_WEIGHT} characters")
    elif name in ("batch", "slice"):
        count_name = "linecount" if name == "batch" else "slices"
        count = _int(_arg(args, kwargs, 1, count_name, 1), 1)
        fill = _arg(args, kwargs, 2, "fill_with", None)
        if name == "slice" and count > MAX_RANGE:
            raise SecurityError(f"slice into more than {MAX_RANGE} parts")
        if fill is not None and count * weight(fill) > MAX_WEIGHT:
            raise SecurityError(f"{name} fill too large")
    elif name == "sum":
        start = _arg(args, kwargs, 2, "start", 0)
        if not isinstance(start, int | float | Decimal) or isinstance(start, bool):
            raise SecurityError("sum adds numbers only")
    elif name == "tojson":
        indent = _arg(args, kwargs, 1, "indent", None)
        if indent is not None and (len(indent) if isinstance(indent, str) else _int(indent)) > 16:
            raise SecurityError("tojson indent above 16")


def _guard_filter(name: str, func: Callable) -> Callable:
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        head, rest = args[:offset], args[offset:]
        for value in (*rest, *kwargs.values()):
            check_weight(value, "filter argument")
        if name in _TEXT_FILTERS and rest and not isinstance(rest[0], str):
            rest = (to_text(rest[0]), *rest[1:])
        if name == "format":
            rest = (rest[0], *_format_args(rest[1:])) if rest else rest
            kwargs = _format_args(kwargs)
        if name == "join" and rest and not isinstance(rest[0], str | dict) and rest[0] is not None:
            attribute = _arg(rest, kwargs, 2, "attribute", None)
            items = list(rest[0])
            rest = ((items if attribute is not None else [to_text(i) for i in items]), *rest[1:])
        _precheck(name, rest, kwargs)
        return built(func(*head, *rest, **kwargs), f"result of |{name}")

    return guarded


_GUARDS = frozenset([guard_iter, guard_concat, guard_value, guard_data])


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox restricted to data, with the limits described in the module docstring."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        for name in _DROPPED_FILTERS:
            self.filters.pop(name, None)
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        self.globals = {
            "range": bounded_range,
            "_guard_iter": guard_iter,
            "_guard_concat": guard_concat,
            "_guard_value": guard_value,
            "_guard_data": guard_data,
        }

    def _generate(self, source, name, filename, defer_init=False):  # the documented compile hook
        return super()._generate(_Guarder(self).visit(source), name, filename, defer_init=defer_init)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_"):
            return False
        if isinstance(obj, LoopContext):
            return attr in _LOOP_ATTRIBUTES
        for kind, allowed in _SAFE_METHODS.items():
            if isinstance(obj, kind) and not isinstance(obj, bool):
                return attr in allowed
        return False

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is not on the allowlist: no format-spec tricks, no attribute lookups

    def call(__self, __context, __obj, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        if isinstance(__obj, FunctionType) and __obj in _GUARDS:  # they weigh and count themselves
            return __context.call(__obj, *args, **kwargs)
        return built(super().call(__context, __obj, *args, **kwargs), "result of a call")

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "**":
            if isinstance(right, int | float | Decimal) and abs(right) > 64:
                raise SecurityError("exponent too large")
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() * abs(right) > MAX_INT_BITS
            ):
                raise SecurityError("number too large")
        elif operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(count, int)
                    and weight(seq) * count > MAX_WEIGHT
                ):
                    raise SecurityError("result too large")
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS
            ):
                raise SecurityError("number too large")
        elif operator == "+":
            if not isinstance(left, int | float | Decimal) and weight(left) + weight(right) > MAX_WEIGHT:
                raise SecurityError("result too large")
        elif operator == "%" and isinstance(left, str):
            check_percent_format(left)
            check_weight(right)
            right = _format_args(right)
        return built(super().call_binop(context, operator, left, right), f"result of {operator!r}")


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


def current_budget() -> Budget | None:
    return _budget.get()
