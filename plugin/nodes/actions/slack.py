"""action.slack: post the rendered text to a Slack incoming webhook."""

from __future__ import annotations

import logging

from plugin.nodes._services import limits, slack
from plugin.nodes.base import ActionCall
from plugin.transport import http

log = logging.getLogger(__name__)


def execute(call: ActionCall) -> dict:
    """Post ``params.text`` (already escaped for mrkdwn by the engine) to ``params.webhook_url``."""
    url, text = call.params["webhook_url"], call.params["text"]
    limits.throttle(call.services, "slack", url)
    slack.post(call.services, url, text)
    log.debug("slack message posted via %s", http.host_of(url))
    return {"status": 200}


def preview(call: ActionCall) -> dict:
    """The request ``execute`` would send; the webhook URL (the secret) is masked."""
    req = slack.request(call.params.get("webhook_url", ""), call.params.get("text", ""))
    return {**req, "url": http.mask_url(req["url"])}
