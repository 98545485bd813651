"""Request limits: 413 above the body limit, strict JSON (400), and the shared per-token ingestion rate."""

from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import TOKEN, LiveServer, app_env, free_port, make_app

JSON_ENDPOINTS = [
    ("post", "/api/v1/flows"),
    ("post", "/api/v1/flows/import"),
    ("post", "/api/v1/flows/test"),
    ("post", "/api/v1/presets"),
    ("post", "/api/v1/nodes/condition.visit_city/execute"),
    ("post", "/api/v1/visits"),
    ("put", "/api/v1/clients/c1"),
    ("put", "/api/v1/orders/o1"),
    ("post", "/api/v1/events"),
    ("post", "/api/v1/batch"),
]

BAD_JSON = {
    "nan": b'{"name": "x", "data": {"a": NaN}}',
    "infinity": b'{"name": "x", "data": {"a": Infinity}}',
    "minus_infinity": b'{"name": "x", "data": {"a": -Infinity}}',
    "overflowing_float": b'{"name": "x", "data": {"a": 1e999}}',
    "depth_33": b'{"name": "x", "data": ' + b'{"a": ' * 32 + b"1" + b"}" * 32 + b"}",
    "depth_bomb": b"[" * 100_000 + b"]" * 100_000,
    "truncated": b'{"name": "x", "data": {',
    "not_utf8_outside_a_string": b'{"name": "x", \xff\xfe}',
}


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    return body


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
@pytest.mark.parametrize("raw", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_malformed_or_non_standard_json_is_a_400_problem_on_every_endpoint(api, method, url, raw):
    response = getattr(api, method)(url, data=raw, content_type="application/json")
    _problem(response, 400)


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
def test_bytes_that_are_not_utf8_in_a_string_are_a_422_naming_it_on_every_endpoint(api, method, url):
    response = getattr(api, method)(url, data=b'{"name": "\xff\xfe"}', content_type="application/json")
    assert [e["path"] for e in _problem(response, 422)["errors"]] == ["/name"]


def test_json_that_is_merely_deep_enough_is_accepted(api):
    data = {"a": 1}
    for _ in range(28):
        data = {"a": data}
    response = api.post("/api/v1/events", json={"name": "deep", "data": data})
    assert response.status_code == 202, response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "url"), JSON_ENDPOINTS)
def test_a_10_mb_body_is_a_413_problem(api, method, url):
    body = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    _problem(getattr(api, method)(url, data=body, content_type="application/json"), 413)


def test_a_10_mb_body_is_a_413_problem_over_real_http(module_app):
    server = LiveServer(module_app).start()
    try:
        body = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
        for url in ("/api/v1/visits", "/api/v1/flows"):
            response = requests.post(
                server.url + url,
                data=body,
                timeout=30,
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            assert response.status_code == 413
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert response.json()["status"] == 413
    finally:
        server.stop()


def test_the_body_limit_is_configurable(tmp_path, module_redis_url):
    app = make_app(
        app_env(
            f"sqlite:///{tmp_path / 'a.db'}", module_redis_url, tmp_path / "d", AUTOMATION_MAX_BODY_BYTES=1000
        )
    )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    assert client.post("/api/v1/visits", json={"id": "v1", "referrer": "x" * 500}).status_code == 202
    _problem(client.post("/api/v1/visits", json={"id": "v2", "referrer": "x" * 2000}), 413)


# -- rate limit ----------------------------------------------------------------------------


@pytest.fixture
def limited_apps(tmp_path, redis_url):
    """Two API instances (two create_app()s, as two gunicorn workers or hosts) on one Redis."""
    env = app_env(
        f"sqlite:///{tmp_path / 'a.db'}",
        redis_url,
        tmp_path / "d",
        AUTOMATION_INGEST_RATE="0.5",
        AUTOMATION_INGEST_BURST="5",
    )
    apps = [make_app(env), make_app(env)]
    clients = []
    for app in apps:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
        clients.append(client)
    return apps, clients


def test_two_api_instances_share_one_ingestion_budget_per_token(limited_apps):
    _apps, (a, b) = limited_apps
    answers_a = [a.post("/api/v1/visits", json={"id": f"a{i}"}).status_code for i in range(5)]
    answers_b = [b.post("/api/v1/visits", json={"id": f"b{i}"}) for i in range(3)]
    assert answers_a == [202] * 5  # the burst
    for response in answers_b:  # the other instance sees the same, spent budget
        body = _problem(response, 429)
        assert 1 <= int(response.headers["Retry-After"]) <= 2
        assert "try again" in body["detail"]
    time.sleep(2.1)  # 0.5 per second: one request is free again, on either instance
    assert b.post("/api/v1/visits", json={"id": "b-later"}).status_code == 202
    assert a.post("/api/v1/visits", json={"id": "a-later"}).status_code == 429


def test_the_budget_is_per_token_and_only_for_ingestion(limited_apps):
    from plugin.api.auth import create_token

    (app, _), (a, _b) = limited_apps
    for i in range(5):
        a.post("/api/v1/events", json={"name": "spend", "id": f"e{i}"})
    assert a.put("/api/v1/orders/o1", json={"price": 1}).status_code == 429
    assert a.get("/api/v1/flows").status_code == 200  # reading and editing are not limited
    assert a.get("/api/v1/runs").status_code == 200
    with app.app_context():
        other = create_token("second integration")
    response = a.put("/api/v1/orders/o1", json={"price": 1}, headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 202


def test_a_burst_of_the_default_budget_is_generous(api):
    answers = [api.post("/api/v1/visits", json={"id": f"burst{i}"}).status_code for i in range(300)]
    assert set(answers) == {202}


def test_ingestion_is_accepted_when_redis_is_unreachable(tmp_path):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(app_env(f"sqlite:///{tmp_path / 'a.db'}", dead_redis, tmp_path / "d"))
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    response = client.put("/api/v1/orders/o1", json={"price": 10})
    assert response.status_code == 202, response.get_data(as_text=True)  # the sweeper dispatches it later


def test_an_unreachable_database_is_a_503_problem_not_a_500(tmp_path, module_redis_url, monkeypatch):
    from plugin.api.app import create_app

    env = app_env(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere", module_redis_url, tmp_path / "d")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = create_app().test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    for response in (client.get("/api/v1/flows"), client.put("/api/v1/orders/o1", json={"price": 1})):
        body = _problem(response, 503)
        assert response.headers["Retry-After"] == "5"
        assert "try again" in body["detail"]
