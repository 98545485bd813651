"""The Russian catalogue: one entry per message code (see :mod:`plugin.messages`), each a function
of the message's arguments. English is the message's own text; a code missing here falls back to it,
which ``tests/engine/test_validation_messages.py`` forbids for every code in the code base."""

from __future__ import annotations

from typing import Any

from plugin.messages.core import plural_ru
from plugin.messages.ru_api import CATALOGUE as API
from plugin.messages.ru_api2 import CATALOGUE as API2
from plugin.messages.ru_branches import CATALOGUE as BRANCHES
from plugin.messages.ru_journeys import CATALOGUE as JOURNEYS
from plugin.messages.ru_schema import CATALOGUE as SCHEMA


def _errors(n: int) -> str:
    return f"{n} {plural_ru(n, 'ошибка', 'ошибки', 'ошибок')}"


def _quoted(items: Any) -> str:
    return ", ".join(f"«{i}»" for i in items)


def _condition_event(a: dict) -> str:
    which = f"событиями {a['allowed']}" if a.get("many") else f"событием {a['allowed']}"
    return (
        f"Условие «{a['condition']}» работает только с {which}, а сценарий начинается "
        f"с события «{a['event']}» — уберите условие или смените событие"
    )


def _edge_no_node(a: dict) -> str:
    where = "начинается у несуществующего узла" if a.get("end") == "from" else "ведёт к несуществующему узлу"
    return f"Связь {where} «{a['id']}»"


FLOW: dict[str, Any] = {
    "flow.not_object": lambda a: "Сценарий должен быть JSON-объектом",
    "graph.no_event": lambda a: (
        "В сценарии должно быть ровно одно событие, а его нет — добавьте событие из раздела «События»"
    ),
    "graph.second_event": lambda a: (
        "В сценарии должно быть ровно одно событие, а это второе — удалите лишнее"
    ),
    "graph.no_action": lambda a: (
        "В сценарии нет ни одного действия — добавьте действие из раздела «Действия»"
    ),
    "graph.cycle": lambda a: (
        f"Связи образуют цикл: {' → '.join(f'«{i}»' for i in a['ids'])} — сценарий не может "
        "возвращаться к уже пройденному узлу"
    ),
    "graph.unreachable": lambda a: (
        f"Узел «{a['node']}» (код «{a['id']}») не соединён с событием, и до него не дойти — "
        "соедините его или удалите"
    ),
    "condition.event": _condition_event,
    "edge.no_node": _edge_no_node,
    "edge.self": lambda a: "Связь не может соединять узел с самим собой",
    "edge.into_event": lambda a: "В событие не могут входить связи: событие — начало сценария",
    "edge.duplicate": lambda a: "Такая связь уже есть",
    "node.duplicate_id": lambda a: f"Код узла «{a['id']}» повторяется: у каждого узла он свой",
    "node.unknown_type": lambda a: f"Неизвестный тип узла «{a['type']}»",
    "node.version": lambda a: (
        f"Узел «{a['node']}» версии {a['version']} новее, чем знает этот сервер (до {a['known']}) — "
        "обновите сервер"
    ),
    "secret.not_imported": lambda a: (
        f"{a['field']}: секрет не был импортирован — введите его, прежде чем включать сценарий"
    ),
    "secret.not_set": lambda a: "Секрет не задан — введите его, прежде чем включать сценарий",
    "preset.not_object": lambda a: "Шаблон должен быть JSON-объектом",
    "preset.name": lambda a: "У шаблона должно быть название длиной от 1 до 200 знаков",
    "preset.kind": lambda a: (
        f"Вид шаблона — «trigger» (событие и условия) или «action» (одно действие), а не «{a['value']}»"
    ),
    "preset.one_action": lambda a: "Шаблон действия содержит ровно одно действие",
    "preset.one_event": lambda a: "Шаблон события содержит ровно одно событие",
    "preset.trigger_only": lambda a: "Шаблон события содержит только событие и условия",
    "window.timezone": lambda a: (
        f"Неизвестный часовой пояс «{a['value']}» — укажите его так: «Europe/Moscow»"
    ),
    "window.order": lambda a: f"Конец окна отправки ({a['end']}) должен быть позже начала ({a['start']})",
    "connection.missing": lambda a: f"Подключение «{a['id']}» не найдено — выберите другое",
    "connection.type": lambda a: (
        f"Подключение «{a['name']}» — типа «{a['type']}», а действие «{a['node']}» принимает "
        f"только: {_quoted(a['takes'].split(', '))}"
    ),
    "connection.discriminator": lambda a: (
        f"{a['field']}: у подключения «{a['name']}» (тип «{a['type']}») здесь должно быть «{a['value']}» "
        "или пусто"
    ),
    "connection.overlap": lambda a: (
        f"{a['field']}: значение берётся из подключения «{a['name']}» — уберите его здесь"
    ),
}

TEMPLATE: dict[str, Any] = {
    "template.unknown_variable": lambda a: (
        f"{a['field']}: неизвестная переменная {{{a['name']}}} — выберите переменную из списка «Переменные»"
    ),
    "template.unknown_variable_close": lambda a: (
        f"{a['field']}: неизвестная переменная {{{a['name']}}} — может быть, {{{a['close']}}}?"
    ),
    "template.unknown_name": lambda a: (
        f"{a['field']}: неизвестное имя «{a['name']}» в выражении шаблона "
        "(доступны «visit», «order», «client», «event»)"
    ),
    "template.loops": lambda a: f"{a['field']}: циклы вложены глубже {a['limit']} уровней",
    "template.brackets": lambda a: (
        f"{a['field']}: шаблон вложен слишком глубоко — открыто больше {a['limit']} скобок сразу"
    ),
    "template.nesting": lambda a: (
        f"{a['field']}: шаблон вложен слишком глубоко — больше {a['limit']} уровней"
    ),
    "template.syntax": lambda a: (
        f"{a['field']}: ошибка в шаблоне в строке {a['line']} — проверьте, что каждое {{{{ … }}}} "
        "и {% … %} закрыто"
    ),
    "template.private": lambda a: f"{a['field']}: закрытое поле «{a['name']}» недоступно в шаблонах",
    "template.filter": lambda a: f"{a['field']}: неизвестный фильтр «{a['name']}»",
    "template.private_attr": lambda a: f"{a['field']}: закрытые поля недоступны и через «|attr»",
    "template.test": lambda a: f"{a['field']}: неизвестная проверка «{a['name']}»",
    "template.self": lambda a: f"{a['field']}: «self» в шаблонах недоступен",
    "template.include": lambda a: (
        f"{a['field']}: шаблон не может подключать другие шаблоны («include», «import», «extends»)"
    ),
}

PROBLEMS: dict[str, Any] = {
    "problems.flow": lambda a: f"В сценарии {_errors(a['count'])}",
    "problems.preset": lambda a: f"В шаблоне {_errors(a['count'])}",
    "problems.connection": lambda a: f"В подключении {_errors(a['count'])}",
    "problems.params": lambda a: f"В параметрах {_errors(a['count'])}",
    "problems.any": lambda a: f"Найдено: {_errors(a['count'])}",
    "problems.any.not_imported": lambda a: f"Найдено: {_errors(a['count'])}; ничего не импортировано",
    "problems.any.not_stored": lambda a: f"Найдено: {_errors(a['count'])}; ничего не сохранено",
    "problems.any.dry_run": lambda a: f"В запросе тестового запуска {_errors(a['count'])}",
}

CATALOGUE: dict[str, Any] = {**SCHEMA, **FLOW, **TEMPLATE, **PROBLEMS, **API, **API2, **BRANCHES, **JOURNEYS}


def say(code: str, args: dict[str, Any]) -> str | None:
    """The Russian of ``code`` with ``args``; None when the catalogue has no entry."""
    entry = CATALOGUE.get(code)
    if entry is None and code.startswith(("schema.", "secret.")):
        entry = CATALOGUE[code.split(".")[0] + ".other"]
    if entry is None:
        return None
    return entry(args)
