"""The template sandbox: Jinja2's immutable sandbox narrowed to data, with bounded time and size.

Jinja2's sandbox stops attribute escapes but not resource exhaustion: ``'%0999999999d'|format(1)``,
``'x'|replace('x', 'x' * 10**5)`` twice, ``[l, l]`` doubled thirty times or three nested loops
over ``range(1000)`` each hang a worker or take gigabytes. So, on top of it:

- attributes: only a short allowlist of side-effect-free, non-amplifying methods of data types
  (``str.upper``, ``dict.items``, ``loop.index``...); ``str.format`` and everything else is refused;
- every loop, call and operator checks the render's time budget; loops count their iterations;
- every value built by a literal, an operator, ``~`` or a filter is weighed (about how many
  characters it would print as) and refused above :data:`~plugin.engine.sandbox_limits.MAX_WEIGHT`;
  filters whose size depends on an argument (``center``, ``replace``, ``format``...) are checked
  before they run;
- values become text through :func:`~plugin.engine.sandbox_limits.to_text` only: data reads as
  in a ``{variable}``, any other Python object (a method, a macro, a generator) as an empty
  string, never its ``repr``.

The limits (budget, weights, guards) are in :mod:`plugin.engine.sandbox_limits`, the checks of filters
and operators in :mod:`plugin.engine.sandbox_checks`.
"""

from __future__ import annotations

from types import FunctionType
from typing import Any

from jinja2 import nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from plugin.engine.sandbox_checks import DROPPED_FILTERS, binop_operands, guard_filter
from plugin.engine.sandbox_limits import (
    bounded_range,
    built,
    guard_concat,
    guard_data,
    guard_iter,
    guard_value,
    tick,
)

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


_GUARDS = frozenset([guard_iter, guard_concat, guard_value, guard_data])


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox restricted to data, with the limits described in the module docstring."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        for name in DROPPED_FILTERS:
            self.filters.pop(name, None)
        self.filters = {name: guard_filter(name, func) for name, func in self.filters.items()}
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
        tick()
        if isinstance(__obj, FunctionType) and __obj in _GUARDS:  # they weigh and count themselves
            return __context.call(__obj, *args, **kwargs)
        return built(super().call(__context, __obj, *args, **kwargs), "result of a call")

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        tick()
        right = binop_operands(operator, left, right)
        return built(super().call_binop(context, operator, left, right), f"result of {operator!r}")
