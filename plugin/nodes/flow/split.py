"""Flow node «A/B-тест»: one of 2–5 weighted variants, sticky per client (or order); branch = variant key."""

from __future__ import annotations

import hashlib
from typing import Any

ANSWER = "variant"  # what POST /api/v1/nodes/flow.split/execute answers (manifest.py)


def branches(params: dict[str, Any]) -> list[str]:
    """The branch names an outgoing edge may take: the variant keys, in order."""
    variants = params.get("variants")
    if not isinstance(variants, list):
        return []
    return [v["key"] for v in variants if isinstance(v, dict) and isinstance(v.get("key"), str)]


def subject(params: dict[str, Any], context: dict[str, Any]) -> str | None:
    """Whom the variant sticks to: ``client:<external id>`` (the client's, else the order's or
    the visit's client id) or ``order:<id>``; None when the context has none."""
    if params.get("sticky", "client") == "order":
        order_id = (context.get("order") or {}).get("id")
        return None if order_id in (None, "") else f"order:{order_id}"
    for section, key in (("client", "external_id"), ("order", "client_id"), ("visit", "client_id")):
        value = (context.get(section) or {}).get(key)
        if value not in (None, ""):
            return f"client:{value}"
    return None


def variant_of(params: dict[str, Any], seed: str) -> str:
    """The variant at the point ``seed`` hashes to, in [0, 1), over the cumulative weights. The
    point does not depend on the weights: changing them moves only the clients between the old
    and the new boundary, and each client keeps its variant across restarts (no random state)."""
    variants = [v for v in params.get("variants") or [] if isinstance(v, dict)]
    weights = [float(v.get("weight") or 0) for v in variants]
    total = sum(w for w in weights if w > 0)
    if not variants or total <= 0:
        raise ValueError(f"a split needs variants with positive weights, got {params.get('variants')!r}")
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * total
    reached = 0.0
    for variant, weight in zip(variants, weights, strict=True):
        if weight <= 0:
            continue
        reached += weight
        if point < reached:
            return variant["key"]
    return next(v["key"] for v, w in zip(variants, weights, strict=True) if w > 0)  # rounding at the top


def choose(params: dict[str, Any], context: dict[str, Any], *, salt: str, fallback: str) -> dict[str, str]:
    """The step's output: ``{"variant", "subject"}``. ``salt`` names the split (its flow and node
    ids: stable across edits of the flow, different between splits); ``fallback`` is the subject
    without a client or order (the run, ``run:<id>``)."""
    who = subject(params, context) or fallback
    return {"variant": variant_of(params, f"{salt}\x1f{who}"), "subject": who}
