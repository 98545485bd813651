"""The suppression list over HTTP (SPEC §11): add (normalised, without duplicates), list with cursor
paging and search, delete, CSV import (text/csv and multipart) with every bad row by its line, scopes."""

from __future__ import annotations

import io

import pytest

from plugin.api.auth import create_token


def _add(client, **body):
    return client.post("/api/v1/suppressions", json=body)


def test_an_email_and_a_phone_are_stored_normalised_with_source_api(client):
    resp = _add(client, email="  Ivan.Petrov@Example.RU ", channel="email", reason="просил не писать")
    assert resp.status_code == 201, resp.text
    entry = resp.get_json()
    assert entry["email"] == "ivan.petrov@example.ru" and "phone" not in entry
    assert (entry["channel"], entry["reason"], entry["source"]) == ("email", "просил не писать", "api")
    phone = _add(client, phone="8 (912) 345-67-89").get_json()
    assert phone["phone"] == "+79123456789" and phone["channel"] == "all" and phone["reason"] == ""

    again = _add(client, email="IVAN.PETROV@example.ru", channel="email")  # the same entry
    assert again.status_code == 200 and again.get_json()["id"] == entry["id"]
    other = _add(client, email="ivan.petrov@example.ru", channel="sms")  # another channel: another entry
    assert other.status_code == 201

    listed = client.get("/api/v1/suppressions").get_json()
    assert [s["id"] for s in listed["suppressions"]] == [other.get_json()["id"], phone["id"], entry["id"]]
    assert listed["next_cursor"] is None


def test_bad_entries_are_422_naming_every_problem(client):
    resp = _add(client, email="not-an-address", channel="fax", reason=5, extra=1)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    paths = {e["path"] for e in resp.get_json()["errors"]}
    assert paths == {"/email", "/channel", "/reason", "/extra"}
    assert {e["path"] for e in _add(client, channel="email").get_json()["errors"]} == {"/email"}
    both = _add(client, email="a@b.ru", phone="+79123456789").get_json()["errors"]
    assert [e["path"] for e in both] == ["/phone"]
    assert _add(client, phone="12").get_json()["errors"][0]["path"] == "/phone"
    assert client.post("/api/v1/suppressions", json=["a@b.ru"]).status_code == 422
    assert client.get("/api/v1/suppressions").get_json()["suppressions"] == []


def test_paging_search_and_delete(client):
    ids = [_add(client, email=f"user{i}@example.ru").get_json()["id"] for i in range(5)]
    first = client.get("/api/v1/suppressions?limit=2").get_json()
    second = client.get(f"/api/v1/suppressions?limit=2&cursor={first['next_cursor']}").get_json()
    third = client.get(f"/api/v1/suppressions?limit=2&cursor={second['next_cursor']}").get_json()
    seen = [s["id"] for page in (first, second, third) for s in page["suppressions"]]
    assert seen == ids[::-1] and third["next_cursor"] is None
    found = client.get("/api/v1/suppressions?q=USER3").get_json()["suppressions"]
    assert [s["email"] for s in found] == ["user3@example.ru"]
    assert client.get("/api/v1/suppressions?cursor=garbage").status_code == 400
    bad = client.get("/api/v1/suppressions?limit=0&channel=fax").get_json()["errors"]
    assert {e["path"] for e in bad} == {"/limit", "/channel"}

    assert client.delete(f"/api/v1/suppressions/{ids[0]}").status_code == 204
    assert client.delete(f"/api/v1/suppressions/{ids[0]}").status_code == 404
    assert len(client.get("/api/v1/suppressions").get_json()["suppressions"]) == 4


CSV = (
    "email;phone;channel;reason\n"
    "Anna@Example.ru;;email;жалоба\n"
    ";+7 912 000-00-01;sms;\n"
    "broken-address;;;\n"
    "anna@example.ru;;email;повтор\n"
    ";;all;\n"
    "\n"
    "bob@example.ru;89120000002;все;оба адреса\n"
    "carol@example.ru;;fax;\n"
)


def test_a_csv_import_counts_and_lists_every_bad_row_by_line(client):
    _add(client, email="bob@example.ru", channel="all")  # already listed: a duplicate
    resp = client.post("/api/v1/suppressions/import", data=CSV.encode(), content_type="text/csv")
    assert resp.status_code == 200, resp.text
    answer = resp.get_json()
    assert (answer["imported"], answer["duplicates"]) == (3, 2)
    assert [(e["line"], e["path"]) for e in answer["errors"]] == [
        (4, "/line/4/email"),
        (6, "/line/6"),
        (9, "/line/9/channel"),
    ]
    rows = client.get("/api/v1/suppressions?limit=50").get_json()["suppressions"]
    imported = {(s.get("email") or s.get("phone"), s["channel"], s["source"]) for s in rows}
    assert imported == {
        ("anna@example.ru", "email", "import"),
        ("+79120000001", "sms", "import"),
        ("+79120000002", "all", "import"),
        ("bob@example.ru", "all", "api"),
    }


def test_a_multipart_upload_in_windows_1251_with_russian_headers(client):
    text = "Почта,Причина\nivan@example.ru,Отписался по телефону\n"
    data = {"file": (io.BytesIO(text.encode("cp1251")), "list.csv", "text/csv")}
    resp = client.post("/api/v1/suppressions/import", data=data, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.text
    assert resp.get_json() == {"imported": 1, "duplicates": 0, "errors": []}
    [row] = client.get("/api/v1/suppressions").get_json()["suppressions"]
    assert (row["email"], row["channel"], row["reason"]) == (
        "ivan@example.ru",
        "all",
        "Отписался по телефону",
    )


@pytest.mark.parametrize(
    "body",
    ["", "name,city\nИван,Москва\n", "email\nnope\n;;\n", "email\n", "\U000db6ff\x19\x07Ç\r`\U000b2b29%<Rs"],
    ids=["empty", "no-address-column", "only-bad-rows", "header-only", "bare-cr-in-a-field"],
)
def test_a_file_with_nothing_valid_is_422_with_its_lines(client, body):
    resp = client.post("/api/v1/suppressions/import", data=body.encode(), content_type="text/csv")
    if body == "":
        assert resp.status_code == 400  # an empty body, as every route with a required body
        return
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    errors = resp.get_json()["errors"]
    assert errors and all(isinstance(e["line"], int) and e["message"] for e in errors)
    assert client.get("/api/v1/suppressions").get_json()["suppressions"] == []


def test_an_import_in_another_media_type_is_415(client):
    resp = client.post("/api/v1/suppressions/import", json={"email": "a@b.ru"})
    assert resp.status_code == 415


def test_a_read_token_lists_but_cannot_change_the_list(app, anon):
    with app.app_context():
        read = create_token("reader", "read")
    headers = {"Authorization": f"Bearer {read}"}
    assert anon.get("/api/v1/suppressions", headers=headers).status_code == 200
    assert anon.get("/api/v1/statuses", headers=headers).status_code == 200
    assert anon.post("/api/v1/suppressions", json={"email": "a@b.ru"}, headers=headers).status_code == 403
    resp = anon.post(
        "/api/v1/suppressions/import", data=b"email\na@b.ru\n", headers=headers, content_type="text/csv"
    )
    assert resp.status_code == 403
    assert anon.delete("/api/v1/suppressions/x", headers=headers).status_code == 403
