"""The common outgoing call through urllib3's connection pools directly, without requests' adapter.

The pools are :class:`plugin.transport.pinned.GuardedAdapter`'s (the fallback's): their connections resolve once,
check every address and connect to a checked one, keyed by (scheme, host, port) and, for HTTPS,
the CA bundle. The call is prepared as :mod:`plugin.transport.calls` prepares it, sent with
``urlopen`` as requests' ``HTTPAdapter.send`` sends it (no retries, no redirects), and urllib3's
exceptions become the errors of :mod:`plugin.transport.wire` that requests' would become.
"""

from __future__ import annotations

import os
from typing import Any

import certifi
from urllib3 import PoolManager
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util import Retry, Timeout

from plugin.transport import wire
from plugin.transport.calls import Call, simple_call

NO_RETRIES = Retry(0, read=False)  # requests' default: a failed call is the caller's to retry


class PoolTransport:
    def __init__(self, pools: PoolManager):
        self._pools = pools

    def takes(self, client: Any, method: str, url: str, kwargs: dict) -> bool:
        return simple_call(client, method, url, kwargs)

    def request(self, client: Any, method: str, url: str, kwargs: dict) -> wire.Response:
        call = Call(client, method, url, kwargs)
        pool = self._pools.connection_from_host(call.host, call.port, call.scheme, _tls_kwargs(call))
        try:
            raw = pool.urlopen(
                call.method,
                call.target,
                body=call.body,
                headers=call.headers,
                redirect=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=True,
                retries=NO_RETRIES,
                timeout=Timeout(connect=call.connect_timeout, read=call.read_timeout),
            )
        except (HTTPError, OSError) as exc:
            raise _as_wire_error(exc) from exc
        return call.response(raw.status, raw.reason, raw.headers, raw.data)

    def close(self) -> None:
        self._pools.clear()


def _tls_kwargs(call: Call) -> dict[str, Any] | None:
    """The pool's certificate settings, as requests' adapter gives them (certifi's bundle by default)."""
    if call.scheme != "https":
        return None
    location = certifi.where() if call.verify is True else call.verify
    if os.path.isdir(location):
        return {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": location}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": location}


def _as_wire_error(exc: Exception) -> Exception:
    """Ours for the exception requests' ``HTTPAdapter.send`` raises for this urllib3 one."""
    if isinstance(exc, LocationValueError):
        return wire.InvalidURL(exc)
    if isinstance(exc, MaxRetryError):
        return _from_reason(exc)
    if isinstance(exc, (ProtocolError, OSError, ClosedPoolError)):
        return wire.ConnectionFailed(exc)
    if isinstance(exc, SSLError):
        return wire.TLSError(exc)
    if isinstance(exc, ReadTimeoutError):
        return wire.ReadTimeout(exc)
    if isinstance(exc, DecodeError):
        return wire.ContentDecodingError(exc)
    return wire.ConnectionFailed(exc)


def _from_reason(exc: MaxRetryError) -> Exception:
    reason = exc.reason
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return wire.ConnectTimeout(exc)
    if isinstance(reason, ResponseError):
        return wire.RetryError(exc)
    if isinstance(reason, SSLError):
        return wire.TLSError(exc)
    return wire.ConnectionFailed(exc)
