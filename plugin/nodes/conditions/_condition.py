"""A condition defined once: the value it reads and the operators it compares that value with.

Every condition module is one :class:`Condition` made of a :class:`Field` (where the value is in
the conditions' context, given the params) and an :class:`Operators` family (text, numeric,
either, order status, order age). The node contract's hooks (nodes/base.py) are derived from
that pair, so they cannot disagree:

- ``evaluate(params, context)``: the family's ``match`` on the value the field reads;
- ``prepare(params)``: the family's ``test`` (the params worked out once) bound to the field;
- ``access(params)``: the family's ``access`` on the field's reader, keyed by the field's
  ``source`` (how the flow index finds the contexts the condition holds for; ``None``: it cannot).

A module then reads::

    CONDITION = Condition(Entry("visit", "city"), TEXT)
    EVENTS, evaluate, prepare, access = CONDITION.hooks()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugin.nodes.operators import (
    Access,
    ItemMatch,
    Test,
    match,
    match_access,
    match_test,
    numeric_access,
    numeric_match,
    numeric_test,
    text_access,
    text_match,
    text_test,
)

Params = dict[str, Any]
Read = Callable[[dict[str, Any]], Any]
"""``read(context) -> value``: what a field reads from the conditions' context."""


class Field:
    """Where a condition's value is in the conditions' context, given its params.

    Subclasses give :meth:`source` and :meth:`reader`; :meth:`read` and :meth:`bind` are the same
    reading in the forms ``evaluate`` and ``prepare`` use (overridden where a shortcut is faster).
    """

    def source(self, params: Params) -> tuple:
        """Names the value read: two fields with the same source read the same value."""
        raise NotImplementedError

    def reader(self, params: Params) -> Read:
        raise NotImplementedError

    def read(self, params: Params, context: dict[str, Any]) -> Any:
        return self.reader(params)(context)

    def bind(self, params: Params, test: Test) -> Callable[[dict[str, Any]], bool]:
        """``test`` applied to the value read: ``context -> bool``."""
        read = self.reader(params)
        return lambda context: test(read(context))


class Entry(Field):
    """``context[section][key]`` (``None`` when the section is absent)."""

    def __init__(self, section: str, key: str):
        self.section, self.key = section, key

    def source(self, params: Params) -> tuple:
        return (self.section, self.key)

    def reader(self, params: Params) -> Read:
        section, key = self.section, self.key
        return lambda context: (context.get(section) or {}).get(key)

    def read(self, params: Params, context: dict[str, Any]) -> Any:
        return (context.get(self.section) or {}).get(self.key)

    def bind(self, params: Params, test: Test) -> Callable[[dict[str, Any]], bool]:
        section, key = self.section, self.key
        return lambda context: test((context.get(section) or {}).get(key))


class ParamEntry(Field):
    """``context[section][key_of(params)]``: the key named by the params (``visit_utm``'s ``tag``)."""

    def __init__(self, section: str, key_of: Callable[[Params], str]):
        self.section, self.key_of = section, key_of

    def source(self, params: Params) -> tuple:
        return (self.section, self.key_of(params))

    def reader(self, params: Params) -> Read:
        return Entry(self.section, self.key_of(params)).reader(params)

    def read(self, params: Params, context: dict[str, Any]) -> Any:
        return (context.get(self.section) or {}).get(self.key_of(params))

    def bind(self, params: Params, test: Test) -> Callable[[dict[str, Any]], bool]:
        return Entry(self.section, self.key_of(params)).bind(params, test)


class Operators:
    """A family of operators in the three forms a condition needs. ``operator`` is the ``operator``
    param (``default`` when absent); an operator not of the family raises ``ValueError``.

    - ``match(operator, actual, params)``: the verdict on ``actual``, the value read;
    - ``test(operator, params)``: the same as a function of ``actual`` alone (params parsed once);
    - ``access(operator, params, source, read)``: an exact index key of the condition whose
      value ``read`` reads (see :class:`~plugin.nodes.operators.Access`), or ``None``.
    """

    default: str

    def match(self, operator: str, actual: Any, params: Params) -> bool:
        raise NotImplementedError

    def test(self, operator: str, params: Params) -> Test:
        raise NotImplementedError

    def access(self, operator: str, params: Params, source: tuple, read: Read) -> Access | None:
        return None


class TextOperators(Operators):
    """``equals``, ``any_of``, ``contains``, ``is_empty``... on the param ``value``, case-insensitive
    unless ``case_sensitive``; ``item_match`` replaces plain equality (IP ranges)."""

    default = "equals"

    def __init__(self, item_match: ItemMatch | None = None):
        self.item_match = item_match

    def match(self, operator: str, actual: Any, params: Params) -> bool:
        return text_match(
            operator,
            actual,
            params.get("value"),
            case_sensitive=bool(params.get("case_sensitive", False)),
            item_match=self.item_match,
        )

    def test(self, operator: str, params: Params) -> Test:
        return text_test(
            operator,
            params.get("value"),
            case_sensitive=bool(params.get("case_sensitive", False)),
            item_match=self.item_match,
        )

    def access(self, operator: str, params: Params, source: tuple, read: Read) -> Access | None:
        if self.item_match is not None:
            return None
        case_sensitive = bool(params.get("case_sensitive", False))
        return text_access(operator, params.get("value"), source, read, case_sensitive=case_sensitive)


class NumericOperators(Operators):
    """``eq``, ``gt``, ``lte``... on the param ``value``; numeric strings count as numbers."""

    default = "eq"

    def match(self, operator: str, actual: Any, params: Params) -> bool:
        return numeric_match(operator, actual, params.get("value"))

    def test(self, operator: str, params: Params) -> Test:
        return numeric_test(operator, params.get("value"))

    def access(self, operator: str, params: Params, source: tuple, read: Read) -> Access | None:
        return numeric_access(operator, params.get("value"), source, read)


class EitherOperators(Operators):
    """The numeric operators and the text ones, by the operator's name."""

    default = "equals"

    def match(self, operator: str, actual: Any, params: Params) -> bool:
        return match(operator, actual, params)

    def test(self, operator: str, params: Params) -> Test:
        return match_test(operator, params)

    def access(self, operator: str, params: Params, source: tuple, read: Read) -> Access | None:
        return match_access(operator, params, source, read)


TEXT = TextOperators()
NUMERIC = NumericOperators()
EITHER = EitherOperators()


class Condition:
    """One condition: the value ``field`` reads, compared by the ``operators`` family; ``events``
    is ``None`` when it works with every event, else the event node types whose context carries
    its data."""

    def __init__(self, field: Field, operators: Operators, *, events: frozenset[str] | None = None):
        self.field, self.operators, self.events = field, operators, events
        match, read, default = operators.match, field.read, operators.default

        def evaluate(params: Params, context: dict[str, Any]) -> bool:
            """The verdict on a context: the family's ``match`` on the value the field reads."""
            return match(params.get("operator", default), read(params, context), params)

        self.evaluate = evaluate  # a plain function (no attribute lookups): runs call it per node

    def prepare(self, params: Params) -> Callable[[dict[str, Any]], bool]:
        """``evaluate(params, ·)`` with the params worked out once; raises on params it cannot work
        out (the engine then calls ``evaluate``)."""
        test = self.operators.test(params.get("operator", self.operators.default), params)
        return self.field.bind(params, test)

    def access(self, params: Params) -> Access | None:
        operator = params.get("operator", self.operators.default)
        return self.operators.access(operator, params, self.field.source(params), self.field.reader(params))

    def hooks(self) -> tuple[frozenset[str] | None, Callable, Callable, Callable]:
        """``EVENTS, evaluate, prepare, access``: the hooks of a condition module."""
        return self.events, self.evaluate, self.prepare, self.access
