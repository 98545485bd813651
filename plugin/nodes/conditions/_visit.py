"""Factory for the visitor-field conditions (city, country, IP, UTM, ...): one text operator on one field."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from plugin.nodes.conditions._operators import ItemMatch, text_match

Evaluate = Callable[[dict[str, Any], dict[str, Any]], bool]
FieldOf = Callable[[dict[str, Any]], str]


def visit_condition(field: str | FieldOf, *, item_match: ItemMatch | None = None) -> Evaluate:
    """Build ``evaluate(params, context)`` comparing ``context["visit"][field]`` with the params.

    ``field`` is a visit key, or a function of the params giving it (``visit_utm``'s ``tag``).
    """
    field_of: FieldOf = (lambda params: field) if isinstance(field, str) else field

    def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
        visit = context.get("visit") or {}
        return text_match(
            params.get("operator", "equals"),
            visit.get(field_of(params)),
            params.get("value"),
            case_sensitive=bool(params.get("case_sensitive", False)),
            item_match=item_match,
        )

    return evaluate


def _addresses(text: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The address, plus its IPv4 form when it is IPv4-mapped (``::ffff:1.2.3.4``); ``[]`` if invalid."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return []
    mapped = getattr(address, "ipv4_mapped", None)
    return [address, mapped] if mapped is not None else [address]


def ip_match(actual: str, expected: str) -> bool:
    """Whether the visitor IP ``actual`` is ``expected`` (an address) or inside it (a CIDR range).

    An unparseable IP on either side is no match, never an error.
    """
    candidates = _addresses(actual)
    if "/" in expected:
        try:
            network = ipaddress.ip_network(expected.strip(), strict=False)
        except ValueError:
            return False
        return any(a.version == network.version and a in network for a in candidates)
    wanted = _addresses(expected)
    return any(a in wanted for a in candidates)
