"""PostgreSQL plans of dispatch's statements: they must stay index probes however young the tables.

Both were found by ``bench/e2e.py`` (pg_stat_statements): the claim cost ~90 ms per batch behind
a backlog, and the batch's ``id = ANY(array)`` statements 2-40 ms each under a generic plan made
while the tables were small. Fixed, a closed-loop run delivered ~1.8x as many actions per second.
"""

from __future__ import annotations

import json

from sqlalchemy import event, insert, select, text

from plugin.api.extensions import db
from plugin.engine.claim import claim_events
from plugin.storage import bulk, prepared, writes
from plugin.storage.models import Event, utcnow
from tests.conftest import app_env, make_app


def _pg_app(pg_url, redis_url, tmp_path):
    return make_app(app_env(pg_url, redis_url, tmp_path / "data"))


def _events(count: int, session=None) -> None:
    session = session or db.session
    now = utcnow()
    session.execute(
        insert(Event),
        [
            {"trigger": "custom_event", "subject_id": f"c{i}", "data": {}, "created_at": now}
            for i in range(count)
        ],
    )
    session.commit()


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_the_claim_never_rescans_its_chosen_ids_per_event(pg_url, redis_url, tmp_path):
    """The claimed ids are probed by index once each, not joined by a nested loop that rescans the
    CTE once per undispatched event (the planner estimates the CTE at one row)."""
    app = _pg_app(pg_url, redis_url, tmp_path)
    with app.app_context():
        _events(3000)
        assert len(claim_events(db.session, 200, 60)) == 200  # a claimed prefix, as a busy worker leaves
        seen: list[tuple[str, dict]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().startswith("WITH pending"):
                seen.append((statement, parameters))

        engine = db.engine
        event.listen(engine, "before_cursor_execute", capture)
        try:
            claimed = claim_events(db.session, 200, 60)
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert len(claimed) == 200 and claimed == sorted(claimed) and claimed[0] > 200
        assert [row.id for row in claimed.rows] == list(claimed)  # the rows travel with the ids
        assert all(row.trigger == "custom_event" and row.dispatched_at is None for row in claimed.rows)

        nodes = _explain(*seen[0])
        plan = nodes[0]
        assert plan["Actual Rows"] == 200
        rescans = [n for n in nodes if n["Node Type"] == "CTE Scan" and n["Actual Loops"] > 1]
        assert not rescans, json.dumps(plan, indent=1)
        assert sum(n.get("Rows Removed by Join Filter", 0) for n in nodes) == 0, json.dumps(plan, indent=1)


def _prepared_after_repeats(app) -> int:
    with app.app_context():
        prepared = _prepared_in(db.session, db.engine)
        db.session.remove()
        db.engine.dispose()
        return prepared


def _prepared_in(session, engine) -> int:
    _events(50, session)
    table = Event.__table__
    for _ in range(12):
        rows = session.execute(select(table).where(bulk.among(session, table.c.id, [1, 2, 3]))).all()
        assert len(rows) == 3
    prepared = session.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
    session.rollback()
    return prepared


def test_a_workers_batch_statements_are_not_prepared_server_side(pg_url, redis_url, tmp_path, monkeypatch):
    """psycopg prepares a statement on its 5th use and PostgreSQL may then keep a generic plan
    (made on a tiny table: a sequential scan); a worker's connections (the app RQ workers and the
    scheduler build, ``WORKER_CONFIG``) prepare nothing. The API's do (batch ingestion)."""
    from plugin.api.app import create_app
    from plugin.jobs import worker as tasks

    _pg_app(pg_url, redis_url, tmp_path)  # migrated
    for key, value in app_env(pg_url, redis_url, tmp_path / "data").items():
        monkeypatch.setenv(key, value)
    tasks.context.cache_clear()
    try:
        worker = tasks.context()
        assert worker.config["PG_PREPARE"] is False
        assert _prepared_in(worker.database.session, worker.database.engine) == 0
        worker.database.dispose()
    finally:
        tasks.context.cache_clear()
    assert _prepared_after_repeats(create_app()) >= 1


def _explain(statement: str, parameters) -> list[dict]:
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            plan = cursor.fetchone()[0]
    finally:
        raw.rollback()
        raw.close()
    plan = plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"]
    return list(_nodes(plan))


def test_settling_updates_probe_the_key_index_however_many_rows_the_table_holds(pg_url, redis_url, tmp_path):
    """Settling updates a batch's steps and runs by key (``writes.update_rows``). The planner
    estimates the batch's JSON recordset at 100 rows: joined with it alone, a table of tens of
    thousands of rows (a small site's, or a young one not yet analysed) was hashed and scanned
    whole on every settle (1.3 ms at 20,000 steps, growing with the table: the largest PostgreSQL
    cost of bench/e2e.py's rate phase). Checked before and after the tables' first ANALYZE."""
    from plugin.storage.models import Run, Step

    app = _pg_app(pg_url, redis_url, tmp_path)
    with app.app_context():
        now = utcnow()
        runs = [
            {
                "id": f"r{i}",
                "definition": {},
                "trigger": "event",
                "event_type": "x",
                "context": {},
                "created_at": now,
            }
            for i in range(20000)
        ]
        steps = [
            {
                "run_id": f"r{i}",
                "node_id": "a",
                "node_type": "action.webhook",
                "status": "running",
                "attempts": 1,
                "state": {},
            }
            for i in range(20000)
        ]
        writes.insert_rows(db.session, Run.__table__, [{**r, "status": "running"} for r in runs])
        writes.insert_rows(db.session, Step.__table__, steps)
        db.session.commit()
        _assert_updates_probe(range(100, 20000, 2250), "succeeded")
        db.session.execute(text("ANALYZE steps"))
        db.session.execute(text("ANALYZE runs"))
        db.session.commit()
        _assert_updates_probe(range(200, 20000, 2250), "failed")


def _assert_updates_probe(numbers, status: str) -> None:
    from plugin.storage.models import Run, Step

    picked = [f"r{i}" for i in numbers]  # a batch of 9
    seen: list[tuple[str, dict]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("UPDATE"):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        writes.update_rows(
            db.session,
            Step.__table__,
            ("run_id", "node_id"),
            [{"run_id": r, "node_id": "a", "status": status} for r in picked],
        )
        writes.update_rows(db.session, Run.__table__, ("id",), [{"id": r, "status": status} for r in picked])
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    for table in ("steps", "runs"):
        changed = db.session.execute(text(f"SELECT count(*) FROM {table} WHERE status = :s"), {"s": status})
        assert changed.scalar() == len(picked) == 9
    assert len(seen) == 2
    for statement, parameters in seen:
        nodes = _explain(statement, parameters)
        scans = [n for n in nodes if n["Node Type"] == "Seq Scan"]
        assert not scans, json.dumps(nodes[0], indent=1)
        probes = [n for n in nodes if n["Node Type"] in ("Index Scan", "Bitmap Index Scan")]
        assert probes, json.dumps(nodes[0], indent=1)


def test_a_workers_fixed_plan_writes_are_prepared_and_nothing_else(pg_url, redis_url, tmp_path, monkeypatch):
    """A worker's connections prepare nothing on their own; the bulk INSERTs from JSON and the
    counter upserts, whose plans cannot depend on the tables' size, are prepared on their first
    use (parsing and planning the rollup's upsert cost more than running it), and stay prepared
    across commits. Errors still come as SQLAlchemy's (dispatch retries on ``IntegrityError``)."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    from plugin.engine import rollup
    from plugin.jobs import worker as tasks

    _pg_app(pg_url, redis_url, tmp_path)  # migrated
    for key, value in app_env(pg_url, redis_url, tmp_path / "data").items():
        monkeypatch.setenv(key, value)
    tasks.context.cache_clear()
    try:
        database = tasks.context().database
        session = database.session
        table = Event.__table__
        now = utcnow()
        for n in range(3):
            rows = [
                {
                    "id": 100 * n + i,
                    "trigger": "custom_event",
                    "subject_id": f"c{i}",
                    "data": {},
                    "created_at": now,
                }
                for i in range(3)
            ]
            writes.insert_rows(session, table, rows)
            rollup.count(session, "flow-1", now, triggered=1)
            session.commit()
            for _ in range(6):  # a statement the worker must never prepare
                session.execute(select(table.c.id).where(bulk.among(session, table.c.id, [1, 2]))).all()
        prepared = session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        assert len(prepared) == 2, prepared
        assert sorted(p.split(" ", 2)[:2] for p in prepared) == [["INSERT", "INTO"], ["WITH", "w0"]]
        assert session.connection().connection.driver_connection.prepare_threshold is None
        session.commit()
        with pytest.raises(IntegrityError):
            writes.insert_rows(
                session, table, [{"id": 1, "trigger": "x", "subject_id": "c", "data": {}, "created_at": now}]
            )
        session.rollback()
        stats = (
            session.execute(text("SELECT triggered FROM flow_stats WHERE flow_id = 'flow-1'")).scalars().all()
        )
        assert stats == [3]
        database.dispose()
    finally:
        tasks.context.cache_clear()


def test_lookups_by_key_are_prepared_once_their_table_is_past_a_young_tables_plan(
    pg_url, redis_url, tmp_path, monkeypatch
):
    """The claim, the subjects' read and the updates by key run as prepared statements on a
    worker's connection (no parse and plan per batch) only once their table is past
    ``prepared.GROWN_PAGES`` pages: prepared on a young table, PostgreSQL's generic plan would be a
    sequential scan kept as the table grows. Past that size, the generic plan probes the index."""
    from plugin.jobs import worker as tasks

    _pg_app(pg_url, redis_url, tmp_path)  # migrated
    for key, value in app_env(pg_url, redis_url, tmp_path / "data").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(prepared, "GROWN_RECHECK", 0.0)
    tasks.context.cache_clear()
    try:
        database = tasks.context().database
        session = database.session
        table = Event.__table__

        def lookups() -> list[str]:
            for _ in range(8):  # past the 5 custom plans PostgreSQL makes before a generic one
                # a batch of 12: a generic plan (estimated at 10) is then as cheap as a custom one
                statement = select(table.c.id).where(bulk.among(session, table.c.id, range(12, 0, -1)))
                found = bulk.execute_prepared(session, statement, grown=("events",)).scalars()
                assert sorted(found) == list(range(1, 13))
                session.commit()
            return session.execute(text("SELECT name FROM pg_prepared_statements")).scalars().all()

        _events(50, session)
        assert lookups() == []  # young: planned with its values every time
        for _ in range(4):
            _events(2500, session)
        names = lookups()
        assert len(names) == 1
        assert session.execute(text("SELECT generic_plans FROM pg_prepared_statements")).scalar() >= 1
        plan = session.execute(
            text(f"EXPLAIN (FORMAT JSON) EXECUTE {names[0]}('{{5,6,7,8,9,10,11,12,13,14}}')")
        )
        nodes = list(_nodes(plan.scalar()[0]["Plan"]))
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], json.dumps(nodes[0], indent=1)
        assert [n for n in nodes if n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")]
        session.rollback()
        database.dispose()
    finally:
        tasks.context.cache_clear()
