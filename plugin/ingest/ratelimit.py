"""Rate limit of ingestion per token, shared by every API process through Redis (GCRA).

The generic cell rate algorithm keeps one timestamp per token in Redis (the "theoretical arrival
time"); a Lua script reads the clock from Redis itself, so any number of API processes on any
number of hosts share one budget: ``AUTOMATION_INGEST_RATE`` requests per second, with bursts of
up to ``AUTOMATION_INGEST_BURST``. A request over the budget gets ``429`` with ``Retry-After``.
When Redis is unreachable the limit is not enforced: accepting data matters more than limiting it.
"""

from __future__ import annotations

import threading

from plugin.transport.redis_scripts import hot_script

BLUEPRINTS = frozenset({"ingest"})
KEY_PREFIX = "automation:ratelimit:ingest:"
# WSGI environ key: the lean ingestion path (plugin/api/fastpath.py) already took this request
# from the budget (None: allowed, else the wait) before handing it to Flask, which uses that
# answer instead of a second take
RATE_TAKEN = "automation.rate_taken"

# KEYS[1] the token's key; ARGV: emission interval (s), burst, cost. Returns {allowed, retry_after}.
GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, tostring(allow_at - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, '0'}
"""


def default_chunk(burst: int) -> int:
    """Requests a process reserves per Redis call: 1 (each exactly) for bursts under 500, up to 16
    for large ones — at most 1.5 % of the burst held ahead by each process."""
    return max(1, min(16, burst * 3 // 200))


class RateLimiter:
    """``take(identity)`` → ``None`` when allowed, else the seconds until the request would be.

    A process reserves ``chunk`` requests of a token's budget with one Redis call and lets the
    next ``chunk - 1`` requests through without one (a Redis round trip per request was ~7 % of an
    API worker's CPU). The shared budget is still never exceeded; what a process holds (at most
    ``chunk - 1`` per token) is spent early, so another process may see its 429 that much sooner.
    When a chunk is refused, the single request is asked for, exactly as without chunks.
    """

    def __init__(self, redis, rate: float, burst: int, chunk: int | None = None):
        if rate < 0 or burst < 1:
            raise ValueError(f"the ingestion rate must be >= 0 and the burst >= 1, got {rate!r} / {burst!r}")
        self.rate = rate
        self.burst = burst
        self.chunk = default_chunk(burst) if chunk is None else max(1, min(chunk, burst))
        self._held: dict[str, int] = {}  # token identity -> requests reserved, not yet used (this process)
        self._lock = threading.Lock()
        self._script = hot_script(redis, GCRA)  # redis-py's register_script, failing fast

    def take(self, identity: str, cost: int = 1) -> float | None:
        if self.rate == 0:
            return None
        if cost == 1 and self.chunk > 1:
            with self._lock:
                held = self._held.get(identity, 0)
                if held:
                    self._held[identity] = held - 1
                    return None
            if self._ask(identity, self.chunk) is None:
                with self._lock:
                    self._held[identity] = self._held.get(identity, 0) + self.chunk - 1
                return None
        return self._ask(identity, cost)

    def take_held(self, identity: str) -> bool:
        """Take one request from what this process holds ahead for ``identity``, without Redis:
        False when it holds none (then ``take`` asks). With no limit, always True."""
        if self.rate == 0:
            return True
        with self._lock:
            held = self._held.get(identity, 0)
            if held:
                self._held[identity] = held - 1
                return True
        return False

    def _ask(self, identity: str, cost: int) -> float | None:
        allowed, retry_after = self._script(
            keys=[KEY_PREFIX + identity], args=[1.0 / self.rate, self.burst, cost]
        )
        return None if int(allowed) else float(retry_after)
