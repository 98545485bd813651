"""JSON Schema errors as problems a person reads: each with its JSON pointer, the field's human
name (the schema's ``title`` / ``x-title-en``) and a message code (:mod:`plugin.messages`).

A problem at or under a secret's path never quotes the value (jsonschema would); the English text
stays jsonschema's own, the other languages say what is expected.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from plugin.masking import mask, strings_in
from plugin.messages import Message, Tr, msg
from plugin.nodes.base import SECRET_PLACEHOLDER

Problem = dict[str, str]

# the flow document's own fields have no titles in flow.json: their human names
FIELD_NAMES = {
    "name": Tr(ru="Название", en="name"),
    "nodes": Tr(ru="Узлы", en="nodes"),
    "edges": Tr(ru="Связи", en="edges"),
    "settings": Tr(ru="Настройки сценария", en="settings"),
    "enabled": Tr(ru="Статус", en="enabled"),
    "description": Tr(ru="Описание", en="description"),
    "type": Tr(ru="Тип узла", en="type"),
    "params": Tr(ru="Параметры узла", en="params"),
    "from": Tr(ru="Начало", en="from"),
    "to": Tr(ru="Конец", en="to"),
    "branch": Tr(ru="Ветка", en="branch"),
    "position": Tr(ru="Положение на схеме", en="position"),
    "limit": Tr(ru="Сколько раз", en="limit"),
    "per": Tr(ru="Считать для", en="per"),
    "window_hours": Tr(ru="За сколько часов", en="window_hours"),
    "days": Tr(ru="Дни недели", en="days"),
    "timezone": Tr(ru="Часовой пояс", en="timezone"),
    "kind": Tr(ru="Вид шаблона", en="kind"),
    "failure_share": Tr(ru="Доля ошибок", en="failure_share"),
    "id": Tr(ru="Код", en="id"),
    "version": Tr(ru="Версия", en="version"),
    "format": Tr(ru="Формат", en="format"),
}


def pointer(*parts: Any) -> str:
    out = ""
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out or "/"


def field_name(schema: Any, path: tuple) -> Tr:
    """The human name of the field at ``path`` whose schema is ``schema``."""
    names = [p for p in path if not isinstance(p, int)]
    key = str(names[-1]) if names else ""
    if isinstance(schema, dict) and isinstance(schema.get("title"), str):
        return Tr(ru=schema["title"], en=schema.get("x-title-en") or schema["title"])
    if key in FIELD_NAMES:
        return FIELD_NAMES[key]
    return Tr(ru=f"Поле «{key}»" if key else "Документ", en=key or "document")


def shown(value: Any, limit: int = 80) -> str:
    """A value quoted for a message, cut to ``limit`` characters."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return "«" + (text if len(text) <= limit else text[: limit - 1] + "…") + "»"


def _json_type(value: Any) -> str:
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "null"


def _english(error: ValidationError) -> str:
    if error.validator in ("enum", "const"):
        return f"{error.instance!r} is not one of the allowed values {error.validator_value!r}"
    return error.message


def _enum_titles(schema: dict, lang: str) -> list[str]:
    values = schema.get("enum") or ([schema["const"]] if "const" in schema else [])
    titles = (schema.get("x-enum-titles") or {}).get(lang)
    if isinstance(titles, list) and len(titles) == len(values):
        return [str(t) for t in titles]
    return [str(v) for v in values]


def _message(error: ValidationError, path: tuple, *, secret: bool = False) -> Message:
    """The message of one schema error: English as jsonschema says it (a secret's without the
    value), and the code and arguments of the other languages."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    args: dict[str, Any] = {"field": field_name(schema, path), "expected": error.validator_value}
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        args["field"] = field_name((schema.get("properties") or {}).get(missing), (*path, missing))
    elif kind in ("enum", "const"):
        args["allowed"] = Tr(
            ru=", ".join(f"«{t}»" for t in _enum_titles(schema, "ru")),
            en=", ".join(f"'{t}'" for t in _enum_titles(schema, "en")),
        )
    if not secret:
        if isinstance(error.instance, str | int | float | bool):
            args["value"] = shown(error.instance)
        elif kind == "type":
            args["given"] = _json_type(error.instance)
        if kind == "maxLength" and isinstance(error.instance, str):
            args["length"] = len(error.instance)
        return msg(f"schema.{kind}", _english(error), **args)
    return msg(f"secret.{kind}", _blind_english(error), **args)


def _blind_english(error: ValidationError) -> str:
    """What is wrong with a secret's value, without the value (which jsonschema would quote)."""
    expected = error.validator_value
    messages = {
        "type": lambda: (
            f"must be of type {' or '.join(expected) if isinstance(expected, list) else expected}"
        ),
        "minLength": lambda: f"must be at least {expected} characters long",
        "maxLength": lambda: f"must be at most {expected} characters long",
        "pattern": lambda: f"does not match the pattern {expected!r}",
        "format": lambda: f"is not a valid {expected}",
        "enum": lambda: "is not one of the allowed values",
        "const": lambda: "is not the allowed value",
    }
    said = messages.get(error.validator, lambda: f"is not valid ({error.validator})")()
    return f"{said} (a secret: the value is not repeated here)"


def without_secrets(problems: list[Problem], secrets: list[Any]) -> list[Problem]:
    """jsonschema quotes the offending value ("'ftp://…/T1/B1/xyz' does not match …"): not a secret's,
    in any spelling (a secret with the wrong JSON type is a secret still: every string in it)."""
    values = [v for v in strings_in(secrets) if v and v != SECRET_PLACEHOLDER]
    if not values:
        return problems
    for problem in problems:
        english = str(problem["message"])
        for value in sorted(values, key=len, reverse=True):
            english = english.replace(repr(value), repr(SECRET_PLACEHOLDER))
        english = mask(english, values)
        message = problem["message"]
        problem["message"] = message.hiding(values, english) if isinstance(message, Message) else english
    return problems


def _is_secret(path: tuple, secret: frozenset) -> bool:
    """Whether a problem at ``path`` is about a secret: ``secret`` holds ("under", path) for a
    secret and everything in it, ("at", path) for that one place."""
    return any(path[: len(p)] == p if how == "under" else path == p for how, p in secret)


def schema_problems(
    validator: Draft202012Validator, instance: Any, base: tuple, secret: frozenset = frozenset()
) -> list[Problem]:
    """Every schema problem; one at or under a path in ``secret`` never quotes the value."""
    problems = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        problems.extend(_flatten(error, base, secret))
    return problems


def _flatten(error: ValidationError, base: tuple, secret: frozenset = frozenset()) -> list[Problem]:
    # For anyOf/oneOf the most useful message is the best sub-error, not "is not valid under any"
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = max(error.context, key=lambda e: len(e.absolute_path))
        return _flatten(best, base, secret)
    rel = tuple(error.absolute_path)
    path = base + rel
    if _is_secret(rel, secret):
        return [{"path": pointer(*path), "message": _message(error, rel, secret=True)}]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # Point at each unexpected key itself, not at the object that holds it
        extras = _unexpected_keys(error.instance, error.schema)
        if extras:
            allowed = ", ".join(sorted(error.schema.get("properties", {}))) or "none"
            return [
                {
                    "path": pointer(*path, key),
                    "message": msg(
                        "schema.unknown_field",
                        f"unknown field {key!r} (allowed: {allowed})",
                        key=key,
                        allowed=", ".join(f"«{k}»" for k in sorted(error.schema.get("properties", {}))),
                    ),
                }
                for key in extras
            ]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path = path + ((missing,) if missing else ())
    return [{"path": pointer(*path), "message": _message(error, rel)}]


def _unexpected_keys(instance: dict, schema: dict) -> list[str]:
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)]
