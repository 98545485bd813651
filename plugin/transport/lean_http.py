"""A small HTTP/1.1 client for the engine's outgoing calls, behind :class:`GuardedSession`.

Through ``requests`` → urllib3 → http.client a webhook POST costs ~0.5–0.9 ms of Python, more
than everything else the engine does for an event. This client does the common call — one
request with a bytes or JSON body, no redirects, kept-alive connections — in a few dozen
microseconds, and returns the same ``requests.Response``. Connections are made by the SSRF
guard (resolve once, check every address, connect to a checked one), exactly as the urllib3
pools of :mod:`plugin.transport.net` do; TLS verifies against certifi's bundle (what
``requests`` verifies against) with the real host name for SNI and the certificate check.

Errors are the ``requests`` exceptions that path raises (``ConnectTimeout``, ``ReadTimeout``,
``ConnectionError``, ``SSLError``), so callers cannot tell the two apart. Calls this client does
not take (streaming, auth, cookies, ``verify=False``, client ``cert``, form dicts, user info or non-ASCII
host names in the URL, redirects) go through ``requests`` as before.
"""

from __future__ import annotations

import json as _json
import select
import socket
import ssl
import threading
import time
import zlib
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, requote_uri
from urllib3.util.timeout import _DEFAULT_TIMEOUT

MAX_IDLE_PER_HOST = 32
MAX_HEADER_LINES = 200
MAX_LINE = 65536
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
SIMPLE_KWARGS = frozenset({"headers", "data", "json", "timeout", "allow_redirects", "verify"})


class _Retry(Exception):
    """A kept-alive connection turned out closed before any answer: send once more on a new one."""


class LeanTransport:
    def __init__(self, guard: Any):
        self._guard = guard
        self._idle: dict[tuple, list] = {}
        self._lock = threading.Lock()
        self._tls: dict[str, ssl.SSLContext] = {}

    # -- eligibility -----------------------------------------------------------------------

    def takes(self, session: requests.Session, method: str, url: str, kwargs: dict) -> bool:
        if not kwargs.keys() <= SIMPLE_KWARGS or kwargs.get("allow_redirects", True) is not False:
            return False
        if session.auth or session.cookies or session.cert or session.proxies:
            return False
        verify = kwargs.get("verify", session.verify)
        if verify is not True and not (isinstance(verify, str) and verify):
            return False  # verify=False (or a bundle object): requests decides
        if session.params or session.hooks.get("response"):
            return False
        data = kwargs.get("data")
        if data is not None and (not isinstance(data, bytes) or kwargs.get("json") is not None):
            return False
        if not isinstance(method, str) or not isinstance(url, str) or not url.isascii():
            return False
        head = url[:8].lower()
        if not head.startswith(("http://", "https://")) or "@" in url.split("/", 3)[2]:
            return False  # user info in the URL: requests turns it into Basic auth
        headers = kwargs.get("headers") or {}
        for key, value in headers.items():
            if not isinstance(key, str) or not isinstance(value, str | bytes) or _unsafe(key) or _unsafe(value):
                return False
        return True

    # -- the call --------------------------------------------------------------------------

    def request(self, session: requests.Session, method: str, url: str, kwargs: dict) -> requests.Response:
        started = time.perf_counter()
        url = requote_uri(url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if "@" in parts.netloc or not parts.hostname:
            raise requests.exceptions.InvalidURL(f"invalid URL {url!r}")
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connect_timeout, read_timeout = _timeouts(kwargs.get("timeout"))

        headers = CaseInsensitiveDict(session.headers)
        for key, value in (kwargs.get("headers") or {}).items():
            if value is None:
                headers.pop(key, None)
            else:
                headers[key] = value.decode("latin-1") if isinstance(value, bytes) else value
        body = kwargs.get("data")
        if kwargs.get("json") is not None:
            body = _json.dumps(kwargs["json"], allow_nan=False).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        method = method.upper()
        if body is not None or method not in ("GET", "HEAD"):  # as requests' prepare_content_length
            headers["Content-Length"] = str(len(body or b""))
        netloc = host if ":" not in host else f"[{host}]"
        default_port = 443 if scheme == "https" else 80
        host_header = netloc if port == default_port else f"{netloc}:{port}"
        head = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        head += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
        wire = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")

        verify = kwargs.get("verify", session.verify)
        key = (scheme, host, port, verify)  # a connection verified against one bundle serves only it
        for attempt in (1, 2):
            conn, reused = self._connection(key, connect_timeout, verify)
            try:
                status, reason, response_headers, content, keep = self._exchange(
                    conn, wire, method, read_timeout, reused
                )
            except _Retry:
                conn.close()
                if attempt == 2:
                    raise requests.exceptions.ConnectionError(f"connection to {host} closed without an answer")
                continue
            except BaseException:
                conn.close()
                raise
            if keep:
                self._release(key, conn)
            else:
                conn.close()
            break

        prepared = requests.PreparedRequest()
        prepared.method, prepared.url, prepared.headers, prepared.body = method, url, headers, body
        resp = requests.Response()
        resp.status_code = status
        resp.reason = reason
        resp.headers = response_headers
        resp.url = url
        resp.request = prepared
        resp.encoding = get_encoding_from_headers(response_headers)
        resp._content = content
        resp._content_consumed = True
        resp.elapsed = timedelta(seconds=time.perf_counter() - started)
        resp.raw = None
        return resp

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

            infos = self._guard.resolve(host, port)
            sock = connect_first(infos, timeout, None, NODELAY)
        except socket.gaierror as exc:
            raise requests.exceptions.ConnectionError(f"cannot resolve {host}: {exc}") from None
        except TimeoutError:
            raise requests.exceptions.ConnectTimeout(f"connection to {host} timed out") from None
        except OSError as exc:
            raise requests.exceptions.ConnectionError(f"cannot connect to {host}: {exc}") from None
        if scheme == "https":
            try:
                sock = self._context(verify).wrap_socket(sock, server_hostname=host)
            except ssl.SSLError as exc:
                sock.close()
                raise requests.exceptions.SSLError(f"TLS with {host} failed: {exc}") from None
            except TimeoutError:
                sock.close()
                raise requests.exceptions.ConnectTimeout(f"TLS handshake with {host} timed out") from None
            except OSError as exc:
                sock.close()
                raise requests.exceptions.ConnectionError(f"TLS with {host} failed: {exc}") from None
        return _Connection(sock), False

    def _release(self, key: tuple, conn: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return
        conn.close()

    def _context(self, verify: bool | str) -> ssl.SSLContext:
        """Verifying TLS: certifi's bundle (what requests uses), or the bundle file ``verify`` names."""
        from requests.utils import DEFAULT_CA_BUNDLE_PATH

        cafile = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
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

    # -- one exchange ------------------------------------------------------------------------

    def _exchange(self, conn: _Connection, wire: bytes, method: str, timeout: float | None, reused: bool):
        sock = conn.sock
        sock.settimeout(timeout)
        try:
            sock.sendall(wire)
        except (BrokenPipeError, ConnectionResetError) as exc:
            if reused:
                raise _Retry from None
            raise requests.exceptions.ConnectionError(f"connection lost while sending: {exc}") from None
        except TimeoutError:
            raise requests.exceptions.ConnectionError("timed out while sending the request") from None
        except OSError as exc:
            raise requests.exceptions.ConnectionError(f"connection lost while sending: {exc}") from None
        try:
            return self._read_response(conn, method, reused)
        except TimeoutError:
            raise requests.exceptions.ReadTimeout(f"no answer within {timeout} s") from None
        except ssl.SSLError as exc:
            raise requests.exceptions.SSLError(f"TLS error: {exc}") from None
        except (ConnectionResetError, BrokenPipeError) as exc:
            if reused and not conn.got_bytes:
                raise _Retry from None
            raise requests.exceptions.ConnectionError(f"connection lost: {exc}") from None
        except OSError as exc:
            raise requests.exceptions.ConnectionError(f"connection lost: {exc}") from None

    def _read_response(self, conn: _Connection, method: str, reused: bool):
        while True:
            line = conn.readline()
            if not line:
                if reused and not conn.got_bytes:
                    raise _Retry
                raise requests.exceptions.ConnectionError("the server closed the connection without an answer")
            version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/") or not code.isdigit() or len(code) != 3:
                raise requests.exceptions.ConnectionError(f"not an HTTP response: {line[:60]!r}")
            status = int(code)
            headers = self._read_headers(conn)
            if 100 <= status < 200 and status != 101:
                continue  # 100 Continue and friends: the real answer follows
            break
        close = version == "HTTP/1.0" or "close" in headers.get("Connection", "").lower()
        if version == "HTTP/1.0" and "keep-alive" in headers.get("Connection", "").lower():
            close = False
        if method == "HEAD" or status in (204, 304):
            content = b""
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            content = conn.read_chunked()
        elif "Content-Length" in headers:
            try:
                length = int(headers["Content-Length"].split(",")[0].strip())
            except ValueError:
                raise requests.exceptions.ConnectionError("invalid Content-Length in the answer") from None
            content = conn.read_exactly(length)
        else:
            content = conn.read_to_close()
            close = True
        encoding = headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate") and content:
            try:
                content = _decompress(content, encoding)
            except zlib.error as exc:
                raise requests.exceptions.ContentDecodingError(f"cannot decode {encoding} body: {exc}") from None
        return status, reason, headers, content, not close

    @staticmethod
    def _read_headers(conn: _Connection) -> CaseInsensitiveDict:
        headers: CaseInsensitiveDict = CaseInsensitiveDict()
        for _ in range(MAX_HEADER_LINES):
            line = conn.readline()
            if line in (b"\r\n", b"\n", b""):
                return headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                continue
            name, value = name.strip(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raise requests.exceptions.ConnectionError("too many header lines in the answer")


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
                raise requests.exceptions.ConnectionError("a line of the answer is too long")
            if not self._fill():
                line, self.buffer = self.buffer, b""
                return line

    def read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if not self._fill():
                raise requests.exceptions.ConnectionError(
                    f"the answer ended after {len(self.buffer)} of {n} bytes"
                )
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
                raise requests.exceptions.ConnectionError("the chunked answer ended early")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise requests.exceptions.ConnectionError("invalid chunk size in the answer") from None
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


def _unsafe(text: str | bytes) -> bool:
    if isinstance(text, bytes):
        return b"\r" in text or b"\n" in text or not text.isascii()
    return "\r" in text or "\n" in text or not text.isascii()


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    if isinstance(timeout, tuple):
        return timeout[0], timeout[1]
    return timeout, timeout


def _decompress(content: bytes, encoding: str) -> bytes:
    if encoding == "deflate":
        try:
            return zlib.decompress(content)
        except zlib.error:
            return zlib.decompress(content, -zlib.MAX_WBITS)  # raw deflate, as some servers send
    return zlib.decompress(content, 16 + zlib.MAX_WBITS)


def connect_first(infos: list[tuple], timeout: Any, source_address: Any, socket_options: Any) -> socket.socket:
    """Connect to the first reachable checked address, without resolving anything again."""
    error: OSError | None = None
    for family, socktype, proto, _canonname, sockaddr in infos:
        sock = socket.socket(family, socktype, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            if timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as e:
            error = e
            sock.close()
    assert error is not None  # infos is never empty
    raise error
