"""Shared outbound HTTP call and the mapping of responses and network errors to node errors."""

from __future__ import annotations

import email.utils
import logging
import socket
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from plugin.masking import mask_current
from plugin.transport.destinations import NEUTRAL, NO_ANSWER, destination_of
from plugin.transport.errors import SECRET_PLACEHOLDER, NodeError, PermanentError, RetryableError
from plugin.transport.wire import (
    ConnectionFailed,
    ConnectTimeout,
    InvalidRequest,
    RequestError,
    Response,
    TimedOut,
)

log = logging.getLogger(__name__)

BODY_LIMIT = 300
"""How much of a remote error body is kept in an error message."""

RETRYABLE_STATUSES = frozenset({408, 429})


def host_of(url: str) -> str:
    """The host (and port) of ``url``: all an error message may say about a secret URL."""
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1] or "?"
    except ValueError:
        return "?"


def mask_url(url: str, keep_tail: str = "") -> str:
    """``https://host/********`` (plus ``keep_tail``): a secret URL fit for previews and logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{host_of(url)}/{SECRET_PLACEHOLDER}{keep_tail}"


def trim(text: str, limit: int = BODY_LIMIT) -> str:
    """One line of at most ``limit`` characters of remote text, without the call's secrets (masked
    before the cut, which could leave half a secret behind)."""
    text = " ".join(mask_current(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header: delta seconds or an HTTP date; ``None`` when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


Describe = Callable[[Response], str | None]


def send(services: Any, method: str, url: str, *, service: str, **kwargs: Any) -> Response:
    """Perform one request through the guarded session; network failures become RetryableError.

    The destination's circuit is asked first (:mod:`plugin.transport.destinations`): an
    open circuit raises a retryable error without a connection attempt. What the call says about
    the receiver's reachability goes back to it: a refused or timed-out connection is a failure;
    any HTTP answer (5xx and 429 included: those are retried per message, honouring Retry-After)
    shows it reachable; an answer that never came is left to the send stage, which sees a receiver
    holding every connection unanswered."""
    settings = services.settings
    kwargs.setdefault(
        "timeout", (min(settings.connect_timeout, settings.http_timeout), settings.http_timeout)
    )
    gate = services.destinations
    dest = destination_of(url)
    gate.admit(dest)
    failure: str | None = NEUTRAL
    try:
        resp = services.http.request(method, url, allow_redirects=False, **kwargs)
        failure = None
        if resp.status_code >= 400:  # the receiver answered, with an error: its circuit is fine
            gate.count_failure(dest, f"HTTP {resp.status_code}")
        return resp
    except NodeError:  # the SSRF guard refused it: nothing was said about the receiver
        raise
    except ConnectTimeout:
        failure = "connection timed out"
        raise RetryableError(f"{service}: timed out connecting to {host_of(url)}") from None
    except TimedOut:
        failure = NO_ANSWER
        raise RetryableError(f"{service}: timed out talking to {host_of(url)}") from None
    except ConnectionFailed as exc:
        failure = "cannot connect" if _before_sending(exc) else NEUTRAL
        raise RetryableError(f"{service}: cannot connect to {host_of(url)}") from None
    except (InvalidRequest, ValueError) as exc:
        raise PermanentError(f"{service}: invalid request to {host_of(url)}: {type(exc).__name__}") from None
    except RequestError as exc:
        raise RetryableError(f"{service}: request to {host_of(url)} failed: {type(exc).__name__}") from None
    finally:
        gate.done(dest, failure)
        if failure is not None and failure != NEUTRAL:
            gate.count_failure(dest, failure)


def _before_sending(exc: BaseException) -> bool:
    """Whether a connection error happened before the request reached the receiver (refused,
    unreachable, name not resolved) rather than after (a connection reset mid-answer)."""
    before: tuple[type, ...] = (ConnectionRefusedError, socket.gaierror)
    urllib3 = sys.modules.get("urllib3.exceptions")  # loaded with requests (the fallback) only
    if urllib3 is not None:
        before += (urllib3.NewConnectionError, urllib3.NameResolutionError)
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, before):
            return True
        exc = (
            exc.__cause__
            or exc.__context__
            or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None)
        )
    return False


def check(resp: Response, *, service: str, describe: Describe | None = None) -> Response:
    """Return ``resp`` when it is 2xx, else raise the matching node error."""
    status = resp.status_code
    if 200 <= status < 300:
        return resp
    detail = (describe(resp) if describe else None) or trim(resp.text or "") or resp.reason or ""
    message = f"{service}: HTTP {status} from {host_of(resp.url)}" + (f": {detail}" if detail else "")
    if 300 <= status < 400:
        raise PermanentError(f"{service}: redirect not followed (HTTP {status})", status=status)
    if status in RETRYABLE_STATUSES or status >= 500:
        raise RetryableError(message, status=status, retry_after=retry_after(resp.headers.get("Retry-After")))
    raise PermanentError(message, status=status)


def json_or_none(resp: Response) -> Any:
    """The decoded JSON body, or ``None`` when the body is not JSON."""
    try:
        return resp.json()
    except ValueError:
        return None
