"""The tables of the flow index (:mod:`plugin.engine.index`): the distinct conditions of the loaded
flows by slot (:class:`Tests`), and per trigger the buckets of flows by event key
(:class:`Trigger`), each filing its flows by the access of one condition (:class:`Bucket`)."""

from __future__ import annotations

import hashlib
import json
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from plugin.engine.graph import Graph
from plugin.nodes.operators import Access, fold, to_text
from plugin.registry import NodeType

log = logging.getLogger(__name__)

Match = tuple[dict, dict, Graph, NodeType]  # (flow info, definition, graph, event node type)
EVENT = -1  # memo key of the event itself (slots are >= 0)


class Entry:
    """One flow in one group: what it returns, and the tests left once it is found (slots)."""

    __slots__ = ("match", "pos", "slots")

    def __init__(self, pos: int, match: Match, slots: tuple[int, ...]):
        self.pos, self.match, self.slots = pos, match, slots


class Tests:
    """Every distinct condition of the loaded flows, by slot: equal conditions (same type and
    params) share one slot, so an event evaluates each at most once (``memo``: slot → verdict)."""

    def __init__(self):
        self.tests: list[Callable[[dict], bool]] = []
        self.types: list[str] = []
        self.slot_of: dict[str, int] = {}
        self.event_slots: set[int] = set()
        self.event_keys: dict[int, str] = {}  # event slot -> its key (type and params)

    def slot(self, test: Callable[[dict], bool], type_id: str, key: str | None) -> int:
        if key is not None and key in self.slot_of:
            return self.slot_of[key]
        self.tests.append(test)
        self.types.append(type_id)
        if key is not None:
            self.slot_of[key] = len(self.tests) - 1
        return len(self.tests) - 1

    def event_slot(self, spec: NodeType, params: dict) -> int:
        """The slot of an event node's ``matches``: one per event type and params (prepared once)."""
        key = "event:" + spec.type + json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
        slot = self.slot_of.get(key)
        if slot is None:
            slot = self.slot(prepare_event(spec.module, params), spec.type, key)
            self.event_slots.add(slot)
            self.event_keys[slot] = key
        return slot

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


class Part:
    """Entries found by one key or one threshold list: ``bare`` ones hold as soon as they are
    found (nothing left to check), ``tested`` ones have tests left (sorted by threshold)."""

    __slots__ = ("bare", "bare_at", "tested", "tested_at")

    def __init__(self):
        self.bare: list[Entry] = []
        self.tested: list[Entry] = []
        self.bare_at: list[float] = []  # thresholds of a threshold list, in the order of the entries
        self.tested_at: list[float] = []

    def add(self, entry: Entry, threshold: float | None = None) -> None:
        (self.tested if entry.slots else self.bare).append(entry)
        if threshold is not None:
            (self.tested_at if entry.slots else self.bare_at).append(threshold)

    def seal(self) -> None:
        for entries, at in ((self.bare, self.bare_at), (self.tested, self.tested_at)):
            if at:
                order = sorted(range(len(at)), key=lambda i: (at[i], entries[i].pos))
                entries[:] = [entries[i] for i in order]
                at[:] = [at[i] for i in order]


class Bucket:
    """The flows of one trigger under one event key (or without one), filed by the access of one
    of their conditions. An entry's first slot is its event node's verdict, unless the bucket
    has one event group only (then that verdict is checked once, before anything else)."""

    def __init__(self, tests: Tests):
        self.tests = tests
        self.groups: dict[int, Callable[[dict], bool]] = {}  # event slot -> prepared matches
        self.single: int | None = None  # the event slot when there is only one
        self.keyed: dict[tuple, tuple[Callable, dict[Any, Part]]] = {}
        self.ranges: dict[tuple, tuple[Callable, str, Part]] = {}
        self.rest = Part()
        self._flows: list[tuple[int, Match, int]] = []
        # event slot -> (group id, flow ids): the flows that see an event this slot matches,
        # counted once per group in the analytics (see stats_models.py)
        self.members: dict[int, tuple[str, list[str]]] = {}

    def add(self, pos: int, match: Match, event_slot: int, event_test: Callable[[dict], bool]) -> None:
        self.groups[event_slot] = event_test
        self._flows.append((pos, match, event_slot))

    def seal(self) -> None:
        """File every flow added (once, after the last ``add``)."""
        tests = self.tests
        self.single = next(iter(self.groups)) if len(self.groups) == 1 else None
        flows_of: dict[int, list[str]] = {}
        for _pos, match, event_slot in self._flows:
            flows_of.setdefault(event_slot, []).append(match[0]["id"])
        for event_slot, found in flows_of.items():
            ids = sorted(set(found))
            digest = hashlib.sha1(
                f"{tests.event_keys[event_slot]}\n{','.join(ids)}".encode(), usedforsecurity=False
            )
            self.members[event_slot] = (digest.hexdigest(), ids)
        for pos, match, event_slot in self._flows:
            head = () if self.single is not None else (event_slot,)
            graph = match[2]
            if graph.chain is None:  # branches, false paths: walk the whole graph for this flow

                def walk(ctx: dict, graph: Graph = graph) -> bool:
                    return graph.reaches_action(ctx, cond_ctx=ctx)

                self.rest.add(Entry(pos, match, (*head, tests.slot(walk, "graph", None))))
                continue
            chain = graph.chain
            indexed = (c for c in chain if c.access is not None)
            best = min(indexed, key=lambda c: c.access.weight, default=None)
            slots = [tests.slot(c.test, c.type, c.key) for c in chain if c is not best]
            entry = Entry(pos, match, (*head, *dict.fromkeys(slots)))
            if best is None:
                self.rest.add(entry)
            else:
                self._file(entry, best.access)
        for _read_fn, _op, part in self.ranges.values():
            part.seal()
        self._flows = []

    def _file(self, entry: Entry, access: Access) -> None:
        """File an entry by the access of its indexed condition: under each key, or by threshold."""
        if access.op == "in":
            _read_fn, table = self.keyed.setdefault(access.source, (access.read, {}))
            for key in access.value:
                table.setdefault(key, Part()).add(entry)
        else:
            _read_fn, _op, part = self.ranges.setdefault(
                (access.source, access.op), (access.read, access.op, Part())
            )
            part.add(entry, access.value)

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
                out += part.bare[bisect_right(part.bare_at, number) :]
                check(part.tested[bisect_right(part.tested_at, number) :], ctx, memo, out)
            else:  # lte: threshold >= number
                out += part.bare[bisect_left(part.bare_at, number) :]
                check(part.tested[bisect_left(part.tested_at, number) :], ctx, memo, out)
        out += self.rest.bare
        check(self.rest.tested, ctx, memo, out)

    def entries(self):
        """Every entry once (unevaluated)."""
        seen = {}
        parts = [
            self.rest,
            *(p for _, table in self.keyed.values() for p in table.values()),
            *(p for *_, p in self.ranges.values()),
        ]
        for part in parts:
            for entry in (*part.bare, *part.tested):
                seen[entry.pos] = entry
        return seen.values()


def prepare_event(module, params: dict) -> Callable[[dict], bool]:
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


class Trigger:
    """The buckets of one trigger: by the event node's key, and the one without a key."""

    def __init__(self, tests: Tests):
        self.tests = tests
        self.unkeyed = Bucket(tests)
        self.keyed: dict[str, dict[str, Bucket]] = {}  # data field -> folded key -> bucket

    def add(self, field: str | None, keys: set[str], pos: int, match: Match, event_slot: int) -> None:
        """File a flow under each of its event keys (the folded values of the event node's param
        ``field``), or with the flows without one."""
        event_test = self.tests.tests[event_slot]
        if not keys:
            self.unkeyed.add(pos, match, event_slot, event_test)
            return
        by_key = self.keyed.setdefault(field, {})
        for key in keys:
            bucket = by_key.get(key) or by_key.setdefault(key, Bucket(self.tests))
            bucket.add(pos, match, event_slot, event_test)

    def buckets_for(self, data: dict) -> list[Bucket]:
        buckets = [self.unkeyed]
        for field, by_key in self.keyed.items():
            value = data.get(field)
            if value is not None:
                bucket = by_key.get(fold(to_text(value).strip()))
                if bucket is not None:
                    buckets.append(bucket)
        return buckets

    def all_buckets(self) -> list[Bucket]:
        return [self.unkeyed, *(b for by_key in self.keyed.values() for b in by_key.values())]
