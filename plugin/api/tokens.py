"""API tokens («Токены доступа»): list, create (shown once), revoke. Admin only, reads included.

A token cannot revoke itself (409): the UI's own login token would log the user out mid-click,
and the last admin token would lock everyone out of the API. Revoke it with another admin token
or ``python server.py token revoke ID``. The environment token (AUTOMATION_API_TOKEN) is not
stored, so it is neither listed nor revocable here.
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from plugin.api.auth import ADMIN, SCOPES, issue_token, requires_scope
from plugin.api.extensions import db
from plugin.errors import Conflict, NotFound
from plugin.messages import msg
from plugin.storage.models import ApiToken

blp = Blueprint(
    "tokens",
    __name__,
    url_prefix="/api/v1/tokens",
    description="API tokens and their scopes: ingest (ingestion only), read (every GET), admin (everything)",
)

SCOPE_HELP = "ingest: the ingestion endpoints only (for a website); read: every GET; admin: everything"


class TokenIn(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(load_default="", validate=validate.Length(max=200))
    scope = fields.String(
        required=True, validate=validate.OneOf(SCOPES), metadata={"description": SCOPE_HELP}
    )


class UtcDateTime(fields.DateTime):
    """Naive UTC as stored, written ISO 8601 with a Z, as every other timestamp of the API."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.isoformat() + "Z"


class TokenOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    scope = fields.String(required=True, validate=validate.OneOf(SCOPES))
    created_at = UtcDateTime(required=True)
    last_used_at = UtcDateTime(
        required=True, allow_none=True, metadata={"description": "updated at most once a minute"}
    )
    current = fields.Boolean(required=True, metadata={"description": "the token of this request"})


class TokenCreated(TokenOut):
    token = fields.String(required=True, metadata={"description": "the token itself, shown only this once"})


class TokenList(Schema):
    tokens = fields.List(fields.Nested(TokenOut), required=True)


def _document(row: ApiToken) -> dict:
    mine = getattr(g, "token", None)
    return {
        "id": row.id,
        "name": row.name,
        "scope": row.scope,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "current": mine is not None and mine.token_id == row.id,
    }


@blp.route("")
class Tokens(MethodView):
    @requires_scope(ADMIN)  # the list names every token holder: not for a read token
    @blp.doc(summary="List API tokens (never the tokens themselves)")
    @blp.response(200, TokenList)
    def get(self):
        rows = db.session.query(ApiToken).order_by(ApiToken.id).all()
        return {"tokens": [_document(row) for row in rows]}

    @blp.doc(summary="Create an API token; the answer is the only time the token is shown")
    @blp.arguments(TokenIn)
    @blp.response(201, TokenCreated)
    def post(self, data):
        row, token = issue_token(db.session, data["name"], data["scope"])
        db.session.commit()
        return {**_document(row), "token": token}


@blp.route("/<string:token_id>")
class TokenItem(MethodView):
    @blp.doc(summary="Revoke an API token (at once, on every path); a token cannot revoke itself (409)")
    @blp.doc(responses={"409": "CONFLICT"})
    @blp.response(204)
    def delete(self, token_id: str):
        numeric = token_id.isascii() and token_id.isdigit() and len(token_id) < 10
        row = db.session.get(ApiToken, int(token_id)) if numeric else None
        if row is None:
            raise NotFound(msg("notfound.token", f"no API token {token_id!r}", id=token_id))
        mine = getattr(g, "token", None)
        if mine is not None and mine.token_id == row.id:
            english = (
                "a token cannot revoke itself: use another admin token or `python server.py token revoke "
                f"{row.id}`"
            )
            raise Conflict(msg("token.self", english, id=row.id))
        db.session.delete(row)
        db.session.commit()
