"""Event «Смена статуса сделки»: an upsert changes the order's status, optionally from / to given ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugin.nodes.events._common import is_trigger, name_matches, names_test

TRIGGERS = ("order_status_changed",)
# The flow index files flows under the names in this param and looks events up by the same
# field of their data: only flows that can match are ever evaluated.
INDEX_KEY = "to"
PAYLOAD_EVENT_TYPE = "order_status_changed"


def matches(params: dict[str, Any], event: dict[str, Any]) -> bool:
    """Empty ``to`` / ``from`` lists mean any status; names compare case-insensitively."""
    data = event.get("data") or {}
    return (
        is_trigger(event, TRIGGERS)
        and name_matches(data.get("to"), params.get("to"))
        and name_matches(data.get("from"), params.get("from"))
    )


def prepare(params: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """``matches(params, ·)`` with the status lists folded once (the flow index calls it per event)."""
    to_ok, from_ok = names_test(params.get("to")), names_test(params.get("from"))

    def test(event: dict[str, Any]) -> bool:
        data = event.get("data") or {}
        return is_trigger(event, TRIGGERS) and to_ok(data.get("to")) and from_ok(data.get("from"))

    return test
