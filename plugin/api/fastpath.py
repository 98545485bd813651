"""The lean hot path of ingestion: ``POST /api/v1/events``, ``/visits``, ``/batch``, ``PUT /orders/{id}``
and ``PUT /clients/{id}``.

These endpoints take most of a busy site's traffic. Through Flask + flask-smorest + the ORM a
request costs ~2.5 ms of Python; this WSGI middleware answers the common, valid case in well
under half of that with the very same rules, and hands everything else to the Flask app:

* the same bearer-token check (``plugin.api.auth.authenticate``'s rules: the env token, else the
  SHA-256 of the token looked up in ``api_tokens``, on every request: a revoked token stops at
  once), the same scopes (read from the Flask views' declarations) and the same per-token rate
  limiter;
* the same strict JSON reading (``strict_loads``) and the same marshmallow schemas (``VisitIn``,
  ``CustomEventIn``, ``OrderIn``, ``ClientIn``; for a batch each item's schema, the envelope
  checked as ``BatchIn`` does), the plain valid case loaded by ``plugin.ingest.quickload`` (which
  answers as the schema or gives up),
  so what is accepted and how it is stored cannot drift from the documented API;
* the same durability: the row and its engine event are committed (on PostgreSQL one atomic
  statement: ``WITH … INSERT … ON CONFLICT DO NOTHING RETURNING … INSERT INTO events``) before the
  202, then the dispatch is notified exactly as ``plugin.api.ingest`` does (a batch and an order
  or client upsert go through the same ``ingest_batch`` / ``upsert_order`` / ``upsert_client`` as
  the Flask views, in one transaction).

Anything else — a missing or wrong token, a token whose scope does not cover the route, a
rate-limited token, a body that is not valid JSON,
that holds U+0000 or a string that is not Unicode, that fails the schema, a database error before
the commit — is passed to the Flask app untouched (the body re-wound), which answers it with its
problem details. So the fast path can only ever answer 202, with the body and headers the Flask
view would have given.
"""

from __future__ import annotations

import io
import json
import logging
import re

from marshmallow import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from plugin.api.auth import Identity, allows, identity_for, required_scope
from plugin.errors import ValidationFailed
from plugin.ingest import schemas
from plugin.ingest.batch import ingest_batch
from plugin.ingest.groupcommit import GroupCommit, write_rows
from plugin.ingest.orders import upsert_order
from plugin.ingest.quickload import QuickLoader
from plugin.ingest.ratelimit import RATE_TAKEN
from plugin.ingest.reading import MalformedJson, strict_loads
from plugin.ingest.store import (
    custom_event_row,
    ingest_custom_event,
    ingest_visit,
    status_map,
    upsert_client,
    visit_row,
)
from plugin.storage.models import utcnow

log = logging.getLogger(__name__)

PATHS = {"/api/v1/events": "event", "/api/v1/visits": "visit", "/api/v1/batch": "batch"}
BATCH_MAX = 1000
TOKENS_KNOWN = 1024
_TOKEN_SQL = text("SELECT id, scope FROM api_tokens WHERE token_hash = :h")


class FastIngest:
    """WSGI middleware: ``app.wsgi_app = FastIngest(app)``; see the module docstring."""

    def __init__(self, app):
        self.app = app
        self.flask_wsgi = app.wsgi_app
        self.schemas = {
            "event": schemas.CustomEventIn(),
            "visit": schemas.VisitIn(),
            "order": schemas.OrderIn(),
            "client": schemas.ClientIn(),
        }
        # the plain, valid case without marshmallow's per-field machinery; None: the schema decides
        self.quick = {kind: QuickLoader(schema) for kind, schema in self.schemas.items()}
        self.quick_items = {kind: QuickLoader(schema) for kind, schema in schemas.ITEM_LOADERS.items()}
        self.headers = _headers_of(app)
        self.scopes = _scopes_of(app)  # kind → the scope its Flask view declares
        self._engine = None
        self._autocommit = None  # PostgreSQL: single-statement writes (see _store)
        self._dbapi_error = None  # the driver's base exception, with the autocommit engine
        self._group: GroupCommit | None = None  # PostgreSQL: concurrent rows in one statement
        self._answers: dict[tuple, tuple[bytes, list]] = {}  # answer → (body, headers)
        self.served = 0  # requests answered here (the rest went to Flask): for tests and metrics
        # stored tokens seen valid here, SHA-256 → (id, scope), for plugin.api.fastloop (which
        # checks each one again in the statement that stores its row)
        self.tokens: dict[str, tuple[int, str]] = {}

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        kind, key = _route(environ)
        if kind is None or environ.get("QUERY_STRING"):
            return self.flask_wsgi(environ, start_response)
        raw = self._read(environ)
        if raw is None:
            return self.flask_wsgi(environ, start_response)
        try:
            answer = self._handle(kind, environ, raw, key)
        except Exception:  # never answer from here on a surprise: Flask decides
            log.warning(
                "fast ingestion path declined %s after an error", environ.get("PATH_INFO"), exc_info=True
            )
            answer = None
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
            return self.flask_wsgi(environ, start_response)
        body, headers = self.encoded(answer)
        start_response("202 ACCEPTED", headers)
        return [body]

    def encoded(self, answer: dict) -> tuple[bytes, list[tuple[str, str]]]:
        """A 202's body and headers (counted as served here)."""
        self.served += 1
        key = tuple(answer.items())  # a handful of distinct answers: encoded once each
        cached = self._answers.get(key)
        if cached is None:
            body = json.dumps(answer, separators=(",", ":")).encode() + b"\n"
            cached = (body, [*self.headers, ("Content-Length", str(len(body)))])
            if len(self._answers) < 1024:
                self._answers[key] = cached
        return cached[0], list(cached[1])

    def _read(self, environ) -> bytes | None:
        content_type = (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None  # chunked or absent: Flask reads it
        limit = self.app.config.get("MAX_CONTENT_LENGTH")
        if length <= 0 or (limit and length > limit):
            return None
        raw = environ["wsgi.input"].read(length)
        if len(raw) != length:
            environ["wsgi.input"] = io.BytesIO(raw)  # a short body: let Flask see exactly what came
            environ["CONTENT_LENGTH"] = str(len(raw))
            return None
        return raw

    # -- the request -----------------------------------------------------------------------

    def _handle(self, kind: str, environ, raw: bytes, key: str | None = None) -> dict | None:
        """The answer to a valid, authorised request, stored; None hands the request to Flask."""
        data = self._load(kind, raw)
        if data is None:
            return None
        engine = self._db()
        if not self._admitted(engine, environ, kind):
            return None
        if kind == "batch":
            derived = self._store_batch(engine, data)
            self._notify(derived)
            return {"accepted": len(data), "events": derived}
        if kind in ("order", "client"):
            created, derived = self._upsert(engine, kind, key, data)
            self._notify(derived)
            return {"accepted": True, "created": created, "events": derived}
        created, notified = self._store(engine, kind, data)
        if not notified:
            self._notify(1 if created else 0)
        return {"accepted": True, "created": created, "events": 1 if created else 0}

    def _load(self, kind: str, raw: bytes) -> dict | list | None:
        """The body read and loaded by its schema(s); None for anything Flask must answer."""
        try:
            body = strict_loads(raw)
        except (MalformedJson, ValidationFailed):  # Flask answers, naming every bad string's path
            return None
        if not isinstance(body, dict):
            return None
        try:
            if kind == "batch":
                return self._batch(body)
            data = self.quick[kind].load(body)
            return self.schemas[kind].load(body) if data is None else data
        except ValidationError:
            return None

    def _admitted(self, engine, environ, kind: str) -> bool:
        """The token is valid, its scope covers the route, and it is within its rate limit (one take
        of its budget per request). Its use is recorded here (Flask, answering a decline, records
        it again: the record is throttled)."""
        identity = self._identity(engine, environ.get("HTTP_AUTHORIZATION"))
        if identity is None or not allows(identity.scope, self.scopes[kind]):
            return False  # Flask answers the 401 / 403
        if identity.token_id is not None:
            self.app.extensions["token_use"].touch(engine, identity.token_id)
        limiter = self.app.extensions["ingest_rate_limiter"]
        try:
            # kept for Flask, should it answer this request after all (a 429, or a later decline):
            # one take of the token's budget per request
            environ[RATE_TAKEN] = wait = limiter.take(identity.key)
            if wait is not None:
                return False  # Flask answers the 429
        except Exception:  # noqa: BLE001 - Redis down: accept rather than refuse data (as Flask does)
            log.warning("ingestion rate limit not checked (fast path)")
        return True

    def _notify(self, count: int) -> None:
        if count:
            from plugin.jobs.queue import notify_dispatch

            try:
                notify_dispatch(self.app.extensions["automation"].queue)
            except Exception:  # noqa: BLE001 - stored: the sweeper dispatches undispatched events
                log.warning("could not enqueue %d events; the sweeper will dispatch them", count)

    def _batch(self, body: dict) -> list[tuple[str, dict]] | None:
        """``BatchIn`` and each item's schema, for a well-formed batch; None sends it to Flask."""
        items = body.get("items")
        if len(body) != 1 or not isinstance(items, list) or not 1 <= len(items) <= BATCH_MAX:
            return None
        by_kind: dict[str, tuple[list[int], list[dict]]] = {}
        for i, item in enumerate(items):
            if not isinstance(item, dict) or len(item) != 2 or not isinstance(item.get("data"), dict):
                return None
            kind = item.get("type")
            if not isinstance(kind, str) or kind not in schemas.ITEM_LOADERS:
                return None
            positions, datas = by_kind.setdefault(kind, ([], []))
            positions.append(i)
            datas.append(item["data"])
        # each kind's items loaded quickly, else in one ``load(many=True)``: the same rules item by
        # item (the schemas have no hooks that see the whole list)
        loaded: list = [None] * len(items)
        for kind, (positions, datas) in by_kind.items():
            results = self.quick_items[kind].load_many(datas)
            if results is None:
                results = schemas.ITEM_LOADERS[kind].load(datas, many=True)
            for i, data in zip(positions, results, strict=True):
                loaded[i] = (kind, data)
        return loaded

    def _status_groups(self) -> dict:
        return status_map(self.app.config.get("STATUS_GROUPS", ""))

    def _store_batch(self, engine, loaded: list[tuple[str, dict]]) -> int:
        with Session(engine, expire_on_commit=False) as session:
            derived = ingest_batch(session, loaded, self._status_groups())
            session.commit()
        return derived

    def _upsert(self, engine, kind: str, key: str, data: dict) -> tuple[bool, int]:
        """``PUT /orders/{id}`` and ``/clients/{id}``: the storage calls of plugin.api.ingest, committed."""
        with Session(engine, expire_on_commit=False) as session:
            if kind == "client":
                created, _changed = upsert_client(session, key, data)
                derived = 0
            else:
                events = upsert_order(session, key, data, self._status_groups())
                created = any(e.trigger == "order_created" for e in events)
                derived = len(events)
            session.commit()
        return created, derived

    def _db(self):
        if self._engine is None:
            from plugin.api.extensions import db

            with self.app.app_context():
                self._engine = db.engine
            if self._engine.dialect.name == "postgresql":
                self._autocommit = _autocommit_engine(self._engine)
                self._dbapi_error = self._autocommit.dialect.loaded_dbapi.Error
                if self.app.config.get("GROUP_COMMIT", True):
                    self._group = GroupCommit(
                        self._autocommit,
                        self._dbapi_error,
                        self._notify,
                        linger=self.app.config.get("INGEST_GATHER_MS", 0.0) / 1000,
                        capacity=self.app.config.get("API_THREADS"),
                    )
        return self._engine

    def _identity(self, engine, header: str | None) -> Identity | None:
        def lookup(digest: str) -> tuple[int, str] | None:
            with engine.connect() as conn:
                row = conn.execute(_TOKEN_SQL, {"h": digest}).first()
            if row is None:
                self.tokens.pop(digest, None)
                return None
            if len(self.tokens) < TOKENS_KNOWN or digest in self.tokens:
                self.tokens[digest] = (row[0], row[1])
            return (row[0], row[1])

        return identity_for(header, self.app.config.get("API_TOKEN") or "", lookup)

    def row_values(self, kind: str, data: dict) -> dict:
        """The row (and engine event) a loaded visit or custom event is stored as (PostgreSQL)."""
        now = utcnow()
        values = visit_row(data, now) if kind == "visit" else custom_event_row(data, now)
        values["now"] = now
        if kind == "event":
            values["event_data"] = {"name": data["name"]}
        return values

    def store_alone(self, kind: str, values: dict) -> bool:
        """One row on its own statement (PostgreSQL), the same id: whether it was new."""
        return values["id"] in write_rows(self._autocommit, self._dbapi_error, kind, [values])

    def _store(self, engine, kind: str, data: dict) -> tuple[bool, bool]:
        """Store one visit or custom event with its engine event: (new?, dispatch notified?)."""
        if engine.dialect.name != "postgresql":
            with Session(engine) as session:
                created, _events = (ingest_visit if kind == "visit" else ingest_custom_event)(session, data)
                session.commit()
            return created, False
        values = self.row_values(kind, data)
        if self._group is not None:
            created = self._group.store(kind, values)
            if created is not None:
                return created, True  # the committer notified dispatch for its whole group
        # no group commit, or the group failed: this row alone (the same id), in the same statement
        return self.store_alone(kind, values), False


# an id that reads the same in PATH_INFO and in Flask's decoded URL: anything else goes to Flask
_SAFE_ID = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]{1,64}")
_UPSERTS = {"/api/v1/orders/": "order", "/api/v1/clients/": "client"}


def _route(environ) -> tuple[str | None, str | None]:
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
    if method == "POST":
        return PATHS.get(path), None
    if method == "PUT" and path.startswith("/api/v1/"):
        prefix, _, key = path.rpartition("/")
        kind = _UPSERTS.get(prefix + "/")
        if kind and _SAFE_ID.fullmatch(key):
            return kind, key
    return None, None


def _autocommit_engine(engine):
    """An autocommit engine on the app's database without pre-ping, disposed with the app's engine."""
    from sqlalchemy import create_engine, event

    auto = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=20)
    event.listen(engine, "engine_disposed", lambda _engine: auto.dispose())
    return auto


# one request of each kind, to find the Flask view it stands in for
_EXAMPLES = {
    "event": ("POST", "/api/v1/events"),
    "visit": ("POST", "/api/v1/visits"),
    "batch": ("POST", "/api/v1/batch"),
    "order": ("PUT", "/api/v1/orders/x"),
    "client": ("PUT", "/api/v1/clients/x"),
}


def _scopes_of(app) -> dict[str, str]:
    """The scope each kind's Flask view declares (plugin.api.auth), so the two paths cannot differ."""
    adapter = app.url_map.bind("localhost")
    scopes = {}
    for kind, (method, path) in _EXAMPLES.items():
        endpoint, _args = adapter.match(path, method=method)
        scopes[kind] = required_scope(app.view_functions[endpoint], method)
    return scopes


def _headers_of(app) -> list[tuple[str, str]]:
    """The headers the Flask app puts on a 202 of these endpoints (its after_request hooks)."""
    with app.test_request_context("/api/v1/events", method="POST"):
        response = app.response_class(b"", status=202, mimetype="application/json")
        for hook in reversed(app.after_request_funcs.get(None, [])):
            response = hook(response)
    return [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]


def install(app) -> None:
    """Put the fast path in front of the Flask app (``AUTOMATION_FAST_INGEST=0`` turns it off)."""
    if app.config.get("FAST_INGEST", True):
        app.wsgi_app = app.extensions["fast_ingest"] = FastIngest(app)
