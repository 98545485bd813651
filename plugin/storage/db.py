"""The database connection of every process: engine options, SQLite pragmas, sessions.

The API hands these options to Flask-SQLAlchemy; workers and the scheduler, which load no
Flask, make their engine and sessions here.
"""

from __future__ import annotations

import select
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import plugins
from sqlalchemy.engine import CreateEnginePlugin, Engine, make_url
from sqlalchemy.orm import Session, scoped_session, sessionmaker

# the configuration of the processes that dispatch and run flows (RQ workers, the scheduler)
WORKER_CONFIG = {"PG_PREPARE": False}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    # The API and every worker write the same SQLite file: WAL + a busy timeout (SPEC §9).
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _driver(url: str) -> str | None:
    try:
        return make_url(url).get_dialect().driver
    except Exception:  # noqa: BLE001 - an unknown or broken URL fails later, with SQLAlchemy's message
        return None


def engine_options(config: dict[str, Any]) -> dict[str, Any]:
    """The engine options for ``config["SQLALCHEMY_DATABASE_URI"]`` (creates a SQLite file's folder)."""
    url = config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        return {"connect_args": {"timeout": 30}}
    # pool_size above the API's threads (8 a worker): a connection closed and reopened per
    # request past the default 5 costs a PostgreSQL backend start each time
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
    if _driver(url) == "psycopg":
        options["plugins"] = [QUIET_PING]
    if not config.get("PG_PREPARE", True) and _driver(url) == "psycopg":
        # Workers (WORKER_CONFIG): no server-side prepared statements. psycopg prepares a statement
        # on its 5th use, and PostgreSQL then keeps a generic plan made while the tables were
        # young and small — a sequential scan with a linear ``id = ANY(array)`` test per row,
        # kept as the tables grow (dispatch's batch statements: 2-40 ms each instead of ~1).
        # Planned with their values, each takes the index; a few statements carry a whole batch,
        # so planning each costs little. The API keeps them: its batch ingestion runs many small
        # statements, and unprepared they cost it ~20 % more PostgreSQL CPU per item.
        options["connect_args"] = {"prepare_threshold": None}
    return options


class QuietPing(CreateEnginePlugin):
    """``pool_pre_ping`` without its round trip while a pooled connection has nothing to read.

    SQLAlchemy pings each connection it takes from the pool: a round trip for the process and a
    statement for PostgreSQL at every checkout, two per dispatched batch. A connection its server
    still holds has nothing to read between statements; one the server ended (a restart, a
    terminated backend) has the server's error and the end of the stream waiting on its socket.
    So the socket is polled first, without waiting, and only a connection with something to read
    is pinged, and replaced (with the pool's other connections) when that fails, as before. A
    server gone without a word (its host down) is seen by neither way before a statement fails.
    (tests/engine/test_driver_statements.py)"""

    def update_url(self, url):
        return url  # named in the engine's options, not in its URL

    def engine_created(self, engine: Engine) -> None:
        ping = engine.dialect.do_ping

        def do_ping(dbapi_connection) -> bool:
            return True if _quiet(dbapi_connection) else ping(dbapi_connection)

        engine.dialect.do_ping = do_ping


def _quiet(dbapi_connection) -> bool:
    """Whether a psycopg connection is open with nothing to read on its socket."""
    try:
        if dbapi_connection.closed:
            return False
        poll = select.poll()
        poll.register(dbapi_connection.pgconn.socket, select.POLLIN | select.POLLPRI)
        return not poll.poll(0)
    except Exception:  # noqa: BLE001 - not a psycopg connection, or a broken one: pinged
        return False


QUIET_PING = "automation_quiet_ping"
plugins.register(QUIET_PING, __name__, "QuietPing")


class Database:
    """A process's engine and its thread-local sessions (what Flask-SQLAlchemy is to the API)."""

    def __init__(self, config: dict[str, Any]):
        self.engine = create_engine(config["SQLALCHEMY_DATABASE_URI"], **engine_options(config))
        self.sessions = sessionmaker(bind=self.engine)
        self.session = scoped_session(self.sessions)

    def new_session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()
