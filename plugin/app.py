"""Application factory: configuration, extensions, blueprints, auth and the UI."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, send_from_directory
from sqlalchemy import event
from sqlalchemy.engine import Engine

from plugin import __version__
from plugin.config import from_env
from plugin.errors import register_error_handlers
from plugin.extensions import api, db, migrate

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
UI_DIST = ROOT / "ui" / "dist"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


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
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).get_dialect().driver
    except Exception:  # noqa: BLE001 - an unknown or broken URL fails later, with SQLAlchemy's message
        return None


# the configuration of the processes that dispatch and run flows (RQ workers, the scheduler)
WORKER_CONFIG = {"PG_PREPARE": False}


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config.update(from_env())
    app.config.update(
        API_TITLE="Marketing automation node server",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        # pool_size above the API's threads (8 a worker): a connection closed and reopened per
        # request past the default 5 costs a PostgreSQL backend start each time
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20},
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    elif not app.config.get("PG_PREPARE", True) and _driver(app.config["SQLALCHEMY_DATABASE_URI"]) == "psycopg":
        # Workers (WORKER_CONFIG): no server-side prepared statements. psycopg prepares a statement
        # on its 5th use, and PostgreSQL then keeps a generic plan made while the tables were
        # young and small — a sequential scan with a linear ``id = ANY(array)`` test per row,
        # kept as the tables grow (dispatch's batch statements: 2-40 ms each instead of ~1).
        # Planned with their values, each takes the index; a few statements carry a whole batch,
        # so planning each costs little. The API keeps them: its batch ingestion runs many small
        # statements, and unprepared they cost it ~20 % more PostgreSQL CPU per item.
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {}).setdefault("prepare_threshold", None)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    api.init_app(app, spec_kwargs={"info": {"description": "Scenarios of event → conditions → actions."}})

    from plugin.runtime import init_runtime

    init_runtime(app)
    register_error_handlers(app)

    from plugin.api import register_blueprints
    from plugin.api.auth import install_auth
    from plugin.api.ratelimit import install_rate_limit

    register_blueprints(app, api)
    install_auth(app)
    install_rate_limit(app)  # after auth: the limit is per token identity
    _install_ui(app)
    _install_headers(app)
    from plugin.api.fastpath import install as install_fast_ingest

    install_fast_ingest(app)  # in front of Flask for the valid common case of /events and /visits
    return app


def _install_ui(app: Flask) -> None:
    @app.get("/")
    def index():
        if not (UI_DIST / "index.html").exists():
            return (
                "<!doctype html><meta charset=utf-8><title>Automation</title>"
                "<p>The UI is not built. Run <code>bash scripts/run</code> or "
                "<code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>",
                503,
            )
        return send_from_directory(UI_DIST, "index.html", max_age=0)

    @app.get("/assets/<path:filename>")
    def assets(filename: str):
        return send_from_directory(UI_DIST / "assets", filename, max_age=31536000)

    @app.get("/favicon.svg")
    def favicon():
        return send_from_directory(UI_DIST, "favicon.svg")


def _install_headers(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'; object-src 'none'",
        )
        return response
