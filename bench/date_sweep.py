#!/usr/bin/env python3
"""The N-day sweep over 1,000,000 orders: one ``sweep_days`` call, timed, and exactly once checked.

A fresh PostgreSQL database; 300,000 clients and 1,000,000 orders inserted in bulk on the server
(``INSERT … SELECT generate_series``, seeded): created over the last two years (uniform), 40 %
paid 0–30 days after creation. 20 N-day flows (12 × «С момента создания сделки прошло N дней»,
8 × «… продажи …», N from 1 to 365, half of them with a status condition) saved through the
storage layer with the default 24 h catch-up. Then, in process:

  1. ``sweep_days(session, registry, now=T)`` — timed (target ≤ 2 s); past ``--budget`` (90 s) its
     query is cancelled, the runs it committed are checked (none outside the due set, none twice)
     and the time of the whole sweep is extrapolated from its pace;
  2. the same call again with the same ``T`` — must fire nothing;
  3. every run is compared with the due set computed in SQL (SPEC §3.1: the order's moment,
     time field + N days, within [enabled_at − catch_up_hours, T]): no missing, no extra, no
     duplicate (flow, order);
  4. one more sweep at the real clock (the steady state: only what fell due since T) — timed.

    python bench/date_sweep.py
    python bench/date_sweep.py --orders 200000
"""

from __future__ import annotations

import argparse
import inspect
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

TARGET_S = 2.0
CREATED_DAYS = [1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90]
PAID_DAYS = [1, 2, 3, 7, 14, 30, 60, 365]


def fill(db_url: str, orders: int, clients: int, now) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(db_url) as conn:
        # bulk load: secondary indexes are dropped and rebuilt from their own definitions afterwards
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i LEFT JOIN pg_constraint k ON k.conname = i.indexname "
            "WHERE i.tablename IN ('orders', 'clients') AND k.conname IS NULL"
        ).fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        conn.execute("SELECT setseed(0.42)")
        conn.execute(
            """INSERT INTO clients (external_id, name, phone, email, fields, created_at, updated_at)
               SELECT 'c' || g, 'Клиент ' || g, '+7916' || lpad(g::text, 7, '0'), 'c' || g || '@example.com',
                      '{}', %(now)s, %(now)s
               FROM generate_series(1, %(clients)s) g""",
            {"now": now, "clients": clients},
        )
        conn.execute(
            """INSERT INTO orders (id, price, cost, status, status_group, created_at, paid_at, client_id,
                                   visit_id, responsible_user_id, fields, first_seen_at, updated_at)
               SELECT 'o' || g, round((random() * 100000)::numeric, 2), 0,
                      CASE WHEN paid IS NOT NULL THEN 'Оплачен'
                           ELSE (ARRAY['Новая', 'В работе', 'Отказ'])[1 + floor(random() * 3)::int] END,
                      CASE WHEN paid IS NOT NULL THEN 'paid' ELSE 'in_work' END,
                      created, paid, 'c' || (1 + floor(random() * %(clients)s)::int), NULL, NULL, '{}',
                      created, coalesce(paid, created)
               FROM (SELECT g, created,
                            CASE WHEN random() < 0.4
                                 THEN least(created + random() * interval '30 days', %(now)s) END AS paid
                     FROM (SELECT g, %(now)s - random() * interval '730 days' AS created
                           FROM generate_series(1, %(orders)s) g) a) b""",
            {"now": now, "orders": orders, "clients": clients},
        )
        for _name, definition in indexes:
            conn.execute(definition)
        conn.execute("ANALYZE orders")
        conn.execute("ANALYZE clients")
    return time.perf_counter() - started


def flow_doc(i: int, days: int, event: str) -> dict:
    nodes = [{"id": "start", "type": event, "params": {"days": days, "catch_up_hours": 24}}]
    edges = []
    prev = "start"
    if i % 2 == 1:
        nodes.append({"id": "status", "type": "condition.order_status",
                      "params": {"operator": "in", "value": ["Новая", "В работе", "Оплачен"]}})
        edges.append({"from": "start", "to": "status"})
        prev = "status"
    nodes.append({"id": "hook", "type": "action.webhook", "params": {"url": f"https://hooks.example.com/days/{i}"}})
    edges.append({"from": prev, "to": "hook"})
    return {"format": "automation-flow/1", "name": f"{days} дней ({event.rsplit('_', 1)[-1]})", "enabled": True,
            "nodes": nodes, "edges": edges}


def verify(db_url: str, flows: list[dict], now) -> dict:
    """Runs vs the due set computed in SQL, per flow; duplicates of (flow, order)."""
    import psycopg

    per_flow = []
    with psycopg.connect(db_url) as conn:
        for f in flows:
            column = "created_at" if f["event"].endswith("created") else "paid_at"
            floor = f["enabled_at"] - timedelta(hours=24)
            expected, actual, missing, extra = conn.execute(
                f"""WITH exp AS (SELECT id FROM orders
                                 WHERE {column} IS NOT NULL
                                   AND {column} + %(days)s * interval '1 day' BETWEEN %(floor)s AND %(now)s),
                         act AS (SELECT order_id AS id FROM runs WHERE flow_id = %(flow)s)
                    SELECT (SELECT count(*) FROM exp), (SELECT count(*) FROM act),
                           (SELECT count(*) FROM (SELECT id FROM exp EXCEPT SELECT id FROM act) m),
                           (SELECT count(*) FROM (SELECT id FROM act EXCEPT SELECT id FROM exp) x)""",
                {"days": f["days"], "floor": floor, "now": now, "flow": f["id"]},
            ).fetchone()
            per_flow.append({"event": f["event"], "days": f["days"], "expected": expected, "runs": actual,
                             "missing": missing, "extra": extra})
        duplicates = conn.execute(
            "SELECT count(*) - count(DISTINCT (flow_id, order_id)) FROM runs WHERE trigger = 'schedule'"
        ).fetchone()[0]
        by_status = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    return {"per_flow": per_flow, "duplicates": duplicates, "runs_by_status": by_status}


def timed_sweep(app, sweep_days, registry, db, now, budget: float, db_name: str) -> dict:
    """One sweep_days call in a thread; past ``budget`` s its PostgreSQL query is cancelled (what
    it committed so far stays) so the benchmark stays bounded however slow the sweep is."""
    import psycopg

    box: dict = {}

    def work() -> None:
        with app.app_context():
            try:
                box["fired"] = sweep_days(db.session, registry, now=now)
            except Exception as exc:  # noqa: BLE001 - cancelled by the budget, or a bug: reported
                box["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(budget)
    if thread.is_alive():
        with psycopg.connect(f"{c.PG_BASE}/postgres", autocommit=True) as admin:
            for attempt in range(120):  # cancel the running query; after 3 s, end the connection
                verb = "pg_cancel_backend" if attempt < 10 else "pg_terminate_backend"
                admin.execute(f"SELECT {verb}(pid) FROM pg_stat_activity WHERE datname = %s", (db_name,))
                thread.join(0.3)
                if not thread.is_alive():
                    break
    seconds = time.perf_counter() - started
    thread.join(60)
    cancelled = "fired" not in box and seconds >= budget  # else it finished (maybe past the budget)
    return {"seconds": seconds, "fired": box.get("fired"), "error": box.get("error"),
            "cancelled_after_budget": cancelled}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=300_000)
    parser.add_argument("--budget", type=float, default=90,
                        help="seconds the first sweep may take before it is cancelled (keeps the run bounded)")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    db_name, db_url = c.create_database("bench_sweep")
    redis = c.redis_url()
    c.flush_redis(redis)
    env = c.app_env(db_url, redis, c.CACHE / "bench-data", AUTOMATION_QUEUE=f"bench-{uuid.uuid4().hex[:6]}")
    second = third = None
    try:
        c.migrate(env, c.LOGS / "date_sweep-migrate.log")
        app = c.make_app(env)
        from sqlalchemy import func, select

        from plugin.engine.dispatch import sweep_days
        from plugin.extensions import db
        from plugin.runtime import rt
        from plugin.storage.flows import save_flow
        from plugin.storage.models import Flow, Run, utcnow

        if "now" not in inspect.signature(sweep_days).parameters:
            raise RuntimeError("sweep_days no longer takes now=; update bench/date_sweep.py")
        fill_s = fill(db_url, args.orders, args.clients, utcnow())
        print(f"inserted {args.orders:,} orders and {args.clients:,} clients in {fill_s:.1f} s", flush=True)
        with app.app_context():
            runtime = rt()
            specs = [(d, "event.order_days_since_created") for d in CREATED_DAYS] + \
                    [(d, "event.order_days_since_paid") for d in PAID_DAYS]
            saved = [save_flow(db.session, runtime.registry, runtime.secrets, flow_doc(i, d, e))
                     for i, (d, e) in enumerate(specs)]
            db.session.commit()
            flows = [{"id": f.id, "days": d, "event": e, "enabled_at": f.enabled_at}
                     for f, (d, e) in zip(saved, specs, strict=True)]
            db.session.remove()

        now = utcnow()
        first = timed_sweep(app, sweep_days, runtime.registry, db, now, args.budget, db_name)
        fired = len(first["fired"]) if first["fired"] is not None else None
        print(f"first sweep: {fired if fired is not None else '?'} runs fired in {first['seconds']:.2f} s"
              + (f" — cancelled after the {args.budget:g} s budget" if first["cancelled_after_budget"] else "")
              + (f" ({first['error']})" if first["error"] and not first["cancelled_after_budget"] else ""), flush=True)
        with app.app_context():
            runs_after_first = db.session.scalar(select(func.count()).select_from(Run))
            db.session.remove()
            if not first["cancelled_after_budget"] and not first["error"]:
                t = time.perf_counter()
                second = {"fired": len(sweep_days(db.session, runtime.registry, now=now))}
                second["seconds"] = time.perf_counter() - t
                db.session.remove()
            runs_after_two = db.session.scalar(select(func.count()).select_from(Run))
            db.session.remove()
            check = verify(db_url, flows, now)
            if second is not None:
                t = time.perf_counter()
                third = {"fired": len(sweep_days(db.session, runtime.registry, now=utcnow()))}
                third["seconds"] = time.perf_counter() - t
            watermarks = db.session.scalars(select(Flow.sweep_watermark)).all()
            db.session.remove()
            db.engine.dispose()
    finally:
        if not args.keep_db:
            c.drop_database(db_name)

    rows = [[f"{p['event'].split('.', 1)[1]}", p["days"], p["expected"], p["runs"], p["missing"], p["extra"]]
            for p in check["per_flow"]]
    expected_total = sum(p["expected"] for p in check["per_flow"])
    print(c.table(["event", "N days", "due (SQL)", "runs", "missing", "extra"], rows))
    complete = second is not None
    no_extra = all(p["extra"] == 0 for p in check["per_flow"])
    exact = complete and no_extra and all(p["missing"] == 0 for p in check["per_flow"]) and check["duplicates"] == 0
    checks = {
        "nothing fired outside the due set": no_extra,
        "no duplicate (flow, order)": check["duplicates"] == 0,
    }
    if complete:
        checks["first sweep fired exactly the due set"] = exact
        checks["second sweep (same now) fired nothing"] = second["fired"] == 0 and runs_after_two == runs_after_first
        checks["every flow has a watermark"] = all(w is not None for w in watermarks)
    first_s = first["seconds"]
    runs_per_s = runs_after_first / first_s if first_s else None
    print(c.table(
        ["orders", "flows", "due", "runs created", "1st sweep s", "runs/s", "2nd sweep s", "next sweep s", "exact once"],
        [[args.orders, len(flows), expected_total, runs_after_first,
          f"> {first_s:.1f} (cancelled)" if first["cancelled_after_budget"] else round(first_s, 3),
          round(runs_per_s, 1) if runs_per_s else None,
          round(second["seconds"], 3) if second else None, round(third["seconds"], 3) if third else None,
          exact if complete else "n/a (incomplete)"]],
    ))
    print(f"runs by status: {check['runs_by_status']} (not_triggered = the status condition was false)")
    if first["cancelled_after_budget"] and runs_per_s:
        print(f"the first sweep was cancelled after {args.budget:g} s with {runs_after_first:,} of {expected_total:,} "
              f"runs created; at that pace the whole sweep takes ≈ {expected_total / runs_per_s:,.0f} s")
    verdict = "FAIL" if first["cancelled_after_budget"] else c.verdict(first_s, TARGET_S, False)
    print(f"one sweep_days call over {args.orders:,} orders ({expected_total:,} due): {first_s:.2f} s "
          f"(target ≤ {TARGET_S} s: {verdict})")
    print("checks: " + ("OK" if all(checks.values()) else "FAILED: " + "; ".join(k for k, v in checks.items() if not v)))
    if first["error"] and not first["cancelled_after_budget"]:
        print(f"the first sweep raised: {first['error']}")
    result = {
        "params": vars(args),
        "fill_s": round(fill_s, 1),
        "flows": len(flows),
        "due": expected_total,
        "first_sweep": {"seconds": round(first_s, 3), "fired": fired, "runs_created": runs_after_first,
                        "runs_per_s": round(runs_per_s, 1) if runs_per_s else None,
                        "cancelled_after_budget": first["cancelled_after_budget"], "error": first["error"]},
        "second_sweep": second and {"seconds": round(second["seconds"], 3), "fired": second["fired"]},
        "next_sweep_real_clock": third and {"seconds": round(third["seconds"], 3), "fired": third["fired"]},
        "per_flow": check["per_flow"],
        "duplicates": check["duplicates"],
        "runs_by_status": check["runs_by_status"],
        "checks": checks,
        "ok": all(checks.values()) and complete,
        "target_s": TARGET_S,
    }
    if not args.no_write:
        print(f"results: {c.write_results('date_sweep', result).relative_to(c.ROOT)}")
    return 0


def check_total(check: dict) -> int:
    return sum(p["runs"] for p in check["per_flow"])


if __name__ == "__main__":
    raise SystemExit(main())
