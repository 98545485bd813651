"""Bearer-token authentication: tokens are stored hashed; AUTOMATION_API_TOKEN adds one more."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

from flask import Flask, current_app, g, request

from plugin.api.extensions import db
from plugin.errors import Unauthorized
from plugin.storage.models import ApiToken

PUBLIC_PATHS = ("/api/v1/health", "/plugin.json", "/api/v1/plugin.json", "/api/v1/openapi.json")
PUBLIC_PREFIXES = ("/assets/",)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str = "") -> str:
    token = "an_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(name=name, token_hash=hash_token(token)))
    db.session.commit()
    return token


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path == "/" or path == "/favicon.svg" or path.startswith(PUBLIC_PREFIXES)


def authenticate(header: str | None) -> str | None:
    """The token's identity (for rate limits) or None."""
    return identity_for(
        header,
        current_app.config.get("API_TOKEN") or "",
        lambda digest: db.session.query(ApiToken.id).filter(ApiToken.token_hash == digest).scalar(),
    )


def identity_for(header: str | None, env_token: str, token_id: Callable[[str], int | None]) -> str | None:
    """The bearer-token rules: ``token_id(sha256 hex)`` finds a stored token's id."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:  # the scheme is case-insensitive (RFC 9110 §11.1)
        return None
    if env_token and hmac.compare_digest(token.encode(), env_token.encode()):
        return "env"
    found = token_id(hash_token(token))
    return f"token:{found}" if found is not None else None


def install_auth(app: Flask) -> None:
    @app.before_request
    def require_token():
        if request.method == "OPTIONS" or _is_public(request.path):
            return
        identity = authenticate(request.headers.get("Authorization"))
        if identity is None:
            raise Unauthorized("a valid bearer token is required (Authorization: Bearer <token>)")
        g.identity = identity
