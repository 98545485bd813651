"""The custom ``fields`` of an order or a client as a condition's value: a dotted path into them, read
as ``condition.event_data`` reads the event's data (so the operators and their typing are the same)."""

from __future__ import annotations

from typing import Any

from plugin.nodes.conditions._condition import Field, Params, Read
from plugin.nodes.conditions.event_data import lookup


class CustomField(Field):
    """``context[section]["fields"]`` at the dotted ``path`` param; ``None`` when absent."""

    def __init__(self, section: str):
        self.section = section

    def source(self, params: Params) -> tuple:
        return (self.section, "fields", params.get("path", ""))

    def reader(self, params: Params) -> Read:
        section, path = self.section, params.get("path", "")
        return lambda context: lookup((context.get(section) or {}).get("fields"), path)

    def read(self, params: Params, context: dict[str, Any]) -> Any:
        return lookup((context.get(self.section) or {}).get("fields"), params.get("path", ""))
