"""action.crm_task: a task for the deal's manager in amoCRM or Bitrix24, created at most once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from plugin.nodes._services import amocrm, bitrix24, limits
from plugin.nodes.base import SECRET_PLACEHOLDER, ActionCall, ActionFailed, PermanentError, Skip
from plugin.transport import http

log = logging.getLogger(__name__)

CRMS = ("amocrm", "bitrix24")


def _order_id(call: ActionCall) -> str:
    order = (call.context or {}).get("order") or {}
    if order.get("id") in (None, ""):
        raise Skip("нет сделки в контексте (no order in context)")
    return str(order["id"])


def _crm(params: dict) -> str:
    if params.get("crm") not in CRMS:
        raise PermanentError(f"crm_task: crm must be amocrm or bitrix24, got {params.get('crm')!r}")
    return params["crm"]


def _lead_id(order_id: str) -> int:
    try:
        return int(order_id)
    except ValueError:
        raise PermanentError(f"amocrm: the lead id must be a number, got {order_id!r}") from None


def _deadline(call: ActionCall) -> int:
    """Fixed at the first attempt, so that a retry can recognise the task it may have created."""
    if "deadline" not in call.state:
        days = float(call.params.get("deadline_days", 1) or 0)
        call.state["deadline"] = int(time.time() + days * 86400)
    return int(call.state["deadline"])


RESPONSIBLE_TTL = 300  # seconds a deal's responsible user, once looked up, is taken as known


def _responsible(call: ActionCall, crm: str, deal: str, lookup: Callable[[], int | None]) -> int | None:
    """The given user, else the deal's responsible: from the step, then a short-lived cache per
    account and deal (another flow or run on the same deal asks once), then the CRM."""
    value = call.params.get("responsible_user_id") or call.state.get("responsible_user_id")
    if value in (None, ""):
        redis = getattr(call.services, "redis", None)
        key = f"automation:crm:responsible:{crm}:{limits.digest(limits.account(call.params['base_url']) + '/' + deal)}"
        cached = redis.get(key) if redis is not None else None
        if cached is not None:
            value = int(cached) if cached not in (b"", "") else None
        else:
            value = lookup()
            if redis is not None:
                redis.set(key, "" if value is None else str(value), ex=RESPONSIBLE_TTL)
        call.state["responsible_user_id"] = value
    return int(value) if value is not None else None


def _refused(exc: ActionFailed) -> bool:
    """The CRM answered and did not create: a rate-limit refusal (429, Bitrix24's 503) or a 4xx."""
    return exc.status is not None and (exc.status < 500 or exc.status == 503)


def _create(call: ActionCall, send: Callable[[Callable[[], None]], int]) -> int:
    """Send the create; the step is marked "possibly sent" only once the request may go out (its
    rate slot taken), and unmarked when the CRM refused it, so that a retry looks up nothing."""
    mark = {"text": call.params["text"], "deadline": _deadline(call)}
    try:
        return send(lambda: call.state.__setitem__("pending", mark))
    except ActionFailed as exc:
        if _refused(exc):
            call.state.pop("pending", None)
        raise


def _amocrm(call: ActionCall, order_id: str) -> int:
    p, s, state = call.params, call.services, call.state
    base, token, lead = p["base_url"], p.get("token") or "", _lead_id(order_id)
    if not token:
        raise PermanentError("amocrm: token (a long-lived access token) is required")
    pending = state.get("pending")
    if pending:
        found = amocrm.find_task(s, base, token, lead, pending["text"], pending["deadline"], state)
        if found is not None:
            log.info("amocrm task %s found after an ambiguous create; not creating again", found)
            return found
        state.pop("pending")  # checked: it was not created
    responsible = _responsible(
        call, "amocrm", order_id, lambda: amocrm.responsible(s, base, token, lead, state)
    )
    req = amocrm.task_request(
        base,
        text=p["text"],
        complete_till=_deadline(call),
        lead_id=lead,
        responsible_user_id=responsible,
        request_id=call.idempotency_key,
    )
    return _create(call, lambda mark: amocrm.create_task(s, base, token, req, state, mark))


def _bitrix24(call: ActionCall, order_id: str) -> int:
    p, s, state = call.params, call.services, call.state
    base = p["base_url"]
    pending = state.get("pending")
    if pending:
        when = datetime.fromtimestamp(pending["deadline"], tz=UTC)
        found = bitrix24.find_task(s, base, order_id, bitrix24.title_of(pending["text"]), when, state)
        if found is not None:
            log.info("bitrix24 task %s found after an ambiguous create; not creating again", found)
            return found
        state.pop("pending")  # checked: it was not created
    responsible = _responsible(
        call, "bitrix24", order_id, lambda: bitrix24.responsible(s, base, order_id, state)
    )
    fields = bitrix24.task_fields(
        text=p["text"],
        deadline=datetime.fromtimestamp(_deadline(call), tz=UTC),
        deal_id=order_id,
        responsible_id=responsible,
    )
    return _create(call, lambda mark: bitrix24.create_task(s, base, fields, state, mark))


def execute(call: ActionCall) -> dict:
    """Create the task on deal ``order.id``; after an ambiguous failure, look it up before re-creating."""
    crm = _crm(call.params)
    order_id = _order_id(call)
    if call.state.get("task_id") is not None:
        return {"crm": crm, "task_id": call.state["task_id"]}
    task_id = (_amocrm if crm == "amocrm" else _bitrix24)(call, order_id)
    call.state["task_id"] = task_id
    call.state.pop("pending", None)
    call.state.pop("rate_slot", None)
    log.debug("%s task %s created on deal %s", crm, task_id, order_id)
    return {"crm": crm, "task_id": task_id}


def preview(call: ActionCall) -> dict:
    """The create request (the responsible user is looked up at run time unless given)."""
    p = call.params
    crm, order_id = _crm(p), _order_id(call)
    deadline = int(time.time() + float(p.get("deadline_days", 1) or 0) * 86400)
    responsible = p.get("responsible_user_id")
    responsible = int(responsible) if responsible not in (None, "") else None
    if crm == "amocrm":
        req = amocrm.task_request(
            p["base_url"],
            text=p["text"],
            complete_till=deadline,
            lead_id=_lead_id(order_id),
            responsible_user_id=responsible,
            request_id=call.idempotency_key,
        )
        headers = {"Authorization": f"Bearer {SECRET_PLACEHOLDER}", "Content-Type": "application/json"}
        return {**req, "headers": headers, "responsible_lookup": responsible is None}
    fields = bitrix24.task_fields(
        text=p["text"],
        deadline=datetime.fromtimestamp(deadline, tz=UTC),
        deal_id=order_id,
        responsible_id=responsible,
    )  # type: ignore[arg-type]
    return {
        "method": "POST",
        "url": http.mask_url(p["base_url"], "/tasks.task.add.json"),
        "headers": {"Content-Type": "application/json"},
        "body": {"fields": fields},
        "responsible_lookup": responsible is None,
    }
