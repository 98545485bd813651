"""Russian for JSON Schema problems (codes ``schema.<keyword>``, ``secret.<keyword>``): the field's
name, what is expected, and what was given — never the value of a secret."""

from __future__ import annotations

from typing import Any

from plugin.messages.core import plural_ru

# a JSON type: what is needed («нужен текст») and what was given («а не список»)
TYPES = {
    "string": ("нужен", "текст"),
    "number": ("нужно", "число"),
    "integer": ("нужно", "целое число"),
    "boolean": ("нужно", "«да» или «нет»"),
    "array": ("нужен", "список"),
    "object": ("нужен", "объект"),
    "null": ("нужно", "пустое значение"),
}

# what a pattern asks for, said plainly (the schemas' patterns, plugin/schemas/**)
PATTERNS = {
    "^https?://": "нужен адрес, который начинается с http:// или https://",
    "^[A-Za-z0-9_-]{1,64}$": "только латинские буквы, цифры, «_» и «-», от 1 до 64 знаков",
    "^[A-Za-z0-9_.:-]{1,100}$": "только латинские буквы, цифры и знаки «_ . : -», от 1 до 100 знаков",
    "^(event|condition|action|flow)\\.[a-z0-9_]+$": "тип узла вида «action.slack»",
    "^([01][0-9]|2[0-3]):[0-5][0-9]$": "время в виде ЧЧ:ММ, например «09:00»",
    "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$": "время в виде ЧЧ:ММ, например «21:00» (или «24:00»)",
    "^(-?[0-9]+|@[A-Za-z0-9_]{5,32})$": "числовой номер чата или имя канала вида «@channel»",
    "^[^.]+(\\.[^.]+)*$": "путь через точку, например «utm.source», без пустых частей",
    "^[^\\r\\n]*$(?!\\n)": "одна строка, без переводов строки",
    "^\\S+$": "без пробелов",
    "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$": "имя заголовка: латинские буквы, цифры и знаки «!#$%&'*+.^_`|~-»",
}

FORMATS = {
    "uri": "нужен полный адрес, например «https://example.com/hook»",
    "email": "нужен адрес почты, например «name@example.com»",
}


def _type(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    verb = TYPES.get(names[0], ("нужно", ""))[0]
    return verb + " " + " или ".join(TYPES[t][1] if t in TYPES else f"«{t}»" for t in names)


def _chars(n: int) -> str:  # after «не длиннее», «не короче»: the genitive
    return f"{n} {plural_ru(n, 'знака', 'знаков', 'знаков')}"


def _items(n: int) -> str:  # after «не больше», «не меньше»
    return f"{n} {plural_ru(n, 'элемента', 'элементов', 'элементов')}"


def _pattern(expected: Any) -> str:
    return PATTERNS.get(expected) or f"значение не подходит под шаблон «{expected}»"


def _format(expected: Any) -> str:
    return FORMATS.get(expected) or f"значение не подходит под формат «{expected}»"


def _min_length(a: dict) -> str:
    if a["expected"] == 1:
        return f"{a['field']}: заполните это поле"
    return f"{a['field']}: не короче {_chars(a['expected'])}"


def _max_length(a: dict) -> str:
    now = f" (сейчас {a['length']})" if "length" in a else ""
    return f"{a['field']}: не длиннее {_chars(a['expected'])}{now}"


# what each keyword expects, shared by ordinary fields and secrets
EXPECTED = {
    "type": lambda a: _type(a["expected"]),
    "enum": lambda a: f"выберите одно из значений: {a['allowed']}",
    "const": lambda a: f"допустимо только {a['allowed']}",
    "pattern": lambda a: _pattern(a["expected"]),
    "format": lambda a: _format(a["expected"]),
    "minimum": lambda a: f"не меньше {a['expected']}",
    "maximum": lambda a: f"не больше {a['expected']}",
    "exclusiveMinimum": lambda a: f"больше {a['expected']}",
    "exclusiveMaximum": lambda a: f"меньше {a['expected']}",
    "multipleOf": lambda a: f"кратно {a['expected']}",
    "minItems": lambda a: (
        "добавьте хотя бы одно значение" if a["expected"] == 1 else f"нужно не меньше {_items(a['expected'])}"
    ),
    "maxItems": lambda a: f"не больше {_items(a['expected'])}",
    "uniqueItems": lambda a: "значения не должны повторяться",
    "minProperties": lambda a: f"нужно не меньше {_items(a['expected'])}",
    "maxProperties": lambda a: f"не больше {_items(a['expected'])}",
}


def _given(a: dict) -> str:
    if "value" in a:
        return f", а не {a['value']}"
    if a.get("given") in TYPES:  # a list or an object: its kind, not its JSON
        return f", а не {TYPES[a['given']][1]}"
    return ""


def _ordinary(keyword: str):
    return lambda a: f"{a['field']}: {EXPECTED[keyword](a)}{_given(a)}"


def _secret(keyword: str):
    say = EXPECTED.get(keyword, lambda a: "недопустимое значение")
    return lambda a: f"{a['field']}: {say(a)} (значение секретное и здесь не показывается)"


CATALOGUE: dict[str, Any] = {
    **{f"schema.{k}": _ordinary(k) for k in EXPECTED},
    **{f"secret.{k}": _secret(k) for k in (*EXPECTED, "minLength", "maxLength")},
    "schema.minLength": _min_length,
    "schema.maxLength": _max_length,
    "secret.minLength": lambda a: f"{_min_length(a)} (значение секретное и здесь не показывается)",
    "secret.maxLength": lambda a: (
        f"{a['field']}: не длиннее {_chars(a['expected'])} (значение секретное и здесь не показывается)"
    ),
    "schema.required": lambda a: f"{a['field']}: обязательное поле — заполните его",
    "schema.unknown_field": lambda a: (
        f"Неизвестное поле «{a['key']}» (допустимы: {a['allowed'] or 'никакие'})"
    ),
    "schema.additionalProperties": lambda a: f"{a['field']}: лишние поля не допускаются",
    "schema.propertyNames": lambda a: f"{a['field']}: недопустимое имя поля",
    "secret.other": lambda a: (
        f"{a['field']}: недопустимое значение (значение секретное и здесь не показывается)"
    ),
    "schema.other": lambda a: f"{a['field']}: недопустимое значение {a.get('value', '')}".rstrip(),
}
