"""The lean HTTP transport answers exactly what requests/urllib3 answers, over real sockets.

Every case runs twice against the same local server — through ``GuardedClient`` with its lean
transport and with ``client.lean = None`` (requests, ``plugin.transport.fallback``) — and the two ``Response`` objects
(or raised exception types) must match. The server speaks raw HTTP/1.1 so each case controls
the bytes: chunked bodies, gzip, no Content-Length, 1xx, repeated headers, early closes.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
import zlib

import pytest

from plugin.nodes._services import Settings
from plugin.transport.net import BlockedDestination, guarded_client
from plugin.transport.pool_http import PoolTransport
from plugin.transport.wire import ConnectionFailed, RequestError, TimedOut, TLSError


def _ok(body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def _encoded(body: bytes, encoding: str) -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


RESPONSES = {
    "/json": _ok(b'{"ok": true, "text": "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"}'),
    "/chunked": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    ),
    "/gzip": _encoded(gzip.compress(b'{"zipped": 1}'), "gzip"),
    "/deflate": _encoded(zlib.compress(b"deflated"), "deflate"),
    "/close": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",  # no length: read to close
    "/http10": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "/continue": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    "/nocontent": b"HTTP/1.1 204 No Content\r\nX-Id: 7\r\n\r\n",
    "/redirect": b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest\r\nContent-Length: 0\r\n\r\n",
    "/limited": (
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 12\r\n"
        b'Connection: close\r\n\r\n{"ok":false}'
    ),
    "/cookies": b"HTTP/1.1 500 Oops\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 3\r\n\r\nbad",
}


class RawServer:
    """Answers each request with RESPONSES[path]; '/hang' never answers, '/drop' closes at once."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.tls = tls
        self.sni: list[str | None] = []
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        self.port = self.sock.getsockname()[1]
        self.requests: list[tuple[str, dict, bytes]] = []
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(
                target=self._serve_tls if self.tls else self._serve, args=(conn,), daemon=True
            ).start()

    def _serve_tls(self, conn):
        try:
            conn = self.tls.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()  # the client refused our certificate
            return
        self._serve(conn)

    def _serve(self, conn):
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
                }
                length = int(headers.get("content-length", 0))
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                self.requests.append((f"{method} {path}", headers, body))
                if path == "/hang":
                    time.sleep(3)
                    return
                if path == "/drop":
                    return
                answer = RESPONSES[path.split("?")[0]]
                conn.sendall(answer)
                if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0") or path == "/close":
                    return

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def server():
    s = RawServer()
    yield s
    s.close()


def _sessions():
    lean = guarded_client(Settings(outbound_allowlist=("127.0.0.1",), http_timeout=1.5))
    plain = guarded_client(Settings(outbound_allowlist=("127.0.0.1",), http_timeout=1.5))
    assert lean.lean is not None
    plain.lean = None
    return lean, plain


def _call(session, method, url, **kwargs):
    try:
        r = session.request(method, url, allow_redirects=False, **kwargs)
    except RequestError as exc:
        return ("error", type(exc).__mro__[:3])
    return (
        r.status_code,
        r.reason,
        dict(r.headers),
        r.content,
        r.text,
        r.encoding,
        r.url,
        r.headers.get("Set-Cookie"),
        r.is_redirect,
    )


CASES = [
    ("POST", "/json", {"json": {"event": "Новая сделка", "n": 1}}),
    (
        "POST",
        "/json",
        {"data": b'{"raw": true}', "headers": {"Content-Type": "application/json", "X-A": "1"}},
    ),
    ("GET", "/json", {}),
    ("POST", "/chunked", {"data": b"x"}),
    ("POST", "/gzip", {"json": {}}),
    ("POST", "/deflate", {"json": {}}),
    ("POST", "/close", {"json": {}}),
    ("POST", "/http10", {"json": {}}),
    ("POST", "/continue", {"json": {}}),
    ("POST", "/nocontent", {"json": {}}),
    ("POST", "/redirect", {"json": {}}),
    ("POST", "/limited", {"json": {}}),
    ("POST", "/cookies", {"json": {}}),
    ("PUT", "/json?a=1&b=пробел", {"json": [1, 2]}),
    ("DELETE", "/json", {}),
    ("POST", "/hang", {"json": {}}),
    ("POST", "/drop", {"json": {}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), CASES, ids=[f"{m} {p}" for m, p, _ in CASES])
def test_same_answer_as_requests(server, method, path, kwargs):
    lean, plain = _sessions()
    _compare(server, lean, plain, method, path, kwargs)


@pytest.mark.parametrize(("method", "path", "kwargs"), CASES, ids=[f"{m} {p}" for m, p, _ in CASES])
def test_urllib3_pools_called_directly_answer_as_requests(server, method, path, kwargs):
    """The library alternative the lean client is measured against (bench/lean_clients.py,
    ``AUTOMATION_LEAN_HTTP=urllib3``) makes the same call and gives the same answer."""
    pooled, plain = _sessions()
    pooled.lean = PoolTransport(pooled.fallback.adapter.poolmanager)
    url = f"http://127.0.0.1:{server.port}{path}"
    assert pooled.lean.takes(pooled, method, url, {**kwargs, "allow_redirects": False}) == url.isascii()
    _compare(server, pooled, plain, method, path, kwargs)


def _compare(server, session, plain, method, path, kwargs):
    url = f"http://127.0.0.1:{server.port}{path}"
    ours, theirs = _call(session, method, url, **kwargs), _call(plain, method, url, **kwargs)
    ours_seen, theirs_seen = server.requests[-2] if len(server.requests) >= 2 else None, server.requests[-1]
    if ours[0] != "error":
        ours_headers, theirs_headers = ours[2], theirs[2]
        ours, theirs = ours[:2] + ours[3:], theirs[:2] + theirs[3:]
        assert ours_headers == theirs_headers
    assert ours == theirs
    # what the server received: the same request line, headers and body
    assert ours_seen[0] == theirs_seen[0] and ours_seen[2] == theirs_seen[2]
    assert ours_seen[1] == theirs_seen[1]
    if path == "/hang":
        assert ours[0] == "error" and issubclass(ours[1][0], TimedOut)
    if path == "/drop":
        assert ours[0] == "error" and issubclass(ours[1][0], ConnectionFailed)


def test_connections_are_kept_alive_and_a_closed_idle_one_is_replaced(server):
    lean, _ = _sessions()
    url = f"http://127.0.0.1:{server.port}/json"
    for _ in range(20):
        assert lean.post(url, json={}, allow_redirects=False).status_code == 200
    assert server.connections == 1
    # the server side of the idle connection goes away (a restart, an idle timeout)
    (conn,) = [c for conns in lean.lean._idle.values() for c in conns]
    conn.sock.shutdown(socket.SHUT_RDWR)
    assert lean.post(url, json={}, allow_redirects=False).status_code == 200
    assert server.connections == 2


def test_refused_connection_and_guarded_destinations(server):
    lean, plain = _sessions()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    assert _call(lean, "POST", f"http://127.0.0.1:{port}/x", json={}) == _call(
        plain, "POST", f"http://127.0.0.1:{port}/x", json={}
    )
    guarded = guarded_client(Settings(outbound_allowlist=(), http_timeout=1))
    for url in (f"http://127.0.0.1:{server.port}/json", "http://169.254.169.254/latest", "http://[::1]:9/"):
        with pytest.raises(BlockedDestination):
            guarded.post(url, json={}, allow_redirects=False)
    assert server.requests == []


def test_calls_it_does_not_take_go_through_requests(server):
    lean, _ = _sessions()
    url = f"http://127.0.0.1:{server.port}/json"
    assert not lean.lean.takes(lean, "POST", url, {"data": {"a": "1"}, "allow_redirects": False})  # a form
    assert not lean.lean.takes(lean, "POST", url, {"json": {}, "allow_redirects": True})
    assert not lean.lean.takes(lean, "POST", url, {"json": {}, "allow_redirects": False, "verify": False})
    assert not lean.lean.takes(
        lean, "POST", url, {"json": {}, "allow_redirects": False, "headers": {"X": "a\r\nB: c"}}
    )
    assert not lean.lean.takes(lean, "POST", "http://user:pw@127.0.0.1/", {"allow_redirects": False})
    assert lean.lean.takes(lean, "POST", url, {"json": {}, "allow_redirects": False, "timeout": 3})
    # a header with CR/LF is refused as requests refuses it (no request is sent)
    with pytest.raises(ValueError):
        lean.post(url, json={}, headers={"X-Evil": "a\r\nInjected: 1"}, allow_redirects=False)
    assert server.requests == []


@pytest.fixture
def tls_server(tls):
    context, ca_file = tls
    s = RawServer(tls=context)
    yield s, ca_file
    s.close()


def test_https_verifies_the_certificate_against_the_host_name(tls_server):
    server, ca_file = tls_server
    lean = guarded_client(Settings(outbound_allowlist=("127.0.0.1", "::1", "localhost"), http_timeout=2))
    url = f"https://localhost:{server.port}/json"
    assert lean.lean.takes(lean, "POST", url, {"json": {}, "allow_redirects": False, "verify": ca_file})
    answers = [lean.post(url, json={"n": i}, verify=ca_file, allow_redirects=False) for i in range(3)]
    assert [a.json()["ok"] for a in answers] == [True] * 3
    assert server.connections == 1 and server.sni == ["localhost"]  # one kept-alive TLS connection
    assert server.requests[0][1]["host"] == f"localhost:{server.port}"
    # the same bundle through requests gives the same answer
    plain = guarded_client(Settings(outbound_allowlist=("127.0.0.1", "::1", "localhost"), http_timeout=2))
    plain.lean = None
    theirs = plain.post(url, json={"n": 0}, verify=ca_file, allow_redirects=False)
    assert (theirs.status_code, theirs.content) == (answers[0].status_code, answers[0].content)


def test_https_refuses_a_certificate_for_another_name_or_an_unknown_authority(tls_server):
    server, ca_file = tls_server
    lean = guarded_client(Settings(outbound_allowlist=("127.0.0.1", "localhost"), http_timeout=2))
    with pytest.raises(TLSError, match="127.0.0.1"):
        lean.post(f"https://127.0.0.1:{server.port}/json", json={}, verify=ca_file, allow_redirects=False)
    with pytest.raises(TLSError):  # certifi's bundle does not know the test CA
        lean.post(f"https://localhost:{server.port}/json", json={}, allow_redirects=False)
    assert server.requests == []
