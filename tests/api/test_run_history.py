"""Run history a marketer can search (issue #19): deal, client and recipient on each run, the
recipient and period filters with the old ones, CSV export read back, and bad parameters."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from plugin.api.extensions import db
from plugin.storage.models import Client, Order, Run

T0 = datetime(2026, 11, 1, 12, 0, 0)


def _run(i: int, **over) -> dict:
    row = {
        "id": f"r{i:03d}",
        "flow_id": "f1" if i % 2 else "f2",
        "flow_version": 1,
        "flow_name": "Письмо после заказа" if i % 2 else "=HYPERLINK(1)",
        "definition": {},
        "trigger": "event",
        "event_type": "order_created",
        "status": "failed" if i % 3 == 0 else "succeeded",
        "triggered": True,
        "counted": True,
        "context": {},
        "order_id": None,
        "client_id": None,
        "recipient": None,
        "created_at": T0 + timedelta(hours=i),
        "updated_at": T0,
    }
    row.update(over)
    return row


@pytest.fixture
def seeded(app):
    """12 runs an hour apart: deals o0…o3 of clients c0…c2 with e-mails, a webhook run, a run of a
    deleted order known only from its snapshot."""
    with app.app_context():
        db.session.execute(
            insert(Order),
            [
                {"id": f"o{k}", "price": 1000.5 * (k + 1), "status": "Оплачен" if k % 2 else "Новый"}
                for k in range(4)
            ],
        )
        db.session.execute(
            insert(Client),
            [{"external_id": f"c{k}", "name": f"Клиент {k}", "email": f"c{k}@shop.ru"} for k in range(3)],
        )
        rows = [
            _run(i, order_id=f"o{i % 4}", client_id=f"c{i % 3}", recipient=f"c{i % 3}@shop.ru")
            for i in range(10)
        ]
        rows.append(_run(10, recipient="hooks.example.com"))
        rows.append(
            _run(
                11,
                order_id="gone",
                client_id="nobody",
                context={
                    "order": {"id": "gone", "price": 77, "status": "Отказ"},
                    "client": {"name": "Аноним"},
                },
                definition={"nodes": [{"id": "a", "type": "action.slack", "params": {"webhook_url": "x"}}]},
            )
        )
        db.session.execute(insert(Run), rows)
        db.session.commit()
    return rows


def _ids(client, query: str) -> list[str]:
    ids, cursor = [], None
    while True:
        answer = client.get(f"/api/v1/runs?{query}&limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert answer.status_code == 200, answer.get_json()
        page = answer.get_json()
        ids += [r["id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def _expected(rows, keep) -> list[str]:
    return [r["id"] for r in sorted(rows, key=lambda r: r["created_at"], reverse=True) if keep(r)]


def test_each_run_carries_its_deal_client_and_recipient(client, seeded):
    runs = {r["id"]: r for r in client.get("/api/v1/runs?limit=100").get_json()["runs"]}
    assert runs["r005"]["order"] == {"id": "o1", "status": "Оплачен", "price": 2001.0}
    assert runs["r005"]["client"] == {"id": "c2", "name": "Клиент 2"}
    assert runs["r005"]["recipient"] == "c2@shop.ru"
    assert runs["r010"]["order"] is None and runs["r010"]["client"] is None
    assert runs["r010"]["recipient"] == "hooks.example.com"
    # the order and client rows are gone: the run's snapshot; a Slack URL is a secret
    assert runs["r011"]["order"] == {"id": "gone", "status": "Отказ", "price": 77}
    assert runs["r011"]["client"] == {"id": "nobody", "name": "Аноним"}
    assert runs["r011"]["recipient"] == "slack:********"
    assert client.get("/api/v1/runs/r005").get_json()["order"]["id"] == "o1"


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("recipient=c1@shop.ru", lambda r: r["recipient"] == "c1@shop.ru"),
        ("recipient=c*", lambda r: (r["recipient"] or "").startswith("c")),
        ("recipient=hooks.*", lambda r: r["recipient"] == "hooks.example.com"),
        ("recipient=c1@shop", lambda r: False),  # without *: exact
        ("recipient=c_%25*", lambda r: False),  # LIKE's wildcards are plain characters
        ("since=2026-11-01T15:00:00", lambda r: r["created_at"] >= T0 + timedelta(hours=3)),
        ("until=2026-11-01T15:00:00Z", lambda r: r["created_at"] < T0 + timedelta(hours=3)),
        # 18:00 in Moscow is 15:00 UTC
        (
            "since=2026-11-01T17:00:00%2B03:00&until=2026-11-01T18:00:00%2B03:00",
            lambda r: T0 + timedelta(hours=2) <= r["created_at"] < T0 + timedelta(hours=3),
        ),
        ("since=2026-11-01&until=2026-11-02", lambda r: r["created_at"] < datetime(2026, 11, 2)),
        ("until=2026-11-01", lambda r: False),
        ("order_id=o2", lambda r: r["order_id"] == "o2"),
        ("client_id=c0&status=failed", lambda r: r["client_id"] == "c0" and r["status"] == "failed"),
        (
            "flow_id=f1&recipient=c2@shop.ru&since=2026-11-01T14:00:00",
            lambda r: (
                r["flow_id"] == "f1"
                and r["recipient"] == "c2@shop.ru"
                and r["created_at"] >= T0 + timedelta(hours=2)
            ),
        ),
    ],
)
def test_filters_list_exactly_their_runs_newest_first(client, seeded, query, keep):
    expected = _expected(seeded, keep)
    assert _ids(client, query) == expected
    assert expected or query.startswith(("recipient=c1@shop", "recipient=c_", "until=2026-11-01"))


def _csv(answer) -> list[list[str]]:
    raw = answer.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def test_csv_holds_every_matching_run_for_russian_excel(client, seeded):
    answer = client.get("/api/v1/runs?format=csv&limit=2&recipient=c*")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["X-Max-Rows"] == "100000"
    table = _csv(answer)
    assert table[0][:3] == ["Дата (UTC)", "Запуск", "Сценарий"] and len(table[0]) == 12
    body = table[1:]
    assert [row[1] for row in body] == _expected(seeded, lambda r: (r["recipient"] or "").startswith("c"))
    r005 = next(row for row in body if row[1] == "r005")
    assert r005 == [
        "2026-11-01 17:00:00",
        "r005",
        "Письмо после заказа",
        "f1",
        "succeeded",
        "o1",
        "Оплачен",
        "2001",
        "c2",
        "Клиент 2",
        "c2@shop.ru",
        "",
    ]
    r000 = next(row for row in body if row[1] == "r000")
    assert r000[2] == "'=HYPERLINK(1)"  # never a formula in Excel
    assert r000[7] == "1000,5"


def test_csv_streams_past_one_page(client, app):
    with app.app_context():
        db.session.execute(insert(Run), [_run(i, recipient="many@shop.ru") for i in range(1203)])
        db.session.commit()
    table = _csv(client.get("/api/v1/runs?format=csv"))
    assert len(table) == 1 + 1203
    assert len({row[1] for row in table[1:]}) == 1203


@pytest.mark.parametrize(
    ("query", "paths"),
    [
        ("since=yesterday", ["/since"]),
        ("until=2026-13-01", ["/until"]),
        ("since=2026-11-02&until=2026-11-01", ["/until"]),
        ("since=0001-01-01T00:00:00%2B05:00", ["/since"]),
        ("format=xlsx&limit=0", ["/limit", "/format"]),
        ("recipient=*", ["/recipient"]),
        ("recipient=" + "x" * 400, ["/recipient"]),
        ("status=done&since=now&until=later", ["/status", "/since", "/until"]),
    ],
)
def test_bad_parameters_are_problems_with_their_paths(client, seeded, query, paths):
    answer = client.get(f"/api/v1/runs?{query}")
    assert answer.status_code == 422, answer.get_data()
    assert answer.mimetype == "application/problem+json"
    assert [e["path"] for e in answer.get_json()["errors"]] == paths
