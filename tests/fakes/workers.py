"""Separate worker processes for the cross-process limit tests: each opens its own Redis connection."""

from __future__ import annotations

import importlib
from typing import Any

import redis
import requests

from plugin.nodes._services import Services, Settings
from plugin.nodes.base import ActionCall, Deferred, NodeError, Skip


def run_action(
    redis_url: str,
    settings: dict[str, Any],
    action: str,
    params: dict[str, Any],
    context: dict[str, Any],
    run_prefix: str,
    count: int,
    barrier: Any,
    results: Any,
) -> None:
    """Execute ``plugin.nodes.actions.<action>`` ``count`` times (one run each) and report every outcome."""
    module = importlib.import_module(f"plugin.nodes.actions.{action}")
    client = redis.Redis.from_url(redis_url)
    services = Services(settings=Settings(**settings), redis=client, _http=requests.Session())
    outcomes = []
    barrier.wait(timeout=30)
    for i in range(count):
        call = ActionCall(
            params=params,
            context=context,
            run_id=f"{run_prefix}-{i}",
            node_id="n1",
            flow={"id": "1", "name": "f"},
            event_type="order_created",
            services=services,
        )
        try:
            module.execute(call)
            outcomes.append("ok")
        except Skip:
            outcomes.append("skipped")
        except Deferred:
            outcomes.append("deferred")
        except NodeError as exc:
            outcomes.append(f"error: {exc}")
    client.close()
    results.put(outcomes)
