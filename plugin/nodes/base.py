"""The contract every node module fulfils, and the exceptions actions raise.

A node is one module under ``plugin/nodes/<kind dir>/<name>.py`` paired with one JSON Schema
under ``plugin/schemas/<kind dir>/<name>.json``. The schema is data (titles, defaults, UI
hints); the module is behaviour:

events (``plugin/nodes/events``)
    ``TRIGGERS``: the engine event names the node listens to (``"order_created"``, ...).
    ``PAYLOAD_EVENT_TYPE``: the ``event_type`` of the webhook payload (SPEC §5).
    ``matches(params, event) -> bool``: whether one engine event fires the flow; ``event`` is
    ``{"type": str, "data": dict}`` (``data`` holds e.g. ``from``/``to`` status or ``name``).
    Date-relative events also define ``TIME_FIELD`` (``"created_at"`` / ``"paid_at"``).

conditions (``plugin/nodes/conditions``)
    ``CONDITION``: a :class:`~plugin.nodes.conditions._condition.Condition`, the condition
    written once: the field of the context it reads and the operator family it compares that
    value with. The hooks are derived from it (``EVENTS, evaluate, prepare, access =
    CONDITION.hooks()``):
    ``EVENTS``: ``None`` when the condition works with every event, else the set of event node
    types whose context carries its data (a mismatch is a save-time error, SPEC §3.2).
    ``evaluate(params, context) -> bool``; ``context`` is ``{"visit", "order", "client",
    "event"}`` (each a dict or ``None``) plus ``"now"`` (an aware UTC datetime) and
    ``"client_orders_count"`` (int).
    ``prepare(params) -> test``: ``test(context)`` is ``evaluate(params, context)`` with the
    params worked out once (what matching calls per event); raises on params it cannot prepare.
    ``access(params) -> Access | None``: how the flow index finds the contexts the condition
    holds for without evaluating it (:class:`~plugin.nodes.operators.Access`), or ``None``.

actions (``plugin/nodes/actions``)
    ``execute(call: ActionCall) -> dict``: performs the call and returns its output
    (recorded on the step). Raises :class:`Skip` when there is no recipient,
    :class:`PermanentError` / :class:`RetryableError` on failure.
    ``preview(call: ActionCall) -> dict``: the exact request that ``execute`` would send,
    secrets masked; what a dry run shows.

flow (``plugin/nodes/flow``)
    ``delay_seconds(params) -> int``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from plugin.transport.errors import (  # noqa: F401 - the node contract hands these on
    SECRET_PLACEHOLDER,
    ActionFailed,
    Deferred,
    NodeError,
    PermanentError,
    RetryableError,
    Skip,
)

log = logging.getLogger(__name__)

# the data of a visit (SPEC §2) beside its id: what a context's ``visit`` carries, the visits table's columns
VISIT_FIELDS = (
    "ip",
    "marker",
    "city",
    "country",
    "referrer",
    "domain",
    "landing_page",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "roistat_param_1",
    "roistat_param_2",
    "roistat_param_3",
    "roistat_param_4",
    "roistat_param_5",
)


@dataclass
class ActionCall:
    """Everything an action needs for one attempt; built by the engine."""

    params: dict[str, Any]
    """Params with secrets decrypted and ``x-template`` fields already rendered."""
    context: dict[str, Any]
    """``{"visit", "order", "client", "event"}`` as plain dicts (or ``None``)."""
    run_id: str
    node_id: str
    flow: dict[str, Any]
    """``{"id": str, "name": str}`` (ids are strings); ``{"id": "", "name": ""}`` for direct calls."""
    event_type: str
    """The SPEC §5 ``event_type`` (``order_created``, ...)."""
    attempt: int = 1
    state: dict[str, Any] = field(default_factory=dict)
    """Survives between attempts of this step: an action stores e.g. the id of what it created
    (or what it was about to create) so that a retry after an ambiguous timeout does not
    create it twice."""
    services: Any = None
    """:class:`plugin.nodes._services.Services`: HTTP session (SSRF-guarded), Redis, settings."""
    secret_paths: tuple[tuple[str, ...], ...] = ()
    """Where the params hold secrets: ``("api_id",)``, ``("headers", "Authorization")``, ...;
    what a preview masks."""

    @property
    def idempotency_key(self) -> str:
        """Stable for this run and node across retries (``webhook-id``, ``Message-ID``)."""
        return f"{self.run_id}-{self.node_id}"


def secret_keys(mapping: dict[str, Any], rule: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The keys of ``mapping`` whose values are secret under an ``x-secret-keys`` rule of the schema:
    by name (``names``: glob patterns, any case) or because the user listed them in the param the
    rule's ``flag`` names (e.g. webhook headers marked «секрет»)."""
    patterns = [str(p).lower() for p in rule.get("names", ())]
    listed = params.get(rule.get("flag") or "")
    flagged = {f.lower() for f in listed if isinstance(f, str)} if isinstance(listed, list) else set()
    return [
        key
        for key in mapping
        if isinstance(key, str)
        and (key.lower() in flagged or any(fnmatchcase(key.lower(), p) for p in patterns))
    ]
