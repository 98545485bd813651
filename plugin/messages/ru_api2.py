"""The Russian catalogue, continued (:mod:`plugin.messages.ru_api` is the first part): the failure
alert's settings, the test message, look-ups of records and versions, the list's queries and bulk
switch, site-form bodies, text a database cannot store, token and unsubscribe-link problems."""

from __future__ import annotations

from typing import Any

from plugin.messages.core import plural_ru


def _shown(value: Any) -> str:
    return "пустое значение" if value in (None, "") else f"«{value}»"


def _scenarios(n: int) -> str:
    return f"{n} {plural_ru(n, 'сценарий', 'сценария', 'сценариев')}"


_ALERT = "Оповещение об ошибках: "
_ALERT_TO = {"telegram": "«ID чата Telegram»", "smtp": "«E-mail получателя»"}
ALERTS: dict[str, Any] = {
    "alert.no_connection": lambda a: (
        f"{_ALERT}подключения «{a['id']}» нет (его удалили?) — выберите другое в поле «Куда»"
    ),
    "alert.channel": lambda a: (
        f"{_ALERT}подключение «{a['name']}» — типа «{a['type']}», а оповещение отправляется только "
        "через «Slack», «Telegram» или почту — выберите другое в поле «Куда»"
    ),
    "alert.to": lambda a: f"{_ALERT}заполните поле {_ALERT_TO.get(a['channel'], '«Чат или адрес»')}",
}

_RECIPIENT = {"email": "адрес почты", "phone": "телефон", "chat_id": "ID чата"}
SEND_TEST: dict[str, Any] = {
    "sendtest.recipient": lambda a: "Получатель тестового сообщения указан неверно",
    "sendtest.recipient_object": lambda a: "Получатель: нужен объект с адресом, телефоном или ID чата",
    "sendtest.email": lambda a: (
        f"Куда отправить тестовое письмо: нужен адрес почты, например «name@example.com», а не {_shown(a['value'])}"
    ),
    "sendtest.address": lambda a: (
        f"Куда отправить тестовое сообщение: укажите {_RECIPIENT.get(a['key'], 'получателя')}, "
        f"а не {_shown(a['value'])}"
    ),
    "sendtest.param": lambda a: (
        f"{_RECIPIENT.get(a['key'], 'Получатель').capitalize()} {_shown(a['value'])} этому узлу не подходит"
    ),
    "sendtest.not_action": lambda a: "Тестовое сообщение отправляет только действие",
    "sendtest.node_type": lambda a: f"Узел «{a['node']}» — не действие («{a['type']}»): выберите действие",
    "notfound.node": lambda a: f"В сценарии «{a['flow']}» нет узла «{a['node']}»",
}

LOOK_UPS: dict[str, Any] = {
    "notfound.order": lambda a: f"Сделка «{a['id']}» не найдена",
    "notfound.visit": lambda a: f"Визит «{a['id']}» не найден",
    "notfound.client": lambda a: f"Клиент «{a['id']}» не найден",
    "notfound.version": lambda a: f"У сценария «{a['flow']}» нет версии «{a['number']}»",
    "query.param": lambda a: f"Неверный параметр запроса «{a['name']}»",
    "query.int_range": lambda a: f"Нужно целое число от {a['low']} до {a['high']}, а не {_shown(a['value'])}",
    "query.max_length": lambda a: f"Не длиннее {a['max']} знаков (сейчас {a['got']})",
    "query.one_of_got": lambda a: (
        "Допустимые значения: " + ", ".join(f"«{v}»" for v in a["allowed"]) + f" — а не {_shown(a['value'])}"
    ),
    "diff.from": lambda a: "Нужен параметр «from» — номер версии, с которой сравнивать",
    "diff.from_required": lambda a: "Обязательный параметр — укажите номер версии",
    "restore.current": lambda a: (
        f"Версия {a['number']} — это текущее состояние сценария: восстанавливать нечего"
    ),
    "restore.invalid": lambda a: (
        f"Версию {a['number']} нельзя восстановить: сейчас в ней есть ошибки (они перечислены ниже)"
    ),
    "restore.secrets": lambda a: (
        f"В версии {a['number']} не заданы секреты, без которых включённый сценарий не работает: "
        "сначала выключите сценарий"
    ),
    "restore.secret_missing": lambda a: "В этой версии секрет не задан",
}

LISTS: dict[str, Any] = {
    "field.unknown": lambda a: "Неизвестное поле",
    "bulk.enabled": lambda a: "Статус: нужно «да» (включить) или «нет» (выключить)",
    "bulk.ids": lambda a: "Нужен список кодов сценариев: от 1 до 1000",
    "bulk.id": lambda a: f"Нужен код сценария — текст от 1 до 64 знаков, а не {_shown(a['value'])}",
    "bulk.unknown": lambda a: f"Не найдено: {_scenarios(a['count'])}; ничего не изменено",
    "bulk.blocked": lambda a: f"Нельзя включить {_scenarios(a['count'])}; ничего не изменено",
    "bulk.blocked_item": lambda a: f"«{a['name']}»: {a['problem']} (поле «{a['path']}»)",
    "import.collisions": lambda a: (
        f"{_scenarios(a['count'])} совпадает с сохранёнными по коду или названию; ничего не импортировано "
        "(импортировать копию: «on_conflict=copy», заменить: «on_conflict=replace»)"
    ),
    "import.collision": lambda a: (
        f"Сценарий с таким {'кодом' if a['field'] == 'id' else 'названием'} уже есть: «{a['name']}» («{a['id']}»)"
    ),
}

FORMS: dict[str, Any] = {
    "form.charset": lambda a: f"Неизвестная кодировка «{a['name']}» — отправьте форму в «UTF-8»",
    "form.boundary": lambda a: (
        "У составной формы («multipart/form-data») в заголовке «Content-Type» нет параметра «boundary»"
    ),
    "form.part_headers": lambda a: "Заголовки одной из частей формы — не в кодировке «UTF-8»",
    "form.names_utf8": lambda a: "Названия полей должны быть в кодировке «UTF-8»",
    "form.unreadable": lambda a: "Тело формы («multipart/form-data») не удалось прочитать",
    "form.unreadable_why": lambda a: f"Тело формы повреждено или обрезано (причина: «{a['why']}»)",
    "form.too_many": lambda a: f"В форме может быть не больше {a['max']} полей",
    "form.fields_over": lambda a: f"Полей больше {a['max']}",
    "form.key_length": lambda a: f"Название поля: не длиннее {a['max']} знаков",
}


def _values(n: int) -> str:
    return f"{n} {plural_ru(n, 'текстовое значение', 'текстовых значения', 'текстовых значений')}"


_NUL = "нулевой символ («U+0000»)"
TEXT: dict[str, Any] = {
    "json.too_deep": lambda a: f"JSON в теле запроса вложен глубже {a['max']} уровней",
    "json.too_deep_any": lambda a: "JSON в теле запроса вложен слишком глубоко",
    "text.unstorable": lambda a: f"Нельзя сохранить {_values(a['count'])}; ничего не сохранено",
    "text.nul": lambda a: f"Текст не может содержать {_NUL}",
    "text.unicode": lambda a: f"Текст — некорректный Юникод: {a['why']}",
    "key.nul": lambda a: f"Название поля не может содержать {_NUL}",
    "key.unicode": lambda a: f"Название поля — некорректный Юникод: {a['why']}",
    "unicode.bytes": lambda a: f"байты «{a['bytes']}» в позиции {a['at']} — не «UTF-8»",
    "unicode.surrogate": lambda a: (
        f"одиночный суррогат «{a['char']}» в позиции {a['at']} — не символ Юникода "
        "(экранирование «\\uD800»–«\\uDFFF» должно быть половиной пары)"
    ),
    "url.nul": lambda a: f"Адрес не может содержать {_NUL}",
    "url.unicode": lambda a: f"Адрес — некорректный Юникод: {a['why']}",
    "url.replacement": lambda a: (
        "Адрес не может содержать символ замены «U+FFFD»: он стоит на месте байтов не в «UTF-8» "
        "(ни один код его не содержит)"
    ),
    "query.nul": lambda a: f"Параметр запроса не может содержать {_NUL}",
    "query.unicode": lambda a: f"Параметр запроса — некорректный Юникод: {a['why']}",
}

ACCESS: dict[str, Any] = {
    "token.self": lambda a: (
        "Токен не может отозвать сам себя: воспользуйтесь другим токеном администратора или командой "
        f"«python server.py token revoke {a['id']}»"
    ),
    "auth.scope": lambda a: (
        f"Для «{a['route']}» нужен токен с правами «{a['required']}» (или «admin»), а у "
        + ("токена из «AUTOMATION_API_TOKEN»" if a["token"] is None else f"токена «{a['token']}»")
        + f" права «{a['scope']}»"
    ),
    "retry.busy": lambda a: "Этот запуск уже повторяется",
    "unsubscribe.invalid": lambda a: (
        "Ссылка для отписки недействительна: её изменили, или её выдал не этот сервер. Ничего не изменилось"
    ),
}

CATALOGUE: dict[str, Any] = {**ALERTS, **SEND_TEST, **LOOK_UPS, **LISTS, **FORMS, **TEXT, **ACCESS}
