"""Condition «Группа условий»: all / any / none of a list of conditions, nestable to depth 3."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

TYPE = "condition.group"
MODES = ("all", "any", "none")
MAX_DEPTH = 3  # a group in a group in a group; the validator reports a fourth level
EVENTS = None  # each inner condition's own events are checked by the validator (flow_checks)

Test = Callable[[dict[str, Any]], bool]


def _module(type_id: Any):
    """The module of an inner condition type, ``condition.<stem>`` → ``plugin.nodes.conditions.<stem>``
    (the registry's own pairing; imported here directly, so nodes never import the registry)."""
    text = type_id if isinstance(type_id, str) else ""
    stem = text.removeprefix("condition.")
    if not text.startswith("condition.") or not stem.isidentifier() or stem.startswith("_"):
        raise ValueError(f"unknown condition type {type_id!r}")
    try:
        return importlib.import_module(f"plugin.nodes.conditions.{stem}")
    except ImportError:
        raise ValueError(f"unknown condition type {type_id!r}") from None


def _parts(params: dict[str, Any]) -> tuple[str, list[dict]]:
    mode = params.get("mode", "all")
    if mode not in MODES:
        raise ValueError(f"unknown group mode {mode!r}, expected one of {MODES}")
    items = params.get("conditions")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"conditions must be a list of {{type, params}} objects, got {items!r}")
    return mode, items


def combine(mode: str, verdicts) -> bool:
    """The group's verdict from its items' (an iterable: ``all`` and ``any`` stop early)."""
    if mode == "all":
        return all(verdicts)
    if mode == "any":
        return any(verdicts)
    return not any(verdicts)


def _guarded(test: Test, type_id: str) -> Test:
    """An inner condition that raises is a False verdict, logged (as a node's own would be)."""

    def run(context: dict[str, Any]) -> bool:
        try:
            return bool(test(context))
        except Exception:  # a condition bug is a False verdict, logged
            log.exception("condition %s in a group failed to evaluate", type_id)
            return False

    return run


def _inner_test(item: dict) -> Test:
    module = _module(item.get("type"))
    params = item.get("params") or {}
    try:
        test = module.prepare(params)
    except Exception:  # noqa: BLE001 - params it cannot prepare: evaluate decides (and raises) per context
        return _guarded(lambda context: module.evaluate(params, context), item.get("type"))
    return _guarded(test, item.get("type"))


def prepare(params: dict[str, Any]) -> Test:
    """``evaluate(params, ·)`` with every inner condition prepared once; stops at the first
    verdict that decides the group."""
    mode, items = _parts(params)
    tests = [_inner_test(item) for item in items]
    return lambda context: combine(mode, (test(context) for test in tests))


def explain(params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The verdict with every inner one, for the run's trace: ``{"verdict", "mode", "items":
    [{"type", "verdict"} | {"type": "condition.group", "verdict", "mode", "items"}]}``. Every
    item is evaluated (none skipped), so the trace shows them all."""
    mode, items = _parts(params)
    out = []
    for item in items:
        type_id, inner = item.get("type"), item.get("params") or {}
        if type_id == TYPE:
            out.append({"type": TYPE, **_explain_inner(inner, context)})
            continue
        verdict = _guarded(lambda ctx, t=type_id, p=inner: _module(t).evaluate(p, ctx), type_id)(context)
        out.append({"type": type_id, "verdict": verdict})
    return {"verdict": combine(mode, [i["verdict"] for i in out]), "mode": mode, "items": out}


def _explain_inner(params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    try:
        return explain(params, context)
    except Exception:  # a malformed inner group is a False verdict, logged
        log.exception("condition group in a group failed to evaluate")
        return {"verdict": False, "mode": params.get("mode"), "items": []}


def evaluate(params: dict[str, Any], context: dict[str, Any]) -> bool:
    return explain(params, context)["verdict"]


def access(params: dict[str, Any]) -> None:
    """Never indexed: one inner condition's key would not be exact for the group (the flow index
    checks such a flow in full)."""
    return
