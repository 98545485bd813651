"""Token management: the /api/v1/tokens API and ``server.py token create|list|revoke``."""

from __future__ import annotations

import os
import subprocess
import sys

from plugin.api.auth import create_token, hash_token
from tests.conftest import ROOT


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_create_list_and_revoke(client, anon):
    created = client.post("/api/v1/tokens", json={"name": "Сайт", "scope": "ingest"})
    assert created.status_code == 201, created.data
    body = created.get_json()
    assert set(body) == {"id", "name", "scope", "created_at", "last_used_at", "current", "token"}
    assert body["name"] == "Сайт" and body["scope"] == "ingest" and body["last_used_at"] is None
    assert body["created_at"].endswith("Z") and body["current"] is False
    token = body["token"]
    assert (
        anon.post("/api/v1/events", json={"id": "1", "name": "x"}, headers=_bearer(token)).status_code == 202
    )
    assert anon.get("/api/v1/flows", headers=_bearer(token)).status_code == 403

    listed = client.get("/api/v1/tokens")
    assert listed.status_code == 200
    (item,) = listed.get_json()["tokens"]
    assert item["id"] == body["id"] and item["scope"] == "ingest" and "token" not in item
    assert token not in listed.get_data(as_text=True)
    assert hash_token(token) not in listed.get_data(as_text=True)

    assert client.delete(f"/api/v1/tokens/{body['id']}").status_code == 204
    assert client.get("/api/v1/tokens").get_json()["tokens"] == []
    assert (
        anon.post("/api/v1/events", json={"id": "2", "name": "x"}, headers=_bearer(token)).status_code == 401
    )


def test_scope_defaults_nothing_and_bad_bodies_are_422_with_paths(client):
    cases = [
        ({}, {"/scope"}),
        ({"name": "x", "scope": "owner"}, {"/scope"}),
        ({"name": "x" * 201, "scope": "read"}, {"/name"}),
        ({"name": 5, "scope": ["admin"], "extra": 1}, {"/name", "/scope", "/extra"}),
    ]
    for body, paths in cases:
        resp = client.post("/api/v1/tokens", json=body)
        assert resp.status_code == 422 and resp.mimetype == "application/problem+json", (body, resp.data)
        assert {e["path"] for e in resp.get_json()["errors"]} == paths, resp.get_json()
    assert client.get("/api/v1/tokens").get_json()["tokens"] == []


def test_a_token_cannot_revoke_itself_and_sees_which_is_its_own(app, anon):
    with app.app_context():
        admin = create_token("ui", "admin")
        other = create_token("other", "read")
    listed = anon.get("/api/v1/tokens", headers=_bearer(admin)).get_json()["tokens"]
    assert [(t["name"], t["current"]) for t in listed] == [("ui", True), ("other", False)]
    own_id = listed[0]["id"]
    resp = anon.delete(f"/api/v1/tokens/{own_id}", headers=_bearer(admin))
    assert resp.status_code == 409 and "cannot revoke itself" in resp.get_json()["detail"]
    assert anon.get("/api/v1/tokens", headers=_bearer(admin)).status_code == 200
    # a read token can neither list nor revoke
    assert anon.get("/api/v1/tokens", headers=_bearer(other)).status_code == 403
    assert anon.delete(f"/api/v1/tokens/{own_id}", headers=_bearer(other)).status_code == 403
    for bad in ("abc", "0", "99999999999", "١"):
        assert anon.delete(f"/api/v1/tokens/{bad}", headers=_bearer(admin)).status_code == 404, bad


def test_the_tokens_api_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert set(paths["/api/v1/tokens"]) >= {"get", "post"}
    assert "delete" in paths["/api/v1/tokens/{token_id}"]
    post = paths["/api/v1/tokens"]["post"]
    assert "201" in post["responses"] and "403" in post["responses"]
    assert "409" in paths["/api/v1/tokens/{token_id}"]["delete"]["responses"]
    assert "scope" in spec["components"]["securitySchemes"]["bearerAuth"]["description"]


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "token", *args],
        check=False,
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_creates_lists_and_revokes_scoped_tokens(app, anon, env):
    made = _cli(env, "create", "--scope", "ingest", "--name", "site")
    assert made.returncode == 0, made.stderr
    ingest = made.stdout.strip().splitlines()[-1].strip()
    assert anon.post("/api/v1/visits", json={"id": "v1"}, headers=_bearer(ingest)).status_code == 202
    assert anon.get("/api/v1/variables", headers=_bearer(ingest)).status_code == 403

    default = _cli(env, "create")  # no --scope: admin, as before scopes existed
    assert default.returncode == 0, default.stderr
    admin = default.stdout.strip().splitlines()[-1].strip()
    assert anon.get("/api/v1/tokens", headers=_bearer(admin)).status_code == 200

    listed = _cli(env, "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.strip().splitlines()[1:]]
    assert [(r[1], r[4]) for r in rows] == [("ingest", "site"), ("admin", "cli")]
    assert ingest not in listed.stdout and hash_token(ingest) not in listed.stdout

    revoked = _cli(env, "revoke", rows[0][0])
    assert revoked.returncode == 0, revoked.stderr
    assert anon.post("/api/v1/visits", json={"id": "v2"}, headers=_bearer(ingest)).status_code == 401
    missing = _cli(env, "revoke", rows[0][0])
    assert missing.returncode == 1 and "no API token" in missing.stderr
    bad = _cli(env, "create", "--scope", "owner")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
