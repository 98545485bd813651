"""Scenario analytics on 90 days of history: ``GET /flows/{id}/stats`` and ``/stats/overview``.

A fresh PostgreSQL database, ``python server.py migrate``, then generated history in SQL (fast,
no engine): ``--flows`` scenarios (default 200) and ``--runs`` runs (default 5,000,000) spread
over 90 days, skewed (scenario k gets a share ∝ 1/(k+10): the busiest has ~3 %), 90 % succeeded
with their action step, 4 % failed, 6 % not triggered; ``--orders`` orders of the same clients,
a third paid. The hourly rollup is filled the way migration 0014 counts runs (the engine writes
the same numbers as runs change) plus each scenario's «seen» events; conversions by the real
attribution pass (timed). Then each endpoint is asked ``--requests`` times through the Flask app
in process (scenario and period drawn at random: 7, 30 or 90 days, by day; 7 days by the hour),
with the database's buffers warm, as a marketer clicking through the charts would.

Target (issue #19): p95 < 100 ms for both. Results: bench/results/stats.json, README "Analytics".
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

TARGET_MS = 100.0


def generate(url: str, flows: int, runs: int, orders: int) -> dict:
    import psycopg

    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO flows (id, name, enabled, version, event_type, definition, created_at, updated_at,
                   triggered_count, failed_count, suppressed_count)
               SELECT 'f' || k, 'Сценарий ' || k, true, 1, 'event.order_created',
                   jsonb_build_object('name', 'Сценарий ' || k, 'nodes', jsonb_build_array(
                       jsonb_build_object('id', 'start', 'type', 'event.order_created', 'params', '{}'::jsonb),
                       jsonb_build_object('id', 'hook', 'type', 'action.webhook',
                           'params', jsonb_build_object('url', 'http://127.0.0.1:9/'))),
                     'edges', jsonb_build_array(jsonb_build_object('from', 'start', 'to', 'hook')))::json,
                   now() - interval '100 days', now(), 0, 0, 0
               FROM generate_series(0, %s - 1) k""",
            (flows,),
        )
        # a share of the runs ∝ 1/(k+10): scenario k's runs are the rows whose draw falls in its slice
        conn.execute(
            """CREATE TEMP TABLE shares AS
               SELECT k, sum(1.0 / (k + 10)) OVER (ORDER BY k) / sum(1.0 / (k + 10)) OVER () AS upto
               FROM generate_series(0, %s - 1) k""",
            (flows,),
        )
        conn.execute(
            """INSERT INTO runs (id, flow_id, flow_version, flow_name, definition, trigger, event_type, status,
                   triggered, context, order_id, client_id, created_at, updated_at, finished_at, counted, branch)
               SELECT 'r' || g, 'f' || (SELECT min(k) FROM shares WHERE upto >= d.draw), 1, '', '{}', 'event',
                   'order_created', d.status, d.status <> 'not_triggered', '{}', 'o' || (g %% %s),
                   'c' || (g %% %s), d.at, d.at, d.at + interval '2 seconds', d.status <> 'not_triggered',
                   CASE WHEN d.status = 'succeeded' THEN 'hook' END
               FROM generate_series(1, %s) g,
                   LATERAL (SELECT random() AS draw, now() at time zone 'utc' - random() * interval '90 days' AS at,
                       CASE WHEN g %% 100 < 90 THEN 'succeeded' WHEN g %% 100 < 94 THEN 'failed'
                            ELSE 'not_triggered' END AS status, g AS gg) d""",
            (orders, orders, runs),
        )
        conn.execute(
            """INSERT INTO steps (run_id, node_id, node_type, status, attempts, state, started_at, finished_at)
               SELECT id, 'hook', 'action.webhook', status, 1, '{}', created_at, finished_at
               FROM runs WHERE status IN ('succeeded', 'failed')"""
        )
        conn.execute(
            """INSERT INTO flow_stats (flow_id, bucket, triggered, succeeded, failed, suppressed, not_triggered, fired,
                   sends, le_100, le_250, le_500, le_1000, le_2500, le_5000, le_10000, send_ms)
               SELECT flow_id, date_trunc('hour', created_at),
                   SUM(CASE WHEN counted THEN 1 ELSE 0 END),
                   SUM(CASE WHEN counted AND status = 'succeeded' THEN 1 ELSE 0 END),
                   SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0, 0,
                   SUM(CASE WHEN counted THEN 1 ELSE 0 END), 0, 0, 0, 0, 0, 0, 0, 0, 0
               FROM runs GROUP BY flow_id, date_trunc('hour', created_at)"""
        )
        conn.execute(
            "INSERT INTO stats_groups (group_id, flow_id) SELECT 'g' || (substr(id, 2)::int % 8), id FROM flows"
        )
        conn.execute(  # the same counts by the Moscow day, as the engine writes them
            """INSERT INTO flow_stats_days (flow_id, day, triggered, succeeded, failed, suppressed, not_triggered, fired,
                   sends, le_100, le_250, le_500, le_1000, le_2500, le_5000, le_10000, send_ms)
               SELECT flow_id, (bucket AT TIME ZONE 'UTC' AT TIME ZONE 'Europe/Moscow')::date,
                   sum(triggered), sum(succeeded), sum(failed), 0, 0, sum(fired), 0, 0, 0, 0, 0, 0, 0, 0, 0
               FROM flow_stats GROUP BY 1, 2"""
        )
        conn.execute(
            """INSERT INTO stats_seen (group_id, bucket, count)
               SELECT 'g' || (substr(flow_id, 2)::int % 8), date_trunc('hour', created_at), count(*)
               FROM runs GROUP BY 1, 2"""
        )
        conn.execute(
            """INSERT INTO orders (id, price, status, status_group, created_at, paid_at, client_id, fields,
                   first_seen_at, updated_at)
               SELECT 'o' || g, 1000 + (g %% 50) * 100, CASE WHEN g %% 3 = 0 THEN 'Оплачен' ELSE 'Новая' END,
                   CASE WHEN g %% 3 = 0 THEN 'paid' ELSE 'in_work' END, d.at,
                   CASE WHEN g %% 3 = 0 THEN d.at + interval '3 days' END, 'c' || g, '{}', d.at, d.at
               FROM generate_series(0, %s - 1) g,
                   LATERAL (SELECT now() at time zone 'utc' - random() * interval '90 days' AS at, g AS gg) d""",
            (orders,),
        )
        # what autovacuum does to a table after bulk inserts: statistics, and the visibility map
        # that lets index-only scans skip the heap
        conn.execute("VACUUM ANALYZE")
    return {"generate_seconds": round(time.monotonic() - started, 1)}


def attribute(app, url: str) -> dict:
    from plugin.api.extensions import db
    from plugin.engine import attribution

    started, total = time.monotonic(), 0
    with app.app_context():
        total = attribution.catch_up(
            db.session, now=datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=10)
        )
    seconds = round(time.monotonic() - started, 1)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE conversions")  # as autovacuum would after the pass's inserts
    return {"attribution_seconds": seconds, "conversions": total}


def ask(client, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path, headers={"Authorization": f"Bearer {c.TOKEN}"})
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.get_data(as_text=True)[:300])
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5_000_000)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    name, url = c.create_database("bench_stats")
    redis = c.redis_url()
    data = c.CACHE / "bench-stats"
    data.mkdir(parents=True, exist_ok=True)
    env = c.app_env(url.replace("postgresql://", "postgresql+psycopg://"), redis, data)
    try:
        c.LOGS.mkdir(parents=True, exist_ok=True)
        c.migrate(env, c.LOGS / "stats-migrate.log")
        made = generate(url, args.flows, args.runs, args.orders)
        print(f"generated {args.runs:,} runs in {made['generate_seconds']} s", flush=True)
        app = c.make_app(env)
        made |= attribute(app, url)
        print(
            f"attributed {made['conversions']:,} conversions in {made['attribution_seconds']} s", flush=True
        )
        rng = random.Random(7)
        periods = ["from={}&interval=day", "from={}&interval=day", "from={}&interval=hour"]
        client = app.test_client()

        def since(days: int) -> str:
            from datetime import UTC, datetime, timedelta

            return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

        flow_paths, overview_paths, wide_paths = [], [], []
        for _ in range(args.requests):
            days = rng.choice([7, 30, 90])
            shape = rng.choice(periods)
            if "hour" in shape:
                days = 7
            flow = f"f{rng.randrange(args.flows)}"
            flow_paths.append(f"/api/v1/flows/{flow}/stats?" + shape.format(since(days)))
            overview_paths.append("/api/v1/stats/overview?" + f"from={since(rng.choice([7, 30, 90]))}")
            wide_paths.append(f"/api/v1/stats/overview?window_days=90&from={since(rng.choice([7, 30, 90]))}")
        ask(client, flow_paths[:20] + overview_paths[:10])  # warm: buffers, imports
        rows = []
        results = {}
        measured = [("flow stats", flow_paths), ("overview", overview_paths)]
        measured.append(("overview, window_days=90 (not a target)", wide_paths[: max(1, args.requests // 5)]))
        for label, paths in measured:
            times = ask(client, paths)
            p50, p95 = statistics.median(times), c.percentile(times, 95)
            results[label] = {
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "max_ms": round(max(times), 1),
            }
            rows.append(
                [
                    label,
                    len(times),
                    c.fmt(p50),
                    c.fmt(p95),
                    c.fmt(max(times)),
                    c.verdict(p95, TARGET_MS, False),
                ]
            )
        print(c.table(["endpoint", "requests", "p50 ms", "p95 ms", "max ms", "p95 < 100 ms"], rows))
        if not args.no_write:
            path = c.write_results(
                "stats",
                {"flows": args.flows, "runs": args.runs, "orders": args.orders, **made, "results": results},
            )
            print(f"written: {path}")
        return 0 if all(results[label]["p95_ms"] < TARGET_MS for label in ("flow stats", "overview")) else 1
    finally:
        if not args.keep:
            c.drop_database(name)


if __name__ == "__main__":
    raise SystemExit(main())
