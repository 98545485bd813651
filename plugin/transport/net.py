"""SSRF guard for every outgoing call: resolve once, check every address, connect to the checked one."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from plugin.config import switch
from plugin.transport.errors import PermanentError
from plugin.transport.lean_http import LeanTransport
from plugin.transport.wire import DEFAULT_HEADERS, Response

# 0: every outgoing call through requests; "urllib3": the common call through urllib3's guarded
# pools directly (plugin/transport/pool_http.py: the alternative bench/lean_clients.py measures)
LEAN_HTTP = switch("AUTOMATION_LEAN_HTTP")
POOL_HTTP = os.environ.get("AUTOMATION_LEAN_HTTP", "").strip().lower() == "urllib3"

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWLIST_SETTING = "AUTOMATION_OUTBOUND_ALLOWLIST"

_METADATA = "a cloud metadata address"
_PRIVATE = "a private address"
_DOCUMENTATION = "a documentation address"

# Specific before general: the first match names the reason.
_BLOCKED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("169.254.169.254/32", _METADATA),  # AWS, GCP, Azure, OpenStack, DigitalOcean
        ("169.254.170.2/32", _METADATA),  # AWS ECS task metadata
        ("169.254.170.23/32", _METADATA),  # AWS EKS pod identity
        ("100.100.100.200/32", _METADATA),  # Alibaba Cloud
        ("192.0.0.192/32", _METADATA),  # Oracle Cloud
        ("fd00:ec2::254/128", _METADATA),  # AWS IPv6
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", _PRIVATE),
        ("172.16.0.0/12", _PRIVATE),
        ("192.168.0.0/16", _PRIVATE),
        ("169.254.0.0/16", "a link-local address"),
        ("100.64.0.0/10", "a carrier-grade NAT (CGNAT) address"),
        ("192.0.0.0/24", "an IETF protocol assignment address"),
        ("192.0.2.0/24", _DOCUMENTATION),
        ("198.51.100.0/24", _DOCUMENTATION),
        ("203.0.113.0/24", _DOCUMENTATION),
        ("198.18.0.0/15", "a benchmarking address"),
        ("192.88.99.0/24", "a 6to4 relay anycast address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fe80::/10", "a link-local address"),
        ("fc00::/7", "a private (unique local) address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
        ("100::/64", "a discard-only address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("2001:db8::/32", _DOCUMENTATION),
        ("3fff::/20", _DOCUMENTATION),
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")

# Blocked by name whatever the resolver answers, unless allowlisted by name or every answer is allowlisted.
_METADATA_HOSTNAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)

_HOSTNAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*")


class BlockedDestination(PermanentError):
    """An outgoing call was refused by the SSRF guard; the message names the host and the reason."""

    def __init__(self, host: str, reason: str, ip: str | None = None):
        if ip is None or ip == host:
            message = f"{host} is {reason}; add it to {ALLOWLIST_SETTING} to allow it"
        else:
            message = (
                f"{host} resolves to {ip}, {reason}; add {host} or {ip} to {ALLOWLIST_SETTING} to allow it"
            )
        super().__init__(message)
        self.host = host
        self.ip = ip
        self.reason = reason


@dataclass(frozen=True)
class Allowlist:
    """Parsed ``AUTOMATION_OUTBOUND_ALLOWLIST``: exact hostnames, and IP networks (an IP is a /32 or /128)."""

    hostnames: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Parse entries; ports and wildcards are not supported and raise ``ValueError``."""
        hostnames: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            name = _normalize_hostname(entry)
            if not _HOSTNAME.fullmatch(name):
                raise ValueError(
                    f"invalid {ALLOWLIST_SETTING} entry {raw!r}: expected a hostname, an IP address "
                    "or a CIDR network (ports and wildcards are not supported)"
                )
            hostnames.add(name)
        return cls(frozenset(hostnames), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return _normalize_hostname(host) in self.hostnames

    def allows_ip(self, ip: IPAddress) -> bool:
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)  # ::ffff:a.b.c.d is the same endpoint as a.b.c.d
        return any(c in net for c in candidates for net in self.networks if c.version == net.version)


def is_allowed_ip(ip: str | IPAddress, allowlist: Allowlist | Iterable[str] = ()) -> tuple[bool, str]:
    """``(True, why)`` when ``ip`` may be called, else ``(False, reason)``, e.g. "a loopback address"."""
    if not isinstance(allowlist, Allowlist):
        allowlist = Allowlist.parse(allowlist)
    address = _parse_ip(ip) if isinstance(ip, str) else ip
    if address is None:
        raise ValueError(f"not an IP address: {ip!r}")
    if allowlist.allows_ip(address):
        return True, f"in {ALLOWLIST_SETTING}"
    reason = _blocked_reason(address)
    return (False, reason) if reason else (True, "a public address")


def check_host(host: str, port: int, settings: Any, *, quiet: bool = False) -> str:
    """Resolve ``host`` once and check it for a non-HTTP protocol (SMTP); returns the IP to connect to.

    Connect to the returned IP but keep ``host`` for TLS (``server_hostname``) and greetings.
    Raises :class:`BlockedDestination` (and ``socket.gaierror`` when the name does not resolve).
    """
    guard = (_QuietGuard if quiet else _Guard)(Allowlist.parse(settings.outbound_allowlist))
    return guard.resolve(host, port)[0][4][0]


def check_url(url: str, settings: Any) -> None:
    """Resolve and check the host of ``url`` as a call to it would: a dry run's verdict on it, so
    nothing is logged (no call was refused). Raises :class:`BlockedDestination` (``socket.gaierror``
    when the name does not resolve, ``ValueError`` for a URL without a host)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    _QuietGuard(Allowlist.parse(settings.outbound_allowlist)).resolve(parts.hostname, port)


def guarded_client(settings: Any) -> GuardedClient:
    """A client whose every connection passes the SSRF guard and never follows redirects."""
    return GuardedClient(settings)


class GuardedClient:
    """Every outgoing call: through the SSRF guard, never following a redirect (a 3xx comes back to
    the caller), ``settings.http_timeout`` unless the call says otherwise.

    The common call (a body, no redirects) goes through the lean client (``lean_http.py``: the same
    guard, a fifth of requests' CPU per call); any other through requests (``fallback.py``,
    imported at the first such call). Both answer a :class:`~plugin.transport.wire.Response` and
    raise the errors of :mod:`plugin.transport.wire`.
    """

    def __init__(self, settings: Any):
        self.headers = dict(DEFAULT_HEADERS)
        self.verify: bool | str = True
        self._default_timeout = settings.http_timeout
        self.guard = _Guard(Allowlist.parse(settings.outbound_allowlist))
        self._fallback: Any = None
        self.lean: Any = None
        if POOL_HTTP:
            from plugin.transport.pool_http import PoolTransport

            self.lean = PoolTransport(self.fallback.adapter.poolmanager)
        elif LEAN_HTTP:
            self.lean = LeanTransport(self.guard)

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        kwargs.setdefault("timeout", self._default_timeout)  # a call without one could hang a worker
        if self.lean is not None and self.lean.takes(self, method, url, kwargs):
            return self.lean.request(self, method, url, kwargs)
        return self.fallback.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    @property
    def fallback(self) -> Any:
        """The requests session of the calls the lean client does not take (``fallback.py``)."""
        if self._fallback is None:
            from plugin.transport.fallback import RequestsFallback

            self._fallback = RequestsFallback(self.guard, self.headers, self.verify)
        return self._fallback

    def close(self) -> None:
        if self.lean is not None:
            self.lean.close()
        if self._fallback is not None:
            self._fallback.close()


class _Guard:
    """Resolve-and-check: the one place that decides whether a host may be called."""

    def __init__(self, allowlist: Allowlist):
        self.allowlist = allowlist

    def resolve(self, host: str, port: int) -> list[tuple]:
        """``getaddrinfo`` once; every answer must be allowed (strict), else :class:`BlockedDestination`.

        An internal-only name (localhost, metadata) passes when allowlisted by name, or when every
        address it resolves to is allowlisted.
        """
        name = host.strip("[]").replace("%25", "%")  # a URL spells an IPv6 zone id "%25eth0"
        if self.allowlist.allows_host(name):
            return _resolve(name, port)
        name_reason = None
        literal = _parse_ip(name)
        if literal is not None:
            reason = None if self.allowlist.allows_ip(literal) else _blocked_reason(literal)
            if reason:  # refuse before resolving: a scoped link-local may not even resolve here
                raise self._blocked(name, reason)
        else:
            name_reason = _blocked_hostname_reason(name)
            if name_reason and not self.allowlist.networks:
                raise self._blocked(name, name_reason)
        infos = _resolve(name, port)
        for info in infos:
            ip = _strip_scope(info[4][0])
            address = ipaddress.ip_address(ip)
            if self.allowlist.allows_ip(address):
                continue
            if name_reason:
                raise self._blocked(name, name_reason)
            reason = _blocked_reason(address)
            if reason:
                raise self._blocked(name, reason, ip)
        return infos

    @staticmethod
    def _blocked(host: str, reason: str, ip: str | None = None) -> BlockedDestination:
        error = BlockedDestination(host, reason, ip)
        log.warning("outbound call blocked: %s", error)
        return error


class _QuietGuard(_Guard):
    """The same decision for a dry run: nothing was called, so nothing is logged as blocked."""

    @staticmethod
    def _blocked(host: str, reason: str, ip: str | None = None) -> BlockedDestination:
        return BlockedDestination(host, reason, ip)


def _resolve(name: str, port: int) -> list[tuple]:
    # an ASCII name as bytes: as str, getaddrinfo encodes it with the "idna" codec, which loads
    # encodings.idna, stringprep and unicodedata (0.3 MB RSS) to change nothing
    host: str | bytes = name.encode("ascii") if name.isascii() else name
    infos = socket.getaddrinfo(host, port, _address_family(), socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(f"{name} did not resolve")
    return infos


@cache
def _address_family() -> int:
    """IPv4 and IPv6 where this host can use IPv6, else IPv4 only (urllib3's ``allowed_gai_family``)."""
    if not socket.has_ipv6:
        return socket.AF_INET
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return socket.AF_INET
    return socket.AF_UNSPEC


def _blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be called, or ``None`` for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            label, inner = embedded
            inner_reason = _blocked_reason(inner)
            if inner_reason:
                return f"{label} of {inner}, {inner_reason}"
            if ip.ipv4_mapped is not None:
                return None  # the same endpoint as a public IPv4 address
    for network, reason in _BLOCKED_NETWORKS:
        if ip.version == network.version and ip in network:
            return reason
    if ip.is_multicast:
        return "a multicast address"
    if not ip.is_global:
        return "a reserved (not globally routable) address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address a transition-mechanism IPv6 address leads to, with the mechanism's name."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return "an IPv4-mapped address", ip.ipv4_mapped
    if ip in _NAT64:
        return "a NAT64 address", low32
    if ip.sixtofour is not None:
        return "a 6to4 address", ip.sixtofour
    if ip.teredo is not None:
        return "a Teredo address", ip.teredo[1]
    if ip in _IPV4_TRANSLATED:
        return "an IPv4-translated address", low32
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return "an IPv4-compatible address", low32
    return None


def _blocked_hostname_reason(host: str) -> str | None:
    name = _normalize_hostname(host)
    if name in _METADATA_HOSTNAMES:
        return "a cloud metadata hostname"
    if name == "localhost" or name.endswith(".localhost"):
        return "a loopback hostname"
    return None


def _normalize_hostname(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _parse_ip(text: str) -> IPAddress | None:
    """A strict IP literal (dotted quad or IPv6, zone id dropped); other spellings go to the resolver."""
    try:
        return ipaddress.ip_address(_strip_scope(text.strip("[]")))
    except ValueError:
        return None


def _strip_scope(ip: str) -> str:
    return ip.split("%", 1)[0]
