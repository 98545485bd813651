"""urllib3 connections pinned to the SSRF guard's answer: resolve once, check, connect to the checked address.

:class:`GuardedAdapter` is the ``requests`` adapter of the fallback (:mod:`plugin.transport.fallback`);
its pool manager makes every connection through the guard (``guard.resolve``: every address of the
host checked, :class:`plugin.transport.net.BlockedDestination` otherwise) and connects to one of
the checked addresses, never resolving again (``lean_http.connect_first``, as the lean client does).
Imported with requests, at the first call the lean client does not take (``plugin.transport.fallback``).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from plugin.transport.lean_http import connect_first

log = logging.getLogger(__name__)
# urllib3's DEBUG lines quote every request path, and paths carry secrets (a Slack webhook's, a
# Telegram bot token): keep that logger at INFO even when the application logs at DEBUG.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)


class GuardedAdapter(HTTPAdapter):
    """HTTP(S) adapter whose connections resolve once, check every address, and connect to a checked one.

    Pools stay keyed by (scheme, host, port), so keep-alive works as usual. Proxies are ignored: a proxy
    would resolve the destination itself and bypass the guard.
    """

    def __init__(self, guard: Any, **kwargs: Any):
        self._guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            self._guard, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("proxies") and any(kwargs["proxies"].values()):
            log.debug(
                "ignoring proxies for %s: the SSRF guard connects directly", urlsplit(request.url).hostname
            )
        kwargs["proxies"] = None
        return super().send(request, **kwargs)


class _PinnedConnectionMixin:
    """Replaces urllib3's ``create_connection`` (which resolves on its own) with the guard's answer.

    ``self.host`` is untouched, so the Host header, SNI and certificate hostname check use the real name.
    """

    def __init__(self, *args: Any, guard: Any, **kwargs: Any):
        self._guard = guard
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        try:
            infos = self._guard.resolve(self._dns_host, self.port)
            timeout = None if self.timeout is _DEFAULT_TIMEOUT else self.timeout
            sock = connect_first(
                infos, timeout, self.source_address, self.socket_options, self.timeout is not _DEFAULT_TIMEOUT
            )
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        except TimeoutError as e:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _GuardedPoolManager(PoolManager):
    def __init__(self, guard: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self._guard = guard
        self.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        # Added after the pool key is computed, so it does not disturb pooling per (scheme, host, port).
        context = dict(self.connection_pool_kw if request_context is None else request_context)
        context["guard"] = self._guard
        return super()._new_pool(scheme, host, port, request_context=context)
