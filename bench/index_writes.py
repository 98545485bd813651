#!/usr/bin/env python3
"""PostgreSQL write work per delivered action at two schema revisions: server CPU, WAL bytes, plans.

For each revision (``--before``, default 0003, and ``--after``, default head) a fresh database,
migrated to it, seeded on the server with ``--seed`` history (default 200,000 events, all but
``--backlog`` (1 %) dispatched, 5 % N-day with a dedupe key; as many runs, 96 % succeeded, a
quarter with an order and a third with a client; 3 steps each), then ``--actions`` actions
(default 50,000) written ``--batch`` (100) at a time with the engine's own statements, in process:

  1. the API: ``custom_events`` row + ``events`` row, the fast path's one statement per event;
  2. the claim: ``claim_events`` (plugin/engine/claim.py);
  3. dispatch: the runs (1 per event) and their 3 steps inserted with ``writes.insert_rows``, the
     events marked ``dispatched_at`` — one transaction, as ``dispatch_batch`` does it;
  4. settle: the action step updated and the run's final status (1 % failed) with
     ``writes.update_rows`` — one transaction.

Measured around step 1–4 over all actions, after a ``CHECKPOINT``: WAL bytes
(``pg_current_wal_lsn`` difference, cluster-wide, so use a PostgreSQL nobody else writes to —
``BENCH_PG``), WAL records and full-page images (``pg_stat_wal``), the CPU seconds of the
PostgreSQL backend serving the benchmark (``/proc``, so PostgreSQL must run on this machine),
wall time, and HOT updates. ``--explain`` instead prints, at both revisions on the seeded
database, the plans of the engine's lookups (captured from the real code paths: claims, the
sweeper, the N-day sweep and upsert check, the runs listing API) and times the upgrade and
downgrade of the migration between them.

    BENCH_PG=postgresql://postgres@127.0.0.1:5439 python bench/index_writes.py
    python bench/index_writes.py --explain --seed 200000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

SEED_SQL = [
    # 99 % of events dispatched a second after they came; the newest 1 % waiting (a tenth of
    # those claimed); every 20th an N-day due event with its dedupe key
    """INSERT INTO events (trigger, subject_id, data, created_at, dispatched_at, claimed_until, dedupe_key)
       SELECT CASE WHEN g %% 20 = 0 THEN 'order_days_since_created' ELSE 'custom_event' END, 'ce' || g,
              CASE WHEN g %% 20 = 0 THEN json_build_object('flow_id', 'f' || (g %% 7)) ELSE '{}' END,
              t, CASE WHEN g <= %(n)s * (1 - %(backlog)s) THEN t + interval '1 second' END,
              CASE WHEN g > %(n)s * (1 - %(backlog)s) AND g %% 10 = 0 THEN t + interval '2 minutes' END,
              CASE WHEN g %% 20 = 0 THEN 'days:f' || (g %% 7) || ':o' || g END
       FROM (SELECT g, %(now)s - (%(n)s - g) * interval '10 seconds' AS t FROM generate_series(1, %(n)s) g) s""",
    """INSERT INTO runs (id, flow_id, flow_version, flow_name, definition, trigger, event_id, event_type,
                         dedupe_key, status, triggered, context, order_id, client_id, error, created_at,
                         updated_at, finished_at, next_attempt_at, lease_until, counted)
       SELECT md5('run' || g), 'f' || (g %% 20), 1, 'Flow ' || (g %% 20), %(definition)s, 'event', g, 'custom_event',
              'ev:' || g || ':f' || (g %% 20), st, true, %(context)s,
              CASE WHEN g %% 4 = 0 THEN 'o' || (g %% 50000) END, CASE WHEN g %% 3 = 0 THEN 'c' || (g %% 30000) END,
              CASE WHEN st = 'failed' THEN 'HTTP 500' END, t, t, CASE WHEN st IN ('succeeded', 'failed', 'not_triggered') THEN t END,
              CASE WHEN st = 'waiting' THEN t + interval '1 hour' END, NULL, true
       FROM (SELECT g, %(now)s - (%(n)s - g) * interval '10 seconds' AS t,
                    CASE WHEN g %% 100 = 1 THEN 'failed' WHEN g %% 40 = 2 THEN 'not_triggered'
                         WHEN g %% 500 = 3 THEN 'waiting' WHEN g %% 1000 = 4 THEN 'queued'
                         WHEN g > %(n)s - 20 THEN 'running' ELSE 'succeeded' END AS st
             FROM generate_series(1, %(n)s) g) s""",
    """INSERT INTO steps (run_id, node_id, node_type, status, verdict, output, error, attempts, state,
                          started_at, finished_at, resume_at, duration_ms)
       SELECT r.id, n.node_id, n.node_type, 'succeeded', n.verdict,
              CASE WHEN n.node_id = 'hook' THEN '{"status": 200, "body": "ok"}'::json END, NULL, 1, '{}',
              r.created_at, r.created_at, NULL, 12.5
       FROM runs r CROSS JOIN (VALUES ('start', 'event.custom', NULL::boolean), ('cond', 'condition.event_data', true),
                                      ('hook', 'action.webhook', NULL)) n(node_id, node_type, verdict)""",
]
DEFINITION = {
    "nodes": [
        {"id": "start", "type": "event.custom", "params": {"name": "bench"}},
        {"id": "cond", "type": "condition.event_data", "params": {"key": "n", "operator": "gt", "value": -1}},
        {
            "id": "hook",
            "type": "action.webhook",
            "params": {"url": "http://127.0.0.1:9/hook", "method": "POST"},
        },
    ],
    "edges": [{"from": "start", "to": "cond"}, {"from": "cond", "to": "hook", "branch": "true"}],
}


def context(i: int) -> dict:
    return {
        "event": {"type": "custom_event", "name": "bench", "data": {"n": i, "sent_at": 1733000000.0 + i}},
        "visit": {
            "id": f"v{i}",
            "city": "Москва",
            "utm_source": "yandex",
            "landing_page": "https://example.com/",
        },
        "client": {"external_id": f"c{i % 30000}", "name": "Клиент", "phone": "+79161234567"}
        if i % 3 == 0
        else None,
        "order": {"id": f"o{i % 50000}", "status": "Новая", "price": 1000.0} if i % 4 == 0 else None,
        "client_orders_count": 1,
    }


def env_for(url: str, data_dir: Path) -> dict[str, str]:
    return c.app_env(url, c.redis_url(), data_dir)


def migrate_to(app, revision: str, down: bool = False) -> float:
    from flask_migrate import downgrade, upgrade

    started = time.perf_counter()
    with app.app_context():
        (downgrade if down else upgrade)(revision=revision)
    return time.perf_counter() - started


def seed(url: str, rows: int, backlog: float = 0.01) -> None:
    import psycopg
    from psycopg.types.json import Json

    from plugin.storage.models import utcnow

    with psycopg.connect(url, autocommit=True) as conn:
        params = {
            "n": rows,
            "backlog": backlog,
            "now": utcnow() - timedelta(hours=1),
            "definition": Json(DEFINITION),
            "context": Json(context(0)),
        }
        for sql in SEED_SQL:
            conn.execute(sql, params)
        conn.execute("SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))")
        conn.execute("VACUUM ANALYZE")


def index_summary(url: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT t.relname, i.relname, pg_relation_size(i.oid), pg_get_indexdef(i.oid)
               FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
               WHERE t.relname IN ('events', 'runs', 'steps', 'custom_events') ORDER BY 1, 2"""
        ).fetchall()


# -- writes ------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _lsn(text_lsn: str) -> int:
    high, low = text_lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


PHASES = ("api", "claim", "dispatch", "settle")
# what plugin/api/fastpath.py sends for POST /api/v1/events: the domain row and its engine event
API_CUSTOM_EVENT = (
    "WITH n AS (INSERT INTO custom_events (id, name, visit_id, client_id, data, created_at) "
    "VALUES (:id, :name, :visit_id, :client_id, CAST(:data AS json), :created_at) ON CONFLICT (id) DO NOTHING RETURNING id) "
    "INSERT INTO events (trigger, subject_id, data, created_at) "
    "SELECT 'custom_event', n.id, CAST(:event_data AS json), :now FROM n RETURNING id"
)


def write_actions(url: str, actions: int, batch: int) -> dict:
    from sqlalchemy import create_engine, text, update
    from sqlalchemy.orm import Session

    from plugin.engine.claim import claim_events
    from plugin.storage import bulk, writes
    from plugin.storage.models import Event, Run, Step, new_id, utcnow

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), pool_size=2)
    with engine.connect() as admin:
        session = Session(engine)
        backend = session.scalar(text("SELECT pg_backend_pid()"))  # the backend doing the writes
        session.commit()
        admin.execute(text("CHECKPOINT"))
        admin.commit()

        def probe() -> tuple[float, float, int]:
            lsn = admin.execute(text("SELECT pg_current_wal_lsn()::text")).scalar()
            admin.commit()
            return time.perf_counter(), _cpu_seconds(backend), _lsn(lsn)

        def wal_stats() -> tuple[int, int]:
            row = admin.execute(text("SELECT wal_records, wal_fpi FROM pg_stat_wal")).one()
            admin.commit()
            return row

        phases = {p: [0.0, 0.0, 0] for p in PHASES}  # wall s, backend CPU s, WAL bytes
        last = [probe()]

        def mark(phase: str) -> None:
            now_ = probe()
            for k in range(3):
                phases[phase][k] += now_[k] - last[0][k]
            last[0] = now_

        records0, fpi0 = wal_stats()
        first = last[0]
        done = 0
        while done < actions:
            n = min(batch, actions - done)
            now = utcnow()
            session.execute(
                text(API_CUSTOM_EVENT),
                [
                    {
                        "id": uuid.uuid4().hex,
                        "name": "bench",
                        "visit_id": f"v{done + k}",
                        "client_id": None,
                        "data": json.dumps({"n": done + k}),
                        "created_at": now,
                        "event_data": '{"name": "bench"}',
                        "now": now,
                    }
                    for k in range(n)
                ],
            )
            session.commit()
            mark("api")
            ids = claim_events(session, n, 120)
            mark("claim")
            runs, steps = [], []
            for k, event_id in enumerate(ids):
                i = done + k
                ctx = context(i)
                run_id = new_id()
                runs.append(
                    {
                        "id": run_id,
                        "flow_id": f"f{i % 20}",
                        "flow_version": 1,
                        "flow_name": "Flow",
                        "definition": DEFINITION,
                        "trigger": "event",
                        "event_id": event_id,
                        "event_type": "custom_event",
                        "dedupe_key": f"ev:{event_id}:f{i % 20}",
                        "status": "running",
                        "triggered": True,
                        "counted": True,
                        "context": ctx,
                        "order_id": (ctx["order"] or {}).get("id"),
                        "client_id": (ctx["client"] or {}).get("external_id"),
                        "created_at": now,
                        "updated_at": now,
                        "lease_until": now + timedelta(seconds=120),
                    }
                )
                for nid, ntype, status, verdict in (
                    ("start", "event.custom", "succeeded", None),
                    ("cond", "condition.event_data", "succeeded", True),
                    ("hook", "action.webhook", "running", None),
                ):
                    steps.append(
                        {
                            "run_id": run_id,
                            "node_id": nid,
                            "node_type": ntype,
                            "status": status,
                            "verdict": verdict,
                            "attempts": 1 if status == "running" else 0,
                            "state": {},
                            "started_at": now,
                            "finished_at": None if status == "running" else now,
                            "output": None,
                        }
                    )
            writes.insert_rows(session, Run.__table__, runs)
            writes.insert_rows(session, Step.__table__, steps)
            session.execute(
                update(Event.__table__)
                .where(bulk.among(session, Event.__table__.c.id, ids))
                .values(dispatched_at=now)
            )
            session.commit()
            mark("dispatch")
            now = utcnow()
            failed = [(done + k) % 100 == 1 for k in range(len(runs))]
            writes.update_rows(
                session,
                Step.__table__,
                ("run_id", "node_id"),
                [
                    {
                        "run_id": r["id"],
                        "node_id": "hook",
                        "status": "failed" if bad else "succeeded",
                        "output": None if bad else {"status": 200, "body": "ok"},
                        "error": "HTTP 500" if bad else None,
                        "state": {},
                        "attempts": 1,
                        "finished_at": now,
                        "resume_at": None,
                        "duration_ms": 12.5,
                    }
                    for r, bad in zip(runs, failed, strict=True)
                ],
            )
            writes.update_rows(
                session,
                Run.__table__,
                ("id",),
                [
                    {
                        "id": r["id"],
                        "status": "failed" if bad else "succeeded",
                        "error": "HTTP 500" if bad else None,
                        "finished_at": now,
                        "updated_at": now,
                        "lease_until": None,
                        "next_attempt_at": None,
                    }
                    for r, bad in zip(runs, failed, strict=True)
                ],
            )
            session.commit()
            mark("settle")
            done += n
        session.execute(text("SELECT pg_stat_force_next_flush()"))  # its counters, when it goes idle
        session.commit()
        time.sleep(0.5)
        records1, fpi1 = wal_stats()
        stats = {
            name: (upd, hot)
            for name, upd, hot in admin.execute(
                text(
                    "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname IN ('events', 'runs', 'steps')"
                )
            )
        }
    session.close()
    engine.dispose()
    end = last[0]
    return {
        "actions": actions,
        "wall_s": end[0] - first[0],
        "backend_cpu_s": end[1] - first[1],
        "wal_bytes": end[2] - first[2],
        "wal_records": records1 - records0,
        "wal_fpi": fpi1 - fpi0,
        "phases": {p: {"wall_s": v[0], "backend_cpu_s": v[1], "wal_bytes": v[2]} for p, v in phases.items()},
        "updates_hot": stats,
    }


# -- plans -------------------------------------------------------------------------------------

WATCHED = ("events", "runs", "steps")


def add_days_flow(app) -> None:
    """200 orders and one enabled N-day flow, so the N-day sweep has something to record."""
    from sqlalchemy import insert

    from plugin.api.extensions import db
    from plugin.storage.models import Flow, Order, utcnow

    with app.app_context():
        now = utcnow()
        db.session.execute(
            insert(Order),
            [
                {
                    "id": f"o{i}",
                    "status": "Новая",
                    "status_group": "in_work",
                    "created_at": now - timedelta(days=1, minutes=i),
                    "fields": {},
                    "first_seen_at": now,
                    "updated_at": now,
                }
                for i in range(200)
            ],
        )
        db.session.add(
            Flow(
                id="fdays",
                name="1 день",
                enabled=True,
                event_type="event.order_days_since_created",
                definition={
                    "nodes": [
                        {
                            "id": "start",
                            "type": "event.order_days_since_created",
                            "params": {"days": 1, "catch_up_hours": 24},
                        }
                    ],
                    "edges": [],
                },
                enabled_at=now,
            )
        )
        db.session.commit()


def capture_plans(app) -> list[tuple[str, str]]:
    """EXPLAIN every statement on events / runs / steps that these real code paths send."""
    from sqlalchemy import event, select
    from sqlalchemy.engine import Engine

    from plugin.api.context import rt
    from plugin.api.extensions import db
    from plugin.engine.claim import claim_events
    from plugin.engine.dispatch import DaysFlow, record_due, stale_work, sweep_days
    from plugin.storage.models import Order, Step, utcnow

    plans: list[tuple[str, str]] = []
    label = {"now": ""}

    def explain(conn, cursor, statement, parameters, context, executemany):
        lowered = statement.lower()
        if not label["now"] or not any(
            f" {t} " in lowered or f'"{t}"' in lowered or f" {t}\n" in lowered for t in WATCHED
        ):
            return
        params = parameters[0] if isinstance(parameters, (list, tuple)) else parameters
        with cursor.connection.cursor() as probe:  # executed for real, then rolled back
            probe.execute("SAVEPOINT bench_explain")
            probe.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params)
            lines = [r[0] if len(r[0]) < 200 else r[0][:196] + " …" for r in probe.fetchall()]
            probe.execute("ROLLBACK TO SAVEPOINT bench_explain")
            plans.append((label["now"], "\n".join(lines)))

    event.listen(Engine, "before_cursor_execute", explain)
    try:
        with app.app_context():
            now = utcnow()
            for name, call in (
                ("claim_events (batch.py)", lambda: claim_events(db.session, 200, 120)),
                ("stale_work (sweeper)", lambda: stale_work(db.session)),
                ("sweep_days (N-day sweep)", lambda: sweep_days(db.session, rt().registry)),
                (
                    "record_due (upsert check)",
                    lambda: record_due(
                        db.session,
                        [
                            DaysFlow(
                                "fdays",
                                "order_days_since_created",
                                "created_at",
                                timedelta(days=1),
                                timedelta(hours=24),
                                now,
                            )
                        ],
                        db.session.scalars(select(Order).limit(3)).all(),
                        now,
                    ),
                ),
                (
                    "steps of a run (execution.py)",
                    lambda: db.session.scalars(select(Step).where(Step.run_id == "x")).all(),
                ),
            ):
                label["now"] = name
                call()
                db.session.rollback()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {c.TOKEN}"}
        for query in (
            "",
            "status=failed",
            "status=waiting",
            "status=succeeded",
            "order_id=o100",
            "client_id=c300",
            "flow_id=f3",
            "flow_id=f3&status=failed",
        ):
            label["now"] = f"GET /api/v1/runs?{query}"
            response = client.get(f"/api/v1/runs?{query}&limit=50", headers=headers)
            assert response.status_code == 200, response.get_json()
    finally:
        label["now"] = ""
        event.remove(Engine, "before_cursor_execute", explain)
    return plans


def explain_mode(args) -> None:
    name, url = c.create_database("bench_index_writes")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = c.make_app(env_for(url, Path(tmp)))
            migrate_to(app, args.before)
            seed(url, args.seed, args.backlog)
            add_days_flow(app)
            before_indexes = index_summary(url)
            for title, plan in capture_plans(app):
                print(f"\n--- [{args.before}] {title}\n{plan}")
            up = migrate_to(app, args.after)
            seed_check = index_summary(url)
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ANALYZE")
            for title, plan in capture_plans(app):
                print(f"\n--- [{args.after}] {title}\n{plan}")
            down = migrate_to(app, args.before, down=True)
            restored = index_summary(url)
            print(
                f"\nupgrade {args.before} -> {args.after}: {up:.2f} s; downgrade back: {down:.2f} s "
                f"({args.seed:,} events, runs; {3 * args.seed:,} steps)"
            )
            print(
                "indexes after the downgrade = indexes before the upgrade:",
                [(t, i, d) for t, i, _, d in restored] == [(t, i, d) for t, i, _, d in before_indexes],
            )
            for title, rows in ((args.before, before_indexes), (args.after, seed_check)):
                print(f"\nindexes at {title}:")
                print(
                    c.table(
                        ["table", "index", "kB", "definition"],
                        [(t, i, s // 1024, d.split(" USING btree ")[-1]) for t, i, s, d in rows],
                    )
                )
    finally:
        c.drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="0003")
    parser.add_argument("--after", default="head")
    parser.add_argument("--actions", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=200_000)
    parser.add_argument(
        "--backlog", type=float, default=0.01, help="share of the seeded events not dispatched yet"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure each revision this many times (alternating)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print the plans of the engine's lookups instead"
    )
    args = parser.parse_args()
    if args.explain:
        explain_mode(args)
        return
    results = []
    for round_ in range(args.repeat):
        for revision in (args.before, args.after):
            name, url = c.create_database("bench_index_writes")
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    migrate_to(c.make_app(env_for(url, Path(tmp))), revision)
                seed(url, args.seed, args.backlog)
                result = write_actions(url, args.actions, args.batch)
                result.update(
                    revision=revision,
                    round=round_ + 1,
                    indexes_kb={f"{t}.{i}": s // 1024 for t, i, s, _ in index_summary(url)},
                )
                results.append(result)
                print(
                    f"{revision} round {round_ + 1}: {result['wal_bytes'] / args.actions:,.0f} WAL bytes/action, "
                    f"{result['backend_cpu_s']:.1f} s backend CPU, {result['wall_s']:.1f} s wall",
                    flush=True,
                )
            finally:
                c.drop_database(name)
    n = args.actions
    print(
        c.table(
            [
                "revision",
                "round",
                "wall s",
                "PG backend CPU s",
                "CPU µs/action",
                "WAL MB",
                "WAL bytes/action",
                "WAL records/action",
                "full-page images",
                "HOT upd. events/runs/steps",
            ],
            [
                (
                    r["revision"],
                    r["round"],
                    r["wall_s"],
                    r["backend_cpu_s"],
                    r["backend_cpu_s"] / n * 1e6,
                    r["wal_bytes"] / 2**20,
                    r["wal_bytes"] // n,
                    r["wal_records"] / n,
                    r["wal_fpi"],
                    " / ".join(f"{r['updates_hot'][t][1]:,}/{r['updates_hot'][t][0]:,}" for t in WATCHED),
                )
                for r in results
            ],
        )
    )
    print("per phase, per action: WAL bytes / backend CPU µs")
    print(
        c.table(
            ["revision", "round", *PHASES],
            [
                (
                    r["revision"],
                    r["round"],
                    *(
                        f"{r['phases'][p]['wal_bytes'] / n:,.0f} / {r['phases'][p]['backend_cpu_s'] / n * 1e6:,.0f}"
                        for p in PHASES
                    ),
                )
                for r in results
            ],
        )
    )
    c.write_results(
        "index_writes", {"actions": n, "batch": args.batch, "seed": args.seed, "results": results}
    )


if __name__ == "__main__":
    main()
