"""Building blocks of the OpenAPI document (plugin/api/openapi.py): schema helpers and the dry
run's answer."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> dict:
    return {"type": [kind, "null"], **extra}


def _obj(required: list[str], properties: dict, **extra: Any) -> dict:
    return {"type": "object", "required": required, "properties": properties, **extra}


TIMESTAMP = _nullable("string", description="ISO 8601, UTC (…Z)")

DRY_STATUSES = ["succeeded", "failed", "skipped", "not_reached", "would_send", "would_wait"]
DRY_STEP = _obj(
    ["node_id", "type", "status", "verdict", "output", "error"],
    {
        "node_id": {"type": "string"},
        "type": {"type": "string"},
        "status": {"enum": [*DRY_STATUSES, "blocked", "needs_secret"]},
        "verdict": _nullable("boolean"),
        "output": {"type": ["object", "null"], "description": "the exact request, secrets masked"},
        "error": _nullable("string"),
    },
)
DRY_RUN = _obj(
    ["status", "triggered", "steps", "duration_ms", "context"],
    {
        "status": {"enum": ["would_trigger", "not_triggered", "suppressed"]},
        "reason": {"type": "string", "description": "suppressed: the frequency rule that would hold the run"},
        "triggered": {"type": "boolean"},
        "steps": {"type": "array", "items": DRY_STEP},
        "duration_ms": {"type": "number"},
        "context": {"type": "object"},
    },
)


GROUP_TRACE = {
    "type": "object",
    "description": "A condition.group's verdict with each inner one (nested groups alike): the step's "
    "output in runs, dry runs and the execute answer",
    "required": ["verdict", "mode", "items"],
    "properties": {
        "verdict": {"type": "boolean"},
        "mode": {"enum": ["all", "any", "none"]},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "verdict"],
                "properties": {
                    "type": {"type": "string"},
                    "verdict": {"type": "boolean"},
                    "mode": {"enum": ["all", "any", "none"]},
                    "items": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}


FLOW_STATS = _obj(
    ["triggered", "failed", "last_triggered_at"],
    {
        "triggered": {"type": "integer"},
        "failed": {"type": "integer"},
        "suppressed": {
            "type": "integer",
            "description": "runs held back by the frequency rule or the run mode `single` (cancelled: not counted)",
        },
        "last_triggered_at": TIMESTAMP,
        "last_7_days": _obj(
            ["triggered", "failed", "daily"],
            {
                "triggered": {"type": "integer"},
                "failed": {"type": "integer"},
                "daily": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "7 local days, oldest first",
                },
            },
        ),
    },
)
