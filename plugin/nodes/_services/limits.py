"""Redis-backed limits shared by every worker process: per-destination rates and per-client caps.

Rates are a GCRA token bucket (one key per destination, updated by one Lua script against the
Redis clock, so every process and host sees the same bucket); going over raises
:class:`Deferred` with the wait, never drops the call. :func:`take` (the CRMs) also *books* the
next free slot for the caller and keeps it in the step's state: a backlog of a thousand tasks
waits in slots spread over its whole span, each step coming back once at its own time, instead
of all of them retrying at once and every worker sleeping in turn. A booked slot is often used
late (RQ resumes a step up to a second or two after its time), so the sends themselves are
counted in a second bucket: slots used late never go out together above the rate.

Caps count sends per (channel, client) in a sorted set over a sliding window; a slot is reserved
atomically before sending, under the step's idempotency key, and released whenever the send fails
(for good or to be retried): only sends that went out count, and a retry books again.

When ``services.redis`` is ``None`` (a direct node call without Redis, or unit tests), limits are
**not enforced**: rates never defer and caps never skip.

Defaults can be overridden with ``settings.extra["rate_limits"] = {"slack": {"rate": 1.0,
"burst": 1}, ...}`` (rate in requests per second).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

from plugin.nodes.base import Deferred

log = logging.getLogger(__name__)

PREFIX = "automation:limits"

RATES: dict[str, dict[str, float]] = {
    # contracts.md §0: Slack 1/s per webhook, amo 7/s per account, Bitrix 2/s per portal with a
    # burst threshold of 50, Telegram 1/s per chat. The CRMs' bursts are kept a little under
    # theirs: requests reach the CRM a few ms apart from when their sends were counted, and with
    # no token to spare that jitter alone made 429s.
    "slack": {"rate": 1.0, "burst": 1},
    "amocrm": {"rate": 7.0, "burst": 6},
    "bitrix24": {"rate": 2.0, "burst": 45},
    "telegram": {"rate": 1.0, "burst": 1},
}

MIN_DEFER_MS = 1100
"""A slot booked for later is at least this far ahead: past the engine's in-place wait (1 s), so
the step goes ``waiting`` and comes back through RQ's scheduling instead of holding its worker."""

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

# GCRA that books, over two keys: KEYS[1] the schedule (the slots given out), KEYS[2] the sends
# (when requests really went). With no slot held (ARGV[3] = 0), book the earliest free slot; a
# slot that cannot be now is booked at least ARGV[4] ms ahead (the step is rescheduled for it
# through RQ, never waited for in a worker). Before it is held, {wait ms, slot ms}. Once the slot
# is due, the request goes only if the sends keep within the rate: a slot used late (RQ resumes a
# step up to a second or two after it) must not go out together with the slots around it, so a
# late slot that would bunch waits for the next free place among the sends ({wait, slot}: at most
# an interval per request ahead of it, the slot kept, not booked again at the end of the queue).
# {0, slot}: go now, the send counted.
_BOOK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local slot = tonumber(ARGV[3])
if slot == 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or now)
  if tat < now then tat = now end
  slot = tat - tolerance
  if slot < now then slot = now end
  if slot > now and slot < now + tonumber(ARGV[4]) then slot = now + tonumber(ARGV[4]) end
  local new_tat = math.max(tat, slot) + interval
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
end
if slot > now then return {slot - now, slot} end
local sent = tonumber(redis.call('GET', KEYS[2]) or now)
if sent < now then sent = now end
local wait = sent - tolerance - now
if wait > 0 then return {wait, slot} end
redis.call('SET', KEYS[2], sent + interval, 'PX', math.ceil(sent + interval - now) + 1000)
return {0, slot}
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


def rate_key(service: str, destination: str) -> str:
    """The Redis key of ``destination``'s bucket (a digest: destinations may be secret URLs); for
    the CRMs, the schedule of the slots given out."""
    return f"{PREFIX}:rate:{service}:{digest(destination)}"


def sent_key(service: str, destination: str) -> str:
    """The Redis key of the CRMs' sends to ``destination``: when requests really went out."""
    return f"{PREFIX}:sent:{service}:{digest(destination)}"


def account(base_url: str) -> str:
    """Whose limit a CRM call counts against: the account's host (amoCRM's subdomain, Bitrix24's
    portal; Bitrix24 keeps one bucket per portal whatever the webhook), spelled one way."""
    try:
        parts = urlsplit(base_url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return base_url
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return host if port in (None, default) else f"{host}:{port}"


def _interval_and_burst(settings: Any, service: str) -> tuple[int, int]:
    rate = _rate(settings, service)
    return max(1, round(1000.0 / float(rate["rate"]))), max(1, int(rate["burst"]))


def throttle(services: Any, service: str, destination: str) -> None:
    """Take one token for ``destination`` of ``service`` or raise :class:`Deferred` with the wait."""
    redis = getattr(services, "redis", None)
    if redis is None or not services.settings.rate_limits_enabled:
        return
    interval_ms, burst = _interval_and_burst(services.settings, service)
    wait_ms = int(redis.eval(_RATE_LUA, 1, rate_key(service, destination), interval_ms, burst))
    if wait_ms > 0:
        log.info("rate limit for %s reached; deferring %d ms", service, wait_ms)
        raise Deferred(wait_ms / 1000.0, f"{service} rate limit: wait {wait_ms / 1000.0:.2f} s")


def take(services: Any, service: str, destination: str, state: dict[str, Any]) -> None:
    """Return when this request may go out now; else book a slot, keep it in ``state`` (the
    step's, so a retry holds it) and raise :class:`Deferred` until it. A slot is used once, and
    only while the sends keep within the rate: one used late waits for a free place among them."""
    redis = getattr(services, "redis", None)
    if redis is None or not services.settings.rate_limits_enabled:
        return
    interval_ms, burst = _interval_and_burst(services.settings, service)
    held = int(state.get("rate_slot") or 0)
    keys = (rate_key(service, destination), sent_key(service, destination))
    args = (interval_ms, burst, held, MIN_DEFER_MS)
    wait_ms, slot = (int(v) for v in redis.eval(_BOOK_LUA, 2, *keys, *args))
    if wait_ms <= 0:
        state.pop("rate_slot", None)
        return
    state["rate_slot"] = slot
    if not held:
        log.info("rate limit for %s reached; a slot booked in %d ms", service, wait_ms)
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


# The cap's verdict without booking (a dry run): 1 when _CAP_LUA would refuse ``member`` now.
_CAP_PEEK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
local used = redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
if used >= tonumber(ARGV[2]) then return 1 end
return 0
"""


def capped(services: Any, channel: str, client: str, token: str, cap: int) -> bool:
    """Whether :func:`reserve` would refuse this send now; books nothing (what a dry run asks)."""
    redis = getattr(services, "redis", None)
    if redis is None:
        return False
    window_ms = int(services.settings.cap_window_seconds * 1000)
    return bool(redis.eval(_CAP_PEEK_LUA, 1, _cap_key(channel, client), window_ms, int(cap), token))


def release(services: Any, channel: str, client: str, token: str) -> None:
    """Give back the slot booked under ``token`` (the send failed: nothing went out)."""
    redis = getattr(services, "redis", None)
    if redis is not None:
        redis.zrem(_cap_key(channel, client), token)


_CAP_WORDS = {"email": ("писем", "email"), "sms": ("SMS", "SMS")}


def cap_of(channel: str, settings: Any) -> int:
    """The per-client cap of ``channel`` (``email`` / ``sms``)."""
    return settings.email_cap_per_client if channel == "email" else settings.sms_cap_per_client


def cap_reason(channel: str, settings: Any) -> str:
    """Why a capped send of ``channel`` is skipped, Russian then English."""
    ru, en = _CAP_WORDS[channel]
    return (
        f"лимит {ru} клиенту исчерпан (client {en} cap of {cap_of(channel, settings)} "
        f"per {settings.cap_window_seconds} s reached)"
    )


def client_identity(context: dict[str, Any], address: str) -> str:
    """Who a cap counts for: the client's CRM id when known, else the address itself."""
    client = (context or {}).get("client") or {}
    external_id = client.get("external_id")
    return f"id:{external_id}" if external_id not in (None, "") else f"addr:{address.lower()}"
