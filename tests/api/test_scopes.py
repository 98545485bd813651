"""Token scopes (SPEC §11): ingest, read, admin — on every route (url_map walk) and on the fast path."""

from __future__ import annotations

import json
import re

import pytest

from plugin.api.auth import PUBLIC, create_token, required_scope
from tests.api.test_auth import PUBLIC as PUBLIC_RULES
from tests.conftest import TOKEN, wait_for

# what the product promises, written out here rather than read from the declarations under test
INGEST_ROUTES = {
    ("POST", "/api/v1/events"),
    ("POST", "/api/v1/visits"),
    ("POST", "/api/v1/batch"),
    ("PUT", "/api/v1/orders/<string:order_id>"),
    ("PUT", "/api/v1/clients/<string:external_id>"),
}
ADMIN_READS = {"/api/v1/tokens", "/api/v1/hooks"}  # GETs that only admin may call: they reveal credentials


def expected_scope(method: str, rule: str) -> str:
    if (method, rule) in INGEST_ROUTES:
        return "ingest"
    if method in ("GET", "HEAD"):
        return "admin" if rule in ADMIN_READS else "read"
    return "admin"


def scoped_routes(app) -> list[tuple[str, str, str]]:
    """(method, concrete path, needed scope) of every route and method that takes a token."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC_RULES:
            continue
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "some-id", rule.rule)
        for method in sorted(rule.methods - {"OPTIONS"}):
            if required_scope(view, method) == PUBLIC:  # e.g. a site form's hook (key in the URL)
                continue
            out.append((method, path, expected_scope(method, rule.rule)))
    return out


@pytest.fixture
def tokens(app):
    with app.app_context():
        return {scope: create_token(f"{scope} test", scope) for scope in ("ingest", "read", "admin")}


def _call(anon, method, path, token):
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return anon.open(path, method=method, headers={"Authorization": f"Bearer {token}"}, json=body)


def test_the_walk_covers_every_kind_of_route(app):
    routes = scoped_routes(app)
    assert {(m, p) for m, p, s in routes if s == "ingest"} == {
        ("POST", "/api/v1/events"),
        ("POST", "/api/v1/visits"),
        ("POST", "/api/v1/batch"),
        ("PUT", "/api/v1/orders/some-id"),
        ("PUT", "/api/v1/clients/some-id"),
    }
    for method, path in [
        ("POST", "/api/v1/flows/some-id/test"),  # a dry run renders templates: admin
        ("POST", "/api/v1/flows/test"),
        ("POST", "/api/v1/nodes/some-id/execute"),
        ("GET", "/api/v1/tokens"),
        ("GET", "/api/v1/hooks"),  # the sources' URLs carry their keys
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/some-id"),
        ("PUT", "/api/v1/flows/some-id"),
    ]:
        assert (method, path, "admin") in routes
    assert ("GET", "/api/v1/flows", "read") in routes and ("GET", "/metrics", "read") in routes


@pytest.mark.parametrize("scope", ["ingest", "read", "admin"])
def test_every_route_answers_403_exactly_outside_the_scope(app, anon, tokens, scope):
    failures = []
    for method, path, needed in scoped_routes(app):
        resp = _call(anon, method, path, tokens[scope])
        allowed = scope in ("admin", needed)
        if allowed and resp.status_code in (401, 403):
            failures.append(f"{method} {path}: {resp.status_code}, but {scope} may call it")
        if not allowed:
            ok = resp.status_code == 403 and resp.mimetype == "application/problem+json"
            if ok and method != "HEAD":
                detail = resp.get_json()["detail"]
                ok = f"'{needed}'" in detail and f"'{scope}'" in detail and resp.get_json()["status"] == 403
            ok = ok and f'scope="{needed}"' in resp.headers.get("WWW-Authenticate", "")
            if not ok:
                failures.append(f"{method} {path}: {resp.status_code} for {scope}, {needed} needed")
    assert not failures, "\n".join(failures)


def test_the_environment_token_is_admin(app, client):
    for method, path, _needed in scoped_routes(app):
        resp = client.open(path, method=method, json={} if method in ("POST", "PUT", "PATCH") else None)
        assert resp.status_code not in (401, 403), (method, path, resp.status_code)


def test_a_refused_write_changes_nothing(app, anon, tokens):
    flow = {"name": "x", "nodes": [{"id": "e", "type": "event.visit_created", "params": {}}], "edges": []}
    for scope in ("ingest", "read"):
        assert _call(anon, "POST", "/api/v1/flows", tokens[scope]).status_code == 403
        resp = anon.post("/api/v1/flows", json=flow, headers={"Authorization": f"Bearer {tokens[scope]}"})
        assert resp.status_code == 403
    resp = anon.post(
        "/api/v1/events",
        json={"id": "e1", "name": "x"},
        headers={"Authorization": f"Bearer {tokens['read']}"},
    )
    assert resp.status_code == 403
    assert (
        json.loads(anon.get("/api/v1/flows", headers={"Authorization": f"Bearer {TOKEN}"}).data)["flows"]
        == []
    )


# -- the lean ingestion path ---------------------------------------------------------------------

VALID = [
    ("POST", "/api/v1/events", {"id": "ev-1", "name": "signup"}),
    ("POST", "/api/v1/visits", {"id": "v-1"}),
    ("POST", "/api/v1/batch", {"items": [{"type": "event", "data": {"id": "ev-2", "name": "x"}}]}),
    ("PUT", "/api/v1/orders/o-1", {"status": "new"}),
    ("PUT", "/api/v1/clients/c-1", {"name": "Анна"}),
]


def _stored(app) -> int:
    from sqlalchemy import text

    from plugin.api.extensions import db

    with app.app_context():
        count = sum(
            db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("custom_events", "visits", "orders", "clients")
        )
        db.session.commit()
    return count


def test_the_fast_path_applies_scopes(app, anon, tokens):
    fast = app.wsgi_app
    assert type(fast).__name__ == "FastIngest"
    for method, path, body in VALID:
        before = fast.served
        resp = anon.open(
            path, method=method, json=body, headers={"Authorization": f"Bearer {tokens['read']}"}
        )
        assert resp.status_code == 403 and resp.mimetype == "application/problem+json", (path, resp.data)
        assert fast.served == before
    assert _stored(app) == 0
    for scope in ("ingest", "admin"):
        for method, path, body in VALID:
            before = fast.served
            headers = {"Authorization": f"Bearer {tokens[scope]}"}
            resp = anon.open(path, method=method, json=body, headers=headers)
            assert resp.status_code == 202, (scope, path, resp.data)
            assert fast.served == before + 1, f"{path} with {scope} was not served by the fast path"


def test_revoking_takes_effect_at_once_on_both_paths(app, anon, client):
    created = client.post("/api/v1/tokens", json={"name": "site", "scope": "ingest"})
    assert created.status_code == 201
    token, token_id = created.get_json()["token"], created.get_json()["id"]
    headers = {"Authorization": f"Bearer {token}"}
    assert anon.post("/api/v1/events", json={"id": "a", "name": "x"}, headers=headers).status_code == 202
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    served = app.wsgi_app.served
    assert anon.post("/api/v1/events", json={"id": "b", "name": "x"}, headers=headers).status_code == 401
    assert anon.post("/api/v1/events", json={"name": 5}, headers=headers).status_code == 401  # Flask's path
    assert app.wsgi_app.served == served
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 404


def test_the_last_use_is_recorded(app, anon, client, tokens):
    listed = {t["name"]: t for t in client.get("/api/v1/tokens").get_json()["tokens"]}
    assert listed["ingest test"]["last_used_at"] is None
    resp = anon.post(
        "/api/v1/events",
        json={"id": "u1", "name": "x"},
        headers={"Authorization": f"Bearer {tokens['ingest']}"},
    )
    assert resp.status_code == 202

    def used():
        listed = {t["name"]: t for t in client.get("/api/v1/tokens").get_json()["tokens"]}
        return listed["ingest test"]["last_used_at"]

    stamp = wait_for(used, message="last_used_at of the ingest token")
    assert stamp.endswith("Z")


def test_the_last_use_is_written_at_most_once_a_minute_per_token():
    from plugin.api.auth import TokenUse

    now = [1000.0]
    use = TokenUse(clock=lambda: now[0])
    assert use.due(1) and use.due(2)
    now[0] += 59.9
    assert not use.due(1) and not use.due(2)
    now[0] += 0.2
    assert use.due(1) and not use.due(1)
