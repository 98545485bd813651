"""Shared fixtures: real Redis, SQLite and PostgreSQL databases, the app, workers and a live server."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from tests.fakes.fixtures import *  # noqa: F403 - the fakes are fixtures for every test

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789"
REDIS_BASE = os.environ.get("AUTOMATION_TEST_REDIS", "redis://127.0.0.1:6379")
PG_BASE = os.environ.get("AUTOMATION_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
BACKENDS = [b for b in os.environ.get("AUTOMATION_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return f"{PG_BASE}/postgres"


def _create_pg_database() -> str:
    name = f"automation_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return name


def _drop_pg_database(name: str) -> None:
    engine = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@contextlib.contextmanager
def leased_redis_db():
    """A Redis database of its own on the machine's real Redis, flushed around its use.

    Databases 1–14 are leased through a key in database 0, so concurrent test processes on the
    same machine never share (and flush) one another's queues.
    """
    admin = redis_lib.Redis.from_url(f"{REDIS_BASE}/0")
    token, deadline, db = uuid.uuid4().hex, time.monotonic() + 60, None
    while db is None:
        db = next(
            (n for n in range(1, 15) if admin.set(f"automation-test:lease:{n}", token, nx=True, ex=1800)),
            None,
        )
        if db is None:
            if time.monotonic() > deadline:
                raise RuntimeError("no free Redis test database (1–14)")
            time.sleep(0.2)
    url = f"{REDIS_BASE}/{db}"
    client = redis_lib.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
        if admin.get(f"automation-test:lease:{db}") == token.encode():
            admin.delete(f"automation-test:lease:{db}")
        admin.close()


@pytest.fixture
def redis_url():
    with leased_redis_db() as url:
        yield url


# Databases handed out already migrated (copied from a template made once per session);
# make_app skips the Alembic upgrade for these.
PREMIGRATED: set[str] = set()
_TEMPLATES: dict[str, str] = {}


def _migrate_in_subprocess(database_url: str, data_dir: Path) -> None:
    """`server.py migrate` in its own process, so no connection to the template stays open."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": f"{REDIS_BASE}/0",
        "AUTOMATION_DATA_DIR": str(data_dir),
        "AUTOMATION_SECRET_KEY": "0Nq0kxJ7m3y0n4U3hCz8y2W3x9mQm0mX4nOa3JcZ6eA=",
        # the suites assert the English wording of problems; tests/api/test_language.py checks
        # Russian, Accept-Language and the real default (ru)
        "AUTOMATION_LANGUAGE": "en",
    }
    subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _template(kind: str, tmp_factory) -> str:
    if kind not in _TEMPLATES:
        base = tmp_factory.mktemp("db-template")
        if kind == "sqlite":
            path = base / "template.db"
            _migrate_in_subprocess(f"sqlite:///{path}", base)
            import sqlite3

            with sqlite3.connect(path) as conn:  # fold the WAL into the file we copy
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.execute("PRAGMA journal_mode=DELETE")
            _TEMPLATES[kind] = str(path)
        else:
            name = _create_pg_database()
            _migrate_in_subprocess(f"{PG_BASE}/{name}", base)
            _TEMPLATES[kind] = name
    return _TEMPLATES[kind]


@pytest.fixture(scope="session", autouse=True)
def _drop_templates():
    yield
    if "postgresql" in _TEMPLATES:
        _drop_pg_database(_TEMPLATES["postgresql"])


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path, tmp_path_factory):
    """A fresh database of ``kind`` (sqlite / postgresql) copied from the migrated template."""
    if kind == "sqlite":
        path = folder / f"automation-{uuid.uuid4().hex[:6]}.db"
        shutil.copyfile(_template("sqlite", tmp_path_factory), path)
        url = f"sqlite:///{path}"
        PREMIGRATED.add(url)
        yield url
        return
    name = f"automation_test_{uuid.uuid4().hex[:10]}"
    engine = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_template("postgresql", tmp_path_factory)}"'))
    engine.dispose()
    url = f"{PG_BASE}/{name}"
    PREMIGRATED.add(url)
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, tmp_path_factory):
    """Each test using this runs once on SQLite (embedded default) and once on PostgreSQL,
    each time on a fresh database copied from one migrated template."""
    with fresh_database(request.param, tmp_path, tmp_path_factory) as url:
        yield url


@pytest.fixture
def pg_url(tmp_path):
    name = _create_pg_database()
    yield f"{PG_BASE}/{name}"
    _drop_pg_database(name)


def app_env(database_url: str, redis_url: str, data_dir: Path, **extra) -> dict:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AUTOMATION_DATA_DIR": str(data_dir),
        "AUTOMATION_API_TOKEN": TOKEN,
        "AUTOMATION_OUTBOUND_ALLOWLIST": "127.0.0.1,::1,localhost",
        "AUTOMATION_RETRY_BASE_SECONDS": "0.3",
        "AUTOMATION_LEASE_SECONDS": "6",
        "AUTOMATION_SWEEP_INTERVAL": "1",
        "AUTOMATION_SMTP_VERIFY_TLS": "0",
        "AUTOMATION_HTTP_TIMEOUT": "5",
        "AUTOMATION_SECRET_KEY": "0Nq0kxJ7m3y0n4U3hCz8y2W3x9mQm0mX4nOa3JcZ6eA=",
        # the suites assert the English wording of problems; tests/api/test_language.py checks
        # Russian, Accept-Language and the real default (ru)
        "AUTOMATION_LANGUAGE": "en",
        # a queue of its own: a stray worker left on the machine can never take this test's jobs
        "AUTOMATION_QUEUE": f"automation-test-{uuid.uuid4().hex[:8]}",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def make_app(env: dict):
    """create_app with the given environment (the app reads its config from the environment)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from plugin.api.app import create_app
        from plugin.cli import migrate_db

        if env.get("DATABASE_URL") not in PREMIGRATED:
            migrate_db()
        return create_app()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def env(database_url, redis_url, tmp_path):
    return app_env(database_url, redis_url, tmp_path / "data")


@pytest.fixture
def app(env):
    app = make_app(env)
    yield app
    from plugin.api.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return c


@pytest.fixture
def anon(app):
    return app.test_client()


class LiveServer:
    def __init__(self, app):
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()


class Processes:
    """Worker / scheduler subprocesses of ``server.py`` sharing the test's database and Redis."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.children: list[subprocess.Popen] = []

    def start(self, role: str = "worker") -> subprocess.Popen:
        log = open(self.log_dir / f"{role}-{len(self.children)}.log", "wb")
        child = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), role], cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        self.children.append(child)
        return child

    def stop_all(self):
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.log_dir.glob("*.log")))


@pytest.fixture
def live(app):
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def procs(env, tmp_path):
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    p = Processes(env, log_dir)
    yield p
    p.stop_all()


def refuse_custom_event_named(database_url: str, name: str) -> None:
    """A PostgreSQL trigger that refuses to insert a custom event of this name (a row the
    database refuses, for the ingestion paths' error handling)."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_name() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.name = '{name}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_name BEFORE INSERT ON custom_events "
                "FOR EACH ROW EXECUTE FUNCTION refuse_name()"
            )
        )
    engine.dispose()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def settle_late(timeout: float = 60.0) -> None:
    """Wait until this process's late settler has stored every late call and walked its run on.

    An in-process drain returns when its waiters are done; a call that outlived its waiter's
    patience (0.1 s for a destination not heard from lately: each fake is new) is stored after
    that by the settler's thread, so a run read at once may still be ``running``."""
    from plugin.transport.sendstage import stage

    idle = getattr(stage().on_late, "idle", None)
    if idle is not None:
        wait_for(idle, timeout=timeout, interval=0.02, message="the late calls to settle")
