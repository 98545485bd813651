"""Event «Пользовательское событие»: a custom event arrives, optionally only the one named ``name``."""

from __future__ import annotations

from typing import Any

from plugin.nodes.events._common import is_trigger, name_matches

TRIGGERS = ("custom_event",)
# The flow index files flows under the names in this param and looks events up by the same
# field of their data: only flows that can match are ever evaluated.
INDEX_KEY = "name"
PAYLOAD_EVENT_TYPE = "custom_event"


def matches(params: dict[str, Any], event: dict[str, Any]) -> bool:
    """An empty ``name`` matches every custom event; names compare case-insensitively."""
    data = event.get("data") or {}
    return is_trigger(event, TRIGGERS) and name_matches(data.get("name"), params.get("name"))
