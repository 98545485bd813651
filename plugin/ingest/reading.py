"""Strict JSON reading for ingestion and the API: RFC 8259 JSON that a database can store.

``strict_loads`` is the one reader of request bodies (the Flask views, through
``plugin.api.common``, and the lean ingestion path); ``text_problems`` names every string that
PostgreSQL cannot store, and ``unicode_problem`` / ``pointer`` are shared with the API's check of
URLs and query strings.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from plugin.errors import ApiProblem, ValidationFailed
from plugin.messages import msg

MAX_DEPTH = 32


class MalformedJson(ApiProblem):
    status = 400
    title = "Malformed JSON"
    slug = "malformed-json"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 would be stored as Infinity, which JSON (and PostgreSQL) refuse
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


# orjson reads an integer beyond 64 bits as a float (which the stdlib keeps exact): a float this
# large sends the body to the stdlib reader
_MAYBE_BIG_INT = 9.2e18


def _shape(value: Any, limit: int) -> tuple[int, bool]:
    """How deep ``value`` nests (a scalar is 1, ``{"a": 1}`` is 2; stops once past ``limit``), and
    whether it holds a float of 9.2e18 or more in magnitude."""
    if type(value) is not dict and type(value) is not list:
        return 1, type(value) is float and not -_MAYBE_BIG_INT < value < _MAYBE_BIG_INT
    big = False
    deepest = 1
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        depth += 1
        for child in item.values() if type(item) is dict else item:
            kind = type(child)
            if kind is dict or kind is list:
                if child:
                    stack.append((child, depth))
            elif kind is float and not -_MAYBE_BIG_INT < child < _MAYBE_BIG_INT:
                big = True
        if item and depth > deepest:  # a child, container or scalar, is one level deeper
            deepest = depth
            if deepest > limit:
                break
    return deepest, big


def strict_loads(raw: bytes | str) -> Any:
    """JSON as RFC 8259 says: no NaN/Infinity, nesting bounded, and text a database can store.

    orjson reads the body first (~2x the stdlib on ingestion batches, and without a Python call
    per float). It refuses NaN, Infinity, numbers out of the double range, lone surrogates, bytes
    that are not UTF-8 and a UTF-8 BOM, and reads integers beyond 64 bits as floats; whatever it
    refuses, and any body in which it read a float of 9.2e18 or more, is read again by the stdlib
    with the rules below, so what is accepted, the values read and the messages of a refusal are
    the stdlib's (``tests/api/test_strict_json.py`` compares the two on generated documents).

    Every string, key or value, must be Unicode scalar values without U+0000 (PostgreSQL stores
    neither a NUL nor a surrogate, in text or jsonb): else a 422 naming each one's JSON pointer.
    What orjson read is valid Unicode already, so only a body holding a ``\\u0000`` escape or
    read by the stdlib (which takes ``\\ud800`` escapes, and here bytes that are not UTF-8, as
    lone surrogates) is walked.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value, bad_bytes = _stdlib_read(raw)
        depth, _big = _shape(value, MAX_DEPTH)
        unchecked = True
    else:
        depth, big = _shape(value, MAX_DEPTH)
        if big:
            value = _stdlib_loads(raw)
        bad_bytes = False
        unchecked = ("\\u0000" if type(raw) is str else b"\\u0000") in raw
    if depth > MAX_DEPTH:
        raise MalformedJson(
            msg("json.too_deep", f"the JSON body is nested deeper than {MAX_DEPTH} levels", max=MAX_DEPTH)
        )
    if unchecked:
        problems = text_problems(value, bad_bytes=bad_bytes)
        if problems:
            raise unstorable(problems)
    return value


def _stdlib_loads(raw: bytes | str) -> Any:
    return _stdlib_read(raw)[0]


def _stdlib_read(raw: bytes | str) -> tuple[Any, bool]:
    """The stdlib's reading, and whether bytes that are not UTF-8 were read as lone surrogates.

    ``json.loads`` decodes UTF-8 with ``surrogatepass`` (CESU-8 surrogates become lone ones) and
    gives up on any other bad byte; here such bytes become U+DC80–U+DCFF (``surrogateescape``),
    so a string holding them is refused with its path, as a lone surrogate is.
    """
    bad_bytes = None
    text = raw
    if isinstance(raw, bytes | bytearray):
        encoding = json.detect_encoding(raw)
        utf8 = encoding.startswith("utf-8")
        try:
            text = raw.decode(encoding, "strict" if utf8 else "surrogatepass")
        except UnicodeDecodeError as exc:
            if not utf8:
                raise _malformed(exc) from None
            text, bad_bytes = raw.decode(encoding, "surrogateescape"), exc
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
        return value, bad_bytes is not None
    except RecursionError:
        raise MalformedJson(msg("json.too_deep_any", "the JSON body is nested too deeply")) from None
    except ValueError as exc:  # a syntax error: told as the bad bytes, when there were some
        raise _malformed(bad_bytes or exc) from None


def _malformed(exc: Exception) -> MalformedJson:
    where = {"line": getattr(exc, "lineno", None), "column": getattr(exc, "colno", None)}
    return MalformedJson(
        msg("json.malformed", f"the request body is not valid JSON: {exc}", **where),
        [{"path": "/", "message": msg("json.syntax", str(exc), **where)}],
    )


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


_SURROGATE = re.compile("[\ud800-\udfff]+")


def pointer(path: str, key: str) -> str:
    """The JSON pointer of ``key`` under ``path``; a key that is not Unicode shown with U+FFFD, so
    the answer itself is valid UTF-8."""
    return f"{path}/{_escape(_SURROGATE.sub(lambda m: chr(0xFFFD) * len(m.group()), key))}"


def unicode_problem(text: str, bad_bytes: bool) -> str | None:
    """What makes ``text`` not Unicode scalar values, or None."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    run = found.group()
    if bad_bytes and all("\udc80" <= c <= "\udcff" for c in run):  # surrogateescape's bytes
        shown = " ".join(f"{ord(c) - 0xDC00:02X}" for c in run)
        english = f"the bytes {shown} at character {found.start()} are not valid UTF-8"
        return msg("unicode.bytes", english, bytes=shown, at=found.start())
    char = f"U+{ord(run[0]):04X}"
    english = (
        f"the lone surrogate {char} at character {found.start()} is not a Unicode character "
        "(a \\uD800-\\uDFFF escape must be half of a pair)"
    )
    return msg("unicode.surrogate", english, char=char, at=found.start())


def text_problems(value: Any, base: str = "", bad_bytes: bool = False) -> list[dict]:
    """Pointers of every string, key or value, that PostgreSQL cannot store: one holding U+0000, or
    one that is not Unicode scalar values (lone surrogates; ``bad_bytes``: U+DC80–U+DCFF stand for
    bytes that were not UTF-8)."""
    problems, stack = [], [(value, base)]
    while stack:
        item, path = stack.pop()
        if type(item) is str:
            if "\x00" in item:
                said = msg("text.nul", "text cannot contain the NUL character (U+0000)")
                problems.append({"path": path or "/", "message": said})
            if (why := unicode_problem(item, bad_bytes)) is not None:
                said = msg("text.unicode", f"the text is not valid Unicode: {why}", why=why)
                problems.append({"path": path or "/", "message": said})
        elif type(item) is dict:
            for key, child in item.items():
                child_path = pointer(path, key)
                if "\x00" in key:
                    said = msg("key.nul", "a key cannot contain the NUL character (U+0000)")
                    problems.append({"path": child_path, "message": said})
                if (why := unicode_problem(key, bad_bytes)) is not None:
                    said = msg("key.unicode", f"the key is not valid Unicode: {why}", why=why)
                    problems.append({"path": child_path, "message": said})
                stack.append((child, child_path))
        elif type(item) is list:
            stack.extend((child, f"{path}/{i}") for i, child in enumerate(item))
    return sorted(problems, key=lambda p: p["path"])


def unstorable(problems: list[dict]) -> ValidationFailed:
    english = f"{len(problems)} text value(s) cannot be stored; nothing was stored"
    return ValidationFailed(msg("text.unstorable", english, count=len(problems)), problems)
