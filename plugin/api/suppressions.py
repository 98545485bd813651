"""The suppression list (SPEC §11): ``GET, POST /suppressions``, ``DELETE /suppressions/{id}`` and
``POST /suppressions/import`` (CSV). Reads need ``read``, changes ``admin``."""

from __future__ import annotations

from datetime import datetime

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import and_, or_, select

from plugin.api.auth import ADMIN, READ, requires_scope
from plugin.api.common import decode_cursor, encode_cursor, json_object, page_size
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.errors import ApiProblem, NotFound, UnsupportedMediaType, ValidationFailed
from plugin.ingest import suppressions as reading
from plugin.messages import msg
from plugin.nodes._services import optout
from plugin.storage import suppressions as stored
from plugin.storage.models import Suppression

blp = Blueprint(
    "suppressions",
    __name__,
    url_prefix="/api/v1/suppressions",
    description="The suppression list (список отписки): addresses e-mail and SMS steps never reach",
)

ENTRY_PROPERTIES = {
    "email": {"type": "string", "maxLength": 320, "description": "stored lower-case and trimmed"},
    "phone": {
        "type": "string",
        "maxLength": 64,
        "description": "stored in E.164, read as action.sms reads it",
    },
    "channel": {"enum": list(stored.CHANNELS), "default": "all"},
    "reason": {"type": "string", "maxLength": stored.REASON_MAX, "default": ""},
}
ENTRY_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": ENTRY_PROPERTIES,
                "oneOf": [{"required": ["email"]}, {"required": ["phone"]}],
            }
        }
    },
}
CSV_HELP = (
    "A header row naming the columns email, phone, channel, reason (any order; Russian names "
    "почта, телефон, канал, причина too; comma, semicolon or tab); UTF-8 or Windows-1251"
)
CSV_BODY = {
    "required": True,
    "description": CSV_HELP,
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
    },
}
LIST_PARAMETERS = [
    {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 320}},
    {"name": "channel", "in": "query", "required": False, "schema": {"enum": list(stored.CHANNELS)}},
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    },
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
]


def register_schema(api) -> None:
    entry = {
        "type": "object",
        "required": ["id", "channel", "reason", "source", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": "string"},
            "phone": {"type": "string"},
            "channel": {"enum": list(stored.CHANNELS)},
            "reason": {"type": "string"},
            "source": {"enum": list(stored.SOURCES)},
            "created_at": {"type": "string"},
        },
    }
    api.spec.components.schema("Suppression", component=entry)
    api.spec.components.schema(
        "SuppressionList",
        component={
            "type": "object",
            "required": ["suppressions", "next_cursor"],
            "properties": {
                "suppressions": {"type": "array", "items": entry},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
    )
    bad_row = {
        "type": "object",
        "required": ["line", "path", "message"],
        "properties": {
            "line": {"type": "integer"},
            "path": {"type": "string"},
            "message": {"type": "string"},
        },
    }
    api.spec.components.schema(
        "SuppressionImport",
        component={
            "type": "object",
            "required": ["imported", "duplicates", "errors"],
            "properties": {
                "imported": {"type": "integer"},
                "duplicates": {"type": "integer"},
                "errors": {"type": "array", "items": bad_row},
            },
        },
    )


@blp.route("")
class SuppressionList(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="The list, newest first; `q` searches the address; cursor pagination")
    @blp.doc(parameters=LIST_PARAMETERS, responses=ok("SuppressionList", 200))
    @blp.response(200)
    def get(self):
        limit, channel, query_text = _list_args()
        query = select(Suppression)
        if channel:
            query = query.where(Suppression.channel == channel)
        if query_text:
            query = query.where(Suppression.address.contains(query_text.strip().lower(), autoescape=True))
        if request.args.get("cursor"):
            created, row_id = _cursor_position(request.args["cursor"])
            query = query.where(
                or_(
                    Suppression.created_at < created,
                    and_(Suppression.created_at == created, Suppression.id < row_id),
                )
            )
        order = (Suppression.created_at.desc(), Suppression.id.desc())
        rows = db.session.scalars(query.order_by(*order).limit(limit + 1)).all()
        more, rows = len(rows) > limit, rows[:limit]
        cursor = encode_cursor(rows[-1].created_at.isoformat(), rows[-1].id) if more else None
        return {"suppressions": [stored.as_dict(r) for r in rows], "next_cursor": cursor}

    @requires_scope(ADMIN)
    @blp.doc(summary="Add an address (an entry already listed answers 200 with it)", requestBody=ENTRY_BODY)
    @blp.doc(responses={**ok("Suppression", 201), **ok("Suppression", 200, "Already listed")})
    def post(self):
        item, problems = reading.entry(json_object(), region=_region())
        if problems:
            raise ValidationFailed(msg("optout.refused", "the entry cannot be added"), problems)
        row, created = stored.add(db.session, **item, source="api")
        db.session.commit()
        return stored.as_dict(row), 201 if created else 200


@blp.route("/import")
class SuppressionImport(MethodView):
    @requires_scope(ADMIN)
    @blp.doc(summary="Import a CSV file: counts and every bad row by its line; 422 when no row is valid")
    @blp.doc(requestBody=CSV_BODY, responses=ok("SuppressionImport", 200))
    @blp.response(200)
    def post(self):
        entries, problems = reading.read_csv(reading.decode(_csv_bytes()), _region())
        if not entries:
            problems = problems or [{"line": 2, "path": "/line/2", "message": "в файле нет строк (no rows)"}]
            raise ValidationFailed(msg("optout.no_rows", "no row of the file could be imported"), problems)
        imported, duplicates = stored.add_many(db.session, [item for _line, item in entries], "import")
        db.session.commit()
        return {"imported": imported, "duplicates": duplicates, "errors": problems}


@blp.route("/<string:entry_id>")
class SuppressionItem(MethodView):
    @requires_scope(ADMIN)
    @blp.doc(summary="Remove an address from the list: its steps send again")
    @blp.response(204)
    def delete(self, entry_id: str):
        row = db.session.get(Suppression, entry_id)
        if row is None:
            raise NotFound(msg("notfound.optout", f"no suppression-list entry {entry_id!r}", id=entry_id))
        db.session.delete(row)
        db.session.commit()


def _region() -> str:
    """The region a phone without a country code is read in: the SMS steps' (``phone_region``)."""
    return optout.region_of(rt().services)


def _csv_bytes() -> bytes:
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(
                "no file",
                [{"path": "/file", "message": "пришлите CSV в поле «file» (send the CSV as the field file)"}],
            )
        return upload.read()
    if request.mimetype in ("text/csv", "text/plain"):
        return request.get_data(cache=True)
    raise UnsupportedMediaType(
        msg(
            "body.media_types",
            "expected text/csv or multipart/form-data",
            types=["text/csv", "multipart/form-data"],
            got="",
        )
    )


def _list_args() -> tuple[int, str | None, str | None]:
    args, problems = request.args, []
    limit = page_size(args, problems)
    channel = args.get("channel")
    if channel is not None and channel not in stored.CHANNELS:
        problems.append(
            {
                "path": "/channel",
                "message": msg(
                    "query.one_of", f"must be one of {', '.join(stored.CHANNELS)}", allowed=stored.CHANNELS
                ),
            }
        )
    if len(args.get("q") or "") > 320:
        problems.append({"path": "/q", "message": msg("query.q", "at most 320 characters")})
    if problems:
        raise ValidationFailed(msg("query.invalid", "invalid query"), problems)
    return limit, channel, args.get("q")


def _cursor_position(cursor: str) -> tuple[datetime, str]:
    parts = decode_cursor(cursor)
    try:
        created, row_id = parts[:2]
        return datetime.fromisoformat(created), str(row_id)
    except (TypeError, ValueError):
        raise ApiProblem(
            msg("cursor.foreign", "the cursor is not one this server issued"),
            [{"path": "/cursor", "message": msg("cursor.invalid", "invalid cursor")}],
        ) from None
