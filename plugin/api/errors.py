"""The one JSON error shape (RFC 9457) of every HTTP answer, and the app's error handlers."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from werkzeug.exceptions import HTTPException

from plugin.errors import PROBLEM_TYPE, ApiProblem
from plugin.masking import mask_known

log = logging.getLogger(__name__)


def problem(
    status: int, title: str, detail: str, errors: list | None = None, slug: str | None = None, headers=None
):
    body = {
        "type": PROBLEM_TYPE + (slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path if request else None,
        "errors": errors or [],
    }
    body = mask_known(body)  # no secret the process has seen, in any spelling, in an error body
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="automation"'
    return response


def _smorest_errors(messages, base="") -> list[dict]:
    """Flatten marshmallow's nested error dict into pointer/message pairs."""
    out = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "headers", "form", "path", "files"):
                out += _smorest_errors(value, base)
            else:
                out += _smorest_errors(value, f"{base}/{key}")
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            out.append({"path": base or "/", "message": message})
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out += _smorest_errors(value, f"{base}/{i}")
    else:
        out.append({"path": base or "/", "message": str(messages)})
    return out


def _rollback() -> None:
    try:
        from plugin.api.extensions import db

        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone (the pool replaces it, pre-ping) or nothing to undo
        log.debug("rollback after a database error failed too")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiProblem)
    def _api_problem(exc: ApiProblem):
        return problem(exc.status, exc.title, exc.detail, exc.errors, exc.slug, exc.headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        errors = []
        data = getattr(exc, "data", None)
        if isinstance(data, dict) and "messages" in data:
            errors = _smorest_errors(data["messages"])
        status = exc.code or 500
        detail = exc.description or exc.name
        if status == 422 and errors:
            detail = "the request does not match the documented schema"
        headers = None
        if status == 405:  # RFC 9110 §15.5.6: the methods of the route that serves the path
            from plugin.api.conformance import allowed_methods

            headers = {"Allow": ", ".join(allowed_methods(current_app, request.path))}
        return problem(status, exc.name, detail, errors, headers=headers)

    @app.errorhandler(ObjectDeletedError)
    @app.errorhandler(StaleDataError)
    def _deleted_meanwhile(exc: Exception):
        # another request deleted (or rewrote) the row while this one worked on it (PATCH racing a DELETE)
        log.info("%s %s: the row went away meanwhile (%s)", request.method, request.path, type(exc).__name__)
        _rollback()
        return problem(
            404, "Not found", "it was deleted by another request while this one ran", slug="not-found"
        )

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc: Exception):
        # The database is restarting, unreachable or (SQLite) locked past the busy timeout: a 503 the
        # client retries (ingestion is idempotent, so a retry never fires twice), not a 500 "bug".
        log.warning("database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
        _rollback()
        return problem(
            503,
            "Service unavailable",
            "the database is not reachable right now; try again (a repeated ingestion fires nothing twice)",
            slug="unavailable",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _bug(exc: Exception):
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return problem(500, "Internal server error", "an unexpected error occurred; it has been logged")
