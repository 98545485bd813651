"""Bitrix24 REST through an inbound webhook: deal's assignee, and tasks linked to a deal (contracts.md §3).

Every call first takes its place under the portal's rate limit (:func:`limits.take`: 2/s with a
burst, one bucket per portal shared by every worker); ``state`` is the step's, where a booked
slot is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from plugin.nodes._services import limits
from plugin.nodes.base import PermanentError, RetryableError
from plugin.transport import http

SERVICE = "bitrix24"
RETRYABLE_ERRORS = frozenset(
    {"QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER"}
)
QUERY_LIMIT_RETRY = 1.0  # seconds; the portal's bucket drains 2 requests a second and says no more


def method_url(base_url: str, method: str) -> str:
    """``https://portal/rest/1/code/`` + ``tasks.task.add.json``."""
    return f"{base_url.rstrip('/')}/{method}.json"


def call(
    services: Any,
    base_url: str,
    method: str,
    payload: dict[str, Any],
    state: dict[str, Any],
    before_send: Callable[[], None] = lambda: None,
) -> Any:
    """POST one REST method and return its ``result``; errors are mapped from ``{error, error_description}``.

    ``before_send`` runs once the request may go out (its rate slot taken), just before it does.
    """
    limits.take(services, SERVICE, limits.account(base_url), state)
    before_send()
    resp = http.send(services, "POST", method_url(base_url, method), service=SERVICE, json=payload)
    body = http.json_or_none(resp)
    if isinstance(body, dict) and "error" in body:
        code = str(body.get("error") or "")
        text = http.trim(str(body.get("error_description") or "").replace("<br>", " "), 200)
        message = f"{SERVICE}: {method}: HTTP {resp.status_code} {code or 'error'}: {text}".rstrip(": ")
        if code in RETRYABLE_ERRORS or resp.status_code >= 500 or resp.status_code in (408, 429):
            after = http.retry_after(resp.headers.get("Retry-After"))
            if after is None and code == "QUERY_LIMIT_EXCEEDED":
                after = QUERY_LIMIT_RETRY
            raise RetryableError(message, status=resp.status_code, retry_after=after)
        raise PermanentError(message, status=resp.status_code)
    http.check(resp, service=SERVICE)
    if not isinstance(body, dict) or "result" not in body:
        raise PermanentError(f"{SERVICE}: {method}: HTTP {resp.status_code} without a result")
    return body["result"]


def title_of(text: str) -> str:
    """The task title: the first line of the text, at most 250 characters."""
    first = (text.strip().splitlines() or [""])[0].strip()
    return first if len(first) <= 250 else first[:249] + "…"


def task_fields(*, text: str, deadline: datetime, deal_id: str, responsible_id: int) -> dict[str, Any]:
    """``tasks.task.add`` fields: linked to deal ``D_<id>``, deadline as ISO 8601 with its offset."""
    return {
        "TITLE": title_of(text),
        "DESCRIPTION": text,
        "RESPONSIBLE_ID": responsible_id,
        "DEADLINE": deadline.isoformat(timespec="seconds"),
        "UF_CRM_TASK": [f"D_{deal_id}"],
    }


def responsible(services: Any, base_url: str, deal_id: str, state: dict[str, Any]) -> int:
    """``crm.deal.get`` → ``ASSIGNED_BY_ID`` (a string in Bitrix24, cast to int)."""
    result = call(services, base_url, "crm.deal.get", {"id": deal_id}, state)
    value = (result or {}).get("ASSIGNED_BY_ID")
    if value in (None, ""):
        raise PermanentError(f"{SERVICE}: deal {deal_id} has no ASSIGNED_BY_ID")
    return int(value)


def create_task(
    services: Any,
    base_url: str,
    fields: dict[str, Any],
    state: dict[str, Any],
    before_send: Callable[[], None] = lambda: None,
) -> int:
    """``tasks.task.add`` → ``result.task.id``."""
    result = call(services, base_url, "tasks.task.add", {"fields": fields}, state, before_send)
    task_id = ((result or {}).get("task") or {}).get("id")
    if task_id in (None, ""):
        raise PermanentError(f"{SERVICE}: tasks.task.add answered without a task id")
    return int(task_id)


def _same_instant(value: Any, deadline: datetime) -> bool:
    try:
        return datetime.fromisoformat(str(value)).timestamp() == deadline.timestamp()
    except ValueError:
        return False


def find_task(
    services: Any, base_url: str, deal_id: str, title: str, deadline: datetime, state: dict[str, Any]
) -> int | None:
    """A task on the deal with this title and deadline (after an ambiguous create)."""
    payload = {
        "filter": {"UF_CRM_TASK": f"D_{deal_id}", "TITLE": title},
        "select": ["ID", "TITLE", "DEADLINE", "UF_CRM_TASK"],
    }
    result = call(services, base_url, "tasks.task.list", payload, state)
    for task in (result or {}).get("tasks") or []:
        if task.get("title") == title and _same_instant(task.get("deadline"), deadline):
            return int(task["id"])
    return None
