"""Site-form sources (SPEC §11): ``GET, POST /hooks``, ``DELETE /hooks/{id}`` (admin) and the public
``POST /hooks/{key}`` that a site's form (Tilda, Bitrix24, plain HTML) posts to without a token."""

from __future__ import annotations

import http
import logging
import math

from flask import Flask, Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.auth import ADMIN, public, requires_scope
from plugin.api.common import json_object
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.ingest import _commit_and_enqueue
from plugin.api.openapi import ok
from plugin.api.openapi_ingest import NOT_BLANK
from plugin.engine.context import iso
from plugin.errors import NotFound, TooManyRequests, ValidationFailed
from plugin.ingest import hooks
from plugin.ingest.forms import read_form
from plugin.ingest.ratelimit import RateLimiter
from plugin.ingest.reading import text_problems
from plugin.messages import msg
from plugin.storage.models import HookSource, utcnow

log = logging.getLogger(__name__)

blp = Blueprint("hooks", __name__, url_prefix="/api/v1/hooks", description="Site-form sources (формы сайта)")

NAME_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NOT_BLANK}
                },
            }
        }
    },
}
FORM_BODY = {
    "required": False,
    "description": "The form's fields; a repeated field (or `name[]`) becomes a list. Files are not stored.",
    "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        "multipart/form-data": {"schema": {"type": "object"}},
        "application/json": {"schema": {"type": "object"}},
    },
}
FORM_ANSWERS = {
    "200": {
        "description": "Stored (a repeated Tilda `tranid` fires nothing new); Tilda and its test get `ok`",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HookAccepted"}},
            "text/plain": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
    },
    "429": http.HTTPStatus(429).name,
}
THANKS = (
    '<!doctype html><meta charset=utf-8><link rel=icon href="data:,"><title>Спасибо</title>'
    "<p>Спасибо! Заявка отправлена.</p><p lang=en>Thank you, the form was sent.</p>"
)


def register_schema(api) -> None:
    hook = {
        "type": "object",
        "required": ["id", "name", "key", "url", "created_at", "last_used_at"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string", "description": "The custom event's name"},
            "key": {"type": ["string", "null"], "description": "null when no configured secret key opens it"},
            "url": {"type": ["string", "null"], "description": "Where the site's form posts"},
            "created_at": {"type": ["string", "null"]},
            "last_used_at": {"type": ["string", "null"]},
        },
    }
    api.spec.components.schema("HookSource", component=hook)
    api.spec.components.schema(
        "HookSourceList",
        component={
            "type": "object",
            "required": ["hooks"],
            "properties": {"hooks": {"type": "array", "items": hook}},
        },
    )
    api.spec.components.schema(
        "HookAccepted",
        component={
            "type": "object",
            "required": ["accepted", "created", "events"],
            "properties": {
                "accepted": {"type": "boolean"},
                "created": {"type": "boolean"},
                "events": {"type": "integer"},
                "ignored_files": {"type": "array", "items": {"type": "string"}},
            },
        },
    )


def install(app: Flask) -> None:
    """The per-source limiter: ``AUTOMATION_HOOK_RATE`` posts a second, bursts of ``…_BURST``."""
    app.extensions["hook_rate_limiter"] = RateLimiter(
        app.extensions["automation"].redis, float(app.config["HOOK_RATE"]), int(app.config["HOOK_BURST"])
    )


def _document(source: HookSource) -> dict:
    key = hooks.open_key(rt().secrets, source)
    base = (current_app.config.get("PUBLIC_URL") or request.host_url).rstrip("/")
    return {
        "id": source.id,
        "name": source.name,
        "key": key,
        "url": f"{base}/api/v1/hooks/{key}" if key else None,
        "created_at": iso(source.created_at),
        "last_used_at": iso(source.last_used_at),
    }


def _name(body: dict) -> str:
    problems = [
        {"path": f"/{k}", "message": msg("hook.unknown_field", "unknown field")} for k in body if k != "name"
    ]
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:  # as sent: the document's maxLength
        problems.append(
            {"path": "/name", "message": msg("hook.name", "the event name: text of 1–200 characters")}
        )
    else:
        problems += text_problems(name, "/name")
    if problems:
        raise ValidationFailed(msg("hook.refused", "the source cannot be created"), problems)
    return name.strip()


@blp.route("")
class HookList(MethodView):
    @requires_scope(ADMIN)  # the URLs carry the keys: a read token must not gain the right to post
    @blp.doc(summary="Site-form sources, each with its URL")
    @blp.doc(responses=ok("HookSourceList", 200))
    @blp.response(200)
    def get(self):
        return {"hooks": [_document(s) for s in hooks.active_sources(db.session)]}

    @blp.doc(summary="A new source: its form posts fire custom events named `name`", requestBody=NAME_BODY)
    @blp.doc(responses=ok("HookSource", 201))
    @blp.response(201)
    def post(self):
        source, _key = hooks.create_source(db.session, rt().secrets, _name(json_object()))
        db.session.commit()
        return _document(source)


KEY_PARAMETER = {  # what a key can be (hooks.KEY_PREFIX + urlsafe base64); anything else is a 422
    "in": "path",
    "name": "key",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,100}$"},
    "description": "A source's key (`hk_…`) for a post; a source's id for a delete",
}


@blp.route("/<string:key>", parameters=[KEY_PARAMETER])
class HookItem(MethodView):
    @public  # no Authorization header: the key in the URL is the credential (plugin/api/auth.py)
    @blp.doc(
        security=[],
        summary="A site form's submission (no token: the key is the credential); stores a custom event",
        requestBody=FORM_BODY,
        responses=FORM_ANSWERS,
    )
    def post(self, key: str):
        source = hooks.source_by_key(db.session, key)
        if source is None:  # unknown and revoked alike
            raise NotFound(msg("hook.no_key", "no site-form source has this key (it may have been deleted)"))
        _limit(source)
        fields, files = read_form(request.get_data(cache=True), request.mimetype, request.mimetype_params)
        if fields.get("test") == "test":  # Tilda checks a new webhook with test=test and wants "ok"
            source.last_used_at = utcnow()
            db.session.commit()
            return Response("ok", 200, mimetype="text/plain")
        created, events = hooks.store_submission(db.session, source, fields)
        count = _commit_and_enqueue(events)
        if "tranid" in fields or "formid" in fields:
            return Response("ok", 200, mimetype="text/plain")
        accept = request.accept_mimetypes
        if accept.accept_html and accept["text/html"] > accept["application/json"]:
            return Response(THANKS, 200, mimetype="text/html")  # a plain form's own page navigation
        answer = {"accepted": True, "created": created, "events": count}
        return answer | ({"ignored_files": files} if files else {})

    @blp.doc(summary="Revoke a source (by id); its key answers 404 from now on")
    @blp.response(204)
    def delete(self, key: str):
        if not hooks.revoke(db.session, key):
            raise NotFound(msg("hook.no_source", f"no site-form source {key!r}", id=key))
        db.session.commit()


def _limit(source: HookSource) -> None:
    limiter = current_app.extensions["hook_rate_limiter"]
    try:
        wait = limiter.take(f"hook:{source.id}")
    except Exception as exc:  # noqa: BLE001 - Redis down: accept rather than lose a lead
        log.warning("site-form rate limit not checked: %s", type(exc).__name__)
        return
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            msg(
                "rate.hook",
                f"more than {limiter.rate:g} posts per second to this form; try again in {seconds} s",
                rate=f"{limiter.rate:g}",
                seconds=seconds,
            ),
            headers={"Retry-After": str(seconds)},
        )


@blp.after_request
def allow_any_origin(response: Response) -> Response:
    """A site's fetch() may post here (no credentials): this route only, POST and its preflight."""
    if request.endpoint == "hooks.HookItem" and request.method in ("POST", "OPTIONS"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
    return response
