"""Event «Пользовательское событие»: a custom event arrives, optionally only the one named ``name``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugin.nodes.events._common import is_trigger, name_matches, names_test

TRIGGERS = ("custom_event",)
# The flow index files flows under the names in this param and looks events up by the same
# field of their data: only flows that can match are ever evaluated.
INDEX_KEY = "name"
PAYLOAD_EVENT_TYPE = "custom_event"


def matches(params: dict[str, Any], event: dict[str, Any]) -> bool:
    """An empty ``name`` matches every custom event; names compare case-insensitively."""
    data = event.get("data") or {}
    return is_trigger(event, TRIGGERS) and name_matches(data.get("name"), params.get("name"))


def prepare(params: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """``matches(params, ·)`` with the names folded once (the flow index calls it per event)."""
    name_ok = names_test(params.get("name"))
    return lambda event: is_trigger(event, TRIGGERS) and name_ok((event.get("data") or {}).get("name"))
