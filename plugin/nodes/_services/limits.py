"""Redis-backed limits shared by every worker process: per-destination rates and per-client caps.

Rates are a GCRA token bucket (one key per destination, updated by one Lua script against the
Redis clock, so every process and host sees the same bucket); going over raises
:class:`Deferred` with the wait, never drops the call. Caps count sends per (channel, client) in
a sorted set over a sliding window; a slot is reserved atomically before sending, under the
step's idempotency key so that retries of one step reuse their slot, and released when the send
fails permanently.

When ``services.redis`` is ``None`` (a direct node call without Redis, or unit tests), limits are
**not enforced**: rates never defer and caps never skip.

Defaults can be overridden with ``settings.extra["rate_limits"] = {"slack": {"rate": 1.0,
"burst": 1}, ...}`` (rate in requests per second).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from plugin.nodes.base import Deferred

log = logging.getLogger(__name__)

PREFIX = "automation:limits"

RATES: dict[str, dict[str, float]] = {
    # contracts.md §0: Slack 1/s per webhook, amo 7/s per account, Bitrix 2/s per portal
    # (its own bucket allows a burst of 50; we stay well under), Telegram 1/s per chat.
    "slack": {"rate": 1.0, "burst": 1},
    "amocrm": {"rate": 7.0, "burst": 7},
    "bitrix24": {"rate": 2.0, "burst": 10},
    "telegram": {"rate": 1.0, "burst": 1},
}

# GCRA: the key holds the "theoretical arrival time" (ms). Returns 0 when allowed (and books the
# slot) or the milliseconds to wait.
_RATE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
return 0
"""

# Sliding-window cap. Returns 1 when ``member`` holds a slot (newly or already), 0 when capped.
_CAP_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""


def digest(value: str) -> str:
    """A short stable hash: keys never hold secrets (webhook URLs, tokens) or personal data."""
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def _rate(settings: Any, service: str) -> dict[str, float]:
    overrides = (settings.extra or {}).get("rate_limits", {}).get(service, {})
    return {**RATES[service], **overrides}


def throttle(services: Any, service: str, destination: str) -> None:
    """Take one token for ``destination`` of ``service`` or raise :class:`Deferred` with the wait."""
    redis = getattr(services, "redis", None)
    if redis is None or not services.settings.rate_limits_enabled:
        return
    rate = _rate(services.settings, service)
    interval_ms = max(1, round(1000.0 / float(rate["rate"])))
    key = f"{PREFIX}:rate:{service}:{digest(destination)}"
    wait_ms = int(redis.eval(_RATE_LUA, 1, key, interval_ms, max(1, int(rate["burst"]))))
    if wait_ms > 0:
        log.info("rate limit for %s reached; deferring %d ms", service, wait_ms)
        raise Deferred(wait_ms / 1000.0, f"{service} rate limit: wait {wait_ms / 1000.0:.2f} s")


def _cap_key(channel: str, client: str) -> str:
    return f"{PREFIX}:cap:{channel}:{digest(client)}"


def reserve(services: Any, channel: str, client: str, token: str, cap: int) -> bool:
    """Book one send of ``channel`` for ``client`` under ``token``; False when the cap is reached."""
    redis = getattr(services, "redis", None)
    if redis is None:
        return True
    window_ms = int(services.settings.cap_window_seconds * 1000)
    return bool(redis.eval(_CAP_LUA, 1, _cap_key(channel, client), window_ms, int(cap), token))


def release(services: Any, channel: str, client: str, token: str) -> None:
    """Give back the slot booked under ``token`` (the send failed permanently)."""
    redis = getattr(services, "redis", None)
    if redis is not None:
        redis.zrem(_cap_key(channel, client), token)


def client_identity(context: dict[str, Any], address: str) -> str:
    """Who a cap counts for: the client's CRM id when known, else the address itself."""
    client = (context or {}).get("client") or {}
    external_id = client.get("external_id")
    return f"id:{external_id}" if external_id not in (None, "") else f"addr:{address.lower()}"
