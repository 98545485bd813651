"""The worker's hot statements run on psycopg's cursor (``bulk.execute_prepared``): the same rows,
values and types as SQLAlchemy would return, its exceptions, and a lost connection invalidated."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from plugin.api.extensions import db
from plugin.engine import claim, context
from plugin.engine.claim import claim_events, hold_claims
from plugin.storage import writes
from plugin.storage.db import WORKER_CONFIG
from plugin.storage.models import Client, CustomEvent, Event, Order, Visit, utcnow
from tests.conftest import app_env, make_app


@pytest.fixture
def pg_app(pg_url, redis_url, tmp_path):
    return make_app(app_env(pg_url, redis_url, tmp_path / "data"))


def _subjects(session) -> None:
    now = utcnow().replace(microsecond=123456)
    session.add_all(
        [
            Order(
                id="o1",
                price=1234.5,
                cost=None,
                status="Новая",
                client_id="c1",
                visit_id="v1",
                fields={"n": 1, "nested": {"a": [1, "два"]}},
                created_at=now,
                paid_at=now + timedelta(hours=1),
            ),
            CustomEvent(id="e1", name="go", visit_id="v1", client_id="c1", data={"x": 1.5}, created_at=now),
            Visit(id="v1", city="Москва", client_id="c1", created_at=now),
            Client(external_id="c1", name="Анна", fields={"vip": True}, created_at=now, updated_at=now),
        ]
    )
    session.commit()


def _orm_rows(session, model, key: str) -> dict:
    """The rows as SQLAlchemy returns them, by key."""
    table = model.__table__
    return {getattr(r, key): r for r in session.execute(select(table)).all()}


def test_rows_read_on_the_driver_equal_sqlalchemys_in_values_types_and_names(pg_app):
    with pg_app.app_context():
        session = db.session
        _subjects(session)
        for model, key, wanted in (
            (Order, "id", "o1"),
            (CustomEvent, "id", "e1"),
            (Visit, "id", "v1"),
            (Client, "external_id", "c1"),
        ):
            driver = context._by_id(session, model, key, {wanted})
            assert not isinstance(
                driver[wanted], type(_orm_rows(session, model, key)[wanted])
            )  # not SQLAlchemy's
            expected = _orm_rows(session, model, key)[wanted]
            got = driver[wanted]
            assert got._fields == tuple(expected._fields)
            assert tuple(got) == tuple(expected)
            assert [type(v) for v in got] == [type(v) for v in expected], model.__name__
        session.rollback()


def test_the_held_claim_on_the_driver_returns_sqlalchemys_values(pg_app):
    with pg_app.app_context():
        session = db.session
        now = utcnow()
        session.add_all(
            [
                Event(trigger="custom_event", subject_id=f"c{i}", data={"i": i}, created_at=now)
                for i in range(3)
            ]
        )
        session.commit()
        expected = session.execute(select(*claim._columns(Event.__table__)).order_by(Event.id)).all()
        session.commit()
        hold_claims(session)
        claimed = claim_events(session, 200, 60)
        assert [tuple(r) for r in claimed.rows] == [tuple(r) for r in expected]
        assert claimed.rows[0].data == {"i": 0} and claimed.rows[0].created_at == expected[0].created_at
        session.rollback()


def test_an_error_on_the_driver_is_sqlalchemys_and_the_transaction_goes_on_after_a_rollback(pg_app):
    with pg_app.app_context():
        session = db.session
        row = {"id": 1, "trigger": "x", "subject_id": "c", "data": {}, "created_at": utcnow()}
        writes.insert_rows(session, Event.__table__, [row])
        session.commit()
        with pytest.raises(IntegrityError) as raised:
            writes.insert_rows(session, Event.__table__, [row])
        assert "pk_events" in str(raised.value.orig)
        session.rollback()
        assert session.execute(text("SELECT count(*) FROM events")).scalar() == 1


def test_a_connection_lost_under_a_driver_statement_is_invalidated_and_the_next_one_is_new(pg_app):
    with pg_app.app_context():
        session = db.session
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar()  # the session holds it
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as raised:
            context._by_id(session, Order, "id", {"o1"})
        assert raised.value.connection_invalidated
        session.rollback()
        assert session.execute(text("SELECT pg_backend_pid()")).scalar() != pid


def test_with_a_listener_on_the_engine_sqlalchemy_runs_the_statement_and_the_listener_sees_it(pg_app):
    """Instrumentation (OpenTelemetry's, a test's capture) listens to the cursor events: the
    driver path steps aside whenever the engine has listeners."""
    with pg_app.app_context():
        session = db.session
        _subjects(session)
        seen = []

        def capture(conn, cursor, statement, parameters, context_, executemany):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            rows = context._by_id(session, Order, "id", {"o1"})
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert rows["o1"].price == 1234.5
        assert any("FROM orders" in s for s in seen)
        session.rollback()


def _admin(pg_url: str, sql: str, **params):
    """``sql``'s value, run on a connection of its own (not from the pool under test)."""
    engine = create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    try:
        with engine.begin() as other:
            return other.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def _last_query(pg_url: str, pid: int) -> str | None:
    return _admin(pg_url, "SELECT query FROM pg_stat_activity WHERE pid = :p", p=pid)


def test_a_pooled_connection_with_nothing_to_read_is_taken_without_a_ping(pg_url):
    """storage/db.QuietPing: the pre-ping's round trip only for a connection with something to
    read; a quiet one goes out of the pool without a word to the server."""
    from plugin.storage.db import Database

    database = Database({"SQLALCHEMY_DATABASE_URI": pg_url, **WORKER_CONFIG})
    try:
        with database.engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
            connection.execute(text("SELECT 'the last statement'"))
            connection.rollback()
        with database.engine.connect() as connection:  # the same pooled connection, pre-pinged
            assert connection.connection.driver_connection.info.backend_pid == pid
            assert _last_query(pg_url, pid) == "ROLLBACK"  # no ping came after it
    finally:
        database.dispose()


def test_a_pooled_connection_its_server_ended_is_replaced_at_checkout(pg_url):
    """A backend terminated while its connection sat in the pool (a restart, an administrator):
    the server's goodbye waits on the socket, the ping goes out and fails, and the session gets a
    new connection instead of an error."""
    from plugin.storage.db import Database

    database = Database({"SQLALCHEMY_DATABASE_URI": pg_url, **WORKER_CONFIG})
    try:
        session = database.new_session()
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
        session.commit()  # back in the pool
        assert _admin(pg_url, "SELECT pg_terminate_backend(:p)", p=pid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _last_query(pg_url, pid) is not None:
            time.sleep(0.02)
        assert session.execute(text("SELECT pg_backend_pid()")).scalar() != pid
        session.close()
    finally:
        database.dispose()
