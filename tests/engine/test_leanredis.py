"""plugin/transport/leanredis.py: the hot-path Lua scripts on a plain socket answer as redis-py's Script does."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import uuid

import pytest
import redis

from plugin.ingest.ratelimit import GCRA, RateLimiter
from plugin.jobs.queue import _NOTIFY_LUA
from plugin.transport.leanredis import LeanScript, lean_script
from tests.conftest import free_port

ECHO = "return {KEYS[1], ARGV[1], #KEYS, #ARGV, redis.call('INCR', KEYS[1])}"


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def test_same_replies_as_redis_py(client):
    lean, plain = LeanScript(client, ECHO), client.register_script(ECHO)
    key = f"k-{uuid.uuid4().hex}"
    assert lean(keys=[key], args=[0.25]) == [key.encode(), b"0.25", 1, 1, 1]
    assert plain(keys=[key], args=[0.25]) == [key.encode(), b"0.25", 1, 1, 2]
    assert lean(keys=[key, "other"], args=["é", 3, b"\x00\xff"]) == [key.encode(), "é".encode(), 2, 3, 3]

    notify = lean_script(client, _NOTIFY_LUA)
    flag, wake = f"flag-{key}", f"wake-{key}"
    assert notify(keys=[flag, wake], args=[10]) == 1  # no job alive: the caller enqueues one
    assert notify(keys=[flag, wake], args=[10]) == 0  # alive: one wake-up token
    assert notify(keys=[flag, wake], args=[10]) == 0
    assert client.lrange(wake, 0, -1) == [b"1"] and 0 < client.ttl(flag) <= 10
    assert lean_script(client, _NOTIFY_LUA) is notify  # made once per connection pool


def test_the_database_of_the_client_is_used(redis_url, client):
    other_db = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/0")
    key = f"db-{uuid.uuid4().hex}"
    try:
        LeanScript(client, ECHO)(keys=[key], args=[1])
        assert client.get(key) == b"1"
        assert other_db.get(key) is None
    finally:
        other_db.close()


def test_rate_limiter_refuses_over_the_budget(client):
    limiter = RateLimiter(client, rate=1, burst=3)
    assert isinstance(limiter._script, LeanScript)
    identity = uuid.uuid4().hex
    assert [limiter.take(identity) for _ in range(3)] == [None, None, None]
    wait = limiter.take(identity)
    assert wait is not None and 0 < wait <= 1.0


def test_rate_limiter_chunks_never_exceed_the_shared_budget(client):
    """Two processes (two limiters) reserving 8 requests per Redis call share a burst of 64: together
    they let through at most 64, and at least 64 less what each may hold unused (7)."""
    a, b = RateLimiter(client, rate=0.001, burst=64, chunk=8), RateLimiter(client, rate=0.001, burst=64, chunk=8)
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
    lean = LeanScript(client, ECHO + " -- " + uuid.uuid4().hex)
    key = f"ns-{uuid.uuid4().hex}"
    assert lean(keys=[key], args=[1])[4] == 1
    client.script_flush()
    assert lean(keys=[key], args=[1])[4] == 2
    assert client.script_exists(lean.sha) == [True]


def test_an_error_reply_raises_and_the_connection_stays_usable(client):
    lean = LeanScript(client, "return redis.error_reply('nope ' .. ARGV[1])")
    with pytest.raises(redis.ResponseError, match="nope x"):
        lean(keys=[], args=["x"])
    assert LeanScript(client, "return 7")() == 7


def _address(lean: LeanScript) -> str:
    """host:port of this thread's socket, as Redis names the client."""
    host, port = lean._local.link.sock.getsockname()[:2]
    return f"{host}:{port}"


PING = "return 1"


def test_a_killed_connection_fails_once_then_reconnects(client):
    lean = LeanScript(client, PING)
    assert lean() == 1
    first = _address(lean)
    assert client.client_kill(first)
    with pytest.raises(redis.ConnectionError):
        lean()
    assert lean() == 1 and _address(lean) != first


def test_nothing_listening_is_a_connection_error():
    dead = redis.Redis(host="127.0.0.1", port=free_port())
    with pytest.raises(redis.ConnectionError):
        LeanScript(dead, "return 1")()


def test_a_server_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    silent = redis.Redis(host="127.0.0.1", port=listener.getsockname()[1], socket_timeout=0.3)
    try:
        with pytest.raises(redis.TimeoutError):
            LeanScript(silent, "return 1")()
    finally:
        listener.close()


def test_tls_and_custom_connections_go_through_redis_py():
    assert LeanScript(redis.Redis(ssl=True), "return 1").kwargs is None


def _child_calls(script: LeanScript, out) -> None:
    out.put((script(), _address(script)))


def test_a_forked_child_opens_its_own_connection(client):
    lean = LeanScript(client, PING)
    lean()
    parent_id = _address(lean)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_child_calls, args=(lean, out))
    child.start()
    answer, child_id = out.get(timeout=10)
    child.join(10)
    assert answer == 1 and child_id != parent_id
    assert lean() == 1 and _address(lean) == parent_id  # the parent's socket was not disturbed


def test_threads_each_use_their_own_connection(client):
    lean = LeanScript(client, PING)
    ids, errors = set(), []

    def work():
        try:
            for _ in range(50):
                assert lean() == 1
                ids.add(_address(lean))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(ids) == 4


def test_gcra_script_is_the_limiter_script(client):
    assert lean_script(client, GCRA).sha == client.register_script(GCRA).sha
