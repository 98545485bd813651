"""Bearer tokens and their scopes: tokens are stored hashed; AUTOMATION_API_TOKEN adds one admin token.

A token has one scope: ``ingest`` (the ingestion endpoints only), ``read`` (every GET) or
``admin`` (everything). What a route needs is declared on its view, next to the route:

    from plugin.api.auth import INGEST, public, requires_scope

    @blp.route("/events")
    class CustomEvents(MethodView):
        @requires_scope(INGEST)          # on a MethodView method, or on a plain view function
        def post(self): ...

    class HookPost(MethodView):
        @public                          # no token at all (e.g. a secret key in the URL)
        def post(self, key): ...

The decorator may sit anywhere in the stack of flask-smorest's decorators (they keep the
attribute), or on a MethodView class for all its methods. Undeclared: GET/HEAD → ``read``,
every other method → ``admin``. A token outside the scope gets a 403 problem naming both scopes.
The lean ingestion path (``plugin/api/fastpath.py``) reads the same declarations.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import NamedTuple

from flask import Flask, current_app, g, request
from sqlalchemy import text

from plugin.api.extensions import db
from plugin.errors import Forbidden, Unauthorized
from plugin.messages import msg
from plugin.storage.models import ApiToken, utcnow

log = logging.getLogger(__name__)

INGEST, READ, ADMIN = "ingest", "read", "admin"
SCOPES = (INGEST, READ, ADMIN)
PUBLIC = "public"  # a route declared public needs no token

PUBLIC_PATHS = ("/api/v1/health", "/plugin.json", "/api/v1/plugin.json", "/api/v1/openapi.json")
PUBLIC_PREFIXES = ("/assets/",)


class Identity(NamedTuple):
    """Who made the request: ``key`` names it for the rate limiter (``env`` or ``token:<id>``)."""

    key: str
    scope: str
    token_id: int | None = None


# -- declarations ----------------------------------------------------------------------------


def requires_scope(scope: str) -> Callable:
    """Declare the scope a view (function, MethodView method or class) needs; see the module docstring."""
    if scope not in (*SCOPES, PUBLIC):
        raise ValueError(f"scope must be one of {', '.join((*SCOPES, PUBLIC))}, got {scope!r}")

    def mark(view):
        view.required_scope = scope
        return view

    return mark


public = requires_scope(PUBLIC)


def required_scope(view, method: str) -> str:
    """The scope ``method`` on ``view`` (an app's view function) needs: declared, else the default."""
    cls = getattr(view, "view_class", None)
    func = view
    if cls is not None:
        func = getattr(cls, method.lower(), None)
        if func is None and method == "HEAD":
            func = getattr(cls, "get", None)
    declared = getattr(func, "required_scope", None) or getattr(cls, "required_scope", None)
    if declared:
        return declared
    return READ if method in ("GET", "HEAD") else ADMIN


def allows(scope: str, required: str) -> bool:
    """Whether a token of ``scope`` may call a route that needs ``required``."""
    return required == PUBLIC or scope in (ADMIN, required)


# -- tokens ----------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session, name: str = "", scope: str = ADMIN) -> tuple[ApiToken, str]:
    """A new token's row (added to ``session``, not committed) and the token, shown only now."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    token = "an_" + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=hash_token(token), scope=scope)
    session.add(row)
    return row, token


def create_token(name: str = "", scope: str = ADMIN) -> str:
    _row, token = issue_token(db.session, name, scope)
    db.session.commit()
    return token


def identity_for(
    header: str | None, env_token: str, lookup: Callable[[str], tuple[int, str] | None]
) -> Identity | None:
    """The bearer-token rules: ``lookup(sha256 hex)`` finds a stored token's ``(id, scope)``."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:  # the scheme is case-insensitive (RFC 9110 §11.1)
        return None
    if env_token and hmac.compare_digest(token.encode(), env_token.encode()):
        return Identity("env", ADMIN)
    found = lookup(hash_token(token))
    if found is None:
        return None
    token_id, scope = found
    return Identity(f"token:{token_id}", scope, token_id)


def authenticate(header: str | None) -> Identity | None:
    """The request's identity (the token's use is recorded, see :class:`TokenUse`) or None."""

    def lookup(digest: str) -> tuple[int, str] | None:
        row = db.session.execute(
            text("SELECT id, scope FROM api_tokens WHERE token_hash = :h"), {"h": digest}
        ).first()
        return (row[0], row[1]) if row is not None else None

    identity = identity_for(header, current_app.config.get("API_TOKEN") or "", lookup)
    if identity is not None and identity.token_id is not None:
        current_app.extensions["token_use"].touch(db.engine, identity.token_id)
    return identity


class TokenUse:
    """``api_tokens.last_used_at``: at most one write a minute per token and process, in a background
    thread, so a request never waits for it (the ingestion hot path serves thousands a second).
    The UPDATE itself skips a row another process stamped less than a minute ago."""

    INTERVAL = 60.0
    _pool: ThreadPoolExecutor | None = None
    _pool_lock = threading.Lock()

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._last: dict[int, float] = {}

    def due(self, token_id: int) -> bool:
        """True at most once per INTERVAL per token (a race may let two through: a harmless write)."""
        now = self.clock()
        last = self._last.get(token_id)
        if last is not None and now - last < self.INTERVAL:
            return False
        self._last[token_id] = now
        return True

    def touch(self, engine, token_id: int) -> None:
        if self.due(token_id):
            self._executor().submit(_stamp, engine, token_id, self.INTERVAL)

    @classmethod
    def _executor(cls) -> ThreadPoolExecutor:
        with cls._pool_lock:
            if cls._pool is None:
                cls._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="token-use")
            return cls._pool


_STAMP = text(
    "UPDATE api_tokens SET last_used_at = :now WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :before)"
)


def _stamp(engine, token_id: int, interval: float) -> None:
    now = utcnow()
    try:
        with engine.begin() as conn:
            conn.execute(_STAMP, {"now": now, "id": token_id, "before": now - timedelta(seconds=interval)})
    except Exception:
        log.warning("could not record the use of API token %d", token_id, exc_info=True)


# -- the Flask hook --------------------------------------------------------------------------


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path == "/" or path == "/favicon.svg" or path.startswith(PUBLIC_PREFIXES)


def forbidden(identity: Identity, required: str) -> Forbidden:
    owner = "AUTOMATION_API_TOKEN" if identity.token_id is None else f"token {identity.token_id}"
    english = (
        f"{request.method} {request.path} needs a token with the '{required}' scope (or 'admin'); "
        f"this token ({owner}) has the '{identity.scope}' scope"
    )
    return Forbidden(
        msg(
            "auth.scope",
            english,
            route=f"{request.method} {request.path}",
            required=required,
            token=identity.token_id,
            scope=identity.scope,
        ),
        headers={
            "WWW-Authenticate": f'Bearer realm="automation", error="insufficient_scope", scope="{required}"'
        },
    )


def install_auth(app: Flask) -> None:
    app.extensions["token_use"] = TokenUse()

    @app.before_request
    def require_token():
        if request.method == "OPTIONS" or _is_public(request.path):
            return
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        required = required_scope(view, request.method) if view is not None else None
        if required == PUBLIC:
            return
        identity = authenticate(request.headers.get("Authorization"))
        if identity is None:
            raise Unauthorized(
                msg("auth.required", "a valid bearer token is required (Authorization: Bearer <token>)")
            )
        g.identity = identity.key
        g.token = identity
        if required is not None and not allows(identity.scope, required):
            raise forbidden(identity, required)
