"""Fake Twilio Messages API enforcing contracts.md §4.2: Basic auth, form body, E.164, 201 with ``SM…``."""

from __future__ import annotations

import base64
import re
import secrets
import threading
from email.utils import formatdate
from typing import Any

from tests.fakes._http import FakeHTTPServer, Reply, Request

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
ROUTE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)\.json$")


def twilio_error(status: int, code: int, message: str) -> Reply:
    return Reply(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class FakeTwilio(FakeHTTPServer):
    """``messages`` holds created Message resources; ``throttle()`` and ``fail()`` switch errors on."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "twilio-auth-token"):
        super().__init__()
        self.account_sid, self.auth_token = account_sid, auth_token
        self.messages: list[dict[str, Any]] = []
        self._mlock = threading.Lock()

    def throttle(self, times: int | None = 1, retry_after: str | None = None) -> None:
        reply = twilio_error(429, 20429, "Too Many Requests")
        if retry_after:
            reply.headers["Retry-After"] = retry_after
        self.force(reply, times)

    def fail(self, status: int, code: int, message: str, times: int | None = 1) -> None:
        self.force(twilio_error(status, code, message), times)

    def _authorized(self, req: Request, sid: str) -> bool:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == sid == self.account_sid and password == self.auth_token

    def handle(self, req: Request) -> Reply:
        account = ACCOUNT.match(req.path)
        if account and req.method == "GET":  # the account itself, to check the credentials
            if not self._authorized(req, account["sid"]):
                return twilio_error(401, 20003, "Authenticate")
            return Reply(200, {"sid": self.account_sid, "status": "active"})
        m = ROUTE.match(req.path)
        if not m:
            return twilio_error(404, 20404, "The requested resource was not found")
        if not self._authorized(req, m["sid"]):
            return twilio_error(401, 20003, "Authenticate")
        if req.method != "POST":
            return twilio_error(405, 20004, "Method not allowed")
        if req.content_type != "application/x-www-form-urlencoded":
            return twilio_error(400, 21602, "Message body is required.")
        form = req.form_first()
        to, body = form.get("To"), form.get("Body")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body and not form.get("MediaUrl"):
            return twilio_error(400, 21602, "Message body is required.")
        if body and len(body) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        sid = "SM" + secrets.token_hex(16)
        message = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": body,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "date_created": formatdate(usegmt=True).replace("GMT", "+0000"),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._mlock:
            self.messages.append(message)
        return Reply(201, message)
