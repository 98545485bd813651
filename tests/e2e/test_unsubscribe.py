"""Unsubscribe end to end (SPEC §11): an order → RQ worker process → a letter to aiosmtpd carrying
``List-Unsubscribe`` + ``List-Unsubscribe-Post`` and the ``{unsubscribe_url}`` link; an altered link
is refused; the one-click POST suppresses the address; the next letter's step is ``skipped`` and
nothing is sent. SMS steps honour the list against the fake SMS.ru."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import wait_for
from tests.e2e.helpers import Api
from tests.fakes.smtp import FakeSMTP


@pytest.fixture
def smtp():
    fake = FakeSMTP(login=None, password=None).start()
    yield fake
    fake.stop()


@pytest.fixture
def stack(live, procs):
    procs.env["AUTOMATION_PUBLIC_URL"] = live.url  # the links in the letters lead to this server
    procs.start("worker")
    api = Api(live.url)
    wait_for(lambda: api.get("/api/v1/health").json()["workers"] >= 1, timeout=30, message="the worker")
    return api, procs


def _flow(name: str, action: dict) -> dict:
    return {
        "format": "automation-flow/1",
        "name": name,
        "enabled": True,
        "nodes": [{"id": "start", "type": "event.order_created", "params": {}}, {"id": "send", **action}],
        "edges": [{"from": "start", "to": "send"}],
    }


def _email(smtp: FakeSMTP) -> dict:
    html = '<p>Здравствуйте, {client_name}!</p><p><a href="{unsubscribe_url}">Отписаться</a></p>'
    params = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.plain_port,
        "security": "none",
        "from_email": "shop@example.ru",
        "subject": "Ваш заказ",
        "html": html,
    }
    return {"type": "action.email", "params": params}


def _order(api: Api, order_id: str, client_id: str) -> None:
    assert (
        api.put(f"/api/v1/orders/{order_id}", json={"price": 100, "client_id": client_id}).status_code == 202
    )


def _run_of(api: Api, order_id: str) -> dict:
    def finished():
        runs = api.get(f"/api/v1/runs?order_id={order_id}").json()["runs"]
        return runs[0] if runs and runs[0]["status"] not in ("queued", "running", "waiting") else None

    return wait_for(finished, timeout=20, message=f"the run of order {order_id}")


def test_the_letter_carries_the_link_the_link_unsubscribes_and_the_next_letter_is_skipped(stack, smtp):
    api, procs = stack
    assert api.post("/api/v1/flows", json=_flow("Письмо о заказе", _email(smtp))).status_code == 201
    assert api.put("/api/v1/clients/c1", json={"name": "Иван", "email": "Ivan@Example.ru"}).status_code == 202
    _order(api, "o1", "c1")
    wait_for(lambda: smtp.messages, timeout=20, message="the first letter\n" + procs.logs())

    [got] = smtp.messages
    header = got.message["List-Unsubscribe"]
    assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(.+)>", str(header)).group(1)
    assert url.startswith(f"{api.base}/api/v1/unsubscribe/")
    raw_header = next(line for line in got.raw.split(b"\r\n") if line.startswith(b"List-Unsubscribe:"))
    assert raw_header == f"List-Unsubscribe: <{url}>".encode()  # one plain line, not RFC 2047 words
    assert f'<a href="{url}">Отписаться</a>' in got.message.get_body(("html",)).get_content()

    _payload, signature = url.rsplit("/", 1)[1].split(".")
    altered = url.replace(signature, ("A" if signature[0] != "A" else "B") + signature[1:])
    refused = requests.post(altered, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert refused.status_code == 403 and refused.json()["title"] == "Invalid unsubscribe link"
    browser = {"Accept": "text/html,*/*;q=0.8"}
    page = requests.get(altered, headers=browser, timeout=10)
    assert page.status_code == 403 and "Ссылка недействительна" in page.text
    assert api.get("/api/v1/suppressions").json()["suppressions"] == []

    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Отписаться" in page.text
    done = requests.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)  # no token: RFC 8058
    assert done.status_code == 200 and "Вы отписаны" in done.text
    [entry] = api.get("/api/v1/suppressions").json()["suppressions"]
    assert (entry["email"], entry["channel"], entry["source"]) == ("ivan@example.ru", "email", "unsubscribe")

    _order(api, "o2", "c1")
    run = _run_of(api, "o2")
    step = next(s for s in run["steps"] if s["node_id"] == "send")
    assert step["status"] == "skipped", run
    assert step["output"]["skipped"].startswith("адрес в списке отписки: ivan@example.ru")
    assert len(smtp.messages) == 1


def test_an_sms_step_skips_a_suppressed_phone_and_texts_the_others(stack, fake_smsru):
    api, procs = stack
    sms = {
        "type": "action.sms",
        "params": {
            "provider": "smsru",
            "api_id": "SMSRU-API-ID",
            "text": "Заказ принят",
            "base_url": fake_smsru.url,
        },
    }
    assert api.post("/api/v1/flows", json=_flow("SMS о заказе", sms)).status_code == 201
    listed = api.post("/api/v1/suppressions", json={"phone": "8 (912) 345-67-89", "channel": "sms"})
    assert listed.status_code == 201
    assert api.put("/api/v1/clients/c1", json={"phone": "+7 912 345 67 89"}).status_code == 202
    assert api.put("/api/v1/clients/c2", json={"phone": "+7 912 345 67 00"}).status_code == 202
    _order(api, "o1", "c1")
    _order(api, "o2", "c2")

    skipped = next(s for s in _run_of(api, "o1")["steps"] if s["node_id"] == "send")
    sent = next(s for s in _run_of(api, "o2")["steps"] if s["node_id"] == "send")
    assert skipped["status"] == "skipped" and "+79123456789" in skipped["output"]["skipped"]
    assert sent["status"] == "succeeded", procs.logs()
    assert [m["to"] for m in fake_smsru.sent] == ["79123456700"]
