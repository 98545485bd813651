"""Condition «Данные события»: a text or numeric operator on a dotted path into the custom event's data."""

from __future__ import annotations

from typing import Any

from plugin.nodes.conditions._condition import EITHER, Condition, Field, Params, Read


def lookup(data: Any, path: str) -> Any:
    """Walk ``"form.items.0.sku"`` through dicts (and lists, by digit index); ``None`` if absent."""
    current = data
    for key in path.split("."):
        if isinstance(current, dict):
            current = current.get(key)
        elif isinstance(current, list) and key.isascii() and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        else:
            return None
    return current


class EventData(Field):
    """The value at the dotted ``path`` param in the custom event's data."""

    def source(self, params: Params) -> tuple:
        return ("event.data", params.get("path", ""))

    def reader(self, params: Params) -> Read:
        path = params.get("path", "")
        return lambda context: lookup((context.get("event") or {}).get("data"), path)

    def read(self, params: Params, context: dict[str, Any]) -> Any:
        return lookup((context.get("event") or {}).get("data"), params.get("path", ""))


CONDITION = Condition(EventData(), EITHER, events=frozenset({"event.custom"}))
EVENTS, evaluate, prepare, access = CONDITION.hooks()
