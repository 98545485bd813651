"""Application factory: configuration, extensions, blueprints, auth and the UI."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, send_from_directory

from plugin import __version__
from plugin.api.errors import register_error_handlers
from plugin.api.extensions import api, db, migrate
from plugin.config import from_env
from plugin.storage.db import WORKER_CONFIG, engine_options  # noqa: F401 - WORKER_CONFIG: tests build a worker-configured app

ROOT = Path(__file__).resolve().parents[2]
UI_DIST = ROOT / "ui" / "dist"
MIGRATIONS = ROOT / "plugin" / "migrations"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config.update(from_env())
    app.config.update(
        API_TITLE="Marketing automation node server",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    api.init_app(app, spec_kwargs={"info": {"description": "Scenarios of event → conditions → actions."}})

    from plugin.registry import check_schemas
    from plugin.runtime import build_runtime

    app.extensions["automation"] = runtime = build_runtime(app.config)
    check_schemas(runtime.registry)  # the node schemas themselves: jsonschema loads here, not in workers
    with app.app_context():  # direct node calls and dry runs honour the suppression list too
        from plugin.storage.suppressions import Checker

        runtime.services.suppressed = Checker(db.engine)
    register_error_handlers(app)

    from plugin.api import conformance, register_blueprints
    from plugin.api.auth import install_auth
    from plugin.api.ratelimit import install_rate_limit

    register_blueprints(app, api)
    install_auth(app)
    app.before_request(conformance.check_request_body)  # after auth: 401 before 413/415
    install_rate_limit(app)  # after auth: the limit is per token identity
    conformance.install(app)
    _install_ui(app)
    _install_headers(app)
    from plugin.api.fastpath import install as install_fast_ingest

    # a chunked body (which the fast path leaves to Flask) read whole, the size limit applied
    app.wsgi_app = conformance.whole_chunked_body(app.wsgi_app, app.config.get("MAX_CONTENT_LENGTH"))
    install_fast_ingest(app)  # in front of Flask for the valid common case of /events and /visits
    return app


def _install_ui(app: Flask) -> None:
    @app.get("/")
    def index():
        if not (UI_DIST / "index.html").exists():
            return (
                (
                    "<!doctype html><meta charset=utf-8><title>Automation</title>"
                    "<p>The UI is not built. Run <code>bash scripts/run</code> or "
                    "<code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>"
                ),
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
