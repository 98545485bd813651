"""Request helpers shared by the blueprints: JSON bodies (read by ``plugin.ingest.reading``),
cursor pagination, run contexts, and the check of text PostgreSQL cannot store in URLs and bodies."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from flask import request

from plugin.api.openapi_runs import MOMENT_PATTERN
from plugin.errors import ApiProblem, ValidationFailed
from plugin.ingest.reading import MalformedJson, pointer, strict_loads, unicode_problem, unstorable
from plugin.messages import msg


def install_strict_json(parser) -> None:
    """Make a webargs parser (flask-smorest's ``@blp.arguments``) read JSON bodies strictly too."""
    from webargs.core import is_json, missing

    @parser.location_loader("json")
    def load_strict_json(req, schema):
        if not is_json(req.mimetype):  # webargs' rule: other content types carry no JSON
            return missing
        raw = req.get_data(cache=True)
        return strict_loads(raw) if raw else missing  # blanks alone are not JSON: 400


def json_body(required: bool = True) -> Any:
    raw = request.get_data(cache=True)
    if not raw:  # blanks alone are malformed JSON (400), not an absent body
        if required:
            raise MalformedJson(
                msg("body.required", "a JSON body is required"),
                [{"path": "/", "message": msg("body.empty", "the body is empty")}],
            )
        return {}
    mimetype = request.mimetype or ""
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiProblem(
            msg("body.media_type", f"expected Content-Type application/json, got {mimetype!r}", got=mimetype),
            status=415,
        )
    return strict_loads(raw)


def json_object(required: bool = True) -> dict:
    """A JSON body that must be an object (every endpoint taking named fields)."""
    body = json_body(required)
    if not isinstance(body, dict):
        raise ValidationFailed(
            msg("body.object", "the body must be a JSON object"),
            [{"path": "/", "message": msg("body.expected_object", "expected an object")}],
        )
    return body


def page_size(args, problems: list[dict], default: int = 50, most: int = 500) -> int:
    """The ``limit`` query parameter of a paged list, 1..``most``; a bad one is appended to
    ``problems`` (reported with the list's other bad parameters) and the default used."""
    try:
        limit = int(args.get("limit", default))
        if 1 <= limit <= most:
            return limit
    except ValueError:
        pass
    problems.append({"path": "/limit", "message": msg("query.limit", f"must be an integer from 1 to {most}")})
    return default


def moment(args, name: str, problems: list) -> datetime | None:
    """An ISO 8601 date or date-time as naive UTC (no offset: UTC)."""
    value = args.get(name)
    if value is None:
        return None
    try:
        if not re.fullmatch(MOMENT_PATTERN, value):  # what the document states, not all Python reads
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    except (ValueError, OverflowError):  # OverflowError: an offset that pushes it past year 1 or 9999
        said = msg(
            "query.moment", f"must be an ISO 8601 date or date-time, got {value[:40]!r}", value=value[:40]
        )
        problems.append({"path": f"/{name}", "message": said})
        return None


def encode_cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(value, list):
            raise ValueError
        return value
    except Exception:  # noqa: BLE001 - whatever fails to decode is a cursor this server did not issue
        raise ApiProblem(
            msg("cursor.foreign", "the cursor is not one this server issued"),
            [{"path": "/cursor", "message": msg("cursor.invalid", "invalid cursor")}],
        ) from None


CONTEXT_KEYS = ("visit", "order", "client", "event")


def context_problems(context: Any, base: str = "/context") -> list[dict]:
    """A caller-supplied run context: an object whose visit/order/client/event are objects or null.

    Checked rather than silently dropped, so a typo'd context is a 422 and not a run on nothing.
    """
    if context is None:
        return []
    if not isinstance(context, dict):
        return [
            {
                "path": base,
                "message": msg("context.object", f"expected an object, got {type(context).__name__}"),
            }
        ]
    problems = [
        {
            "path": f"{base}/{key}",
            "message": msg(
                "context.record", f"expected an object or null, got {type(context[key]).__name__}"
            ),
        }
        for key in CONTEXT_KEYS
        if context.get(key) is not None and not isinstance(context[key], dict)
    ]
    count = context.get("client_orders_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        problems.append(
            {
                "path": f"{base}/client_orders_count",
                "message": msg("context.count", "expected a non-negative integer"),
            }
        )
    return problems


def reject_nul_input() -> None:
    """A request hook for the API blueprints (after auth): text PostgreSQL cannot store is a 422 —
    U+0000 or bytes that are not UTF-8 in the URL or query, U+0000 or what is not Unicode in any
    string of the JSON body.

    Without it the database refuses the value mid-transaction and the client gets a 500, or (json
    columns take a \\ud800 escape) the event is accepted and fails later, in its dispatch; and
    werkzeug reads a URL's bad bytes as U+FFFD, so ``PUT /orders/%FF`` and ``/orders/%FE`` would
    update one order.
    """
    problems = _url_problems(request.environ)
    if request.is_json:
        try:
            strict_loads(request.get_data(cache=True))
        except ValidationFailed as exc:
            problems += exc.errors
        except MalformedJson:
            pass  # the view answers the malformed body
    if problems:
        raise unstorable(problems)


REPLACEMENT_IN_URL = msg(
    "url.replacement",
    "the URL cannot contain U+FFFD, the replacement character: it stands for bytes that were not UTF-8 "
    "(no id can contain it)",
)


def _url_problems(environ: dict) -> list[dict]:
    problems = []
    path = environ.get("PATH_INFO", "")
    try:  # PEP 3333: the URL's bytes, as latin-1
        path = path.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        pass  # a server that decoded it already
    if "\x00" in path:
        problems.append(
            {"path": "/", "message": msg("url.nul", "the URL cannot contain the NUL character (U+0000)")}
        )
    if (why := unicode_problem(path, True)) is not None:
        problems.append(
            {"path": "/", "message": msg("url.unicode", f"the URL is not valid Unicode: {why}", why=why)}
        )
    elif "\ufffd" in path:  # granian (RSGI) hands bad bytes over as U+FFFD: the two cannot be told apart
        problems.append({"path": "/", "message": REPLACEMENT_IN_URL})
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True, errors="surrogateescape")
    for key, value in query:
        if "\x00" in key or "\x00" in value:
            problems.append(
                {"path": pointer("", key), "message": msg("query.nul", "the query cannot contain U+0000")}
            )
        if (why := unicode_problem(key, True) or unicode_problem(value, True)) is not None:
            said = msg("query.unicode", f"the query is not valid Unicode: {why}", why=why)
            problems.append({"path": pointer("", key), "message": said})
    return problems
