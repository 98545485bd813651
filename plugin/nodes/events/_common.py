"""Helpers shared by the event modules: trigger check, status-name lists, N-day due moments."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from plugin.nodes.operators import fold, split_list, to_datetime, to_text


def is_trigger(event: dict[str, Any], triggers: Collection[str]) -> bool:
    """Whether ``event`` is one of ``triggers``; an event without a type (a direct node call) is."""
    kind = event.get("type")
    return kind is None or kind in triggers


def name_matches(actual: Any, wanted: Any) -> bool:
    """Whether the name ``actual`` is one of ``wanted`` (a list or comma string, casefolded).

    No wanted names means any name.
    """
    names = {fold(name) for name in split_list(wanted)}
    if not names:
        return True
    return actual is not None and fold(to_text(actual).strip()) in names


def names_test(wanted: Any) -> Callable[[Any], bool]:
    """``name_matches(·, wanted)`` with the wanted names folded once (for prepared event nodes)."""
    names = frozenset(fold(name) for name in split_list(wanted))
    if not names:
        return lambda actual: True
    return lambda actual: actual is not None and fold(to_text(actual).strip()) in names


def days_after(order: dict[str, Any] | None, field: str, days: int) -> datetime | None:
    """``order[field] + days``: when an N-day event becomes due; ``None`` without that date."""
    moment = to_datetime((order or {}).get(field))
    return None if moment is None else moment + timedelta(days=int(days))
