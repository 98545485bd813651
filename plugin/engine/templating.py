"""Templates (SPEC §4): Roistat ``{variables}`` plus sandboxed Jinja2, escaped per channel.

Only ``{name}`` with a bare lower-case identifier inside is a Roistat variable; every other brace
is literal text. Values are substituted after parsing, so data can never become template code.
Jinja2 runs in an immutable sandbox with bounded ranges, bounded output and a time budget.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SecurityError

from plugin.engine import sandbox
from plugin.engine.variables import VARIABLE_NAMES, resolve

ROISTAT_VAR = re.compile(r"(?<!\{)\{([a-z][a-z0-9_]*)\}(?!\})")
JINJA_MARKERS = ("{{", "{%")
JINJA_NAMES = frozenset({"visit", "order", "client", "event", "roistat", "loop", "range", "now"})

MAX_OUTPUT = 512 * 1024
MAX_RANGE = sandbox.MAX_RANGE
MAX_LOOP_DEPTH = 2
TIME_BUDGET = 0.5


class TemplateError(Exception):
    """A template that cannot be saved or rendered; the message says why."""


def _escape_slack(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


ESCAPERS: dict[str, Callable[[str], str]] = {
    "text": lambda v: v,
    "sms": lambda v: v,
    "html": lambda v: html.escape(v, quote=True),
    "telegram": lambda v: html.escape(v, quote=False),
    "slack": _escape_slack,
    "json": lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
}


def _make_env() -> sandbox.Sandbox:
    return sandbox.Sandbox(
        undefined=ChainableUndefined,
        autoescape=False,
        # "{#" appears in CSS selectors (``a{#x}``): comments use a spelling nobody writes by accident
        comment_start_string="{##",
        comment_end_string="##}",
        keep_trailing_newline=True,
    )


_ENV = _make_env()


def uses_jinja(template: str) -> bool:
    return any(marker in template for marker in JINJA_MARKERS)


def check(template: str) -> list[str]:
    """Every problem with a template, for save-time validation (empty list = fine)."""
    problems = []
    for name in ROISTAT_VAR.findall(template):
        if name not in VARIABLE_NAMES:
            problems.append(f"unknown variable {{{name}}}")
    if uses_jinja(template):
        try:
            ast = _ENV.parse(ROISTAT_VAR.sub(_to_jinja, template))
        except TemplateSyntaxError as exc:
            problems.append(f"template syntax error on line {exc.lineno}: {exc.message}")
            return problems
        try:
            undeclared = meta.find_undeclared_variables(ast)
        except TemplateSyntaxError:  # an unknown filter or test, reported below
            undeclared = set()
        for name in sorted(undeclared - JINJA_NAMES):
            problems.append(f"unknown name {name!r} in template expression")
        if _loop_depth(ast) > MAX_LOOP_DEPTH:
            problems.append(f"loops nested deeper than {MAX_LOOP_DEPTH} levels")
        problems += _reach_problems(ast)
    return problems


def _reach_problems(ast: nodes.Template) -> list[str]:
    """What a template may not reach: private attributes, other templates, unknown filters."""
    problems: list[str] = []
    for node in ast.find_all(
        (
            nodes.Getattr,
            nodes.Getitem,
            nodes.Filter,
            nodes.Test,
            nodes.Name,
            nodes.Include,
            nodes.Import,
            nodes.FromImport,
            nodes.Extends,
        )
    ):
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append(f"private attribute {node.attr!r} is not accessible")
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            problems.append(f"private attribute {node.arg.value!r} is not accessible")
        elif isinstance(node, nodes.Filter):
            if node.name not in _ENV.filters:
                problems.append(f"unknown filter {node.name!r}")
            elif node.name == "attr" and any(
                isinstance(a, nodes.Const) and str(a.value).startswith("_") for a in node.args
            ):
                problems.append("private attribute is not accessible through |attr")
        elif isinstance(node, nodes.Test) and node.name not in _ENV.tests:
            problems.append(f"unknown test {node.name!r}")
        elif isinstance(node, nodes.Name) and node.name == "self" and node.ctx == "load":
            problems.append("'self' is not available in templates")
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            problems.append("templates cannot include, import or extend other templates")
    return list(dict.fromkeys(problems))


def _loop_depth(node: nodes.Node) -> int:
    inner = max((_loop_depth(child) for child in node.iter_child_nodes()), default=0)
    return inner + 1 if isinstance(node, nodes.For) else inner


def _to_jinja(match: re.Match) -> str:
    name = match.group(1)
    return "{{ roistat[%r] }}" % name if name in VARIABLE_NAMES else match.group(0)


def render(template: str, context: dict[str, Any], channel: str = "text") -> str:
    """Render ``template`` for ``context`` ({visit, order, client, event}), escaped for ``channel``."""
    escape = ESCAPERS.get(channel, ESCAPERS["text"])
    if not uses_jinja(template):
        out = ROISTAT_VAR.sub(
            lambda m: escape(resolve(m.group(1), context)) if m.group(1) in VARIABLE_NAMES else m.group(0),
            template,
        )
        if len(out) > MAX_OUTPUT:
            raise TemplateError(f"rendered text is longer than {MAX_OUTPUT} characters")
        return out
    return _render_jinja(template, context, escape)


def _finalizer(escape: Callable[[str], str], budget: sandbox.Budget) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        return escape(sandbox.printed(value, budget))

    return finalize


def _render_jinja(template: str, context: dict[str, Any], escape: Callable[[str], str]) -> str:
    budget = sandbox.Budget(TIME_BUDGET, MAX_OUTPUT)
    env = _ENV.overlay(finalize=_finalizer(escape, budget))
    token = sandbox.start(budget)
    try:
        try:
            compiled = env.from_string(ROISTAT_VAR.sub(_to_jinja, template))
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
        values = {
            "visit": context.get("visit"),
            "order": context.get("order"),
            "client": context.get("client"),
            "event": context.get("event"),
            "roistat": {name: resolve(name, context) for name in VARIABLE_NAMES},
        }
        size, parts = 0, []
        for chunk in compiled.generate(values):
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateError(f"rendered text is longer than {MAX_OUTPUT} characters")
            budget.tick()
    except SecurityError as exc:
        raise TemplateError(f"template refused by the sandbox: {exc}") from None
    except TemplateError:
        raise
    except RecursionError:
        raise TemplateError("template failed: recursion too deep") from None
    except Exception as exc:  # UndefinedError, TypeError, ZeroDivisionError, MemoryError in user expressions
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}"[:500]) from None
    finally:
        sandbox.stop(token)
    return "".join(parts)
