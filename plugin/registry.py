"""Node registry: pairs every node module with its JSON Schema and checks the pair.

A node exists only when both its module (``plugin/nodes/<dir>/<name>.py``) and its schema
(``plugin/schemas/<dir>/<name>.json``) are present; any unpaired or malformed node is a start-up
error that lists every problem at once.

The schemas' own validity (draft 2020-12) is checked by :func:`schema_problems`, which the API
runs at start-up: jsonschema is imported there and for validators, so a worker, which only reads
its schemas' ``x-`` hints, does not load it.
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

from plugin.nodes.base import secret_keys

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
NODES_DIR = PACKAGE_DIR / "nodes"
SCHEMAS_DIR = PACKAGE_DIR / "schemas"

# kind -> folder name under nodes/ and schemas/
KIND_DIRS = {"event": "events", "condition": "conditions", "action": "actions", "flow": "flow"}
KIND_HOOKS = {
    "event": ("TRIGGERS", "PAYLOAD_EVENT_TYPE", "matches"),
    "condition": ("EVENTS", "evaluate", "prepare", "access"),
    "action": ("execute", "preview"),
    "flow": (),
}
# hooks of which a node of the kind has at least one: a flow node waits (``delay_seconds``) or
# picks the branch to follow (``choose``, with ``branches``: flow.split)
KIND_ONE_OF = {"flow": ("delay_seconds", "choose")}

# The order of SPEC §3 (Roistat's own). The node catalog (GET /api/v1/nodes), plugin.json and so the
# editor's palette list node types by kind (in KIND_DIRS' order) and, within a kind, in this order; a
# type not listed here follows the listed ones of its kind, by id.
CATALOG_ORDER = (
    "event.visit_created",
    "event.order_created",
    "event.order_status_changed",
    "event.order_days_since_created",
    "event.order_days_since_paid",
    "event.custom",
    "condition.visit_city",
    "condition.visit_country",
    "condition.visit_ip",
    "condition.visit_referrer",
    "condition.visit_domain",
    "condition.visit_landing_page",
    "condition.visit_marker",
    "condition.visit_utm",
    "condition.visit_roistat_param",
    "condition.client_orders_count",
    "condition.order_status",
    "condition.order_created_age",
    "condition.order_paid_age",
    "condition.order_price",
    "condition.event_data",
    "condition.order_field",
    "condition.client_field",
    "condition.group",
    "action.slack",
    "action.webhook",
    "action.sms",
    "action.email",
    "action.crm_task",
    "action.telegram",
    "flow.delay",
    "flow.split",
    "flow.wait_event",
)


class RegistryError(Exception):
    """The node folders are inconsistent; ``problems`` lists every one."""

    def __init__(self, problems: list[str]):
        super().__init__("node registry is inconsistent:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class NodeType:
    """One registered node type: its schema (data) and module (behaviour)."""

    type: str
    kind: str
    version: int
    schema: dict[str, Any]
    module: ModuleType = field(repr=False, compare=False)
    schema_path: str = ""

    @property
    def title(self) -> dict[str, str]:
        return {"ru": self.schema.get("title", ""), "en": self.schema.get("x-title-en", "")}

    @property
    def description(self) -> dict[str, str]:
        return {"ru": self.schema.get("description", ""), "en": self.schema.get("x-description-en", "")}

    @property
    def properties(self) -> dict[str, Any]:
        return self.schema.get("properties", {})

    @property
    def template_fields(self) -> dict[str, str]:
        """Param name -> escaping channel, for every ``x-template`` field."""
        return {
            name: prop.get("x-escape", "text")
            for name, prop in self.properties.items()
            if prop.get("x-template")
        }

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(name for name, prop in self.properties.items() if prop.get("x-secret"))

    def secret_paths(self, params: Any) -> tuple[tuple[str, ...], ...]:
        """Where ``params`` hold secrets: every ``x-secret`` field, and the entries of an object
        param with an ``x-secret-keys`` rule that are secret by name or marked by the user."""
        out = [(name,) for name in self.secret_fields]
        params = params if isinstance(params, dict) else {}
        for name, prop in self.properties.items():
            rule, value = prop.get("x-secret-keys"), params.get(name)
            if isinstance(rule, dict) and isinstance(value, dict):
                out += [(name, key) for key in secret_keys(value, rule, params)]
        return tuple(out)

    def branches(self, params: Any) -> tuple[str, ...] | None:
        """The branches this node's outgoing edges may name: a condition's ``true`` / ``false``,
        the module's ``branches(params)`` (a split's variant keys); None: they name none."""
        hook = getattr(self.module, "branches", None)
        if hook is not None:
            return tuple(hook(params if isinstance(params, dict) else {}))
        return ("true", "false") if self.kind == "condition" else None

    def validator(self) -> Draft202012Validator:
        return _validator(self.type)

    def summary(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "kind": self.kind,
            "version": self.version,
            "title": self.title,
            "description": self.description,
        }

    @property
    def events(self) -> list[str] | None:
        """The event types a condition works with (SPEC §3.2), or None: with any event."""
        allowed = getattr(self.module, "EVENTS", None) if self.kind == "condition" else None
        return sorted(allowed) if allowed is not None else None

    def describe(self) -> dict[str, Any]:
        return {**self.summary(), "events": self.events, "schema": self.schema}


class Registry:
    """All node types by id."""

    def __init__(self, nodes: dict[str, NodeType]):
        self.nodes = nodes

    def __contains__(self, type_id: str) -> bool:
        return type_id in self.nodes

    def __getitem__(self, type_id: str) -> NodeType:
        return self.nodes[type_id]

    def get(self, type_id: str) -> NodeType | None:
        return self.nodes.get(type_id)

    def __iter__(self):
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def catalog(self) -> list[NodeType]:
        """Every node type in catalog order: by kind, then SPEC §3 (``CATALOG_ORDER``), then by id."""
        kinds = list(KIND_DIRS)
        rank = {type_id: i for i, type_id in enumerate(CATALOG_ORDER)}
        return sorted(self, key=lambda n: (kinds.index(n.kind), rank.get(n.type, len(rank)), n.type))

    def of_kind(self, kind: str) -> list[NodeType]:
        return [n for n in self.nodes.values() if n.kind == kind]

    def events_for_trigger(self, trigger: str) -> list[NodeType]:
        return [n for n in self.of_kind("event") if trigger in n.module.TRIGGERS]


def _discover() -> tuple[dict[str, NodeType], list[str]]:
    problems: list[str] = []
    nodes: dict[str, NodeType] = {}
    for kind, folder in KIND_DIRS.items():
        module_dir, schema_dir = NODES_DIR / folder, SCHEMAS_DIR / folder
        modules = {p.stem for p in module_dir.glob("*.py") if not p.stem.startswith("_")}
        schemas = {p.stem for p in schema_dir.glob("*.json")}
        for stem in sorted(modules - schemas):
            problems.append(f"nodes/{folder}/{stem}.py has no schema schemas/{folder}/{stem}.json")
        for stem in sorted(schemas - modules):
            problems.append(f"schemas/{folder}/{stem}.json has no module nodes/{folder}/{stem}.py")
        for stem in sorted(modules & schemas):
            rel = f"schemas/{folder}/{stem}.json"
            try:
                schema = json.loads((schema_dir / f"{stem}.json").read_text(encoding="utf-8"))
            except ValueError as exc:
                problems.append(f"{rel}: not valid JSON: {exc}")
                continue
            type_id = f"{kind}.{stem}"
            if schema.get("x-type") != type_id:
                problems.append(f"{rel}: x-type is {schema.get('x-type')!r}, expected {type_id!r}")
            try:
                module = importlib.import_module(f"plugin.nodes.{folder}.{stem}")
            except Exception as exc:  # noqa: BLE001 - a module that fails to import is one listed problem
                problems.append(f"nodes/{folder}/{stem}.py failed to import: {exc!r}")
                continue
            missing = [hook for hook in KIND_HOOKS[kind] if not hasattr(module, hook)]
            one_of = KIND_ONE_OF.get(kind, ())
            if one_of and not any(hasattr(module, hook) for hook in one_of):
                missing.append(" or ".join(one_of))
            if missing:
                problems.append(f"nodes/{folder}/{stem}.py lacks {', '.join(missing)}")
                continue
            nodes[type_id] = NodeType(
                type=type_id,
                kind=kind,
                version=int(schema.get("x-version", 1)),
                schema=schema,
                module=module,
                schema_path=rel,
            )
    return nodes, problems


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    nodes, problems = _discover()
    if problems:
        raise RegistryError(problems)
    return Registry(nodes)


def schema_problems(registry: Registry) -> list[str]:
    """Every schema of ``registry`` that is not a valid draft 2020-12 schema, one line each."""
    from jsonschema import Draft202012Validator

    problems = []
    for node in registry:
        try:
            Draft202012Validator.check_schema(node.schema)
        except Exception as exc:  # noqa: BLE001 - jsonschema.SchemaError and kin: every problem listed at once
            problems.append(f"{node.schema_path}: not a valid draft 2020-12 schema: {exc}")
    return problems


@lru_cache(maxsize=4)
def check_schemas(registry: Registry) -> None:
    """Raise :class:`RegistryError` listing every invalid schema (the API's start-up check; once
    per registry)."""
    problems = schema_problems(registry)
    if problems:
        raise RegistryError(problems)


@cache
def _validator(type_id: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(get_registry()[type_id].schema)
