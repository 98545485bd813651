"""The one-click unsubscribe link (SPEC §11, RFC 8058) over HTTP without a token, and what a dry run of
an e-mail or SMS step shows: the link rendered, the headers, a suppressed client's step skipped."""

from __future__ import annotations

import pytest

from tests.conftest import app_env

PUBLIC = "https://mail.example.ru"


@pytest.fixture
def env(database_url, redis_url, tmp_path):
    return app_env(
        database_url,
        redis_url,
        tmp_path / "data",
        AUTOMATION_PUBLIC_URL=PUBLIC + "/",
        AUTOMATION_UNSUBSCRIBE_MAILTO="unsubscribe@example.ru",
    )


def _links(app):
    return app.extensions["automation"].services.unsubscribe


def _path(url: str) -> str:
    assert url.startswith(PUBLIC + "/api/v1/unsubscribe/")
    return url[len(PUBLIC) :]


def test_the_page_asks_in_russian_and_the_one_click_post_suppresses(app, anon, client):
    path = _path(_links(app).url("email", "ivan@example.ru"))
    page = anon.get(path)  # no Authorization header
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "Отписка от рассылки" in text and "Отписаться" in text and "iv…@example.ru" in text
    assert "name=List-Unsubscribe value=One-Click" in text and "<form method=post>" in text
    assert client.get("/api/v1/suppressions").get_json()["suppressions"] == []  # a GET changes nothing

    done = anon.post(path, data={"List-Unsubscribe": "One-Click"})  # RFC 8058, as a mail provider posts
    assert done.status_code == 200 and "Вы отписаны" in done.get_data(as_text=True)
    [entry] = client.get("/api/v1/suppressions").get_json()["suppressions"]
    assert (entry["email"], entry["channel"], entry["source"]) == ("ivan@example.ru", "email", "unsubscribe")
    again = anon.post(path, data={"List-Unsubscribe": "One-Click"}, headers={"Accept": "application/json"})
    assert again.status_code == 200 and again.get_json() == {
        "unsubscribed": True,
        "channel": "email",
        "id": entry["id"],
    }
    assert len(client.get("/api/v1/suppressions").get_json()["suppressions"]) == 1


def test_an_sms_link_suppresses_the_phone_for_sms(app, anon, client):
    path = _path(_links(app).url("sms", "+79123456789"))
    assert anon.post(path).status_code == 200  # the page's button without a body works too
    [entry] = client.get("/api/v1/suppressions").get_json()["suppressions"]
    assert (entry["phone"], entry["channel"]) == ("+79123456789", "sms")


def _forgeries(token: str, other: str) -> list[str]:
    payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"{payload}.{flipped}",  # an altered signature
        f"{other.split('.')[0]}.{signature}",  # another address under this signature
        payload,  # no signature
        f"{payload}.",
        "garbage.garbage",
        "not-a-token",
    ]


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_forged_or_altered_link_is_refused_and_suppresses_nothing(app, anon, client):
    links = _links(app)
    token = links.token("email", "ivan@example.ru")
    for forged in _forgeries(token, links.token("email", "boss@example.ru")):
        path = f"/api/v1/unsubscribe/{forged}"
        page = anon.post(path, data={"List-Unsubscribe": "One-Click"}, headers=BROWSER)
        assert page.status_code == 403 and page.mimetype == "text/html", forged
        assert "Ссылка недействительна" in page.get_data(as_text=True)
        assert anon.get(path, headers=BROWSER).status_code == 403
        for accept in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}):  # a mail provider, a script
            problem = anon.post(path, data={"List-Unsubscribe": "One-Click"}, headers=accept)
            assert problem.status_code == 403 and problem.mimetype == "application/problem+json", accept
    assert client.get("/api/v1/suppressions").get_json()["suppressions"] == []


def test_a_link_signed_with_another_key_is_refused(app, anon):
    from plugin.nodes._services.optout import Links

    stranger = Links([b"k" * 32], PUBLIC)
    assert anon.post(_path(stranger.url("email", "ivan@example.ru"))).status_code == 403


def _email_flow() -> dict:
    html = '<p>Привет, {client_name}!</p><a href="{unsubscribe_url}">Отписаться</a>'
    email = {
        "smtp_host": "smtp.example.ru",
        "from_email": "shop@example.ru",
        "subject": "Заказ",
        "html": html,
    }
    sms = {"provider": "smsru", "api_id": "secret-id", "text": "Скидка! Отписка: {unsubscribe_url}"}
    return {
        "name": "Письмо и SMS",
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "mail", "type": "action.email", "params": email},
            {"id": "sms", "type": "action.sms", "params": sms},
        ],
        "edges": [{"from": "start", "to": "mail"}, {"from": "start", "to": "sms"}],
    }


CONTEXT = {
    "order": {"id": "100", "price": 10, "status": "Новая"},
    "client": {"external_id": "c1", "name": "Иван", "email": "Ivan@Example.ru", "phone": "8 912 345-67-89"},
}


def test_a_dry_run_renders_the_link_and_the_headers_then_skips_a_suppressed_client(app, client):
    links = _links(app)
    resp = client.post("/api/v1/flows/test", json={"flow": _email_flow(), "context": CONTEXT})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    steps = {s["node_id"]: s for s in resp.get_json()["steps"]}
    mail, sms = steps["mail"], steps["sms"]
    assert mail["status"] == "would_send" and sms["status"] == "would_send"
    email_url = links.url("email", "ivan@example.ru")
    assert f'<a href="{email_url}">Отписаться</a>' in mail["output"]["html"]
    assert (
        mail["output"]["list_unsubscribe"]
        == f"<{email_url}>, <mailto:unsubscribe@example.ru?subject=unsubscribe>"
    )
    assert links.url("sms", "+79123456789") in sms["output"]["body"]["msg"]

    assert (
        client.post("/api/v1/suppressions", json={"email": "ivan@example.ru", "channel": "email"}).status_code
        == 201
    )
    assert (
        client.post("/api/v1/suppressions", json={"phone": "+7 912 345 67 89", "channel": "all"}).status_code
        == 201
    )
    steps = {
        s["node_id"]: s
        for s in client.post(
            "/api/v1/flows/test", json={"flow": _email_flow(), "context": CONTEXT}
        ).get_json()["steps"]
    }
    assert steps["mail"]["status"] == "skipped" and steps["sms"]["status"] == "skipped"
    assert steps["mail"]["error"].startswith("адрес в списке отписки: ivan@example.ru")
    assert "+79123456789" in steps["sms"]["error"]


def test_an_email_entry_for_sms_stops_the_sms_of_that_client_but_not_its_letters(client):
    assert (
        client.post("/api/v1/suppressions", json={"email": "ivan@example.ru", "channel": "sms"}).status_code
        == 201
    )
    steps = {
        s["node_id"]: s
        for s in client.post(
            "/api/v1/flows/test", json={"flow": _email_flow(), "context": CONTEXT}
        ).get_json()["steps"]
    }
    assert steps["mail"]["status"] == "would_send"
    assert (
        steps["sms"]["status"] == "skipped"
        and steps["sms"]["error"] == "адрес в списке отписки: ivan@example.ru (sms)"
    )
