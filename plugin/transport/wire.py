"""What the transport speaks: the answer to an outgoing call and the errors of one, without requests.

The engine's common call goes through the lean client (``lean_http.py``) and needs nothing more;
a call it does not take goes through requests (``fallback.py``, imported at the first such call),
whose answer and errors are converted to these. So a worker that only sends the common call does
not load requests, its character detection nor idna: 3.7 MB RSS (bench/README.md §10). The names
and meanings are requests' (``ConnectTimeout`` is a connection failure and a timeout, an invalid
URL a ``ValueError``), and so is the decoding of a body (``text``, ``json``, ``encoding``): the
helpers below are ported from requests 2.34 (Apache-2.0), which the tests compare against.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from plugin import __version__

# what every call sends unless it says otherwise (requests' default_headers, our own User-Agent)
DEFAULT_HEADERS = {
    "User-Agent": f"automation-nodes/{__version__}",
    "Accept-Encoding": "gzip, deflate",
    "Accept": "*/*",
    "Connection": "keep-alive",
}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RequestError(OSError):
    """An outgoing call failed without an HTTP answer (requests' ``RequestException``)."""


class ConnectionFailed(RequestError):
    """No connection, or it broke before the whole answer came (requests' ``ConnectionError``)."""


class TimedOut(RequestError):
    """requests' ``Timeout``."""


class ConnectTimeout(ConnectionFailed, TimedOut):
    """The connection (or the TLS handshake) was not made in time: nothing was sent."""


class ReadTimeout(TimedOut):
    """The request was sent and no answer came in time."""


class TLSError(ConnectionFailed):
    """requests' ``SSLError``."""


class InvalidRequest(RequestError, ValueError):
    """The call could not be made as asked (requests' ``InvalidURL``, ``MissingSchema``, ``InvalidHeader``…)."""


class InvalidURL(InvalidRequest):
    """The URL cannot be called."""


class ContentDecodingError(RequestError):
    """The body's ``Content-Encoding`` could not be decoded."""


class RetryError(RequestError):
    """requests' ``RetryError``."""


class Headers(MutableMapping):
    """Case-insensitive headers that keep the spelling they were set with (requests' ``CaseInsensitiveDict``)."""

    __slots__ = ("_store",)

    def __init__(self, data: Mapping | None = None, **kwargs: Any):
        if isinstance(data, Headers) and not kwargs:
            self._store: dict[str, tuple[str, Any]] = dict(data._store)
            return
        self._store = {}
        self.update(data or {}, **kwargs)

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key: str) -> Any:
        return self._store[key.lower()][1]

    def __delitem__(self, key: str) -> None:
        del self._store[key.lower()]

    # Mapping's own get and ``in`` go through __getitem__ and a KeyError: these skip it
    def get(self, key: str, default: Any = None) -> Any:
        found = self._store.get(key.lower())
        return default if found is None else found[1]

    def __contains__(self, key: object) -> bool:
        return key.lower() in self._store  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[str]:
        return (cased for cased, _value in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return {k: v for k, (_c, v) in self._store.items()} == {str(k).lower(): v for k, v in other.items()}

    __hash__ = None  # mutable

    def copy(self) -> Headers:
        return Headers(dict(self._store.values()))

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class Response:
    """An HTTP answer, its body read and decoded from its ``Content-Encoding``."""

    __slots__ = ("content", "elapsed", "encoding", "headers", "reason", "status_code", "url")

    def __init__(
        self,
        status_code: int,
        reason: str,
        headers: Headers,
        content: bytes,
        url: str,
        elapsed: timedelta | None = None,
    ):
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content
        self.url = url
        self.encoding = encoding_from_headers(headers)
        self.elapsed = elapsed or timedelta(0)

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def is_redirect(self) -> bool:
        return "location" in self.headers and self.status_code in REDIRECT_STATUSES

    @property
    def history(self) -> list:
        """The redirects followed to get here: never any (the caller decides on a 3xx)."""
        return []

    @property
    def apparent_encoding(self) -> str | None:
        """The body's charset as charset_normalizer guesses it (loaded at the first guess)."""
        from charset_normalizer import detect

        return detect(self.content)["encoding"]

    @property
    def text(self) -> str:
        if not self.content:
            return ""
        encoding = self.encoding if self.encoding is not None else self.apparent_encoding
        try:
            return str(self.content, encoding or "utf-8", errors="replace")
        except (LookupError, TypeError):
            return str(self.content, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        """The body as JSON (a ``ValueError`` when it is not): without a declared charset, UTF-8,
        -16 or -32 as RFC 8259 allows (``json.loads`` tells them apart), else the text."""
        if not self.encoding and self.content and len(self.content) > 3:
            try:
                return _json.loads(self.content, **kwargs)
            except UnicodeDecodeError:
                pass  # not UTF-*: the text, with a guessed charset
        return _json.loads(self.text, **kwargs)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


def encoding_from_headers(headers: Mapping) -> str | None:
    """The charset a ``Content-Type`` declares; ISO-8859-1 for ``text/*`` without one (RFC 2616),
    UTF-8 for JSON (requests' ``get_encoding_from_headers``)."""
    content_type = headers.get("content-type")
    if not content_type:
        return None
    tokens = content_type.split(";")
    content_type, params = tokens[0].strip(), {}
    for param in (p.strip() for p in tokens[1:]):
        if param:
            key, value = param, True
            equals = param.find("=")
            if equals != -1:
                key, value = param[:equals].strip("\"' "), param[equals + 1 :].strip("\"' ")
            params[key.lower()] = value
    if "charset" in params:
        return params["charset"].strip("'\"") if isinstance(params["charset"], str) else None
    if "text" in content_type:
        return "ISO-8859-1"
    if "application/json" in content_type:
        return "utf-8"
    return None


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def requote_uri(uri: str) -> str:
    """``uri`` fully and consistently quoted: unreserved characters unescaped, illegal ones escaped
    (requests' ``requote_uri``)."""
    try:
        return quote(_unquote_unreserved(uri), safe="!#$%&'()*+,/:;=?@[]~")
    except InvalidURL:
        return quote(uri, safe="!#$&'()*+,/:;=?@[]~")  # a stray '%': quote it too


def _unquote_unreserved(uri: str) -> str:
    parts = uri.split("%")
    for i in range(1, len(parts)):
        h = parts[i][0:2]
        if len(h) == 2 and h.isalnum():
            try:
                c = chr(int(h, 16))
            except ValueError:
                raise InvalidURL(f"Invalid percent-escape sequence: '{h}'") from None
            parts[i] = c + parts[i][2:] if c in _UNRESERVED else f"%{parts[i]}"
        else:
            parts[i] = f"%{parts[i]}"
    return "".join(parts)
