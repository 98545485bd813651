"""HTTP semantics every route shares: whole request bodies, media types and ``Allow``.

* A chunked body (``Transfer-Encoding: chunked``, no ``Content-Length``) is read whole before the
  app, up to one byte past the size limit: over it the request is answered 413 as one with a
  declared length is, instead of reaching the JSON reader cut at the limit (werkzeug stops its
  read there without a word, so the client got 400 «Malformed JSON»). It sits under the fast
  ingestion path, which leaves every chunked body to Flask.
* A body is read only in a media type the OpenAPI document lists for the operation
  (``application/json`` also admits ``application/*+json``): anything else, or a body with no
  ``Content-Type``, is a 415 problem, so that no view ever reads a text or form body as "no
  fields" (``PUT /orders/{id}`` with ``text/plain`` stored an empty order and fired
  «Новая сделка»). A required body that is absent is a 400 problem.
* ``OPTIONS`` and a 405 list in ``Allow`` the methods of the route that serves the path
  (``/flows/test`` is POST only, though ``/flows/<flow_id>`` would also match it).
"""

from __future__ import annotations

import io
import re

from flask import Flask, current_app, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from plugin.errors import UnsupportedMediaType
from plugin.ingest.reading import MalformedJson
from plugin.messages import msg

BODY_METHODS = ("POST", "PUT", "PATCH")
_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def whole_chunked_body(wsgi_app, max_body: int | None):
    """WSGI middleware: a chunked request body read whole (at most ``max_body`` + 1 bytes) and
    handed on with its length, so that the size limit applies to it as to a declared length."""

    def app(environ, start_response):
        chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        if not chunked or environ.get("CONTENT_LENGTH"):
            return wsgi_app(environ, start_response)
        stream, chunks, size = environ["wsgi.input"], [], 0
        want = max_body + 1 if max_body else None
        while want is None or size < want:
            chunk = stream.read(65536 if want is None else min(65536, want - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
        environ["CONTENT_LENGTH"] = str(size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        if not max_body or size <= max_body:
            return wsgi_app(environ, start_response)

        def closing(status, headers, exc_info=None):
            # the rest of the body is left unread: this connection cannot carry another request
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return wsgi_app(environ, closing)

    return app


def _request_bodies(app: Flask) -> dict[tuple[str, str], dict]:
    """(Flask rule, method) → the operation's documented ``requestBody``, read once from the document."""
    cached = app.extensions.get("request_bodies")
    if cached is None:
        from plugin.api.extensions import api

        paths = api.spec.to_dict().get("paths", {})
        cached = {}
        for rule in app.url_map.iter_rules():
            item = paths.get(_PARAM.sub(r"{\1}", rule.rule), {})
            for method in rule.methods & set(BODY_METHODS):
                body = item.get(method.lower(), {}).get("requestBody")
                if body is not None:
                    cached[(rule.rule, method)] = body
        app.extensions["request_bodies"] = cached
    return cached


def _accepted(mimetype: str, media_types) -> bool:
    if mimetype in media_types:
        return True
    json_suffix = mimetype.startswith("application/") and mimetype.endswith("+json")
    return json_suffix and "application/json" in media_types


def check_request_body() -> None:
    """A request hook (after auth): the body in a documented media type, and present when required."""
    if request.method not in BODY_METHODS or request.url_rule is None:
        return
    body = _request_bodies(current_app).get((request.url_rule.rule, request.method))
    if body is None:
        return
    media_types = list(body.get("content") or {})
    raw = request.get_data(cache=True)  # the size limit applies here: 413 past it
    if not raw.strip():
        if body.get("required"):
            raise MalformedJson(
                msg("body.required", "a JSON body is required"),
                [{"path": "/", "message": msg("body.empty", "the body is empty")}],
            )
        return
    mimetype = request.mimetype or ""
    if not _accepted(mimetype, media_types):
        got = repr(mimetype) if mimetype else "none"
        types = " or ".join(media_types)
        raise UnsupportedMediaType(
            msg(
                "body.media_types",
                f"expected Content-Type {types}, got {got}",
                types=media_types,
                got=mimetype,
            ),
            [
                {
                    "path": "/",
                    "message": msg("body.send_as", f"the body must be sent as {types}", types=media_types),
                }
            ],
        )


def allowed_methods(app: Flask, path: str) -> list[str]:
    """The methods of the route serving ``path`` (every rule with that route's pattern), sorted."""
    adapter = app.url_map.bind("localhost")
    try:
        rule, _args = adapter.match(path, method="OPTIONS", return_rule=True)
    except (NotFound, MethodNotAllowed):
        return []
    except Exception:  # noqa: BLE001 - a redirect or a bad path: no route to describe
        return []
    methods: set[str] = set()
    for other in app.url_map.iter_rules():
        if other.rule == rule.rule:
            methods |= other.methods or set()
    return sorted(methods)


def install(app: Flask) -> None:
    """OPTIONS answers the route's own methods (werkzeug unites every rule matching the path)."""
    default_options = app.make_default_options_response

    def options_response():
        response = default_options()
        methods = allowed_methods(app, request.path)
        if methods:
            response.allow.clear()
            response.allow.update(methods)
        return response

    app.make_default_options_response = options_response
