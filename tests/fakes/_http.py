"""Shared base of the HTTP fakes: a real threaded HTTP server on 127.0.0.1 that records every request."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

log = logging.getLogger(__name__)


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes
    received_at: float = field(default_factory=time.time)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def form_first(self) -> dict[str, str]:
        return {k: v[0] for k, v in self.form().items()}


@dataclass
class Reply:
    """What the fake answers; ``delay`` sleeps before answering (a slow server)."""

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), self.content_type or "text/plain; charset=utf-8"
        data = json.dumps(self.body, ensure_ascii=False).encode("utf-8")
        return data, self.content_type or "application/json"


def spellings(secret: str, user: str | None = None) -> dict[str, str]:
    """Every spelling of ``secret`` a remote side may echo back (issue #16), computed here
    independently of the server's masker: raw, base64 (and URL-safe), HTTP Basic (``secret:``,
    ``:secret``, ``user:secret``), URL-encoded (quote, quote_plus, every byte), JSON ``\\uXXXX`` and
    escaped slashes, hex, and inside a URL's path, query and userinfo."""
    data = secret.encode("utf-8")
    out = {
        "raw": secret,
        "base64": base64.b64encode(data).decode(),
        "base64url": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "basic_secret_colon": base64.b64encode(data + b":").decode(),
        "basic_colon_secret": base64.b64encode(b":" + data).decode(),
        "quote": quote(secret),
        "quote_plus": quote_plus(secret),
        "percent_every_byte": "".join(f"%{b:02X}" for b in data),
        "json_u": "".join(f"\\u{ord(c):04x}" for c in secret),
        "json_slashes": json.dumps(secret)[1:-1].replace("/", "\\/"),
        "hex": data.hex(),
        "url_path": f"https://echo.example/p/{quote(secret, safe='')}/x",
        "url_query": f"https://echo.example/?k={quote_plus(secret)}&z=1",
        "url_userinfo": f"https://user:{quote(secret, safe='')}@echo.example/",
    }
    if user is not None:
        out["basic_pair"] = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return out


class TokenBucket:
    """Thread-safe bucket: ``take()`` returns 0 when allowed, else the seconds until a token is free."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = float(rate), float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        req = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.fake._echoed(self.server.fake._dispatch(req))
        if reply.delay:
            time.sleep(reply.delay)
        data, ctype = reply.encode()
        try:
            self.send_response(reply.status)
            headers = {"Content-Type": ctype, **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(0 if reply.status in (204, 304) else len(data)))
            self.end_headers()
            if reply.status not in (204, 304) and self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver listens with a backlog of 5: a burst of connections (8 lane threads in each of
    # two workers) while this process was slow to accept overflowed it, the kernel dropped the
    # SYNs past 6, and the client's 1-s connect timeout ran out before the retransmission — an
    # attempt that never reached the fake, not a fault any test meant to inject (a real server
    # listens with 128 or more, as werkzeug's does)
    request_queue_size = 128
    fake: FakeHTTPServer


class FakeHTTPServer:
    """Base of every HTTP fake: start/stop, ``url``, ``requests`` log, and forced replies (switches)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._forced: deque[Reply] = deque()
        self._sticky: Reply | None = None
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._echo: list[str] = []
        self._echo_fail: int | None = None
        self._echo_turn = itertools.count()
        self._answer_after = 0.0

    # lifecycle
    def start(self) -> FakeHTTPServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=type(self).__name__,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "fake not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # switches
    def force(self, reply: Reply, times: int | None = 1) -> None:
        """Answer the next ``times`` requests with ``reply`` (``None``: every request until ``reset``)."""
        with self._lock:
            if times is None:
                self._sticky = reply
            else:
                self._forced.extend([reply] * times)

    def answer_after(self, seconds: float) -> None:
        """Every answer, forced or the fake's own, is sent ``seconds`` after its request came (a
        receiver that does what is asked and is slow to say so)."""
        with self._lock:
            self._answer_after = seconds

    def reset(self) -> None:
        """Drop every forced reply and recorded request."""
        with self._lock:
            self._forced.clear()
            self._sticky = None
            self.requests.clear()

    def echo(self, secrets: list[str], fail: int | None = None) -> None:
        """Answer with every given spelling of the secrets (see :func:`spellings`) in the response
        headers (``X-Echo-N``) and body: added to a JSON object answer, or, with ``fail``, as an
        error answer of that status whose every message field quotes them (rotated per request,
        so that each spelling leads once: a client that keeps only the start still sees each)."""
        with self._lock:
            self._echo, self._echo_fail = list(secrets), fail

    def _echoed(self, reply: Reply) -> Reply:
        with self._lock:
            echo, fail = list(self._echo), self._echo_fail
        if not echo:
            return reply
        turn = next(self._echo_turn) % len(echo)
        echo = echo[turn:] + echo[:turn]
        headers = {**reply.headers, **{f"X-Echo-{i}": s for i, s in enumerate(echo)}}
        if fail is not None:
            text = "echo: " + " ".join(echo)
            fields = ("description", "message", "detail", "title", "error_description", "status_text")
            body = {
                "ok": False,
                "status": "ERROR",
                "error": "echo",
                **dict.fromkeys(fields, text),
                "echo": echo,
            }
            return Reply(fail, body, headers)
        body = {**reply.body, "echo": echo} if isinstance(reply.body, dict) else reply.body
        return Reply(reply.status, body, headers, reply.content_type, reply.delay)

    def _dispatch(self, req: Request) -> Reply:
        with self._lock:
            self.requests.append(req)
            forced = self._forced.popleft() if self._forced else self._sticky
            after = self._answer_after
        reply = forced
        if reply is None:
            try:
                reply = self.handle(req)
            except Exception:  # a bug in the fake must show up in the test, not hang it
                log.exception("fake %s failed", type(self).__name__)
                reply = Reply(599, "fake server error")
        return dataclasses.replace(reply, delay=max(reply.delay, after)) if after else reply

    def handle(self, req: Request) -> Reply:  # pragma: no cover - overridden
        raise NotImplementedError
