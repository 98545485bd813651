"""OpenAPI of the run history: the list's parameters, its CSV response, a run item's deal, client
and recipient (issue #19)."""

from __future__ import annotations

from plugin.api.runs_csv import MAX_ROWS

STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "not_triggered", "suppressed", "cancelled")

_NULLABLE_STRING = {"type": ["string", "null"]}

RUN_HISTORY_PROPERTIES = {
    "order": {
        "type": ["object", "null"],
        "description": "The run's deal: its current status and amount from the orders table, "
        "or the run's snapshot when the order is no longer stored",
        "required": ["id", "status", "price"],
        "properties": {
            "id": {"type": "string"},
            "status": _NULLABLE_STRING,
            "price": {"type": ["number", "null"]},
        },
    },
    "client": {
        "type": ["object", "null"],
        "required": ["id", "name"],
        "properties": {"id": {"type": "string"}, "name": _NULLABLE_STRING},
    },
    "recipient": {
        **_NULLABLE_STRING,
        "description": "Who the run's first action writes to: the client's e-mail (email) or phone "
        "(SMS), the chat id (Telegram), the URL's host (webhook); a secret one (a Slack webhook, "
        "a CRM address) as `slack:********`",
    },
}

MOMENT_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"

_MOMENT = {
    "type": "string",
    "pattern": MOMENT_PATTERN,
    "description": "ISO 8601 date or date-time; without an offset, UTC",
    "examples": ["2026-12-01", "2026-12-01T09:00:00+03:00"],
}

RUN_LIST_PARAMETERS = [
    {"name": name, "in": "query", "required": False, "schema": schema}
    for name, schema in (
        ("flow_id", {"type": "string"}),
        ("status", {"enum": list(STATUSES)}),
        ("order_id", {"type": "string", "description": "the deal"}),
        ("client_id", {"type": "string", "description": "the client's external id"}),
        (
            "recipient",
            {
                "type": "string",
                "minLength": 1,
                "maxLength": 321,
                "description": "exact recipient; ending in `*`: every recipient starting with what precedes it",
            },
        ),
        ("since", {**_MOMENT, "description": "runs created at or after this; " + _MOMENT["description"]}),
        ("until", {**_MOMENT, "description": "runs created before this; " + _MOMENT["description"]}),
        ("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
        ("cursor", {"type": "string", "description": "next_cursor of the previous page"}),
        (
            "format",
            {
                "enum": ["json", "csv"],
                "default": "json",
                "description": f"csv: every matching run (at most {MAX_ROWS}, newest first; "
                "limit and cursor are ignored) as a streamed download",
            },
        ),
    )
]

RUN_LIST_RESPONSE = {
    "description": "A page of runs (JSON), or with format=csv every matching run",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/RunList"}},
        "text/csv": {
            "schema": {
                "type": "string",
                "description": "UTF-8 with a BOM, `;`-separated, CRLF lines, a header row; amounts with a "
                "decimal comma; times UTC `YYYY-MM-DD HH:MM:SS` (for Excel in the Russian locale)",
            }
        },
    },
    "headers": {"X-Max-Rows": {"schema": {"type": "integer"}, "description": "the most rows a CSV holds"}},
}
