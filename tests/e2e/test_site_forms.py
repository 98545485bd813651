"""Site forms end to end: a Tilda-style urlencoded post and a multipart post to POST /api/v1/hooks/{key}
(no token) → custom event → RQ worker process → a webhook to a real local receiver."""

from __future__ import annotations

import requests

from tests.conftest import wait_for
from tests.e2e.helpers import Api, webhook_flow


def _stack(live, procs, receiver, event_name: str) -> tuple[Api, str]:
    procs.start("worker")
    api = Api(live.url)
    wait_for(lambda: api.get("/api/v1/health").json()["workers"] >= 1, timeout=30, message="the worker")
    flow = webhook_flow(
        receiver.url + "/lead", event="event.custom", event_params={"name": event_name}, name="Заявка"
    )
    assert api.post("/api/v1/flows", json=flow).status_code == 201
    source = api.post("/api/v1/hooks", json={"name": event_name}).json()
    assert source["url"] == f"{live.url}/api/v1/hooks/{source['key']}"
    return api, source["url"]


def test_a_tilda_post_and_a_multipart_post_each_fire_the_custom_event_scenario(live, procs, fake_receiver):
    api, url = _stack(live, procs, fake_receiver, "tilda_lead")
    other = api.post("/api/v1/hooks", json={"name": "another_form"}).json()["url"]
    assert requests.post(other, data={"Phone": "+7 900 000-00-00"}, timeout=10).status_code == 200

    test = requests.post(url, data={"test": "test"}, timeout=10)  # Tilda adding the webhook
    assert (test.status_code, test.text) == (200, "ok")
    tilda = {
        "Name": "Иван",
        "Phone": "+7 (912) 345-67-89",
        "Email": "ivan@example.com",
        "tranid": "7777:1",
        "formid": "form42",
    }
    resp = requests.post(url, data=tilda, timeout=10)  # application/x-www-form-urlencoded, no token
    assert (resp.status_code, resp.text) == (200, "ok")
    wait_for(
        lambda: fake_receiver.deliveries, timeout=15, message="the Tilda lead's webhook\n" + procs.logs()
    )
    first = fake_receiver.deliveries[0].payload
    assert first["event_type"] == "custom_event" and first["script_name"] == "Заявка"
    assert first["event"]["meta_id"] == "tilda_lead" and first["event"]["data"] == tilda
    assert {k: first["client"][k] for k in ("name", "phone", "email")} == {
        "name": "Иван",
        "phone": "+79123456789",
        "email": "ivan@example.com",
    }

    resp = requests.post(
        url,
        data={"имя": "Мария", "телефон": "89123456780", "услуги": ["SEO", "Контекст"]},
        files={"brief": ("brief.txt", b"not stored", "text/plain")},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert resp.status_code == 200 and resp.json()["ignored_files"] == ["brief"]
    wait_for(
        lambda: len(fake_receiver.deliveries) >= 2, timeout=15, message="the multipart lead\n" + procs.logs()
    )
    second = fake_receiver.deliveries[1].payload
    assert second["event"]["data"] == {
        "имя": "Мария",
        "телефон": "89123456780",
        "услуги": ["SEO", "Контекст"],
    }
    assert second["client"]["name"] == "Мария" and second["client"]["phone"] == "+79123456780"

    # Tilda's retry of the same submission (same tranid) fires nothing new; the other form never fired
    assert requests.post(url, data=tilda, timeout=10).status_code == 200
    wait_for(
        lambda: [r["status"] for r in api.get("/api/v1/runs").json()["runs"]] == ["succeeded"] * 2,
        timeout=15,
        message="two succeeded runs",
    )
    assert len(fake_receiver.deliveries) == 2
