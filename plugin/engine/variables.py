"""The Roistat template variables of SPEC §4 and ``{unsubscribe_url}`` (SPEC §11): their titles,
examples, and values in a run context (the link is put in the context by ``engine.runner``)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


def _var(name: str, ru: str, en: str, example: str, path: tuple[str, ...]) -> dict[str, Any]:
    return {"name": name, "title": {"ru": ru, "en": en}, "example": example, "path": path}


_UTM_EXAMPLES = {
    "utm_source": "yandex",
    "utm_medium": "cpc",
    "utm_campaign": "spring_sale",
    "utm_term": "купить диван",
    "utm_content": "banner_1",
}

VARIABLES: tuple[dict[str, Any], ...] = (
    _var("visit_id", "Номер визита", "Visit id", "12345", ("visit", "id")),
    _var("visit_ip", "IP-адрес посетителя", "Visitor's IP address", "123.45.67.89", ("visit", "ip")),
    _var("visit_marker", "Источник (маркер)", "Source (marker)", "test_page_post", ("visit", "marker")),
    _var("visit_city", "Город посетителя", "Visitor's city", "Москва", ("visit", "city")),
    _var("visit_country", "Страна посетителя", "Visitor's country", "Россия", ("visit", "country")),
    _var("visit_referrer", "Реферер", "Referrer page", "testpage.com", ("visit", "referrer")),
    _var("visit_domain", "Домен сайта", "Domain name", "site.com", ("visit", "domain")),
    _var(
        "visit_landing_page",
        "Посадочная страница",
        "Landing page",
        "site.com/test/page",
        ("visit", "landing_page"),
    ),
    *(
        _var(f"visit_{tag}", f"Значение метки {tag}", f"{tag} value", example, ("visit", tag))
        for tag, example in _UTM_EXAMPLES.items()
    ),
    *(
        _var(
            f"visit_roistat_param_{n}",
            f"Значение метки roistat_param{n}",
            f"roistat_param{n} value",
            f"param{n}",
            ("visit", f"roistat_param_{n}"),
        )
        for n in range(1, 6)
    ),
    _var("client_external_id", "ID клиента в CRM", "Client's CRM id", "2", ("client", "external_id")),
    _var("client_name", "Имя клиента", "Client's name", "Иван Петров", ("client", "name")),
    _var("client_company", "Компания клиента", "Client's company", "ООО «Ромашка»", ("client", "company")),
    _var("client_phone", "Телефон клиента", "Client's phone", "79012223344", ("client", "phone")),
    _var("client_email", "Email клиента", "Client's email", "test@client.com", ("client", "email")),
    _var("order_id", "ID сделки в CRM", "Deal's CRM id", "100", ("order", "id")),
    _var("order_price", "Сумма сделки", "Deal amount", "120", ("order", "price")),
    _var("order_cost", "Себестоимость сделки", "Deal cost", "100", ("order", "cost")),
    _var("order_status", "Статус сделки в CRM", "Deal status in the CRM", "Новая", ("order", "status")),
    _var("event_id", "ID срабатывания события", "Event occurrence id", "501", ("event", "id")),
    _var(
        "event_meta_id", "ID события (раздел «События»)", "Event meta id", "form_submit", ("event", "meta_id")
    ),
    _var(
        "event_data",
        "Данные события",
        "Event data",
        '{"form":"callback","amount":1500}',
        ("event", "data"),
    ),
    # SPEC §11: the signed one-click link for the recipient of the step (e-mail, or the phone of an SMS)
    _var(
        "unsubscribe_url",
        "Ссылка для отписки",
        "Unsubscribe link",
        "https://mail.example.com/api/v1/unsubscribe/ZTp0ZXN0QGNsaWVudC5jb20.3q2-7wAAAAAAAAAAAAAAAA",
        ("unsubscribe", "url"),
    ),
)

VARIABLE_NAMES = frozenset(v["name"] for v in VARIABLES)
_PATHS = {v["name"]: v["path"] for v in VARIABLES}


def as_text(value: Any) -> str:
    """How a value reads in a message: ``None`` → ``""``, ``120.0`` → ``"120"``, objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (float, Decimal)):
        if not math.isfinite(value):
            return ""
        if value == int(value):
            return str(int(value))
        return format(value.normalize(), "f") if isinstance(value, Decimal) else repr(value)
    if isinstance(value, (dict, list, tuple)):
        if not value:
            return ""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def resolve(name: str, context: dict[str, Any]) -> str:
    """The text of variable ``name`` in ``context``; ``""`` when the data is absent (Roistat's rule)."""
    try:
        path = _PATHS[name]
    except KeyError:
        raise KeyError(f"unknown template variable {name!r}") from None
    value: Any = context
    for key in path:
        if not isinstance(value, dict):
            return ""
        value = value.get(key)
    return as_text(value)
