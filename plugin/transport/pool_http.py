"""The common outgoing call through urllib3's connection pools directly, without requests' adapter.

The pools are :class:`plugin.transport.net.GuardedAdapter`'s: their connections resolve once,
check every address and connect to a checked one, keyed by (scheme, host, port) and, for HTTPS,
the CA bundle. The call is prepared as :mod:`plugin.transport.calls` prepares it, sent with
``urlopen`` as requests' ``HTTPAdapter.send`` sends it (no retries, no redirects), and urllib3's
exceptions become the ``requests`` exceptions that adapter raises.
"""

from __future__ import annotations

import os
from typing import Any

import requests
from requests.utils import DEFAULT_CA_BUNDLE_PATH
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

from plugin.transport.calls import Call, simple_call

NO_RETRIES = Retry(0, read=False)  # requests' default: a failed call is the caller's to retry


class PoolTransport:
    def __init__(self, pools: PoolManager):
        self._pools = pools

    def takes(self, session: requests.Session, method: str, url: str, kwargs: dict) -> bool:
        return simple_call(session, method, url, kwargs)

    def request(self, session: requests.Session, method: str, url: str, kwargs: dict) -> requests.Response:
        call = Call(session, method, url, kwargs)
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
            raise _as_requests_error(exc) from exc
        return call.response(raw.status, raw.reason, raw.headers, raw.data, raw)

    def close(self) -> None:
        self._pools.clear()


def _tls_kwargs(call: Call) -> dict[str, Any] | None:
    """The pool's certificate settings, as requests' adapter gives them (certifi's bundle by default)."""
    if call.scheme != "https":
        return None
    location = DEFAULT_CA_BUNDLE_PATH if call.verify is True else call.verify
    if os.path.isdir(location):
        return {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": location}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": location}


def _as_requests_error(exc: Exception) -> Exception:
    """The exception requests' ``HTTPAdapter.send`` raises for this urllib3 one."""
    if isinstance(exc, LocationValueError):
        return requests.exceptions.InvalidURL(exc)
    if isinstance(exc, MaxRetryError):
        return _from_reason(exc)
    if isinstance(exc, (ProtocolError, OSError, ClosedPoolError)):
        return requests.exceptions.ConnectionError(exc)
    if isinstance(exc, SSLError):
        return requests.exceptions.SSLError(exc)
    if isinstance(exc, ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc)
    if isinstance(exc, DecodeError):
        return requests.exceptions.ContentDecodingError(exc)
    return requests.exceptions.ConnectionError(exc)


def _from_reason(exc: MaxRetryError) -> Exception:
    reason = exc.reason
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return requests.exceptions.ConnectTimeout(exc)
    if isinstance(reason, ResponseError):
        return requests.exceptions.RetryError(exc)
    if isinstance(reason, SSLError):
        return requests.exceptions.SSLError(exc)
    return requests.exceptions.ConnectionError(exc)
