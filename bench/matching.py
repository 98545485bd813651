#!/usr/bin/env python3
"""Matching + conditions per event with 10,000 enabled flows of mixed event types.

A fresh PostgreSQL database; 10,000 flows saved through the storage layer
(``plugin.engine.flows.save_flow`` inside an app context: validated and sealed like the API
does); then, for each of ``--events`` events of mixed types, the dispatch path's matching work is
timed: ``FlowIndex.refresh(session, redis)`` (one Redis GET of the flow generation, as in the
workers), ``context.for_conditions`` and ``FlowIndex.matching`` (event-node filter, the
condition index, the remaining conditions of the flows it finds). The index build (loading
10,000 flows) is timed apart. Contexts are built in memory in the shape of
plugin/engine/context.py (no DB reads).

The first ``--verify`` events are also evaluated the plain way — every flow of the trigger, its
event node's ``matches``, its graph walked node by node with each condition's ``evaluate`` — and
the flows selected must be the same (reported as mismatches; the plain median is shown too).

Flow mix: 40 % custom events (60 names, some «any»), 20 % new orders, 15 % status changes
(to/from lists), 20 % new visits, 5 % N-day flows (in the index, never matched by events);
each with 1–3 conditions of the kinds its event allows and one action.

    python bench/matching.py
    python bench/matching.py --flows 10000 --events 5000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

TARGET_MEDIAN_MS = 1.0
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", "Самара", "Омск", "Пермь"]
SOURCES = ["yandex", "google", "vk", "telegram", "email", "direct"]
STATUSES = ["Новая", "В работе", "Оплачен", "Отказ", "Согласование", "Доставка"]
NAMES = [f"event_{i}" for i in range(60)]


def _condition(kind: str, rng: random.Random) -> tuple[str, dict]:
    r = rng.random
    if kind == "visit_city":
        return "condition.visit_city", {
            "operator": rng.choice(["equals", "any_of"]),
            "value": ",".join(rng.sample(CITIES, 2)) if r() < 0.5 else rng.choice(CITIES),
        }
    if kind == "visit_utm":
        return "condition.visit_utm", {
            "tag": "utm_source",
            "operator": rng.choice(["equals", "contains", "any_of"]),
            "value": rng.choice(SOURCES),
        }
    if kind == "visit_ip":
        return "condition.visit_ip", {
            "operator": "any_of",
            "value": "10.0.0.0/8, 192.168.0.0/16, 5.255.255.0/24",
        }
    if kind == "order_price":
        return "condition.order_price", {
            "operator": rng.choice(["gt", "lt", "gte"]),
            "value": rng.randrange(1000, 50_000),
        }
    if kind == "order_status":
        return "condition.order_status", {
            "operator": rng.choice(["in", "not_in"]),
            "value": rng.sample(STATUSES, 2),
        }
    if kind == "client_orders_count":
        return "condition.client_orders_count", {
            "operator": rng.choice(["gt", "eq", "lt"]),
            "value": rng.randrange(0, 5),
        }
    if kind == "event_data":
        if r() < 0.5:
            return "condition.event_data", {
                "path": "form.amount",
                "operator": "gt",
                "value": rng.randrange(0, 100_000),
            }
        return "condition.event_data", {
            "path": "form.page",
            "operator": "contains",
            "value": rng.choice(["promo", "sale"]),
        }
    raise ValueError(kind)


CONDITIONS = {
    "event.custom": ["event_data", "event_data", "visit_utm", "visit_city", "client_orders_count"],
    "event.order_created": ["order_price", "order_status", "client_orders_count", "visit_city", "visit_utm"],
    "event.order_status_changed": ["order_price", "order_status", "client_orders_count", "visit_utm"],
    "event.visit_created": ["visit_city", "visit_utm", "visit_ip", "client_orders_count"],
    "event.order_days_since_created": ["order_status", "order_price"],
}


def flow_doc(i: int, rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.40:
        event, params = "event.custom", {"name": "" if rng.random() < 0.05 else rng.choice(NAMES)}
    elif roll < 0.60:
        event, params = "event.order_created", {}
    elif roll < 0.75:
        event, params = "event.order_status_changed", {"to": rng.sample(STATUSES, rng.randint(1, 2))}
        if rng.random() < 0.3:
            params["from"] = rng.sample(STATUSES, 1)
    elif roll < 0.95:
        event, params = "event.visit_created", {}
    else:
        event, params = "event.order_days_since_created", {"days": rng.randint(1, 30)}
    nodes = [{"id": "start", "type": event, "params": params}]
    edges = []
    prev = "start"
    for k in range(rng.randint(1, 3)):
        ctype, cparams = _condition(rng.choice(CONDITIONS[event]), rng)
        nodes.append({"id": f"c{k}", "type": ctype, "params": cparams})
        edges.append({"from": prev, "to": f"c{k}"})
        prev = f"c{k}"
    nodes.append(
        {
            "id": "hook",
            "type": "action.webhook",
            "params": {"url": f"https://hooks.example.com/{i}", "headers": {"X-Flow": str(i)}},
        }
    )
    edges.append({"from": prev, "to": "hook"})
    return {
        "format": "automation-flow/1",
        "name": f"bench flow {i}",
        "enabled": True,
        "nodes": nodes,
        "edges": edges,
    }


def event_sample(i: int, rng: random.Random, now: datetime) -> tuple[str, dict, dict]:
    """(trigger, event as the event node sees it, context)."""
    client = {
        "external_id": f"c{i}",
        "name": "Анна",
        "company": None,
        "phone": "+79161234567",
        "email": "anna@example.com",
        "fields": {},
    }
    visit = {
        "id": f"v{i}",
        "ip": f"{rng.choice([10, 5, 93])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        "marker": "direct",
        "city": rng.choice(CITIES),
        "country": "Россия",
        "referrer": "https://ya.ru/",
        "domain": "site.ru",
        "landing_page": "https://site.ru/promo",
        "utm_source": rng.choice(SOURCES),
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "utm_term": None,
        "utm_content": None,
        "roistat_param_1": None,
        "roistat_param_2": None,
        "roistat_param_3": None,
        "roistat_param_4": None,
        "roistat_param_5": None,
        "client_id": client["external_id"],
        "created_at": now.isoformat(),
    }
    order = {
        "id": f"o{i}",
        "price": float(rng.randrange(100, 100_000)),
        "cost": 0.0,
        "status": rng.choice(STATUSES),
        "status_group": "in_work",
        "created_at": (now - timedelta(days=rng.randrange(30))).isoformat(),
        "paid_at": None,
        "client_id": client["external_id"],
        "visit_id": visit["id"],
        "responsible_user_id": None,
        "fields": {},
    }
    context = {
        "visit": visit,
        "order": order,
        "client": client,
        "event": None,
        "client_orders_count": rng.randrange(0, 6),
    }
    roll = rng.random()
    if roll < 0.4:
        name = rng.choice(NAMES)
        data = {
            "form": {"amount": rng.randrange(0, 100_000), "page": rng.choice(["/promo/spring", "/sale", "/"])}
        }
        context["event"] = {"id": f"e{i}", "meta_id": name, "name": name, "data": data}
        return "custom_event", {"type": "custom_event", "data": {"name": name}}, context
    if roll < 0.6:
        return "order_created", {"type": "order_created", "data": {}}, context
    if roll < 0.8:
        frm, to = rng.sample(STATUSES, 2)
        order["status"] = to
        return (
            "order_status_changed",
            {"type": "order_status_changed", "data": {"from": frm, "to": to}},
            context,
        )
    return "visit_created", {"type": "visit_created", "data": {}}, context


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=3_000)
    parser.add_argument("--budget", type=float, default=60, help="stop timing events after this many seconds")
    parser.add_argument(
        "--verify", type=int, default=300, help="check this many events against plain evaluation (0: none)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    db_name, db_url = c.create_database("bench_matching")
    redis = c.redis_url()
    c.flush_redis(redis)
    env = c.app_env(db_url, redis, c.CACHE / "bench-data", AUTOMATION_QUEUE=f"bench-{uuid.uuid4().hex[:6]}")
    rng = random.Random(args.seed)
    try:
        c.migrate(env, c.LOGS / "matching-migrate.log")
        app = c.make_app(env)
        from plugin.api.context import rt
        from plugin.api.extensions import db
        from plugin.engine.context import for_conditions
        from plugin.engine.dispatch import FlowIndex
        from plugin.engine.flows import save_flow
        from plugin.engine.graph import Graph

        with app.app_context():
            runtime = rt()
            registry, box = runtime.registry, runtime.secrets
            t0 = time.perf_counter()
            for i in range(args.flows):
                save_flow(db.session, registry, box, flow_doc(i, rng))
                if i % 500 == 499:
                    db.session.commit()
            db.session.commit()
            runtime.redis.incr("automation:flows:generation")
            save_s = time.perf_counter() - t0

            index = FlowIndex(registry)
            t0 = time.perf_counter()
            index.refresh(db.session, runtime.redis)
            build_s = time.perf_counter() - t0
            per_trigger = {k: len(v) for k, v in sorted(index.by_trigger.items())}

            now = datetime.now(UTC)
            samples = [event_sample(i, rng, now) for i in range(args.events)]
            timings: dict[str, list[float]] = {}
            reached_by: dict[str, list[int]] = {}
            parts = {"redis_generation_get": 0.0, "matching": 0.0}
            for trigger, event, context in samples[:20]:  # warm (imports, caches), then time all
                _match(index, db.session, runtime.redis, for_conditions, trigger, event, context, dict(parts))
            reloads = []
            original_load = index._load

            def counting_load(session, _load=original_load):  # a flow write or a Redis flush elsewhere
                reloads.append(time.perf_counter())
                _load(session)

            index._load = counting_load
            deadline = time.perf_counter() + args.budget
            results = []
            for trigger, event, context in samples:
                t = time.perf_counter()
                matched = _match(
                    index, db.session, runtime.redis, for_conditions, trigger, event, context, parts
                )
                timings.setdefault(trigger, []).append((time.perf_counter() - t) * 1000)
                reached_by.setdefault(trigger, []).append(len(matched))
                results.append(matched)
                if t > deadline:
                    break

            # the same events, the plain way (every flow of the trigger, evaluate node by node)
            plain_graphs = {}
            for trigger, flows in index.by_trigger.items():
                plain_graphs[trigger] = []
                for info, definition, _graph in flows:
                    graph = Graph(definition, registry)
                    graph.chain = None
                    plain_graphs[trigger].append((info["id"], graph))
            mismatches, plain_ms = 0, []
            for (trigger, event, context), matched in list(zip(samples, results, strict=False))[
                : args.verify
            ]:
                t = time.perf_counter()
                expected = _plain(plain_graphs.get(trigger, []), registry, for_conditions, event, context)
                plain_ms.append((time.perf_counter() - t) * 1000)
                if expected != sorted(matched):
                    mismatches += 1
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.keep_db:
            c.drop_database(db_name)

    every = [x for v in timings.values() for x in v]
    reached_all = [x for v in reached_by.values() for x in v]
    rows = []
    summary = {}
    for trigger, values in [*sorted(timings.items()), ("all", every)]:
        reached = reached_by.get(trigger, reached_all)
        s = {
            "events": len(values),
            "median_ms": round(c.percentile(values, 50), 3),
            "p99_ms": round(c.percentile(values, 99), 3),
            "max_ms": round(max(values), 3),
            "flows": per_trigger.get(trigger),
            "avg_reaching_action": round(sum(reached) / len(reached), 1),
        }
        summary[trigger] = s
        rows.append(
            [
                trigger,
                s["events"],
                s["flows"],
                s["avg_reaching_action"],
                s["median_ms"],
                s["p99_ms"],
                s["max_ms"],
            ]
        )
    print(
        c.table(
            [
                "trigger",
                "events",
                "flows of the trigger",
                "flows fired (avg)",
                "median ms",
                "p99 ms",
                "max ms",
            ],
            rows,
        )
    )
    median = summary["all"]["median_ms"]
    split = {k: round(v * 1000 / len(every), 3) for k, v in parts.items()}
    print("mean ms per event by step: " + ", ".join(f"{k} {v:.3f}" for k, v in split.items()))
    plain_median = round(c.percentile(plain_ms, 50), 3) if plain_ms else None
    if plain_ms:
        print(
            f"checked against plain evaluation: {len(plain_ms):,} events, {mismatches} with different flows "
            f"(plain evaluation: median {plain_median:.3f} ms per event)"
        )
    if reloads:
        print(
            f"note: the index reloaded {len(reloads)} time(s) while timing (the Redis generation changed: "
            "a flow write or a flush of the benchmark's Redis database by another program)"
        )
    print(
        f"flows: {args.flows:,} saved in {save_s:.1f} s; index build (load + graphs + index) "
        f"{build_s * 1000:,.0f} ms; per event on average {sum(reached_all) / len(reached_all):,.1f} flows fired"
    )
    print(
        f"median per event: {median:.3f} ms (target ≤ {TARGET_MEDIAN_MS} ms: "
        f"{c.verdict(median, TARGET_MEDIAN_MS, False)}); p99 {summary['all']['p99_ms']:.3f} ms"
    )
    result = {
        "params": vars(args),
        "flows_saved_s": round(save_s, 2),
        "index_build_ms": round(build_s * 1000, 1),
        "flows_per_trigger": per_trigger,
        "per_event": summary,
        "avg_reaching_action": round(sum(reached_all) / len(reached_all), 2),
        "mean_ms_by_step": split,
        "verified_events": len(plain_ms),
        "verify_mismatches": mismatches,
        "plain_evaluation_median_ms": plain_median,
        "index_reloads_while_timing": len(reloads),
        "target_median_ms": TARGET_MEDIAN_MS,
    }
    if not args.no_write:
        print(f"results: {c.write_results('matching', result).relative_to(c.ROOT)}")
    return 0


def _match(index, session, redis, for_conditions, trigger, event, context, parts) -> list[str]:
    """What dispatch does before creating runs: the Redis generation check, then the flows the
    event fires (event-node filter, condition index, remaining conditions). Returns flow ids.

    ``parts`` accumulates the seconds spent in each of the two steps."""
    t0 = time.perf_counter()
    index.refresh(session, redis)
    t1 = time.perf_counter()
    matched = index.matching(session, trigger, event["data"], for_conditions(context), fresh=True)
    t2 = time.perf_counter()
    parts["redis_generation_get"] += t1 - t0
    parts["matching"] += t2 - t1
    return [info["id"] for info, _definition, _graph, _spec in matched]


def _plain(graphs, registry, for_conditions, event, context) -> list[str]:
    """The unindexed evaluation: every flow's event node ``matches``, then its graph walked."""
    cond_ctx = for_conditions(context)
    out = []
    for flow_id, graph in graphs:
        node = graph.nodes[graph.event_id]
        if registry[node["type"]].module.matches(node.get("params") or {}, event) and graph.reaches_action(
            context, cond_ctx=cond_ctx
        ):
            out.append(flow_id)
    return sorted(out)


if __name__ == "__main__":
    raise SystemExit(main())
