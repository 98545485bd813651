"""Registry lint: every node pairs a module with a valid, bilingual, example-checked JSON Schema."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from plugin import registry
from plugin.engine.variables import VARIABLE_NAMES

FORMATS = Draft202012Validator.FORMAT_CHECKER
ESCAPES = {"text", "html", "slack", "telegram", "sms"}
WIDGETS = {
    "textarea",
    "html",
    "password",
    "status-list",
    "headers",
    "hidden",
    "connection",
    "conditions",
    "variants",
}
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
ROISTAT_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")

TEXT_CONDITION = {"operator", "value", "case_sensitive"}
NUMERIC = {"operator", "value"}
# type -> (param names, required params): SPEC §3.1–3.3; the param names are part of the flow format.
SPEC_PARAMS: dict[str, tuple[set[str], set[str]]] = {
    "event.visit_created": (set(), set()),
    "event.order_created": (set(), set()),
    "event.order_status_changed": ({"to", "from"}, set()),
    "event.order_days_since_created": ({"days", "catch_up_hours"}, {"days"}),
    "event.order_days_since_paid": ({"days", "catch_up_hours"}, {"days"}),
    "event.custom": ({"name"}, set()),
    "condition.visit_city": (TEXT_CONDITION, {"operator"}),
    "condition.visit_country": (TEXT_CONDITION, {"operator"}),
    "condition.visit_ip": (TEXT_CONDITION, {"operator"}),
    "condition.visit_referrer": (TEXT_CONDITION, {"operator"}),
    "condition.visit_domain": (TEXT_CONDITION, {"operator"}),
    "condition.visit_landing_page": (TEXT_CONDITION, {"operator"}),
    "condition.visit_marker": (TEXT_CONDITION, {"operator"}),
    "condition.visit_utm": (TEXT_CONDITION | {"tag"}, {"operator", "tag"}),
    "condition.visit_roistat_param": (TEXT_CONDITION | {"index"}, {"operator", "index"}),
    "condition.client_orders_count": (NUMERIC, NUMERIC),
    "condition.order_status": (NUMERIC, NUMERIC),
    "condition.order_created_age": (NUMERIC, NUMERIC),
    "condition.order_paid_age": (NUMERIC, NUMERIC),
    "condition.order_price": (NUMERIC, NUMERIC),
    "condition.event_data": (TEXT_CONDITION | {"path"}, {"path", "operator"}),
    # SPEC §11: the custom fields of the order and of the client, operators as condition.event_data
    "condition.order_field": (TEXT_CONDITION | {"path"}, {"path", "operator"}),
    "condition.client_field": (TEXT_CONDITION | {"path"}, {"path", "operator"}),
    "action.slack": ({"text", "webhook_url"}, {"text", "webhook_url"}),
    # secret_headers: the headers marked «секрет» (issue #16), beside the SPEC §3.3 names
    "action.webhook": ({"url", "method", "headers", "secret_headers", "signing_secret"}, {"url"}),
    "action.sms": (
        {"provider", "api_id", "account_sid", "auth_token", "sender", "text", "base_url"},
        {"provider", "text"},
    ),
    "action.email": (
        {
            "smtp_host",
            "smtp_port",
            "security",
            "username",
            "password",
            "from_email",
            "from_name",
            "subject",
            "html",
        },
        {"smtp_host", "from_email", "subject", "html"},
    ),
    "action.crm_task": (
        {"crm", "base_url", "token", "text", "deadline_days", "responsible_user_id"},
        {"crm", "base_url", "text"},
    ),
    "action.telegram": ({"bot_token", "chat_id", "text", "base_url"}, {"bot_token", "chat_id", "text"}),
    "flow.delay": ({"amount", "unit"}, {"amount", "unit"}),
    # SPEC §11 journey nodes
    "condition.group": ({"mode", "conditions"}, {"mode", "conditions"}),
    "flow.split": ({"variants", "sticky"}, {"variants"}),
    "flow.wait_event": (
        {"event", "to_status", "to_group", "name", "per", "timeout"},
        {"event", "per", "timeout"},
    ),
}
SECRETS = {
    "action.slack": {"webhook_url"},
    "action.webhook": {"signing_secret"},
    "action.sms": {"api_id", "auth_token"},
    "action.email": {"password"},
    "action.crm_task": {"base_url", "token"},
    "action.telegram": {"bot_token"},
}
KIND_OF_DIR = {folder: kind for kind, folder in registry.KIND_DIRS.items()}
SCHEMA_FILES = sorted(p for folder in KIND_OF_DIR for p in (registry.SCHEMAS_DIR / folder).glob("*.json"))
MODULE_FILES = sorted(
    p
    for folder in KIND_OF_DIR
    for p in (registry.NODES_DIR / folder).glob("*.py")
    if not p.stem.startswith("_")
)


def type_of(path: Path) -> str:
    return f"{KIND_OF_DIR[path.parent.name]}.{path.stem}"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMATS)


def errors(schema: dict, instance) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(schema).iter_errors(instance)
    ]


schema_files = pytest.mark.parametrize("path", SCHEMA_FILES, ids=type_of)
module_files = pytest.mark.parametrize("path", MODULE_FILES, ids=type_of)


# ---------------------------------------------------------------- the registry as a whole


def test_the_spec_node_set_has_33_types():
    kinds = [t.split(".")[0] for t in SPEC_PARAMS]
    assert len(SPEC_PARAMS) == 33
    assert (kinds.count("event"), kinds.count("condition"), kinds.count("action"), kinds.count("flow")) == (
        6,
        18,
        6,
        3,
    )


def test_every_spec_type_has_a_schema_and_every_schema_is_a_spec_type():
    assert {type_of(p) for p in SCHEMA_FILES} == set(SPEC_PARAMS)


def test_registry_discovers_all_33_nodes_without_problems():
    nodes, problems = registry._discover()
    pending = [
        p
        for p in problems
        if re.fullmatch(r"schemas/actions/\w+\.json has no module nodes/actions/\w+\.py", p)
    ]
    assert [p for p in problems if p not in pending] == []
    if pending:  # action modules are written separately; everything else must already be clean
        pytest.skip("action modules not written yet: " + "; ".join(pending))
    assert set(nodes) == set(SPEC_PARAMS)
    counts = {kind: sum(n.kind == kind for n in nodes.values()) for kind in registry.KIND_DIRS}
    assert counts == {"event": 6, "condition": 18, "action": 6, "flow": 3}
    registry.get_registry.cache_clear()
    try:
        assert len(registry.get_registry()) == 33
        assert registry.schema_problems(registry.get_registry()) == []
    finally:
        registry.get_registry.cache_clear()


# ---------------------------------------------------------------- each schema


@schema_files
def test_schema_is_valid_draft_2020_12_with_identity(path):
    schema = load(path)
    Draft202012Validator.check_schema(schema)
    folder = path.parent.name
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://automation-nodes.dev/schemas/{folder}/{path.stem}.json"
    assert schema["x-type"] == type_of(path)
    assert schema["x-version"] == 1
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False


@schema_files
def test_schema_params_are_exactly_the_spec_names(path):
    """An action also takes ``connection`` (SPEC §11); the params a connection gives are required
    only without one (``{"if": {"required": ["connection"]}, "else": {"required": [...]}}``)."""
    schema = load(path)
    names, required = SPEC_PARAMS[type_of(path)]
    if type_of(path).startswith("action."):
        names = names | {"connection"}
    assert set(schema.get("properties", {})) == names
    without_connection = set(schema.get("required", []))
    for rule in schema.get("allOf", []):
        if rule.get("if") == {"required": ["connection"]}:
            without_connection |= set(rule["else"]["required"])
    assert without_connection == required


@schema_files
def test_connection_rules_name_the_action_params(path):
    """Each ``x-connections`` type holds params of its action; ``connection`` lists those types."""
    schema = load(path)
    rules = schema.get("x-connections") or {}
    if not type_of(path).startswith("action."):
        assert not rules
        return
    assert schema["properties"]["connection"]["x-connection-types"] == list(rules)
    for rule in rules.values():
        assert set(rule["fields"]) <= set(schema["properties"]) - {"connection"}
        assert set(rule["required"]) <= set(rule["fields"])
        for field, value in (rule.get("when") or {}).items():
            assert value in schema["properties"][field]["enum"]


@schema_files
def test_titles_and_descriptions_in_russian_and_english(path):
    schema = load(path)
    for key in ("title", "x-title-en", "description", "x-description-en"):
        assert isinstance(schema.get(key), str) and schema[key].strip(), key
    assert CYRILLIC.search(schema["description"]), "the root description is Russian"
    assert not CYRILLIC.search(schema["x-title-en"] + schema["x-description-en"]), "English is English"
    for name, prop in schema.get("properties", {}).items():
        assert prop.get("title", "").strip() and prop.get("x-title-en", "").strip(), name
        assert ("description" in prop) == ("x-description-en" in prop), name
        assert not CYRILLIC.search(prop["x-title-en"] + prop.get("x-description-en", "")), name


@schema_files
def test_root_examples_validate(path):
    schema = load(path)
    examples = schema.get("examples")
    assert isinstance(examples, list) and examples, "at least one complete example"
    for example in examples:
        assert errors(schema, example) == [], example


@schema_files
def test_property_examples_and_defaults_validate(path):
    schema = load(path)
    for name, prop in schema.get("properties", {}).items():
        assert prop.get("examples"), f"{name} has examples"
        for example in prop["examples"]:
            assert errors(prop, example) == [], (name, example)
        if "default" in prop:
            assert errors(prop, prop["default"]) == [], (name, prop["default"])


@schema_files
def test_ui_hints(path):
    schema = load(path)
    for name, prop in schema.get("properties", {}).items():
        if prop.get("x-template"):
            assert prop.get("type") == "string", name
            assert prop.get("x-escape") in ESCAPES, name
        else:
            assert "x-escape" not in prop, name
        if prop.get("x-secret"):
            assert prop.get("type") == "string", f"secret {name} is a string"
            assert "default" not in prop, name
        if "x-widget" in prop:
            assert prop["x-widget"] in WIDGETS, name
        if "enum" in prop:
            titles = prop.get("x-enum-titles")
            assert titles and set(titles) == {"ru", "en"}, f"{name} has x-enum-titles"
            assert len(titles["ru"]) == len(titles["en"]) == len(prop["enum"]), name
    assert {n for n, p in schema.get("properties", {}).items() if p.get("x-secret")} == SECRETS.get(
        type_of(path), set()
    )


@schema_files
def test_template_examples_use_only_known_variables(path):
    schema = load(path)
    fields = [n for n, p in schema.get("properties", {}).items() if p.get("x-template")]
    texts = [e for n in fields for e in schema["properties"][n]["examples"]]
    texts += [example[n] for example in schema["examples"] for n in fields if n in example]
    for text in texts:
        assert set(ROISTAT_VARIABLE.findall(text)) <= VARIABLE_NAMES, text


# ---------------------------------------------------------------- rules the schemas enforce

REJECTED = [
    ("action.sms", {"provider": "smsru", "text": "Привет"}, "smsru needs api_id"),
    ("action.sms", {"provider": "twilio", "account_sid": "AC1", "text": "Hi"}, "twilio needs auth_token"),
    ("action.sms", {"provider": "twilio", "auth_token": "t", "text": "Hi"}, "twilio needs account_sid"),
    ("action.sms", {"provider": "mts", "api_id": "x", "text": "Hi"}, "unknown provider"),
    (
        "action.crm_task",
        {"crm": "amocrm", "base_url": "https://a.amocrm.ru", "text": "x"},
        "amoCRM needs token",
    ),
    (
        "action.email",
        {"smtp_host": "h", "from_email": "a@b.ru", "subject": "Hi\n", "html": "x"},
        "LF in subject",
    ),
    (
        "action.email",
        {"smtp_host": "h", "from_email": "a@b.ru", "subject": "a\r\nBcc: x", "html": "x"},
        "CRLF",
    ),
    (
        "action.email",
        {"smtp_host": "h", "from_email": "a@b.ru", "subject": "s", "html": "x", "from_name": "a\n"},
        "",
    ),
    (
        "action.email",
        {"smtp_host": "h", "from_email": "not-an-email", "subject": "s", "html": "x"},
        "email format",
    ),
    (
        "action.email",
        {"smtp_host": "h", "from_email": "a@b.ru", "subject": "s", "html": "x" * 500001},
        "too big",
    ),
    (
        "action.email",
        {"smtp_host": "h", "from_email": "a@b.ru", "subject": "s", "html": "x", "security": "tls"},
        "",
    ),
    (
        "action.email",
        {"smtp_host": "h", "from_email": "a@b.ru", "subject": "s", "html": "x", "smtp_port": 0},
        "",
    ),
    ("action.telegram", {"bot_token": "t", "chat_id": "x", "text": "hi"}, "chat id is a number or @name"),
    ("action.telegram", {"bot_token": "t", "chat_id": 1, "text": "x" * 4097}, "over 4096"),
    ("action.webhook", {"url": "ftp://example.com"}, "http(s) only"),
    ("action.webhook", {"url": "https://example.com", "method": "PUT"}, "POST or GET"),
    ("action.webhook", {"url": "https://example.com", "headers": {"X-A": 1}}, "header values are strings"),
    (
        "action.webhook",
        {"url": "https://example.com", "headers": {"Bad Header": "x"}},
        "header names are tokens",
    ),
    ("action.slack", {"text": "x"}, "webhook_url required"),
    ("flow.delay", {"amount": 0, "unit": "minutes"}, "at least 1"),
    ("flow.delay", {"amount": 100001, "unit": "minutes"}, "at most 100000"),
    ("flow.delay", {"amount": 1, "unit": "weeks"}, "unit"),
    ("flow.split", {"variants": [{"key": "A", "weight": 100}]}, "at least 2 variants"),
    ("flow.split", {"variants": [{"key": str(i), "weight": 1} for i in range(6)]}, "at most 5 variants"),
    ("flow.split", {"variants": [{"key": "A", "weight": 0}, {"key": "B", "weight": 1}]}, "weights > 0"),
    ("flow.split", {"variants": [{"key": " A", "weight": 1}, {"key": "B", "weight": 1}]}, "trimmed keys"),
    ("flow.split", {"variants": [{"key": "A", "weight": 1}, {"key": "B", "weight": 1}], "sticky": "x"}, ""),
    ("condition.group", {"mode": "all", "conditions": []}, "at least one condition"),
    ("condition.group", {"mode": "most", "conditions": [{"type": "condition.visit_city", "params": {}}]}, ""),
    (
        "condition.group",
        {"mode": "all", "conditions": [{"type": "action.slack", "params": {}}]},
        "conditions",
    ),
    ("event.order_days_since_created", {"days": 3651}, "days ≤ 3650"),
    ("event.order_days_since_paid", {"days": -1}, "days ≥ 0"),
    ("event.order_days_since_paid", {"days": 1, "catch_up_hours": 8761}, "catch-up ≤ a year"),
    ("event.order_days_since_created", {}, "days required"),
    ("event.order_status_changed", {"to": "Оплачено"}, "to is a list"),
    ("event.visit_created", {"extra": 1}, "no extra params"),
    ("condition.visit_city", {"operator": "equals"}, "equals needs a value"),
    ("condition.visit_city", {"operator": "gt", "value": "1"}, "text operators only"),
    ("condition.visit_utm", {"operator": "equals", "value": "x"}, "tag required"),
    ("condition.visit_utm", {"tag": "utm_foo", "operator": "equals", "value": "x"}, "known tags"),
    ("condition.visit_roistat_param", {"index": 6, "operator": "equals", "value": "x"}, "index 1–5"),
    ("condition.client_orders_count", {"operator": "equals", "value": 1}, "numeric operators"),
    ("condition.order_status", {"operator": "in", "value": []}, "at least one status"),
    ("condition.order_created_age", {"operator": "older_than_days", "value": -1}, "N ≥ 0"),
    ("condition.order_price", {"operator": "gt", "value": "100"}, "a number"),
    ("condition.event_data", {"path": "amount", "operator": "gt", "value": "100"}, "numeric needs a number"),
    ("condition.event_data", {"path": "a..b", "operator": "is_empty"}, "no empty path segments"),
    ("condition.event_data", {"operator": "is_empty"}, "path required"),
]
ACCEPTED = [
    ("condition.visit_city", {"operator": "is_empty"}),
    ("condition.visit_city", {"operator": "any_of", "value": ["Москва", "Сочи"], "case_sensitive": True}),
    ("condition.order_status", {"operator": "not_in", "value": "Оплачено, Отменено"}),
    ("condition.event_data", {"path": "items.0.sku", "operator": "any_of", "value": "A-1, B-2"}),
    ("condition.event_data", {"path": "amount", "operator": "lte", "value": 99.5}),
    ("action.telegram", {"bot_token": "t", "chat_id": "-1001234567890", "text": "hi"}),
    ("action.crm_task", {"crm": "bitrix24", "base_url": "https://p.bitrix24.ru/rest/1/abc/", "text": "x"}),
    (
        "action.email",
        {"smtp_host": "h", "from_email": "a@b.ru", "subject": "Тема {client_name}", "html": "<p/>"},
    ),
    ("event.order_days_since_created", {"days": 0, "catch_up_hours": 0}),
    ("event.custom", {"name": ""}),
]


def schema_of(type_id: str) -> dict:
    kind, name = type_id.split(".")
    return load(registry.SCHEMAS_DIR / registry.KIND_DIRS[kind] / f"{name}.json")


@pytest.mark.parametrize(("type_id", "params", "why"), REJECTED)
def test_schema_rejects(type_id, params, why):
    assert errors(schema_of(type_id), params), why


@pytest.mark.parametrize(("type_id", "params"), ACCEPTED)
def test_schema_accepts(type_id, params):
    assert errors(schema_of(type_id), params) == []


# ---------------------------------------------------------------- each module


@module_files
def test_module_has_a_schema_and_its_kind_hooks(path):
    assert (registry.SCHEMAS_DIR / path.parent.name / f"{path.stem}.json").exists()
    module = importlib.import_module(f"plugin.nodes.{path.parent.name}.{path.stem}")
    kind = KIND_OF_DIR[path.parent.name]
    for hook in registry.KIND_HOOKS[kind]:
        assert hasattr(module, hook), hook
    one_of = registry.KIND_ONE_OF.get(kind, ())
    assert not one_of or any(hasattr(module, hook) for hook in one_of), one_of
    doc = (module.__doc__ or "").strip()
    assert doc and "\n" not in doc, "a one-line module docstring"


EVENT_TYPES = {t for t in SPEC_PARAMS if t.startswith("event.")}
PAYLOAD_EVENT_TYPES = {
    "visit_created",
    "order_created",
    "order_status_changed",
    "order_days_since_created",
    "order_days_since_paid",
    "custom_event",
}


@pytest.mark.parametrize(
    "type_id", sorted(t for t in SPEC_PARAMS if t.split(".")[0] in ("event", "condition"))
)
def test_event_and_condition_contracts(type_id):
    kind, name = type_id.split(".")
    module = importlib.import_module(f"plugin.nodes.{registry.KIND_DIRS[kind]}.{name}")
    if kind == "event":
        assert module.PAYLOAD_EVENT_TYPE in PAYLOAD_EVENT_TYPES
        assert isinstance(module.TRIGGERS, tuple) and set(module.TRIGGERS) <= PAYLOAD_EVENT_TYPES
        for example in schema_of(type_id)["examples"]:
            assert isinstance(module.matches(example, {"type": module.TRIGGERS[0], "data": {}}), bool)
        if "days" in schema_of(type_id)["properties"]:
            assert module.TIME_FIELD in ("created_at", "paid_at")
    else:
        assert module.EVENTS is None or (
            isinstance(module.EVENTS, frozenset) and module.EVENTS <= EVENT_TYPES
        )
        empty = {"visit": None, "order": None, "client": None, "event": None, "client_orders_count": 0}
        for example in schema_of(type_id)["examples"]:
            assert isinstance(module.evaluate(example, {**empty, "now": None}), bool)


@pytest.mark.parametrize(
    ("params", "seconds"),
    [
        ({"amount": 30, "unit": "minutes"}, 1800),
        ({"amount": 2, "unit": "hours"}, 7200),
        ({"amount": 2, "unit": "days"}, 172800),
        ({"amount": 5}, 300),
        ({"amount": 100000, "unit": "days"}, 8_640_000_000),
    ],
)
def test_delay_seconds(params, seconds):
    from plugin.nodes.flow import delay

    assert delay.delay_seconds(params) == seconds


def test_delay_rejects_an_unknown_unit():
    from plugin.nodes.flow import delay

    with pytest.raises(ValueError, match="'weeks'"):
        delay.delay_seconds({"amount": 1, "unit": "weeks"})


def test_an_invalid_node_schema_is_a_start_up_error_naming_the_file():
    reg = registry.get_registry()
    good = next(iter(reg))
    broken = registry.NodeType(
        type="condition.broken",
        kind="condition",
        version=1,
        schema={"type": "object", "properties": 5},
        module=good.module,
        schema_path="schemas/conditions/broken.json",
    )
    bad = registry.Registry({**reg.nodes, broken.type: broken})
    with pytest.raises(registry.RegistryError) as failure:
        registry.check_schemas(bad)
    [problem] = failure.value.problems
    assert problem.startswith("schemas/conditions/broken.json: not a valid draft 2020-12 schema: "), problem
    registry.check_schemas(reg)  # the real ones are valid
