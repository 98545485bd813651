"""Helpers for end-to-end tests: build flows against local receivers and drive the live API."""

from __future__ import annotations

import requests

from tests.conftest import TOKEN

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def webhook_flow(
    url: str,
    *,
    event: str = "event.order_created",
    event_params=None,
    conditions=(),
    name="Webhook",
    secret: str | None = None,
) -> dict:
    nodes = [{"id": "start", "type": event, "params": event_params or {}}]
    edges = []
    prev = "start"
    for i, (ctype, params) in enumerate(conditions):
        nid = f"c{i}"
        nodes.append({"id": nid, "type": ctype, "params": params})
        edges.append({"from": prev, "to": nid})
        prev = nid
    params = {"url": url}
    if secret:
        params["signing_secret"] = secret
    nodes.append({"id": "hook", "type": "action.webhook", "params": params})
    edges.append({"from": prev, "to": "hook"})
    return {"format": "automation-flow/1", "name": name, "enabled": True, "nodes": nodes, "edges": edges}


class Api:
    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()
        self.session.headers.update(HEADERS)

    def __getattr__(self, method):
        def call(path, **kw):
            return self.session.request(method.upper(), self.base + path, timeout=30, **kw)

        return call
