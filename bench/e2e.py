#!/usr/bin/env python3
"""End-to-end benchmark, ours on PostgreSQL + Redis side by side with Node-RED 4.

The same work on both: an HTTP event in (one per request) → one condition (``data.n > -1``,
passes) → POST the Roistat-shaped webhook message to a local receiver (bench/receiver.py, its own
process), which records each delivery's arrival time and the ``sent_at`` the load generator put
in the event, so delivery throughput and event → delivery latency are measured at the receiver.

Ours: a fresh PostgreSQL database, ``python server.py migrate``, the API under granian (the
command of plugin/processes.py ``api_command``; AUTOMATION_API_SERVER=gunicorn for gunicorn), N × ``python server.py worker`` and
``python server.py scheduler``, a flow ``event.custom`` (name "bench") → ``condition.event_data``
(n gt -1) → ``action.webhook`` created through the API. Node-RED: bench/nodered.py.
The benchmark token's ingestion rate limit is raised to 50,000 requests/s
(``AUTOMATION_INGEST_RATE``; the default 2,000/s is below what the closed loop now offers, and
its 429s would measure the limit, not the engine); the limiter still runs on every request.

Each system gets two phases:
  * rate    — open loop, a fixed offered rate (default 200 events/s, bench/loadgen.py);
  * closed  — wrk, 16 connections, as fast as the API answers, for a fixed duration.
Delivered actions/s is counted at the receiver over the steady window (the run minus its first
seconds). Afterwards the receiver is drained and, for ours, the database is checked: every
accepted event stored, one run per event, every run succeeded, every stored event delivered once.

    python bench/e2e.py                       # everything (≈ 2.5 min)
    python bench/e2e.py --skip-node-red --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench import common as c
from bench import loadgen, nodered

LUA = c.BENCH / "wrk_events.lua"
NODE_RED_REF = {"actions_per_s": [1700, 1850], "p99_ms": [18, 48], "rss_mb": 220}
N8N_REF = {"actions_per_s": [18, 30]}
FINAL = ("succeeded", "failed", "not_triggered", "skipped", "cancelled")
TARGETS = {"ratio_vs_node_red": 1.0, "times_n8n": 50, "rate_p99_ms": 100, "rss_mb": 150}


# -- the receiver ------------------------------------------------------------------------------


class Receiver:
    def __init__(self, procs: c.Procs):
        self.port = c.free_port()
        self.pid = procs.start(
            "receiver", [sys.executable, str(c.BENCH / "receiver.py"), "--port", str(self.port)]
        ).pid
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/hook"
        self.session = requests.Session()
        c.wait_until(lambda: self.count() >= 0, 15, "receiver", alive=procs.check_alive)

    def count(self) -> int:
        return self.session.get(self.base + "/_bench/stats", timeout=5).json()["count"]

    def records(self) -> list[list]:
        return self.session.get(self.base + "/_bench/records?from=0", timeout=60).json()

    def reset(self) -> None:
        self.session.post(self.base + "/_bench/reset", timeout=5)


# -- load --------------------------------------------------------------------------------------


def wrk_phase(
    url: str, prefix: str, duration: int, connections: int, threads: int, token: str | None
) -> dict:
    env = {
        **os.environ,
        "BENCH_PREFIX": prefix,
        "BENCH_TOKEN": token or "",
        "BENCH_PATH": "/" + url.split("/", 3)[3],
    }
    started = time.time() * 1000
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 120,
        check=False,
    )
    ended = time.time() * 1000
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len("BENCH_JSON ") :])
    seconds = data["duration_us"] / 1e6
    errors = data["errors"]
    return {
        "tool": f"wrk -t{threads} -c{connections} -d{duration}s",
        "started_ms": started,
        "ended_ms": ended,
        "requests": data["requests"],
        "requests_per_s": round(data["requests"] / seconds, 1),
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "ok": data["requests"] - errors["status"],
        "api_latency_ms": {k: round(v / 1000, 2) for k, v in data["latency_us"].items()},
    }


def rate_phase(
    url: str, prefix: str, rate: float, duration: float, connections: int, token: str | None
) -> dict:
    res = asyncio.run(loadgen.run(url, rate, duration, prefix, token, connections))
    summary = res.summary()
    seconds = (res.ended_ms - res.started_ms) / 1000
    return {
        "tool": f"bench/loadgen.py open loop {rate:g}/s × {duration:g}s, {connections} connections",
        "started_ms": res.started_ms,
        "ended_ms": res.started_ms + duration * 1000,
        "scheduled": summary["scheduled"],
        "unsent_server_too_slow": summary["unsent_server_too_slow"],
        "requests": summary["sent"],
        "requests_per_s": round(summary["ok"] / max(seconds, 1e-9), 1),
        "non_2xx": summary["non_2xx"],
        "socket_errors": summary["socket_errors"],
        "ok": summary["ok"],
        "statuses": summary["statuses"],
        "api_latency_ms": summary["api_latency_ms"],
        "max_schedule_lag_ms": summary["max_schedule_lag_ms"],
    }


def drain(receiver: Receiver, expected, timeout: float, stall: float = 15.0) -> dict:
    """Wait until the receiver has ``expected()`` deliveries, or nothing arrives for ``stall`` s."""
    started = time.monotonic()
    last, last_change = -1, time.monotonic()
    while True:
        count = receiver.count()
        target = expected()
        if count != last:
            last, last_change = count, time.monotonic()
        if count >= target:
            time.sleep(1.0)  # let duplicates, if any, arrive too
            return {"drained": True, "seconds": round(time.monotonic() - started, 1)}
        if time.monotonic() - last_change > stall or time.monotonic() - started > timeout:
            return {
                "drained": False,
                "seconds": round(time.monotonic() - started, 1),
                "delivered": count,
                "expected": target,
            }
        time.sleep(0.5)


def analyze(records: list[list], prefix: str, load: dict, warmup: float) -> dict:
    """Delivery throughput in the steady window, latency, duplicates (by event id and webhook-id)."""
    mine = [r for r in records if isinstance(r[1], str) and r[1].startswith(prefix + "-")]
    first: dict[str, tuple[float, float | None]] = {}
    for webhook_id, event_id, arrival, sent_at in mine:
        if event_id not in first or arrival < first[event_id][0]:
            first[event_id] = (arrival, sent_at)
    webhook_ids = [r[0] for r in mine if r[0]]
    latencies = [a - s for a, s in first.values() if isinstance(s, int | float)]
    t0, t1 = load["started_ms"], load["ended_ms"]
    window_start = t0 + warmup * 1000
    in_window = sum(1 for a, _s in first.values() if window_start <= a <= t1)
    arrivals = sorted(a for a, _s in first.values())
    span = ((arrivals[-1] - t0) / 1000) if arrivals else 0
    p = c.percentile
    return {
        "delivered": len(first),
        "deliveries": len(mine),
        "duplicates": len(mine) - len(first),
        "duplicate_webhook_ids": len(webhook_ids) - len(set(webhook_ids)),
        "unparsable": sum(1 for r in records if r[1] is None),
        "steady_window_s": round((t1 - window_start) / 1000, 1),
        "delivered_per_s_steady": round(in_window / max((t1 - window_start) / 1000, 1e-9), 1),
        "delivered_per_s_overall": round(len(first) / span, 1) if span else None,
        "delivered_after_load_ended": sum(1 for a in arrivals if a > t1),
        "latency_ms": {
            "p50": _r(p(latencies, 50)),
            "p90": _r(p(latencies, 90)),
            "p99": _r(p(latencies, 99)),
            "max": _r(max(latencies) if latencies else None),
        },
        "ids": set(first),
    }


def _r(value):
    return None if value is None else round(value, 1)


# -- ours --------------------------------------------------------------------------------------


def bench_flow(hook_url: str) -> dict:
    return {
        "format": "automation-flow/1",
        "name": "Bench: custom event → n > -1 → webhook",
        "enabled": True,
        "nodes": [
            {
                "id": "start",
                "type": "event.custom",
                "params": {"name": "bench"},
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "n",
                "type": "condition.event_data",
                "params": {"path": "n", "operator": "gt", "value": -1},
                "position": {"x": 250, "y": 0},
            },
            {
                "id": "hook",
                "type": "action.webhook",
                "params": {"url": hook_url},
                "position": {"x": 500, "y": 0},
            },
        ],
        "edges": [{"from": "start", "to": "n"}, {"from": "n", "to": "hook", "branch": "true"}],
    }


def stored_count(db_url: str, prefix: str) -> int:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM custom_events WHERE id LIKE %s", (prefix + "-%",)
        ).fetchone()[0]


def verify_db(
    db_url: str, prefix: str, delivered: set[str], load: dict, connections: int, closed: bool
) -> dict:
    import psycopg

    like = prefix + "-%"
    with psycopg.connect(db_url) as conn:
        ids = {r[0] for r in conn.execute("SELECT id FROM custom_events WHERE id LIKE %s", (like,))}
        events, undispatched = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE dispatched_at IS NULL) FROM events "
            "WHERE trigger = 'custom_event' AND subject_id LIKE %s",
            (like,),
        ).fetchone()
        runs = dict(
            conn.execute(
                "SELECT r.status, count(*) FROM runs r JOIN events e ON e.id = r.event_id "
                "WHERE e.subject_id LIKE %s GROUP BY r.status",
                (like,),
            ).fetchall()
        )
        max_runs_per_event = conn.execute(
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM runs r JOIN events e ON e.id = r.event_id "
            "WHERE e.subject_id LIKE %s GROUP BY r.event_id) x",
            (like,),
        ).fetchone()[0]
        steps = dict(
            conn.execute(
                "SELECT s.status, count(*) FROM steps s JOIN runs r ON r.id = s.run_id JOIN events e ON e.id = r.event_id "
                "WHERE e.subject_id LIKE %s AND s.node_type = 'action.webhook' GROUP BY s.status",
                (like,),
            ).fetchall()
        )
        attempts = conn.execute(
            "SELECT coalesce(sum(s.attempts), 0) FROM steps s JOIN runs r ON r.id = s.run_id "
            "JOIN events e ON e.id = r.event_id WHERE e.subject_id LIKE %s AND s.node_type = 'action.webhook'",
            (like,),
        ).fetchone()[0]
    total_runs = sum(runs.values())
    accepted = load["ok"]
    # closed loop: requests in flight when wrk stopped may be stored without wrk counting them
    stored_ok = accepted <= len(ids) <= accepted + (connections if closed else 0)
    lost = sorted(ids - delivered)
    phantom = sorted(delivered - ids)
    checks = {
        "every accepted event stored": stored_ok,
        "one derived event per stored event": events == len(ids),
        "every event dispatched": undispatched == 0,
        "one run per event": total_runs == len(ids) and max_runs_per_event <= 1,
        "every run succeeded": runs.get("succeeded", 0) == len(ids),
        "every stored event delivered": not lost,
        "nothing delivered that was not stored": not phantom,
    }
    return {
        "accepted_2xx": accepted,
        "stored_custom_events": len(ids),
        "derived_events": events,
        "undispatched_events": undispatched,
        "runs_by_status": runs,
        "max_runs_per_event": max_runs_per_event,
        "webhook_steps_by_status": steps,
        "webhook_attempts": attempts,
        "undelivered_examples": lost[:10],
        "undelivered": len(lost),
        "pending_at_cutoff": undispatched + sum(v for k, v in runs.items() if k not in FINAL),
        "phantom": len(phantom),
        "checks": checks,
        "ok": all(checks.values()),
    }


def run_ours(args, procs: c.Procs, receiver: Receiver, log_dir: Path) -> dict:
    """Each phase on a fresh stack (new database, flushed Redis, new processes), so a backlog left
    by one phase never slows the next."""
    result: dict = {
        "config": {
            "api": f"{os.environ.get('AUTOMATION_API_SERVER') or 'granian'} (WSGI), {args.api_workers} workers × {args.api_threads} threads",
            "rq_workers": args.rq_workers,
            "scheduler": not args.no_scheduler,
        }
    }
    for mode in args.modes:
        print(f"  ours: {mode} phase", flush=True)
        result[mode] = ours_phase(args, mode, procs, receiver, log_dir / f"ours-{mode}")
    return result


_HISTORY = """
INSERT INTO custom_events (id, name, data, created_at)
  SELECT 'past-' || g, 'page_view', '{"page": "/catalog"}', now() - interval '1 day'
  FROM generate_series(1, %(n)s) g;
INSERT INTO events (trigger, subject_id, data, created_at, dispatched_at)
  SELECT 'custom_event', 'past-' || g, '{"name": "page_view"}', now() - interval '1 day', now() - interval '1 day'
  FROM generate_series(1, %(n)s) g;
INSERT INTO runs (id, flow_version, flow_name, definition, trigger, event_type, status, triggered, counted,
                  context, created_at, updated_at)
  SELECT 'past-run-' || g, 1, 'past', '{}', 'event', 'custom_event', 'succeeded', true, true, '{}',
         now() - interval '1 day', now() - interval '1 day'
  FROM generate_series(1, %(n)s) g;
INSERT INTO steps (run_id, node_id, node_type, status, attempts, state)
  SELECT 'past-run-' || g, n, 'action.webhook', 'succeeded', 1, '{}'
  FROM generate_series(1, %(n)s) g, (VALUES ('trigger'), ('send')) AS s(n);
ANALYZE;
"""


def seed_history(db_url: str, events: int) -> None:
    """A site in use (``--history``): ``events`` custom events of yesterday, dispatched, each with
    its run and two steps, analysed — tables past a young table's plans (storage/bulk.py prepares
    the claim, the subjects' read and the updates by key only from 64 pages on)."""
    import psycopg

    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for statement in filter(str.strip, _HISTORY.split(";")):
            conn.execute(statement, {"n": events} if "%(n)s" in statement else None)


def ours_phase(args, mode: str, procs: c.Procs, receiver: Receiver, log_dir: Path) -> dict:
    db_name, db_url = c.create_database("bench_e2e")
    redis = c.redis_url()
    c.flush_redis(redis)
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    env = c.app_env(
        db_url, redis, c.CACHE / "bench-data", AUTOMATION_QUEUE=queue, AUTOMATION_INGEST_RATE=50_000
    )
    procs.log_dir = log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    try:
        c.migrate(env, log_dir / "migrate.log")
        if args.history:
            seed_history(db_url, args.history)
        base, api = c.start_api(procs, env, args.api_workers, args.api_threads)
        groups = {"api": api.pid}
        server = str(c.TARGET / "server.py")
        for i in range(args.rq_workers):
            groups[f"rq-worker-{i}"] = procs.start(
                f"rq-worker-{i}", [*c.background_python(), server, "worker"], env
            ).pid
        if not args.no_scheduler:
            groups["scheduler"] = procs.start(
                "scheduler", [*c.background_python("scheduler"), server, "scheduler"], env
            ).pid
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {c.TOKEN}"
        c.wait_healthy(procs, base, args.rq_workers)
        r = http.post(base + "/api/v1/flows", json=bench_flow(receiver.url), timeout=30)
        if r.status_code != 201:
            raise RuntimeError(f"creating the bench flow failed: {r.status_code} {r.text}")
        warm(
            receiver,
            lambda i: http.post(
                base + "/api/v1/events",
                json={"id": f"warm-{i}", "name": "bench", "data": {"n": i, "sent_at": time.time() * 1000}},
                timeout=30,
            ),
        )
        events_url = base + "/api/v1/events"
        prefix = f"ours{mode}{uuid.uuid4().hex[:6]}"
        receiver.reset()
        sampler = c.Sampler(groups, pg_database=db_name, helpers={"receiver": receiver.pid}).start()
        if mode == "rate":
            load = rate_phase(events_url, prefix, args.rate, args.rate_duration, args.connections, c.TOKEN)
        else:
            load = wrk_phase(events_url, prefix, args.duration, args.connections, args.wrk_threads, c.TOKEN)
        drained = drain(receiver, lambda: stored_count(db_url, prefix), args.drain_timeout)
        sampled = sampler.stop()
        procs.check_alive()
        stats = analyze(receiver.records(), prefix, load, args.warmup if mode == "closed" else 1.0)
        ids = stats.pop("ids")
        db = verify_db(db_url, prefix, ids, load, args.connections, mode == "closed")
        db["rq_queue_length_at_cutoff"] = queue_length(redis, queue)
        cpu = sampled["cpu"]
        cpu["ms_per_delivered_action"] = per_action(
            cpu["system_under_test_s"] + cpu["postgres_backends_s"], stats["delivered"]
        )
        trees = cpu["by_process_tree_s"]
        cpu["ms_per_action_by_part"] = {
            "api": per_action(trees.get("api", 0.0), stats["delivered"]),
            "rq_workers": per_action(
                sum(v for k, v in trees.items() if k.startswith("rq-worker")), stats["delivered"]
            ),
            "scheduler": per_action(trees.get("scheduler", 0.0), stats["delivered"]),
            "postgres": per_action(cpu["postgres_backends_s"], stats["delivered"]),
        }
        return {
            "load": load,
            "delivery": stats,
            "drain": drained,
            "db": db,
            "cpu": cpu,
            "rss_mb": rss_summary(sampled["rss_peaks_mb"], args.rq_workers),
            "log_errors": procs.errors(),
            "logs": str(log_dir),
        }
    finally:
        procs.stop_all_but("receiver")
        if not args.keep_db:
            c.drop_database(db_name)


def per_action(cpu_s: float, delivered: int) -> float | None:
    return round(cpu_s * 1000 / delivered, 2) if delivered else None


def queue_length(url: str, queue: str) -> int | None:
    import redis

    try:
        client = redis.Redis.from_url(url)
        return int(client.llen(f"rq:queue:{queue}"))
    except redis.RedisError:
        return None


def rss_summary(peaks: dict[str, float], rq_workers: int) -> dict:
    def top(names):
        values = [peaks[n] for n in names if n in peaks]
        return max(values) if values else None

    return {
        "api_master": peaks.get("api"),
        "api_worker_max": peaks.get("api/child"),
        "rq_worker_max": top(f"rq-worker-{i}" for i in range(rq_workers)),
        "rq_work_horse_max": top(f"rq-worker-{i}/child" for i in range(rq_workers)),
        "scheduler": peaks.get("scheduler"),
        "all_peaks": peaks,
    }


def warm(receiver: Receiver, post, n: int = 10) -> None:
    receiver.reset()
    for i in range(n):
        post(i).raise_for_status()
    c.wait_until(lambda: receiver.count() >= n, 60, "warm-up deliveries")


# -- Node-RED ----------------------------------------------------------------------------------


def run_node_red(args, procs: c.Procs, receiver: Receiver, log_dir: Path) -> dict:
    _install, version = nodered.install()
    result: dict = {"version": version, "config": "in memory, nothing stored; http response 200 right away"}
    procs.log_dir = log_dir / "node-red"
    procs.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        base, pid = nodered.start(
            procs, receiver.url, c.CACHE / "bench-node-red", keepalive=args.node_red_keepalive
        )
        result["http_request_keepalive"] = args.node_red_keepalive
        url = base + "/event"
        warm(
            receiver,
            lambda i: requests.post(
                url,
                json={"id": f"warm-{i}", "name": "bench", "data": {"n": i, "sent_at": time.time() * 1000}},
                timeout=30,
            ),
        )
        if args.node_red_warm > 0:  # V8 compiles the hot paths during the first thousands of messages
            receiver.reset()
            burst = wrk_phase(url, "warmburst", args.node_red_warm, args.connections, args.wrk_threads, None)
            drain(receiver, lambda: burst["ok"], 15, stall=5)
            result["warm_burst"] = {"seconds": args.node_red_warm, "requests": burst["requests"]}
        run_id = uuid.uuid4().hex[:6]
        for mode in args.modes:
            prefix = f"red{mode}{run_id}"
            receiver.reset()
            sampler = c.Sampler({"node-red": pid}, helpers={"receiver": receiver.pid}).start()
            if mode == "rate":
                load = rate_phase(url, prefix, args.rate, args.rate_duration, args.connections, None)
            else:
                load = wrk_phase(url, prefix, args.duration, args.connections, args.wrk_threads, None)
            drained = drain(receiver, lambda load=load: load["ok"], args.drain_timeout)
            sampled = sampler.stop()
            procs.check_alive()
            stats = analyze(receiver.records(), prefix, load, args.warmup if mode == "closed" else 1.0)
            stats.pop("ids")
            stats["not_delivered"] = max(0, load["ok"] - stats["delivered"])
            cpu = sampled["cpu"]
            cpu["ms_per_delivered_action"] = per_action(cpu["system_under_test_s"], stats["delivered"])
            result[mode] = {
                "load": load,
                "delivery": stats,
                "drain": drained,
                "cpu": cpu,
                "rss_mb": {"node": sampled["rss_peaks_mb"].get("node-red")},
            }
        return result
    finally:
        procs.stop_all_but("receiver")


# -- report ------------------------------------------------------------------------------------


def rows_for(system: str, res: dict, modes) -> tuple[list[list], list[list]]:
    """(throughput and latency rows, resource rows) of one system."""
    rows, resources = [], []
    for mode in modes:
        if mode not in res:
            continue
        ph = res[mode]
        load, d, cpu = ph["load"], ph["delivery"], ph["cpu"]
        rss = ph["rss_mb"]
        if "node" in rss:
            mem = f"node {fmt_mb(rss['node'])}"
        else:
            mem = (
                f"api master {fmt_mb(rss['api_master'])}, api worker {fmt_mb(rss['api_worker_max'])}, "
                f"rq worker {fmt_mb(rss['rq_worker_max'])}, horse {fmt_mb(rss['rq_work_horse_max'])}"
            )
        if "db" in ph:
            lost, pending = ph["db"]["undelivered"], ph["db"]["pending_at_cutoff"]
        else:
            lost, pending = d.get("not_delivered"), None
        rows.append(
            [
                system,
                mode,
                load["requests_per_s"],
                load["non_2xx"] + load["socket_errors"] + load.get("unsent_server_too_slow", 0),
                load["api_latency_ms"]["p99"],
                d["delivered_per_s_steady"],
                d["delivered_per_s_overall"],
                d["delivered"],
                lost,
                pending,
                d["duplicates"],
                d["latency_ms"]["p50"],
                d["latency_ms"]["p99"],
            ]
        )
        parts = cpu.get("ms_per_action_by_part")
        split = f" (api {parts['api']}, rq {parts['rq_workers']}, pg {parts['postgres']})" if parts else ""
        resources.append(
            [
                system,
                mode,
                f"{cpu['ms_per_delivered_action']}{split}",
                cpu["system_under_test_s"],
                cpu["postgres_backends_s"],
                cpu["redis_s"],
                cpu["others_cores"],
                mem,
            ]
        )
    return rows, resources


def fmt_mb(v) -> str:
    return "—" if v is None else f"{v:.0f}MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=20, help="closed-loop (wrk) seconds")
    parser.add_argument("--warmup", type=float, default=4, help="seconds excluded from the steady window")
    parser.add_argument("--rate", type=float, default=200, help="offered events/s of the rate phase")
    parser.add_argument("--rate-duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument(
        "--api-workers",
        type=int,
        default=None,
        help="default: the product's (plugin.processes.default_api_workers)",
    )
    parser.add_argument("--api-threads", type=int, default=8)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--no-scheduler", action="store_true")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=15,
        help="seconds to wait for deliveries after the load; what is left is reported as pending",
    )
    parser.add_argument("--modes", default="rate,closed", help="comma list of rate, closed")
    parser.add_argument(
        "--node-red-warm",
        type=int,
        default=3,
        help="seconds of wrk load before Node-RED is measured (JIT warm-up); 0 = none",
    )
    parser.add_argument(
        "--node-red-keepalive",
        action="store_true",
        help="tick «Enable connection keep-alive» on the http request node (off by default, as in Node-RED)",
    )
    parser.add_argument("--skip-ours", action="store_true")
    parser.add_argument("--skip-node-red", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="events already dispatched before the load, with their runs and steps (a site in use)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/e2e.json")
    parser.add_argument(
        "--print",
        action="store_true",
        help="only print the tables of bench/results/e2e.json (comparison recomputed and stored)",
    )
    args = parser.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.api_workers is None:
        try:  # the tree under test's own default (an older export has none: it used 2)
            from plugin.processes import default_api_workers
        except ImportError:
            args.api_workers = 2
        else:
            gunicorn = (os.environ.get("AUTOMATION_API_SERVER") or "").strip().lower() == "gunicorn"
            args.api_workers = 2 if gunicorn else default_api_workers("postgresql://")
    if args.print:
        path = c.RESULTS / "e2e.json"
        results = json.loads(path.read_text())
        print(
            f"{path.relative_to(c.ROOT)}: finished {results.get('finished_at')}, {results.get('git')}, "
            f"machine {results.get('machine')}"
        )
        report(results, results["params"]["modes"])
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
        return 0
    if subprocess.run(["which", "wrk"], capture_output=True, check=False).returncode != 0:
        print("wrk is missing: installing it with apt-get (Debian package wrk)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)

    log_dir = c.LOGS / "e2e"
    procs = c.Procs(log_dir)
    started = time.monotonic()
    results: dict = {"params": {k: v for k, v in vars(args).items() if k != "no_write"}}
    try:
        receiver = Receiver(procs)
        if not args.skip_ours:
            print("ours: PostgreSQL + Redis, API server + RQ workers …", flush=True)
            results["ours"] = run_ours(args, procs, receiver, log_dir)
        if not args.skip_node_red:
            print("Node-RED …", flush=True)
            results["node_red"] = run_node_red(args, procs, receiver, log_dir)
    finally:
        procs.stop_all()
    results["seconds"] = round(time.monotonic() - started, 1)
    report(results, args.modes)
    if not args.no_write:
        print(f"results: {c.write_results('e2e', results).relative_to(c.ROOT)}")
    return 0


def report(results: dict, modes) -> None:
    """Print the tables and the comparison (also stored into ``results``)."""
    headers = [
        "system",
        "mode",
        "API req/s",
        "errors+unsent",
        "API p99 ms",
        "delivered/s steady",
        "delivered/s sustained",
        "delivered",
        "undelivered",
        "pending",
        "dups",
        "e2e p50 ms",
        "e2e p99 ms",
    ]
    res_headers = [
        "system",
        "mode",
        "CPU ms/action",
        "SUT CPU s",
        "PG backends CPU s",
        "Redis CPU s",
        "others' busy cores",
        "peak RSS per process",
    ]
    rows, resources = [], []
    for key, label in (("ours", "ours (PG+Redis)"), ("node_red", "Node-RED")):
        if key in results:
            if key == "node_red":
                label = f"Node-RED {results['node_red']['version']}"
            r1, r2 = rows_for(label, results[key], modes)
            rows += r1
            resources += r2
    print()
    print(c.table(headers, rows))
    print(c.table(res_headers, resources))

    comparison = compare(results)
    results["comparison"] = comparison
    for line in comparison["lines"]:
        print(line)
    if "ours" in results:
        for mode in modes:
            db = results["ours"].get(mode, {}).get("db")
            if db:
                failed = [k for k, v in db["checks"].items() if not v]
                print(
                    f"DB check ({mode}): stored {db['stored_custom_events']:,} events, runs {db['runs_by_status']}, "
                    f"webhook steps {db['webhook_steps_by_status']} — "
                    + ("OK" if not failed else "FAILED: " + "; ".join(failed))
                )
    for system in ("ours", "node_red"):
        for mode in modes:
            for proc, err in (results.get(system, {}).get(mode, {}).get("log_errors") or {}).items():
                print(
                    f"{system} {mode} log {proc}.log: {err['tracebacks']} traceback(s), last: {err['last']}"
                )


def compare(results: dict) -> dict:
    lines, out = [], {}
    ours = results.get("ours", {})
    red = results.get("node_red", {})
    ours_rate = ours.get("closed", {}).get("delivery", {}).get("delivered_per_s_steady")
    red_rate = red.get("closed", {}).get("delivery", {}).get("delivered_per_s_steady")
    if ours_rate is not None and red_rate:
        ratio = ours_rate / red_rate
        out["ours_over_node_red"] = round(ratio, 3)
        lines.append(
            f"ours / Node-RED delivered actions/s: {ours_rate:,.1f} / {red_rate:,.1f} = {ratio:.2f} "
            f"(target ≥ {TARGETS['ratio_vs_node_red']:.1f}: {c.verdict(ratio, TARGETS['ratio_vs_node_red'], True)})"
        )
    ours_sus = ours.get("closed", {}).get("delivery", {}).get("delivered_per_s_overall")
    red_sus = red.get("closed", {}).get("delivery", {}).get("delivered_per_s_overall")
    if ours_sus and red_sus:
        out["ours_over_node_red_sustained"] = round(ours_sus / red_sus, 3)
        lines.append(
            f"  sustained (every delivery of the phase / load start → last delivery): {ours_sus:,.1f} / "
            f"{red_sus:,.1f} = {ours_sus / red_sus:.2f}"
        )
    if ours_rate is not None:
        lo, hi = N8N_REF["actions_per_s"]
        out["times_n8n"] = [round(ours_rate / hi, 1), round(ours_rate / lo, 1)]
        lines.append(
            f"ours vs n8n reference {lo}–{hi}/s: {ours_rate / hi:,.1f}×–{ours_rate / lo:,.1f}× "
            f"(target ≥ {TARGETS['times_n8n']}× of 30/s = 1,500/s: {c.verdict(ours_rate / hi, TARGETS['times_n8n'], True)})"
        )
    p99 = ours.get("rate", {}).get("delivery", {}).get("latency_ms", {}).get("p99")
    if p99 is not None:
        rate = results["params"]["rate"]
        out["ours_rate_p99_ms"] = p99
        lines.append(
            f"ours p99 event → delivery at {rate:g} events/s: {p99:,.1f} ms "
            f"(target ≤ {TARGETS['rate_p99_ms']} ms: {c.verdict(p99, TARGETS['rate_p99_ms'], False)})"
        )
    mem = []
    for mode in ("rate", "closed"):
        rss = ours.get(mode, {}).get("rss_mb")
        if rss:
            mem += [v for k, v in rss.items() if k != "all_peaks" and v is not None]
    if mem:
        peak = max(mem)
        out["ours_max_process_rss_mb"] = peak
        lines.append(
            f"ours largest process RSS under load: {peak:,.0f} MB "
            f"(target ≤ {TARGETS['rss_mb']} MB each: {c.verdict(peak, TARGETS['rss_mb'], False)})"
        )
    ours_cpu = ours.get("closed", {}).get("cpu", {}).get("ms_per_delivered_action")
    red_cpu = red.get("closed", {}).get("cpu", {}).get("ms_per_delivered_action")
    if ours_cpu and red_cpu:
        out["cpu_per_action_ours_over_node_red"] = round(ours_cpu / red_cpu, 2)
        lines.append(
            f"CPU per delivered action (closed loop; less sensitive to a busy machine): ours {ours_cpu} ms "
            f"(incl. PostgreSQL) vs Node-RED {red_cpu} ms = {ours_cpu / red_cpu:.1f}× the CPU"
        )
    red_rss = red.get("closed", {}).get("rss_mb", {}).get("node")
    if red_rss:
        lines.append(f"Node-RED RSS under load: {red_rss:,.0f} MB (reference ~{NODE_RED_REF['rss_mb']} MB)")
    out["lines"] = lines
    out["targets"] = TARGETS
    out["references"] = {"node_red": NODE_RED_REF, "n8n": N8N_REF}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
