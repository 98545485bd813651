"""Event «Новый визит»: a new visit is ingested."""

from __future__ import annotations

from typing import Any

from plugin.nodes.events._common import is_trigger

TRIGGERS = ("visit_created",)
PAYLOAD_EVENT_TYPE = "visit_created"


def matches(params: dict[str, Any], event: dict[str, Any]) -> bool:
    return is_trigger(event, TRIGGERS)
