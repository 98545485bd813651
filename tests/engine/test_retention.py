"""Retention: old dispatched events and finished runs (with their steps) go, in chunks; work in
progress, the N-day dedupe rows, the newest event and domain data stay. The scheduler runs it.

Runs on SQLite and PostgreSQL (the ``app`` fixture is parametrised over both).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis as redis_lib
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.engine import retention
from plugin.engine.dispatch import sweep_days
from plugin.engine.retention import Policy, prune
from plugin.storage.models import Client, CustomEvent, Event, Flow, Order, Preset, Run, Step, Visit, utcnow
from tests.conftest import wait_for
from tests.engine.test_ingest_and_runs import drain

DEFAULT = Policy(event_hours=72, run_days=30)


def _days_flow(client, url: str, days: int) -> str:
    """An enabled N-day flow («N days since the order was created» → webhook); returns its id."""
    r = client.post(
        "/api/v1/flows",
        json={
            "format": "automation-flow/1",
            "name": f"{days} дня",
            "enabled": True,
            "nodes": [
                {
                    "id": "start",
                    "type": "event.order_days_since_created",
                    "params": {"days": days, "catch_up_hours": 24},
                },
                {"id": "hook", "type": "action.webhook", "params": {"url": url}},
            ],
            "edges": [{"from": "start", "to": "hook"}],
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _event(
    name: str,
    *,
    age_h: float,
    dispatched_h: float | None = None,
    claimed: bool = False,
    dedupe: str | None = None,
) -> int:
    """An inbox row created ``age_h`` ago, dispatched ``dispatched_h`` ago (None: not dispatched)."""
    now = utcnow()
    return db.session.execute(
        insert(Event).returning(Event.id),
        {
            "trigger": "visit_created",
            "subject_id": name,
            "data": {},
            "created_at": now - timedelta(hours=age_h),
            "dispatched_at": None if dispatched_h is None else now - timedelta(hours=dispatched_h),
            "claimed_until": now + timedelta(minutes=1) if claimed else None,
            "dedupe_key": dedupe,
        },
    ).scalar_one()


def _run(
    run_id: str,
    *,
    status: str,
    age_d: float,
    finished_d: float | None = None,
    steps: int = 2,
    dedupe: str | None = None,
    trigger: str = "event",
    next_attempt_at=None,
) -> None:
    """A run created ``age_d`` days ago, finished ``finished_d`` days ago (None: just after it started)."""
    now = utcnow()
    created = now - timedelta(days=age_d)
    finished = None
    if status in retention.FINISHED:
        finished = (
            now - timedelta(days=finished_d) if finished_d is not None else created + timedelta(seconds=2)
        )
    db.session.execute(
        insert(Run),
        {
            "id": run_id,
            "flow_id": "f1",
            "flow_version": 1,
            "flow_name": "f",
            "definition": {"nodes": []},
            "trigger": trigger,
            "event_type": "order_created",
            "dedupe_key": dedupe,
            "status": status,
            "context": {},
            "created_at": created,
            "updated_at": created,
            "finished_at": finished,
            "next_attempt_at": next_attempt_at,
        },
    )
    if steps:
        db.session.execute(
            insert(Step),
            [
                {
                    "run_id": run_id,
                    "node_id": f"n{i}",
                    "node_type": "action.webhook",
                    "status": "succeeded",
                    "state": {},
                }
                for i in range(steps)
            ],
        )


def _event_names() -> set[str]:
    return set(db.session.scalars(select(Event.subject_id)))


def _run_ids() -> set[str]:
    return set(db.session.scalars(select(Run.id)))


def _steps_of() -> dict[str, int]:
    return dict(db.session.execute(select(Step.run_id, func.count()).group_by(Step.run_id)).all())


def _domain_counts() -> dict:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Visit, Order, Client, CustomEvent, Flow, Preset)
    }


def test_old_dispatched_events_go_work_in_progress_and_dedupe_rows_stay(app):
    with app.app_context():
        for i in range(3):
            _event(f"old{i}", age_h=100, dispatched_h=99)
        _event("undispatched", age_h=100)  # never dispatched: work to do
        _event("claimed", age_h=100, claimed=True)  # a worker holds it
        _event("due", age_h=2000, dispatched_h=1999, dedupe="days:f1:o1")  # N-day: recorded once, for good
        _event("late", age_h=100, dispatched_h=1)  # dispatched only an hour ago: 72 h from its dispatch
        _event("edge-in", age_h=80, dispatched_h=71.9)
        _event("edge-out", age_h=80, dispatched_h=72.1)
        _event("young", age_h=1, dispatched_h=0.5)
        db.session.commit()

        pruned = prune(db.session, DEFAULT)

        assert (pruned.events, pruned.runs, pruned.steps, pruned.complete) == (4, 0, 0, True)
        assert _event_names() == {"undispatched", "claimed", "due", "late", "edge-in", "young"}


def test_finished_runs_go_with_their_steps_open_and_days_runs_stay(app):
    with app.app_context():
        _run("ok", status="succeeded", age_d=40)
        _run("bad", status="failed", age_d=40, steps=3)
        _run("quiet", status="not_triggered", age_d=40, steps=0, trigger="schedule")
        _run("direct", status="succeeded", age_d=31, steps=1, trigger="direct")
        _run("queued", status="queued", age_d=40)
        _run("running", status="running", age_d=40)
        _run("waiting", status="waiting", age_d=40)  # a flow.delay of 60 days, say
        _run("days", status="succeeded", age_d=400, dedupe="days:f1:o1", trigger="schedule")
        _run(
            "days-quiet", status="not_triggered", age_d=400, steps=0, dedupe="days:f1:o2", trigger="schedule"
        )
        _run("ev-key", status="succeeded", age_d=40, dedupe="ev:5:f1")
        _run("slow", status="succeeded", age_d=40, finished_d=29)  # finished 29 days ago: kept
        _run("young", status="succeeded", age_d=1)
        db.session.commit()

        pruned = prune(db.session, DEFAULT)

        assert (pruned.events, pruned.runs, pruned.steps, pruned.complete) == (0, 5, 2 + 3 + 1 + 2, True)
        kept = {"queued", "running", "waiting", "days", "days-quiet", "slow", "young"}
        assert _run_ids() == kept
        assert set(_steps_of()) == kept - {"days-quiet"}  # the kept runs keep every step, none orphaned
        assert all(count == 2 for count in _steps_of().values())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL always enforces the key
def test_steps_go_even_where_sqlite_does_not_enforce_the_cascade(app):
    """Steps are deleted by their own statement, not left to ON DELETE CASCADE."""
    with app.app_context():
        _run("ok", status="succeeded", age_d=40, steps=4)
        _run("young", status="succeeded", age_d=1)
        db.session.commit()
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction: takes effect
            conn.commit()
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
            conn.commit()
            with Session(bind=conn) as session:
                pruned = prune(session, DEFAULT)
        assert (pruned.runs, pruned.steps) == (1, 4)
        assert _steps_of() == {"young": 2}


def test_more_rows_than_a_chunk_go_chunk_by_chunk_within_the_budget(app):
    with app.app_context():
        for i in range(23):
            _event(f"old{i}", age_h=100, dispatched_h=99)
            _run(f"run{i:02d}", status="succeeded", age_d=40, steps=1)
        _event("young", age_h=1, dispatched_h=1)
        _run("young", status="succeeded", age_d=1, steps=1)
        db.session.commit()

        # no time left: one chunk of each table, never more rows than a chunk
        first = prune(db.session, DEFAULT, chunk=5, budget=0)
        assert (first.events, first.runs, first.steps, first.complete) == (5, 5, 5, False)
        assert len(_event_names()) == 24 - 5 and len(_run_ids()) == 24 - 5

        rest = prune(db.session, DEFAULT, chunk=5, budget=None)
        assert (rest.events, rest.runs, rest.steps, rest.complete) == (18, 18, 18, True)
        assert _event_names() == {"young"} and _run_ids() == {"young"} and _steps_of() == {"young": 1}


def test_zero_keeps_forever(app, monkeypatch):
    with app.app_context():
        _event("old", age_h=10_000, dispatched_h=10_000)
        _event("newest", age_h=1, dispatched_h=1)
        _run("old", status="succeeded", age_d=1000)
        db.session.commit()

        assert prune(db.session, Policy(0, 0)).as_dict() == {
            "events": 0,
            "runs": 0,
            "steps": 0,
            "complete": True,
        }
        assert retention.count(db.session, Policy(0, 0)).as_dict()["runs"] == 0
        assert prune(db.session, Policy(0, 30)).as_dict() == {
            "events": 0,
            "runs": 1,
            "steps": 2,
            "complete": True,
        }
        assert "old" in _event_names()
        assert prune(db.session, Policy(72, 0)).events == 1
        assert _event_names() == {"newest"}

    from plugin.config import from_env

    monkeypatch.setenv("AUTOMATION_EVENT_RETENTION_HOURS", "0")
    monkeypatch.setenv("AUTOMATION_RUN_RETENTION_DAYS", "0")
    assert not Policy.from_config(from_env()).enabled
    monkeypatch.delenv("AUTOMATION_EVENT_RETENTION_HOURS")
    monkeypatch.delenv("AUTOMATION_RUN_RETENTION_DAYS")
    assert Policy.from_config(from_env()) == Policy(72, 30)
    assert from_env()["PRUNE_INTERVAL"] == 300
    monkeypatch.setenv("AUTOMATION_RUN_RETENTION_DAYS", "-1")
    with pytest.raises(ValueError, match="AUTOMATION_RUN_RETENTION_DAYS must be at least 0, got '-1'"):
        from_env()


def test_the_newest_event_stays_so_ids_are_never_reused(app, client):
    """SQLite gives a new row max(id) + 1: were the newest rows deleted, a new event could take the
    id of a pruned one, and a run key ``ev:{id}:{flow}`` still stored would swallow its run."""
    with app.app_context():
        ids = [_event(f"old{i}", age_h=100, dispatched_h=99) for i in range(5)]
        db.session.commit()
        assert prune(db.session, DEFAULT).events == 4
        assert _event_names() == {"old4"}
    assert client.post("/api/v1/visits", json={"id": "v-new"}).status_code == 202
    with app.app_context():
        new = db.session.scalar(select(Event.id).where(Event.subject_id == "v-new"))
        assert new > max(ids)


def test_domain_data_and_counters_are_untouched(app, client):
    client.put("/api/v1/orders/o1", json={"status": "Новая", "client": {"external_id": "c1", "name": "Анна"}})
    client.post("/api/v1/visits", json={"id": "v1"})
    client.post("/api/v1/events", json={"id": "e1", "name": "form"})
    with app.app_context():
        db.session.execute(insert(Preset), {"id": "p1", "name": "p", "kind": "action", "definition": {}})
        db.session.execute(
            insert(Flow),
            {
                "id": "f1",
                "name": "f",
                "enabled": False,
                "event_type": "event.order_created",
                "definition": {"nodes": [], "edges": []},
                "triggered_count": 7,
                "failed_count": 2,
            },
        )
        # everything is ancient
        long_ago = utcnow() - timedelta(days=3650)
        for model in (Visit, Order, CustomEvent, Client, Flow):
            db.session.execute(update(model).values(created_at=long_ago))
        db.session.execute(update(Event).values(created_at=long_ago, dispatched_at=long_ago))
        _run("old", status="succeeded", age_d=3650)
        db.session.commit()
        before = _domain_counts()
        assert before == {
            "visits": 1,
            "orders": 1,
            "clients": 1,
            "custom_events": 1,
            "flows": 1,
            "presets": 1,
        }

        pruned = prune(db.session, DEFAULT)

        assert pruned.events == 2 and pruned.runs == 1  # 3 events, the newest kept
        assert _domain_counts() == before
        flow = db.session.get(Flow, "f1")
        assert (flow.triggered_count, flow.failed_count) == (7, 2)


def test_marks_skip_rows_kept_for_good_but_never_rows_that_may_go_later(app):
    with app.app_context():
        for i in range(4):
            _event(f"due{i}", age_h=500, dispatched_h=500, dedupe=f"days:f1:o{i}")
            _run(f"days{i}", status="succeeded", age_d=300 - i, dedupe=f"days:f1:o{i}", trigger="schedule")
        held = _event("held", age_h=200)  # not dispatched yet
        _run("open", status="waiting", age_d=200)
        opened = utcnow() - timedelta(days=200)
        _event("old", age_h=150, dispatched_h=150)
        _run("old", status="succeeded", age_d=100)
        _event("newest", age_h=1, dispatched_h=1)
        db.session.commit()
        due_ids = sorted(db.session.scalars(select(Event.id).where(Event.dedupe_key.is_not(None))))

        marks: dict = {}
        pruned = prune(db.session, DEFAULT, marks=marks, chunk=2)
        assert (pruned.events, pruned.runs) == (1, 1)
        # the walks may start after the kept-for-good rows, not after what may still go
        assert marks["events"] == due_ids[-1]
        days3 = db.session.get(Run, "days3")
        assert marks["runs"] == (days3.created_at, "days3")

        # what held the marks back goes once it is done, and the marks move past it
        db.session.execute(
            update(Event).where(Event.id == held).values(dispatched_at=utcnow() - timedelta(hours=100))
        )
        db.session.execute(
            update(Run)
            .where(Run.id == "open")
            .values(status="succeeded", finished_at=utcnow() - timedelta(days=100))
        )
        db.session.commit()
        pruned = prune(db.session, DEFAULT, marks=marks, chunk=2)
        assert (pruned.events, pruned.runs) == (1, 1)
        assert _event_names() == {"due0", "due1", "due2", "due3", "newest"}
        assert _run_ids() == {"days0", "days1", "days2", "days3"}
        assert marks["events"] == held
        assert marks["runs"][1] == "open" and abs(marks["runs"][0] - opened) < timedelta(minutes=1)


def test_marks_survive_in_redis(app):
    with app.app_context():
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        now = utcnow()
        retention.save_marks(rt().redis, url, {"events": 41, "runs": (now, "r1")})
        assert retention.load_marks(rt().redis, url) == {"events": 41, "runs": (now, "r1")}
        assert retention.load_marks(rt().redis, url + "-another") == {}  # per database


def test_a_pruned_days_flow_never_fires_again(app, client, fake_receiver):
    """Prune keeps the N-day dedupe rows: an update of an order that fell due long ago records
    nothing new. The control at the end deletes them by hand, and the flow fires a second time."""
    flow_id = _days_flow(client, fake_receiver.url + "/h", 3)
    with app.app_context():
        now = utcnow()
        db.session.execute(
            insert(Order),
            {
                "id": "o1",
                "status": "Новая",
                "status_group": "in_work",
                "fields": {},
                "created_at": now - timedelta(days=3, hours=1),
                "first_seen_at": now,
                "updated_at": now,
            },
        )
        db.session.commit()
        assert len(sweep_days(db.session, rt().registry)) == 1
    for visit in ("v0", "v1"):  # v0's event goes; v1's is the newest, kept whatever its age
        assert client.post("/api/v1/visits", json={"id": visit}).status_code == 202
    drain(app)
    wait_for(lambda: len(fake_receiver.deliveries) == 1, message="the N-day webhook")

    def age_engine_rows():
        long_ago = utcnow() - timedelta(days=365)
        db.session.execute(update(Event).values(created_at=long_ago, dispatched_at=long_ago))
        db.session.execute(update(Run).values(created_at=long_ago, updated_at=long_ago, finished_at=long_ago))
        db.session.commit()

    with app.app_context():
        age_engine_rows()
        assert prune(db.session, DEFAULT).events == 1
        assert (
            db.session.scalar(select(func.count()).select_from(Event).where(Event.dedupe_key.is_not(None)))
            == 1
        )
        assert list(db.session.scalars(select(Run.dedupe_key))) == [f"days:{flow_id}:o1"]
    assert client.put("/api/v1/orders/o1", json={"status": "В работе"}).status_code == 202
    drain(app)
    with app.app_context():
        sweep_days(db.session, rt().registry)
    drain(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Run)) == 1
    assert len(fake_receiver.deliveries) == 1

    # control: without the dedupe rows the same update fires the flow again
    with app.app_context():
        db.session.execute(delete(Step))
        db.session.execute(delete(Run))
        db.session.execute(delete(Event).where(Event.dedupe_key.is_not(None)))
        db.session.commit()
    assert client.put("/api/v1/orders/o1", json={"status": "Новая"}).status_code == 202
    drain(app)
    drain(app)
    wait_for(lambda: len(fake_receiver.deliveries) == 2, message="the flow firing again")


def test_cli_dry_run_counts_and_prune_deletes(app, env, monkeypatch, capsys):
    with app.app_context():
        _event("old1", age_h=100, dispatched_h=99)
        _event("old2", age_h=100, dispatched_h=99)
        _event("undispatched", age_h=100)
        _event("newest", age_h=100, dispatched_h=99)
        _run("ok", status="succeeded", age_d=40, steps=3)
        _run("open", status="queued", age_d=40)
        db.session.commit()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from plugin.cli import main

    assert main(["prune", "--dry-run"]) == 0
    assert "would prune 2 events, 1 runs, 3 steps (events: 72 h, runs: 30 days)" in capsys.readouterr().out
    with app.app_context():
        assert len(_event_names()) == 4 and len(_run_ids()) == 2

    monkeypatch.setenv("AUTOMATION_RUN_RETENTION_DAYS", "0")
    assert main(["prune"]) == 0
    assert "pruned 2 events, 0 runs, 0 steps (events: 72 h, runs: forever)" in capsys.readouterr().out
    with app.app_context():
        assert _event_names() == {"undispatched", "newest"} and _run_ids() == {"ok", "open"}
        assert retention.totals(rt().redis)["events"] == 2


def test_the_scheduler_registers_the_prune(app, env, monkeypatch):
    from rq import Queue
    from rq.cron import CronScheduler
    from rq.serializers import JSONSerializer

    from plugin.jobs.scheduler import schedule_jobs

    connection = redis_lib.Redis.from_url(env["REDIS_URL"])
    jobs = schedule_jobs(CronScheduler(connection=connection), app.config, env["AUTOMATION_QUEUE"])
    assert [(j.func_name, j.interval) for j in jobs] == [
        ("plugin.jobs.worker.sweep", 1),
        ("plugin.jobs.worker.prune", 300),
        ("plugin.jobs.worker.alerts", 60),
        ("plugin.jobs.worker.attribution", 60),
    ]
    queue = Queue(env["AUTOMATION_QUEUE"], connection=connection, serializer=JSONSerializer)
    jobs[1].enqueue(connection)  # as the scheduler does: JSON, on the engine's queue
    assert [j.func_name for j in queue.get_jobs()] == ["plugin.jobs.worker.prune"]

    for off in ({"PRUNE_INTERVAL": 0}, {"EVENT_RETENTION_HOURS": 0, "RUN_RETENTION_DAYS": 0}):
        for key, value in off.items():
            monkeypatch.setitem(app.config, key, value)
        assert [
            j.func_name
            for j in schedule_jobs(CronScheduler(connection=connection), app.config, env["AUTOMATION_QUEUE"])
        ] == ["plugin.jobs.worker.sweep", "plugin.jobs.worker.alerts", "plugin.jobs.worker.attribution"]
        monkeypatch.undo()
    connection.close()


def test_the_scheduler_prunes_through_a_worker(app, client, procs):
    with app.app_context():
        _event("old", age_h=100, dispatched_h=99)
        _event("newest", age_h=100, dispatched_h=99)
        _run("ok", status="succeeded", age_d=40)
        # open, and not due to resume (else the scheduler's sweep would hand it to the worker)
        _run("open", status="waiting", age_d=40, next_attempt_at=utcnow() + timedelta(days=1))
        db.session.commit()
    procs.start("worker")
    procs.start("scheduler")  # an interval job runs at once when the scheduler starts

    def pruned():
        with app.app_context():
            db.session.rollback()
            return _event_names() == {"newest"} and _run_ids() == {"open"}

    wait_for(pruned, timeout=60, interval=0.2, message="the scheduled prune\n" + procs.logs())
    with app.app_context():
        assert _steps_of() == {"open": 2}

    # the job adds to the counters just after its commit: the rows can be gone a moment before
    def counted():
        text = client.get("/metrics").get_data(as_text=True)
        return text if "automation_pruned_rows_total{" in text else None

    text = wait_for(counted, timeout=10, interval=0.1, message="the prune's counters")
    assert 'automation_pruned_rows_total{table="events"} 1.0' in text
    assert 'automation_pruned_rows_total{table="steps"} 2.0' in text
    assert "automation_prune_last_run_timestamp_seconds" in text
