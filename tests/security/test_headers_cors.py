"""Security headers on every response (CSP, frame-ancestors, nosniff) and CORS closed by default."""

from __future__ import annotations

import pytest

from plugin.api.app import UI_DIST

EVIL = "https://evil.example"


def _paths(app) -> list[str]:
    paths = [
        "/",
        "/favicon.svg",
        "/plugin.json",
        "/api/v1/health",
        "/api/v1/openapi.json",
        "/api/v1/flows",
        "/api/v1/runs",
        "/api/v1/nodes",
        "/api/v1/does-not-exist",
        "/no-such-page",
        "/metrics",
    ]
    assets = sorted((UI_DIST / "assets").glob("*")) if (UI_DIST / "assets").is_dir() else []
    paths += [f"/assets/{p.name}" for p in assets[:3]]
    return paths


def _check_headers(response, path: str) -> None:
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("X-Frame-Options") == "DENY", path
    assert headers.get("Referrer-Policy") == "no-referrer", path
    csp = {d.split()[0]: d.split()[1:] for d in headers["Content-Security-Policy"].split(";") if d.strip()}
    assert csp["frame-ancestors"] == ["'none'"], path
    assert csp["default-src"] == ["'self'"], path
    assert csp["script-src"] == ["'self'"], path  # no inline or eval'd script
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"], path


def test_every_response_carries_the_security_headers(module_app, api):
    for path in _paths(module_app):
        _check_headers(api.get(path, headers={"Origin": EVIL}), path)


def test_the_ui_page_carries_the_security_headers_built_or_not(module_app):
    response = module_app.test_client().get("/")
    assert response.status_code in (200, 503)
    assert response.mimetype == "text/html"
    _check_headers(response, "/")


def test_error_responses_carry_them_too(api):
    for response in (
        api.post("/api/v1/flows", data=b"{", content_type="application/json"),
        api.get("/api/v1/flows/nope"),
        api.delete("/api/v1/health"),
        api.get("/api/v1/flows", headers={"Authorization": "Bearer wrong"}),
    ):
        assert response.mimetype == "application/problem+json"
        _check_headers(response, response.request.path)


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_no_response_allows_a_foreign_origin(module_app, api, method):
    for path in _paths(module_app):
        response = getattr(api, method)(path, headers={"Origin": EVIL})
        cors = {k for k, _value in response.headers.items() if k.lower().startswith("access-control-")}
        assert not cors, (method, path, cors)


def test_a_preflight_gets_no_allow_headers(module_app, api):
    for path in [*_paths(module_app), "/api/v1/visits", "/api/v1/orders/1", "/api/v1/flows/x/test"]:
        response = api.options(
            path,
            headers={
                "Origin": EVIL,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        cors = {k for k, _value in response.headers.items() if k.lower().startswith("access-control-")}
        assert not cors, (path, cors)
        assert response.status_code < 500


def test_a_preflight_does_not_reach_a_view_or_change_anything(api):
    before = api.get("/api/v1/flows").get_json()["flows"]
    response = api.options("/api/v1/flows", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert response.get_data() == b""
    assert api.get("/api/v1/flows").get_json()["flows"] == before


def test_the_token_is_never_accepted_from_a_cookie_or_the_query_string(module_app):
    from tests.conftest import TOKEN

    client = module_app.test_client()
    client.set_cookie("token", TOKEN)
    assert client.get("/api/v1/flows").status_code == 401
    assert client.get(f"/api/v1/flows?token={TOKEN}").status_code == 401
    assert client.get(f"/api/v1/flows?access_token={TOKEN}").status_code == 401
