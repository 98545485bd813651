#!/usr/bin/env python3
"""CRM tasks under the CRMs' rate limits, with the real server processes on PostgreSQL + Redis.

1,000 new deals in one ``POST /api/v1/batch`` reach two flows «Новая сделка → Задача в CRM»,
one to a fake amoCRM account (7 requests/s, 429 + Retry-After above it) and one to a fake
Bitrix24 portal (2 requests/s after a burst of 50, 503 QUERY_LIMIT_EXCEEDED above it): the
fakes of tests/fakes, local HTTP servers that enforce contracts.md and count every call.
Meanwhile an unrelated flow (custom event → webhook to bench/receiver.py) gets a steady open-loop
load, and its event → delivery latency is compared with the same load without the CRM backlog.

Reported: tasks created per CRM (each deal once), calls (lookups, refusals), the time until every
CRM run was settled, the longest action attempt of a CRM step (an attempt includes any in-place
wait for the rate limit), and the unrelated flow's p50/p99 with and without the CRM load.

    python bench/crm_rate_limits.py                  # 1,000 deals (≈ 9 min: Bitrix24 drains 2/s)
    python bench/crm_rate_limits.py --deals 200 --lookup
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench import common as c
from bench import loadgen
from bench.e2e import Receiver, analyze
from tests.fakes.amocrm import FakeAmoCRM
from tests.fakes.bitrix24 import FakeBitrix24

AMO_TOKEN = "amo-long-lived-token"
TEXT = "Позвонить по сделке {order_id}"


def crm_flow(name: str, params: dict) -> dict:
    return {
        "format": "automation-flow/1",
        "name": name,
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "task", "type": "action.crm_task", "params": params},
        ],
        "edges": [{"from": "start", "to": "task"}],
    }


def hook_flow(url: str) -> dict:
    return {
        "format": "automation-flow/1",
        "name": "Unrelated: custom event → webhook",
        "enabled": True,
        "nodes": [
            {"id": "start", "type": "event.custom", "params": {"name": "bench"}},
            {"id": "hook", "type": "action.webhook", "params": {"url": url}},
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }


def webhook_load(base: str, receiver: Receiver, rate: float, duration: float, tag: str) -> dict:
    """The unrelated flow under an open-loop load; its event → delivery latency at the receiver."""
    prefix = f"{tag}{uuid.uuid4().hex[:6]}"
    res = asyncio.run(loadgen.run(base + "/api/v1/events", rate, duration, prefix, c.TOKEN, 4))
    load = {"started_ms": res.started_ms, "ended_ms": res.started_ms + duration * 1000}
    expected = res.summary()["ok"]
    c.wait_until(
        lambda: sum(1 for r in receiver.records() if str(r[1]).startswith(prefix)) >= expected,
        60,
        f"the {tag} webhooks to be delivered",
    )
    stats = analyze(receiver.records(), prefix, load, 1.0)
    stats.pop("ids")
    return {
        "events": expected,
        "non_2xx": res.summary()["non_2xx"],
        "delivered": stats["delivered"],
        "duplicates": stats["duplicates"],
        "latency_ms": stats["latency_ms"],
    }


def run_counts(db_url: str, flow_id: str) -> Counter:
    import psycopg

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM runs WHERE flow_id = %s GROUP BY status", (flow_id,)
        )
        return Counter(dict(rows.fetchall()))


def step_stats(db_url: str, flow_id: str) -> dict:
    """The longest attempt of a CRM step (its last attempt: HTTP + any in-place wait) and attempts."""
    import psycopg

    with psycopg.connect(db_url) as conn:
        longest, attempts_max, attempts_avg = conn.execute(
            "SELECT max(s.duration_ms), max(s.attempts), avg(s.attempts) FROM steps s JOIN runs r ON r.id = s.run_id "
            "WHERE r.flow_id = %s AND s.node_id = 'task'",
            (flow_id,),
        ).fetchone()
        errors = conn.execute(
            "SELECT s.error, count(*) FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.flow_id = %s "
            "AND s.node_id = 'task' AND s.status = 'failed' GROUP BY s.error",
            (flow_id,),
        ).fetchall()
    return {
        "longest_attempt_ms": round(float(longest or 0), 1),
        "attempts_max": attempts_max,
        "attempts_avg": round(float(attempts_avg or 0), 2),
        "failed_errors": dict(errors),
    }


def calls(crm: str, fake) -> dict:
    out: Counter = Counter()
    for req in list(fake.requests):
        if crm == "amocrm":
            out[
                {"GET": "lead_lookup" if "/leads/" in req.path else "task_lookup", "POST": "create"}[
                    req.method
                ]
            ] += 1
        else:
            out[req.path.rsplit("/", 1)[-1].removesuffix(".json")] += 1
    out["refused"] = fake.refused
    return dict(out)


def tasks_per_deal(crm: str, fake) -> Counter:
    if crm == "amocrm":
        return Counter(str(t["entity_id"]) for t in fake.tasks)
    return Counter(link[2:] for t in fake.tasks for link in t["ufCrmTask"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1000)
    ap.add_argument(
        "--lookup", action="store_true", help="look the deal's responsible up (else a fixed user)"
    )
    ap.add_argument("--rq-workers", type=int, default=2)
    ap.add_argument("--hook-rate", type=float, default=20.0, help="the unrelated flow's events/s")
    ap.add_argument("--baseline-seconds", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=1500.0)
    args = ap.parse_args()

    log_dir = c.LOGS / "crm_rate_limits"
    procs = c.Procs(log_dir)
    amo, b24 = FakeAmoCRM(token=AMO_TOKEN).start(), FakeBitrix24().start()
    db_name, db_url = c.create_database("bench_crm")
    redis = c.redis_url()
    c.flush_redis(redis)
    env = c.app_env(
        db_url,
        redis,
        c.CACHE / "bench-data",
        AUTOMATION_QUEUE=f"bench-{uuid.uuid4().hex[:6]}",
        AUTOMATION_INGEST_RATE=50_000,
    )
    results: dict = {
        "config": {
            "deals": args.deals,
            "lookup": args.lookup,
            "rq_workers": args.rq_workers,
            "hook_rate": args.hook_rate,
        }
    }
    try:
        receiver = Receiver(procs)
        c.migrate(env, log_dir / "migrate.log")
        base, _api = c.start_api(procs, env)
        server = str(c.TARGET / "server.py")
        for i in range(args.rq_workers):
            procs.start(f"rq-worker-{i}", [*c.background_python(), server, "worker"], env)
        procs.start("scheduler", [*c.background_python("scheduler"), server, "scheduler"], env)
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {c.TOKEN}"
        c.wait_healthy(procs, base, args.rq_workers)
        assert http.post(base + "/api/v1/flows", json=hook_flow(receiver.url), timeout=30).status_code == 201

        print(
            f"baseline: the unrelated flow alone, {args.hook_rate:g}/s for {args.baseline_seconds:g} s",
            flush=True,
        )
        webhook_load(base, receiver, args.hook_rate, 5, "warm")
        results["webhook_alone"] = webhook_load(
            base, receiver, args.hook_rate, args.baseline_seconds, "alone"
        )

        fixed = {} if args.lookup else {"responsible_user_id": 42}
        for deal in range(1, args.deals + 1):
            amo.add_lead(deal, responsible_user_id=5000 + deal % 3)
            b24.add_deal(deal, assigned_by_id=(1, 7, 42)[deal % 3])
        flows = {}
        for crm, params in (
            ("amocrm", {"crm": "amocrm", "base_url": amo.url, "token": AMO_TOKEN, "text": TEXT, **fixed}),
            ("bitrix24", {"crm": "bitrix24", "base_url": b24.webhook_url, "text": TEXT, **fixed}),
        ):
            r = http.post(
                base + "/api/v1/flows", json=crm_flow(f"Новая сделка → Задача в CRM ({crm})", params)
            )
            assert r.status_code == 201, r.text
            flows[crm] = r.json()["id"]

        print(
            f"{args.deals} new deals → amoCRM and Bitrix24 tasks, the unrelated flow under load", flush=True
        )
        items = [{"type": "order", "data": {"id": str(i), "price": i}} for i in range(1, args.deals + 1)]
        started = time.monotonic()
        for chunk in range(0, len(items), 1000):
            r = http.post(base + "/api/v1/batch", json={"items": items[chunk : chunk + 1000]}, timeout=60)
            assert r.status_code == 202, r.text
        settled: dict[str, float] = {}
        during: list[dict] = []
        while len(settled) < len(flows) and time.monotonic() - started < args.timeout:
            during.append(webhook_load(base, receiver, args.hook_rate, 20, "busy"))
            for crm, flow_id in flows.items():
                counts = run_counts(db_url, flow_id)
                done = counts["succeeded"] + counts["failed"]
                print(f"  {time.monotonic() - started:6.0f} s  {crm}: {dict(counts)}", flush=True)
                if crm not in settled and done >= args.deals:
                    settled[crm] = round(time.monotonic() - started, 1)
        latencies = [p for d in during for p in [d["latency_ms"]["p99"]] if p is not None]
        results["webhook_during_crm_load"] = {
            "windows": len(during),
            "events": sum(d["events"] for d in during),
            "delivered": sum(d["delivered"] for d in during),
            "p99_ms_worst_window": max(latencies, default=None),
            "p99_ms_median_window": sorted(latencies)[len(latencies) // 2] if latencies else None,
            "p50_ms_median_window": sorted(d["latency_ms"]["p50"] for d in during)[len(during) // 2]
            if during
            else None,
            "by_window": [d["latency_ms"] for d in during],
        }
        for crm, fake in (("amocrm", amo), ("bitrix24", b24)):
            per_deal = tasks_per_deal(crm, fake)
            results[crm] = {
                "tasks_created": len(fake.tasks),
                "deals_with_exactly_one_task": sum(1 for n in per_deal.values() if n == 1),
                "deals_with_more": sum(1 for n in per_deal.values() if n > 1),
                "runs": dict(run_counts(db_url, flows[crm])),
                "settled_after_s": settled.get(crm),
                "calls": calls(crm, fake),
                **step_stats(db_url, flows[crm]),
            }
        results["log_errors"] = procs.errors()
    finally:
        procs.stop_all()
        amo.stop()
        b24.stop()
        c.drop_database(db_name)
    path = c.write_results("crm_rate_limits", results)
    report(results)
    print(f"\nresults: {path}")
    ok = all(
        results[crm]["tasks_created"] == args.deals == results[crm]["deals_with_exactly_one_task"]
        for crm in ("amocrm", "bitrix24")
    )
    return 0 if ok else 1


def report(results: dict) -> None:
    rows = []
    for crm in ("amocrm", "bitrix24"):
        r = results[crm]
        rows.append(
            [
                crm,
                r["tasks_created"],
                r["deals_with_exactly_one_task"],
                r["runs"],
                r["settled_after_s"],
                r["calls"],
                r["longest_attempt_ms"],
                r["attempts_max"],
            ]
        )
    print(
        c.table(
            ["CRM", "tasks", "deals ×1", "runs", "settled s", "calls", "longest attempt ms", "max attempts"],
            rows,
        )
    )
    alone, busy = results["webhook_alone"], results["webhook_during_crm_load"]
    print(
        c.table(
            ["unrelated webhook flow", "events", "p50 ms", "p99 ms"],
            [
                ["alone", alone["events"], alone["latency_ms"]["p50"], alone["latency_ms"]["p99"]],
                [
                    "during the CRM backlog (median window)",
                    busy["events"],
                    busy["p50_ms_median_window"],
                    busy["p99_ms_median_window"],
                ],
                ["during the CRM backlog (worst 20 s window)", "", "", busy["p99_ms_worst_window"]],
            ],
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
