"""Templates (SPEC §4): Roistat ``{variables}`` plus sandboxed Jinja2, escaped per channel.

Only ``{name}`` with a bare lower-case identifier inside is a Roistat variable; every other brace
is literal text. Values are substituted after parsing, so data can never become template code.
Jinja2 runs in an immutable sandbox with bounded ranges, bounded output and a time budget; it
(and the sandbox) is imported by the first template that uses it, so a worker whose templates are
plain text or Roistat variables never loads it.
"""

from __future__ import annotations

import difflib
import html
import json
import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from plugin.engine.variables import VARIABLE_NAMES, resolve
from plugin.messages import Message, Tr, msg

if TYPE_CHECKING:
    from jinja2 import nodes

    from plugin.engine import sandbox, sandbox_limits

ROISTAT_VAR = re.compile(r"(?<!\{)\{([a-z][a-z0-9_]*)\}(?!\})")
JINJA_MARKERS = ("{{", "{%")
JINJA_NAMES = frozenset({"visit", "order", "client", "event", "roistat", "loop", "range", "now"})

MAX_OUTPUT = 512 * 1024
MAX_LOOP_DEPTH = 2
TIME_BUDGET = 0.5
MAX_BRACKETS = 24
"""Brackets open at once: Jinja's parser recurses about 13 frames deep per bracket."""
MAX_NESTING = 40
"""Levels of the parsed template: its compiler and our checks recurse once or more per level."""
_OVERRUN = 0.05
"""How long past its budget a render runs before the watchdog interrupts it (the sandbox's own
checks between operations usually stop it first, with the same message)."""


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


@cache
def _env() -> sandbox.Sandbox:
    """The one sandboxed environment (jinja2 is imported here, at the first Jinja template)."""
    from jinja2 import ChainableUndefined

    from plugin.engine import sandbox

    return sandbox.Sandbox(
        undefined=ChainableUndefined,
        autoescape=False,
        # "{#" appears in CSS selectors (``a{#x}``): comments use a spelling nobody writes by accident
        comment_start_string="{##",
        comment_end_string="##}",
        keep_trailing_newline=True,
    )


def uses_jinja(template: str) -> bool:
    return any(marker in template for marker in JINJA_MARKERS)


def check(template: str, field: Tr | None = None) -> list[Message]:
    """Every problem with a template, for save-time validation (empty list = fine); ``field``
    (the field's human name) goes into the messages' Russian."""
    where = {"field": field or Tr(ru="Шаблон", en="template")}
    problems = []
    for name in ROISTAT_VAR.findall(template):
        if name not in VARIABLE_NAMES:
            close = difflib.get_close_matches(name, sorted(VARIABLE_NAMES), n=1, cutoff=0.75)
            if close:
                problems.append(
                    msg(
                        "template.unknown_variable_close",
                        f"unknown variable {{{name}}}; did you mean {{{close[0]}}}?",
                        name=name,
                        close=close[0],
                        **where,
                    )
                )
            else:
                problems.append(
                    msg("template.unknown_variable", f"unknown variable {{{name}}}", name=name, **where)
                )
    if uses_jinja(template):
        problems += _jinja_problems(template, where)
    return problems


def _jinja_problems(template: str, where: dict) -> list[Message]:
    from jinja2 import TemplateSyntaxError, meta

    try:
        ast = parse(ROISTAT_VAR.sub(_to_jinja, template))
    except TemplateError as exc:
        said = exc.args[0]  # parse() raises every refusal as a Message
        return [Message(said.code, said, **said.args, **where)]
    try:
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError:  # an unknown filter or test, reported below
        undeclared = set()
    problems = [
        msg("template.unknown_name", f"unknown name {name!r} in template expression", name=name, **where)
        for name in sorted(undeclared - JINJA_NAMES)
    ]
    if _loop_depth(ast) > MAX_LOOP_DEPTH:
        problems.append(
            msg(
                "template.loops",
                f"loops nested deeper than {MAX_LOOP_DEPTH} levels",
                limit=MAX_LOOP_DEPTH,
                **where,
            )
        )
    return problems + [Message(m.code, m, **m.args, **where) for m in _reach_problems(ast)]


def parse(source: str) -> nodes.Template:
    """The template's tree, refused (:class:`TemplateError`) when nested too deeply to compile safely.

    Brackets are counted on the tokens first (the lexer does not recurse), so a deep nesting never
    reaches the recursive parser; what else recurses (``not not …``, nested blocks) is bounded on
    the tree, and a parser out of stack before that is refused too: the same answer everywhere.
    """
    from jinja2 import TemplateSyntaxError

    env = _env()
    try:
        open_brackets = 0
        for _, kind, value in env.lex(source):
            if kind == "operator" and value in "([{":
                open_brackets += 1
                if open_brackets > MAX_BRACKETS:
                    raise TemplateError(
                        msg(
                            "template.brackets",
                            f"template nested too deeply: more than {MAX_BRACKETS} brackets open at once",
                            limit=MAX_BRACKETS,
                        )
                    )
            elif kind == "operator" and value in ")]}":
                open_brackets -= 1
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(
            msg(
                "template.syntax",
                f"template syntax error on line {exc.lineno}: {exc.message}",
                line=exc.lineno,
            )
        ) from None
    except RecursionError:
        raise TemplateError(_too_deep()) from None
    if _depth(ast) > MAX_NESTING:
        raise TemplateError(_too_deep())
    return ast


def _too_deep() -> Message:
    return msg(
        "template.nesting", f"template nested too deeply: more than {MAX_NESTING} levels", limit=MAX_NESTING
    )


def _depth(ast: nodes.Node) -> int:
    """How deep the tree is, counted without recursion (stops a level past :data:`MAX_NESTING`)."""
    deepest, stack = 0, [(ast, 1)]
    while stack and deepest <= MAX_NESTING:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node.iter_child_nodes())
    return deepest


def _reach_problems(ast: nodes.Template) -> list[Message]:
    """What a template may not reach: private attributes, other templates, unknown filters."""
    from jinja2 import nodes

    env = _env()
    problems: list[Message] = []
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
            problems.append(
                msg("template.private", f"private attribute {node.attr!r} is not accessible", name=node.attr)
            )
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            problems.append(
                msg(
                    "template.private",
                    f"private attribute {node.arg.value!r} is not accessible",
                    name=node.arg.value,
                )
            )
        elif isinstance(node, nodes.Filter):
            if node.name not in env.filters:
                problems.append(msg("template.filter", f"unknown filter {node.name!r}", name=node.name))
            elif node.name == "attr" and any(
                isinstance(a, nodes.Const) and str(a.value).startswith("_") for a in node.args
            ):
                problems.append(
                    msg("template.private_attr", "private attribute is not accessible through |attr")
                )
        elif isinstance(node, nodes.Test) and node.name not in env.tests:
            problems.append(msg("template.test", f"unknown test {node.name!r}", name=node.name))
        elif isinstance(node, nodes.Name) and node.name == "self" and node.ctx == "load":
            problems.append(msg("template.self", "'self' is not available in templates"))
        elif isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            problems.append(
                msg("template.include", "templates cannot include, import or extend other templates")
            )
    return list(dict.fromkeys(problems))


def _loop_depth(node: nodes.Node) -> int:
    from jinja2 import nodes

    inner = max((_loop_depth(child) for child in node.iter_child_nodes()), default=0)
    return inner + 1 if isinstance(node, nodes.For) else inner


def _to_jinja(match: re.Match) -> str:
    name = match.group(1)
    return "{{ roistat[" + repr(name) + "] }}" if name in VARIABLE_NAMES else match.group(0)


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


def _finalizer(escape: Callable[[str], str], budget: sandbox_limits.Budget) -> Callable[[Any], str]:
    from plugin.engine import sandbox_limits

    def finalize(value: Any) -> str:
        return escape(sandbox_limits.printed(value, budget))

    return finalize


def _render_jinja(template: str, context: dict[str, Any], escape: Callable[[str], str]) -> str:
    """The render, interrupted by the watchdog if one operation runs long past the time budget.

    The template is parsed first, outside the deadline: parsing is bounded by the template's size
    and nesting, and a template nested too deeply is refused as such however busy the machine
    (under load the deadline fired first and named the wrong cause)."""
    from plugin.engine import watchdog

    tree = parse(ROISTAT_VAR.sub(_to_jinja, template))
    try:
        with watchdog.deadline(TIME_BUDGET + _OVERRUN):
            return _render_bounded(tree, context, escape)
    except watchdog.Overrun:
        raise TemplateError(
            f"template refused by the sandbox: rendering took longer than {TIME_BUDGET} s"
        ) from None


def _render_bounded(tree: nodes.Template, context: dict[str, Any], escape: Callable[[str], str]) -> str:
    from jinja2.sandbox import SecurityError

    from plugin.engine import sandbox_limits

    budget = sandbox_limits.Budget(TIME_BUDGET, MAX_OUTPUT)
    env = _env().overlay(finalize=_finalizer(escape, budget))
    token = sandbox_limits.start(budget)
    try:
        compiled = env.from_string(tree)
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
    except Exception as exc:  # noqa: BLE001 - UndefinedError, TypeError, ZeroDivisionError, MemoryError in user expressions
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}"[:500]) from None
    finally:
        sandbox_limits.stop(token)
    return "".join(parts)
