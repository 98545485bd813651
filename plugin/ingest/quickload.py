"""``Schema.load`` for the plain, valid case, without marshmallow's per-field machinery.

On ``POST /api/v1/batch`` marshmallow was ~40 % of an API worker's time (py-spy, 1,000-item
batches): for every field of every item it builds a getter closure, runs it through the error
store, checks for a missing value, loops over the field's hooks and calls each validator object.
A :class:`QuickLoader` does the same per-field work directly for the field kinds the ingestion
schemas use, and gives up (``None``) on anything it is not sure of, so the caller runs the
schema itself. It never produces an error and never accepts what the schema refuses:

* a ``String`` whose validators are only ``Length`` (without ``equal``) and ``OneOf`` is checked
  inline (exact ``str``, its length, its choices); a ``Float`` takes an exact ``float`` that is
  finite (when ``allow_nan`` is false) or an exact ``int`` within ±2**53, as ``float(value)``; a
  ``Dict`` without key or value fields takes an exact ``dict``, copied as marshmallow copies it;
* ``None`` is taken where the field allows it; a missing field gets its ``load_default``, and a
  missing required one gives up;
* any other field without validators (``Id``, date-times, ``Nested``) goes through its own
  ``_deserialize``, as ``Field.deserialize`` calls it, and one with validators through
  ``field.deserialize`` itself; a ``ValidationError`` there gives up;
* a key the schema does not declare gives up (the schemas are ``unknown = RAISE``); so does a
  schema with hooks (``pre_load``, ``validates``, ``validates_schema``, ``post_load``), a field
  with a ``data_key`` or ``attribute``, or anything else not described here — such a schema is
  never loaded quickly at all (``QuickLoader.usable`` is false).

The output is the dict the schema returns, key for key and in the same (declaration) order;
``tests/api/test_quickload.py`` checks that against ``Schema.load`` on generated input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, missing, validate
from marshmallow import fields as mf

_NO = object()  # a field's check gives up
_MAX_EXACT_INT = 2**53


def _string_check(field: mf.String) -> Callable[[Any, dict], Any] | None:
    low, high, choices = 0, None, None
    for validator in field.validators:
        if type(validator) is validate.Length and validator.equal is None:
            low = max(low, validator.min or 0)
            high = (
                validator.max
                if high is None or (validator.max is not None and validator.max < high)
                else high
            )
        elif type(validator) is validate.OneOf and all(type(c) is str for c in validator.choices):
            choices = (
                frozenset(validator.choices) if choices is None else choices & frozenset(validator.choices)
            )
        else:
            return None
    allow_none = field.allow_none

    def check(value, data):
        if type(value) is str:
            size = len(value)
            if size >= low and (high is None or size <= high) and (choices is None or value in choices):
                return value
            return _NO
        return None if value is None and allow_none else _NO

    return check


def _float_check(field: mf.Float) -> Callable[[Any, dict], Any] | None:
    if field.validators:
        return None
    allow_none, allow_nan = field.allow_none, field.allow_nan is not False

    def check(value, data):
        kind = type(value)
        if kind is float:
            return value if allow_nan or math.isfinite(value) else _NO
        if kind is int and -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
            return float(value)
        return None if value is None and allow_none else _NO

    return check


def _dict_check(field: mf.Dict) -> Callable[[Any, dict], Any] | None:
    if field.validators or field.key_field is not None or field.value_field is not None:
        return None
    allow_none = field.allow_none

    def check(value, data):
        if type(value) is dict:
            return dict(value)  # Mapping._deserialize returns ``mapping_type(value)``
        return None if value is None and allow_none else _NO

    return check


def _field_check(field: mf.Field) -> Callable[[Any, dict], Any] | None:
    """A field without validators: its own ``_deserialize``, as ``Field.deserialize`` calls it."""
    if field.validators:
        return None
    allow_none, deserialize, name = field.allow_none, field._deserialize, field.name

    def check(value, data):
        if value is None:
            return None if allow_none else _NO
        try:
            return deserialize(value, name, data)
        except ValidationError:
            return _NO

    return check


_INLINE = {mf.String: _string_check, mf.Float: _float_check, mf.Dict: _dict_check}


class QuickLoader:
    """``QuickLoader(schema).load(data)``: what ``schema.load(data)`` returns, or None to let it decide."""

    def __init__(self, schema: Schema):
        self.plans: list[tuple[str, mf.Field, Callable[[Any, dict], Any] | None, bool, Any]] = []
        self.names: frozenset[str] = frozenset()
        self.usable = self._plan(schema)

    def _plan(self, schema: Schema) -> bool:
        if schema.many or schema.partial or schema.unknown != RAISE or any(schema._hooks.values()):
            return False
        if schema.only is not None or schema.exclude or set(schema.load_fields) != set(schema.fields):
            return False
        for name, field in schema.load_fields.items():
            if field.data_key is not None or field.attribute is not None or "." in name:
                return False
            check = None
            if not field.pre_load and not field.post_load:
                check = _INLINE.get(type(field), _field_check)(field)
            default = field.load_default
            self.plans.append((name, field, check, field.required, default))
        self.names = frozenset(schema.load_fields)
        return True

    def load(self, data: Any) -> dict | None:
        if not self.usable or type(data) is not dict or not data.keys() <= self.names:
            return None
        out = {}
        for name, field, check, required, default in self.plans:
            value = data.get(name, missing)
            if value is missing:
                if required:
                    return None
                if default is not missing:
                    out[name] = default() if callable(default) else default
                continue
            if check is not None:
                value = check(value, data)
                if value is _NO:
                    return None
            else:
                try:
                    value = field.deserialize(value, name, data)
                except ValidationError:
                    return None
            out[name] = value
        return out

    def load_many(self, items: list) -> list[dict] | None:
        """Every item loaded quickly, or None (then ``schema.load(items, many=True)`` decides)."""
        out = []
        for item in items:
            loaded = self.load(item)
            if loaded is None:
                return None
            out.append(loaded)
        return out
