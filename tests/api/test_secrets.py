"""Secrets (SPEC §8): encrypted at rest, never returned, kept by a placeholder PUT, filled before enabling."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import text

FLOWS = Path(__file__).resolve().parent.parent / "fixtures" / "flows"
PLACEHOLDER = "********"
CONTEXT = {
    "event": {"id": "ev-1", "meta_id": "callback_form", "data": {"form": {"amount": 5000}}},
    "client": {"external_id": "c-1", "name": "Иван", "email": "ivan@example.com", "phone": "+79012223344"},
    "order": {"id": "42", "price": 1500},
}


def load(name: str = "custom_event_all_secrets") -> dict:
    return json.loads((FLOWS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def registry(app):
    from plugin.api.context import rt

    with app.app_context():
        return rt().registry


def secrets_of(registry, doc: dict) -> dict[str, str]:
    """JSON pointer → clear value of every secret param in a document."""
    out = {}
    for index, node in enumerate(doc["nodes"]):
        for name in registry[node["type"]].secret_fields:
            if node["params"].get(name):
                out[f"/nodes/{index}/params/{name}"] = node["params"][name]
    return out


def at(doc: dict, path: str):
    _, _, index, _, name = path.split("/")
    return doc["nodes"][int(index)]["params"][name]


def stored_definition(app, flow_id: str) -> tuple[dict, str]:
    """The flow's definition as the database holds it, parsed and as raw text."""
    from plugin.api.extensions import db

    with app.app_context():
        raw = db.session.execute(
            text("SELECT definition FROM flows WHERE id = :id"), {"id": flow_id}
        ).scalar_one()
    raw_text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    return json.loads(raw_text), raw_text


def decrypted(env: dict, definition: dict, path: str) -> str:
    """Decrypt one stored secret with a box built from the configured key (plugin.storage.secrets)."""
    from plugin.storage.secrets import SecretBox, is_encrypted

    stored = at(definition, path)
    assert is_encrypted(stored), f"{path} is stored as {stored!r}, not encrypted"
    box = SecretBox.from_config(env["AUTOMATION_SECRET_KEY"], env["AUTOMATION_DATA_DIR"])
    return box.decrypt(stored)


def assert_no_secret(registry, doc: dict, resp) -> None:
    body = resp.get_data(as_text=True)
    for path, value in secrets_of(registry, doc).items():
        assert value not in body, (
            f"the secret at {path} leaked into {resp.request.method} {resp.request.path}"
        )
    assert "$secret" not in body, "ciphertext must not be returned either"


def test_no_response_ever_contains_a_secret(client, registry):
    doc = load()
    secrets = secrets_of(registry, doc)
    assert len(secrets) == 6
    created = client.post("/api/v1/flows", json=doc)
    assert created.status_code == 201
    flow_id = created.get_json()["id"]
    for path in secrets:
        assert at(created.get_json(), path) == PLACEHOLDER
    responses = [
        created,
        client.get(f"/api/v1/flows/{flow_id}"),
        client.get("/api/v1/flows"),
        client.get(f"/api/v1/flows/{flow_id}/export"),
        client.patch(f"/api/v1/flows/{flow_id}", json={"name": "Другое имя"}),
        client.put(f"/api/v1/flows/{flow_id}", json=created.get_json()),
        client.post(f"/api/v1/flows/{flow_id}/test", json={"context": CONTEXT}),
        client.post("/api/v1/flows/test", json={"flow": doc, "context": CONTEXT}),
    ]
    for resp in responses:
        assert resp.status_code in (200, 201), resp.get_data(as_text=True)
        assert_no_secret(registry, doc, resp)
    exported = client.get(f"/api/v1/flows/{flow_id}/export").get_json()
    assert {path: at(exported, path) for path in secrets} == dict.fromkeys(secrets, PLACEHOLDER)


def test_dry_run_shows_the_messages_with_secrets_masked(client, registry):
    flow_id = client.post("/api/v1/flows", json=load()).get_json()["id"]
    resp = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": CONTEXT})
    steps = {s["node_id"]: s for s in resp.get_json()["steps"]}
    assert steps["amount"]["verdict"] is True
    assert steps["tg"]["status"] == "would_send"
    assert steps["tg"]["output"]["body"]["text"] == "Заявка callback_form от Иван"
    assert steps["hook"]["output"]["headers"]["webhook-signature"] == "v1," + PLACEHOLDER
    assert steps["mail"]["output"]["smtp"]["password"] == PLACEHOLDER
    assert steps["sms"]["status"] == "not_reached" and steps["task"]["status"] == "not_reached"


def test_secrets_are_encrypted_at_rest_and_decrypt_to_the_original(app, env, client, registry):
    doc = load()
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    definition, raw = stored_definition(app, flow_id)
    for path, value in secrets_of(registry, doc).items():
        assert value not in raw, f"{path} is stored in clear"
        assert decrypted(env, definition, path) == value
    # non-secret params are stored as given
    assert definition["nodes"][3]["params"]["text"] == doc["nodes"][3]["params"]["text"]


def test_a_put_carrying_the_placeholder_keeps_the_stored_value(app, env, client, registry):
    doc = load()
    secrets = secrets_of(registry, doc)
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    before, _ = stored_definition(app, flow_id)

    fetched = client.get(f"/api/v1/flows/{flow_id}").get_json()
    fetched["nodes"][3]["params"]["text"] = "Новая заявка от {client_name}"
    resp = client.put(f"/api/v1/flows/{flow_id}", json=fetched)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    after, raw = stored_definition(app, flow_id)
    assert after["nodes"][3]["params"]["text"] == "Новая заявка от {client_name}"
    for path, value in secrets.items():
        assert at(after, path) == at(before, path), f"{path} was re-encrypted or lost"
        assert decrypted(env, after, path) == value
        assert PLACEHOLDER not in raw
    assert resp.get_json()["enabled"] is True and resp.get_json()["needs_secrets"] == []

    # a new clear value replaces only that secret
    fetched["nodes"][3]["params"]["bot_token"] = "987654321:NEWtoken"
    assert client.put(f"/api/v1/flows/{flow_id}", json=fetched).status_code == 200
    after, _ = stored_definition(app, flow_id)
    assert decrypted(env, after, "/nodes/3/params/bot_token") == "987654321:NEWtoken"
    assert (
        decrypted(env, after, "/nodes/2/params/signing_secret") == secrets["/nodes/2/params/signing_secret"]
    )


def test_a_placeholder_does_not_inherit_the_secret_of_a_node_with_another_type(app, client):
    """The stored value belongs to a node id *and* type: retyping a node must not reuse it."""
    doc = load("big_order_slack")
    flow_id = client.post("/api/v1/flows", json=doc).get_json()["id"]
    doc["enabled"] = False
    doc["nodes"][2] = {
        "id": "slack",
        "type": "action.telegram",
        "params": {"bot_token": PLACEHOLDER, "chat_id": 1, "text": "x"},
    }
    resp = client.put(f"/api/v1/flows/{flow_id}", json=doc)
    assert resp.status_code == 200
    assert resp.get_json()["needs_secrets"] == ["/nodes/2/params/bot_token"]


def test_an_imported_flow_with_placeholder_secrets_stays_disabled_until_they_are_filled(
    app, env, client, registry
):
    doc = load()
    secrets = secrets_of(registry, doc)
    source = client.post("/api/v1/flows", json=doc).get_json()
    exported = client.get(f"/api/v1/flows/{source['id']}/export").get_json()
    assert exported["enabled"] is True

    resp = client.post("/api/v1/flows/import?on_conflict=copy", json=exported)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    (imported,) = resp.get_json()["flows"]
    flow_id = imported["id"]
    assert imported["enabled"] is False
    assert sorted(imported["needs_secrets"]) == sorted(secrets)
    listed = {f["id"]: f for f in client.get("/api/v1/flows").get_json()["flows"]}
    assert listed[flow_id]["enabled"] is False

    refused = client.patch(f"/api/v1/flows/{flow_id}", json={"enabled": True})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert sorted(e["path"] for e in refused.get_json()["errors"]) == sorted(secrets)
    assert client.get(f"/api/v1/flows/{flow_id}").get_json()["enabled"] is False

    # fill one secret: the others are still missing
    partial = copy.deepcopy(client.get(f"/api/v1/flows/{flow_id}").get_json())
    partial["nodes"][3]["params"]["bot_token"] = secrets["/nodes/3/params/bot_token"]
    assert client.put(f"/api/v1/flows/{flow_id}", json=partial).status_code == 200
    refused = client.patch(f"/api/v1/flows/{flow_id}", json={"enabled": True})
    assert refused.status_code == 422
    assert sorted(e["path"] for e in refused.get_json()["errors"]) == sorted(
        p for p in secrets if p != "/nodes/3/params/bot_token"
    )

    # a PUT asking to enable while secrets are still missing is refused too
    partial["enabled"] = True
    resp = client.put(f"/api/v1/flows/{flow_id}", json=partial)
    assert resp.status_code == 422
    # naming just the secrets still missing, not the one filled (every stored secret reads as the
    # placeholder in the masked document)
    assert {e["path"] for e in resp.get_json()["errors"]} == {
        p for p in secrets if p != "/nodes/3/params/bot_token"
    }

    # fill them all: now it can be enabled, and the stored values are the real ones
    full = client.get(f"/api/v1/flows/{flow_id}").get_json()
    for path, value in secrets.items():
        _, _, index, _, name = path.split("/")
        if full["nodes"][int(index)]["params"][name] == PLACEHOLDER and path != "/nodes/3/params/bot_token":
            full["nodes"][int(index)]["params"][name] = value
    assert client.put(f"/api/v1/flows/{flow_id}", json=full).status_code == 200
    resp = client.patch(f"/api/v1/flows/{flow_id}", json={"enabled": True})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["enabled"] is True and resp.get_json()["needs_secrets"] == []
    definition, _ = stored_definition(app, flow_id)
    for path, value in secrets.items():
        assert decrypted(env, definition, path) == value


def test_a_new_flow_whose_secret_is_a_placeholder_is_saved_disabled_and_cannot_be_enabled(client):
    doc = load("big_order_slack")
    doc["enabled"] = False
    doc["nodes"][2]["params"]["webhook_url"] = PLACEHOLDER
    resp = client.post("/api/v1/flows", json=doc)
    assert resp.status_code == 201
    flow = resp.get_json()
    assert flow["enabled"] is False and flow["needs_secrets"] == ["/nodes/2/params/webhook_url"]
    refused = client.patch(f"/api/v1/flows/{flow['id']}", json={"enabled": True})
    assert refused.status_code == 422
    assert [e["path"] for e in refused.get_json()["errors"]] == ["/nodes/2/params/webhook_url"]


def test_the_unsaved_dry_run_of_a_stored_flow_uses_its_stored_secrets(client):
    doc = load()
    stored = client.post("/api/v1/flows", json=doc).get_json()
    # the editor sends back what it got: placeholders; the stored signing secret still signs
    resp = client.post("/api/v1/flows/test", json={"flow": stored, "context": CONTEXT})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    hook = next(s for s in resp.get_json()["steps"] if s["node_id"] == "hook")
    assert hook["output"]["headers"]["webhook-signature"] == "v1," + PLACEHOLDER


def test_a_dry_run_flags_a_secret_that_was_never_filled(client):
    doc = json.loads((FLOWS / "big_order_slack.json").read_text(encoding="utf-8"))
    doc["nodes"][2]["params"]["webhook_url"] = PLACEHOLDER
    resp = client.post(
        "/api/v1/flows/test", json={"flow": doc, "context": {"order": {"id": "1", "price": 99999}}}
    )
    assert resp.status_code == 200
    slack = next(s for s in resp.get_json()["steps"] if s["node_id"] == "slack")
    assert slack["status"] == "needs_secret" and "webhook_url" in (slack["error"] or "")
    assert "99999" in json.dumps(slack["output"]), "the message it would send is still shown"


def _webhook_flow(headers: dict, marked: list[str] | None = None) -> dict:
    params = {"url": "https://example.com/h", "headers": headers}
    if marked is not None:
        params["secret_headers"] = marked
    return {
        "format": "automation-flow/1",
        "name": "Заголовки",
        "nodes": [
            {"id": "start", "type": "event.order_created", "params": {}},
            {"id": "hook", "type": "action.webhook", "params": params},
        ],
        "edges": [{"from": "start", "to": "hook"}],
    }


def test_webhook_headers_secret_by_name_or_mark_are_sealed_masked_and_kept(app, client):
    headers = {
        "Authorization": "Bearer a-very-secret",
        "X-Auth-Token": "tok-123456",
        "X-Session": "sess-7890",
        "X-Source": "shop",
    }
    created = client.post("/api/v1/flows", json=_webhook_flow(headers, ["X-Session"]))
    assert created.status_code == 201, created.get_data(as_text=True)
    flow_id = created.get_json()["id"]
    shown = {
        "Authorization": PLACEHOLDER,
        "X-Auth-Token": PLACEHOLDER,
        "X-Session": PLACEHOLDER,
        "X-Source": "shop",
    }
    for response in (
        created,
        client.get(f"/api/v1/flows/{flow_id}"),
        client.get(f"/api/v1/flows/{flow_id}/export"),
    ):
        assert response.get_json()["nodes"][1]["params"]["headers"] == shown
    definition, raw = stored_definition(app, flow_id)
    for value in ("a-very-secret", "tok-123456", "sess-7890"):
        assert value not in raw
    assert "shop" in raw

    # the placeholders PUT back keep the values; unmarking a header never reveals what it held
    doc = client.get(f"/api/v1/flows/{flow_id}").get_json()
    doc["nodes"][1]["params"]["secret_headers"] = []
    assert client.put(f"/api/v1/flows/{flow_id}", json=doc).status_code == 200
    after, raw_after = stored_definition(app, flow_id)
    assert "sess-7890" not in raw_after
    assert (
        after["nodes"][1]["params"]["headers"]["X-Session"]
        == definition["nodes"][1]["params"]["headers"]["X-Session"]
    )
    assert (
        after["nodes"][1]["params"]["headers"]["Authorization"]
        == definition["nodes"][1]["params"]["headers"]["Authorization"]
    )
    assert (
        client.get(f"/api/v1/flows/{flow_id}").get_json()["nodes"][1]["params"]["headers"]["X-Session"]
        == PLACEHOLDER
    )
    dry = client.post(f"/api/v1/flows/{flow_id}/test", json={"context": {"order": {"id": "1"}}}).get_json()
    assert dry["steps"][1]["output"]["headers"]["Authorization"] == PLACEHOLDER
    assert "a-very-secret" not in json.dumps(dry) and "sess-7890" not in json.dumps(dry), json.dumps(
        dry["steps"][1]
    )


def test_plaintext_headers_of_an_older_flow_are_masked_on_read_and_sealed_on_the_next_save(app, client):
    created = client.post("/api/v1/flows", json=_webhook_flow({"X-Source": "shop"}))
    flow_id = created.get_json()["id"]
    from plugin.api.extensions import db
    from plugin.storage.models import Flow

    with app.app_context():  # as an older version stored it: the Authorization header in clear
        flow = db.session.get(Flow, flow_id)
        definition = copy.deepcopy(flow.definition)
        definition["nodes"][1]["params"]["headers"] = {
            "Authorization": "Bearer legacy-secret",
            "X-Source": "shop",
        }
        flow.definition = definition
        db.session.commit()
    for path in (f"/api/v1/flows/{flow_id}", f"/api/v1/flows/{flow_id}/export"):
        body = client.get(path).get_data(as_text=True)
        assert "legacy-secret" not in body and PLACEHOLDER in body
    doc = client.get(f"/api/v1/flows/{flow_id}").get_json()
    assert client.put(f"/api/v1/flows/{flow_id}", json=doc).status_code == 200
    stored, raw = stored_definition(app, flow_id)
    assert "legacy-secret" not in raw
    assert set(stored["nodes"][1]["params"]["headers"]["Authorization"]) == {"$secret"}


def test_a_secret_of_the_wrong_json_type_is_never_echoed(client):
    doc = _webhook_flow(
        {"Authorization": {"nested": "NESTED-SECRET-1"}, "X-Session": ["LISTED-SECRET-2"]}, ["X-Session"]
    )
    slack = {
        "id": "s",
        "type": "action.slack",
        "params": {"text": "x", "webhook_url": {"nested": "NESTED-SECRET-3"}},
    }
    doc["nodes"].append(slack)
    doc["edges"].append({"from": "start", "to": "s"})
    response = client.post("/api/v1/flows", json=doc)
    assert response.status_code == 422
    paths = {e["path"] for e in response.get_json()["errors"]}
    assert {
        "/nodes/1/params/headers/Authorization",
        "/nodes/1/params/headers/X-Session",
        "/nodes/2/params/webhook_url",
    } <= paths
    assert "SECRET-" not in response.get_data(as_text=True)


@pytest.mark.parametrize("bad", [b"", b"abc", b"x" * 44, b"!" * 44])
def test_a_malformed_key_is_refused_when_the_box_is_made_not_at_first_use(bad):
    from plugin.storage.secrets import SecretBox

    with pytest.raises(ValueError, match="Fernet key must be 32 url-safe base64-encoded bytes"):
        SecretBox([bad])


def test_generated_keys_are_fernet_keys_and_a_box_seals_with_the_first():
    from cryptography.fernet import Fernet

    from plugin.storage.secrets import SecretBox, generate_key

    first, second = generate_key(), generate_key()
    Fernet(first)  # cryptography accepts it
    sealed = SecretBox([first, second]).encrypt("s3cret")
    assert SecretBox([first]).decrypt(sealed) == "s3cret"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox([second]).decrypt(sealed)
