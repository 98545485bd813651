"""The common outgoing call, as :class:`plugin.transport.net.GuardedClient` hands it to its fast
transport: which calls qualify, the request they make, and the :class:`~plugin.transport.wire.Response`
they return.

A call qualifies when it is one request with a bytes or JSON body, no redirects, and nothing
``requests`` would add on its own (form encoding, ``verify=False`` or a client certificate, user
info in the URL, headers it would refuse or encode): the request is then fully known here, so a
transport only has to put it on the wire and read the answer. Everything else goes through
``requests`` (``plugin.transport.fallback``).
"""

from __future__ import annotations

import json as _json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from plugin.transport.wire import Headers, InvalidURL, Response, requote_uri

SIMPLE_KWARGS = frozenset({"headers", "data", "json", "timeout", "allow_redirects", "verify"})


def simple_call(client: Any, method: Any, url: Any, kwargs: dict) -> bool:
    """Whether this call is the common one (see the module docstring)."""
    if not kwargs.keys() <= SIMPLE_KWARGS or kwargs.get("allow_redirects", True) is not False:
        return False
    verify = kwargs.get("verify", client.verify)
    if verify is not True and not (isinstance(verify, str) and verify):
        return False  # verify=False (or a bundle object): requests decides
    data = kwargs.get("data")
    if data is not None and (not isinstance(data, bytes) or kwargs.get("json") is not None):
        return False
    return _plain_url(method, url) and _safe_headers(kwargs.get("headers") or {})


def _plain_url(method: Any, url: Any) -> bool:
    if not isinstance(method, str) or not isinstance(url, str) or not url.isascii():
        return False
    head = url[:8].lower()
    # user info in the URL: requests turns it into Basic auth
    return head.startswith(("http://", "https://")) and "@" not in url.split("/", 3)[2]


def _safe_headers(headers: dict) -> bool:
    """Text headers without CR/LF or non-ASCII: the others go to requests, which refuses or encodes them."""
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str | bytes) or _unsafe(key) or _unsafe(value):
            return False
    return True


def _unsafe(text: str | bytes) -> bool:
    if isinstance(text, bytes):
        return b"\r" in text or b"\n" in text or not text.isascii()
    return "\r" in text or "\n" in text or not text.isascii()


class Call:
    """One prepared request: where it goes, what it sends, how long it may take."""

    __slots__ = (
        "body",
        "connect_timeout",
        "headers",
        "host",
        "method",
        "port",
        "read_timeout",
        "scheme",
        "started",
        "target",
        "url",
        "verify",
    )

    def __init__(self, client: Any, method: str, url: str, kwargs: dict):
        self.started = time.perf_counter()
        self.url = url = requote_uri(url)
        parts = urlsplit(url)
        if "@" in parts.netloc or not parts.hostname:
            raise InvalidURL(f"invalid URL {url!r}")
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname
        self.port = parts.port or self.default_port
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.connect_timeout, self.read_timeout = _timeouts(kwargs.get("timeout"))
        self.verify = kwargs.get("verify", client.verify)
        self.method = method.upper()
        self.headers, self.body = _content(client, self.method, kwargs)

    @property
    def default_port(self) -> int:
        return 443 if self.scheme == "https" else 80

    @property
    def host_header(self) -> str:
        netloc = self.host if ":" not in self.host else f"[{self.host}]"
        return netloc if self.port == self.default_port else f"{netloc}:{self.port}"

    def response(self, status: int, reason: str, headers: Any, content: bytes) -> Response:
        """The answer, as requests would have given it (body read, decoded)."""
        if not isinstance(headers, Headers):
            headers = Headers(headers)
        elapsed = timedelta(seconds=time.perf_counter() - self.started)
        return Response(status, reason, headers, content, self.url, elapsed)


def _content(client: Any, method: str, kwargs: dict) -> tuple[Headers, bytes | None]:
    """The headers (the client's, then the call's; ``None`` removes one) and the body, as requests
    prepares them: JSON encoded as UTF-8 with its Content-Type, Content-Length on every body."""
    headers = Headers(client.headers)
    for key, value in (kwargs.get("headers") or {}).items():
        if value is None:
            headers.pop(key, None)
        else:
            headers[key] = value.decode("latin-1") if isinstance(value, bytes) else value
    body = kwargs.get("data")
    if kwargs.get("json") is not None:
        body = _json.dumps(kwargs["json"], allow_nan=False).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    if body is not None or method not in ("GET", "HEAD"):  # as requests' prepare_content_length
        headers["Content-Length"] = str(len(body or b""))
    return headers, body


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    if isinstance(timeout, tuple):
        return timeout[0], timeout[1]
    return timeout, timeout
