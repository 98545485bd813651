"""Site-form sources (SPEC §11): the admin routes, and the public POST /api/v1/hooks/{key} that a
Tilda, Bitrix24 or plain HTML form posts to without a token — JSON, urlencoded and multipart."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import text

from plugin.api.extensions import db
from plugin.storage.models import Client, CustomEvent, Event
from tests.conftest import make_app

TILDA = {
    "Name": "Иван Петров",
    "Phone": "+7 (912) 345-67-89",
    "Email": "Ivan@Example.com",
    "Комментарий": "перезвоните после 18:00",
    "tranid": "1234567:8901234567",
    "formid": "form123456789",
}


def _source(client, name: str = "form_submit") -> dict:
    resp = client.post("/api/v1/hooks", json={"name": name})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def _path(source: dict) -> str:
    return f"/api/v1/hooks/{source['key']}"


def _events(app) -> list[CustomEvent]:
    with app.app_context():
        rows = db.session.query(CustomEvent).order_by(CustomEvent.created_at).all()
        db.session.expunge_all()
        return rows


def _client(app, external_id: str) -> dict:
    with app.app_context():
        row = db.session.get(Client, external_id)
        return {k: getattr(row, k) for k in ("external_id", "name", "phone", "email")}


def test_a_source_shows_its_url_again_and_stores_the_key_only_hashed_and_sealed(app, client, database_url):
    created = _source(client, "Заявка с сайта")
    assert set(created) == {"id", "name", "key", "url", "created_at", "last_used_at"}
    assert created["name"] == "Заявка с сайта" and created["key"].startswith("hk_")
    assert created["url"] == f"http://localhost/api/v1/hooks/{created['key']}"
    listed = client.get("/api/v1/hooks").get_json()["hooks"]
    assert listed == [created]  # the same key and URL, again
    with app.app_context():
        row = dict(db.session.execute(text("SELECT * FROM hook_sources")).mappings().one())
    assert all(created["key"] not in str(value) for value in row.values())
    if database_url.startswith("sqlite:///"):
        db_file = Path(database_url[len("sqlite:///") :])
        for part in db_file.parent.glob(db_file.name + "*"):
            assert created["key"].encode() not in part.read_bytes(), part.name


def test_the_admin_routes_need_a_token_and_the_form_route_does_not(client, anon):
    source = _source(client)
    assert anon.get("/api/v1/hooks").status_code == 401
    assert anon.post("/api/v1/hooks", json={"name": "x"}).status_code == 401
    assert anon.delete(f"/api/v1/hooks/{source['id']}").status_code == 401
    assert anon.post(_path(source), data={"a": "1"}).status_code == 200


def test_a_name_is_required_and_checked(client):
    for body, paths in [
        ({}, ["/name"]),
        ({"name": ""}, ["/name"]),
        ({"name": "x" * 201}, ["/name"]),
        ({"name": 5, "key": "mine"}, ["/key", "/name"]),
        ({"name": "a\x00b"}, ["/name"]),
    ]:
        resp = client.post("/api/v1/hooks", json=body)
        assert resp.status_code == 422 and resp.mimetype == "application/problem+json", body
        assert sorted(e["path"] for e in resp.get_json()["errors"]) == paths, resp.get_json()


def test_tildas_test_request_answers_ok_and_stores_nothing(app, client, anon):
    source = _source(client)
    resp = anon.post(_path(source), data="test=test", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "ok"
    assert resp.mimetype == "text/plain" and "Location" not in resp.headers
    assert _events(app) == []
    assert client.get("/api/v1/hooks").get_json()["hooks"][0]["last_used_at"] is not None


def test_a_tilda_post_stores_a_custom_event_with_the_client_once(app, client, anon):
    source = _source(client, "tilda_lead")
    resp = anon.post(_path(source), data=TILDA)  # application/x-www-form-urlencoded
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "ok", resp.get_data(as_text=True)
    (event,) = _events(app)
    assert event.name == "tilda_lead" and event.data == TILDA
    assert _client(app, event.client_id) == {
        "external_id": event.client_id,
        "name": "Иван Петров",
        "phone": "+79123456789",
        "email": "Ivan@Example.com",
    }
    # Tilda retries a submission with the same tranid: it fires once
    assert anon.post(_path(source), data=TILDA).status_code == 200
    assert len(_events(app)) == 1
    with app.app_context():
        assert db.session.query(Event).filter(Event.trigger == "custom_event").count() == 1


def test_a_multipart_post_keeps_repeated_fields_as_lists_and_leaves_files_out(app, client, anon):
    source = _source(client)
    resp = anon.post(
        _path(source),
        data={
            "телефон": "8 912 345-67-89",
            "имя": "Мария",
            "interest": ["SEO", "Контекст"],
            "agree[]": "yes",
            "cv": (io.BytesIO(b"%PDF-1.4 secret"), "cv.pdf"),
        },
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json() == {"accepted": True, "created": True, "events": 1, "ignored_files": ["cv"]}
    (event,) = _events(app)
    assert event.data == {
        "телефон": "8 912 345-67-89",
        "имя": "Мария",
        "interest": ["SEO", "Контекст"],
        "agree": ["yes"],
    }
    assert _client(app, event.client_id)["phone"] == "+79123456789"
    assert _client(app, event.client_id)["name"] == "Мария"


def test_a_json_post_stores_its_object_as_the_data(app, client, anon):
    source = _source(client, "quiz")
    body = {"email": "a@b.ru", "answers": {"q1": 3, "q2": ["x", "y"]}, "roistat_visit": "12345"}
    resp = anon.post(_path(source), json=body)
    assert resp.status_code == 200 and resp.get_json()["created"] is True
    (event,) = _events(app)
    assert (event.name, event.data, event.visit_id) == ("quiz", body, "12345")
    assert _client(app, event.client_id)["email"] == "a@b.ru"
    resp = anon.post(_path(source), json=["not", "an", "object"])
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"


def test_a_known_client_is_found_by_email_or_phone_and_only_its_empty_fields_are_filled(app, client, anon):
    assert (
        client.put("/api/v1/clients/crm-7", json={"name": "Из CRM", "email": "known@example.com"}).status_code
        == 202
    )
    assert client.put("/api/v1/clients/crm-8", json={"phone": "+79990001122"}).status_code == 202
    source = _source(client)
    anon.post(
        _path(source), data={"E-mail": "KNOWN@example.com", "Your name": "Другое", "tel": "+7 999 111-22-33"}
    )
    anon.post(_path(source), data={"Телефон": "8 (999) 000-11-22", "Имя": "Пётр"})
    anon.post(_path(source), data={"comment": "no contact at all"})
    first, second, third = _events(app)
    assert _client(app, first.client_id) == {
        "external_id": "crm-7",
        "name": "Из CRM",  # a CRM's name is not overwritten
        "phone": "+79991112233",  # the empty phone is filled
        "email": "known@example.com",
    }
    assert second.client_id == "crm-8" and _client(app, "crm-8")["name"] == "Пётр"
    assert third.client_id is None


def test_unknown_and_revoked_keys_are_the_same_404(client, anon):
    source = _source(client)
    assert client.delete(f"/api/v1/hooks/{source['id']}").status_code == 204
    assert client.get("/api/v1/hooks").get_json()["hooks"] == []
    revoked = anon.post(_path(source), data={"a": "1"})
    unknown = anon.post("/api/v1/hooks/hk_nope", data={"a": "1"})
    for resp in (revoked, unknown):
        assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    strip = lambda r: {k: v for k, v in r.get_json().items() if k != "instance"}
    assert strip(revoked) == strip(unknown)
    assert client.delete(f"/api/v1/hooks/{source['id']}").status_code == 404


def test_bad_input_is_a_4xx_problem_naming_the_field(client, anon):
    path = _path(_source(client))
    form = "application/x-www-form-urlencoded"
    cases = [
        ({"data": b"name=%FF&ok=1", "content_type": form}, 422, ["/name"]),
        ({"data": b"a=x%00y", "content_type": form}, 422, ["/a"]),
        ({"data": b"caf\xe9=1", "content_type": form}, 422, ["/caf\ufffd"]),
        ({"data": b'{"a": "\\ud800"}', "content_type": "application/json"}, 422, ["/a"]),
        ({"data": b"{", "content_type": "application/json"}, 400, ["/"]),
        ({"data": b"hello", "content_type": "text/plain"}, 415, ["/"]),
        ({"data": b"--x\r\nbroken", "content_type": "multipart/form-data; boundary=x"}, 400, ["/"]),
        ({"data": b"a=1", "content_type": "multipart/form-data"}, 400, []),
        ({"data": "&".join(f"f{i}=1" for i in range(600)), "content_type": form}, 422, ["/"]),
    ]
    for kwargs, status, paths in cases:
        resp = anon.post(path, **kwargs)
        assert resp.status_code == status and resp.mimetype == "application/problem+json", (kwargs, resp.data)
        assert [e["path"] for e in resp.get_json()["errors"]] == paths, (kwargs, resp.get_json())


def test_an_oversize_body_is_413(env, client):
    app = make_app({**env, "AUTOMATION_MAX_BODY_BYTES": "2000"})
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = client.environ_base["HTTP_AUTHORIZATION"]
    path = _path(_source(api))
    for content_type in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        resp = app.test_client().post(path, data=b"a=" + b"x" * 5000, content_type=content_type)
        assert resp.status_code == 413 and resp.mimetype == "application/problem+json", content_type
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_posts_over_a_sources_rate_are_429_with_retry_after(env, client):
    app = make_app({**env, "AUTOMATION_HOOK_RATE": "0.001", "AUTOMATION_HOOK_BURST": "2"})
    admin = app.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = client.environ_base["HTTP_AUTHORIZATION"]
    first, other = _source(admin), _source(admin)
    anon = app.test_client()
    statuses = [anon.post(_path(first), data={"n": str(i)}).status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    resp = anon.post(_path(first), data={"n": "x"})
    assert resp.status_code == 429 and resp.mimetype == "application/problem+json"
    assert int(resp.headers["Retry-After"]) >= 1
    assert anon.post(_path(other), data={"n": "1"}).status_code == 200  # per source
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("accept", ["text/html,application/xhtml+xml,*/*;q=0.8", "*/*"])
def test_the_answer_has_no_location_and_a_browser_gets_a_page(client, anon, accept):
    resp = anon.post(_path(_source(client)), data={"a": "1"}, headers={"Accept": accept})
    assert resp.status_code == 200 and "Location" not in resp.headers
    if accept.startswith("text/html"):
        assert resp.mimetype == "text/html" and "Спасибо" in resp.get_data(as_text=True)
    else:
        assert resp.mimetype == "application/json"


def test_any_origin_may_post_to_a_form_route_and_only_there(client, anon):
    path = _path(_source(client))
    origin = {"Origin": "https://site.example"}
    assert anon.post(path, json={"a": 1}, headers=origin).headers["Access-Control-Allow-Origin"] == "*"
    preflight = anon.options(
        path,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    for resp in (
        client.get("/api/v1/hooks", headers=origin),
        client.post("/api/v1/hooks", json={"name": "x"}, headers=origin),
    ):
        assert not [k for k, _v in resp.headers.items() if k.lower().startswith("access-control-")]


def test_junk_to_a_real_key_is_never_a_500(client, anon):
    from tests.api.test_never_500 import JUNK, RAW

    path = _path(_source(client))
    attempts = [{"json": body} for body in JUNK] + [
        {"data": raw, "content_type": "application/json"} for raw in RAW
    ]
    attempts += [
        {"data": raw, "content_type": kind}
        for raw in [*RAW, b"a=%ED%A0%80", b"=&=&&", b"%", b"a[]=1&a=2&a[]=3"]
        for kind in (
            "application/x-www-form-urlencoded; charset=x-unknown",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=zz",
            "application/json; charset=utf-8",
        )
    ]
    for kwargs in attempts:
        resp = anon.post(path, **kwargs)
        assert resp.status_code < 500, (kwargs, resp.status_code)
        assert resp.status_code < 400 or resp.mimetype == "application/problem+json", kwargs


def test_secrets_rotate_reseals_the_keys_so_the_url_survives_the_old_key(app, client, env):
    import os
    import subprocess
    import sys

    from cryptography.fernet import Fernet

    from tests.conftest import ROOT

    source = _source(client)
    new_key = Fernet.generate_key().decode()
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "secrets", "rotate"],
        env={**os.environ, **env, "AUTOMATION_SECRET_KEY": f"{new_key},{env['AUTOMATION_SECRET_KEY']}"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and "1 site-form sources" in result.stdout, result.stderr
    rotated = make_app({**env, "AUTOMATION_SECRET_KEY": new_key})  # the old key dropped
    api = rotated.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = client.environ_base["HTTP_AUTHORIZATION"]
    assert api.get("/api/v1/hooks").get_json()["hooks"][0]["url"] == source["url"]
    # a key that no configured secret opens is shown as null, never as an error
    stale = make_app({**env, "AUTOMATION_SECRET_KEY": Fernet.generate_key().decode()}).test_client()
    listed = stale.get("/api/v1/hooks", headers={"Authorization": api.environ_base["HTTP_AUTHORIZATION"]})
    assert listed.status_code == 200 and listed.get_json()["hooks"][0]["key"] is None
    assert stale.post(_path(source), data={"a": "1"}).status_code == 200  # found by its hash all the same
    for each in (rotated, stale.application):
        with each.app_context():
            db.session.remove()
            db.engine.dispose()


def test_concurrent_first_posts_of_one_contact_make_one_client(app, client, live):
    import threading

    import requests

    url = _source(client)["url"].replace("http://localhost", live.url)
    barrier, answers = threading.Barrier(6), []

    def post(i: int) -> None:
        barrier.wait()
        answers.append(
            requests.post(url, data={"email": "same@example.com", "n": str(i)}, timeout=30).status_code
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 6
    assert len({e.client_id for e in _events(app)}) == 1 and len(_events(app)) == 6
    with app.app_context():
        assert db.session.query(Client).count() == 1
