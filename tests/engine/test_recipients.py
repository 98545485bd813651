"""A run's recipient (engine/recipients.py): the table agrees with the actions' schemas, secrets never
show, and runs the dispatcher stores carry it, so the history finds them by it."""

from __future__ import annotations

import pytest

from plugin.engine.recipients import SOURCES, recipient_of
from plugin.registry import get_registry
from tests.engine.test_ingest_and_runs import drain


def test_the_table_names_every_action_and_marks_secret_what_the_schema_does():
    registry = get_registry()
    actions = {t for t in registry.nodes if t.startswith("action.")}
    assert set(SOURCES) == actions
    for action, (where, field, secret) in SOURCES.items():
        if where == "params":
            prop = registry.get(action).schema["properties"][field]
            assert bool(prop.get("x-secret")) == secret, action


@pytest.mark.parametrize(
    ("nodes", "context", "expected"),
    [
        ([{"type": "action.email", "params": {}}], {"client": {"email": "a@b.ru"}}, "a@b.ru"),
        ([{"type": "action.sms", "params": {}}], {"client": {"phone": "79001112233"}}, "79001112233"),
        ([{"type": "action.telegram", "params": {"chat_id": -100123}}], {}, "-100123"),
        ([{"type": "action.telegram", "params": {"chat_id": "{client.fields.tg}"}}], {}, None),
        (
            [{"type": "action.webhook", "params": {"url": "https://user:pw@hooks.example.com/x?k=1"}}],
            {},
            "hooks.example.com",
        ),
        ([{"type": "action.webhook", "params": {"connection": "c1"}}], {}, None),
        (
            [
                {
                    "type": "action.slack",
                    "params": {"webhook_url": "https://hooks.slack.com/services/T/B/secret"},
                }
            ],
            {},
            "slack:********",
        ),
        ([{"type": "action.crm_task", "params": {"connection": "c1"}}], {}, "crm_task:********"),
        # the first action with a recipient: a client without e-mail gives way to the webhook
        (
            [
                {"type": "event.order_created", "params": {}},
                {"type": "action.email", "params": {}},
                {"type": "action.webhook", "params": {"url": "http://h.example/"}},
            ],
            {"client": {"email": None}},
            "h.example",
        ),
    ],
)
def test_recipient_of_each_channel(nodes, context, expected):
    assert recipient_of({"nodes": nodes}, context) == expected


def test_dispatched_runs_are_found_by_their_recipient(app, client, fake_receiver):
    email = {
        "id": "mail",
        "type": "action.email",
        "params": {
            "smtp_host": "127.0.0.1",
            "smtp_port": 9,
            "security": "none",
            "from_email": "shop@shop.ru",
            "subject": "Спасибо",
            "html": "<p>Спасибо</p>",
        },
    }
    flow = {
        "name": "Письмо",
        "enabled": True,
        "nodes": [{"id": "start", "type": "event.order_created", "params": {}}, email],
        "edges": [{"from": "start", "to": "mail"}],
    }
    assert client.post("/api/v1/flows", json=flow).status_code == 201
    client.put(
        "/api/v1/orders/1", json={"price": 10, "client": {"external_id": "7", "email": "Buyer@Shop.ru"}}
    )
    client.put("/api/v1/orders/2", json={"price": 20})
    drain(app)
    found = client.get("/api/v1/runs?recipient=Buyer@Shop.ru").get_json()["runs"]
    assert [(r["order"]["id"], r["client"]["id"], r["recipient"]) for r in found] == [
        ("1", "7", "Buyer@Shop.ru")
    ]
    assert [r["order"]["id"] for r in client.get("/api/v1/runs?recipient=Buyer*").get_json()["runs"]] == ["1"]
