"""``Writes``: a transaction's writes sent as one statement on PostgreSQL, in the order given,
with nothing lost where two parts write one row; each part at once on SQLite."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table, event, select, text

from plugin.api.extensions import db
from plugin.engine import rollup
from plugin.storage.models import Event, Run, utcnow
from plugin.storage.stats_models import FlowStat
from plugin.storage.writes import Writes

_META = MetaData()
# two tables of this test only: ``seq`` (filled by PostgreSQL from one sequence as each row is
# written) tells which part ran first
FIRST = Table("writes_first", _META, Column("id", String(8), primary_key=True), Column("seq", BigInteger))
SECOND = Table("writes_second", _META, Column("id", String(8), primary_key=True), Column("seq", BigInteger))


def _statements(session) -> list[str]:
    """A list that records every statement the session's engine runs from here."""
    seen: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def _run(i: int, now) -> dict:
    return {
        "id": f"r{i}",
        "flow_version": 1,
        "flow_name": "f",
        "definition": {},
        "trigger": "event",
        "event_type": "custom_event",
        "status": "running",
        "triggered": True,
        "counted": False,
        "context": {},
        "created_at": now,
        "updated_at": now,
    }


def test_a_transactions_writes_go_as_one_statement_on_postgresql_and_all_land(app):
    with app.app_context():
        session, now = db.session, utcnow()
        session.execute(
            Event.__table__.insert(), [{"trigger": "custom_event", "subject_id": "e", "created_at": now}]
        )
        event_id = session.execute(select(Event.id)).scalar_one()
        session.commit()
        seen = _statements(session)
        writes = Writes(session)
        writes.insert(Run.__table__, [_run(1, now), _run(2, now)])
        writes.update_in(Event.__table__, "id", [event_id], dispatched_at=now)
        tally = rollup.Tally()
        tally.add("f1", now, "triggered", 2)
        tally.gather(writes)
        pg = session.get_bind().dialect.name == "postgresql"
        assert (seen == []) is pg  # PostgreSQL: nothing sent before the flush
        writes.flush()
        session.commit()
        # PostgreSQL: one statement; SQLite: one per part, each run when added
        assert len([s for s in seen if "INSERT" in s or "UPDATE" in s]) == (1 if pg else 4)
        assert session.scalars(select(Run.id).order_by(Run.id)).all() == ["r1", "r2"]
        assert session.scalar(select(Event.dispatched_at)) == now
        assert session.scalar(select(FlowStat.triggered).where(FlowStat.flow_id == "f1")) == 2


def test_parts_run_in_the_order_given(pg_url, redis_url, tmp_path):
    from tests.conftest import app_env, make_app

    app = make_app(app_env(pg_url, redis_url, tmp_path / "data"))
    with app.app_context():
        session = db.session
        session.execute(text("CREATE SEQUENCE writes_seq"))
        _META.create_all(session.connection())
        for table in (FIRST, SECOND):
            session.execute(text(f"ALTER TABLE {table.name} ALTER seq SET DEFAULT nextval('writes_seq')"))
        session.commit()
        Writes(session).insert(FIRST, [{"id": "a"}]).insert(SECOND, [{"id": "a"}]).flush()
        Writes(session).insert(SECOND, [{"id": "b"}]).insert(FIRST, [{"id": "b"}]).flush()
        session.commit()
        order = session.execute(
            text(
                "SELECT 'first', id, seq FROM writes_first UNION ALL SELECT 'second', id, seq FROM writes_second ORDER BY 3"
            )
        ).all()
        assert [(table, key) for table, key, _ in order] == [
            ("first", "a"),
            ("second", "a"),
            ("second", "b"),
            ("first", "b"),
        ]


def test_a_part_writing_a_row_another_part_writes_goes_in_a_statement_after_it(app):
    """In one statement each part sees the table as it was before it: an update of a row another
    part inserts, or a second update of one row, would be lost there."""
    with app.app_context():
        session, now = db.session, utcnow()
        seen = _statements(session)
        writes = Writes(session)
        writes.insert(Run.__table__, [_run(1, now), _run(2, now)])
        writes.update(Run.__table__, ("id",), [{"id": "r2", "status": "waiting"}])  # inserted just now
        writes.update(Run.__table__, ("id",), [{"id": "r2", "branch": "b"}])  # updated just now
        writes.update(Run.__table__, ("id",), [{"id": "r1", "status": "succeeded"}])  # no clash
        writes.flush()
        session.commit()
        rows = {r.id: (r.status, r.branch) for r in session.execute(select(Run.id, Run.status, Run.branch))}
        assert rows == {"r1": ("succeeded", None), "r2": ("waiting", "b")}
        if session.get_bind().dialect.name == "postgresql":
            assert len([s for s in seen if "INSERT" in s or "UPDATE" in s]) == 3


def test_an_update_by_a_list_of_keys_clashes_only_with_the_rows_it_names(app):
    """``update_in`` of a row inserted just now, or updated by key just now, goes in a statement
    after it; of other rows, in the same statement."""
    with app.app_context():
        session, now = db.session, utcnow()
        seen = _statements(session)
        writes = Writes(session)
        writes.insert(Run.__table__, [_run(1, now), _run(2, now)])
        writes.update_in(Run.__table__, "id", ["r2"], status="waiting")  # inserted just now
        writes.update(Run.__table__, ("id",), [{"id": "r1", "branch": "a"}])  # not r2: no clash
        writes.update_in(Run.__table__, "id", ["r1", "r3"], flow_name="g")  # r1 updated just now
        writes.flush()
        session.commit()
        rows = {
            r.id: (r.status, r.branch, r.flow_name)
            for r in session.execute(select(Run.id, Run.status, Run.branch, Run.flow_name))
        }
        assert rows == {"r1": ("running", "a", "g"), "r2": ("waiting", None, "f")}
        if session.get_bind().dialect.name == "postgresql":
            assert len([s for s in seen if "INSERT" in s or "UPDATE" in s]) == 3


def test_counts_into_one_table_twice_are_both_added(app):
    with app.app_context():
        session, now = db.session, utcnow()
        writes = Writes(session)
        for n in (1, 2):
            tally = rollup.Tally()
            tally.add("f1", now, "triggered", n)
            tally.gather(writes)
        writes.flush()
        session.commit()
        assert session.scalar(select(FlowStat.triggered).where(FlowStat.flow_id == "f1")) == 3


def test_nothing_gathered_sends_nothing(app):
    with app.app_context():
        session = db.session
        seen = _statements(session)
        Writes(session).insert(Run.__table__, []).update(Run.__table__, ("id",), []).flush()
        assert seen == []


def test_a_counter_added_to_twice_in_one_transaction_gets_both(app):
    """``add_to`` (the flows' counters): a second addition to one row goes in a statement of its own."""
    from plugin.storage.models import Flow

    with app.app_context():
        session, now = db.session, utcnow()
        session.add_all([Flow(id=i, name=i, event_type="custom_event", definition={}) for i in ("a", "b")])
        session.commit()
        seen = _statements(session)
        writes = Writes(session)
        for flow_id, n in (("a", 2), ("b", 1), ("a", 3)):
            writes.add_to(
                Flow.__table__,
                "id",
                {"id": flow_id, "triggered_count": n, "last_triggered_at": now},
                ("triggered_count",),
            )
        writes.add_to(Flow.__table__, "id", {"id": "b", "failed_count": 4}, ("failed_count",))
        writes.flush()
        session.commit()
        rows = {
            r.id: (r.triggered_count, r.failed_count, r.last_triggered_at)
            for r in session.execute(select(Flow.__table__))
        }
        assert rows == {"a": (5, 0, now), "b": (1, 4, now)}
        if session.get_bind().dialect.name == "postgresql":
            assert len([s for s in seen if "UPDATE" in s]) == 2  # (a, b), then (a, b) again
