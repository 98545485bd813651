"""The exception tree for user and configuration problems; :mod:`plugin.api.errors` answers them (RFC 9457)."""

from __future__ import annotations

from plugin.messages import Message, msg

PROBLEM_TYPE = "https://automation-nodes.dev/problems/"


class ApiProblem(Exception):
    """A 4xx answer with every problem listed, each with a JSON-pointer path."""

    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(
        self, detail: str, errors: list[dict] | None = None, *, status: int | None = None, headers=None
    ):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        if status is not None:
            self.status = status
        self.headers = headers or {}


class ValidationFailed(ApiProblem):
    status = 422
    title = "Validation failed"
    slug = "validation"


class NotFound(ApiProblem):
    status = 404
    title = "Not found"
    slug = "not-found"


class Conflict(ApiProblem):
    status = 409
    title = "Conflict"
    slug = "conflict"


class Unauthorized(ApiProblem):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(ApiProblem):
    """A valid token whose scope does not cover the route (plugin/api/auth.py)."""

    status = 403
    title = "Insufficient token scope"
    slug = "forbidden"


class TooManyRequests(ApiProblem):
    status = 429
    title = "Too many requests"
    slug = "rate-limited"


class UnsupportedMediaType(ApiProblem):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


def problems_detail(what: str, count: int, suffix: str = "") -> Message:
    """«the flow has 3 problem(s)» (``what``: flow, preset, connection, params), in any language."""
    verb = "have" if what == "params" else "has"
    english = f"the {what} {verb} {count} problem(s)" if what else f"{count} problem(s)"
    return msg(f"problems.{what or 'any'}{suffix}", english + _SUFFIXES.get(suffix, ""), count=count)


_SUFFIXES = {
    "": "",
    ".not_imported": "; nothing was imported",
    ".not_stored": "; nothing was stored",
    ".dry_run": " in the dry-run request",
}
