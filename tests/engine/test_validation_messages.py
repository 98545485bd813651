"""Every error path of the flow validator says what is wrong in Russian (and in full English).

The list of paths is read from the code, not written by hand: every ``msg("code", …)`` call in the
validator's modules, and every JSON Schema keyword the flow and node schemas assert (each fails as
``schema.<keyword>``, or ``secret.<keyword>`` on a secret). The cases below must hit them all; a new
message or a new keyword in a schema without a case here fails the test.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from plugin.engine import validation
from plugin.messages import Message, render
from plugin.messages import ru as catalogue
from plugin.registry import SCHEMAS_DIR, get_registry

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR_MODULES = [
    "plugin/engine/validation.py",
    "plugin/engine/flow_checks.py",
    "plugin/engine/schema_problems.py",
    "plugin/engine/templating.py",
    "plugin/engine/sendwindow.py",
    "plugin/engine/alerts.py",  # settings.alert: checked against the stored connections on save
    "plugin/engine/node_checks.py",  # condition groups' inner conditions, split variants, branches
]
ASSERTIONS = {
    "type", "enum", "const", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties",
    "maxProperties", "required", "additionalProperties", "dependentRequired", "contains", "not",
}  # fmt: skip
# keywords reported through another: propertyNames by its inner pattern; "format" is not asserted
# (the validators run without a format checker, so a format never fails on its own)
NOT_A_PATH = {"propertyNames", "format"}
REGISTRY = get_registry()


def _codes_in(path: str) -> set[str]:
    """The literal codes of ``msg("…")`` / ``Message("…")`` calls in a module."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) in ("msg", "Message")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def _keywords(schema, secret: bool, out: dict[str, set]) -> None:
    """Assertion keywords used in ``schema``: ``out["all"]``, and ``out["secret"]`` under x-secret."""
    if isinstance(schema, list):
        for item in schema:
            _keywords(item, secret, out)
        return
    if not isinstance(schema, dict):
        return
    secret = secret or bool(schema.get("x-secret"))
    for key, value in schema.items():
        if key in ASSERTIONS | NOT_A_PATH and not (key == "additionalProperties" and value is not False):
            out["secret" if secret else "all"].add(key)
        if key in ("properties", "patternProperties", "$defs"):
            for sub in value.values():
                _keywords(sub, secret, out)
        elif key in ("items", "additionalProperties", "if", "then", "else", "not", "contains") or key in (
            "allOf",
            "anyOf",
            "oneOf",
            "prefixItems",
        ):
            _keywords(value, secret, out)


def expected_codes() -> set[str]:
    codes = set().union(*(_codes_in(m) for m in VALIDATOR_MODULES))
    found: dict[str, set] = {"all": set(), "secret": set()}
    for path in Path(SCHEMAS_DIR).rglob("*.json"):
        if path.name != "manifest.json":
            _keywords(json.loads(path.read_text(encoding="utf-8")), False, found)
    names = {"additionalProperties": "unknown_field"}
    codes |= {f"secret.{k}" for k in found["secret"] - NOT_A_PATH}
    # a keyword outside x-secret fails as schema.<k>, or as secret.<k> in an object of secrets (headers)
    codes |= {f"schema|secret.{names.get(k, k)}" for k in found["all"] - NOT_A_PATH}
    return codes


# ---- the cases: documents that, together, take every path ------------------------------------


def flow(*nodes, edges=None, **extra) -> dict:
    base = [{"id": "start", "type": "event.order_created", "params": {}}]
    acts = list(nodes) or [slack("hook")]
    if edges is None:
        edges = [{"from": "start", "to": n["id"]} for n in acts]
    return {"name": "Сценарий", "nodes": base + acts, "edges": edges, **extra}


def slack(node_id="hook", **params) -> dict:
    return {
        "id": node_id,
        "type": "action.slack",
        "params": {
            "text": "Заказ {order_id}",
            "webhook_url": "https://hooks.slack.com/services/T/B/x",
            **params,
        },
    }


def node(node_id, type_, **params) -> dict:
    return {"id": node_id, "type": type_, "params": params}


def jinja(text: str) -> dict:
    return flow(slack(text=text))


DEEP_NOT = "{{ " + "not " * 60 + "x }}"
WINDOW = {"from": "09:00", "to": "21:00"}
FLOW_CASES = {
    "not an object": [],
    "missing name, edges": {"nodes": []},
    "name too long, unknown key, wrong format": {**flow(), "name": "я" * 201, "extra": 1, "format": "x"},
    "empty name": {**flow(), "name": ""},
    "too many nodes": {**flow(), "nodes": [slack(f"n{i}") for i in range(201)]},
    "bad node id": flow(slack("a b")),
    "version below one": {**flow(), "version": 0},
    "settings": flow(
        settings={"frequency": {"per": "someone", "limit": 1, "window_hours": 100000}, "send_window": WINDOW}
    ),
    "days": flow(settings={"send_window": {**WINDOW, "days": [1, 1, 2, 3, 4, 5, 6, 7]}}),
    "alert share": flow(settings={"alert": {"failure_share": 0, "connection": "c1"}}),
    "no days": flow(settings={"send_window": {**WINDOW, "days": [], "timezone": ""}}),
    "window": flow(settings={"send_window": {"from": "21:00", "to": "09:00", "timezone": "Mars/Base"}}),
    "amount as words": flow(node("big", "condition.order_price", operator="bogus", value="десять тысяч"), slack()),
    "days out of range": {**flow(), "nodes": [node("start", "event.order_days_since_created", days=-1), slack()]},
    "days too many": {**flow(), "nodes": [node("start", "event.order_days_since_created", days=99999), slack()]},
    "required, unknown param": flow(node("hook", "action.slack", webhook_url="https://h.example/x", colour=1)),
    "webhook url": flow(node("hook", "action.webhook", url="ftp://example.com/x")),
    "secret url": flow(slack(webhook_url="ftp://hooks.example/SECRET-123")),
    "secret type": flow(slack(webhook_url=12345)),
    "secret too short": flow(node("t", "action.telegram", bot_token="", chat_id="1", text="x")),
    "secret too long": flow(node("sms", "action.sms", provider="smsru", api_id="s" * 300, text="x")),
    "many headers": flow(
        node("hook", "action.webhook", url="https://h.example/", headers={f"X-H{i}": "v" for i in range(60)})
    ),
    "statuses repeated": flow(node("st", "condition.order_status", operator="in", value=["А", "А"]), slack()),
    "no statuses": flow(node("st", "condition.order_status", operator="in", value=[]), slack()),
    "duplicate id, unknown type, newer version": flow(
        slack("hook"), slack("hook"), node("x", "action.nothing"), {**slack("v"), "version": 99}
    ),
    "variables": jinja("{clent_name} {zzzz_qqqq}"),
    "jinja names": jinja("{{ foo }} {{ order._secret }} {{ order['_x'] }} {{ self }}"),
    "jinja filters": jinja("{{ order|nofilter }} {{ order|attr('_x') }} {% if order is nosuchtest %}{% endif %}"),
    "jinja include": jinja("{% include 'x' %}"),
    "jinja loops": jinja("{% for a in [1] %}{% for b in [1] %}{% for c in [1] %}{% endfor %}{% endfor %}{% endfor %}"),
    "jinja syntax": jinja("{{ order.price }"),
    "jinja brackets": jinja("{{ " + "(" * 30 + "1" + ")" * 30 + " }}"),
    "jinja nesting": jinja(DEEP_NOT),
    "no event, no action": {"name": "x", "nodes": [node("c", "condition.order_price", operator="gt", value=1)], "edges": []},
    "unreachable": {**flow(), "edges": []},
    "second event": {
        **flow(),
        "nodes": [node("start", "event.order_created"), node("e2", "event.visit_created"), slack(), slack("lone")],
        "edges": [{"from": "start", "to": "hook"}],
    },
    "edges": {
        **flow(),
        "nodes": [node("start", "event.order_created"), node("c", "condition.order_price", operator="gt", value=1), slack()],
        "edges": [
            {"from": "start", "to": "c"},
            {"from": "c", "to": "hook"},
            {"from": "c", "to": "hook"},
            {"from": "hook", "to": "hook"},
            {"from": "ghost", "to": "nobody"},
            {"from": "hook", "to": "start", "branch": "true"},
        ],
    },
    "cycle": {
        **flow(),
        "nodes": [node("start", "event.order_created"), slack("a"), slack("b")],
        "edges": [{"from": "start", "to": "a"}, {"from": "a", "to": "b"}, {"from": "b", "to": "a"}],
    },
    "condition the event cannot have": flow(node("ev", "condition.event_data", path="a", operator="is_empty"), slack()),
    "group inside": flow(
        node("g", "condition.group", mode="any", conditions=[
            {"type": "condition.order_price", "params": {"operator": "gt", "value": "много"}},
            {"type": "condition.nothing", "params": {}},
            {"type": "condition.event_data", "params": {"path": "a", "operator": "is_empty"}},
            {"type": "condition.group", "params": {"mode": "all", "conditions": [{"type": "condition.group", "params": {
                "mode": "all", "conditions": [{"type": "condition.group", "params": {"mode": "all", "conditions": []}}],
            }}]}},
        ]),
        slack(),
        edges=[{"from": "start", "to": "g"}, {"from": "g", "to": "hook", "branch": "maybe"}],
    ),
    "split": flow(
        node("ab", "flow.split", variants=[{"key": "A", "weight": 1}, {"key": "A", "weight": 1}]),
        slack("a"), slack("b"), slack("c"),
        edges=[
            {"from": "start", "to": "ab"}, {"from": "ab", "to": "a"}, {"from": "ab", "to": "b", "branch": "Z"},
            {"from": "ab", "to": "c", "branch": "A"}, {"from": "c", "to": "a", "branch": "A"},
        ],
    ),
}  # fmt: skip
ENABLING_CASES = {"secret not imported": flow(slack(webhook_url="********"))}
PRESET_CASES = {
    "not an object": "x",
    "no name, bad kind": {"name": "", "kind": "other"},
    "bad nodes": {"name": "t", "kind": "action", "nodes": "x"},
    "action preset of two": {"name": "t", "kind": "action", "nodes": [slack("a"), slack("b")]},
    "trigger preset": {"name": "t", "kind": "trigger", "nodes": [slack("a")]},
    "trigger preset edges": {
        "name": "t",
        "kind": "trigger",
        "nodes": [node("start", "event.order_created")],
        "edges": [{"from": "start", "to": "nowhere"}],
    },
    "trigger preset condition": {
        "name": "t",
        "kind": "trigger",
        "nodes": [node("start", "event.order_created"), node("ev", "condition.event_data", path="a", operator="is_empty")],
    },
}  # fmt: skip


# the failure alert's connection is checked against the stored ones (a real SQLite database)
ALERT_CONNECTIONS = {"hook": "webhook", "tg": "telegram", "mail": "smtp"}
ALERT_CASES = {
    "alert: no such connection": {"alert": {"connection": "gone"}},
    "alert: a webhook connection": {"alert": {"connection": "hook"}},
    "alert: telegram without a chat": {"alert": {"connection": "tg"}},
    "alert: e-mail without an address": {"alert": {"connection": "mail"}},
}


def alert_problems() -> list[tuple[str, dict]]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from plugin.engine import alerts
    from plugin.storage.models import Base, Connection

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(
            Connection(id=i, name=f"Связь {i}", type=t, params={}) for i, t in ALERT_CONNECTIONS.items()
        )
        session.commit()
        out = [(label, p) for label, doc in ALERT_CASES.items() for p in alerts.problems(session, doc)]
    engine.dispose()
    return out


def all_problems() -> list[tuple[str, dict]]:
    out = alert_problems()
    for label, doc in FLOW_CASES.items():
        out += [(label, p) for p in validation.validate_flow(doc, REGISTRY)]
    for label, doc in ENABLING_CASES.items():
        out += [(label, p) for p in validation.validate_flow(doc, REGISTRY, enabling=True)]
    for label, doc in PRESET_CASES.items():
        out += [(f"preset: {label}", p) for p in validation.validate_preset(doc, REGISTRY)]
    return out


PROBLEMS = all_problems()


# ---- what Russian may contain besides Russian -------------------------------------------------

# the UI's own Russian titles of nodes, fields and options (some are product names: Slack, SMTP-сервер)
UI_TITLES = sorted(
    {
        title
        for spec in REGISTRY.catalog()
        for title in [spec.title["ru"], *(p.get("title") for p in spec.properties.values())]
        if isinstance(title, str)
    },
    key=len,
    reverse=True,
)
ALLOWED_WORDS = {"JSON"}
QUOTED = re.compile(r"«[^«»]*»")


def english_words(text: str) -> list[str]:
    """Latin words left in ``text`` once values, identifiers and the UI's titles are taken out."""
    while QUOTED.search(text):  # «values», «identifiers», nested «…«…»…» from the inside out
        text = QUOTED.sub(" ", text)
    for title in UI_TITLES:
        text = text.replace(title, " ")
    text = re.sub(r"\{[^{}]*\}", " ", text)  # {variables}
    text = re.sub(r"\S*[/_.:]\S*", " ", text)  # paths, ids, URLs, dotted names
    return [w for w in re.findall(r"[A-Za-z]+", text) if w not in ALLOWED_WORDS]


# ---- the tests --------------------------------------------------------------------------------


def test_every_error_path_of_the_validator_is_taken():
    hit = {p["message"].code for _, p in PROBLEMS if isinstance(p["message"], Message)}
    hit |= {
        "schema|secret." + code.split(".", 1)[1] for code in hit if code.startswith(("schema.", "secret."))
    }
    missing = expected_codes() - hit
    assert not missing, f"no case takes these paths: {sorted(missing)}"


def test_every_problem_is_a_message_with_a_code():
    plain = [(label, p) for label, p in PROBLEMS if not isinstance(p["message"], Message)]
    assert not plain


def test_no_validator_message_is_a_bare_string():
    """Every "message" of a problem in the validator's modules is built by msg() (or passed on)."""
    bare = []
    for module in VALIDATOR_MODULES:
        for item in ast.walk(ast.parse((ROOT / module).read_text(encoding="utf-8"))):
            if isinstance(item, ast.Dict):
                for key, value in zip(item.keys, item.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "message":
                        ok = isinstance(value, ast.Name) or (
                            isinstance(value, ast.Call)
                            and getattr(value.func, "id", "") in ("msg", "Message", "_message")
                        )
                        if not ok:
                            bare.append(f"{module}:{item.lineno}")
    assert not bare


@pytest.mark.parametrize(
    "label, problem", PROBLEMS, ids=[f"{i}-{label}" for i, (label, _) in enumerate(PROBLEMS)]
)
def test_russian_is_russian_and_english_is_complete(label, problem):
    message = problem["message"]
    english, russian = render(message, "en"), render(message, "ru")
    assert english == str(message) and len(english) > 5
    assert catalogue.say(message.code, {**message.args, "field": "x"}) is not None, message.code
    assert russian != english and re.search("[а-яё]", russian, re.IGNORECASE), (message.code, russian)
    assert not english_words(russian), (message.code, russian, english_words(russian))
    assert "SECRET-123" not in russian and "SECRET-123" not in english


def test_the_issue_s_examples_read_as_promised():
    said = {render(p["message"], "ru") for _, p in PROBLEMS}
    assert "Текст сообщения: неизвестная переменная {clent_name} — может быть, {client_name}?" in said
    assert "Сумма: нужно число, а не «десять тысяч»" in said
    assert any(
        s.startswith("Условие «Данные события» работает только с событием «Пользовательское событие»")
        for s in said
    )
    assert any(
        "нужен адрес, который начинается с http:// или https://" in s and "секретное" in s for s in said
    )
    assert "В сценарии должно быть ровно одно событие, а это второе — удалите лишнее" in said


def test_every_code_in_the_code_base_has_a_russian_text():
    codes = set().union(*(_codes_in(str(p.relative_to(ROOT))) for p in (ROOT / "plugin").rglob("*.py")))
    missing = sorted(c for c in codes if c not in catalogue.CATALOGUE)
    assert not missing
