"""OpenAPI of the read API of stored records (``plugin/api/records.py``): parameters and answers."""

from __future__ import annotations

from plugin.api.openapi import problem_response

_S = {"type": ["string", "null"]}
_N = {"type": ["number", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
VISIT_FIELDS = [
    "ip",
    "marker",
    "city",
    "country",
    "referrer",
    "domain",
    "landing_page",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "roistat_param_1",
    "roistat_param_2",
    "roistat_param_3",
    "roistat_param_4",
    "roistat_param_5",
]

CLIENT = {
    "type": "object",
    "required": ["external_id", "name", "company", "phone", "email", "fields"],
    "properties": {
        "external_id": {"type": "string"},
        **dict.fromkeys(("name", "company", "phone", "email"), _S),
        "fields": {"type": "object"},
    },
}
CLIENT_OR_NULL = {"oneOf": [CLIENT, {"type": "null"}]}
ORDER = {
    "type": "object",
    "required": ["id", "price", "cost", "status", "status_group", "created_at", "paid_at", "client_id"],
    "properties": {
        "id": {"type": "string"},
        "price": _N,
        "cost": _N,
        "status": _S,
        "status_group": {"enum": ["in_work", "paid", "cancelled"]},
        "created_at": _TIME,
        "paid_at": _TIME,
        "client_id": _S,
        "visit_id": _S,
        "responsible_user_id": _S,
        "fields": {"type": "object"},
    },
}
VISIT = {
    "type": "object",
    "required": ["id", "client_id", "created_at"],
    "properties": {
        "id": {"type": "string"},
        **dict.fromkeys(VISIT_FIELDS, _S),
        "client_id": _S,
        "created_at": _TIME,
    },
}
EVENT = {
    "type": "object",
    "required": ["id", "name", "meta_id", "data", "visit_id", "client_id", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "meta_id": {"type": "string"},
        "data": {"type": "object"},
        "visit_id": _S,
        "client_id": _S,
        "created_at": _TIME,
    },
}
RUN_ITEM = {
    "type": "object",
    "required": ["id", "flow_id", "flow_name", "status", "trigger", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "flow_id": _S,
        "flow_name": {"type": "string"},
        "status": {"type": "string"},
        "trigger": {"type": "string", "description": "event | schedule | direct | test"},
        "order_id": _S,
        "created_at": _TIME,
    },
}


def _with_client(schema: dict) -> dict:
    return {
        **schema,
        "required": [*schema["required"], "client"],
        "properties": {**schema["properties"], "client": CLIENT_OR_NULL},
    }


def _answer(schema: dict, description: str = "OK", not_found: bool = True, query: bool = True) -> dict:
    out = {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}
    if query:
        out["422"] = problem_response(422, "A bad limit or q")
    if not_found:
        out["404"] = problem_response(404, "No such record")
    return out


def _list(key: str, item: dict) -> dict:
    schema = {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "array", "items": _with_client(item)}},
    }
    return _answer(schema, "Newest first", not_found=False)


LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
}
SEARCH_PARAMETERS = [
    {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 200}},
    LIMIT,
]
TIMELINE_PARAMETERS = [
    {**LIMIT, "description": "at most this many of each: orders, visits, events, status changes, runs"}
]
ORDER_LIST = _list("orders", ORDER)
VISIT_LIST = _list("visits", VISIT)
EVENT_LIST = _list("events", EVENT)
ORDER_ANSWER = _answer(
    {
        **_with_client(ORDER),
        "required": [*ORDER["required"], "client", "visit"],
        "properties": {
            **ORDER["properties"],
            "client": CLIENT_OR_NULL,
            "visit": {"oneOf": [VISIT, {"type": "null"}]},
        },
    },
    query=False,
)
VISIT_ANSWER = _answer(_with_client(VISIT), query=False)
STATUS_CHANGE = {
    "type": "object",
    "description": "A deal of the client moved from one status to another (kept as long as events are)",
    "required": ["id", "order_id", "from", "to", "at"],
    "properties": {
        "id": {"type": "integer", "description": "the order_status_changed event's id"},
        "order_id": {"type": "string"},
        "from": {"type": ["string", "null"]},
        "to": {"type": ["string", "null"]},
        "at": _TIME,
    },
}
TIMELINE = {
    "type": "object",
    "required": ["orders", "visits", "events", "status_changes", "runs"],
    "properties": {
        "orders": {"type": "array", "items": ORDER},
        "visits": {"type": "array", "items": VISIT},
        "events": {"type": "array", "items": EVENT},
        "status_changes": {"type": "array", "items": STATUS_CHANGE},
        "runs": {"type": "array", "items": RUN_ITEM},
    },
}
CLIENT_ANSWER = _answer(
    {
        **CLIENT,
        "required": [*CLIENT["required"], "created_at", "timeline"],
        "properties": {**CLIENT["properties"], "created_at": _TIME, "timeline": TIMELINE},
    }
)
