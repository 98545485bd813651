"""The Russian catalogue of the API's own problems (request bodies, look-ups, the connection form,
marshmallow's messages) and the problem titles; :mod:`plugin.messages.ru` merges it."""

from __future__ import annotations

import re
from typing import Any

# problem titles by the problem's type slug (plugin/errors.py), then by HTTP status
TITLES = {
    "validation": "Ошибка в данных",
    "not-found": "Не найдено",
    "conflict": "Конфликт",
    "unauthorized": "Нужен вход по токену",
    "forbidden": "Токену не хватает прав",
    "rate-limited": "Слишком много запросов",
    "unsupported-media-type": "Неподдерживаемый тип данных",
    "bad-request": "Неверный запрос",
    "unavailable": "Сервис временно недоступен",
    "malformed-json": "Ошибка в JSON",
    "invalid-link": "Недействительная ссылка для отписки",
}
STATUS_TITLES = {
    400: "Неверный запрос",
    401: "Нужен вход по токену",
    403: "Доступ запрещён",
    404: "Не найдено",
    405: "Метод не поддерживается",
    406: "Нельзя ответить в запрошенном формате",
    408: "Запрос шёл слишком долго",
    409: "Конфликт",
    410: "Больше не существует",
    411: "Нужна длина запроса",
    413: "Запрос слишком большой",
    414: "Адрес слишком длинный",
    415: "Неподдерживаемый тип данных",
    422: "Ошибка в данных",
    429: "Слишком много запросов",
    431: "Заголовки слишком большие",
    500: "Внутренняя ошибка сервера",
    501: "Не реализовано",
    503: "Сервис временно недоступен",
}
# details of the answers whose text comes from the HTTP server (werkzeug), not from us
STATUS_DETAILS = {
    400: "Сервер не понял запрос",
    404: "По этому адресу ничего нет",
    405: "Этот метод не поддерживается по этому адресу",
    406: "Сервер не может ответить в запрошенном формате",
    408: "Запрос не пришёл целиком вовремя",
    413: "Тело запроса больше допустимого",
    414: "Адрес запроса слишком длинный",
    415: "Тип данных запроса не поддерживается",
    422: "Запрос не соответствует описанной схеме",
    500: "Непредвиденная ошибка; она записана в журнал",
    503: "База данных сейчас недоступна; повторите запрос (повтор ничего не запустит дважды)",
}

HTTP: dict[str, Any] = {
    "http.schema": lambda a: "Запрос не соответствует описанной схеме",
    "http.deleted": lambda a: "Запись удалил другой запрос, пока выполнялся этот",
    "http.unavailable": lambda a: STATUS_DETAILS[503],
    "http.bug": lambda a: STATUS_DETAILS[500],
}

# marshmallow's messages (the ingestion and query schemas), by their English text
MARSHMALLOW = {
    "Missing data for required field.": "Обязательное поле — заполните его",
    "Unknown field.": "Неизвестное поле",
    "Field may not be null.": "Поле не может быть пустым (null)",
    "Not a valid integer.": "Нужно целое число",
    "Not a valid number.": "Нужно число",
    "Not a valid string.": "Нужен текст",
    "Not a valid boolean.": "Нужно да или нет (true/false)",
    "Not a valid list.": "Нужен список",
    "Not a valid mapping type.": "Нужен объект",
    "Not a valid email address.": "Нужен адрес почты, например «name@example.com»",
    "Not a valid datetime.": "Нужны дата и время в формате ISO 8601",
    "Not a valid URL.": "Нужен полный адрес, например «https://example.com»",
    "Invalid input type.": "Неверный тип данных",
    "Invalid value.": "Недопустимое значение",
    "must be 1–64 characters long": "Длина — от 1 до 64 знаков",
    "must not contain '/'": "Не должно содержать «/»",
}
_MARSHMALLOW_PATTERNS = (
    (re.compile(r"^Must be one of: (.*)\.$"), lambda m: f"Допустимые значения: {m[1]}"),
    (re.compile(r"^must be a string or an integer, got \w+$"), lambda m: "Нужен текст или целое число"),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), lambda m: f"Длина — от {m[1]} до {m[2]}"),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), lambda m: f"Не длиннее {m[1]} знаков"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), lambda m: f"Не короче {m[1]} знаков"),
    (
        re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"),
        lambda m: f"Нужно число от {m[1]} до {m[2]}",
    ),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), lambda m: f"Не меньше {m[1]}"),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), lambda m: f"Не больше {m[1]}"),
)


def _marshmallow(a: dict) -> str | None:
    text = a["text"]
    if text in MARSHMALLOW:
        return MARSHMALLOW[text]
    for pattern, say_it in _MARSHMALLOW_PATTERNS:
        if match := pattern.match(text):
            return say_it(match)
    return None


OTHER: dict[str, Any] = {
    "connection.not_object": lambda a: "Подключение должно быть JSON-объектом",
    "connection.id": lambda a: "Код подключения должен быть строкой (он не меняется)",
    "connection.name": lambda a: "У подключения должно быть название длиной от 1 до 200 знаков",
    "connection.params": lambda a: "Параметры подключения должны быть JSON-объектом",
    "connection.bad_type": lambda a: f"Тип подключения — одно из значений: {a['allowed']}",
    "connection.type_change": lambda a: f"Тип подключения менять нельзя (сейчас «{a['type']}»)",
    "connection.name_taken": lambda a: f"Подключение типа «{a['type']}» с названием «{a['name']}» уже есть",
    "connection.used_by_flow": lambda a: f"Используется в сценарии «{a['name']}»",
    "connection.used_by_preset": lambda a: f"Используется в шаблоне «{a['name']}»",
    "connection.in_use": lambda a: (
        f"Подключение «{a['name']}» используется (сценариев: {a['flows']}, шаблонов: {a['presets']}) — "
        "сначала переключите их на другое подключение"
    ),
    "connection.not_here": lambda a: (
        f"Подключения «{a['name']}» здесь нет — создайте его с этим названием (или выберите другое) "
        "и импортируйте снова"
    ),
    "secret.missing": lambda a: "Секрет не задан — введите его",
    "notfound.flow": lambda a: f"Сценарий «{a['id']}» не найден",
    "notfound.preset": lambda a: f"Шаблон «{a['id']}» не найден",
    "notfound.connection": lambda a: f"Подключение «{a['id']}» не найдено",
    "notfound.run": lambda a: f"Запуск «{a['id']}» не найден",
    "patch.field": lambda a: "Изменить можно только «enabled» (статус) и «name» (название)",
    "patch.enabled": lambda a: "Статус: нужно «да» или «нет» (true или false)",
    "patch.name": lambda a: "Название: текст длиной от 1 до 200 знаков",
    "import.empty": lambda a: "Нечего импортировать: список «flows» пуст",
    "import.empty_list": lambda a: "Нужен непустой список сценариев",
}


def _json_place(a: dict) -> str:
    return f" (строка {a['line']}, столбец {a['column']})" if a.get("line") else ""


# the dry run's stored subjects (plugin/api/flows.py), in the genitive
_SUBJECTS = {"order": "сделки", "visit": "визита", "custom event": "пользовательского события"}
REQUESTS: dict[str, Any] = {
    "body.required": lambda a: "Нужно тело запроса в формате JSON",
    "body.empty": lambda a: "Тело запроса пустое",
    "body.media_type": lambda a: f"Нужен заголовок «Content-Type»: «application/json», а не «{a['got']}»",
    "body.media_types": lambda a: (
        f"Нужен заголовок «Content-Type»: {' или '.join(f'«{t}»' for t in a['types'])}, а не «{a['got'] or 'никакой'}»"
    ),
    "body.send_as": lambda a: f"Пришлите тело как {' или '.join(f'«{t}»' for t in a['types'])}",
    "body.object": lambda a: "Тело запроса должно быть JSON-объектом",
    "body.expected_object": lambda a: "Нужен объект",
    "cursor.foreign": lambda a: "Этот курсор выдан не этим сервером",
    "cursor.invalid": lambda a: "Неверный курсор",
    "json.malformed": lambda a: f"Тело запроса — не JSON{_json_place(a)}",
    "json.syntax": lambda a: f"Ошибка в JSON{_json_place(a)}",
    "auth.required": lambda a: "Нужен действующий токен (заголовок «Authorization: Bearer …»)",
    "retry.direct": lambda a: (
        "Прямой вызов узла и тестовое сообщение сервер не повторяет — отправьте ещё раз"
    ),
    "retry.status": lambda a: f"Повторить можно только запуск с ошибкой, а у этого статус «{a['status']}»",
    "notfound.token": lambda a: f"Токен «{a['id']}» не найден",
    "notfound.node_type": lambda a: f"Тип узла «{a['type']}» не найден",
    "dryrun.no_event": lambda a: "Тестовый запуск ссылается на событие, которого нет",
    "dryrun.no_event_id": lambda a: f"События «{a['id']}» нет",
    "dryrun.no_subject": lambda a: f"Тестовый запуск: {_SUBJECTS.get(a['what'], 'записи')} с таким кодом нет",
    "dryrun.no_subject_id": lambda a: f"{_SUBJECTS.get(a['what'], 'записи').capitalize()} «{a['id']}» нет",
    "dryrun.shape": lambda a: 'Нужен объект вида «{"flow": сценарий, "context": данные}»',
    "dryrun.flow_required": lambda a: "Обязательное поле — сценарий",
    "execute.params_required": lambda a: "Обязательное поле — параметры узла (объект)",
    "execute.params_object": lambda a: "Параметры узла должны быть объектом",
    "execute.event_type": lambda a: "Нужен текст — тип события",
    "context.object": lambda a: "Данные события: нужен объект",
    "context.record": lambda a: "Нужен объект или пустое значение",
    "context.count": lambda a: "Количество заказов: нужно целое число не меньше 0",
    "ingest.id": lambda a: "Неверный код",
    "ingest.id_length": lambda a: "Код: от 1 до 64 знаков",
    "query.one_of": lambda a: "Допустимые значения: " + ", ".join(f"«{v}»" for v in a["allowed"]),
    "query.invalid": lambda a: "Неверные параметры запроса",
    "query.recipient": lambda a: "Получатель: от 1 до 320 знаков («*» в конце — поиск по началу)",
    "query.until": lambda a: "Конец периода должен быть позже начала",
    "sendtest.recipient_text": lambda a: "Нужна строка",
    "dryrun.waits": lambda a: "Нужен объект: код узла ожидания → «true» или «false»",
    "query.to": lambda a: "Конец периода («to») должен быть позже начала («from»)",
    "query.points": lambda a: f"Слишком длинный период для такого шага: не больше {a['most']} точек",
    "query.timezone": lambda a: f"Нужен часовой пояс IANA (например «Europe/Moscow»), а не «{a['value']}»",
    "query.moment": lambda a: (
        f"Нужна дата или дата и время в формате ISO 8601 (например «2026-12-01»), а не «{a['value']}»"
    ),
    "query.q": lambda a: "Не длиннее 320 знаков",
    "optout.refused": lambda a: "Запись не добавлена",
    "optout.no_rows": lambda a: "Ни одна строка файла не импортирована",
    "dryrun.event_id": lambda a: "Код события: нужно целое число больше 0",
    "dryrun.id": lambda a: "Нужен текст или целое число",
    "notfound.optout": lambda a: f"Записи «{a['id']}» в списке отписки нет",
    "query.limit": lambda a: "Нужно целое число от 1 до 500",
    "execute.placeholder": lambda a: "Секрет нужно передать как есть, а не заглушкой «********»",
}

SOURCES: dict[str, Any] = {
    "rate.ingest": lambda a: (
        f"Больше {a['rate']} запросов в секунду с этим токеном — повторите через {a['seconds']} с"
    ),
    "rate.hook": lambda a: (
        f"Больше {a['rate']} отправок в секунду в эту форму — повторите через {a['seconds']} с"
    ),
    "hook.unknown_field": lambda a: "Неизвестное поле",
    "hook.name": lambda a: "Название события: текст длиной от 1 до 200 знаков",
    "hook.refused": lambda a: "Источник не создан",
    "hook.no_key": lambda a: "Нет формы с таким ключом (возможно, её удалили)",
    "hook.no_source": lambda a: f"Источник «{a['id']}» не найден",
}


CATALOGUE: dict[str, Any] = {**HTTP, **OTHER, **REQUESTS, **SOURCES, "marshmallow": _marshmallow}
