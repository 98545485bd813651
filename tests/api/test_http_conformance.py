"""HTTP semantics on every route (issue #16): media types (415), required bodies (400), chunked
bodies over the limit (413) and ``Allow`` on OPTIONS and 405, checked by walking ``app.url_map``."""

from __future__ import annotations

import re
import socket

import pytest
from sqlalchemy import func, select

from plugin.storage.models import Client, Event, Order
from tests.conftest import TOKEN, LiveServer, app_env, make_app

BODY = b'{"price": 5, "status": "New"}'
NOT_JSON = ["text/plain", None, "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "some-id", rule)


def _body_operations(app, client) -> list[tuple[str, str, set[str]]]:
    """(method, concrete path, documented media types) of every operation whose OpenAPI document
    takes a request body."""
    document = client.get("/api/v1/openapi.json").get_json()
    out = []
    for rule in app.url_map.iter_rules():
        item = document["paths"].get(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), {})
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH"}):
            body = item.get(method.lower(), {}).get("requestBody")
            if body:
                out.append((method, _concrete(rule.rule), set(body["content"])))
    return out


def _counts(app) -> tuple[int, int, int]:
    from plugin.api.extensions import db

    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Order, Client, Event))


def test_an_upsert_in_text_plain_is_415_and_stores_and_fires_nothing(app, client):
    for path in ("/api/v1/orders/o-1", "/api/v1/clients/c-1"):
        response = client.put(path, data=BODY, headers={"Content-Type": "text/plain"})
        assert response.status_code == 415, response.data
        assert response.mimetype == "application/problem+json"
        problem = response.get_json()
        assert problem["status"] == 415 and "text/plain" in problem["detail"]
        assert problem["errors"] == [{"path": "/", "message": "the body must be sent as application/json"}]
    assert _counts(app) == (0, 0, 0)
    response = client.put("/api/v1/orders/o-1", data=BODY, headers={"Content-Type": "application/json"})
    assert response.status_code == 202 and response.get_json()["created"] is True
    assert _counts(app) == (1, 0, 1)


def test_every_body_route_refuses_a_body_that_is_not_json(app, client):
    operations = _body_operations(app, client)
    assert len(operations) >= 14
    wrong = []
    for method, path, documented in operations:
        for content_type in NOT_JSON:
            if content_type and content_type.split(";")[0] in documented:
                continue  # a site form's post takes forms (and is 404 for an unknown key)
            headers = {"Content-Type": content_type} if content_type else {}
            response = client.open(path, method=method, data=BODY, headers=headers)
            if response.status_code != 415 or response.mimetype != "application/problem+json":
                wrong.append((method, path, content_type, response.status_code))
    assert wrong == []
    assert _counts(app) == (0, 0, 0)


def test_json_with_a_suffix_is_json_and_a_missing_required_body_is_400(app, client):
    response = client.put(
        "/api/v1/orders/o-2", data=BODY, headers={"Content-Type": "application/vnd.api+json; charset=utf-8"}
    )
    assert response.status_code == 202, response.data
    for path in ("/api/v1/orders/o-3", "/api/v1/clients/c-3"):
        response = client.put(path, data=b"", headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.get_json()["errors"] == [{"path": "/", "message": "the body is empty"}]
    # an optional body may be absent whatever the Content-Type
    assert client.post("/api/v1/flows/nope/test", headers={"Content-Type": "text/plain"}).status_code == 404
    assert _counts(app)[0] == 1


def test_blanks_alone_are_not_an_absent_body_and_an_empty_status_is_not_a_status(client):
    """schemathesis' 10-minute run: a body of "\\r" ran a dry run as if no body was sent, and
    ``/runs?status=`` listed every run."""
    flow = {
        "format": "automation-flow/1",
        "name": "blank body",
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "hook", "type": "action.webhook", "params": {"url": "https://example.com/h"}},
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }
    created = client.post("/api/v1/flows", json=flow)
    assert created.status_code == 201, created.data
    path = f"/api/v1/flows/{created.get_json()['id']}/test"
    for blank in (b"\r", b" ", b"\n\t"):
        response = client.post(path, data=blank, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.mimetype == "application/problem+json", blank
    assert client.post(path, data=b"", headers={"Content-Type": "application/json"}).status_code == 200
    response = client.get("/api/v1/runs?status=")
    assert response.status_code == 422 and [e["path"] for e in response.get_json()["errors"]] == ["/status"]


def _allowed(app, rule) -> set[str]:
    return set().union(*(r.methods for r in app.url_map.iter_rules() if r.rule == rule.rule))


def test_options_and_405_list_the_methods_of_the_route_serving_the_path(app, client):
    rules = list(app.url_map.iter_rules())
    assert len(rules) >= 25
    for rule in rules:
        path, expected = _concrete(rule.rule), _allowed(app, rule)
        options = client.options(path)
        assert options.status_code == 200, path
        assert set(options.headers["Allow"].split(", ")) == expected, path
        trace = client.open(path, method="TRACE")
        assert trace.status_code == 405, path
        assert trace.mimetype == "application/problem+json"
        assert set(trace.headers["Allow"].split(", ")) == expected, path
    # a static route is not the dynamic one beside it, though both match the path
    assert client.options("/api/v1/flows/test").headers["Allow"] == "OPTIONS, POST"
    assert client.open("/api/v1/flows/import", method="TRACE").headers["Allow"] == "OPTIONS, POST"


def _chunked(port: int, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 1000]), body[i : i + 1000]) for i in range(0, len(body), 1000)
    )
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + chunks + b"0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split(b" ", 2)[1]), rest


@pytest.fixture
def small_limit_server(database_url, redis_url, tmp_path):
    app = make_app(app_env(database_url, redis_url, tmp_path / "data", AUTOMATION_MAX_BODY_BYTES=4096))
    server = LiveServer(app).start()
    yield server
    server.stop()
    from plugin.api.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_chunked_body_over_the_limit_is_413_on_the_fast_path_and_in_flask(small_limit_server):
    port = small_limit_server.port
    big = b'{"id": "big", "name": "signup", "data": {"pad": "' + b"x" * 6000 + b'"}}'
    for method, path in [
        ("POST", "/api/v1/events"),
        ("POST", "/api/v1/batch"),
        ("PUT", "/api/v1/orders/big"),
        ("POST", "/api/v1/flows"),
    ]:
        status, rest = _chunked(port, method, path, big)
        assert status == 413, (path, rest[-300:])
        assert b"application/problem+json" in rest
    status, rest = _chunked(port, "POST", "/api/v1/events", b'{"id": "small", "name": "signup"}')
    assert status == 202, rest[-300:]
