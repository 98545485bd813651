"""A small HTTP/1.1 client for the engine's outgoing calls, behind :class:`plugin.transport.net.GuardedClient`.

It does the common call — one request with a bytes or JSON body, no redirects, kept-alive
connections (which calls qualify: :mod:`plugin.transport.calls`) — and returns the answer
requests would give, as a :class:`plugin.transport.wire.Response`. Connections are made by the SSRF guard (resolve once,
check every address, connect to a checked one), exactly as the urllib3 pools of
:mod:`plugin.transport.pinned` do; TLS verifies against certifi's bundle (what ``requests``
verifies against) with the real host name for SNI and the certificate check.

Errors are those of :mod:`plugin.transport.wire` that requests' errors become on the other path
(``ConnectTimeout``, ``ReadTimeout``, ``ConnectionFailed``, ``TLSError``), so callers cannot tell
the two apart. Calls this client does
not take (streaming, auth, cookies, ``verify=False``, client ``cert``, form dicts, user info or non-ASCII
host names in the URL, redirects) go through ``requests`` as before.

Why not urllib3 (issue 21: "replace it with urllib3 used directly, unless the project's own
benchmarks show a loss above 5 % of CPU per delivered action"). Measured on 2026-12-05 at
09d4885, a 2-core VM shared with other test runs, ``python bench/lean_clients.py --rounds 12``
(+ a first batch of 6 rounds; bench/README.md section 11, bench/results/lean_clients.json),
against urllib3's guarded pools called directly (:mod:`plugin.transport.pool_http`,
``AUTOMATION_LEAN_HTTP=urllib3``):

* per webhook POST to bench/receiver.py, client CPU, medians of 15 alternating blocks of 2,000
  calls: this client 86 µs, urllib3 266 µs, requests 456 µs;
* the whole product (bench/e2e.py's closed loop: granian API, 2 RQ workers, PostgreSQL, wrk with
  16 connections for 20 s; 18 rounds, the variants alternating): CPU per delivered action
  1.16 ms (1.04–1.36) with this client, 1.38 ms (1.27–1.53) with urllib3; paired by round
  **+17.7 %** median (quartiles +15.6 … +25.6 %, every round a loss, +1.8 … +32.1 %), the RQ
  workers' part +222 µs per action.

The loss is above 5 %, so this client stays.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import zlib
from typing import Any

import certifi

from plugin.transport.calls import Call, simple_call
from plugin.transport.wire import (
    ConnectionFailed,
    ConnectTimeout,
    ContentDecodingError,
    Headers,
    ReadTimeout,
    Response,
    TLSError,
)

MAX_IDLE_PER_HOST = 32
MAX_HEADER_LINES = 200
MAX_LINE = 65536
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


class _Retry(Exception):
    """A kept-alive connection turned out closed before any answer: send once more on a new one."""


class LeanTransport:
    def __init__(self, guard: Any):
        self._guard = guard
        self._idle: dict[tuple, list] = {}
        self._lock = threading.Lock()
        self._tls: dict[str, ssl.SSLContext] = {}

    def takes(self, client: Any, method: str, url: str, kwargs: dict) -> bool:
        return simple_call(client, method, url, kwargs)

    def request(self, client: Any, method: str, url: str, kwargs: dict) -> Response:
        call = Call(client, method, url, kwargs)
        head = [f"{call.method} {call.target} HTTP/1.1", f"Host: {call.host_header}"]
        head += [f"{k}: {v}" for k, v in call.headers.items() if k.lower() != "host"]
        wire = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (call.body or b"")
        key = (
            call.scheme,
            call.host,
            call.port,
            call.verify,
        )  # a connection verified against one bundle serves only it
        answer = self._attempt(key, call, wire) or self._attempt(key, call, wire)
        if answer is None:
            raise ConnectionFailed(f"connection to {call.host} closed without an answer")
        status, reason, headers, content, _keep = answer
        return call.response(status, reason, headers, content)

    def _attempt(self, key: tuple, call: Call, wire: bytes) -> tuple | None:
        """One exchange on a kept-alive or a new connection; ``None`` when a kept-alive one turned
        out closed before any answer (the request may be sent once more, on another)."""
        conn, reused = self._connection(key, call.connect_timeout, call.verify)
        try:
            answer = _exchange(conn, wire, call.method, call.read_timeout, reused)
        except _Retry:
            conn.close()
            return None
        except BaseException:
            conn.close()
            raise
        if answer[4]:
            self._release(key, conn)
        else:
            conn.close()
        return answer

    # -- connections -----------------------------------------------------------------------

    def _connection(self, key: tuple, timeout: float | None, verify: bool | str = True):
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                if conn.alive():
                    return conn, True
                conn.close()
        scheme, host, port, _verify = key
        try:
            sock = connect_first(self._guard.resolve(host, port), timeout, None, NODELAY)
        except socket.gaierror as exc:
            raise ConnectionFailed(f"cannot resolve {host}: {exc}") from None
        except TimeoutError:
            raise ConnectTimeout(f"connection to {host} timed out") from None
        except OSError as exc:
            raise ConnectionFailed(f"cannot connect to {host}: {exc}") from None
        if scheme == "https":
            sock = self._wrap_tls(sock, host, verify)
        return _Connection(sock), False

    def _wrap_tls(self, sock: socket.socket, host: str, verify: bool | str) -> ssl.SSLSocket:
        try:
            return self._context(verify).wrap_socket(sock, server_hostname=host)
        except ssl.SSLError as exc:
            sock.close()
            raise TLSError(f"TLS with {host} failed: {exc}") from None
        except TimeoutError:
            sock.close()
            raise ConnectTimeout(f"TLS handshake with {host} timed out") from None
        except OSError as exc:
            sock.close()
            raise ConnectionFailed(f"TLS with {host} failed: {exc}") from None

    def _release(self, key: tuple, conn: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def _context(self, verify: bool | str) -> ssl.SSLContext:
        """Verifying TLS: certifi's bundle (what requests uses), or the bundle file ``verify`` names."""
        cafile = certifi.where() if verify is True else verify
        context = self._tls.get(cafile)
        if context is None:
            context = ssl.create_default_context(cafile=cafile)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.set_alpn_protocols(["http/1.1"])
            self._tls[cafile] = context
        return context

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


# -- one exchange ----------------------------------------------------------------------------


def _exchange(conn: _Connection, wire: bytes, method: str, timeout: float | None, reused: bool):
    """Send ``wire`` on ``conn`` and read the answer: (status, reason, headers, content, keep-alive)."""
    sock = conn.sock
    sock.settimeout(timeout)
    try:
        sock.sendall(wire)
    except (BrokenPipeError, ConnectionResetError) as exc:
        if reused:
            raise _Retry from None
        raise ConnectionFailed(f"connection lost while sending: {exc}") from None
    except TimeoutError:
        raise ConnectionFailed("timed out while sending the request") from None
    except OSError as exc:
        raise ConnectionFailed(f"connection lost while sending: {exc}") from None
    try:
        return _read_response(conn, method, reused)
    except TimeoutError:
        raise ReadTimeout(f"no answer within {timeout} s") from None
    except ssl.SSLError as exc:
        raise TLSError(f"TLS error: {exc}") from None
    except (ConnectionResetError, BrokenPipeError) as exc:
        if reused and not conn.got_bytes:
            raise _Retry from None
        raise ConnectionFailed(f"connection lost: {exc}") from None
    except OSError as exc:
        raise ConnectionFailed(f"connection lost: {exc}") from None


def _read_response(conn: _Connection, method: str, reused: bool):
    version, status, reason, headers = _read_head(conn, reused)
    connection = headers.get("Connection", "").lower()
    close = version == "HTTP/1.0" or "close" in connection
    if version == "HTTP/1.0" and "keep-alive" in connection:
        close = False
    content, to_close = _read_body(conn, method, status, headers)
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate") and content:
        try:
            content = _decompress(content, encoding)
        except zlib.error as exc:
            raise ContentDecodingError(f"cannot decode {encoding} body: {exc}") from None
    return status, reason, headers, content, not (close or to_close)


def _read_head(conn: _Connection, reused: bool) -> tuple[str, int, str, Headers]:
    """The status line and headers of the final answer (a 1xx other than 101 is skipped)."""
    while True:
        line = conn.readline()
        if not line:
            if reused and not conn.got_bytes:
                raise _Retry
            raise ConnectionFailed("the server closed the connection without an answer")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit() or len(code) != 3:
            raise ConnectionFailed(f"not an HTTP response: {line[:60]!r}")
        status = int(code)
        headers = _read_headers(conn)
        if not 100 <= status < 200 or status == 101:
            return version, status, reason, headers


def _read_body(conn: _Connection, method: str, status: int, headers: Headers) -> tuple[bytes, bool]:
    """The body as framed by the answer, and whether reading it used up the connection."""
    if method == "HEAD" or status in (204, 304):
        return b"", False
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return conn.read_chunked(), False
    if "Content-Length" in headers:
        try:
            length = int(headers["Content-Length"].split(",")[0].strip())
        except ValueError:
            raise ConnectionFailed("invalid Content-Length in the answer") from None
        return conn.read_exactly(length), False
    return conn.read_to_close(), True


def _read_headers(conn: _Connection) -> Headers:
    headers: Headers = Headers()
    for _ in range(MAX_HEADER_LINES):
        line = conn.readline()
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    raise ConnectionFailed("too many header lines in the answer")


class _Connection:
    """A socket with a read buffer (``makefile`` would cost more than the reads themselves)."""

    __slots__ = ("buffer", "got_bytes", "sock")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""
        self.got_bytes = False

    def alive(self) -> bool:
        """An idle kept-alive connection the server has not closed (nothing readable on it)."""
        if self.buffer:
            return False
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        self.got_bytes = False
        return not readable

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.got_bytes = True
        self.buffer += chunk
        return True

    def readline(self) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line, self.buffer = self.buffer[: end + 1], self.buffer[end + 1 :]
                return line
            if len(self.buffer) > MAX_LINE:
                raise ConnectionFailed("a line of the answer is too long")
            if not self._fill():
                line, self.buffer = self.buffer, b""
                return line

    def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if not self._fill():
                raise ConnectionFailed(f"the answer ended after {len(self.buffer)} of {n} bytes")
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_to_close(self) -> bytes:
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data

    def read_chunked(self) -> bytes:
        parts = []
        while True:
            line = self.readline()
            if not line:
                raise ConnectionFailed("the chunked answer ended early")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ConnectionFailed("invalid chunk size in the answer") from None
            if size == 0:
                while self.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(parts)
            parts.append(self.read_exactly(size))
            self.read_exactly(2)  # CRLF after the chunk

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _decompress(content: bytes, encoding: str) -> bytes:
    if encoding == "deflate":
        try:
            return zlib.decompress(content)
        except zlib.error:
            return zlib.decompress(content, -zlib.MAX_WBITS)  # raw deflate, as some servers send
    return zlib.decompress(content, 16 + zlib.MAX_WBITS)


def connect_first(
    infos: list[tuple],
    timeout: float | None,
    source_address: Any,
    socket_options: Any,
    set_timeout: bool = True,
) -> socket.socket:
    """Connect to the first reachable checked address, without resolving anything again (the lean
    client's connections and the fallback's urllib3 pools, ``pinned.py``)."""
    error: OSError | None = None
    for family, socktype, proto, _canonname, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if set_timeout:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as e:
            error = e
            sock.close()
    if error is None:  # infos is never empty
        raise OSError("no address to connect to")
    raise error
