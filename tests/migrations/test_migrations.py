"""Migrations: they build exactly the models' schema; 0004 (partial indexes) upgrades stored data and downgrades; 0005 (steps fillfactor); 0007 (token scopes: existing tokens become admin)."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from plugin.api.extensions import db
from plugin.engine.claim import claim_events
from plugin.engine.dispatch import DaysFlow, record_due, stale_work
from plugin.storage.base import apply_dialect_options
from plugin.storage.models import Event, Run, Step, utcnow
from tests.conftest import BACKENDS, app_env

INDEXES_0003 = {
    "events": {"ix_events_pending", "ix_events_undispatched", "uq_events_dedupe_key"},
    "runs": {
        "ix_runs_status_next",
        "ix_runs_created",
        "ix_runs_flow_id",
        "ix_runs_order_id",
        "ix_runs_client_id",
    },
    "steps": {"ix_steps_run_id", "uq_steps_run_node"},
}
INDEXES_0004 = {
    "events": {"ix_events_undispatched_id", "uq_events_dedupe_key"},
    "runs": {
        "ix_runs_status_created",
        "ix_runs_created",
        "ix_runs_flow_id",
        "ix_runs_order_id",
        "ix_runs_client_id",
    },
    "steps": {"uq_steps_run_node"},
}


def _predicate(where) -> str | None:
    """An index predicate as text both databases' spellings reduce to: PostgreSQL reflects
    ``((status)::text <> 'succeeded'::text)`` for ``status <> 'succeeded'``."""
    if where is None:
        return None
    sql = getattr(where, "text", None) or str(where)
    sql = (
        re.sub(r"::(character varying|[a-z]+)", "", sql.lower())
        .replace("(", "")
        .replace(")", "")
        .replace("!=", "<>")
    )
    return " ".join(sql.split())


def _reflected(conn, table: str) -> dict:
    out = {}
    for ix in inspect(conn).get_indexes(table):
        if ix.get("duplicates_constraint"):  # PostgreSQL lists unique constraints here too
            continue
        options = ix.get("dialect_options", {})
        where = options.get("postgresql_where", options.get("sqlite_where"))
        out[ix["name"]] = (tuple(ix["column_names"]), bool(ix["unique"]), _predicate(where))
    return out


def _declared(table) -> dict:
    apply_dialect_options()  # as DDL and Alembic do: the models declare them deferred
    out = {}
    for ix in table.indexes:
        where = {_predicate(ix.dialect_options[d]["where"]) for d in ("postgresql", "sqlite")}
        assert len(where) == 1, f"{ix.name}: PostgreSQL and SQLite predicates differ: {where}"
        out[ix.name] = (tuple(c.name for c in ix.columns), bool(ix.unique), where.pop())
    return out


def test_migrated_schema_matches_the_models(database_url):
    """Alembic's comparison (tables, columns, index names) plus what it does not compare: each
    index's columns, uniqueness and partial-index predicate."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), db.metadata) == []
            for table in db.metadata.sorted_tables:
                assert _reflected(conn, table.name) == _declared(table), table.name
    finally:
        engine.dispose()


# -- 0004 on stored data ------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    """A database with no schema at all, so the test chooses the revisions."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def bare_app(empty_url, redis_url, tmp_path, monkeypatch):
    """The app on ``empty_url``, not migrated (the app reads its configuration when created)."""
    for key, value in app_env(empty_url, redis_url, tmp_path / "data").items():
        monkeypatch.setenv(key, value)
    from plugin.api.app import create_app

    app = create_app()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _store_history(now) -> dict[str, int | str]:
    """Rows as 0003 holds them: dispatched, undispatched and N-day events; finished and open runs."""
    rows = [
        {"trigger": "custom_event", "subject_id": "ce1", "data": {}, "created_at": now, "dispatched_at": now},
        {"trigger": "custom_event", "subject_id": "ce2", "data": {}, "created_at": now},
        {
            "trigger": "order_days_since_created",
            "subject_id": "o1",
            "data": {"flow_id": "f1"},
            "created_at": now,
            "dedupe_key": "days:f1:o1",
        },
    ]
    ids = db.session.scalars(insert(Event).returning(Event.id, sort_by_parameter_order=True), rows).all()
    run = {
        "flow_id": "f1",
        "flow_version": 1,
        "flow_name": "f",
        "definition": {},
        "trigger": "event",
        "event_type": "custom_event",
        "context": {},
        "triggered": True,
        "counted": True,
        "created_at": now - timedelta(minutes=5),
        "updated_at": now - timedelta(minutes=5),
    }
    db.session.execute(
        insert(Run),
        [
            {
                **run,
                "id": "r-ok",
                "status": "succeeded",
                "dedupe_key": "ev:1:f1",
                "order_id": "o1",
                "finished_at": now,
            },
            {
                **run,
                "id": "r-failed",
                "status": "failed",
                "dedupe_key": "ev:2:f1",
                "client_id": "c1",
                "finished_at": now,
            },
            {**run, "id": "r-open", "status": "waiting", "dedupe_key": "ev:3:f1"},
        ],
    )
    db.session.execute(
        insert(Step),
        [
            {
                "run_id": r,
                "node_id": n,
                "node_type": "action.webhook",
                "status": "succeeded",
                "attempts": 1,
                "state": {},
            }
            for r in ("r-ok", "r-failed", "r-open")
            for n in ("start", "hook")
        ],
    )
    db.session.commit()
    return {"dispatched": ids[0], "plain": ids[1], "due": ids[2]}


def _counts() -> tuple[int, int, int]:
    counts = tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Event, Run, Step))
    db.session.commit()
    return counts


def _migrate(step, revision: str) -> None:
    db.session.remove()  # no open transaction of the test's may hold a lock the migration waits for
    step(revision=revision)


def _index_names(table: str) -> set[str]:
    with db.engine.connect() as conn:
        return {ix["name"] for ix in inspect(conn).get_indexes(table) if not ix.get("duplicates_constraint")}


def _record_due(now, order_id: str) -> list[int]:
    flow = DaysFlow(
        "f1", "order_days_since_created", "created_at", timedelta(days=1), timedelta(hours=24), now
    )
    order = SimpleNamespace(id=order_id, created_at=now - timedelta(days=1, minutes=1))
    recorded = record_due(db.session, [flow], [order], now)
    db.session.commit()
    return recorded


def test_0004_upgrades_stored_data_and_downgrades(bare_app):
    with bare_app.app_context():
        _migrate(upgrade, "0003")
        now = utcnow()
        stored = _store_history(now)
        before = _counts()

        _migrate(upgrade, "0004")
        assert _counts() == before
        for table, names in INDEXES_0004.items():
            assert _index_names(table) == names
        # the partial unique index still holds every key once, and ON CONFLICT names it
        assert _record_due(now, "o1") == []
        assert len(_record_due(now, "o2")) == 1
        with pytest.raises(IntegrityError):
            db.session.execute(
                insert(Event),
                [
                    {
                        "trigger": "order_days_since_created",
                        "subject_id": "o1",
                        "data": {},
                        "created_at": now,
                        "dedupe_key": "days:f1:o1",
                    }
                ],
            )
        db.session.rollback()
        # events without a key (nearly all) never collide
        db.session.execute(
            insert(Event),
            [
                {"trigger": "custom_event", "subject_id": f"x{i}", "data": {}, "created_at": now}
                for i in range(2)
            ],
        )
        db.session.commit()
        # the lookups the new indexes serve find what 0003 stored
        claimed = claim_events(db.session, 100, 60)
        assert stored["dispatched"] not in claimed and {stored["plain"], stored["due"]} <= set(claimed)
        _events, runs = stale_work(db.session, now=now + timedelta(minutes=1))
        assert runs == ["r-open"]

        _migrate(downgrade, "0003")
        assert _counts() == (before[0] + 3, before[1], before[2])
        for table, names in INDEXES_0003.items():
            assert _index_names(table) == names
        # the conflict target carrying the predicate also infers the plain unique index of 0003
        assert _record_due(now, "o2") == []

        _migrate(upgrade, "0004")
        for table, names in INDEXES_0004.items():
            assert _index_names(table) == names


def test_0005_leaves_room_on_step_pages_for_outcomes_written_in_place(bare_app):
    """PostgreSQL: steps get fillfactor 80, so the outcome of an action step is a HOT update (no
    new index entries); SQLite has no such setting and the migration leaves it alone."""
    with bare_app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"

        def options():
            if not postgresql:
                return None
            with db.engine.connect() as conn:
                return conn.exec_driver_sql(
                    "SELECT reloptions FROM pg_class WHERE relname = 'steps'"
                ).scalar()

        _migrate(upgrade, "0004")
        assert options() is None
        _migrate(upgrade, "0005")
        assert options() == (["fillfactor=80"] if postgresql else None)
        if (
            postgresql
        ):  # the outcome of each run's action, over pages packed by the inserts, stays on its page
            now = utcnow()
            db.session.execute(
                insert(Run),
                [
                    {
                        "id": f"run-{i:04}-{'x' * 24}",
                        "definition": {},
                        "trigger": "event",
                        "event_type": "e",
                        "context": {},
                        "status": "running",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(120)
                ],
            )
            db.session.execute(
                insert(Step),
                [
                    {
                        "run_id": f"run-{i:04}-{'x' * 24}",
                        "node_id": node,
                        "node_type": kind,
                        "status": status,
                        "attempts": 1,
                        "state": {},
                        "started_at": now,
                    }
                    for i in range(120)
                    for node, kind, status in (
                        ("start", "event.custom", "succeeded"),
                        ("cond", "condition.event_data", "succeeded"),
                        ("hook", "action.webhook", "running"),
                    )
                ],
            )
            db.session.commit()
            with db.engine.connect() as conn:
                conn.exec_driver_sql(
                    "UPDATE steps SET status = 'succeeded', output = '{\"status\": 200}', finished_at = now(), "
                    "duration_ms = 1.5 WHERE node_id = 'hook'"
                )
                hot = conn.exec_driver_sql(
                    "SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'steps'"
                ).scalar()
                conn.commit()
            assert hot >= 60, hot  # of 120; ~0 with pages filled to the brim
        _migrate(downgrade, "0004")
        assert options() is None


def test_0007_makes_existing_tokens_admin_and_downgrades(bare_app):
    from sqlalchemy import text

    with bare_app.app_context():
        _migrate(upgrade, "0006")
        db.session.execute(
            text("INSERT INTO api_tokens (name, token_hash, created_at) VALUES ('old', :h, :t)"),
            {"h": "a" * 64, "t": utcnow()},
        )
        db.session.commit()
        _migrate(upgrade, "0007")
        row = db.session.execute(text("SELECT name, scope, last_used_at FROM api_tokens")).one()
        assert tuple(row) == ("old", "admin", None)
        db.session.commit()
        _migrate(downgrade, "0006")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("api_tokens")}
        assert columns == {"id", "name", "token_hash", "created_at"}


def test_0016_gives_stored_conversions_their_age_in_days_and_downgrades(bare_app):
    """The window becomes ``age_days ≤ W``: every stored row gets the days from its touch to its
    payment rounded up, exactly at the edges (7 days is 7; 7 days and a microsecond is 8)."""
    from datetime import datetime

    from sqlalchemy import text

    paid = datetime(2026, 11, 20, 12, 0, 0)
    gaps = {
        "same": timedelta(0),
        "second": timedelta(seconds=1),
        "day": timedelta(days=1),
        "week": timedelta(days=7),
        "week+": timedelta(days=7, microseconds=1),
        "long": timedelta(days=89, hours=23),
    }
    with bare_app.app_context():
        _migrate(upgrade, "0015")
        db.session.execute(
            text(
                "INSERT INTO conversions (flow_id, order_id, client_id, run_id, branch, touched_at, paid_at, revenue) "
                "VALUES ('f1', :order, 'c1', 'r1', 'hook', :touched, :paid, 10.0)"
            ),
            [{"order": name, "touched": paid - gap, "paid": paid} for name, gap in gaps.items()],
        )
        db.session.commit()
        _migrate(upgrade, "0016")
        ages = dict(db.session.execute(text("SELECT order_id, age_days FROM conversions")).all())
        db.session.commit()
        assert ages == {"same": 0, "second": 1, "day": 1, "week": 7, "week+": 8, "long": 90}
        assert {"ix_conversions_age_paid", "ix_conversions_flow_paid"} <= _index_names("conversions")
        assert "ix_conversions_paid" not in _index_names("conversions")
        _migrate(downgrade, "0015")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("conversions")}
        assert "age_days" not in columns and "ix_conversions_paid" in _index_names("conversions")


def test_0017_keeps_each_attributed_order_once_with_its_nearest_touch_and_downgrades(bare_app):
    """``conversion_orders`` filled from the stored conversions: an order two scenarios converted
    for is one row with the smaller age and the larger amount."""
    from datetime import datetime

    from sqlalchemy import text

    paid = datetime(2026, 11, 20, 12, 0, 0)
    rows = [("f1", "o1", 9, 100.0), ("f2", "o1", 2, 120.0), ("f1", "o2", 30, 50.0)]
    with bare_app.app_context():
        _migrate(upgrade, "0016")
        db.session.execute(
            text(
                "INSERT INTO conversions (flow_id, order_id, client_id, run_id, branch, touched_at, paid_at, "
                "revenue, age_days) VALUES (:flow, :order, 'c1', 'r1', 'hook', :touched, :paid, :revenue, :age)"
            ),
            [
                {
                    "flow": f,
                    "order": o,
                    "touched": paid - timedelta(days=age),
                    "paid": paid,
                    "revenue": r,
                    "age": age,
                }
                for f, o, age, r in rows
            ],
        )
        db.session.commit()
        _migrate(upgrade, "0017")
        found = db.session.execute(
            text("SELECT order_id, paid_at, age_days, revenue FROM conversion_orders ORDER BY order_id")
        ).all()
        db.session.commit()
        paid_back = [p if isinstance(p, datetime) else datetime.fromisoformat(p) for _, p, _, _ in found]
        assert [(o, a, r) for o, _, a, r in found] == [("o1", 2, 120.0), ("o2", 30, 50.0)]
        assert paid_back == [paid, paid]
        assert "ix_conversion_orders_age_paid" in _index_names("conversion_orders")
        _migrate(downgrade, "0016")
        with db.engine.connect() as conn:
            assert "conversion_orders" not in inspect(conn).get_table_names()
