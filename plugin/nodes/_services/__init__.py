"""Shared helpers for actions: one module per external service, plus the Services bundle.

The engine builds one :class:`Services` per worker process and hands it to every
:class:`plugin.nodes.base.ActionCall`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Settings:
    """Tunables an action reads; filled from the app config / environment by the engine."""

    http_timeout: float = 15.0
    connect_timeout: float = 5.0
    """A receiver that does not even accept a connection within this is failing, whatever
    ``http_timeout`` (the time to answer) allows."""
    smtp_timeout: float = 30.0
    smtp_verify_tls: bool = True
    outbound_allowlist: tuple[str, ...] = ()
    email_cap_per_client: int = 5
    sms_cap_per_client: int = 5
    cap_window_seconds: int = 24 * 3600
    rate_limits_enabled: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Services:
    """What an action may touch: an outbound HTTP session, Redis, settings."""

    settings: Settings = field(default_factory=Settings)
    redis: Any = None
    suppressed: Any = None
    """``suppressed(channel, addresses) -> reason | None``: the suppression list's look-up
    (``storage.suppressions.Checker``), set where a database is at hand."""
    unsubscribe: Any = None
    """:class:`plugin.nodes._services.optout.Links`: signs the one-click unsubscribe links."""
    _http: Any = None
    _destinations: Any = None

    @property
    def destinations(self):
        """The per-destination concurrency bounds and circuit breakers of this process."""
        if self._destinations is None:
            from plugin.transport.destinations import Destinations, Policy

            self._destinations = Destinations(
                Policy(**self.settings.extra.get("destinations", {})), self.redis
            )
        return self._destinations

    @property
    def http(self):
        """The outgoing HTTP client: every connection passes the SSRF guard (SPEC §8)."""
        if self._http is None:
            from plugin.transport.net import guarded_client

            self._http = guarded_client(self.settings)
        return self._http
