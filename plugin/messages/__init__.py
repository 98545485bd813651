"""Messages a person reads, in Russian or English: a problem's text keeps its English wording and
carries a stable code and its arguments, so the API says it in the request's language.

The engine builds :class:`Message` values (plain strings, English, so every caller and log reads
them as before); :func:`render` says one in a language from the catalogue (:mod:`plugin.messages.ru`).
Nothing here imports Flask: the API layer picks the language (:func:`negotiate`) and renders.
"""

from __future__ import annotations

import re
from typing import Any

from plugin.messages.core import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Message,
    Tr,
    msg,
    negotiate,
    plural_ru,
)

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Message", "Tr", "msg", "negotiate", "plural_ru", "render"]


# «это не email (not an e-mail address)»: a bilingual text's English aside, after its Russian
_ENGLISH_ASIDE = re.compile(r"\s*\((?=[^()]*[A-Za-z])[^()А-Яа-яЁё]*\)")


def render(text: Any, lang: str) -> Any:
    """``text`` said in ``lang``: a :class:`Message` from the catalogue (its English when the
    catalogue has no entry); a plain bilingual text in Russian without its English aside."""
    if not isinstance(text, Message):
        if lang == "ru" and isinstance(text, str) and re.match(r"^[^A-Za-z]*[А-Яа-яЁё]", text):
            return _ENGLISH_ASIDE.sub("", text)
        return text
    said = str(text)
    if lang != "en":
        from plugin.messages import ru

        said = ru.say(text.code, _resolved(text.args, lang)) or said
    if text.hide:
        from plugin.masking import mask

        said = mask(said, list(text.hide))
    return said


def _resolved(args: dict[str, Any], lang: str) -> dict[str, Any]:
    """Arguments said in ``lang``: a title (:class:`Tr`), and a message within a message."""
    return {
        k: (v.say(lang) if isinstance(v, Tr) else render(v, lang) if isinstance(v, Message) else v)
        for k, v in args.items()
    }
