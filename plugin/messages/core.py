"""The message types (Message, Tr), language negotiation and Russian plurals: no catalogue here."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"


class Tr(dict):
    """A value said differently per language (a field's title): ``Tr(ru="Сумма", en="Amount")``."""

    def say(self, lang: str) -> str:
        return self.get(lang) or self.get("en") or self.get("ru") or ""


class Message(str):
    """An English message that also knows its ``code`` and ``args`` (see :mod:`plugin.messages.ru`);
    ``hide`` holds values (secrets) that no rendering may show."""

    code: str
    args: dict[str, Any]
    hide: tuple[str, ...]

    def __new__(cls, code: str, english: str, /, **args: Any) -> Message:
        self = super().__new__(cls, english)
        self.code = code
        self.args = args
        self.hide = ()
        return self

    def __reduce__(self):  # copy/pickle: a str subclass with a different constructor
        return (_rebuild, (self.code, str(self), self.args, self.hide))

    def hiding(self, values: list[str] | tuple[str, ...], english: str | None = None) -> Message:
        """The same message whose renderings never show ``values`` (English text replaced if given)."""
        out = Message(self.code, self if english is None else english, **self.args)
        out.hide = tuple(self.hide) + tuple(v for v in values if v)
        return out


def _rebuild(code: str, english: str, args: dict, hide: tuple) -> Message:
    out = Message(code, english, **args)
    out.hide = hide
    return out


def msg(code: str, english: str, /, **args: Any) -> Message:
    """A message: its English text, its code in the catalogue, and the catalogue's arguments."""
    return Message(code, english, **args)


def negotiate(header: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The language of an ``Accept-Language`` header (RFC 9110 §12.5.4): the supported one with
    the highest q-value (the earlier on a tie); ``*``, nothing supported or no header → ``default``."""
    best, best_q = None, 0.0
    for item in (header or "").split(","):
        tag, _, rest = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = _quality(rest)
        if primary == "*" and q > best_q:
            best, best_q = default, q
        elif primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best or default


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """The Russian form for ``n``: 1 ошибка, 2 ошибки, 5 ошибок (11–14 take «many»)."""
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many
