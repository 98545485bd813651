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
import logging
import time
from operator import attrgetter

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.engine.graph import Graph
from plugin.engine.index_tables import EVENT, Entry, Match, Tests, Trigger
from plugin.nodes.operators import fold, split_list
from plugin.registry import Registry
from plugin.storage.models import Flow

log = logging.getLogger(__name__)

GENERATION_KEY = "automation:flows:generation"
_POS = attrgetter("pos")


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
        self._triggers: dict[str, Trigger] = {}
        self.recorded: set[str] = set()  # stats groups whose members are stored (kept across loads)

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

    def may_fire(
        self, session: Session, trigger: str, data: dict, redis=None, *, fresh: bool = False
    ) -> bool:
        """Whether the event node of any flow matches this event (its conditions not checked)."""
        if not fresh:
            self.refresh(session, redis)
        table = self._triggers.get(trigger)
        if table is None:
            return False
        event = {"type": trigger, "data": data}
        return any(test(event) for bucket in table.buckets_for(data) for test in bucket.groups.values())

    def matching(
        self,
        session: Session,
        trigger: str,
        data: dict,
        cond_ctx: dict,
        redis=None,
        *,
        fresh: bool = False,
        seen: list | None = None,
    ) -> list[Match]:
        """The flows this event fires: event node matches and the conditions reach an action.

        ``cond_ctx``: the event's context as conditions see it (``context.for_conditions``).
        Returns ``(info, definition, graph, event node type)`` in load order. With ``seen``, the
        groups of flows whose event node matches, fired or not, are appended to it as
        ``(group id, flow ids)`` (the analytics' ``not_triggered``: see stats_models.py).
        """
        if not fresh:
            self.refresh(session, redis)
        table = self._triggers.get(trigger)
        if table is None:
            return []
        memo: dict = {EVENT: {"type": trigger, "data": data}}  # and slot -> verdict on this event
        found: list[Entry] = []
        buckets = table.buckets_for(data)
        for bucket in buckets:
            if bucket.single is not None and not bucket.tests.verdict(bucket.single, cond_ctx, memo):
                continue
            bucket.collect(cond_ctx, memo, found)
        if seen is not None:
            for bucket in buckets:
                verdict = bucket.tests.verdict
                seen += [
                    group
                    for slot, group in bucket.members.items()
                    if memo.get(slot) or (slot not in memo and verdict(slot, cond_ctx, memo))
                ]
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
            select(Flow.id, Flow.name, Flow.version, Flow.event_type, Flow.definition, Flow.enabled_at).where(
                Flow.enabled.is_(True)
            )
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
        triggers: dict[str, Trigger] = {}
        tests = Tests()
        for pos, row in enumerate(rows):
            node_type = events.get(row.event_type)
            if node_type is None:
                continue
            info = {
                "id": row.id,
                "name": row.name,
                "version": row.version,
                "event_type": row.event_type,
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
            event_slot = tests.event_slot(spec, params)
            match = (info, row.definition, graph, spec)
            for trigger in node_type.module.TRIGGERS:
                by_trigger.setdefault(trigger, []).append((info, row.definition, graph))
                table = triggers.get(trigger) or triggers.setdefault(trigger, Trigger(tests))
                table.add(field, keys, pos, match, event_slot)
        for table in triggers.values():
            for bucket in table.all_buckets():
                bucket.seal()
        self.by_trigger = by_trigger
        self._triggers = triggers
