"""Reading suppression-list entries (SPEC §11): one JSON body, or a CSV file with a header row.

An entry is ``{"email"|"phone", "channel", "reason"}``: exactly one address, normalised as the
sending steps read them (e-mail lower-case and trimmed, phone E.164 as ``action.sms``),
``channel`` ``email``, ``sms`` or ``all`` (the default), ``reason`` free text. Every problem is
reported with its JSON pointer (a body) or its line number (a CSV file), never only the first.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from plugin.ingest.reading import text_problems
from plugin.nodes._services.phones import DEFAULT_REGION
from plugin.storage.suppressions import CHANNELS, REASON_MAX, normalize_email, normalize_phone

FIELDS = ("email", "phone", "channel", "reason")
# a header cell → the field it names (what Excel users write in Russian too)
HEADER_ALIASES = {
    "email": "email",
    "e-mail": "email",
    "почта": "email",
    "phone": "phone",
    "телефон": "phone",
    "channel": "channel",
    "канал": "channel",
    "reason": "reason",
    "причина": "reason",
}
CHANNEL_ALIASES = {"e-mail": "email", "почта": "email", "смс": "sms", "все": "all", "всё": "all"}
MAX_ROWS = 100_000


def entry(body: Any, base: str = "", region: str = DEFAULT_REGION) -> tuple[dict | None, list[dict]]:
    """``({"kind", "address", "channel", "reason"}, [])`` for a valid entry, else ``(None, problems)``."""
    if not isinstance(body, dict):
        return None, [{"path": base or "/", "message": "ожидается объект (expected an object)"}]
    problems = [
        {"path": f"{base}/{k}", "message": "неизвестное поле (unknown field)"}
        for k in body
        if k not in FIELDS
    ]
    for key, value in body.items():
        if isinstance(value, str):
            problems += text_problems(value, f"{base}/{key}")
    kind, address, more = _address(body, base, region)
    channel = body.get("channel") if body.get("channel") not in (None, "") else "all"
    if channel not in CHANNELS:
        problems.append(
            {"path": f"{base}/channel", "message": f"канал — одно из (must be one of) {', '.join(CHANNELS)}"}
        )
    reason = body.get("reason")
    reason = "" if reason is None else reason
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        problems.append(
            {
                "path": f"{base}/reason",
                "message": f"текст до {REASON_MAX} символов (text of at most {REASON_MAX} characters)",
            }
        )
    problems += more
    if problems:
        return None, problems
    return {"kind": kind, "address": address, "channel": channel, "reason": reason.strip()}, []


def _address(body: dict, base: str, region: str) -> tuple[str, str | None, list[dict]]:
    email, phone = body.get("email"), body.get("phone")
    given = [k for k in ("email", "phone") if body.get(k) not in (None, "")]
    if len(given) != 1:
        message = (
            "только одно: email или телефон (give exactly one of email and phone)"
            if given
            else "нужен email или телефон (an email or a phone is required)"
        )
        return "", None, [{"path": f"{base}/{given[1] if given else 'email'}", "message": message}]
    if given == ["email"]:
        address = normalize_email(email)
        if address is None:
            return (
                "email",
                None,
                [{"path": f"{base}/email", "message": f"это не email (not an e-mail address): {email!r}"}],
            )
        return "email", address, []
    address = normalize_phone(phone, region)
    if address is None:
        return (
            "phone",
            None,
            [
                {
                    "path": f"{base}/phone",
                    "message": f"некорректный телефон (not a valid phone number): {phone!r}",
                }
            ],
        )
    return "phone", address, []


def decode(raw: bytes) -> str:
    """A CSV file's text: UTF-8 (with or without Excel's BOM), else Windows-1251 (Excel in Russian)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")


def read_csv(text: str, region: str = DEFAULT_REGION) -> tuple[list[tuple[int, dict]], list[dict]]:
    """The entries of a CSV file with a header row, each with its line number, and the problems:
    ``{"line", "path", "message"}`` for every bad row (``path`` ``/line/N/field``)."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        return [], [
            {
                "line": 1,
                "path": "/line/1",
                "message": "файл пуст: нужна строка заголовков (the file is empty: a header row is expected)",
            }
        ]
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)  # csv reads \r, \n and \r\n itself
    try:
        return _read_rows(reader, region)
    except csv.Error as exc:  # e.g. a quote left open: told with its line, never a 500
        line = reader.line_num or 1
        return [], [
            {"line": line, "path": f"/line/{line}", "message": f"файл не читается как CSV (not CSV: {exc})"}
        ]


def _read_rows(reader, region: str) -> tuple[list[tuple[int, dict]], list[dict]]:
    header = [HEADER_ALIASES.get(cell.strip().lower()) for cell in next(reader)]
    if "email" not in header and "phone" not in header:
        message = (
            "в заголовках нет столбца «email» или «phone» (the header row must name an email or a phone column: "
            "email, phone, channel, reason)"
        )
        return [], [{"line": 1, "path": "/line/1", "message": message}]
    entries: list[tuple[int, dict]] = []
    problems: list[dict] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(entries) + len(problems) >= MAX_ROWS:
            problems.append(
                {
                    "line": line,
                    "path": f"/line/{line}",
                    "message": f"больше {MAX_ROWS} строк (more than {MAX_ROWS} rows)",
                }
            )
            break
        for item, bad in _row_entries(header, row, line, region):
            if item is not None:
                entries.append((line, item))
            problems += [{"line": line, **p} for p in bad]
    return entries, problems


def _row_entries(header: list[str | None], row: list[str], line: int, region: str):
    """A row's entries: one per address it gives (a row may give an e-mail and a phone)."""
    cells = {name: cell.strip() for name, cell in zip(header, row, strict=False) if name}
    common = {k: cells[k] for k in ("channel", "reason") if cells.get(k)}
    if cells.get("channel"):
        channel = cells["channel"].lower()
        common["channel"] = CHANNEL_ALIASES.get(channel, channel)
    addresses = [{k: cells[k]} for k in ("email", "phone") if cells.get(k)]
    if not addresses:
        return [
            (
                None,
                [
                    {
                        "path": f"/line/{line}",
                        "message": "в строке нет ни email, ни телефона (no email and no phone in this row)",
                    }
                ],
            )
        ]
    return [entry({**address, **common}, f"/line/{line}", region) for address in addresses]
