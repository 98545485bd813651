#!/usr/bin/env python3
"""Waits of ``flow.wait_event`` at scale (issue #20): 100,000 runs waiting, then

  1. an incoming status change finds its run and resolves it — ``waits.resolve`` (the look-up
     by ``(kind, subject)`` among the waiting rows and the conditional UPDATE of the wait and
     its run) plus the commit, as dispatch does it in the transaction of the event's runs —
     timed per event over ``--events`` random orders (target ≤ 5 ms);
  2. the sweeper's timeout pass (``waits.sweep_timeouts``) with none of them due (the steady
     state, every ``AUTOMATION_SWEEP_INTERVAL``), then with every one of them past its timeout
     in one pass (target ≤ 1 s each).

A fresh PostgreSQL database migrated with ``server.py migrate``; the runs and waits inserted in
bulk on the server (``INSERT … SELECT generate_series``), timeouts spread over 1–3 days.

    python bench/waits.py
    python bench/waits.py --runs 20000 --events 100
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import namedtuple
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

LOOKUP_TARGET_MS = 5.0
SWEEP_TARGET_S = 1.0
Event = namedtuple("Event", "id trigger subject_id data created_at")


def fill(db_url: str, runs: int, now) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(db_url) as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            """INSERT INTO runs (id, flow_id, flow_version, flow_name, definition, trigger, event_type, status,
                                 triggered, context, order_id, client_id, created_at, updated_at,
                                 next_attempt_at, counted)
               SELECT 'run' || g, 'flow1', 1, 'Брошенная корзина', '{}', 'event', 'order_created', 'waiting',
                      false, '{}', 'o' || g, 'c' || g, %(now)s, %(now)s, %(now)s + interval '3 days', false
               FROM generate_series(1, %(runs)s) g""",
            {"now": now, "runs": runs},
        )
        conn.execute(
            """INSERT INTO journey_waits (run_id, node_id, flow_id, kind, subject, params, state, timeout_at,
                                          created_at)
               SELECT 'run' || g, 'wait', 'flow1', 'order_status_changed', 'order:o' || g, '{"to_group": "paid"}',
                      'waiting', %(now)s + interval '1 day' + random() * interval '2 days', %(now)s
               FROM generate_series(1, %(runs)s) g""",
            {"now": now, "runs": runs},
        )
        conn.execute("ANALYZE runs")
        conn.execute("ANALYZE journey_waits")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    name, db_url = c.create_database("bench_waits")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = c.app_env(db_url, "redis://127.0.0.1:6379/15", Path(tmp))
            c.migrate(env, Path(tmp) / "migrate.log")
        result = run(db_url, args)
    finally:
        if not args.keep_db:
            c.drop_database(name)
    path = c.write_results("waits", result)
    print(f"\nresults: {path}")


def run(db_url: str, args) -> dict:
    from plugin.engine import waits
    from plugin.registry import get_registry
    from plugin.storage.db import WORKER_CONFIG, Database
    from plugin.storage.models import utcnow

    now = utcnow()
    filled = fill(db_url, args.runs, now)
    print(f"{args.runs:,} runs waiting, inserted in {filled:.1f} s")
    database = Database({"SQLALCHEMY_DATABASE_URI": db_url, **WORKER_CONFIG})
    session = database.new_session()
    registry = get_registry()
    rng = random.Random(42)
    orders = rng.sample(range(1, args.runs + 1), args.events)
    timings, commits, resolved = [], [], 0
    for i, g in enumerate(orders):
        event = Event(i + 1, "order_status_changed", f"o{g}", {"from": "Новая", "to": "Оплачен"}, utcnow())
        context = {"order": {"id": f"o{g}", "status_group": "paid", "client_id": f"c{g}"}, "client": None}
        session.execute(
            __import__("sqlalchemy").text("SELECT 1")
        )  # the transaction is open, as dispatch's is
        started = time.perf_counter()
        found = waits.resolve(session, registry, [event], {event.id: context}, utcnow())
        timings.append((time.perf_counter() - started) * 1000)
        session.commit()  # dispatch commits it with the event's runs: timed apart
        commits.append((time.perf_counter() - started) * 1000)
        resolved += found == [f"run{g}"]
    timings.sort()
    commits.sort()
    p50, p95, p99 = (c.percentile(timings, p) for p in (50, 95, 99))
    with_commit = {f"p{p}": c.percentile(commits, p) for p in (50, 95, 99)}
    plan = (
        session.execute(
            __import__("sqlalchemy").text(
                "EXPLAIN SELECT id FROM journey_waits WHERE state = 'waiting' AND kind = 'order_status_changed' "
                "AND subject = 'order:o1'"
            )
        )
        .scalars()
        .all()
    )
    session.commit()

    started = time.perf_counter()
    none_due = waits.sweep_timeouts(session, utcnow(), limit=args.runs)
    idle_s = time.perf_counter() - started
    assert none_due == [], len(none_due)
    session.execute(
        __import__("sqlalchemy").text("UPDATE journey_waits SET timeout_at = :t WHERE state = 'waiting'"),
        {"t": utcnow() - timedelta(seconds=1)},
    )
    session.commit()
    session.execute(__import__("sqlalchemy").text("ANALYZE journey_waits"))
    session.commit()
    started = time.perf_counter()
    first = waits.sweep_timeouts(session, utcnow())  # the default pass: up to 5,000
    chunk_s = time.perf_counter() - started
    started = time.perf_counter()
    timed_out = waits.sweep_timeouts(session, utcnow(), limit=args.runs)
    all_due_s = time.perf_counter() - started
    timed_out = first + timed_out
    waiting_left = args.runs - args.events
    print(
        c.table(
            ["measure", "value", "target", "verdict"],
            [
                ["status change → its run (p50 ms)", c.fmt(p50, 2), "", ""],
                [
                    "status change → its run (p95 ms)",
                    c.fmt(p95, 2),
                    f"≤ {LOOKUP_TARGET_MS}",
                    c.verdict(p95, LOOKUP_TARGET_MS, False),
                ],
                ["status change → its run (p99 ms)", c.fmt(p99, 2), "", ""],
                [
                    "  + its commit (p50 / p95 ms)",
                    f"{c.fmt(with_commit['p50'], 2)} / {c.fmt(with_commit['p95'], 2)}",
                    "",
                    "",
                ],
                [
                    "events that found their run",
                    f"{resolved}/{args.events}",
                    "all",
                    "PASS" if resolved == args.events else "FAIL",
                ],
                [
                    "sweeper pass, none due (s)",
                    c.fmt(idle_s, 4),
                    f"≤ {SWEEP_TARGET_S}",
                    c.verdict(idle_s, SWEEP_TARGET_S, False),
                ],
                [
                    f"sweeper pass, all due: first {len(first):,} (s)",
                    c.fmt(chunk_s, 3),
                    f"≤ {SWEEP_TARGET_S}",
                    c.verdict(chunk_s, SWEEP_TARGET_S, False),
                ],
                [f"one pass over the other {len(timed_out) - len(first):,} (s)", c.fmt(all_due_s, 3), "", ""],
            ],
        )
    )
    print("look-up plan:\n  " + "\n  ".join(plan))
    session.close()
    database.dispose()
    return {
        "runs_waiting": args.runs,
        "fill_seconds": round(filled, 2),
        "lookup_ms": {"p50": p50, "p95": p95, "p99": p99, "max": timings[-1], "events": args.events},
        "resolved": resolved,
        "sweep_none_due_s": round(idle_s, 4),
        "lookup_with_commit_ms": with_commit,
        "sweep_first_pass_s": round(chunk_s, 4),
        "sweep_first_pass_count": len(first),
        "sweep_rest_in_one_pass_s": round(all_due_s, 3),
        "sweep_all_due_count": len(timed_out),
        "expected_due": waiting_left,
        "lookup_plan": plan,
    }


if __name__ == "__main__":
    main()
