#!/usr/bin/env python3
"""The N-day sweep over 1,000,000 orders: the sweep timed, then the dispatch of what it found
timed, and exactly once checked against the runs.

A fresh PostgreSQL database; 300,000 clients and 1,000,000 orders inserted in bulk on the server
(``INSERT … SELECT generate_series``, seeded): created over the last two years (uniform), 40 %
paid 0–30 days after creation. 20 N-day flows (12 × «С момента создания сделки прошло N дней»,
8 × «… продажи …», N from 1 to 365, half of them with a status condition) saved through the
storage layer with the default 24 h catch-up; each posts a webhook to a local receiver
(bench/receiver.py, its own process). Then, in process:

  1. ``sweep_days(session, registry, now=T)`` — timed (target ≤ 2 s). This is the whole sweep:
     it finds every due (flow, order) in SQL and durably records it (one committed due event per
     pair, ``INSERT … SELECT … ON CONFLICT (dedupe_key) DO NOTHING``, watermark advanced). Past
     ``--budget`` (90 s) its query is cancelled;
  2. the same call again with the same ``T`` — must record nothing;
  3. the due events are compared with the due set computed independently in SQL (SPEC §3.1: the
     order's moment, time field + N days, within [enabled_at − catch_up_hours, T]);
  4. dispatch drained in process, one loop as a worker's dispatch job runs it (``claim_events``
     200 at a time + ``dispatch_batch``): contexts, conditions, run and step rows, the webhook of
     every triggered run sent to the receiver and its outcome stored — timed separately (runs/s);
  5. every run compared with the due set, flow by flow: no missing, no extra, no duplicate
     (flow, order); deliveries at the receiver = triggered runs, no duplicate webhook-id;
  6. one more sweep at the real clock (the steady state: only what fell due since T) — timed;
  7. the upsert check (``record_due`` for a batch of 200 upserted orders, N-day flows from the
     flow index) — timed per order: it runs for every order event a worker dispatches.

    python bench/date_sweep.py
    python bench/date_sweep.py --orders 200000 --profile
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


def flow_doc(i: int, days: int, event: str, url: str) -> dict:
    nodes = [{"id": "start", "type": event, "params": {"days": days, "catch_up_hours": 24}}]
    edges = []
    prev = "start"
    if i % 2 == 1:
        nodes.append(
            {
                "id": "status",
                "type": "condition.order_status",
                "params": {"operator": "in", "value": ["Новая", "В работе", "Оплачен"]},
            }
        )
        edges.append({"from": "start", "to": "status"})
        prev = "status"
    nodes.append({"id": "hook", "type": "action.webhook", "params": {"url": f"{url}/days/{i}"}})
    edges.append({"from": prev, "to": "hook"})
    return {
        "format": "automation-flow/1",
        "name": f"{days} дней ({event.rsplit('_', 1)[-1]})",
        "enabled": True,
        "nodes": nodes,
        "edges": edges,
    }


def verify(db_url: str, flows: list[dict], now) -> dict:
    """Due events and runs vs the due set computed in SQL, per flow; duplicates of (flow, order)."""
    import psycopg

    per_flow = []
    with psycopg.connect(db_url) as conn:
        for f in flows:
            column = "created_at" if f["event"].endswith("created") else "paid_at"
            floor = f["enabled_at"] - timedelta(hours=24)
            row = conn.execute(
                f"""WITH exp AS (SELECT id FROM orders
                                 WHERE {column} IS NOT NULL
                                   AND {column} + %(days)s * interval '1 day' BETWEEN %(floor)s AND %(now)s),
                         ev AS (SELECT subject_id AS id FROM events
                                WHERE dedupe_key LIKE %(prefix)s AND data->>'flow_id' = %(flow)s),
                         act AS (SELECT order_id AS id FROM runs WHERE flow_id = %(flow)s)
                    SELECT (SELECT count(*) FROM exp), (SELECT count(*) FROM ev), (SELECT count(*) FROM act),
                           (SELECT count(*) FROM (SELECT id FROM exp EXCEPT SELECT id FROM ev) m),
                           (SELECT count(*) FROM (SELECT id FROM ev EXCEPT SELECT id FROM exp) x),
                           (SELECT count(*) FROM (SELECT id FROM exp EXCEPT SELECT id FROM act) m),
                           (SELECT count(*) FROM (SELECT id FROM act EXCEPT SELECT id FROM exp) x)""",
                {
                    "days": f["days"],
                    "floor": floor,
                    "now": now,
                    "flow": f["id"],
                    "prefix": f"days:{f['id']}:%",
                },
            ).fetchone()
            per_flow.append(
                dict(
                    zip(
                        [
                            "expected",
                            "events",
                            "runs",
                            "events_missing",
                            "events_extra",
                            "runs_missing",
                            "runs_extra",
                        ],
                        row,
                        strict=True,
                    ),
                    event=f["event"],
                    days=f["days"],
                )
            )
        run_dups = conn.execute(
            "SELECT count(*) - count(DISTINCT (flow_id, order_id)) FROM runs WHERE trigger = 'schedule'"
        ).fetchone()[0]
        event_dups = conn.execute(
            "SELECT count(*) - count(DISTINCT (data->>'flow_id', subject_id)) FROM events WHERE dedupe_key IS NOT NULL"
        ).fetchone()[0]
        by_status = dict(conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
        undispatched = conn.execute("SELECT count(*) FROM events WHERE dispatched_at IS NULL").fetchone()[0]
    return {
        "per_flow": per_flow,
        "run_duplicates": run_dups,
        "event_duplicates": event_dups,
        "runs_by_status": by_status,
        "undispatched_events": undispatched,
    }


def timed_sweep(app, sweep_days, registry, db, now, budget: float, db_name: str, profile=None) -> dict:
    """One sweep_days call in a thread; past ``budget`` s its PostgreSQL query is cancelled (what
    it committed so far stays) so the benchmark stays bounded however slow the sweep is."""
    import psycopg

    box: dict = {}

    def work() -> None:
        with app.app_context():
            try:
                if profile is not None:
                    profile.enable()
                box["fired"] = sweep_days(db.session, registry, now=now)
            except Exception as exc:  # noqa: BLE001 - cancelled by the budget, or a bug: reported
                box["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            finally:
                if profile is not None:
                    profile.disable()
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
    return {
        "seconds": seconds,
        "fired": box.get("fired"),
        "error": box.get("error"),
        "cancelled_after_budget": cancelled,
    }


def drain_dispatch(app, budget: float, profile=None) -> dict:
    """Dispatch every stored event in process, as one worker's dispatch job does: claim 200,
    ``dispatch_batch`` (contexts, conditions, runs + steps in one transaction, webhooks sent
    concurrently, outcomes stored), repeat until nothing is left."""
    from sqlalchemy import func, select

    from plugin.api.context import rt
    from plugin.api.extensions import db
    from plugin.engine.batch import dispatch_batch
    from plugin.engine.claim import claim_events
    from plugin.engine.dispatch import FlowIndex
    from plugin.jobs.worker import BATCH_SIZE, make_engine
    from plugin.storage.models import Run, utcnow

    with app.app_context():
        runtime = rt()
        engine, index = make_engine(runtime, db.engine), FlowIndex(runtime.registry)
        events = batches = handoff = 0
        started_at = utcnow()
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        try:
            while time.perf_counter() - started < budget:
                ids = claim_events(db.session, BATCH_SIZE, engine.lease_seconds)
                if not ids:
                    break
                handoff += len(dispatch_batch(db.session, engine, index, ids, runtime.redis))
                events += len(ids)
                batches += 1
        finally:
            if profile is not None:
                profile.disable()
        seconds = time.perf_counter() - started
        # the run rows of a batch are stamped when its transaction starts, before its sends
        last_run = db.session.scalar(select(func.max(Run.created_at)).where(Run.trigger == "schedule"))
        db.session.remove()
    return {
        "seconds": seconds,
        "events": events,
        "batches": batches,
        "handoff_runs": handoff,
        "stopped_at_budget": seconds >= budget,
        "last_run_created_s": (last_run - started_at).total_seconds() if last_run else None,
    }


def time_upsert_check(app, rounds: int = 20, batch: int = 200) -> dict:
    """The upsert check as dispatch_batch runs it for a batch of upserted orders: the N-day flows
    from the (refreshed) flow index, then the due test per (flow, order) and one INSERT … ON
    CONFLICT DO NOTHING of whatever is due — rolled back, so nothing changes."""
    from sqlalchemy import func, select

    from plugin.api.context import rt
    from plugin.api.extensions import db
    from plugin.engine.dispatch import FlowIndex, days_flows, record_due
    from plugin.storage.models import Order, utcnow

    with app.app_context():
        runtime = rt()
        index = FlowIndex(runtime.registry)
        index.flows_for(db.session, "", runtime.redis)
        samples = []
        for _ in range(rounds):
            orders = db.session.execute(
                select(Order.id, Order.created_at, Order.paid_at).order_by(func.random()).limit(batch)
            ).all()
            started = time.perf_counter()
            flows = days_flows(db.session, runtime.registry, index)
            record_due(db.session, flows, orders, utcnow())
            samples.append(time.perf_counter() - started)
            db.session.rollback()
        db.session.remove()
    samples.sort()
    return {
        "flows": len(flows),
        "batch": batch,
        "median_ms_per_batch": round(samples[len(samples) // 2] * 1000, 3),
        "us_per_order": round(samples[len(samples) // 2] / batch * 1e6, 1),
    }


class Receiver:
    """bench/receiver.py in its own process: counts deliveries and their webhook-ids."""

    def __init__(self, procs: c.Procs):
        import requests

        self.port = c.free_port()
        procs.start("receiver", [sys.executable, str(c.BENCH / "receiver.py"), "--port", str(self.port)])
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = requests.Session()
        c.wait_until(lambda: self.stats() is not None, 15, "receiver", alive=procs.check_alive)

    def stats(self) -> dict | None:
        try:
            return self.session.get(self.base + "/_bench/stats", timeout=5).json()
        except Exception:  # noqa: BLE001 - not up yet
            return None

    def webhook_ids(self) -> list[str]:
        return [r[0] for r in self.session.get(self.base + "/_bench/records?from=0", timeout=60).json()]


def print_profile(profile, title: str, top: int = 18) -> None:
    import io
    import pstats

    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    print(f"--- profile: {title} ---")
    print("\n".join(out.getvalue().splitlines()[: top + 12]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=300_000)
    parser.add_argument(
        "--budget",
        type=float,
        default=90,
        help="seconds the first sweep may take before it is cancelled (keeps the run bounded)",
    )
    parser.add_argument(
        "--drain-budget",
        type=float,
        default=300,
        help="seconds the in-process dispatch drain may take before it stops",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="time the first sweep this many more times (due events deleted, watermarks reset)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the first sweep and the drain")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    db_name, db_url = c.create_database("bench_sweep")
    redis = c.redis_url()
    c.flush_redis(redis)
    env = c.app_env(db_url, redis, c.CACHE / "bench-data", AUTOMATION_QUEUE=f"bench-{uuid.uuid4().hex[:6]}")
    procs = c.Procs(c.LOGS / "date_sweep")
    second = third = drain = upsert = None
    repeats: list[dict] = []
    profiles = {"sweep": None, "drain": None}
    if args.profile:
        import cProfile

        profiles = {"sweep": cProfile.Profile(), "drain": cProfile.Profile()}
    try:
        receiver = Receiver(procs)
        c.migrate(env, c.LOGS / "date_sweep-migrate.log")
        app = c.make_app(env, worker=True)  # the sweep and the dispatch are a worker's work
        from sqlalchemy import delete, func, select, update

        from plugin.api.context import rt
        from plugin.api.extensions import db
        from plugin.engine.dispatch import sweep_days
        from plugin.engine.flows import save_flow
        from plugin.storage.models import Event, Flow, utcnow

        if "now" not in inspect.signature(sweep_days).parameters:
            raise RuntimeError("sweep_days no longer takes now=; update bench/date_sweep.py")
        fill_s = fill(db_url, args.orders, args.clients, utcnow())
        print(f"inserted {args.orders:,} orders and {args.clients:,} clients in {fill_s:.1f} s", flush=True)
        with app.app_context():
            runtime = rt()
            specs = [(d, "event.order_days_since_created") for d in CREATED_DAYS] + [
                (d, "event.order_days_since_paid") for d in PAID_DAYS
            ]
            saved = [
                save_flow(db.session, runtime.registry, runtime.secrets, flow_doc(i, d, e, receiver.base))
                for i, (d, e) in enumerate(specs)
            ]
            db.session.commit()
            flows = [
                {"id": f.id, "days": d, "event": e, "enabled_at": f.enabled_at}
                for f, (d, e) in zip(saved, specs, strict=True)
            ]
            db.session.remove()

        now = utcnow()
        first = timed_sweep(
            app, sweep_days, runtime.registry, db, now, args.budget, db_name, profiles["sweep"]
        )
        fired = len(first["fired"]) if first["fired"] is not None else None
        print(
            f"sweep: {fired if fired is not None else '?'} due events recorded in {first['seconds']:.3f} s"
            + (f" — cancelled after the {args.budget:g} s budget" if first["cancelled_after_budget"] else "")
            + (f" ({first['error']})" if first["error"] and not first["cancelled_after_budget"] else ""),
            flush=True,
        )
        complete = not first["cancelled_after_budget"] and not first["error"]
        with app.app_context():
            if complete:
                t = time.perf_counter()
                second = {"fired": len(sweep_days(db.session, runtime.registry, now=now))}
                second["seconds"] = time.perf_counter() - t
            recorded = db.session.scalar(
                select(func.count()).select_from(Event).where(Event.dedupe_key.is_not(None))
            )
            db.session.remove()
            # the same first sweep again on a noisy machine: due events deleted, watermarks reset
            for _ in range(args.repeat if complete else 0):
                db.session.execute(delete(Event).where(Event.dedupe_key.is_not(None)))
                db.session.execute(update(Flow).values(sweep_watermark=None))
                db.session.commit()
                t = time.perf_counter()
                again = len(sweep_days(db.session, runtime.registry, now=now))
                repeats.append({"seconds": time.perf_counter() - t, "recorded": again})
                db.session.remove()
            if repeats:
                print(
                    "first sweep repeated: " + ", ".join(f"{r['seconds']:.3f} s" for r in repeats), flush=True
                )
        if complete:
            drain = drain_dispatch(app, args.drain_budget, profiles["drain"])
            print(f"dispatch drained: {drain['events']:,} events in {drain['seconds']:.2f} s", flush=True)
        deliveries = receiver.webhook_ids()
        check = verify(db_url, flows, now)
        with app.app_context():
            if complete:
                t = time.perf_counter()
                third = {"fired": len(sweep_days(db.session, runtime.registry, now=utcnow()))}
                third["seconds"] = time.perf_counter() - t
            watermarks = db.session.scalars(select(Flow.sweep_watermark)).all()
            db.session.remove()
        upsert = time_upsert_check(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        procs.stop_all()
        if not args.keep_db:
            c.drop_database(db_name)

    per_flow = check["per_flow"]
    rows = [
        [
            p["event"].split(".", 1)[1],
            p["days"],
            p["expected"],
            p["events"],
            p["runs"],
            p["events_missing"] + p["runs_missing"],
            p["events_extra"] + p["runs_extra"],
        ]
        for p in per_flow
    ]
    print(c.table(["event", "N days", "due (SQL)", "due events", "runs", "missing", "extra"], rows))
    due_total = sum(p["expected"] for p in per_flow)
    runs_total = sum(p["runs"] for p in per_flow)
    triggered = sum(v for k, v in check["runs_by_status"].items() if k != "not_triggered")
    events_exact = (
        all(p["events_missing"] == 0 and p["events_extra"] == 0 for p in per_flow)
        and check["event_duplicates"] == 0
    )
    runs_exact = (
        all(p["runs_missing"] == 0 and p["runs_extra"] == 0 for p in per_flow)
        and check["run_duplicates"] == 0
    )
    checks = {
        "sweep recorded exactly the due set (no missing, no extra, no duplicate)": complete and events_exact,
        "second sweep (same now) recorded nothing": bool(second)
        and second["fired"] == 0
        and recorded == fired,
        "every repeat of the first sweep recorded the same due set": all(
            r["recorded"] == fired for r in repeats
        ),
        "every flow has a watermark": all(w is not None for w in watermarks),
        "every due (flow, order) has exactly one run, nothing else ran": complete and runs_exact,
        "every event dispatched": bool(drain)
        and not drain["stopped_at_budget"]
        and check["undispatched_events"] == 0,
        "one delivery per triggered run, no duplicate webhook-id": len(deliveries)
        == len(set(deliveries))
        == triggered,
    }
    sweep_s = first["seconds"]
    runs_per_s = runs_total / drain["seconds"] if drain and drain["seconds"] else None
    print(
        c.table(
            [
                "orders",
                "flows",
                "due",
                "sweep s",
                "2nd sweep s",
                "next sweep s",
                "drain s",
                "runs",
                "runs/s",
                "delivered",
                "exactly once",
            ],
            [
                [
                    args.orders,
                    len(flows),
                    due_total,
                    f"> {sweep_s:.1f} (cancelled)" if first["cancelled_after_budget"] else f"{sweep_s:.3f}",
                    f"{second['seconds']:.3f}" if second else None,
                    f"{third['seconds']:.3f}" if third else None,
                    f"{drain['seconds']:.1f}" if drain else None,
                    runs_total,
                    round(runs_per_s) if runs_per_s else None,
                    len(deliveries),
                    complete and events_exact and runs_exact,
                ]
            ],
        )
    )
    print(
        f"runs by status: {check['runs_by_status']} (not_triggered = the status condition was false at dispatch; "
        f"stored, no step, nothing sent)"
    )
    if drain:
        print(
            f"drain: {drain['batches']} batches of ≤ 200 events, {drain['handoff_runs']} runs handed to the "
            "step-by-step path; includes contexts, conditions, run + step rows, sending each webhook to the "
            "local receiver and storing its outcome; the last batch's runs were stamped "
            f"{drain['last_run_created_s']:.1f} s after the drain started (its sends and outcomes follow)"
        )
    print(
        f"upsert check: {upsert['us_per_order']} µs per upserted order ({upsert['flows']} N-day flows from the "
        f"flow index, batch of {upsert['batch']}, median {upsert['median_ms_per_batch']} ms per batch)"
    )
    all_s = sorted([sweep_s] + [r["seconds"] for r in repeats])
    median_s = all_s[len(all_s) // 2]
    if repeats:
        print(f"first sweep, {len(all_s)} timings: median {median_s:.3f} s, max {all_s[-1]:.3f} s")
    verdict = "FAIL" if first["cancelled_after_budget"] else c.verdict(max(all_s), TARGET_S, False)
    print(
        f"sweep over {args.orders:,} orders, {len(flows)} N-day flows, {due_total:,} due (flow, order) found and "
        f"durably recorded: {sweep_s:.3f} s (median of {len(all_s)}: {median_s:.3f} s, max {all_s[-1]:.3f} s; "
        f"target ≤ {TARGET_S} s: {verdict}); their runs: "
        + (
            f"{drain['seconds']:.1f} s more ({runs_per_s:,.0f} runs/s, one in-process dispatcher)"
            if runs_per_s
            else "n/a"
        )
    )
    print(
        "checks: "
        + ("OK" if all(checks.values()) else "FAILED: " + "; ".join(k for k, v in checks.items() if not v))
    )
    if first["error"] and not first["cancelled_after_budget"]:
        print(f"the sweep raised: {first['error']}")
    for name, profile in profiles.items():
        if profile is not None:
            print_profile(profile, name)
    result = {
        "params": {k: v for k, v in vars(args).items() if k != "profile"},
        "fill_s": round(fill_s, 1),
        "flows": len(flows),
        "due": due_total,
        "sweep": {
            "seconds": round(sweep_s, 3),
            "recorded": fired,
            "includes": "finding every due (flow, order) in SQL and committing one due event per pair "
            "(INSERT … SELECT … ON CONFLICT DO NOTHING) + the watermarks; not the runs",
            "cancelled_after_budget": first["cancelled_after_budget"],
            "error": first["error"],
            "repeats_s": [round(r["seconds"], 3) for r in repeats],
            "median_s": round(median_s, 3),
            "max_s": round(all_s[-1], 3),
        },
        "second_sweep": second and {"seconds": round(second["seconds"], 3), "recorded": second["fired"]},
        "next_sweep_real_clock": third
        and {"seconds": round(third["seconds"], 3), "recorded": third["fired"]},
        "dispatch_drain": drain
        and {
            "seconds": round(drain["seconds"], 2),
            "events": drain["events"],
            "batches": drain["batches"],
            "runs": runs_total,
            "runs_per_s": round(runs_per_s, 1) if runs_per_s else None,
            "handoff_runs": drain["handoff_runs"],
            "deliveries": len(deliveries),
            "last_run_created_s": drain["last_run_created_s"] and round(drain["last_run_created_s"], 2),
            "includes": "one in-process dispatcher: claim 200 events, contexts, conditions, run + step rows, "
            "webhooks sent to a local receiver, outcomes stored",
        },
        "upsert_check": upsert,
        "per_flow": per_flow,
        "run_duplicates": check["run_duplicates"],
        "event_duplicates": check["event_duplicates"],
        "runs_by_status": check["runs_by_status"],
        "checks": checks,
        "ok": all(checks.values()) and complete,
        "target_s": TARGET_S,
    }
    if not args.no_write:
        print(f"results: {c.write_results('date_sweep', result).relative_to(c.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
