"""plugin/transport/redis_scripts.py: the hot-path Lua scripts through redis-py, on a client that fails fast."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
import uuid

import pytest
import redis

from plugin.ingest.ratelimit import GCRA, RateLimiter
from plugin.jobs.queue import _NOTIFY_LUA
from plugin.transport.redis_scripts import hot_script
from tests.conftest import free_port

ECHO = "return {KEYS[1], ARGV[1], #KEYS, #ARGV, redis.call('INCR', KEYS[1])}"


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def test_same_replies_as_redis_py(client):
    hot, plain = hot_script(client, ECHO), client.register_script(ECHO)
    key = f"k-{uuid.uuid4().hex}"
    assert hot(keys=[key], args=[0.25]) == [key.encode(), b"0.25", 1, 1, 1]
    assert plain(keys=[key], args=[0.25]) == [key.encode(), b"0.25", 1, 1, 2]
    assert hot(keys=[key, "other"], args=["é", 3, b"\x00\xff"]) == [key.encode(), "é".encode(), 2, 3, 3]

    notify = hot_script(client, _NOTIFY_LUA)
    flag, wake = f"flag-{key}", f"wake-{key}"
    assert notify(keys=[flag, wake], args=[10, "1.5"]) == 1  # no job alive: the caller enqueues one
    assert notify(keys=[flag, wake], args=[10, "2.5"]) == 0  # alive: one wake-up token
    assert notify(keys=[flag, wake], args=[10, "3.5"]) == 0
    assert client.lrange(wake, 0, -1) == [b"2.5"] and 0 < client.ttl(flag) <= 10  # the oldest
    assert hot_script(client, _NOTIFY_LUA) is notify  # made once per connection pool


def test_the_database_of_the_client_is_used(redis_url, client):
    other_db = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/0")
    key = f"db-{uuid.uuid4().hex}"
    try:
        hot_script(client, ECHO)(keys=[key], args=[1])
        assert client.get(key) == b"1"
        assert other_db.get(key) is None
    finally:
        other_db.close()


def test_rate_limiter_refuses_over_the_budget(client):
    limiter = RateLimiter(client, rate=1, burst=3)
    assert limiter._script is hot_script(client, GCRA)
    identity = uuid.uuid4().hex
    assert [limiter.take(identity) for _ in range(3)] == [None, None, None]
    wait = limiter.take(identity)
    assert wait is not None and 0 < wait <= 1.0


def test_rate_limiter_chunks_never_exceed_the_shared_budget(client):
    """Two processes (two limiters) reserving 8 requests per Redis call share a burst of 64: together
    they let through at most 64, and at least 64 less what each may hold unused (7)."""
    a, b = (
        RateLimiter(client, rate=0.001, burst=64, chunk=8),
        RateLimiter(client, rate=0.001, burst=64, chunk=8),
    )
    identity = uuid.uuid4().hex
    calls = []
    script = a._script

    def counting(*args, **kwargs):
        calls.append(kwargs["args"][2])
        return script(*args, **kwargs)

    a._script = counting
    allowed = {"a": 0, "b": 0}
    for _ in range(3):  # 24 requests: well within the budget
        for _ in range(8):
            assert a.take(identity) is None
            allowed["a"] += 1
    assert calls == [8, 8, 8]  # one Redis call per chunk, not one per request
    for _ in range(60):
        for name, limiter in (("a", a), ("b", b)):
            if limiter.take(identity) is None:
                allowed[name] += 1
    assert 64 - 2 * 7 <= allowed["a"] + allowed["b"] <= 64, allowed
    assert allowed["b"] >= 8
    assert a.take(identity) is not None and b.take(identity) is not None  # the budget is spent
    assert a.take(identity, cost=1) > 0


def test_rate_limiter_chunk_follows_the_burst(client):
    assert RateLimiter(client, rate=1, burst=3).chunk == 1  # small bursts: each request exactly
    assert RateLimiter(client, rate=2000, burst=4000).chunk == 16
    assert RateLimiter(client, rate=10, burst=400).chunk == 6


def test_noscript_after_a_flush_sends_the_script_again(client):
    hot = hot_script(client, ECHO + " -- " + uuid.uuid4().hex)
    key = f"ns-{uuid.uuid4().hex}"
    assert hot(keys=[key], args=[1])[4] == 1
    client.script_flush()
    assert hot(keys=[key], args=[1])[4] == 2
    assert client.script_exists(hot.sha) == [True]


def test_an_error_reply_raises_and_the_connection_stays_usable(client):
    failing = hot_script(client, "return redis.error_reply('nope ' .. ARGV[1])")
    with pytest.raises(redis.ResponseError, match="nope x"):
        failing(keys=[], args=["x"])
    assert hot_script(client, "return 7")() == 7


def _addresses(script) -> set[str]:
    """host:port of the script's idle connections, as Redis names its clients."""
    pool = script.registered_client.connection_pool
    return {
        "{}:{}".format(*conn._sock.getsockname()[:2]) for conn in pool._available_connections if conn._sock
    }


PING = "return 1"


def test_a_killed_idle_connection_is_replaced(client):
    """Redis closing an idle connection (a restart, CLIENT KILL, a timeout): redis-py sees it before
    the next call and connects again, so the call does not even fail."""
    hot = hot_script(client, PING)
    assert hot() == 1
    (first,) = _addresses(hot)
    assert client.client_kill(first)
    assert hot() == 1 and _addresses(hot) and first not in _addresses(hot)
    assert hot() == 1


def test_nothing_listening_is_a_connection_error_at_once():
    dead = redis.Redis(host="127.0.0.1", port=free_port())
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        hot_script(dead, "return 1")()
    assert time.monotonic() - started < 1.0  # no retries with backoff: ingestion goes on unlimited


def test_a_call_that_fails_is_not_retried():
    """A server that hangs up on every connection: one connection attempt, one ConnectionError
    (redis-py's default client would try eleven times, with backoff, per ingestion request)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def hang_up():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn.recv(1024))
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        with pytest.raises(redis.ConnectionError):
            hot_script(redis.Redis(host="127.0.0.1", port=listener.getsockname()[1]), "return 1")()
        assert len(accepted) == 1
    finally:
        listener.close()


def test_a_server_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    silent = redis.Redis(host="127.0.0.1", port=listener.getsockname()[1], socket_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            hot_script(silent, "return 1")()
        assert time.monotonic() - started < 2.0  # one timeout, not one per retry
    finally:
        listener.close()


def test_the_client_s_connection_settings_are_kept():
    tls = hot_script(redis.Redis(ssl=True, socket_timeout=0.3), "return 1").registered_client.connection_pool
    assert tls.connection_class is redis.SSLConnection and tls.connection_kwargs["socket_timeout"] == 0.3
    unix = hot_script(redis.Redis(unix_socket_path="/tmp/none.sock", db=3), "return 1").registered_client
    assert unix.connection_pool.connection_class is redis.UnixDomainSocketConnection
    assert unix.connection_pool.connection_kwargs["db"] == 3


def _child_calls(script, out) -> None:
    out.put((script(), _addresses(script)))


def test_a_forked_child_opens_its_own_connection(client):
    hot = hot_script(client, PING)
    hot()
    parent_ids = _addresses(hot)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_child_calls, args=(hot, out))
    child.start()
    answer, child_ids = out.get(timeout=10)
    child.join(10)
    assert answer == 1 and child_ids and not child_ids & parent_ids
    assert hot() == 1 and _addresses(hot) == parent_ids  # the parent's socket was not disturbed


def test_threads_call_concurrently(client):
    hot = hot_script(client, PING)
    answers, errors = [], []

    def work():
        try:
            answers.extend(hot() for _ in range(50))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and answers == [1] * 200
    assert 1 <= len(_addresses(hot)) <= 4  # a connection per concurrent caller at most, kept for the next


def test_gcra_script_is_the_limiter_script(client):
    assert hot_script(client, GCRA).sha == client.register_script(GCRA).sha
