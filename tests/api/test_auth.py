"""Bearer-token auth on every route but health, manifest, OpenAPI and the UI's static files (SPEC §7)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import ROOT, TOKEN

PUBLIC = {
    "/api/v1/health",
    "/plugin.json",
    "/api/v1/plugin.json",
    "/api/v1/openapi.json",
    "/",
    "/favicon.svg",
    "/assets/<path:filename>",
}
# (method, rule) public for one method only: a site form posts with its key, no token (SPEC §11)
PUBLIC_METHODS = {
    ("POST", "/api/v1/hooks/<string:key>"),
    # a signed one-click unsubscribe link: its page and its POST (SPEC §11, RFC 8058)
    ("GET", "/api/v1/unsubscribe/<string:token>"),
    ("HEAD", "/api/v1/unsubscribe/<string:token>"),
    ("POST", "/api/v1/unsubscribe/<string:token>"),
}
BAD_HEADERS = {
    "no_header": None,
    "wrong_token": f"Bearer {TOKEN}x",
    "empty_bearer": "Bearer ",
    "basic_scheme": f"Basic {TOKEN}",
    "token_without_scheme": TOKEN,
    "token_prefix_only": f"Bearer {TOKEN[:-1]}",
}


def protected_routes(app) -> list[tuple[str, str]]:
    """(method, concrete path) for every route and method of the app that needs a token."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "some-id", rule.rule)
        for method in sorted(rule.methods - {"OPTIONS"}):
            if (method, rule.rule) not in PUBLIC_METHODS:
                out.append((method, path))
    return out


def test_the_route_table_is_what_we_think(app):
    routes = protected_routes(app)
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert rules >= PUBLIC | {rule for _method, rule in PUBLIC_METHODS}, "a public route disappeared"
    # every SPEC §7 route is behind auth
    for method, path in [
        ("GET", "/api/v1/nodes"),
        ("POST", "/api/v1/nodes/some-id/execute"),
        ("GET", "/api/v1/variables"),
        ("POST", "/api/v1/flows"),
        ("PATCH", "/api/v1/flows/some-id"),
        ("DELETE", "/api/v1/flows/some-id"),
        ("POST", "/api/v1/flows/import"),
        ("POST", "/api/v1/flows/some-id/test"),
        ("PUT", "/api/v1/presets/some-id"),
        ("POST", "/api/v1/visits"),
        ("PUT", "/api/v1/orders/some-id"),
        ("POST", "/api/v1/batch"),
        ("POST", "/api/v1/runs/some-id/retry"),
        ("GET", "/metrics"),
        ("GET", "/api/v1/hooks"),
        ("POST", "/api/v1/hooks"),
        ("DELETE", "/api/v1/hooks/some-id"),
    ]:
        assert (method, path) in routes
    assert len(routes) >= 30


@pytest.mark.parametrize("header", list(BAD_HEADERS.values()), ids=list(BAD_HEADERS))
def test_every_protected_route_answers_401_problem(app, anon, header):
    headers = {"Authorization": header} if header is not None else {}
    failures = []
    for method, path in protected_routes(app):
        resp = anon.open(
            path, method=method, headers=headers, json={} if method in ("POST", "PUT", "PATCH") else None
        )
        ok = (
            resp.status_code == 401
            and resp.mimetype == "application/problem+json"
            and (method == "HEAD" or resp.get_json()["status"] == 401)
            and resp.headers.get("WWW-Authenticate", "").startswith("Bearer")
        )
        if not ok:
            failures.append(f"{method} {path}: {resp.status_code} {resp.mimetype}")
    assert not failures, "\n".join(failures)


def test_unauthenticated_writes_change_nothing(app, anon, client):
    flow = {
        "name": "x",
        "nodes": [
            {"id": "e", "type": "event.visit_created", "params": {}},
            {"id": "a", "type": "action.webhook", "params": {"url": "https://example.com/h"}},
        ],
        "edges": [{"from": "e", "to": "a"}],
    }
    assert anon.post("/api/v1/flows", json=flow).status_code == 401
    assert anon.post("/api/v1/visits", json={"id": "v1"}).status_code == 401
    assert anon.put("/api/v1/clients/c1", json={"name": "x"}).status_code == 401
    assert client.get("/api/v1/flows").get_json()["flows"] == []
    from plugin.api.extensions import db
    from plugin.storage.models import Client, Visit

    with app.app_context():
        assert db.session.query(Visit).count() == 0 and db.session.query(Client).count() == 0


def test_public_routes_need_no_token(anon):
    assert anon.get("/api/v1/health").status_code == 200
    manifest = anon.get("/plugin.json")
    assert manifest.status_code == 200 and manifest.get_json()["api"]["base"] == "/api/v1"
    assert anon.get("/api/v1/openapi.json").status_code == 200
    for path in ("/", "/favicon.svg", "/assets/missing.js"):
        assert anon.get(path).status_code != 401, path


def test_the_configured_token_is_accepted(client, anon):
    assert client.get("/api/v1/flows").status_code == 200
    # the scheme is case-insensitive (RFC 9110 §11.1); extra spaces around the token are tolerated
    for header in (f"bearer {TOKEN}", f"BEARER {TOKEN}", f"Bearer  {TOKEN} "):
        assert anon.get("/api/v1/flows", headers={"Authorization": header}).status_code == 200, header


def test_a_created_token_works_and_is_stored_only_as_its_hash(app, anon, database_url):
    from plugin.api.auth import create_token
    from plugin.api.extensions import db

    with app.app_context():
        token = create_token("ci")
    assert token and token != TOKEN
    resp = anon.get("/api/v1/flows", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    resp = anon.get("/api/v1/flows", headers={"Authorization": f"Bearer {token[:-1]}"})
    assert resp.status_code == 401

    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM api_tokens")).mappings().all()
    assert len(rows) == 1
    row = dict(rows[0])
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in row.values())
    if database_url.startswith("sqlite:///"):
        db_file = Path(database_url[len("sqlite:///") :])
        for part in db_file.parent.glob(db_file.name + "*"):  # the database, its WAL and SHM
            assert token.encode() not in part.read_bytes(), f"the plain token is in {part.name}"


def test_the_cli_creates_a_working_token(app, anon, env):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "token", "create", "--name", "cli-test"],
        check=False,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip().splitlines()[-1].strip()
    resp = anon.get("/api/v1/variables", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
