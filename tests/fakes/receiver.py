"""Fake Standard Webhooks receiver (contracts.md §7): verifies signatures, dedupes by ``webhook-id``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tests.fakes._http import FakeHTTPServer, Reply, Request

TOLERANCE = 300


def secret_key(secret: str) -> bytes:
    """``whsec_<base64>`` → the decoded key; any other string → its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_") :])
    return secret.encode("utf-8")


def expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``, computed independently of our code."""
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


@dataclass
class Delivery:
    """One accepted (2xx) delivery."""

    webhook_id: str
    timestamp: int
    payload: Any
    raw: bytes
    request: Request


class FakeReceiver(FakeHTTPServer):
    """``deliveries``: first accepted delivery per id; ``duplicates[id]``: later ones, answered 2xx too."""

    def __init__(self, secret: str | None = None, success_status: int = 200):
        super().__init__()
        self.secret = secret
        self.success_status = success_status
        self.deliveries: list[Delivery] = []
        self.duplicates: Counter[str] = Counter()
        self.rejections: list[tuple[str, Request]] = []
        self._dlock = threading.Lock()
        self._late_answers: list[float] = []  # slow_to_answer: delays of the next accepted deliveries

    # switches
    def respond_with(self, *statuses: int) -> None:
        """Answer the next requests with these statuses in order, then behave normally."""
        for status in statuses:
            self.force(Reply(status, "" if status == 204 else f"status {status}"))

    def throttle(self, retry_after: str = "7", status: int = 429, times: int | None = 1) -> None:
        self.force(Reply(status, "slow down", headers={"Retry-After": retry_after}), times)

    def gone(self) -> None:
        self.force(Reply(410, "gone"), None)

    def slow(self, seconds: float, times: int | None = 1) -> None:
        self.force(Reply(200, "late", delay=seconds), times)

    def slow_to_answer(self, seconds: float, times: int) -> None:
        """Take the next ``times`` deliveries as usual (recorded) and answer each ``seconds`` late."""
        with self._dlock:
            self._late_answers.extend([seconds] * times)

    def redirect(self, location: str = "http://169.254.169.254/latest/meta-data/", status: int = 302) -> None:
        self.force(Reply(status, "", headers={"Location": location}), None)

    # behaviour
    def _reject(self, why: str, req: Request, status: int) -> Reply:
        self.rejections.append((why, req))
        return Reply(status, why)

    def handle(self, req: Request) -> Reply:
        if req.method == "GET":
            raw = (req.query.get("payload") or [""])[0].encode("utf-8")
        elif req.method == "POST":
            if req.content_type != "application/json":
                return self._reject("content-type must be application/json", req, 415)
            raw = req.body
        else:
            return self._reject("method not allowed", req, 405)
        msg_id = req.headers.get("webhook-id", "")
        stamp = req.headers.get("webhook-timestamp", "")
        if not msg_id or not stamp.isdigit() or "." in msg_id:
            return self._reject("missing or invalid webhook-id / webhook-timestamp", req, 400)
        if abs(time.time() - int(stamp)) > TOLERANCE:
            return self._reject("timestamp outside the 5 minute tolerance", req, 400)
        if self.secret is not None:
            expected = expected_signature(self.secret, msg_id, stamp, raw)
            given = [s for s in req.headers.get("webhook-signature", "").split(" ") if s.startswith("v1,")]
            if not any(hmac.compare_digest(expected, s) for s in given):
                return self._reject("no matching signature", req, 401)
        try:
            payload = json.loads(raw.decode("utf-8"))
        except ValueError:
            return self._reject("body is not JSON", req, 400)
        with self._dlock:
            if any(d.webhook_id == msg_id for d in self.deliveries):
                self.duplicates[msg_id] += 1
            else:
                self.deliveries.append(Delivery(msg_id, int(stamp), payload, raw, req))
            delay = self._late_answers.pop(0) if self._late_answers else 0.0
        return Reply(self.success_status, "" if self.success_status == 204 else "accepted", delay=delay)
