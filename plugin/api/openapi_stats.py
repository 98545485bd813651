"""OpenAPI of the analytics (api/stats.py): parameters, the stats and overview answers."""

from __future__ import annotations

from plugin.api.openapi import problem_response
from plugin.api.openapi_runs import MOMENT_PATTERN

_COUNT = {"type": "integer"}
COUNTS = ("triggered", "succeeded", "failed", "suppressed", "not_triggered")
_POINT = {
    "type": "object",
    "required": ["t", *COUNTS],
    "properties": {
        "t": {
            "type": "string",
            "description": "the bucket: an hour `YYYY-MM-DDTHH:00:00Z` (UTC), or a day `YYYY-MM-DD` of `tz`",
        },
        **dict.fromkeys(COUNTS, _COUNT),
    },
}
_TOTALS = {"type": "object", "required": list(COUNTS), "properties": dict.fromkeys(COUNTS, _COUNT)}
_MONEY = {"type": "number"}
_CONVERSION_NUMBERS = {
    "clients_reached": {
        "type": "integer",
        "description": "distinct clients with a succeeded run in the period",
    },
    "converted": {"type": "integer", "description": "paid orders attributed (paid in the period)"},
    "revenue": _MONEY,
}
ATTRIBUTION = (
    "Attribution: a scenario touches a client when an action step of one of its runs for that "
    "client succeeds (or its split assigns the client a variant); a paid order (its first entry "
    "into the `paid` status group) counts for a scenario when the scenario's last touch of the "
    "order's client came at most `window_days` before the payment. Each paid order counts once per "
    "scenario (an order paid twice, once); a client reached by two scenarios counts for both. "
    "`by_branch` is keyed by the run's branch: a split's variant key, else the id of its first "
    "succeeded action node (`label`: the variant or the node's title)."
)
_CONVERSIONS = {
    "type": "object",
    "description": ATTRIBUTION,
    "required": ["window_days", "clients_reached", "converted", "revenue", "by_branch", "by_day"],
    "properties": {
        "window_days": {"type": "integer"},
        **_CONVERSION_NUMBERS,
        "by_branch": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["label", *_CONVERSION_NUMBERS],
                "properties": {"label": {"type": "string"}, **_CONVERSION_NUMBERS},
            },
        },
        "by_day": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["t", "converted", "revenue"],
                "properties": {"t": {"type": "string"}, "converted": _COUNT, "revenue": _MONEY},
            },
        },
    },
}
_PERIOD = {
    "from": {"type": "string", "description": "the first bucket's start (UTC)"},
    "to": {"type": "string", "description": "the end of the last bucket (UTC)"},
    "interval": {"enum": ["hour", "day"]},
    "window_days": {"type": "integer"},
}
_MOMENT = {"type": "string", "pattern": MOMENT_PATTERN}

STATS_PARAMETERS = [
    {
        "name": "from",
        "in": "query",
        "schema": _MOMENT,
        "description": "ISO 8601 date or date-time (without an offset: UTC); default: 30 days before `to`",
    },
    {"name": "to", "in": "query", "schema": _MOMENT, "description": "default: now"},
    {
        "name": "interval",
        "in": "query",
        "schema": {"enum": ["hour", "day"], "default": "day"},
        "description": "at most 2,232 hours (93 days) or 1,098 days",
    },
    {
        "name": "window_days",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 90, "default": 7},
        "description": "the attribution window: " + ATTRIBUTION,
    },
    {
        "name": "tz",
        "in": "query",
        "schema": {"type": "string"},
        "description": "the IANA time zone of the days; default AUTOMATION_TIMEZONE (Europe/Moscow)",
    },
]

STATS_RESPONSES = {
    "200": {
        "description": "Counts per bucket (zero-filled, oldest first), totals and conversions",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["flow_id", *_PERIOD, "series", "totals", "conversions"],
                    "properties": {
                        "flow_id": {"type": "string"},
                        **_PERIOD,
                        "series": {"type": "array", "items": _POINT},
                        "totals": _TOTALS,
                        "conversions": _CONVERSIONS,
                    },
                }
            }
        },
    },
    "404": problem_response(404),
    "422": problem_response(422),
}

_TOP_ITEM = {
    "type": "object",
    "required": ["id", "name", "value"],
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "value": {"type": "number"}},
}
OVERVIEW_RESPONSES = {
    "200": {
        "description": "Totals, the series, and the top 10 scenarios by triggered, failed and revenue",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": [*_PERIOD, "series", "totals", "top"],
                    "properties": {
                        **_PERIOD,
                        "series": {"type": "array", "items": _POINT},
                        "totals": {
                            "type": "object",
                            "required": [*COUNTS, "converted", "revenue"],
                            "properties": {
                                **dict.fromkeys(COUNTS, _COUNT),
                                "converted": _COUNT,
                                "revenue": _MONEY,
                            },
                        },
                        "top": {
                            "type": "object",
                            "required": ["triggered", "failed", "revenue"],
                            "properties": {
                                key: {"type": "array", "items": _TOP_ITEM}
                                for key in ("triggered", "failed", "revenue")
                            },
                        },
                    },
                }
            }
        },
    },
    "422": STATS_RESPONSES["422"],
}
