"""«Отправить тестовое сообщение»: ``POST /api/v1/flows/{id}/nodes/{node_id}/send-test`` really
sends one action of a saved scenario to a chosen recipient, on a given or a stored context.

Recorded as a run with ``trigger`` ``test`` (visible in the scenario's run history), through the
same one-call path as a direct node call (``engine.execution.execute_direct``): the SSRF guard and
the suppression list apply as they do to any send, but the scenario's stats, frequency rule and
send window are not touched, and the per-client caps and per-destination rates neither count nor
stop it (one call, by hand). Anything that reads runs for statistics must leave ``trigger = 'test'``
out, as the flow's counters do."""

from __future__ import annotations

import dataclasses

from flask.views import MethodView
from flask_smorest import Blueprint

from plugin.api.common import json_object
from plugin.api.context import rt
from plugin.api.dry_runs import test_context
from plugin.api.extensions import db
from plugin.api.flows import TEST_BODY, _get
from plugin.api.openapi import ok
from plugin.errors import NotFound, ValidationFailed
from plugin.messages import msg
from plugin.nodes._services import optout
from plugin.storage.models import Run

blp = Blueprint("sendtest", __name__, url_prefix="/api/v1/flows", description="Test messages")

# where the chosen recipient goes, by action: (recipient key, "client" field or node "param", required)
RECIPIENTS = {
    "action.email": ("email", "client", True),
    "action.sms": ("phone", "client", True),
    "action.telegram": ("chat_id", "param", False),
}
RECIPIENT = {
    "type": "object",
    "description": "email (action.email), phone (action.sms), chat_id (action.telegram, default the "
    "node's); the webhook, Slack and CRM actions go to their configured URL",
    "properties": {"email": {"type": "string"}, "phone": {"type": "string"}, "chat_id": {"type": "string"}},
}
SEND_TEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    **TEST_BODY["content"]["application/json"]["schema"]["properties"],
                    "recipient": RECIPIENT,
                },
            },
            "example": {"order_id": "1001", "recipient": {"email": "marketer@example.com"}},
        }
    },
}


def _invalid_recipient():
    return msg("sendtest.recipient", "invalid recipient")


def _recipient(spec, body: dict) -> tuple[str | None, str | None]:
    """The chosen address and where it goes; a node param is checked against the node's schema."""
    node_type = spec.type
    recipient = body.get("recipient")
    if recipient is not None and not isinstance(recipient, dict):
        said = msg("sendtest.recipient_object", "expected an object")
        raise ValidationFailed(_invalid_recipient(), [{"path": "/recipient", "message": said}])
    # every address given is text, whichever the action reads (the body's documented shape)
    wrong = [
        k
        for k in RECIPIENT["properties"]
        if (recipient or {}).get(k) is not None and not isinstance(recipient[k], str)
    ]
    if wrong:
        said = msg("sendtest.recipient_text", "expected a string")
        raise ValidationFailed(
            _invalid_recipient(), [{"path": f"/recipient/{k}", "message": said} for k in wrong]
        )
    if node_type not in RECIPIENTS:
        return None, None
    key, where, required = RECIPIENTS[node_type]
    value = (recipient or {}).get(key)
    if value is None and not required:
        return None, None
    text = value.strip() if isinstance(value, str) else ""
    if key == "email" and optout.normalize_email(text) is None:
        english = f"expected the e-mail address to send the test letter to, got {value!r}"
        message = msg("sendtest.email", english, value=value)
    elif not text:
        english = (
            f"expected the {'phone' if key == 'phone' else 'chat id'} to send the test to, got {value!r}"
        )
        message = msg("sendtest.address", english, key=key, value=value)
    elif where == "param" and not _fits(spec.properties.get(key) or {}, text):
        message = msg("sendtest.param", f"not a {key} this node accepts, got {value!r}", key=key, value=value)
    else:
        return text, where
    raise ValidationFailed(_invalid_recipient(), [{"path": f"/recipient/{key}", "message": message}])


def _fits(schema: dict, value: str) -> bool:
    import jsonschema

    return jsonschema.Draft202012Validator(schema).is_valid(value)


@blp.route("/<string:flow_id>/nodes/<string:node_id>/send-test")
class SendTest(MethodView):
    @blp.doc(
        summary="Really send one action to a chosen recipient, recorded as a test run",
        requestBody=SEND_TEST_BODY,
    )
    @blp.doc(responses=ok("NodeResult", 200))
    @blp.response(200)
    def post(self, flow_id: str, node_id: str):
        runtime = rt()
        flow = _get(flow_id)
        node = next((n for n in flow.definition["nodes"] if n["id"] == node_id), None)
        if node is None:
            raise NotFound(
                msg(
                    "notfound.node",
                    f"no node {node_id!r} in the flow {flow_id!r}",
                    node=node_id,
                    flow=flow_id,
                )
            )
        body = json_object()
        if not node["type"].startswith("action."):
            english = f"{node_id!r} is a {node['type']}, not an action"
            said = msg("sendtest.node_type", english, node=node_id, type=node["type"])
            raise ValidationFailed(
                msg("sendtest.not_action", "only an action sends a test message"),
                [{"path": "/node_id", "message": said}],
            )
        spec = runtime.registry[node["type"]]
        address, where = _recipient(spec, body)
        context, _trigger = test_context(body)
        node = {**node, "params": dict(node.get("params") or {})}
        if where == "client":
            key = RECIPIENTS[node["type"]][0]
            context = {**context, "client": {**(context.get("client") or {}), key: address}}
        elif where == "param":
            node["params"]["chat_id"] = address
        event_node = next(n for n in flow.definition["nodes"] if n["type"].startswith("event."))
        template = Run(
            flow_id=flow.id,
            flow_version=flow.version,
            flow_name=flow.name,
            trigger="test",
            event_type=runtime.registry[event_node["type"]].module.PAYLOAD_EVENT_TYPE,
        )
        from plugin.engine.execution import execute_direct
        from plugin.jobs.worker import make_engine

        engine = make_engine(runtime, db.engine)
        engine.services = dataclasses.replace(runtime.services, redis=None)  # caps and rates: not counted
        return execute_direct(db.session, engine, spec, node, node, context, flow=template)
