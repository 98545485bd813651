#!/usr/bin/env python3
"""Batch ingestion: ``POST /api/v1/batch`` with 1,000 items per request, several clients at once.

A fresh PostgreSQL database, ``python server.py migrate``, the API under granian (api_command's
arguments); ``--clients`` threads each post batches of ``--batch`` items (custom events and
orders, mixed half and half, every id unique) for ``--duration`` seconds. The API answers 202
only after the commit, so accepted items/s is the durable ingest rate. Afterwards the rows are
counted: every accepted item must be a row (custom_events, orders) with its derived engine event.

No RQ worker runs by default (``--rq-workers``): the dispatch jobs queue up in Redis, so the
number is the ingest path alone; one flow per event type is enabled so dispatch would have work.

    python bench/batch_ingest.py
    python bench/batch_ingest.py --clients 8 --duration 20 --api-workers 2
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

TARGET_PER_S = 20_000


def batch_body(prefix: str, n: int, size: int, rng: random.Random) -> bytes:
    items = []
    for i in range(size):
        key = f"{prefix}-{n}-{i}"
        if i % 2 == 0:
            items.append(
                {
                    "type": "event",
                    "data": {
                        "id": key,
                        "name": "form_submit",
                        "client_id": f"c{rng.randrange(100_000)}",
                        "data": {"n": i, "form": {"amount": rng.randrange(100_000), "page": "/promo/spring"}},
                    },
                }
            )
        else:
            items.append(
                {
                    "type": "order",
                    "data": {
                        "id": key,
                        "price": round(rng.uniform(100, 100_000), 2),
                        "cost": 0,
                        "status": "Новая",
                        "client_id": f"c{rng.randrange(100_000)}",
                        "fields": {"source": "bench"},
                    },
                }
            )
    return json.dumps({"items": items}, ensure_ascii=False).encode()


class Client(threading.Thread):
    def __init__(self, host: str, port: int, prefix: str, size: int, until: float, seed: int):
        super().__init__(daemon=True)
        self.host, self.port, self.prefix, self.size, self.until = host, port, prefix, size, until
        self.rng = random.Random(seed)
        self.accepted = 0
        self.requests = 0
        self.statuses: dict[int, int] = {}
        self.latencies_ms: list[float] = []
        self.errors: list[str] = []
        self.first_problem: str | None = None

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = {"Authorization": f"Bearer {c.TOKEN}", "Content-Type": "application/json"}
        n = 0
        body = batch_body(self.prefix, n, self.size, self.rng)
        while time.monotonic() < self.until:
            started = time.monotonic()
            try:
                conn.request("POST", "/api/v1/batch", body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                continue
            self.latencies_ms.append((time.monotonic() - started) * 1000)
            self.requests += 1
            self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1
            if resp.status == 202:
                self.accepted += json.loads(data)["accepted"]
            elif self.first_problem is None:
                self.first_problem = data[:500].decode(errors="replace")
            n += 1
            body = batch_body(self.prefix, n, self.size, self.rng)  # next ids, built while not timed
        conn.close()


def count_rows(db_url: str, prefix: str) -> dict:
    import psycopg

    like = prefix + "-%"
    with psycopg.connect(db_url) as conn:
        q = lambda sql: conn.execute(sql, (like,)).fetchone()[0]
        return {
            "custom_events": q("SELECT count(*) FROM custom_events WHERE id LIKE %s"),
            "orders": q("SELECT count(*) FROM orders WHERE id LIKE %s"),
            "events": q("SELECT count(*) FROM events WHERE subject_id LIKE %s"),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--api-threads", type=int, default=8)
    parser.add_argument("--rq-workers", type=int, default=0)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    log_dir = c.LOGS / "batch_ingest"
    procs = c.Procs(log_dir)
    db_name, db_url = c.create_database("bench_batch")
    redis = c.redis_url()
    c.flush_redis(redis)
    env = c.app_env(db_url, redis, c.CACHE / "bench-data", AUTOMATION_QUEUE=f"bench-{uuid.uuid4().hex[:6]}")
    try:
        c.migrate(env, log_dir / "migrate.log")
        base, api = c.start_api(procs, env, args.api_workers, args.api_threads)
        groups = {"api": api.pid}
        for i in range(args.rq_workers):
            groups[f"rq-worker-{i}"] = procs.start(
                f"rq-worker-{i}", [*c.background_python(), str(c.TARGET / "server.py"), "worker"], env
            ).pid
        c.wait_healthy(procs, base, args.rq_workers)
        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {c.TOKEN}"
        for event in ("event.custom", "event.order_created"):
            r = session.post(
                base + "/api/v1/flows",
                json={
                    "format": "automation-flow/1",
                    "name": f"bench {event}",
                    "enabled": True,
                    "nodes": [
                        {"id": "start", "type": event, "params": {}},
                        {
                            "id": "hook",
                            "type": "action.webhook",
                            "params": {"url": "http://127.0.0.1:9/hook"},
                        },
                    ],
                    "edges": [{"from": "start", "to": "hook"}],
                },
                timeout=30,
            )
            r.raise_for_status()
        # warm-up: one small batch per API worker thread
        warm = session.post(
            base + "/api/v1/batch",
            data=batch_body("warm", 0, 10, random.Random(0)),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        if warm.status_code != 202:
            raise RuntimeError(f"warm-up batch failed: {warm.status_code} {warm.text[:500]}")

        prefix = f"b{uuid.uuid4().hex[:6]}"
        host, port = base.split("//")[1].split(":")
        sampler = c.Sampler(groups, pg_database=db_name).start()
        started = time.monotonic()
        until = started + args.duration
        clients = [
            Client(host, int(port), f"{prefix}-{i}", args.batch, until, seed=i) for i in range(args.clients)
        ]
        for cl in clients:
            cl.start()
        for cl in clients:
            cl.join()
        elapsed = time.monotonic() - started
        sampled = sampler.stop()
        procs.check_alive()
        rows = count_rows(db_url, prefix)
    finally:
        procs.stop_all()
        if not args.keep_db:
            c.drop_database(db_name)

    accepted = sum(cl.accepted for cl in clients)
    reqs = sum(cl.requests for cl in clients)
    statuses: dict[int, int] = {}
    for cl in clients:
        for k, v in cl.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    latencies = [x for cl in clients for x in cl.latencies_ms]
    stored = rows["custom_events"] + rows["orders"]
    per_s = accepted / elapsed
    checks = {
        "every accepted item stored": stored == accepted,
        "one derived event per stored item": rows["events"] == stored,
        "no failed requests": all(200 <= k < 300 for k in statuses) and not any(cl.errors for cl in clients),
    }
    result = {
        "params": vars(args),
        "requests": reqs,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "socket_errors": sum(len(cl.errors) for cl in clients),
        "first_problem": next((cl.first_problem for cl in clients if cl.first_problem), None),
        "accepted_items": accepted,
        "seconds": round(elapsed, 2),
        "stored_items_per_s": round(per_s, 1),
        "request_latency_ms": {
            "p50": round(c.percentile(latencies, 50) or 0, 1),
            "p99": round(c.percentile(latencies, 99) or 0, 1),
        },
        "rows": rows,
        "checks": checks,
        "ok": all(checks.values()),
        "cpu": sampled["cpu"],
        "rss_peaks_mb": sampled["rss_peaks_mb"],
        "target_items_per_s": TARGET_PER_S,
        "log_errors": procs.errors(),
    }
    cpu = sampled["cpu"]
    print(
        c.table(
            [
                "clients",
                "batch",
                "requests",
                "non-2xx",
                "accepted items",
                "stored items/s",
                "req p50 ms",
                "req p99 ms",
                "custom_events",
                "orders",
                "events",
                "API CPU s",
                "PG CPU s",
                "others' cores",
            ],
            [
                [
                    args.clients,
                    args.batch,
                    reqs,
                    sum(v for k, v in statuses.items() if not 200 <= k < 300),
                    accepted,
                    round(per_s, 1),
                    result["request_latency_ms"]["p50"],
                    result["request_latency_ms"]["p99"],
                    rows["custom_events"],
                    rows["orders"],
                    rows["events"],
                    cpu["system_under_test_s"],
                    cpu["postgres_backends_s"],
                    cpu["others_cores"],
                ]
            ],
        )
    )
    print(f"stored items/s: {per_s:,.0f} (target ≥ {TARGET_PER_S:,}: {c.verdict(per_s, TARGET_PER_S, True)})")
    print(
        "row check: "
        + ("OK" if result["ok"] else "FAILED: " + "; ".join(k for k, v in checks.items() if not v))
    )
    if result["first_problem"]:
        print(f"first non-2xx answer: {result['first_problem']}")
    for proc, err in result["log_errors"].items():
        print(f"log {proc}.log: {err['tracebacks']} traceback(s), last: {err['last']}")
    if not args.no_write:
        print(f"results: {c.write_results('batch_ingest', result).relative_to(c.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
