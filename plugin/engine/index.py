"""The flow index: which enabled flows an event fires, without evaluating every flow.

Loaded once per process and reloaded when the flow generation in Redis changes (every flow write
bumps it). Per trigger, the flows are filed in three levels:

1. **the event node's key** (``INDEX_KEY`` of the event module: a custom event's ``name``, a
   status change's ``to``): flows filed under each folded name, plus those without one;
2. **the event node's params**: flows whose event nodes have equal params form a group, and the
   module's ``matches`` is called once per group and event (once for all 2,000 «new order» flows);
3. **one condition of each straight-line flow** (event → conditions → action, the usual shape):
   the condition whose :class:`~plugin.nodes.conditions._operators.Access` is the most selective —
   equality / «any of» / «in» on a context field (city, UTM tag, status, event data, …) in a dict
   keyed by the folded value; numeric thresholds (price, orders count, event data > N) in sorted
   lists searched with ``bisect``. An event reads each field once and touches only the flows whose
   indexed condition holds; their other conditions are then evaluated (prepared once, at load).
   Flows with no indexable condition (``not_in``, ``contains``, IP ranges, dates, …) and flows
   that are not a straight line (branches, false paths) are evaluated in full, as before.

An access is exact (the condition holds iff the value read is in the keys / past the threshold),
so the index returns exactly the flows that ``matches`` + ``Graph.reaches_action`` select:
tests/engine/test_flow_index.py checks that on random flows and contexts.
"""

from __future__ import annotations

import json
import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.engine.runner import Graph
from plugin.nodes.conditions._operators import Access, fold, split_list, to_text
from plugin.registry import NodeType, Registry
from plugin.storage.models import Flow

log = logging.getLogger(__name__)

GENERATION_KEY = "automation:flows:generation"
Match = tuple[dict, dict, Graph, NodeType]  # (flow info, definition, graph, event node type)
_POS = attrgetter("pos")


class _Entry:
    """One flow in one group: what it returns, and the tests left once it is found (slots)."""

    __slots__ = ("match", "pos", "slots")

    def __init__(self, pos: int, match: Match, slots: tuple[int, ...]):
        self.pos, self.match, self.slots = pos, match, slots


class _Tests:
    """Every distinct condition of the loaded flows, by slot: equal conditions (same type and
    params) share one slot, so an event evaluates each at most once (``memo``: slot → verdict)."""

    def __init__(self):
        self.tests: list[Callable[[dict], bool]] = []
        self.types: list[str] = []
        self.slot_of: dict[str, int] = {}

    def slot(self, test: Callable[[dict], bool], type_id: str, key: str | None) -> int:
        if key is not None and key in self.slot_of:
            return self.slot_of[key]
        self.tests.append(test)
        self.types.append(type_id)
        if key is not None:
            self.slot_of[key] = len(self.tests) - 1
        return len(self.tests) - 1

    def check(self, entries, ctx: dict, memo: dict, out: list) -> None:
        """Append the entries whose remaining tests all hold (a raising test is a False verdict)."""
        tests = self.tests
        get = memo.get
        for entry in entries:
            for slot in entry.slots:
                ok = get(slot)
                if ok is None:
                    try:
                        ok = bool(tests[slot](ctx))
                    except Exception:  # a condition bug is a False verdict, logged
                        log.exception("condition %s failed to evaluate", self.types[slot])
                        ok = False
                    memo[slot] = ok
                if not ok:
                    break
            else:
                out.append(entry)


def _read(access_read: Callable[[dict], Any], ctx: dict) -> Any:
    try:
        return access_read(ctx)
    except Exception:  # noqa: BLE001 - the condition's own evaluation raises the same way: False
        return None


class _Conditions:
    """The flows of one group, filed by the access of one of their conditions."""

    def __init__(self, tests: _Tests):
        self.tests = tests
        self.keyed: dict[tuple, tuple[Callable, dict[Any, list[_Entry]]]] = {}
        self.ranges: dict[tuple, tuple[Callable, str, list, list[_Entry]]] = {}
        self.rest: list[_Entry] = []
        self._pending: dict[tuple, list[tuple[float, _Entry]]] = {}

    def add(self, pos: int, match: Match) -> None:
        graph = match[2]
        if graph.chain is None:  # branches, false paths: walk the whole graph for this flow
            def walk(ctx: dict, graph: Graph = graph) -> bool:
                return graph.reaches_action(ctx, cond_ctx=ctx)
            self.rest.append(_Entry(pos, match, (self.tests.slot(walk, "graph", None),)))
            return
        chain = graph.chain
        best = min((c for c in chain if c.access is not None), key=lambda c: c.access.weight, default=None)
        others = [c for c in chain if c is not best]
        entry = _Entry(pos, match, tuple(self.tests.slot(c.test, c.type, c.key) for c in others))
        if best is None:
            self.rest.append(entry)
            return
        access: Access = best.access
        if access.op == "in":
            _read_fn, table = self.keyed.setdefault(access.source, (access.read, {}))
            for key in access.value:
                table.setdefault(key, []).append(entry)
        else:
            self.ranges.setdefault((access.source, access.op), (access.read, access.op, [], []))
            self._pending.setdefault((access.source, access.op), []).append((access.value, entry))

    def seal(self) -> None:
        """Sort the threshold lists (once, after the last ``add``)."""
        for key, items in self._pending.items():
            items.sort(key=lambda item: (item[0], item[1].pos))
            _read_fn, _op, thresholds, entries = self.ranges[key]
            thresholds[:] = [value for value, _ in items]
            entries[:] = [entry for _, entry in items]
        self._pending = {}

    def collect(self, ctx: dict, memo: dict, out: list) -> None:
        check = self.tests.check
        for read, table in self.keyed.values():
            key = _read(read, ctx)
            if key is not None:
                hits = table.get(key)
                if hits:
                    check(hits, ctx, memo, out)
        for read, op, thresholds, entries in self.ranges.values():
            number = _read(read, ctx)
            if number is None:
                continue
            if op == "gt":  # threshold < number
                check(entries[: bisect_left(thresholds, number)], ctx, memo, out)
            elif op == "gte":  # threshold <= number
                check(entries[: bisect_right(thresholds, number)], ctx, memo, out)
            elif op == "lt":  # threshold > number
                check(entries[bisect_right(thresholds, number):], ctx, memo, out)
            else:  # lte: threshold >= number
                check(entries[bisect_left(thresholds, number):], ctx, memo, out)
        check(self.rest, ctx, memo, out)


class _Group:
    """Flows of one trigger whose event nodes are of one type with equal params."""

    def __init__(self, spec: NodeType, params: dict, tests: _Tests):
        self.spec, self.params = spec, params
        self.matches = self._prepare(spec.module, params)
        self.conditions = _Conditions(tests)

    @staticmethod
    def _prepare(module, params: dict) -> Callable[[dict], bool]:
        """``matches(params, ·)``: the module's ``prepare`` when it has one (params parsed once)."""
        prepare = getattr(module, "prepare", None)
        if prepare is not None:
            try:
                test = prepare(params)
            except Exception:  # noqa: BLE001 - params it cannot prepare: matches decides, as before
                test = None
            if test is not None:
                return test
        matches = module.matches
        return lambda event: matches(params, event)


class _Trigger:
    """The groups of one trigger: by the event node's key, and those without a key."""

    def __init__(self):
        self.unkeyed: list[_Group] = []
        self.keyed: dict[str, dict[str, list[_Group]]] = {}  # data field -> folded key -> groups

    def groups_for(self, data: dict) -> list[_Group]:
        if not self.keyed:
            return self.unkeyed
        groups = list(self.unkeyed)
        for field, by_key in self.keyed.items():
            value = data.get(field)
            if value is not None:
                groups += by_key.get(fold(to_text(value).strip()), ())
        return groups


class FlowIndex:
    """Enabled flows by trigger, event key, event params and an indexed condition (see module doc).

    The public calls: :meth:`matching` (the flows an event fires), :meth:`may_fire` (whether any
    flow's event node matches, i.e. whether the event's context is needed at all) and
    :meth:`refresh` (the Redis generation check; ``fresh=True`` on the others skips it, for a
    batch that refreshed once).
    """

    def __init__(self, registry: Registry):
        self.registry = registry
        self.generation: bytes | None = None
        self.checked_at = 0.0
        self.by_trigger: dict[str, list[tuple[dict, dict, Graph]]] = {}  # every flow of a trigger
        self._triggers: dict[str, _Trigger] = {}

    # -- freshness --------------------------------------------------------------------------

    def refresh(self, session: Session, redis=None) -> None:
        """Reload when a flow was written since (one Redis GET); without Redis, every 2 s."""
        generation = None
        if redis is not None:
            try:
                generation = redis.get(GENERATION_KEY) or b"0"
            except Exception:  # noqa: BLE001 - Redis down: fall back to a short time-based refresh
                generation = None
        stale = generation is None and time.monotonic() - self.checked_at > 2.0
        if generation != self.generation or stale or not self.checked_at:
            self._load(session)
            self.generation = generation
            self.checked_at = time.monotonic()

    def flows_for(self, session: Session, trigger: str, redis=None) -> list[tuple[dict, dict, Graph]]:
        """Every enabled flow of a trigger, ``(info, definition, graph)`` (after a refresh)."""
        self.refresh(session, redis)
        return self.by_trigger.get(trigger, [])

    # -- lookups ----------------------------------------------------------------------------

    def may_fire(self, session: Session, trigger: str, data: dict, redis=None, *, fresh: bool = False) -> bool:
        """Whether the event node of any flow matches this event (its conditions not checked)."""
        if not fresh:
            self.refresh(session, redis)
        table = self._triggers.get(trigger)
        if table is None:
            return False
        event = {"type": trigger, "data": data}
        return any(group.matches(event) for group in table.groups_for(data))

    def matching(
        self, session: Session, trigger: str, data: dict, cond_ctx: dict, redis=None, *, fresh: bool = False
    ) -> list[Match]:
        """The flows this event fires: event node matches and the conditions reach an action.

        ``cond_ctx``: the event's context as conditions see it (``context.for_conditions``).
        Returns ``(info, definition, graph, event node type)`` in load order.
        """
        if not fresh:
            self.refresh(session, redis)
        table = self._triggers.get(trigger)
        if table is None:
            return []
        event = {"type": trigger, "data": data}
        found: list[_Entry] = []
        memo: dict[int, bool] = {}
        for group in table.groups_for(data):
            if group.matches(event):
                group.conditions.collect(cond_ctx, memo, found)
        found.sort(key=_POS)
        return [entry.match for entry in found]

    def candidates(self, session: Session, trigger: str, data: dict, redis=None, *, fresh: bool = False):
        """The flows whose event key lets them match, ``(info, definition, graph)``, unevaluated
        (the index before conditions were indexed; kept for callers outside the engine)."""
        if not fresh:
            self.refresh(session, redis)
        table = self._triggers.get(trigger)
        if table is None:
            return []
        entries = {}
        for group in table.groups_for(data):
            conditions = group.conditions
            for entry in conditions.rest:
                entries[entry.pos] = entry
            for _, by_key in conditions.keyed.values():
                for hits in by_key.values():
                    entries.update((e.pos, e) for e in hits)
            for *_, ranged in conditions.ranges.values():
                entries.update((e.pos, e) for e in ranged)
        return [entries[pos].match[:3] for pos in sorted(entries)]

    # -- loading ----------------------------------------------------------------------------

    def _load(self, session: Session) -> None:
        rows = session.execute(
            select(Flow.id, Flow.name, Flow.version, Flow.event_type, Flow.definition, Flow.enabled_at)
            .where(Flow.enabled.is_(True))
        ).all()
        self.build(rows)

    def build(self, rows) -> None:
        """File these flows (rows with id, name, version, event_type, definition, enabled_at)."""
        events = {n.type: n for n in self.registry.of_kind("event")}
        by_trigger: dict[str, list] = {}
        triggers: dict[str, _Trigger] = {}
        groups: dict[tuple[str, str, str], _Group] = {}
        tests = _Tests()
        for pos, row in enumerate(rows):
            node_type = events.get(row.event_type)
            if node_type is None:
                continue
            info = {
                "id": row.id, "name": row.name, "version": row.version, "event_type": row.event_type,
                "enabled_at": row.enabled_at,
            }
            graph = Graph(row.definition, self.registry)
            if graph.event_id is None:
                log.warning("flow %s has no event node; it cannot fire", row.id)
                continue
            event_node = graph.nodes[graph.event_id]
            spec = self.registry[event_node["type"]]
            params = event_node.get("params") or {}
            field = getattr(node_type.module, "INDEX_KEY", None)
            keys = {fold(k) for k in split_list(params.get(field))} if field else set()
            canonical = json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
            for trigger in node_type.module.TRIGGERS:
                by_trigger.setdefault(trigger, []).append((info, row.definition, graph))
                group = groups.get((trigger, spec.type, canonical))
                if group is None:
                    group = groups[trigger, spec.type, canonical] = _Group(spec, params, tests)
                    table = triggers.setdefault(trigger, _Trigger())
                    if keys:
                        by_key = table.keyed.setdefault(field, {})
                        for key in keys:
                            by_key.setdefault(key, []).append(group)
                    else:
                        table.unkeyed.append(group)
                group.conditions.add(pos, (info, row.definition, graph, spec))
        for group in groups.values():
            group.conditions.seal()
        self.by_trigger = by_trigger
        self._triggers = triggers
