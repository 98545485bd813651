"""Fake Slack incoming webhook enforcing contracts.md §1 (JSON or form payload, text required, 1/s)."""

from __future__ import annotations

import json
import threading

from tests.fakes._http import FakeHTTPServer, Reply, Request, TokenBucket

HOOK_PATH = "/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"

ERROR_STATUS = {
    "invalid_payload": 400,
    "no_text": 400,
    "invalid_blocks": 400,
    "user_not_found": 400,
    "posting_to_general_channel_denied": 400,
    "action_prohibited": 403,
    "invalid_token": 403,
    "channel_not_found": 404,
    "no_service": 404,
    "no_service_id": 404,
    "channel_is_archived": 410,
    "rollup_error": 500,
}


class FakeSlack(FakeHTTPServer):
    """``messages`` holds the texts accepted; ``fail(code)`` switches on one documented error."""

    def __init__(self, rate: float = 1.0, burst: float = 3, rate_limited: bool = True):
        super().__init__()
        self.hooks = {HOOK_PATH}
        self.messages: list[str] = []
        self.bucket = TokenBucket(rate, burst)
        self.rate_limited = rate_limited
        self._mlock = threading.Lock()

    @property
    def hook_url(self) -> str:
        return self.url + HOOK_PATH

    def fail(self, code: str, times: int | None = 1) -> None:
        """Answer the next ``times`` posts with Slack's ``code`` (e.g. ``channel_is_archived``)."""
        self.force(Reply(ERROR_STATUS[code], code), times)

    def throttle(self, retry_after: int = 1, times: int | None = 1) -> None:
        self.force(Reply(429, "rate_limited", headers={"Retry-After": str(retry_after)}), times)

    def handle(self, req: Request) -> Reply:
        if req.path not in self.hooks:
            return Reply(404, "no_service")
        if req.method != "POST":
            return Reply(405, "invalid_method")
        if self.rate_limited:
            wait = self.bucket.take()
            if wait:
                return Reply(429, "rate_limited", headers={"Retry-After": "1"})
        try:
            if req.content_type == "application/json":
                payload = req.json()
            elif req.content_type == "application/x-www-form-urlencoded":
                payload = json.loads(req.form_first()["payload"])
            else:
                return Reply(400, "invalid_payload")
        except (ValueError, KeyError, UnicodeDecodeError):
            return Reply(400, "invalid_payload")
        if not isinstance(payload, dict):
            return Reply(400, "invalid_payload")
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            return Reply(400, "no_text")
        with self._mlock:
            self.messages.append(text)
        return Reply(200, "ok", content_type="text/html")
