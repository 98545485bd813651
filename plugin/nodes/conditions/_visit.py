"""The visitor IP match of ``visit_ip``: an address, or a CIDR range, in any spelling."""

from __future__ import annotations

import ipaddress
from functools import lru_cache


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
