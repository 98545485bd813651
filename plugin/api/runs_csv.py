"""The run history as CSV (``GET /api/v1/runs?format=csv``), streamed, for Excel as it is set up in Russia.

Choices, for a marketer who double-clicks the file: UTF-8 with a BOM (without it Excel reads
Cyrillic as cp1251 mojibake), ``;`` between fields and a decimal comma in amounts (the list and
decimal separators of the Russian locale), times in UTC as ``YYYY-MM-DD HH:MM:SS`` (a date Excel
recognises), and a value that starts with ``= + - @`` or a tab prefixed with ``'`` so a client's
name is never run as a formula (CSV injection). At most :data:`MAX_ROWS` runs, the newest first,
read :data:`history.PAGE` at a time while the response is being sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, stream_with_context

from plugin.engine import history
from plugin.storage.models import Run

MAX_ROWS = 100_000
BOM = "\ufeff"
HEADER = (
    "Дата (UTC)",
    "Запуск",
    "Сценарий",
    "ID сценария",
    "Статус",
    "Сделка",
    "Статус сделки",
    "Сумма",
    "Клиент",
    "Имя клиента",
    "Получатель",
    "Ошибка",
)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def row(run: Run, extras: dict) -> list[str]:
    order, client = extras["order"] or {}, extras["client"] or {}
    price = order.get("price")
    return [
        run.created_at.strftime("%Y-%m-%d %H:%M:%S") if run.created_at else "",
        run.id,
        _cell(run.flow_name),
        _cell(run.flow_id),
        run.status,
        _cell(order.get("id")),
        _cell(order.get("status")),
        _cell(float(price) if isinstance(price, int | float) else None),
        _cell(client.get("id")),
        _cell(client.get("name")),
        _cell(extras["recipient"]),
        _cell(run.error),
    ]


def lines(session, filters: history.Filters) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    yield BOM + buffer.getvalue()
    for run, extras in history.everything(session, filters, MAX_ROWS):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row(run, extras))
        yield buffer.getvalue()


def response(session, filters: history.Filters) -> Response:
    return Response(
        stream_with_context(lines(session, filters)),
        mimetype="text/csv",
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="runs.csv"',
            "X-Max-Rows": str(MAX_ROWS),
        },
    )
