#!/usr/bin/env python3
"""The lean HTTP client against urllib3 called directly (issue 21): CPU per call and per delivered action.

The common outgoing call (a webhook POST): ``LeanTransport`` (plugin/transport/lean_http.py) vs
urllib3's guarded pools called directly (plugin/transport/pool_http.py, ``urlopen`` as requests'
adapter calls it, the SSRF guard's pinned connections); the switch ``AUTOMATION_LEAN_HTTP=urllib3``
(``0``: through requests, shown in the per-call part).

Parts (``--parts micro,e2e``):

* ``micro`` — CPU of this process per call (``time.process_time``), each client in blocks of
  ``--calls`` calls, the clients alternating block by block (``--blocks`` each), against
  ``bench/receiver.py`` in its own process.
* ``e2e`` — the whole product: the closed-loop phase of ``bench/e2e.py`` (granian API, 2 RQ
  workers, the scheduler, PostgreSQL, wrk with 16 connections for ``--duration`` s), once per
  variant per round, for ``--rounds`` rounds, the order of the variants rotating from round to
  round. Reported: CPU ms per delivered action (system under test + its PostgreSQL backends, as
  e2e.py counts it) per run, and per round the library variant ÷ the lean run of the same round;
  medians and spread (min–max). ``--count-redis`` first makes one untimed run with Redis' MONITOR
  on and counts the hot-path script calls (EVALSHA/EVAL) per delivered action.

The same comparison for Redis — the hot-path Lua scripts through a lean RESP client vs redis-py's
``register_script`` — was made at commit 09d4885, where both existed (``AUTOMATION_LEAN_REDIS=0``
there; bench/README.md section 11): redis-py won, the lean Redis client is gone, and this script
measures what remains. ``git checkout 09d4885 && python bench/lean_clients.py`` repeats both.

    python bench/lean_clients.py                         # both parts (≈ 20 min)
    python bench/lean_clients.py --parts micro
    python bench/lean_clients.py --parts e2e --rounds 12 --duration 20

Writes bench/results/lean_clients.json (``--no-write``: not).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

VARIANTS = {  # the environment of each variant of the whole product
    "lean": {"AUTOMATION_LEAN_HTTP": "1"},
    "urllib3": {"AUTOMATION_LEAN_HTTP": "urllib3"},
}


# -- per call ----------------------------------------------------------------------------------


def _blocks(variants: dict, calls: int, blocks: int) -> dict[str, list[float]]:
    """µs of process CPU per call, one figure per block; variants alternate block by block."""
    out: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm-up: connections, code paths
        for _ in range(200):
            fn()
    for b in range(blocks):
        names = list(variants)
        names = names[b % len(names) :] + names[: b % len(names)]
        for name in names:
            fn = variants[name]
            started = time.process_time()
            for _ in range(calls):
                fn()
            out[name].append((time.process_time() - started) * 1e6 / calls)
    return out


def micro_http(calls: int, blocks: int) -> dict:
    from plugin.nodes._services import Settings
    from plugin.transport.net import guarded_client
    from plugin.transport.pool_http import PoolTransport

    procs = c.Procs(c.LOGS / "lean_clients")
    port = c.free_port()
    procs.start("receiver", [sys.executable, str(c.BENCH / "receiver.py"), "--port", str(port)])
    url = f"http://127.0.0.1:{port}/hook"
    settings = Settings(outbound_allowlist=("127.0.0.1",), http_timeout=10)
    sessions = {name: guarded_client(settings) for name in ("lean", "urllib3", "requests")}
    sessions["urllib3"].lean = PoolTransport(sessions["urllib3"].fallback.adapter.poolmanager)
    sessions["requests"].lean = None
    body = json.dumps(
        {
            "event": {"id": "e-1", "name": "bench", "data": {"n": 1, "sent_at": 0}},
            "client": {"id": "c-1", "phone": "+79990000000"},
            "flow": {"id": "f", "name": "bench"},
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "webhook-id": "msg_" + uuid.uuid4().hex,
        "webhook-timestamp": str(int(time.time())),
    }

    def post(session):
        return lambda: session.request(
            "POST", url, data=body, headers=headers, timeout=(5, 10), allow_redirects=False
        )

    try:
        c.wait_until(lambda: post(sessions["requests"])().status_code == 200, 15, "receiver")
        return _blocks({name: post(s) for name, s in sessions.items()}, calls, blocks)
    finally:
        procs.stop_all()


def summary(values: list[float], digits: int = 2) -> dict:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


# -- the whole product -------------------------------------------------------------------------


def e2e_rounds(args, variants: list[str]) -> dict:
    from bench import e2e

    e2e_args = argparse.Namespace(
        duration=args.duration,
        warmup=4,
        connections=16,
        wrk_threads=2,
        api_workers=2,
        api_threads=8,
        rq_workers=2,
        no_scheduler=False,
        drain_timeout=30,
        keep_db=False,
        rate=200,
        rate_duration=10,
    )
    log_dir = c.LOGS / "lean_clients"
    procs = c.Procs(log_dir)
    saved = {k: os.environ.get(k) for k in ("AUTOMATION_LEAN_HTTP",)}
    runs: list[dict] = []
    try:
        receiver = e2e.Receiver(procs)
        names = variants
        if args.count_redis:
            counted = count_evalsha(e2e, e2e_args, procs, receiver, log_dir / "count")
            print(f"  script calls per delivered action (not timed): {counted['per_action']:.3f}", flush=True)
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                os.environ.update(VARIANTS[name])
                phase = e2e.ours_phase(e2e_args, "closed", procs, receiver, log_dir / name)
                runs.append(_run_row(r, name, phase))
                print(
                    f"  round {r + 1} {name:9} {runs[-1]['cpu_ms_per_action']:.4f} CPU ms/action "
                    f"({runs[-1]['delivered_per_s']:,.0f}/s, others' busy cores {runs[-1]['others_cores']})",
                    flush=True,
                )
    finally:
        procs.stop_all()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out = {"runs": runs, "by_variant": _by_variant(runs), "ratios": _ratios(runs)}
    if args.count_redis:
        out["evalsha_count"] = counted
    return out


def count_evalsha(e2e, e2e_args, procs, receiver, log_dir: Path) -> dict:
    """One run of the lean build (not timed) with Redis' MONITOR on: the hot-path script calls per delivered action."""
    import threading

    import redis

    os.environ.update(VARIANTS["lean"])
    db = int(c.redis_url().rsplit("/", 1)[1])
    seen = {"evalsha": 0, "eval": 0}
    stop = threading.Event()

    def watch() -> None:
        with redis.Redis.from_url(c.redis_url()).monitor() as monitor:
            for command in monitor.listen():
                if stop.is_set():
                    return
                if command.get("db") == db and command.get("command", "").upper().startswith(
                    ("EVALSHA ", "EVAL ")
                ):
                    seen["evalsha" if command["command"].upper().startswith("EVALSHA") else "eval"] += 1

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    phase = e2e.ours_phase(e2e_args, "closed", procs, receiver, log_dir)
    stop.set()
    delivered = phase["delivery"]["delivered"]
    return {
        **seen,
        "delivered": delivered,
        "per_action": (seen["evalsha"] + seen["eval"]) / max(delivered, 1),
    }


def _run_row(r: int, name: str, phase: dict) -> dict:
    cpu, delivered = phase["cpu"], phase["delivery"]["delivered"]
    trees = cpu["by_process_tree_s"]
    rq = sum(v for k, v in trees.items() if k.startswith("rq-worker"))
    per = (lambda s: s * 1000 / delivered) if delivered else (lambda s: float("nan"))
    return {
        "round": r + 1,
        "variant": name,
        "delivered": delivered,
        "delivered_per_s": phase["delivery"]["delivered_per_s_steady"],
        "cpu_ms_per_action": per(cpu["system_under_test_s"] + cpu["postgres_backends_s"]),
        "api_ms": per(trees.get("api", 0.0)),
        "rq_ms": per(rq),
        "pg_ms": per(cpu["postgres_backends_s"]),
        "redis_ms": per(cpu["redis_s"]),
        "others_cores": cpu["others_cores"],
        "db_ok": phase["db"]["ok"],
    }


def _by_variant(runs: list[dict]) -> dict:
    out = {}
    for name in VARIANTS:
        mine = [r for r in runs if r["variant"] == name]
        if mine:
            out[name] = {
                k: summary([r[k] for r in mine], 1 if k == "delivered_per_s" else 4)
                for k in ("cpu_ms_per_action", "api_ms", "rq_ms", "pg_ms", "redis_ms", "delivered_per_s")
            }
    return out


def _ratios(runs: list[dict]) -> dict:
    """Per round: each library variant's CPU per action ÷ the lean run's of the same round."""
    out = {}
    for name in VARIANTS:
        if name == "lean":
            continue
        ratios = []
        for r in sorted({x["round"] for x in runs}):
            lean = next((x for x in runs if x["round"] == r and x["variant"] == "lean"), None)
            lib = next((x for x in runs if x["round"] == r and x["variant"] == name), None)
            if lean and lib:
                ratios.append(lib["cpu_ms_per_action"] / lean["cpu_ms_per_action"])
        if ratios:
            out[name] = {
                "per_round": [round(x, 4) for x in ratios],
                **{
                    k: round((v - 1) * 100, 1)
                    for k, v in (
                        ("loss_median_pct", statistics.median(ratios)),
                        ("loss_min_pct", min(ratios)),
                        ("loss_max_pct", max(ratios)),
                    )
                },
            }
    return out


# -- report ------------------------------------------------------------------------------------


def report(results: dict) -> None:
    for part, label in (("redis", "Redis script call"), ("http", "HTTP POST (webhook)")):  # redis: 09d4885
        if part in results.get("micro", {}):
            rows = [
                (name, s["median"], s["min"], s["max"], s["n"]) for name, s in results["micro"][part].items()
            ]
            print(f"\n{label}: µs of client CPU per call")
            print(c.table(["client", "median", "min", "max", "blocks"], rows))
    if "e2e" in results:
        e2e = results["e2e"]
        if "evalsha_count" in e2e:
            print(
                f"\nRedis script calls per delivered action (MONITOR): {e2e['evalsha_count']['per_action']:.3f}"
            )
        rows = [
            (
                name,
                v["cpu_ms_per_action"]["median"],
                f"{v['cpu_ms_per_action']['min']}–{v['cpu_ms_per_action']['max']}",
                v["api_ms"]["median"],
                v["rq_ms"]["median"],
                v["pg_ms"]["median"],
                v["redis_ms"]["median"],
                v["delivered_per_s"]["median"],
                v["cpu_ms_per_action"]["n"],
            )
            for name, v in e2e["by_variant"].items()
        ]
        print("\nwhole product, closed loop: CPU ms per delivered action (SUT + PostgreSQL), medians")
        print(
            c.table(
                ["variant", "CPU ms/action", "range", "api", "rq", "pg", "(redis)", "delivered/s", "runs"],
                rows,
            )
        )
        for name, r in e2e["ratios"].items():
            print(
                f"{name} vs lean, paired by round: CPU per action {r['loss_median_pct']:+.1f} % median "
                f"(range {r['loss_min_pct']:+.1f} … {r['loss_max_pct']:+.1f} %), rounds {r['per_round']}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="micro,e2e")
    parser.add_argument("--calls", type=int, default=2000, help="calls per block (micro)")
    parser.add_argument("--blocks", type=int, default=15, help="blocks per client (micro)")
    parser.add_argument("--rounds", type=int, default=5, help="e2e runs per variant")
    parser.add_argument("--duration", type=int, default=20, help="seconds of wrk load per e2e run")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="e2e variants (comma list)")
    parser.add_argument(
        "--count-redis",
        action="store_true",
        help="first one more lean run with MONITOR on, counting the script calls per action",
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--print", action="store_true", help="print the last results again")
    args = parser.parse_args()
    path = c.RESULTS / "lean_clients.json"
    if args.print:
        report(json.loads(path.read_text()))
        return 0
    parts = {p.strip() for p in args.parts.split(",")}
    results: dict = {"params": vars(args), "started_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    if "micro" in parts:
        print("per call …", flush=True)
        results["micro"] = {"http": {k: summary(v) for k, v in micro_http(args.calls, args.blocks).items()}}
    if "e2e" in parts:
        print("whole product …", flush=True)
        results["e2e"] = e2e_rounds(args, [v.strip() for v in args.variants.split(",")])
    report(results)
    if not args.no_write:
        print(f"\nresults: {c.write_results('lean_clients', results).relative_to(c.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
