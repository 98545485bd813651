"""The outgoing calls the lean client does not take, through requests (a form body, ``verify=False``,
user info in the URL, a header requests must refuse or encode…; ``plugin.transport.calls``).

Imported by :class:`plugin.transport.net.GuardedClient` at the first such call, so a worker that
sends only the common call never loads requests. Its session connects through the same SSRF guard
(``pinned.GuardedAdapter``: resolve once, check every address, connect to a checked one), never
follows a redirect and reads nothing from the environment; its answers and errors are converted to
:mod:`plugin.transport.wire`'s, so callers cannot tell which path a call took.
"""

from __future__ import annotations

from typing import Any

import requests
from requests import exceptions as rex

from plugin.transport import wire
from plugin.transport.pinned import GuardedAdapter


class RequestsFallback:
    def __init__(self, guard: Any, headers: dict[str, str], verify: bool | str):
        self.session = _GuardedSession()
        self.session.headers.clear()
        self.session.headers.update(headers)
        self.session.verify = verify
        # as many kept-alive connections per host as the engine sends concurrently (engine/settle.py)
        self.adapter = GuardedAdapter(guard, pool_connections=64, pool_maxsize=32)
        self.session.mount("http://", self.adapter)
        self.session.mount("https://", self.adapter)

    def request(self, method: str, url: str, **kwargs: Any) -> wire.Response:
        try:
            resp = self.session.request(method, url, **kwargs)
        except rex.RequestException as exc:
            raise as_wire_error(exc) from exc
        headers = wire.Headers(resp.headers)
        return wire.Response(resp.status_code, resp.reason, headers, resp.content, resp.url, resp.elapsed)

    def close(self) -> None:
        self.session.close()


class _GuardedSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        # nothing from the environment: no ~/.netrc credentials sent to a user-configured URL, no
        # proxy variables (the guard connects directly); it also spares a netrc lookup per request
        self.trust_env = False

    def get_redirect_target(self, resp: requests.Response) -> None:
        # Never follow, even with allow_redirects=True: the caller decides, and its next call is checked.
        return None


# requests' error → ours, the most specific first
_ERRORS: tuple[tuple[type[Exception], type[wire.RequestError]], ...] = (
    (rex.ConnectTimeout, wire.ConnectTimeout),
    (rex.ReadTimeout, wire.ReadTimeout),
    (rex.Timeout, wire.TimedOut),
    (rex.SSLError, wire.TLSError),
    (rex.ConnectionError, wire.ConnectionFailed),
    (rex.InvalidURL, wire.InvalidURL),
    (rex.ContentDecodingError, wire.ContentDecodingError),
    (rex.RetryError, wire.RetryError),
    (rex.InvalidJSONError, wire.InvalidRequest),
    (rex.URLRequired, wire.InvalidRequest),
    (ValueError, wire.InvalidRequest),  # MissingSchema, InvalidSchema, InvalidHeader, …
)


def as_wire_error(exc: rex.RequestException) -> wire.RequestError:
    """The error of :mod:`plugin.transport.wire` that ``exc`` means (its message kept)."""
    for theirs, ours in _ERRORS:
        if isinstance(exc, theirs):
            return ours(str(exc))
    return wire.RequestError(str(exc))
