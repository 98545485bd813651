"""Lua scripts on the ingestion hot path, run over a plain socket per thread.

Each ingested event costs two Redis commands: the rate limiter's GCRA script and the dispatch
notify script. Through redis-py a script call costs ~110 µs of Python (connection pool, retry
wrapper, command packing, response callbacks); the same EVALSHA written to a kept socket and read
with hiredis' parser costs ~30 µs, most of it the system calls. ``LeanScript`` does just that,
for the connection settings of an existing ``redis.Redis`` client (TCP or unix socket, database,
user/password); anything else (TLS, a custom connection class) runs through redis-py unchanged.

Errors behave as redis-py's do for the callers: ``redis.ConnectionError`` / ``redis.TimeoutError``
when the socket fails (the connection is dropped and the next call opens a new one),
``redis.ResponseError`` for an error reply. A ``NOSCRIPT`` reply (Redis restarted, ``SCRIPT
FLUSH``) sends the script itself with ``EVAL``, once, as redis-py's ``Script`` does.
"""

from __future__ import annotations

import os
import socket
import threading
import weakref

import hiredis
import redis
from redis.connection import Connection, UnixDomainSocketConnection

TIMEOUT_SECONDS = 5.0


def _encode(part) -> bytes:
    if isinstance(part, bytes):
        return part
    if isinstance(part, str):
        return part.encode()
    return (repr(part) if isinstance(part, float) else str(part)).encode()  # as redis-py encodes


def _pack(*parts) -> bytes:
    """One command in RESP: ``*<n>`` then each part as a bulk string."""
    out = [b"*%d\r\n" % len(parts)]
    for part in map(_encode, parts):
        out += (b"$%d\r\n" % len(part), part, b"\r\n")
    return b"".join(out)


class _Link:
    """One socket and its reply parser, owned by one thread of one process."""

    def __init__(self, kwargs: dict):
        path = kwargs.get("path")
        timeout = kwargs.get("socket_timeout") or TIMEOUT_SECONDS
        connect_timeout = kwargs.get("socket_connect_timeout") or timeout
        try:
            if path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(connect_timeout)
                sock.connect(path)
            else:
                sock = socket.create_connection(
                    (kwargs.get("host") or "localhost", int(kwargs.get("port") or 6379)), timeout=connect_timeout
                )
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            raise redis.ConnectionError(f"cannot connect to Redis: {exc}") from exc
        sock.settimeout(timeout)
        self.sock, self.reader, self.pid = sock, hiredis.Reader(), os.getpid()
        try:
            password, username = kwargs.get("password"), kwargs.get("username")
            if password:
                self.call(*(("AUTH", username, password) if username else ("AUTH", password)))
            if int(kwargs.get("db") or 0):
                self.call("SELECT", int(kwargs["db"]))
        except BaseException:
            self.close()
            raise

    def call(self, *parts):
        try:
            self.sock.sendall(_pack(*parts))
            while (reply := self.reader.gets()) is False:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise redis.ConnectionError("Redis closed the connection")
                self.reader.feed(chunk)
        except TimeoutError as exc:
            raise redis.TimeoutError(f"Redis did not answer in time: {exc}") from exc
        except OSError as exc:
            raise redis.ConnectionError(f"Redis connection failed: {exc}") from exc
        if isinstance(reply, hiredis.ReplyError):
            raise redis.ResponseError(str(reply))
        return reply

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class LeanScript:
    """``script(keys=[…], args=[…])`` → the script's reply, as ``redis.Redis.register_script``'s
    object would return it (replies not decoded: bytes and ints)."""

    def __init__(self, client: redis.Redis, source: str):
        self.fallback = client.register_script(source)
        self.source, self.sha = source, self.fallback.sha
        pool = client.connection_pool
        plain = getattr(pool, "connection_class", None) in (Connection, UnixDomainSocketConnection)
        self.kwargs = dict(pool.connection_kwargs) if plain else None
        self._local = threading.local()

    def __call__(self, keys=(), args=()):
        if self.kwargs is None:
            return self.fallback(keys=list(keys), args=list(args))
        link = getattr(self._local, "link", None)
        if link is None or link.pid != os.getpid():  # none yet, or inherited through fork
            link = self._local.link = _Link(self.kwargs)
        try:
            try:
                return link.call("EVALSHA", self.sha, len(keys), *keys, *args)
            except redis.ResponseError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                return link.call("EVAL", self.source, len(keys), *keys, *args)
        except (redis.ConnectionError, redis.TimeoutError):
            link.close()
            self._local.link = None
            raise


_SCRIPTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SCRIPTS_LOCK = threading.Lock()


# measurement only (bench/lean_clients.py): 0 runs the scripts through redis-py instead
LEAN_REDIS = os.environ.get("AUTOMATION_LEAN_REDIS", "1").strip() != "0"


def lean_script(client: redis.Redis, source: str) -> LeanScript:
    """The ``LeanScript`` of ``source`` on ``client``'s server and database (made once per pool)."""
    if not LEAN_REDIS:
        from plugin.transport.redis_scripts import hot_script

        return hot_script(client, source)
    pool = client.connection_pool
    scripts = _SCRIPTS.get(pool)
    script = scripts.get(source) if scripts is not None else None
    if script is None:
        with _SCRIPTS_LOCK:
            script = _SCRIPTS.setdefault(pool, {}).setdefault(source, LeanScript(client, source))
    return script
