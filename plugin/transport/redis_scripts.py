"""Lua scripts on the ingestion hot path (the rate limiter's GCRA, the dispatch notify), through
redis-py's ``register_script``: ``EVALSHA``, and on a ``NOSCRIPT`` reply (Redis restarted,
``SCRIPT FLUSH``) the script loaded and run again.

A script runs on a twin of the application's client — the same server, database, credentials
and connection class, its own pool — that does not retry: when Redis is unreachable a call fails
at once with ``redis.ConnectionError`` / ``redis.TimeoutError`` (the callers then accept the
request unlimited, or leave the events to the sweeper) instead of spending redis-py's default
ten retries with backoff (~3 s) on every ingestion request. The next call connects again.

These scripts ran on a lean RESP client of their own until issue 21 (plugin/transport/leanredis.py,
EVALSHA on a per-thread socket read with hiredis). Measured on 2026-12-05 at 09d4885 (bench/README.md
section 11, ``python bench/lean_clients.py``): 19 vs 48 µs of CPU per call, 0.36 calls per
delivered action, and the whole product's CPU per delivered action +3.5 % median with redis-py
(18 alternating rounds of bench/e2e.py's closed loop; quartiles −0.2 … +10 %; the API alone,
8 rounds: +49 µs per stored event, ~4 % of a delivered action's 1.16 ms) — within the 5 % the
issue allows for the library, so the library it is.
"""

from __future__ import annotations

import threading
import weakref

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

# connection pool -> (its no-retry twin, that twin's scripts by source)
_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def hot_script(client: redis.Redis, source: str) -> Script:
    """The registered ``source`` on ``client``'s server and database (made once per connection pool)."""
    known = _TWINS.get(client.connection_pool)
    script = known[1].get(source) if known is not None else None
    if script is None:
        with _LOCK:
            known = _TWINS.get(client.connection_pool)
            if known is None:
                known = _TWINS[client.connection_pool] = (_no_retry_twin(client), {})
            twin, scripts = known
            script = scripts.get(source) or scripts.setdefault(source, twin.register_script(source))
    return script


def _no_retry_twin(client: redis.Redis) -> redis.Redis:
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    twin_pool = type(pool)(
        connection_class=pool.connection_class, max_connections=pool.max_connections, **kwargs
    )
    return redis.Redis(connection_pool=twin_pool)
