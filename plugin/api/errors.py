"""The one JSON error shape (RFC 9457) of every HTTP answer, and the app's error handlers."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from werkzeug.exceptions import HTTPException

from plugin.errors import PROBLEM_TYPE, ApiProblem
from plugin.masking import mask_known
from plugin.messages import DEFAULT_LANGUAGE, Message, msg, negotiate, render

log = logging.getLogger(__name__)


def request_language() -> str:
    """The language of this request's problem details: ``Accept-Language`` (ru, en; q-values
    honoured), else ``AUTOMATION_LANGUAGE`` (default ru)."""
    default = current_app.config.get("LANGUAGE", DEFAULT_LANGUAGE) if current_app else DEFAULT_LANGUAGE
    return negotiate(request.headers.get("Accept-Language"), default) if request else default


def _said(status: int, title: str, detail, errors: list, slug: str | None, lang: str, server_text: bool):
    """Title, detail and errors in ``lang``: messages from their codes, titles by slug or status."""
    if lang != "en":
        from plugin.messages import ru_api as ru

        title = ru.TITLES.get(slug or "") or ru.STATUS_TITLES.get(status) or title
        if server_text and not isinstance(detail, Message):
            detail = ru.STATUS_DETAILS.get(status, detail)
    errors = [
        {**e, "message": render(e["message"], lang)} if isinstance(e, dict) and "message" in e else e
        for e in errors
    ]
    return title, render(detail, lang), errors


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list | None = None,
    slug: str | None = None,
    headers=None,
    *,
    server_text: bool = False,
):
    lang = request_language()
    title, detail, errors = _said(status, title, detail, errors or [], slug, lang, server_text)
    body = {
        "type": PROBLEM_TYPE + (slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path if request else None,
        "errors": errors,
    }
    body = mask_known(body)  # no secret the process has seen, in any spelling, in an error body
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers["Content-Language"] = lang
    response.vary.add("Accept-Language")
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
            out.append({"path": base or "/", "message": msg("marshmallow", message, text=message)})
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
            detail = msg("http.schema", "the request does not match the documented schema")
        headers = None
        if status == 405:  # RFC 9110 §15.5.6: the methods of the route that serves the path
            from plugin.api.conformance import allowed_methods

            headers = {"Allow": ", ".join(allowed_methods(current_app, request.path))}
        return problem(status, exc.name, detail, errors, headers=headers, server_text=True)

    _register_database_handlers(app)


def _register_database_handlers(app: Flask) -> None:
    @app.errorhandler(ObjectDeletedError)
    @app.errorhandler(StaleDataError)
    def _deleted_meanwhile(exc: Exception):
        # another request deleted (or rewrote) the row while this one worked on it (PATCH racing a DELETE)
        log.info("%s %s: the row went away meanwhile (%s)", request.method, request.path, type(exc).__name__)
        _rollback()
        return problem(
            404,
            "Not found",
            msg("http.deleted", "it was deleted by another request while this one ran"),
            slug="not-found",
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
            msg(
                "http.unavailable",
                "the database is not reachable right now; try again (a repeated ingestion fires nothing twice)",
            ),
            slug="unavailable",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _bug(exc: Exception):
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return problem(
            500,
            "Internal server error",
            msg("http.bug", "an unexpected error occurred; it has been logged"),
        )
