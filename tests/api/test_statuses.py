"""GET /api/v1/statuses (SPEC §11): the statuses seen in orders with their group and count, plus the
statuses AUTOMATION_STATUS_GROUPS configures (0 orders until one arrives)."""

from __future__ import annotations

import pytest

from tests.conftest import app_env


@pytest.fixture
def env(database_url, redis_url, tmp_path):
    return app_env(
        database_url, redis_url, tmp_path / "data", AUTOMATION_STATUS_GROUPS="Отгружено:paid,Брак:cancelled"
    )


def test_seen_statuses_with_counts_and_the_configured_ones(client):
    orders = {"1": "Новая", "2": "Новая", "3": "Оплачено", "4": "В работе", "5": "Новая", "6": "Отгружено"}
    for order_id, status in orders.items():
        resp = client.put(f"/api/v1/orders/{order_id}", json={"status": status, "price": 100})
        assert resp.status_code == 202, resp.text
    client.put("/api/v1/orders/7", json={"price": 5})  # no status: not listed
    resp = client.get("/api/v1/statuses")
    assert resp.status_code == 200
    assert resp.get_json() == [
        {"name": "Новая", "group": "in_work", "orders": 3},
        {"name": "В работе", "group": "in_work", "orders": 1},
        {"name": "Оплачено", "group": "paid", "orders": 1},
        {"name": "Отгружено", "group": "paid", "orders": 1},
        {"name": "Брак", "group": "cancelled", "orders": 0},
    ]


def test_without_orders_only_the_configured_statuses(client):
    assert client.get("/api/v1/statuses").get_json() == [
        {"name": "Брак", "group": "cancelled", "orders": 0},
        {"name": "Отгружено", "group": "paid", "orders": 0},
    ]
