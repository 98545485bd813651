"""The ingestion endpoints' rate limit per token (the limiter: :mod:`plugin.ingest.ratelimit`)."""

from __future__ import annotations

import logging
import math

from flask import Flask, current_app, g, request

from plugin.errors import TooManyRequests
from plugin.ingest.ratelimit import BLUEPRINTS, RATE_TAKEN, RateLimiter
from plugin.messages import msg

log = logging.getLogger(__name__)


def install_rate_limit(app: Flask) -> None:
    """Limit the ingestion blueprints per ``g.identity`` (set by the auth hook, which runs first)."""
    runtime = app.extensions["automation"]
    app.extensions["ingest_rate_limiter"] = RateLimiter(
        runtime.redis, float(app.config["INGEST_RATE"]), int(app.config["INGEST_BURST"])
    )

    @app.before_request
    def limit_ingestion():
        if request.blueprint not in BLUEPRINTS or request.method == "OPTIONS":
            return
        identity = getattr(g, "identity", None) or "anonymous"
        limiter = current_app.extensions["ingest_rate_limiter"]
        try:
            if RATE_TAKEN in request.environ:
                wait = request.environ[RATE_TAKEN]
            else:
                wait = limiter.take(identity)
        except Exception as exc:  # noqa: BLE001 - Redis down: accept rather than refuse data
            log.warning("ingestion rate limit not checked: %s", type(exc).__name__)
            return
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                msg(
                    "rate.ingest",
                    f"more than {limiter.rate:g} ingestion requests per second for this token; "
                    f"try again in {seconds} s",
                    rate=f"{limiter.rate:g}",
                    seconds=seconds,
                ),
                headers={"Retry-After": str(seconds)},
            )
        return
