"""Shared connections (SPEC §11): what each type holds, saving one, and the references to them
from flows and templates (validation, where used, export and import).

A type is declared by the ``x-connections`` rule of its action's schema: the fields it holds,
those it requires, and the discriminator it implies (``when``: an SMS connection of type
``twilio`` means ``provider: twilio``). Nothing here is written by hand per type.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from plugin.engine.schema_problems import pointer
from plugin.engine.schema_problems import schema_problems as _schema_problems
from plugin.engine.schema_problems import without_secrets as _without_secrets
from plugin.errors import Conflict, ValidationFailed, problems_detail
from plugin.messages import msg
from plugin.nodes.base import SECRET_PLACEHOLDER
from plugin.registry import Registry
from plugin.storage import connections as sealed
from plugin.storage.models import Connection, Flow, Preset, new_id, utcnow

Problem = dict[str, str]
TYPES = ("slack", "telegram", "smtp", "smsru", "twilio", "amocrm", "bitrix24", "webhook")


class Kind(NamedTuple):
    """One connection type: the action it serves and its rule from that action's schema."""

    type: str
    action: str
    fields: tuple[str, ...]
    required: tuple[str, ...]
    when: dict

    def schema(self, registry: Registry) -> dict:
        """The JSON Schema of this type's params: the action's own schemas of those fields."""
        props = registry[self.action].properties
        return {
            "type": "object",
            "additionalProperties": False,
            "required": list(self.required),
            "properties": {name: copy.deepcopy(props[name]) for name in self.fields},
        }


def kinds(registry: Registry) -> dict[str, Kind]:
    """Every connection type the registry's actions declare, in :data:`TYPES` order."""
    found: dict[str, Kind] = {}
    for spec in registry.of_kind("action"):
        for name, rule in (spec.schema.get("x-connections") or {}).items():
            found[name] = Kind(
                name,
                spec.type,
                tuple(rule["fields"]),
                tuple(rule.get("required", ())),
                rule.get("when") or {},
            )
    return {name: found[name] for name in sorted(found, key=lambda n: (*TYPES, n).index(n))}


def body_problems(registry: Registry, body: Any, existing: Connection | None) -> list[Problem]:
    """Every problem of a connection body ``{"name", "type", "params"}`` (a PUT: ``existing``)."""
    if not isinstance(body, dict):
        return [{"path": "/", "message": msg("connection.not_object", "a connection must be a JSON object")}]
    problems: list[Problem] = [
        {
            "path": pointer(key),
            "message": msg(
                "schema.unknown_field",
                f"unknown field {key!r} (allowed: name, params, type)",
                key=key,
                allowed="«name», «params», «type»",
            ),
        }
        for key in body
        if key not in ("name", "type", "params", "id")
    ]
    if "id" in body and not isinstance(body["id"], str):
        problems.append(
            {"path": "/id", "message": msg("connection.id", "id must be a string (it is ignored)")}
        )
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200 or len(name) > 200:
        problems.append(
            {
                "path": "/name",
                "message": msg("connection.name", "a connection needs a name of 1–200 characters"),
            }
        )
    types = kinds(registry)
    kind = body.get("type", existing.type if existing is not None else None)
    type_problems = _type_problems(types, kind, existing)
    params = body.get("params")
    if not isinstance(params, dict):
        problems.append(
            {"path": "/params", "message": msg("connection.params", "params must be a JSON object")}
        )
    elif not type_problems:
        problems += _params_problems(registry, types[kind], params, existing)
    return problems + type_problems


def _type_problems(types: dict[str, Kind], kind: Any, existing: Connection | None) -> list[Problem]:
    if not isinstance(kind, str) or kind not in types:
        return [
            {
                "path": "/type",
                "message": msg(
                    "connection.bad_type",
                    f"type must be one of {', '.join(types)}, got {kind!r}",
                    allowed=", ".join(f"«{t}»" for t in types),
                    value=kind,
                ),
            }
        ]
    if existing is not None and kind != existing.type:
        return [
            {
                "path": "/type",
                "message": msg(
                    "connection.type_change",
                    f"the type of a connection cannot change ({existing.type})",
                    type=existing.type,
                ),
            }
        ]
    return []


def _params_problems(
    registry: Registry, kind: Kind, params: dict, existing: Connection | None
) -> list[Problem]:
    schema = kind.schema(registry)
    paths = registry[kind.action].secret_paths(params)
    kept = [p for p in paths if _at(params, p) == SECRET_PLACEHOLDER]
    stored = (existing.params if existing is not None else None) or {}
    # a placeholder keeps the stored secret (not checked against the secret's own schema);
    # with nothing stored it is a secret still to fill in
    check = {k: v for k, v in params.items() if (k,) not in kept}
    schema["required"] = [r for r in schema["required"] if (r,) not in kept]
    blind = frozenset(("under", p) for p in paths)
    problems = _without_secrets(
        _schema_problems(Draft202012Validator(schema), check, ("params",), blind),
        [_at(params, p) for p in paths],
    )
    for path in kept:
        if _at(stored, path) is None:
            problems.append(
                {
                    "path": pointer("params", *path),
                    "message": msg("secret.missing", "this secret is not set: fill it in"),
                }
            )
    return problems


def _at(params: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        params = params.get(part) if isinstance(params, dict) else None
    return params


def save(session: Session, registry: Registry, box, body: Any, row: Connection | None = None) -> Connection:
    """Create (``row`` None) or replace a connection; raises ValidationFailed listing every problem."""
    problems = body_problems(registry, body, row)
    if not problems:
        problems = _name_problems(session, body["name"].strip(), body.get("type") or row.type, row)
    if problems:
        raise ValidationFailed(problems_detail("connection", len(problems)), problems)
    kind = kinds(registry)[body.get("type") or row.type]
    now = utcnow()
    if row is None:
        row = Connection(id=new_id(), type=kind.type, created_at=now)
        session.add(row)
    row.name = body["name"].strip()
    row.params = sealed.seal(registry, box, kind.action, body["params"], row.params)
    row.updated_at = now
    return row


def _name_problems(session: Session, name: str, kind: str, row: Connection | None) -> list[Problem]:
    """A name is unique within its type: an import maps connections by name and type."""
    same = session.query(Connection).filter(Connection.name == name, Connection.type == kind)
    if any(other.id != (row.id if row else None) for other in same):
        return [
            {
                "path": "/name",
                "message": msg(
                    "connection.name_taken",
                    f"a {kind} connection named {name!r} already exists",
                    type=kind,
                    name=name,
                ),
            }
        ]
    return []


def document(registry: Registry, row: Connection, session: Session | None = None) -> dict[str, Any]:
    """A connection as every answer shows it: secrets as the placeholder (and where it is used)."""
    kind = kinds(registry).get(row.type)
    doc = {
        "id": row.id,
        "name": row.name,
        "type": row.type,
        "params": sealed.mask(registry, kind.action, row.params) if kind else {},
        "created_at": row.created_at.isoformat() + "Z",
        "updated_at": row.updated_at.isoformat() + "Z",
    }
    if session is not None:
        doc["used_by"] = used_by(session, row.id)
    return doc


def references(nodes: list[dict]) -> list[tuple[int, str]]:
    """``(node index, connection id)`` of every node that names a connection."""
    return [
        (i, node["params"]["connection"])
        for i, node in enumerate(nodes or [])
        if isinstance(node, dict)
        and isinstance(node.get("params"), dict)
        and isinstance(node["params"].get("connection"), str)
    ]


def alert_reference(settings: Any) -> str | None:
    """The connection a flow's failure alert (``settings.alert``) sends through, if any."""
    alert = settings.get("alert") if isinstance(settings, dict) else None
    ref = alert.get("connection") if isinstance(alert, dict) else None
    return ref if isinstance(ref, str) else None


def used_by(session: Session, connection_id: str) -> dict[str, list[dict]]:
    """The flows (their nodes or their failure alert) and the templates that name this connection."""
    flows = [
        {"id": f.id, "name": f.name}
        for f in session.query(Flow).order_by(Flow.created_at, Flow.id)
        if any(ref == connection_id for _, ref in references(f.definition.get("nodes")))
        or alert_reference(f.definition.get("settings")) == connection_id
    ]
    presets = [
        {"id": p.id, "name": p.name}
        for p in session.query(Preset).order_by(Preset.created_at, Preset.id)
        if any(ref == connection_id for _, ref in references(p.definition.get("nodes")))
    ]
    return {"flows": flows, "presets": presets}


def delete(session: Session, row: Connection) -> None:
    """Delete a connection no flow or template uses; else 409 listing them."""
    users = used_by(session, row.id)
    if users["flows"] or users["presets"]:
        errors = [
            {
                "path": "/id",
                "message": msg(
                    "connection.used_by_flow",
                    f"used by the scenario {f['name']!r} ({f['id']})",
                    name=f["name"],
                ),
                "flow": f,
            }
            for f in users["flows"]
        ] + [
            {
                "path": "/id",
                "message": msg(
                    "connection.used_by_preset",
                    f"used by the template {p['name']!r} ({p['id']})",
                    name=p["name"],
                ),
                "preset": p,
            }
            for p in users["presets"]
        ]
        raise Conflict(
            msg(
                "connection.in_use",
                f"the connection {row.name!r} is used by {len(users['flows'])} scenario(s) and "
                f"{len(users['presets'])} template(s): switch them to another connection first",
                name=row.name,
                flows=len(users["flows"]),
                presets=len(users["presets"]),
            ),
            errors,
        )
    session.delete(row)


def export_list(session: Session, nodes: list[dict], settings: Any = None) -> list[dict]:
    """``[{"id", "name", "type"}]`` of the connections the nodes and the failure alert name (no
    params, no secrets)."""
    out: dict[str, dict] = {}
    alert = alert_reference(settings)
    for ref in [ref for _index, ref in references(nodes)] + ([alert] if alert else []):
        row = session.get(Connection, ref)
        if row is not None and ref not in out:
            out[ref] = {"id": row.id, "name": row.name, "type": row.type}
    return list(out.values())


def map_imported(session: Session, doc: dict, listed: Any, base: str = "") -> tuple[dict, list[Problem]]:
    """An imported document with its connection references mapped to this server's connections:
    by id (when that connection has the listed type), else by name and type. A reference that maps
    to nothing is a problem naming the connection, so an import never makes a flow that cannot send."""
    entries = {c.get("id"): c for c in listed if isinstance(c, dict)} if isinstance(listed, list) else {}
    problems: list[Problem] = []
    out = copy.deepcopy(doc)
    places = [(("nodes", index, "params"), ref) for index, ref in references(out.get("nodes"))]
    alert = alert_reference(out.get("settings"))
    if alert:
        places.append((("settings", "alert"), alert))
    for where, ref in places:
        entry = entries.get(ref) or {"id": ref}
        target = _match(session, entry)
        if target is None:
            problems.append(_unmapped(entry, ref, base + pointer(*where, "connection")))
            continue
        holder = out
        for part in where:
            holder = holder[part]
        holder["connection"] = target.id
    out.pop("connections", None)
    return out, problems


def _unmapped(entry: dict, ref: str, at: str) -> Problem:
    label = f"{entry.get('name')!r} ({entry.get('type')}, id {ref})" if entry.get("name") else repr(ref)
    return {
        "path": at,
        "message": msg(
            "connection.not_here",
            f"the connection {label} does not exist here: create it under that "
            f"name (or pick another) and import again",
            name=entry.get("name") or ref,
        ),
        "connection": {k: entry.get(k) for k in ("id", "name", "type")},
    }


def _match(session: Session, entry: dict) -> Connection | None:
    row = session.get(Connection, entry.get("id")) if isinstance(entry.get("id"), str) else None
    if row is not None and (entry.get("type") in (None, row.type)):
        return row
    name, kind = entry.get("name"), entry.get("type")
    if not isinstance(name, str):
        return None
    query = session.query(Connection).filter(Connection.name == name.strip())
    if isinstance(kind, str):
        query = query.filter(Connection.type == kind)
    return query.order_by(Connection.created_at).first()
