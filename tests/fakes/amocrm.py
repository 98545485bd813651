"""Fake amoCRM API v4 enforcing contracts.md §2: Bearer auth, task arrays, HAL answers, 204s, 7 req/s.

One account per instance: its rate limit (a token bucket, 7 requests per second) counts every
API request, and a request over it gets ``429`` with ``Retry-After``; ``refused`` counts them.
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from typing import Any

from tests.fakes._http import FakeHTTPServer, Reply, Request, TokenBucket

ENTITY_TYPES = {"leads", "contacts", "companies", "customers"}
HAL = "application/hal+json"
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> Reply:
    body = {"title": title, "type": f"https://httpstatus.es/{status}", "status": status, "detail": detail}
    return Reply(status, {**body, **extra}, content_type=PROBLEM)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class FakeAmoCRM(FakeHTTPServer):
    """Leads in ``leads``, created tasks in ``tasks``; ``ban()``, ``slow_create()`` and ``force()`` switches."""

    def __init__(self, token: str = "amo-long-lived-token", rate: float = 7, burst: float = 7):
        super().__init__()
        self.tokens = {token}
        self.leads: dict[int, dict[str, Any]] = {}
        self.tasks: list[dict[str, Any]] = []
        self.oauth_clients = {"client-id": "client-secret"}
        self.auth_codes = {"auth-code"}
        self.refresh_tokens: set[str] = set()
        self.bucket = TokenBucket(rate, burst)
        self.refused = 0  # requests answered 429 (over the rate limit)
        self.banned = False
        self.create_delays: list[float] = []
        self._tlock = threading.Lock()

    def add_lead(self, lead_id: int, responsible_user_id: int = 5001, **fields: Any) -> None:
        self.leads[lead_id] = {
            "id": lead_id,
            "name": f"Lead {lead_id}",
            "price": 0,
            "responsible_user_id": responsible_user_id,
            **fields,
        }

    def ban(self, on: bool = True) -> None:
        """The IP ban that follows repeated 429s: every request gets 403."""
        self.banned = on

    def slow_create(self, seconds: float, times: int = 1) -> None:
        """Store the next created task(s) but answer only after ``seconds`` (an ambiguous timeout)."""
        self.create_delays.extend([seconds] * times)

    def handle(self, req: Request) -> Reply:
        if self.banned:
            return problem(403, "Forbidden", "IP address is blocked")
        if req.path == "/oauth2/access_token" and req.method == "POST":
            return self._oauth(req)
        if not req.path.startswith("/api/v4/"):
            return problem(404, "Not Found", "Unknown path")
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer ") :] not in self.tokens:
            return problem(401, "Unauthorized", "Invalid user name or password")
        wait = self.bucket.take()
        if wait:
            with self._lock:
                self.refused += 1
            # the body of a 429 is not JSON (contracts.md §2.3); when to come back is in Retry-After
            return Reply(429, "Too Many Requests", {"Retry-After": str(max(1, math.ceil(wait)))}, "text/html")
        if req.path == "/api/v4/account" and req.method == "GET":  # the account a token opens
            return Reply(200, {"id": 1, "name": "Fake account", "subdomain": "fake"}, content_type=HAL)
        if m := re.fullmatch(r"/api/v4/leads/(\d+)", req.path):
            if req.method != "GET":
                return problem(405, "Method Not Allowed", "")
            lead = self.leads.get(int(m.group(1)))
            return Reply(204) if lead is None else Reply(200, lead, content_type=HAL)
        if req.path == "/api/v4/tasks":
            if req.method == "POST":
                return self._create_tasks(req)
            if req.method == "GET":
                return self._list_tasks(req)
        if (m := re.fullmatch(r"/api/v4/tasks/(\d+)", req.path)) and req.method == "GET":
            found = [t for t in self.tasks if t["id"] == int(m.group(1))]
            return Reply(200, found[0], content_type=HAL) if found else Reply(204)
        return problem(404, "Not Found", "Unknown path")

    def _validation(self, errors: list[dict[str, Any]]) -> Reply:
        return problem(400, "Bad Request", "Request validation failed", **{"validation-errors": errors})

    def _create_tasks(self, req: Request) -> Reply:
        if req.content_type != "application/json":
            return problem(415, "Unsupported Media Type", "Content-Type must be application/json")
        try:
            items = req.json()
        except ValueError:
            return problem(400, "Bad Request", "Body is not valid JSON")
        if not isinstance(items, list) or not items:
            return problem(400, "Bad Request", "Request body must be a non-empty array")
        errors = []
        for index, item in enumerate(items):
            item_errors = self._check_task(item)
            if item_errors:
                rid = str(item.get("request_id", index)) if isinstance(item, dict) else str(index)
                errors.append({"request_id": rid, "errors": item_errors})
        if errors:
            return self._validation(errors)
        created = []
        with self._tlock:
            for index, item in enumerate(items):
                task = {
                    "id": 4745251 + len(self.tasks),
                    "text": item["text"],
                    "complete_till": item["complete_till"],
                    "entity_id": item.get("entity_id"),
                    "entity_type": item.get("entity_type"),
                    "responsible_user_id": item.get("responsible_user_id", 1),
                    "is_completed": False,
                    "task_type_id": item.get("task_type_id", 1),
                    "created_at": int(time.time()),
                }
                self.tasks.append(task)
                created.append(
                    {
                        "id": task["id"],
                        "request_id": str(item.get("request_id", index)),
                        "_links": {"self": {"href": f"{self.url}/api/v4/tasks/{task['id']}"}},
                    }
                )
            delay = self.create_delays.pop(0) if self.create_delays else 0.0
        body = {"_links": {"self": {"href": f"{self.url}/api/v4/tasks"}}, "_embedded": {"tasks": created}}
        return Reply(200, body, content_type=HAL, delay=delay)

    @staticmethod
    def _check_task(item: Any) -> list[dict[str, str]]:
        if not isinstance(item, dict):
            return [{"code": "InvalidType", "path": "", "detail": "This value should be of type object."}]
        errors = []
        if not isinstance(item.get("text"), str) or not item.get("text"):
            errors.append({"code": "NotBlank", "path": "text", "detail": "This value should not be blank."})
        if not _is_int(item.get("complete_till")):
            errors.append(
                {
                    "code": "InvalidType",
                    "path": "complete_till",
                    "detail": "This value should be of type int.",
                }
            )
        if "entity_type" in item and item["entity_type"] not in ENTITY_TYPES:
            errors.append(
                {
                    "code": "NotSupportedChoice",
                    "path": "entity_type",
                    "detail": "The value you selected is not a valid choice.",
                }
            )
        for key in ("entity_id", "responsible_user_id", "task_type_id"):
            if key in item and not _is_int(item[key]):
                errors.append(
                    {"code": "InvalidType", "path": key, "detail": "This value should be of type int."}
                )
        return errors

    def _list_tasks(self, req: Request) -> Reply:
        q = req.query
        tasks = list(self.tasks)
        if "filter[entity_type]" in q:
            tasks = [t for t in tasks if t["entity_type"] == q["filter[entity_type]"][0]]
        ids = q.get("filter[entity_id][]") or q.get("filter[entity_id]")
        if ids:
            tasks = [t for t in tasks if str(t["entity_id"]) in ids]
        if "filter[is_completed]" in q:
            done = q["filter[is_completed]"][0] in ("1", "true")
            tasks = [t for t in tasks if t["is_completed"] == done]
        limit = min(int((q.get("limit") or ["50"])[0]), 250)
        page = int((q.get("page") or ["1"])[0])
        chunk = tasks[(page - 1) * limit : page * limit]
        if not chunk:
            return Reply(204)
        links: dict[str, Any] = {"self": {"href": f"{self.url}/api/v4/tasks?page={page}"}}
        if page * limit < len(tasks):
            links["next"] = {"href": f"{self.url}/api/v4/tasks?page={page + 1}"}
        return Reply(200, {"_page": page, "_links": links, "_embedded": {"tasks": chunk}}, content_type=HAL)

    def _oauth(self, req: Request) -> Reply:
        try:
            body = req.json()
        except ValueError:
            return problem(400, "Bad Request", "Body is not valid JSON")
        if self.oauth_clients.get(body.get("client_id")) != body.get("client_secret"):
            return problem(401, "Unauthorized", "Client authentication failed", hint="Incorrect client")
        grant = body.get("grant_type")
        if grant == "authorization_code" and body.get("code") in self.auth_codes:
            self.auth_codes.discard(body["code"])
        elif grant == "refresh_token" and body.get("refresh_token") in self.refresh_tokens:
            self.refresh_tokens.discard(body["refresh_token"])
        else:
            return problem(400, "Bad Request", "Authorization code or refresh token is invalid")
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.tokens.add(access)
        self.refresh_tokens.add(refresh)
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 86400,
                "server_time": int(time.time()),
                "access_token": access,
                "refresh_token": refresh,
            },
        )
