"""What one delivery attempt can end in, raised by the transports and the nodes alike.

The node contract (:mod:`plugin.nodes.base`) hands these on to node modules.
"""

from __future__ import annotations

from typing import Any

from plugin.masking import SECRET_PLACEHOLDER  # noqa: F401 - handed on with the outcomes


class NodeError(Exception):
    """Base of every error a node raises at run time."""


class Skip(NodeError):
    """The action has nothing to do for this context (no email, capped, ...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ActionFailed(NodeError):
    """The remote side (or the network) refused or failed the call."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        response: Any = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.response = response


class PermanentError(ActionFailed):
    """A failure that will not heal by itself: bad credentials, 4xx validation, 410."""

    retryable = False


class RetryableError(ActionFailed):
    """Timeouts, connection errors, 429, 5xx: try again later (honouring ``retry_after``)."""

    retryable = True


class Deferred(NodeError):
    """Not now, but not a failure either: a rate limit says wait ``seconds`` and try again.

    Does not count as an attempt.
    """

    def __init__(self, seconds: float, reason: str = "rate limited"):
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason
