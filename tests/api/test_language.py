"""Problem details follow ``Accept-Language`` (ru, en; q-values honoured), else ``AUTOMATION_LANGUAGE``
(default ru) — SPEC §11 «Language», issue #18."""

from __future__ import annotations

import re

import pytest

from plugin.messages import negotiate
from tests.api.test_flow_validation import assert_problem, base_flow
from tests.conftest import TOKEN, make_app

RU_AMOUNT = "Сумма: нужно число, а не «десять тысяч»"
EN_AMOUNT = "'десять тысяч' is not of type 'number'"
RU_VARIABLE = "Текст сообщения: неизвестная переменная {clent_name} — может быть, {client_name}?"


def bad_flow() -> dict:
    doc = base_flow()
    doc["nodes"][1]["params"]["value"] = "десять тысяч"
    doc["nodes"][2]["params"]["text"] = "Заказ {order_id} для {clent_name}"
    return doc


def post(client, language: str | None):
    headers = {"Accept-Language": language} if language is not None else {}
    return client.post("/api/v1/flows", json=bad_flow(), headers=headers)


def messages(body: dict) -> dict[str, str]:
    return {e["path"]: e["message"] for e in body["errors"]}


def test_russian_when_asked(client):
    resp = post(client, "ru")
    body = assert_problem(resp, 422, ["/nodes/1/params/value", "/nodes/2/params/text"])
    assert body["title"] == "Ошибка в данных"
    assert body["detail"] == "В сценарии 2 ошибки"
    assert messages(body) == {"/nodes/1/params/value": RU_AMOUNT, "/nodes/2/params/text": RU_VARIABLE}
    assert resp.headers["Content-Language"] == "ru"
    assert "Accept-Language" in resp.headers["Vary"]


def test_english_when_asked(client):
    body = assert_problem(post(client, "en-GB"), 422)
    assert body["title"] == "Validation failed"
    assert body["detail"] == "the flow has 2 problem(s)"
    said = messages(body)
    assert said["/nodes/1/params/value"] == EN_AMOUNT
    assert said["/nodes/2/params/text"] == "unknown variable {clent_name}; did you mean {client_name}?"


@pytest.mark.parametrize(
    "header, language",
    [
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        ("en;q=0.5, ru;q=0.9", "ru"),
        ("ru;q=0.2, en;q=0.9", "en"),
        ("de-DE, en;q=0.1", "en"),  # German is not offered: the best of the rest
        ("ru;q=0, en", "en"),  # q=0 is "not acceptable"
        ("en;q=0.7, ru;q=0.7", "en"),  # a tie: the first
    ],
)
def test_q_values_are_honoured(client, header, language):
    resp = post(client, header)
    assert resp.headers["Content-Language"] == language
    expected = RU_AMOUNT if language == "ru" else EN_AMOUNT
    assert messages(assert_problem(resp, 422))["/nodes/1/params/value"] == expected


@pytest.mark.parametrize("header", ["de-DE", "*", "", "fr;q=1, zh", ";;;q=x", "ru;q=2"])
def test_anything_else_is_the_default(client, header):
    # the suite's app runs with AUTOMATION_LANGUAGE=en (tests/conftest.py): the default is English here
    resp = post(client, header)
    assert resp.headers["Content-Language"] == "en"
    assert messages(assert_problem(resp, 422))["/nodes/1/params/value"] == EN_AMOUNT


def _app_with(env: dict, language: str | None):
    env = {k: v for k, v in env.items() if k != "AUTOMATION_LANGUAGE"}
    if language is not None:
        env["AUTOMATION_LANGUAGE"] = language
    return make_app(env)


@pytest.mark.parametrize("language, expected", [(None, "ru"), ("ru", "ru"), ("en", "en"), ("EN", "en")])
def test_the_default_comes_from_the_environment(env, language, expected):
    import os

    saved = os.environ.pop("AUTOMATION_LANGUAGE", None)  # the real default, not the suite's
    try:
        app = _app_with(env, language)
    finally:
        if saved is not None:
            os.environ["AUTOMATION_LANGUAGE"] = saved
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    for header in (None, "de", "*"):
        resp = post(client, header)
        assert resp.headers["Content-Language"] == expected
        said = messages(assert_problem(resp, 422))["/nodes/1/params/value"]
        assert said == (RU_AMOUNT if expected == "ru" else EN_AMOUNT)
    # an explicit ask still wins over the default
    assert post(client, "en").headers["Content-Language"] == "en"
    assert post(client, "ru").headers["Content-Language"] == "ru"
    _dispose(app)


def _dispose(app) -> None:
    from plugin.api.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_bad_default_stops_the_start(env):
    with pytest.raises(ValueError, match="AUTOMATION_LANGUAGE must be ru or en"):
        _app_with(env, "de")


def test_every_problem_kind_has_a_russian_title(client, anon):
    ru = {"Accept-Language": "ru"}
    cases = [
        (anon.get("/api/v1/flows", headers=ru), 401, "Нужен вход по токену"),
        (client.get("/api/v1/flows/nope", headers=ru), 404, "Не найдено"),
        (client.get("/api/v1/no-such-route", headers=ru), 404, "Не найдено"),
        (client.delete("/api/v1/variables", headers=ru), 405, "Метод не поддерживается"),
    ]
    for resp, status, title in cases:
        body = assert_problem(resp, status)
        assert body["title"] == title, body
    unknown_route = cases[2][0].get_json()
    assert unknown_route["detail"] == "По этому адресу ничего нет"


def test_a_secret_s_pattern_error_says_what_is_expected_and_never_the_value(client):
    doc = base_flow()
    doc["nodes"][2]["params"]["webhook_url"] = "ftp://hooks.example/T000/B000/XYZ-secret"
    for language, expected in [
        ("ru", "нужен адрес, который начинается с http:// или https://"),
        ("en", "does not match the pattern '^https?://'"),
    ]:
        resp = client.post("/api/v1/flows", json=doc, headers={"Accept-Language": language})
        body = assert_problem(resp, 422, ["/nodes/2/params/webhook_url"])
        said = messages(body)["/nodes/2/params/webhook_url"]
        assert expected in said
        assert "XYZ-secret" not in resp.get_data(as_text=True) and "********" not in said


def test_ingestion_problems_are_russian_too(client):
    resp = client.put("/api/v1/orders/1", json={"price": "много"}, headers={"Accept-Language": "ru"})
    body = assert_problem(resp, 422, ["/price"])
    assert body["title"] == "Ошибка в данных"
    assert body["detail"] == "Запрос не соответствует описанной схеме"
    assert messages(body)["/price"] == "Нужно число"


def test_negotiate_without_flask():
    assert negotiate(None) == "ru" and negotiate(None, "en") == "en"
    assert negotiate("EN-us;q=0.3, xx") == "en"
    assert negotiate("ru;q=abc, en;q=0.1") == "en"


RU = {"Accept-Language": "ru"}
RU_REQUESTS = [
    ("post", "/api/v1/flows", {"data": b"", "content_type": "application/json"}),
    ("post", "/api/v1/flows", {"data": b"{", "content_type": "application/json"}),
    ("post", "/api/v1/flows", {"data": b"[]", "content_type": "application/json"}),
    ("post", "/api/v1/flows", {"data": b"{}", "content_type": "text/plain"}),
    ("get", "/api/v1/runs?cursor=%%%", {}),
    ("get", "/api/v1/flows/nope", {}),
    ("get", "/api/v1/presets/nope", {}),
    ("get", "/api/v1/connections/nope", {}),
    ("get", "/api/v1/runs/nope", {}),
    ("delete", "/api/v1/tokens/999999", {}),
    ("get", "/api/v1/nodes/action.nothing", {}),
    ("post", "/api/v1/nodes/action.slack/execute", {"json": {"params": 5}}),
    (
        "post",
        "/api/v1/nodes/action.slack/execute",
        {"json": {"params": {"text": "x", "webhook_url": "********"}}},
    ),
    ("post", "/api/v1/flows/import", {"json": {"flows": []}}),
    ("post", "/api/v1/flows/test", {"json": {"context": {}}}),
    ("post", "/api/v1/connections", {"json": {"name": "", "type": "fax", "params": [], "x": 1}}),
    ("post", "/api/v1/presets", {"json": {"name": "", "kind": "other"}}),
    ("post", "/api/v1/events", {"json": {"id": "", "name": "x"}}),
    ("post", "/api/v1/events", {"json": {"id": [1], "name": "x"}}),
    ("delete", "/api/v1/suppressions/nope", {}),
    ("post", "/api/v1/suppressions/import", {"data": b"x", "content_type": "text/plain"}),
]


@pytest.mark.parametrize("method, path, kw", RU_REQUESTS, ids=[f"{m} {p}" for m, p, _ in RU_REQUESTS])
def test_the_api_s_other_problems_are_russian_too(client, method, path, kw):
    from tests.engine.test_validation_messages import english_words

    resp = getattr(client, method)(path, headers=RU, **kw)
    assert resp.status_code >= 400 and resp.mimetype == "application/problem+json", resp.get_data(
        as_text=True
    )
    body = resp.get_json()
    for text in [body["title"], body["detail"], *(e["message"] for e in body["errors"])]:
        assert not english_words(text), (text, body)


def test_an_unauthorized_request_is_told_in_russian(anon):
    from tests.engine.test_validation_messages import english_words

    body = anon.get("/api/v1/flows", headers=RU).get_json()
    assert body["title"] == "Нужен вход по токену" and not english_words(body["detail"]), body


def test_a_flow_patch_is_told_in_russian(client):
    flow_id = client.post("/api/v1/flows", json=base_flow()).get_json()["id"]
    resp = client.patch(f"/api/v1/flows/{flow_id}", json={"enabled": "yes", "colour": 1}, headers=RU)
    said = messages(assert_problem(resp, 422, ["/enabled", "/colour"]))
    assert said["/enabled"] == "Статус: нужно «да» или «нет» (true или false)"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs?limit=0&status=bogus",
        "/api/v1/suppressions?limit=x&channel=fax",
        "/api/v1/flows/nope/export",
    ],
)
def test_queries_and_look_ups_are_told_in_russian(client, path):
    from tests.engine.test_validation_messages import english_words

    body = client.get(path, headers=RU).get_json()
    for text in [body["title"], body["detail"], *(e["message"] for e in body["errors"])]:
        assert not english_words(text), (text, body)


def test_a_bilingual_message_loses_its_english_aside_in_russian_only(client):
    bad = {"email": "not-an-address", "channel": "fax"}
    ru = messages(assert_problem(client.post("/api/v1/suppressions", json=bad, headers=RU), 422))
    en = messages(
        assert_problem(client.post("/api/v1/suppressions", json=bad, headers={"Accept-Language": "en"}), 422)
    )
    assert ru["/email"] == "это не email: 'not-an-address'" and ru["/channel"].startswith(
        "канал — одно из email"
    )
    assert "(not an e-mail address)" in en["/email"]  # the stored bilingual text, as it was


# ---- the last English problems (issue #18): every module's error paths, asked in Russian ----------


def said_in_russian(resp, status: int, paths: list[str] = ()) -> dict:
    """A problem whose title, detail and every message are Russian: Cyrillic, and no English word
    besides values, identifiers and the UI's titles (the validator walk's checker)."""
    from tests.engine.test_validation_messages import english_words

    body = assert_problem(resp, status, paths)
    assert resp.headers["Content-Language"] == "ru"
    for text in [body["title"], body["detail"], *(e["message"] for e in body["errors"])]:
        assert re.search("[а-яё]", text, re.IGNORECASE) and not english_words(text), (text, body)
    return body


def test_a_failure_alert_s_connection_is_told_in_russian(client):
    doc = {**base_flow(), "settings": {"alert": {"connection": "gone", "failure_share": 0.5}}}
    body = said_in_russian(
        client.post("/api/v1/flows", json=doc, headers=RU), 422, ["/settings/alert/connection"]
    )
    assert messages(body)["/settings/alert/connection"].startswith(
        "Оповещение об ошибках: подключения «gone» нет"
    )
    english = client.post("/api/v1/flows", json=doc, headers={"Accept-Language": "en"}).get_json()
    assert messages(english)["/settings/alert/connection"] == "no connection 'gone'"


def test_a_test_message_s_problems_are_told_in_russian(client, fake_smtp):
    from tests.api.test_dry_run_holds import email_flow

    flow_id = client.post("/api/v1/flows", json=base_flow()).get_json()["id"]
    mail_id = client.post("/api/v1/flows", json=email_flow(fake_smtp)).get_json()["id"]

    def send(fid, node, body):
        return client.post(f"/api/v1/flows/{fid}/nodes/{node}/send-test", json=body, headers=RU)

    said_in_russian(send(flow_id, "nope", {}), 404)
    said_in_russian(send(flow_id, "start", {}), 422, ["/node_id"])
    said_in_russian(send(flow_id, "slack", {"recipient": 5}), 422, ["/recipient"])
    body = said_in_russian(
        send(mail_id, "mail", {"recipient": {"email": "не адрес"}}), 422, ["/recipient/email"]
    )
    assert "«не адрес»" in messages(body)["/recipient/email"]


def test_record_look_ups_are_told_in_russian(client):
    for path in ("/api/v1/orders/nope", "/api/v1/visits/nope", "/api/v1/clients/nope"):
        said_in_russian(client.get(path, headers=RU), 404)
    resp = client.get("/api/v1/clients/nope?limit=0&q=" + "я" * 201, headers=RU)
    said = messages(said_in_russian(resp, 422, ["/limit", "/q"]))
    assert said["/limit"] == "Нужно целое число от 1 до 100, а не «0»"


def test_the_list_import_and_bulk_switch_are_told_in_russian(client):
    said_in_russian(
        client.get("/api/v1/flows?status=bogus&q=" + "я" * 201, headers=RU), 422, ["/status", "/q"]
    )
    said_in_russian(client.post("/api/v1/flows/nope/duplicate", headers=RU), 404)
    bad = {"ids": [5], "enabled": "yes", "extra": 1}
    said_in_russian(
        client.post("/api/v1/flows/bulk", json=bad, headers=RU), 422, ["/ids/0", "/enabled", "/extra"]
    )
    unknown = {"ids": ["nope"], "enabled": True}
    said_in_russian(client.post("/api/v1/flows/bulk", json=unknown, headers=RU), 422, ["/ids/0"])
    flow = client.post("/api/v1/flows", json=base_flow()).get_json()
    exported = client.get(f"/api/v1/flows/{flow['id']}/export").get_json()
    said_in_russian(client.post("/api/v1/flows/import?on_conflict=bad", json=exported, headers=RU), 422)
    said_in_russian(client.post("/api/v1/flows/import", json=exported, headers=RU), 409, ["/id"])
    copy_id = client.post(
        "/api/v1/flows/import?on_conflict=copy", json={**exported, "id": "other"}
    ).get_json()
    copy_id = copy_id["flows"][0]["id"]  # its webhook secret is still to fill in: it cannot be enabled
    blocked = client.post("/api/v1/flows/bulk", json={"ids": [copy_id], "enabled": True}, headers=RU)
    said = messages(said_in_russian(blocked, 409, ["/ids/0"]))["/ids/0"]
    assert said.startswith("«Крупный заказ → Slack (копия)»: ") and "секрет" in said.lower()


def test_versions_are_told_in_russian(client):
    flow_id = client.post("/api/v1/flows", json=base_flow()).get_json()["id"]
    base = f"/api/v1/flows/{flow_id}"
    said_in_russian(client.get("/api/v1/flows/nope/versions", headers=RU), 404)
    said_in_russian(client.get(f"{base}/versions?limit=0", headers=RU), 422, ["/limit"])
    said_in_russian(client.get(f"{base}/versions/99", headers=RU), 404)
    said_in_russian(client.get(f"{base}/diff", headers=RU), 422, ["/from"])
    body = said_in_russian(client.post(f"{base}/versions/1/restore", headers=RU), 409)
    assert body["detail"] == "Версия 1 — это текущее состояние сценария: восстанавливать нечего"


def test_a_site_form_s_body_problems_are_told_in_russian(client, anon):
    key = client.post("/api/v1/hooks", json={"name": "Заявка"}).get_json()["key"]
    path = f"/api/v1/hooks/{key}"
    cases = [
        ({"data": b"x", "content_type": "text/plain"}, 415, []),
        ({"data": b"a=1", "content_type": "application/x-www-form-urlencoded; charset=klingon"}, 415, []),
        ({"data": b"a=1", "content_type": "multipart/form-data"}, 400, []),
        ({"data": b"--b\r\nbroken", "content_type": "multipart/form-data; boundary=b"}, 400, ["/"]),
        ({"data": b"[]", "content_type": "application/json"}, 422, ["/"]),
        (
            {"data": b"&".join([b"a=1"] * 501), "content_type": "application/x-www-form-urlencoded"},
            422,
            ["/"],
        ),
        (
            {"data": b"k" * 201 + b"=1", "content_type": "application/x-www-form-urlencoded"},
            422,
            ["/" + "k" * 201],
        ),
        ({"data": b"a=%FF%FE", "content_type": "application/x-www-form-urlencoded"}, 422, ["/a"]),
    ]
    for kw, status, paths in cases:
        said_in_russian(anon.post(path, headers=RU, **kw), status, paths)


def test_text_a_database_cannot_store_is_told_in_russian(client):
    deep = b"[" * 40 + b"]" * 40
    said_in_russian(client.post("/api/v1/flows", data=deep, content_type="application/json", headers=RU), 400)
    nul = {"id": "1", "name": "a\u0000", "data": {"k\u0000": 1}}
    said_in_russian(client.post("/api/v1/events", json=nul, headers=RU), 422, ["/name", "/data/k\u0000"])
    lone = b'{"id": "1", "name": "\\ud800"}'
    resp = client.post("/api/v1/events", data=lone, content_type="application/json", headers=RU)
    assert "одиночный суррогат «U+D800»" in messages(said_in_russian(resp, 422, ["/name"]))["/name"]
    said_in_russian(client.get("/api/v1/flows/%FF", headers=RU), 422, ["/"])
    said_in_russian(client.get("/api/v1/runs?recipient=%00", headers=RU), 422, ["/recipient"])


def test_token_scopes_a_token_revoking_itself_and_a_forged_unsubscribe_link_are_told_in_russian(app, anon):
    from plugin.api.auth import create_token

    with app.app_context():
        admin = create_token("ui", "admin")
        reader = create_token("dashboard", "read")
    scoped = said_in_russian(
        anon.get("/api/v1/tokens", headers={"Authorization": f"Bearer {reader}", **RU}), 403
    )
    assert scoped["title"] == "Токену не хватает прав" and "права «read»" in scoped["detail"]
    own = {"Authorization": f"Bearer {admin}", **RU}
    own_id = next(
        t["id"] for t in anon.get("/api/v1/tokens", headers=own).get_json()["tokens"] if t["current"]
    )
    body = said_in_russian(anon.delete(f"/api/v1/tokens/{own_id}", headers=own), 409)
    assert f"«python server.py token revoke {own_id}»" in body["detail"]
    forged = anon.post("/api/v1/unsubscribe/garbage.garbage", headers={"Accept": "application/json", **RU})
    assert said_in_russian(forged, 403)["title"] == "Недействительная ссылка для отписки"
