"""The database connection of every process: engine options, SQLite pragmas, sessions.

The API hands these options to Flask-SQLAlchemy; workers and the scheduler, which load no
Flask, make their engine and sessions here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
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
