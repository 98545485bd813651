"""The flow index: which enabled flows an event fires, without evaluating every flow.

Loaded once per process and reloaded when the flow generation in Redis changes (every flow write
bumps it). Per trigger, the flows are filed in three levels:

1. **the event node's key** (``INDEX_KEY`` of the event module: a custom event's ``name``, a
   status change's ``to``): a bucket per folded name, plus the bucket of flows without one; an
   event looks at two buckets at most;
2. **the event node's params**: flows whose event nodes have equal params form a group; the
   group's ``matches`` (prepared by the event module's ``prepare`` when it has one) is called
   once per event — once for all 2,000 «new order» flows, whose event node has no params;
3. **one condition of each straight-line flow** (event → conditions / delays → action, the usual
   shape): the condition whose :class:`~plugin.nodes.operators.Access` is the most
   selective — equality / «any of» / «in» on a context field (city, UTM tag, status, event
   data, …) in a dict keyed by the folded value; numeric thresholds (price, orders count, event
   data > N) in sorted lists cut with ``bisect``. An event reads each field once and touches only
   the flows whose indexed condition holds; their other conditions are then checked. Flows with
   no indexable condition (``not_in``, ``contains``, IP ranges, dates, …) and flows that are not
   a straight line (branches, false paths) are checked in full.

Conditions are prepared once at load (``prepare`` of the condition module: lists split, names
folded, numbers parsed), and equal conditions (same type and params) share a slot, so an event
evaluates each distinct condition at most once, whatever the number of flows that use it.

An access is exact (the condition holds iff the value read is among the keys / past the
threshold), so the index returns exactly the flows that ``matches`` + ``Graph.reaches_action``
select: tests/engine/test_flow_index.py checks that on random flows and contexts.
"""

from __future__ import annotations

import gc
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
from plugin.nodes.operators import Access, fold, split_list, to_text
from plugin.registry import NodeType, Registry
from plugin.storage.models import Flow

log = logging.getLogger(__name__)

GENERATION_KEY = "automation:flows:generation"
Match = tuple[dict, dict, Graph, NodeType]  # (flow info, definition, graph, event node type)
_POS = attrgetter("pos")
EVENT = -1  # memo key of the event itself (slots are >= 0)


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
        self.event_slots: set[int] = set()

    def slot(self, test: Callable[[dict], bool], type_id: str, key: str | None) -> int:
        if key is not None and key in self.slot_of:
            return self.slot_of[key]
        self.tests.append(test)
        self.types.append(type_id)
        if key is not None:
            self.slot_of[key] = len(self.tests) - 1
        return len(self.tests) - 1

    def check(self, entries, ctx: dict, memo: dict, out: list) -> None:
        """Append the entries whose remaining tests all hold."""
        get = memo.get
        for entry in entries:
            for slot in entry.slots:
                ok = get(slot)
                if ok is None:
                    ok = self.verdict(slot, ctx, memo)
                if not ok:
                    break
            else:
                out.append(entry)

    def verdict(self, slot: int, ctx: dict, memo: dict) -> bool:
        """Evaluate a slot into ``memo``: an event node's ``matches`` on the event (``memo[EVENT]``;
        an exception propagates, as it always did), a condition on the context (an exception is a
        False verdict, logged)."""
        if slot in self.event_slots:
            ok = memo[slot] = bool(self.tests[slot](memo[EVENT]))
            return ok
        try:
            ok = bool(self.tests[slot](ctx))
        except Exception:  # a condition bug is a False verdict, logged
            log.exception("condition %s failed to evaluate", self.types[slot])
            ok = False
        memo[slot] = ok
        return ok


def _read(access_read: Callable[[dict], Any], ctx: dict) -> Any:
    try:
        return access_read(ctx)
    except Exception:  # noqa: BLE001 - the condition's own evaluation raises the same way: False
        return None


class _Part:
    """Entries found by one key or one threshold list: ``bare`` ones hold as soon as they are
    found (nothing left to check), ``tested`` ones have tests left (sorted by threshold)."""

    __slots__ = ("bare", "bare_at", "tested", "tested_at")

    def __init__(self):
        self.bare: list[_Entry] = []
        self.tested: list[_Entry] = []
        self.bare_at: list[float] = []  # thresholds of a threshold list, in the order of the entries
        self.tested_at: list[float] = []

    def add(self, entry: _Entry, threshold: float | None = None) -> None:
        (self.tested if entry.slots else self.bare).append(entry)
        if threshold is not None:
            (self.tested_at if entry.slots else self.bare_at).append(threshold)

    def seal(self) -> None:
        for entries, at in ((self.bare, self.bare_at), (self.tested, self.tested_at)):
            if at:
                order = sorted(range(len(at)), key=lambda i: (at[i], entries[i].pos))
                entries[:] = [entries[i] for i in order]
                at[:] = [at[i] for i in order]


class _Bucket:
    """The flows of one trigger under one event key (or without one), filed by the access of one
    of their conditions. An entry's first slot is its event node's verdict, unless the bucket
    has one event group only (then that verdict is checked once, before anything else)."""

    def __init__(self, tests: _Tests):
        self.tests = tests
        self.groups: dict[int, Callable[[dict], bool]] = {}  # event slot -> prepared matches
        self.single: int | None = None  # the event slot when there is only one
        self.keyed: dict[tuple, tuple[Callable, dict[Any, _Part]]] = {}
        self.ranges: dict[tuple, tuple[Callable, str, _Part]] = {}
        self.rest = _Part()
        self._flows: list[tuple[int, Match, int]] = []

    def add(self, pos: int, match: Match, event_slot: int, event_test: Callable[[dict], bool]) -> None:
        self.groups[event_slot] = event_test
        self._flows.append((pos, match, event_slot))

    def seal(self) -> None:
        """File every flow added (once, after the last ``add``)."""
        tests = self.tests
        self.single = next(iter(self.groups)) if len(self.groups) == 1 else None
        for pos, match, event_slot in self._flows:
            head = () if self.single is not None else (event_slot,)
            graph = match[2]
            if graph.chain is None:  # branches, false paths: walk the whole graph for this flow
                def walk(ctx: dict, graph: Graph = graph) -> bool:
                    return graph.reaches_action(ctx, cond_ctx=ctx)
                self.rest.add(_Entry(pos, match, (*head, tests.slot(walk, "graph", None))))
                continue
            chain = graph.chain
            best = min((c for c in chain if c.access is not None), key=lambda c: c.access.weight, default=None)
            slots = [tests.slot(c.test, c.type, c.key) for c in chain if c is not best]
            entry = _Entry(pos, match, (*head, *dict.fromkeys(slots)))
            if best is None:
                self.rest.add(entry)
                continue
            access: Access = best.access
            if access.op == "in":
                _read_fn, table = self.keyed.setdefault(access.source, (access.read, {}))
                for key in access.value:
                    table.setdefault(key, _Part()).add(entry)
            else:
                _read_fn, _op, part = self.ranges.setdefault(
                    (access.source, access.op), (access.read, access.op, _Part()))
                part.add(entry, access.value)
        for _read_fn, _op, part in self.ranges.values():
            part.seal()
        self._flows = []

    def collect(self, ctx: dict, memo: dict, out: list) -> None:
        check = self.tests.check
        for read, table in self.keyed.values():
            key = _read(read, ctx)
            if key is not None:
                part = table.get(key)
                if part is not None:
                    out += part.bare
                    check(part.tested, ctx, memo, out)
        for read, op, part in self.ranges.values():
            number = _read(read, ctx)
            if number is None:
                continue
            if op == "gt":  # threshold < number
                out += part.bare[: bisect_left(part.bare_at, number)]
                check(part.tested[: bisect_left(part.tested_at, number)], ctx, memo, out)
            elif op == "gte":  # threshold <= number
                out += part.bare[: bisect_right(part.bare_at, number)]
                check(part.tested[: bisect_right(part.tested_at, number)], ctx, memo, out)
            elif op == "lt":  # threshold > number
                out += part.bare[bisect_right(part.bare_at, number):]
                check(part.tested[bisect_right(part.tested_at, number):], ctx, memo, out)
            else:  # lte: threshold >= number
                out += part.bare[bisect_left(part.bare_at, number):]
                check(part.tested[bisect_left(part.tested_at, number):], ctx, memo, out)
        out += self.rest.bare
        check(self.rest.tested, ctx, memo, out)

    def entries(self):
        """Every entry once (unevaluated)."""
        seen = {}
        parts = [self.rest, *(p for _, table in self.keyed.values() for p in table.values()),
                 *(p for *_, p in self.ranges.values())]
        for part in parts:
            for entry in (*part.bare, *part.tested):
                seen[entry.pos] = entry
        return seen.values()


def _prepare_event(module, params: dict) -> Callable[[dict], bool]:
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
    """The buckets of one trigger: by the event node's key, and the one without a key."""

    def __init__(self, tests: _Tests):
        self.unkeyed = _Bucket(tests)
        self.keyed: dict[str, dict[str, _Bucket]] = {}  # data field -> folded key -> bucket

    def buckets_for(self, data: dict) -> list[_Bucket]:
        buckets = [self.unkeyed]
        for field, by_key in self.keyed.items():
            value = data.get(field)
            if value is not None:
                bucket = by_key.get(fold(to_text(value).strip()))
                if bucket is not None:
                    buckets.append(bucket)
        return buckets

    def all_buckets(self) -> list[_Bucket]:
        return [self.unkeyed, *(b for by_key in self.keyed.values() for b in by_key.values())]




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
        return any(test(event) for bucket in table.buckets_for(data) for test in bucket.groups.values())

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
        memo: dict = {EVENT: {"type": trigger, "data": data}}  # and slot -> verdict on this event
        found: list[_Entry] = []
        for bucket in table.buckets_for(data):
            if bucket.single is not None and not bucket.tests.verdict(bucket.single, cond_ctx, memo):
                continue
            bucket.collect(cond_ctx, memo, found)
        found.sort(key=_POS)
        return [entry.match for entry in found]

    def candidates(self, session: Session, trigger: str, data: dict, redis=None, *, fresh: bool = False):
        """The flows whose event key lets them match, ``(info, definition, graph)``, unevaluated
        (what the index returned before it filed conditions; the N-day dispatch uses it)."""
        if not fresh:
            self.refresh(session, redis)
        table = self._triggers.get(trigger)
        if table is None:
            return []
        entries = [entry for bucket in table.buckets_for(data) for entry in bucket.entries()]
        return [entry.match[:3] for entry in sorted(entries, key=_POS)]

    # -- loading ----------------------------------------------------------------------------

    def _load(self, session: Session) -> None:
        rows = session.execute(
            select(Flow.id, Flow.name, Flow.version, Flow.event_type, Flow.definition, Flow.enabled_at)
            .where(Flow.enabled.is_(True))
        ).all()
        self.build(rows)

    def build(self, rows) -> None:
        """File these flows (rows with id, name, version, event_type, definition, enabled_at).

        The cyclic garbage collector is paused meanwhile: the build allocates hundreds of
        thousands of small objects, all kept, and collections during it cost 60 % of its time."""
        paused = gc.isenabled()
        gc.disable()
        try:
            self._build(rows)
        finally:
            if paused:
                gc.enable()

    def _build(self, rows) -> None:
        events = {n.type: n for n in self.registry.of_kind("event")}
        by_trigger: dict[str, list] = {}
        triggers: dict[str, _Trigger] = {}
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
            group_key = "event:" + spec.type + json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
            event_slot = tests.slot_of.get(group_key)
            event_test = None
            if event_slot is None:
                event_test = _prepare_event(spec.module, params)
                event_slot = tests.slot(event_test, spec.type, group_key)
                tests.event_slots.add(event_slot)
            event_test = tests.tests[event_slot]
            match = (info, row.definition, graph, spec)
            for trigger in node_type.module.TRIGGERS:
                by_trigger.setdefault(trigger, []).append((info, row.definition, graph))
                table = triggers.get(trigger) or triggers.setdefault(trigger, _Trigger(tests))
                if keys:
                    by_key = table.keyed.setdefault(field, {})
                    for key in keys:
                        (by_key.get(key) or by_key.setdefault(key, _Bucket(tests))).add(
                            pos, match, event_slot, event_test)
                else:
                    table.unkeyed.add(pos, match, event_slot, event_test)
        for table in triggers.values():
            for bucket in table.all_buckets():
                bucket.seal()
        self.by_trigger = by_trigger
        self._triggers = triggers
