"""The journey rules of a flow (issue #20) beyond its schema: a wait node's timeout (1 minute to
90 days), the name a custom event needs, whom each event can be about; an exit event's params
(those of its event node type, plus ``to_group`` for a status change). Pure, like validation."""

from __future__ import annotations

from plugin.engine.flow_checks import node_title
from plugin.engine.schema_problems import pointer, schema_problems
from plugin.messages import Tr, msg
from plugin.registry import Registry

Problem = dict[str, str]
WAIT_TYPE = "flow.wait_event"
_EVENTS = {
    "order_status_changed": Tr(ru="Смена статуса сделки", en="deal status change"),
    "order_created": Tr(ru="Новая сделка клиента", en="a new deal of the client"),
    "custom": Tr(ru="Пользовательское событие", en="custom event"),
    "visit_created": Tr(ru="Новый визит клиента", en="a new visit of the client"),
}
_PER = {
    "order": Tr(ru="сделки", en="order"),
    "client": Tr(ru="клиента", en="client"),
    "visitor": Tr(ru="посетителя", en="visitor"),
}


def wait_problems(nodes: list[dict], registry: Registry, skip: set[int] = frozenset()) -> list[Problem]:
    """The problems of every (schema-valid) ``flow.wait_event`` node."""
    spec = registry.get(WAIT_TYPE)
    if spec is None:
        return []
    problems: list[Problem] = []
    for index, node in enumerate(nodes):
        if index in skip or not isinstance(node, dict) or node.get("type") != WAIT_TYPE:
            continue
        params = node.get("params")
        if not isinstance(params, dict) or list(spec.validator().iter_errors(params)):
            continue  # its schema problems are listed already
        problems += _one_wait(spec.module, params, index)
    return problems


def _one_wait(module, params: dict, index: int) -> list[Problem]:
    at = lambda *p: pointer("nodes", index, "params", *p)  # noqa: E731 - a short path maker
    problems: list[Problem] = []
    seconds = module.delay_seconds(params)
    if not module.MIN_SECONDS <= seconds <= module.MAX_SECONDS:
        problems.append(
            {
                "path": at("timeout"),
                "message": msg(
                    "wait.timeout",
                    f"the timeout must be from 1 minute to 90 days, got {seconds} s",
                    seconds=seconds,
                ),
            }
        )
    event = params.get("event", "order_status_changed")
    if event == "custom" and not (params.get("name") or "").strip():
        problems.append(
            {"path": at("name"), "message": msg("wait.name", "a custom event to wait for needs its name")}
        )
    per = params.get("per", "order")
    if per not in module.PER[event]:
        problems.append(
            {
                "path": at("per"),
                "message": msg(
                    "wait.per",
                    f"{event} events cannot be waited for per {per}: one of {', '.join(module.PER[event])}",
                    event=_EVENTS[event],
                    per=_PER[per],
                    allowed=Tr(
                        ru=", ".join(_PER[p]["ru"] for p in module.PER[event]),
                        en=", ".join(module.PER[event]),
                    ),
                ),
            }
        )
    for field in ("to_status", "to_group"):
        if params.get(field) and event != "order_status_changed":
            problems.append(
                {
                    "path": at(field),
                    "message": msg("wait.status_only", f"{field} is for a status change only", field=field),
                }
            )
    return problems


def settings_problems(settings: dict, registry: Registry) -> list[Problem]:
    """The problems of a (schema-valid) flow's ``exit_event`` beyond its shape."""
    exit_event = settings.get("exit_event")
    if not exit_event:
        return []
    spec = registry.get(exit_event["type"])
    if spec is None:
        return []
    params = dict(exit_event.get("params") or {})
    problems: list[Problem] = []
    group = params.pop("to_group", None)
    if group is not None and (exit_event["type"] != "event.order_status_changed" or group not in _GROUPS):
        problems.append(
            {
                "path": "/settings/exit_event/params/to_group",
                "message": msg(
                    "exit.to_group",
                    f"to_group is for a status change only, one of {', '.join(_GROUPS)}; got {group!r}",
                    value=group,
                    event=node_title(registry, exit_event["type"]),
                ),
            }
        )
    problems += schema_problems(spec.validator(), params, ("settings", "exit_event", "params"))
    return problems


_GROUPS = ("in_work", "paid", "cancelled")
