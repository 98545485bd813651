"""Fake Telegram Bot API ``sendMessage`` enforcing contracts.md §6: tokens, chats, HTML parsing, 1/s per chat."""

from __future__ import annotations

import html
import json
import math
import re
import threading
import time
from typing import Any

from tests.fakes._http import FakeHTTPServer, Reply, Request, TokenBucket

ROUTE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
}
TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:=(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class ParseError(ValueError):
    pass


def parse_html(text: str) -> str:
    """The visible text of an HTML-mode message, or ParseError the way Telegram words it."""
    visible, stack, pos = [], [], 0
    while pos < len(text):
        ch = text[pos]
        if ch == "<":
            m = TAG.match(text, pos)
            if not m:
                raise ParseError(f"Unexpected character '<' at byte offset {len(text[:pos].encode())}")
            closing, name = m.group(1), m.group(2).lower()
            if name not in TAGS:
                raise ParseError(f'Unsupported start tag "{name}" at byte offset {len(text[:pos].encode())}')
            if closing:
                if not stack or stack[-1] != name:
                    raise ParseError(
                        f"Unmatched end tag at byte offset {len(text[:pos].encode())}, "
                        f'expected "</{stack[-1] if stack else ""}>", found "</{name}>"'
                    )
                stack.pop()
            else:
                stack.append(name)
            pos = m.end()
        elif ch == "&":
            m = ENTITY.match(text, pos)
            if m:
                visible.append(html.unescape(m.group(0)))
                pos = m.end()
            else:
                visible.append(ch)
                pos += 1
        else:
            visible.append(ch)
            pos += 1
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(visible)


def tg_error(code: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    headers = {"Retry-After": str(parameters["retry_after"])} if "retry_after" in parameters else {}
    return Reply(code, body, headers=headers)


class FakeTelegram(FakeHTTPServer):
    """Known tokens and chats; ``sent`` holds accepted messages; ``block()``, ``migrate()``, ``throttle()``."""

    def __init__(self, token: str = "123456:ABC-DEF_ghi", rate: float = 1.0, burst: float = 3):
        super().__init__()
        self.tokens = {token}
        self.chats: dict[str, str] = {
            "100200300": "private",
            "-1001234567890": "supergroup",
            "@news": "channel",
        }
        self.blocked: set[str] = set()
        self.migrated: dict[str, int] = {}
        self.sent: list[dict[str, Any]] = []
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, TokenBucket] = {}
        self._slock = threading.Lock()

    def block(self, chat_id: str) -> None:
        self.blocked.add(str(chat_id))

    def migrate(self, chat_id: str, new_id: int) -> None:
        self.migrated[str(chat_id)] = new_id

    def throttle(self, retry_after: int = 35, times: int | None = 1) -> None:
        self.force(
            tg_error(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after), times
        )

    @staticmethod
    def _params(req: Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[0] for k, v in req.query.items()}
        if req.content_type == "application/json" and req.body:
            params.update(req.json())
        elif req.body:
            params.update(req.form_first())
        return params

    def handle(self, req: Request) -> Reply:
        m = ROUTE.match(req.path)
        if not m or m["token"] not in self.tokens:
            return tg_error(401 if m else 404, "Unauthorized" if m else "Not Found")
        if m["method"].lower() == "getme":  # contracts: the bot's own user, to check a token
            return Reply(200, {"ok": True, "result": {"id": 123456, "is_bot": True, "username": "fake_bot"}})
        if m["method"].lower() != "sendmessage":
            return tg_error(404, "Not Found")
        try:
            params = self._params(req)
        except ValueError:
            return tg_error(400, "Bad Request: invalid JSON")
        chat = str(params.get("chat_id", ""))
        if chat not in self.chats:
            return tg_error(400, "Bad Request: chat not found")
        if chat in self.migrated:
            return tg_error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to_chat_id=self.migrated[chat],
            )
        if chat in self.blocked:
            return tg_error(403, "Forbidden: bot was blocked by the user")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return tg_error(400, "Bad Request: message text is empty")
        if params.get("parse_mode") == "HTML":
            try:
                text = parse_html(text)
            except ParseError as exc:
                return tg_error(400, f"Bad Request: can't parse entities: {exc}")
        if not text.strip():
            return tg_error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return tg_error(400, "Bad Request: message is too long")
        with self._slock:
            bucket = self._buckets.setdefault(chat, TokenBucket(self.rate, self.burst))
        wait = bucket.take()
        if wait:
            retry = max(1, math.ceil(wait))
            return tg_error(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        with self._slock:
            message = {
                "message_id": 156 + len(self.sent),
                "date": int(time.time()),
                "chat": {"id": params["chat_id"], "type": self.chats[chat]},
                "text": text,
            }
            self.sent.append({**message, "raw": params})
        return Reply(200, json.loads(json.dumps({"ok": True, "result": message})))
