"""Condition «Данные события»: a text or numeric operator on a dotted path into the custom event's data."""

from __future__ import annotations

from typing import Any

from plugin.nodes.operators import Access, Test, match, match_access, match_test

EVENTS = frozenset({"event.custom"})


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


def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
    data = (context.get("event") or {}).get("data")
    return match(params.get("operator", "equals"), lookup(data, params.get("path", "")), params)


def _reader(path: str):
    return lambda context: lookup((context.get("event") or {}).get("data"), path)


def prepare(params: dict[str, Any]) -> Test:
    test = match_test(params.get("operator", "equals"), params)
    read = _reader(params.get("path", ""))
    return lambda context: test(read(context))


def access(params: dict[str, Any]) -> Access | None:
    path = params.get("path", "")
    return match_access(params.get("operator", "equals"), params, ("event.data", path), _reader(path))
