"""Factory for the visitor-field conditions (city, country, IP, UTM, ...): one text operator on one field."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from plugin.nodes.operators import Access, ItemMatch, Test, text_access, text_match, text_test

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


def visit_prepare(field: str | FieldOf, *, item_match: ItemMatch | None = None) -> Callable[[dict[str, Any]], Test]:
    """Build ``prepare(params)``: ``evaluate(params, ·)`` with the params worked out once."""
    field_of: FieldOf = (lambda params: field) if isinstance(field, str) else field

    def prepare(params: dict[str, Any]) -> Test:
        name = field_of(params)
        test = text_test(
            params.get("operator", "equals"),
            params.get("value"),
            case_sensitive=bool(params.get("case_sensitive", False)),
            item_match=item_match,
        )
        return lambda context: test((context.get("visit") or {}).get(name))

    return prepare


def visit_access(field: str | FieldOf, *, item_match: ItemMatch | None = None) -> Callable[[dict[str, Any]], Access | None]:
    """Build ``access(params)``: equals / any_of are keyed by the folded field (not IP ranges)."""
    field_of: FieldOf = (lambda params: field) if isinstance(field, str) else field

    def access(params: dict[str, Any]) -> Access | None:
        if item_match is not None:
            return None
        name = field_of(params)
        return text_access(
            params.get("operator", "equals"), params.get("value"), ("visit", name),
            lambda context: (context.get("visit") or {}).get(name),
            case_sensitive=bool(params.get("case_sensitive", False)),
        )

    return access


@lru_cache(maxsize=4096)
def _addresses(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """The address, plus its IPv4 form when it is IPv4-mapped (``::ffff:1.2.3.4``); ``()`` if invalid.

    Cached: the same visitor IP is compared with every IP condition of every flow."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return ()
    mapped = getattr(address, "ipv4_mapped", None)
    return (address, mapped) if mapped is not None else (address,)


@lru_cache(maxsize=1024)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def ip_match(actual: str, expected: str) -> bool:
    """Whether the visitor IP ``actual`` is ``expected`` (an address) or inside it (a CIDR range).

    An unparseable IP on either side is no match, never an error.
    """
    candidates = _addresses(actual)
    if "/" in expected:
        network = _network(expected)
        if network is None:
            return False
        return any(a.version == network.version and a in network for a in candidates)
    wanted = _addresses(expected)
    return any(a in wanted for a in candidates)
