"""Batch ingestion (``POST /api/v1/batch``): up to 1,000 items with a handful of statements."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.ingest.orders import new_order_row, upsert_order
from plugin.ingest.store import custom_event_row, upsert_client, visit_row
from plugin.storage import bulk
from plugin.storage.models import Client, CustomEvent, Event, Order, Visit, utcnow
from plugin.storage.writes import insert_rows


def ingest_batch(session: Session, items: list[tuple[str, dict]], groups: dict[str, str]) -> int:
    """Store up to 1,000 items with a handful of statements; same semantics as one by one.

    Returns how many engine events the batch derived (all inserted in this transaction).

    Visits, custom events and orders that are new (not stored, named once in the batch, without
    an inline client) go in with one multi-row ``INSERT … ON CONFLICT DO NOTHING`` per table
    (ids already stored, or repeated in the batch, fire nothing), their engine events with one
    more. Existing orders, orders named twice and clients are loaded at once and upserted through
    the ORM in the batch's order, so two updates of one order derive the same events as two
    requests would.
    """
    batch = _Batch(session, items, groups)
    batch.sort(items)
    session.flush()
    batch.insert_new()
    return batch.derived


class _Batch:
    """One batch of ``ingest_batch``: the rows it inserts at once, and what it upserts one by one."""

    def __init__(self, session: Session, items: list[tuple[str, dict]], groups: dict[str, str]):
        self.session, self.groups, self.now = session, groups, utcnow()
        order_ids = [str(d["id"]) for k, d in items if k == "order"]
        self.repeated = (
            {i for i in order_ids if order_ids.count(i) > 1}
            if len(set(order_ids)) != len(order_ids)
            else set()
        )
        client_ids = {str(d["external_id"]) for k, d in items if k == "client"}
        client_ids |= {
            str(d["client"]["external_id"])
            for k, d in items
            if k == "order" and isinstance(d.get("client"), dict) and d["client"].get("external_id")
        }
        self.known_orders = _load(session, Order, Order.id, set(order_ids))
        self.known_clients = _load(session, Client, Client.external_id, client_ids)
        self.visits: list[dict] = []
        self.customs: list[dict] = []
        self.new_orders: list[tuple[dict, dict]] = []  # (the row to insert, the item's data)
        self.derived = 0

    def sort(self, items: list[tuple[str, dict]]) -> None:
        """Upsert the clients and the orders that need it, in the batch's order; keep the new rows."""
        for kind, data in items:
            if kind == "client":
                fields = dict(data)
                upsert_client(self.session, str(fields.pop("external_id")), fields, self.known_clients)
            elif kind == "order":
                order_id = str(data["id"])
                if (
                    order_id in self.known_orders
                    or order_id in self.repeated
                    or isinstance(data.get("client"), dict)
                ):
                    self._upsert_order(data, known=True)
                else:
                    self.new_orders.append((new_order_row(order_id, data, self.groups, self.now), data))
            elif kind == "visit":
                self.visits.append(visit_row(data, self.now))
            else:
                self.customs.append(custom_event_row(data, self.now))

    def insert_new(self) -> None:
        """The new rows, one statement per table, and the engine events of those that were new; an
        order created meanwhile by another request is upserted like any other."""
        rows, late = self._insert_new_orders()
        for visit_id in bulk.insert_new_rows(self.session, Visit.__table__, self.visits):
            rows.append({"trigger": "visit_created", "subject_id": visit_id, "data": {}})
        names = {c["id"]: c["name"] for c in self.customs}
        for custom_id in bulk.insert_new_rows(self.session, CustomEvent.__table__, self.customs):
            rows.append(
                {"trigger": "custom_event", "subject_id": custom_id, "data": {"name": names[custom_id]}}
            )
        for row in rows:
            row["created_at"] = self.now
        insert_rows(self.session, Event.__table__, rows)
        self.derived += len(rows)
        for data in late:
            self._upsert_order(data, known=False)

    def _insert_new_orders(self) -> tuple[list[dict], list[dict]]:
        """Insert the new orders: the order_created events of those stored, and the data of the rest."""
        events, late = [], []
        if self.new_orders:
            stored = set(
                bulk.insert_new_rows(self.session, Order.__table__, [row for row, _ in self.new_orders])
            )
            for row, data in self.new_orders:
                if row["id"] in stored:
                    events.append({"trigger": "order_created", "subject_id": row["id"], "data": {}})
                else:
                    late.append(data)
        return events, late

    def _upsert_order(self, data: dict, *, known: bool) -> None:
        fields = dict(data)
        order_id = str(fields.pop("id"))
        if known:
            events = upsert_order(
                self.session, order_id, fields, self.groups, self.known_orders, self.known_clients
            )
        else:
            events = upsert_order(self.session, order_id, fields, self.groups)
        self.derived += len(events)


def _load(session: Session, model, column, ids: set[str]) -> dict:
    out = {}
    ids = list(ids)
    for start in range(0, len(ids), 500):
        for row in session.scalars(
            select(model).where(bulk.among(session, column, ids[start : start + 500]))
        ):
            out[getattr(row, column.key)] = row
    return out
