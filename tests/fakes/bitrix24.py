"""Fake Bitrix24 inbound-webhook REST enforcing contracts.md §3: credentials in the path, ERROR_CORE, leaky bucket."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes._http import FakeHTTPServer, Reply, Request

ROUTE = re.compile(r"^/rest/(?P<uid>\d+)/(?P<code>[^/]+)/(?P<method>[A-Za-z0-9_.]+?)(?:\.json)?$")
METHODS = {"crm.deal.get", "tasks.task.add", "tasks.task.list", "tasks.task.get", "profile"}


def error(status: int, code: str, description: str) -> Reply:
    return Reply(status, {"error": code, "error_description": description})


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style nested keys: ``fields[TITLE]=x&fields[UF_CRM_TASK][]=D_1`` → nested dicts and lists."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt_is_list = not last and parts[i + 1] == "[]"
            if part == "[]":
                node.append(value)
                break
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, [] if nxt_is_list else {})
    return out


class LeakyBucket:
    """Bitrix24's limiter: a counter that drains ``rate``/s and refuses past ``threshold``."""

    def __init__(self, rate: float = 2.0, threshold: float = 50):
        self.rate, self.threshold = rate, threshold
        self.level, self.stamp = 0.0, time.monotonic()
        self.lock = threading.Lock()

    def add(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
            self.stamp = now
            if self.level + 1 > self.threshold:
                return False
            self.level += 1
            return True


class FakeBitrix24(FakeHTTPServer):
    """Deals in ``deals``, users in ``users``, created tasks in ``tasks``; ``webhook_url`` is the base URL."""

    def __init__(
        self, user_id: str = "1", code: str = "s3cr3tc0de", threshold: float = 50, tz_hours: int = 3
    ):
        super().__init__()
        self.user_id, self.code = user_id, code
        self.deals: dict[str, dict[str, Any]] = {}
        self.users = {1, 7, 42}
        self.tasks: list[dict[str, Any]] = []
        self.bucket = LeakyBucket(2.0, threshold)
        self.refused = 0  # requests answered 503 QUERY_LIMIT_EXCEEDED (over the portal's limit)
        self.portal_tz = timezone(timedelta(hours=tz_hours))
        self.create_delays: list[float] = []
        self._tlock = threading.Lock()

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/rest/{self.user_id}/{self.code}/"

    def add_deal(self, deal_id: str | int, assigned_by_id: int = 7, **fields: Any) -> None:
        self.deals[str(deal_id)] = {
            "ID": str(deal_id),
            "TITLE": f"Deal {deal_id}",
            "STAGE_ID": "NEW",
            "ASSIGNED_BY_ID": str(assigned_by_id),
            **fields,
        }

    def slow_create(self, seconds: float, times: int = 1) -> None:
        """Store the next task(s) but answer only after ``seconds`` (an ambiguous timeout)."""
        self.create_delays.extend([seconds] * times)

    def query_limit(self, times: int | None = 1) -> None:
        self.force(error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"), times)

    def _time(self) -> dict[str, Any]:
        now = time.time()
        return {
            "start": now,
            "finish": now,
            "duration": 0.001,
            "processing": 0.001,
            "date_start": datetime.now(self.portal_tz).isoformat(timespec="seconds"),
            "date_finish": datetime.now(self.portal_tz).isoformat(timespec="seconds"),
            "operating_reset_at": int(now) + 600,
            "operating": 0,
        }

    def _ok(self, result: Any, delay: float = 0.0, **extra: Any) -> Reply:
        return Reply(200, {"result": result, **extra, "time": self._time()}, delay=delay)

    def handle(self, req: Request) -> Reply:
        m = ROUTE.match(req.path)
        if not m:
            return error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        if m["uid"] != self.user_id or m["code"] != self.code:
            return error(401, "INVALID_CREDENTIALS", "Invalid request credentials")
        method = m["method"].lower()
        if method not in METHODS:
            return error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        if not self.bucket.add():
            with self._lock:
                self.refused += 1
            return error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        try:
            params = self._params(req)
        except ValueError:
            return error(400, "INVALID_REQUEST", "Invalid request body")
        return getattr(self, "_" + method.replace(".", "_"))(params)

    @staticmethod
    def _params(req: Request) -> dict[str, Any]:
        merged = parse_form([(k, v) for k, vs in req.query.items() for v in vs])
        if req.content_type == "application/json" and req.body:
            body = req.json()
            if not isinstance(body, dict):
                raise ValueError("body must be an object")
            merged.update(body)
        elif req.body:
            merged.update(parse_form(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True)))
        return merged

    def _profile(self, params: dict[str, Any]) -> Reply:
        """The webhook's own user (a harmless call that proves the webhook works)."""
        return self._ok({"ID": str(self.user_id), "ADMIN": True, "NAME": "Fake"})

    def _crm_deal_get(self, params: dict[str, Any]) -> Reply:
        deal_id = params.get("id", params.get("ID"))
        if deal_id in (None, "") or not str(deal_id).isdigit():
            return error(400, "", "ID is not defined or invalid")
        deal = self.deals.get(str(deal_id))
        return self._ok(deal) if deal else error(400, "", "Not found")

    def _tasks_task_add(self, params: dict[str, Any]) -> Reply:
        fields = params.get("fields")
        if not isinstance(fields, dict):
            return error(400, "100", "Could not find value for parameter {fields}")
        if not str(fields.get("TITLE") or "").strip():
            return error(400, "ERROR_CORE", "Task title not specified<br>")
        if fields.get("RESPONSIBLE_ID") in (None, ""):
            return error(400, "ERROR_CORE", "Assignee not specified<br>")
        try:
            responsible = int(fields["RESPONSIBLE_ID"])
        except (TypeError, ValueError):
            responsible = -1
        if responsible not in self.users:
            return error(400, "ERROR_CORE", 'User specified in the "Assignee" field not found<br>')
        deadline = fields.get("DEADLINE")
        if deadline not in (None, ""):
            try:
                parsed = datetime.fromisoformat(str(deadline))
            except ValueError:
                return error(400, "ERROR_CORE", "Incorrect deadline format<br>")
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=self.portal_tz)
            deadline = parsed.astimezone(self.portal_tz).isoformat(timespec="seconds")
        links = fields.get("UF_CRM_TASK") or []
        with self._tlock:
            task = {
                "id": str(3711 + len(self.tasks)),
                "title": str(fields["TITLE"]),
                "description": str(fields.get("DESCRIPTION") or ""),
                "responsibleId": str(responsible),
                "deadline": deadline or None,
                "status": "2",
                "ufCrmTask": list(links) if isinstance(links, list) else [links],
            }
            self.tasks.append(task)
            delay = self.create_delays.pop(0) if self.create_delays else 0.0
        return self._ok({"task": task}, delay=delay)

    def _tasks_task_list(self, params: dict[str, Any]) -> Reply:
        flt = params.get("filter") or {}
        tasks = list(self.tasks)
        if "UF_CRM_TASK" in flt:
            wanted = flt["UF_CRM_TASK"] if isinstance(flt["UF_CRM_TASK"], list) else [flt["UF_CRM_TASK"]]
            tasks = [t for t in tasks if set(wanted) & set(t["ufCrmTask"])]
        if "TITLE" in flt:  # Bitrix24 matches TITLE as a substring
            needle = str(flt["TITLE"]).lower()
            tasks = [t for t in tasks if needle in t["title"].lower()]
        return self._ok({"tasks": tasks}, total=len(tasks))

    def _tasks_task_get(self, params: dict[str, Any]) -> Reply:
        task_id = str(params.get("taskId", params.get("TASKID", "")))
        found = [t for t in self.tasks if t["id"] == task_id]
        return self._ok({"task": found[0]}) if found else error(400, "ERROR_CORE", "Task not found<br>")
