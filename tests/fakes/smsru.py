"""Fake SMS.ru ``sms/send`` enforcing contracts.md §4.1: always HTTP 200, per-number results, anti-flood."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.fakes._http import FakeHTTPServer, Reply, Request


class FakeSmsRu(FakeHTTPServer):
    """``sent`` holds accepted messages; ``fail_request(code)`` / ``fail_number(n, code)`` switch errors on."""

    def __init__(self, api_id: str = "SMSRU-API-ID", balance: float = 100.0):
        super().__init__()
        self.api_ids = {api_id}
        self.balance = balance
        self.sent: list[dict[str, Any]] = []
        self.request_codes: list[int] = []
        self.number_codes: dict[str, list[int]] = {}
        self._recent: dict[tuple[str, str], float] = {}
        self._slock = threading.Lock()

    def fail_request(self, code: int, times: int = 1) -> None:
        """The next request(s) fail as a whole with ``code`` (e.g. 201 balance, 220 unavailable)."""
        self.request_codes.extend([code] * times)

    def fail_number(self, number: str, code: int, times: int = 1) -> None:
        """The next send(s) to ``number`` fail with ``code`` (e.g. 207, 209, 220)."""
        self.number_codes.setdefault(number, []).extend([code] * times)

    @staticmethod
    def _error(code: int, text: str) -> Reply:
        return Reply(200, {"status": "ERROR", "status_code": code, "status_text": text})

    def handle(self, req: Request) -> Reply:
        if req.path.rstrip("/") not in ("/sms/send", "/my/balance"):
            return self._error(211, "Метод не найден")
        params = {k: v[0] for k, v in req.query.items()}
        if req.method == "POST":
            if req.content_type not in ("application/x-www-form-urlencoded", ""):
                return self._error(210, "Используется GET, где необходимо использовать POST")
            params.update(req.form_first())
        if params.get("api_id") not in self.api_ids:
            return self._error(200, "Неправильный api_id")
        if req.path.rstrip("/") == "/my/balance":
            return Reply(200, {"status": "OK", "status_code": 100, "balance": self.balance})
        if self.request_codes:
            code = self.request_codes.pop(0)
            return self._error(code, f"forced error {code}")
        text = params.get("msg", "")
        if not text.strip():
            return self._error(203, "Нет текста сообщения")
        numbers = [n.strip() for n in params.get("to", "").split(",") if n.strip()]
        if not numbers:
            return self._error(202, "Неправильно указан получатель")
        if len(numbers) > 100:
            return self._error(213, "Более 100 номеров")
        results = {number: self._send_one(number, text, params.get("from")) for number in numbers}
        if params.get("json") != "1":
            first = next(iter(results.values()))
            return Reply(200, f"{first['status_code']}\n{first.get('sms_id', '')}\nbalance={self.balance}")
        return Reply(200, {"status": "OK", "status_code": 100, "sms": results, "balance": self.balance})

    def _send_one(self, number: str, text: str, sender: str | None) -> dict[str, Any]:
        if not number.isdigit() or not 10 <= len(number) <= 15:
            return {"status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер"}
        forced = self.number_codes.get(number)
        if forced:
            code = forced.pop(0)
            return {"status": "ERROR", "status_code": code, "status_text": f"forced error {code}"}
        with self._slock:
            now = time.monotonic()
            if now - self._recent.get((number, text), -1e9) < 60:
                return {
                    "status": "ERROR",
                    "status_code": 231,
                    "status_text": "Превышен лимит одинаковых сообщений на этот номер в минуту",
                }
            self._recent[(number, text)] = now
            sms_id = f"{len(self.sent) + 1:06d}-{10000000 + len(self.sent)}"
            self.sent.append({"to": number, "msg": text, "from": sender, "sms_id": sms_id})
        return {"status": "OK", "status_code": 100, "sms_id": sms_id}
