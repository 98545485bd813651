"""Shared connections («Подключения», SPEC §11): CRUD, where each is used, and «Проверить
подключение». Reads need ``read``; writes and the check (it calls out) need ``admin``."""

from __future__ import annotations

import copy

from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.auth import ADMIN, READ, requires_scope
from plugin.api.common import json_body
from plugin.api.context import rt
from plugin.api.extensions import db
from plugin.api.openapi import ok
from plugin.api.openapi_ingest import NOT_BLANK
from plugin.engine import connections as store
from plugin.errors import NotFound
from plugin.masking import current, mask, strings_in
from plugin.messages import msg
from plugin.nodes._services import probe
from plugin.storage import connections as sealed
from plugin.storage.models import Connection

blp = Blueprint(
    "connections",
    __name__,
    url_prefix="/api/v1/connections",
    description="Shared connections (подключения): access params stored once, referenced by id from actions",
)

PARAMS_HELP = (
    "The access params of the type's action (GET /api/v1/connections/types lists them with their "
    "JSON Schema): slack {webhook_url}; telegram {bot_token, base_url?}; smtp {smtp_host, smtp_port?, "
    "security?, username?, password?}; smsru {api_id, base_url?}; twilio {account_sid, auth_token, "
    "base_url?}; amocrm {base_url, token}; bitrix24 {base_url}; webhook {url, headers?, "
    "secret_headers?, signing_secret?}. Secrets read '********'; a PUT carrying the placeholder "
    "(or omitting nothing but sending it) keeps the stored value."
)
BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["name", "type", "params"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "description": "ignored (an exported connection's id)"},
                    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NOT_BLANK},
                    "type": {"enum": list(store.TYPES)},
                    "params": {"type": "object", "description": PARAMS_HELP},
                },
            },
            "example": {
                "name": "Slack отдела продаж",
                "type": "slack",
                "params": {"webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX"},
            },
        }
    },
}
PUT_BODY = copy.deepcopy(BODY)  # a PUT may leave the type out: it cannot change
PUT_BODY["content"]["application/json"]["schema"]["required"] = ["name", "params"]
NAMED = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}
CONNECTION = {
    "type": "object",
    "required": ["id", "name", "type", "params", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "type": {"enum": list(store.TYPES)},
        "params": {"type": "object", "description": "secrets read '********'"},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "used_by": {
            "type": "object",
            "description": "the scenarios and templates whose actions name this connection",
            "properties": {
                "flows": {"type": "array", "items": NAMED},
                "presets": {"type": "array", "items": NAMED},
            },
        },
    },
}
SCHEMAS = {
    "Connection": CONNECTION,
    "ConnectionList": {
        "type": "object",
        "required": ["connections"],
        "properties": {
            "connections": {"type": "array", "items": {"$ref": "#/components/schemas/Connection"}}
        },
    },
    "ConnectionTest": {
        "type": "object",
        "required": ["ok", "message"],
        "properties": {
            "ok": {"type": "boolean"},
            "message": {"type": "string", "description": "what worked or failed, in plain Russian"},
        },
    },
    "ConnectionTypes": {
        "type": "object",
        "required": ["types"],
        "properties": {
            "types": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "action", "schema"],
                    "properties": {
                        "type": {"type": "string"},
                        "action": {"type": "string", "description": "the node type that takes it"},
                        "when": {"type": "object", "description": "the action params it implies"},
                        "schema": {"type": "object", "description": "JSON Schema of its params"},
                    },
                },
            }
        },
    },
}
IN_USE = {
    "409": {
        "description": "In use: `errors` lists each scenario (`flow`: id, name) and template (`preset`) using it",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}


def _get(connection_id: str) -> Connection:
    row = db.session.get(Connection, connection_id)
    if row is None:
        raise NotFound(msg("notfound.connection", f"no connection {connection_id!r}", id=connection_id))
    return row


@blp.route("")
class ConnectionList(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="List connections (secrets as placeholders) with where each is used")
    @blp.doc(responses=ok("ConnectionList", 200))
    @blp.response(200)
    def get(self):
        registry = rt().registry
        rows = db.session.query(Connection).order_by(Connection.created_at, Connection.id).all()
        return {"connections": [store.document(registry, r, db.session) for r in rows]}

    @requires_scope(ADMIN)
    @blp.doc(summary="Create a connection; its secrets are encrypted at rest", requestBody=BODY)
    @blp.doc(responses=ok("Connection", 201))
    @blp.response(201)
    def post(self):
        runtime = rt()
        row = store.save(db.session, runtime.registry, runtime.secrets, json_body())
        db.session.commit()
        return store.document(runtime.registry, row, db.session)


@blp.route("/types")
class ConnectionTypes(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="The connection types: the action each serves and the JSON Schema of its params")
    @blp.doc(responses=ok("ConnectionTypes", 200))
    @blp.response(200)
    def get(self):
        registry = rt().registry
        return {
            "types": [
                {"type": k.type, "action": k.action, "when": k.when, "schema": k.schema(registry)}
                for k in store.kinds(registry).values()
            ]
        }


@blp.route("/<string:connection_id>")
class ConnectionItem(MethodView):
    @requires_scope(READ)
    @blp.doc(summary="One connection (secrets as placeholders) and where it is used")
    @blp.doc(responses=ok("Connection", 200))
    @blp.response(200)
    def get(self, connection_id: str):
        return store.document(rt().registry, _get(connection_id), db.session)

    @requires_scope(ADMIN)
    @blp.doc(
        summary="Replace a connection; a secret left out or sent as the placeholder keeps its stored value; "
        "every action using it sends with the new params from its next call",
        requestBody=PUT_BODY,
    )
    @blp.doc(responses=ok("Connection", 200))
    @blp.response(200)
    def put(self, connection_id: str):
        runtime = rt()
        row = _get(connection_id)
        body = json_body()
        if isinstance(body, dict) and isinstance(body.get("params"), dict):
            body = {**body, "params": _keep_omitted_secrets(runtime.registry, row, body["params"])}
        store.save(db.session, runtime.registry, runtime.secrets, body, row)
        db.session.commit()
        return store.document(runtime.registry, row, db.session)

    @requires_scope(ADMIN)
    @blp.doc(summary="Delete a connection no scenario or template uses (409 lists those that do)")
    @blp.doc(responses=IN_USE)
    @blp.response(204)
    def delete(self, connection_id: str):
        store.delete(db.session, _get(connection_id))
        db.session.commit()


def _keep_omitted_secrets(registry, row: Connection, params: dict) -> dict:
    """A PUT may omit a stored secret to keep it: the omitted ones come back as the placeholder."""
    kind = store.kinds(registry).get(row.type)
    if kind is None:
        return params
    spec = registry[kind.action]
    stored = row.params or {}
    return {
        **{name: "********" for name in spec.secret_fields if name in stored and name in kind.fields},
        **params,
    }


@blp.route("/<string:connection_id>/test")
class ConnectionCheck(MethodView):
    @requires_scope(ADMIN)
    @blp.doc(
        summary="«Проверить подключение»: one harmless real call (SMTP login, Slack hook, Telegram getMe, "
        "CRM auth, SMS balance); nothing is sent to a client or channel",
    )
    @blp.doc(responses=ok("ConnectionTest", 200))
    @blp.response(200)
    def post(self, connection_id: str):
        runtime = rt()
        row = _get(connection_id)
        kind = store.kinds(runtime.registry)[row.type]
        params = sealed.opened(runtime.registry, runtime.secrets, kind.action, row.params)
        secrets = strings_in([params.get(p[0]) for p in runtime.registry[kind.action].secret_paths(params)])
        with current(secrets):  # a remote answer may quote a secret: masked as it is read
            ok_, message = probe.check(runtime.services, row.type, params)
        return {"ok": ok_, "message": mask(message, secrets)}


def register_schema(api) -> None:
    for name, schema in SCHEMAS.items():
        api.spec.components.schema(name, component=schema)
