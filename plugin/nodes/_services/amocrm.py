"""amoCRM / Kommo API v4: a lead's responsible user, and tasks on a lead (contracts.md §2).

Every request first takes its place under the account's rate limit (:func:`limits.take`, 7/s
per account, shared by every worker); ``state`` is the step's, where a booked slot is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plugin.nodes._services import limits
from plugin.nodes.base import PermanentError
from plugin.transport import http
from plugin.transport.wire import Response

SERVICE = "amocrm"
MAX_PAGES = 20


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/hal+json, application/json"}


def _describe(resp: Response) -> str | None:
    body = http.json_or_none(resp)
    if not isinstance(body, dict):
        return None
    parts = [str(body.get("title") or ""), str(body.get("detail") or "")]
    for item in body.get("validation-errors") or []:
        for err in item.get("errors") or []:
            parts.append(f"{err.get('path')}: {err.get('code')} {err.get('detail') or ''}")
    return http.trim(" ".join(p for p in parts if p), 300) or None


def _take(services: Any, base_url: str, state: dict[str, Any]) -> None:
    limits.take(services, SERVICE, limits.account(base_url), state)


def _get(
    services: Any, base_url: str, token: str, path: str, state: dict[str, Any], **kwargs: Any
) -> Response:
    _take(services, base_url, state)
    resp = http.send(
        services, "GET", base_url.rstrip("/") + path, service=SERVICE, headers=_headers(token), **kwargs
    )
    if resp.status_code != 204:
        http.check(resp, service=SERVICE, describe=_describe)
    return resp


def task_request(
    base_url: str,
    *,
    text: str,
    complete_till: int,
    lead_id: int,
    responsible_user_id: int | None,
    request_id: str,
) -> dict[str, Any]:
    """``POST /api/v4/tasks`` with a one-item JSON array (a bare object is a 400)."""
    task: dict[str, Any] = {
        "text": text,
        "complete_till": complete_till,
        "entity_id": lead_id,
        "entity_type": "leads",
        "request_id": request_id,
    }
    if responsible_user_id is not None:
        task["responsible_user_id"] = responsible_user_id
    return {"method": "POST", "url": base_url.rstrip("/") + "/api/v4/tasks", "body": [task]}


def responsible(services: Any, base_url: str, token: str, lead_id: int, state: dict[str, Any]) -> int | None:
    """The lead's ``responsible_user_id``; a missing lead (204) is a PermanentError."""
    resp = _get(services, base_url, token, f"/api/v4/leads/{lead_id}", state)
    if resp.status_code == 204:
        raise PermanentError(f"{SERVICE}: lead not found: {lead_id}", status=204)
    body = http.json_or_none(resp) or {}
    value = body.get("responsible_user_id")
    return int(value) if value is not None else None


def create_task(
    services: Any,
    base_url: str,
    token: str,
    req: dict[str, Any],
    state: dict[str, Any],
    before_send: Callable[[], None] = lambda: None,
) -> int:
    """Create the task described by ``req`` (from :func:`task_request`) and return its id.

    ``before_send`` runs once the request may go out (its rate slot taken), just before it does.
    """
    _take(services, base_url, state)
    before_send()
    headers = {**_headers(token), "Content-Type": "application/json"}
    resp = http.send(services, "POST", req["url"], service=SERVICE, headers=headers, json=req["body"])
    http.check(resp, service=SERVICE, describe=_describe)
    body = http.json_or_none(resp) or {}
    tasks = (body.get("_embedded") or {}).get("tasks") or []
    if not tasks or tasks[0].get("id") is None:
        raise PermanentError(f"{SERVICE}: HTTP {resp.status_code} without a task id")
    return int(tasks[0]["id"])


def find_task(
    services: Any,
    base_url: str,
    token: str,
    lead_id: int,
    text: str,
    complete_till: int,
    state: dict[str, Any],
) -> int | None:
    """An open task on the lead with this exact text and deadline (after an ambiguous create)."""
    params: dict[str, Any] = {
        "filter[entity_type]": "leads",
        "filter[entity_id][]": lead_id,
        "filter[is_completed]": 0,
        "limit": 250,
    }
    for page in range(1, MAX_PAGES + 1):
        resp = _get(services, base_url, token, "/api/v4/tasks", state, params={**params, "page": page})
        if resp.status_code == 204:
            return None
        body = http.json_or_none(resp) or {}
        for task in (body.get("_embedded") or {}).get("tasks") or []:
            if task.get("text") == text and int(task.get("complete_till") or 0) == complete_till:
                return int(task["id"])
        if not (body.get("_links") or {}).get("next"):
            return None
    return None
