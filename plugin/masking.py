"""Secrets out of everything shown, stored or logged (SPEC §8), in every spelling they take.

One function, :func:`mask`, replaces each known secret value, in any encoding a remote side or a
library may give it, by the placeholder: raw; JSON-escaped (``\\uXXXX``, ``\\/``, the short
escapes, doubly escaped too); URL-encoded (``quote``, ``quote_plus``, every byte percent-encoded,
any mix of these, ``%25``-doubled); HTML character references; base64 (standard and URL-safe, padded
or not, alone or inside a longer blob such as HTTP Basic ``user:secret`` or SMTP ``AUTH PLAIN``,
at any of its three alignments); hex; and, for a secret URL, the parts a remote side may echo alone
(userinfo password, path, long path segments). Values shorter than :data:`MIN_LENGTH` are not
masked: replacing short innocent strings would garble every message and hide nothing.

Secrets seen by the process (opened for a call, saved, validated) are remembered (bounded), so a log
record or a problem body is masked without being told which secrets to look for.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import html
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

SECRET_PLACEHOLDER = "********"  # noqa: S105 - the mask shown instead of a secret
MIN_LENGTH = 6
KNOWN_LIMIT = 2048
INDEX_FROM = 32

_SHORT_JSON = {'"': '"', "\\": "\\\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
_HTML_NAMED = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "(?:apos|#39)"}


def url_parts(secret: str) -> list[str]:
    """The parts of a secret URL a remote side may echo on their own: the userinfo password, the
    path (a Slack or Bitrix24 webhook is secret because of it) and its long segments. Short plain
    words (``services``, ``rest``) are not secrets and are kept."""
    if "://" not in secret:
        return []
    try:
        parts = urlsplit(secret)
        password = parts.password
    except ValueError:
        return []
    out = [password] if password else []
    tail = secret.split(parts.netloc, 1)[-1] if parts.netloc else ""
    if len(tail.strip("/")) >= 8:
        out.append(tail)
        out.append(tail.rstrip("/"))
    out += [seg for seg in parts.path.split("/") if len(seg) >= 16 or (len(seg) >= 8 and not seg.isalpha())]
    return out


def spellings(secrets: Iterable[Any]) -> list[str]:
    """Every string that must be masked for these secrets (URL parts included), longest first."""
    values = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_LENGTH and s != SECRET_PLACEHOLDER}
    values |= {p for s in list(values) for p in url_parts(s) if len(p) >= MIN_LENGTH}
    return sorted(values, key=lambda s: (-len(s), s))


def _hex_ci(digits: bytes | str) -> str:
    """Hex digits (of bytes, or given) matched in either case."""
    text = digits.hex() if isinstance(digits, bytes) else digits
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in text)


def _char(ch: str) -> str:
    """A regex for one character of a secret in any of the text encodings (see the module doc)."""
    alts = [re.escape(ch)]
    raw = ch.encode("utf-8")
    alts.append("".join(f"%(?:25)*{_hex_ci(bytes([b]))}" for b in raw))
    if ch == " ":
        alts.append(r"\+")
    units = ch.encode("utf-16-be")
    alts.append("".join(rf"\\+u{_hex_ci(units[i : i + 2])}" for i in range(0, len(units), 2)))
    if ch in _SHORT_JSON:
        alts.append(r"\\+" + re.escape(_SHORT_JSON[ch]))
    alts.append(rf"&#0*{ord(ch)};")
    alts.append(rf"&#[xX]0*{_hex_ci(format(ord(ch), 'x'))};")
    if ch in _HTML_NAMED:
        alts.append(f"&{_HTML_NAMED[ch]};")
    return "(?:" + "|".join(alts) + ")"


def _base64_forms(secret: str) -> set[str]:
    """The secret in base64 at each alignment inside any longer blob (the characters that depend on
    its bytes alone), and whole: alone, as ``secret:`` and ``:secret`` (HTTP Basic), and in hex."""
    data = secret.encode("utf-8")
    out = {data.hex(), data.hex().upper()}
    for whole in (data, data + b":", b":" + data):
        encoded = base64.b64encode(whole).decode()
        out |= {encoded, encoded.rstrip("=")}
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode()
        start, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
        out.add(encoded[start:end])
    out |= {v.replace("+", "-").replace("/", "_") for v in out}
    return {v for v in out if len(v) >= MIN_LENGTH}


@lru_cache(maxsize=4096)
def _pattern(value: str) -> re.Pattern[str]:
    """The compiled regex of one secret in every text encoding (compiled when first found)."""
    return re.compile("".join(_char(c) for c in value))


@lru_cache(maxsize=4096)
def _literals(value: str) -> tuple[str, ...]:
    return tuple(sorted(_base64_forms(value) - {value}, key=len, reverse=True))


_JSON_ESCAPE = re.compile(r"\\+(?:u([0-9a-fA-F]{4})|([\\/\"bfnrt]))")
_JSON_SHORT = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        return chr(int(m.group(1), 16)) if m.group(1) else _JSON_SHORT.get(m.group(2), m.group(2))

    out = _JSON_ESCAPE.sub(one, text)
    return out.encode("utf-16", "surrogatepass").decode("utf-16", "replace") if out != text else out


def _decoded(text: str) -> set[str]:
    """``text`` and its decodings (JSON escapes, HTML references, percent-encoding with or without
    ``+``, twice for ``%25``): where a secret is looked for before its exact regex is run."""
    forms = {text, _json_unescape(text), html.unescape(text)}
    forms.add(html.unescape(_json_unescape(text)))
    for form in list(forms):
        if "%" in form or "+" in form:
            for unquote_ in (unquote, unquote_plus):
                once = unquote_(form)
                forms |= {once, unquote_(once)}
    return forms


class Masker:
    """The spellings of a set of secrets; :meth:`text` and :meth:`value` replace them.

    A secret is looked for in the decoded forms of a text first (plain substring tests), and only
    when found is its regex, which matches every encoding and any mix of them, run on the text;
    its base64 and hex forms are plain replacements. So a masker costs next to nothing to build
    and to run over text that holds no secret."""

    def __init__(self, secrets: Iterable[str]):
        self.values = spellings(secrets)
        self.literals = sorted({f for v in self.values for f in _literals(v)}, key=len, reverse=True)
        self.empty = not self.values
        # many secrets (a process's known ones): look up candidates by their first characters
        self._by_start: dict[str, list[str]] | None = None
        if len(self.values) > INDEX_FROM:
            self._by_start = {}
            for spelling in self.values + self.literals:
                self._by_start.setdefault(spelling[:MIN_LENGTH], []).append(spelling)

    def _candidates(self, forms: set[str]) -> tuple[list[str], list[str]]:
        if self._by_start is None:
            return self.values, self.literals
        found = {
            spelling
            for form in forms
            for i in range(len(form) - MIN_LENGTH + 1)
            for spelling in self._by_start.get(form[i : i + MIN_LENGTH], ())
        }
        return [v for v in self.values if v in found], [v for v in self.literals if v in found]

    def text(self, text: str) -> str:
        if self.empty or not text:
            return text
        forms = _decoded(text)
        values, literals = self._candidates(forms)
        for value in values:
            if any(value in form for form in forms):
                text = _pattern(value).sub(SECRET_PLACEHOLDER, text)
        for literal in literals:
            if literal in text:
                text = text.replace(literal, SECRET_PLACEHOLDER)
        return text

    def value(self, value: Any) -> Any:
        """``value`` with every string in it (dict keys included) masked; other values as they are."""
        if self.empty:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {(self.text(k) if isinstance(k, str) else k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


@lru_cache(maxsize=512)
def masker(secrets: frozenset[str]) -> Masker:
    return Masker(secrets)


def mask(value: Any, secrets: Iterable[Any]) -> Any:
    """Remove every secret value, in every encoding, from a stored or shown structure."""
    wanted = frozenset(s for s in secrets if isinstance(s, str) and len(s) >= MIN_LENGTH)
    if not wanted or value is None:
        return value
    return masker(wanted).value(value)


def strings_in(value: Any) -> list[str]:
    """Every string inside ``value`` (a secret given with the wrong JSON type is still a secret)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*strings_in(k), *strings_in(v)]]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings_in(v)]
    return []


# -- what this process has seen ---------------------------------------------------------------


class _Known:
    """The secret values this process handled lately (bounded, most recent kept)."""

    def __init__(self, limit: int = KNOWN_LIMIT):
        self._values: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()
        self._masker: Masker | None = None

    def add(self, values: Iterable[Any]) -> None:
        fresh = [v for v in values if isinstance(v, str) and len(v) >= MIN_LENGTH and v != SECRET_PLACEHOLDER]
        if not fresh:
            return
        with self._lock:
            changed = False
            for value in fresh:
                if value in self._values:
                    self._values.move_to_end(value)
                    continue
                self._values[value] = None
                changed = True
                if len(self._values) > self._limit:
                    self._values.popitem(last=False)
            if changed:
                self._masker = None

    def masker(self) -> Masker | None:
        with self._lock:
            if self._masker is None and self._values:
                self._masker = Masker(self._values)
            return self._masker


KNOWN = _Known()
_CURRENT: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("secrets", default=frozenset())


def remember(values: Iterable[Any]) -> None:
    """Note secret values this process handles, so logs and error bodies never show them."""
    KNOWN.add(values)


@contextlib.contextmanager
def current(values: Iterable[Any]) -> Iterator[None]:
    """The secrets of the call under way: remote text is masked as it is read (before it is trimmed,
    which could cut a secret in two), see :func:`mask_current`."""
    values = [v for v in values if isinstance(v, str)]
    remember(values)
    token = _CURRENT.set(frozenset(values))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def mask_current(text: str) -> str:
    """``text`` without the secrets of the call under way (and every secret the process knows)."""
    return mask_known(mask(text, _CURRENT.get()))


def mask_known(value: Any) -> Any:
    """``value`` without any secret this process has seen."""
    found = KNOWN.masker()
    return value if found is None or value is None else found.value(value)


# -- logs -------------------------------------------------------------------------------------


def install_log_masking() -> None:
    """Mask every log record of the process as it is made (whatever handler or test captures it)."""
    make = logging.getLogRecordFactory()
    if getattr(make, "masks_secrets", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if KNOWN.masker() is None and not _CURRENT.get():
            return record
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report, not ours
            return record
        masked = mask_current(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_current(logging.Formatter().formatException(record.exc_info))
        return record

    factory.masks_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
