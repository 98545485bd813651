"""Run history a marketer can search: the filters, the keyset pages, and each run's deal, client
and recipient (issue #19, SPEC §11 «Analytics»).

The deal and the client come from the ``orders`` and ``clients`` tables as they are now (their
current status, amount and name: what the marketer sees in the CRM), and from the run's own
context snapshot when the row is gone (pruned, or never stored: a direct node call). The
recipient is the run's stored ``recipient`` (engine/recipients.py), worked out again from the
definition and context for runs stored before that column existed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from plugin.engine.recipients import recipient_of
from plugin.storage.models import NOT_SUCCEEDED, Client, Order, Run

PAGE = 500


@dataclass(frozen=True)
class Filters:
    """What ``GET /runs`` narrows by; ``recipient`` ending in ``*`` is a prefix."""

    flow_id: str | None = None
    status: str | None = None
    order_id: str | None = None
    client_id: str | None = None
    recipient: str | None = None
    since: datetime | None = None  # naive UTC, inclusive
    until: datetime | None = None  # naive UTC, exclusive


def runs_query(filters: Filters, after: tuple[datetime, str] | None = None):
    """Runs matching ``filters``, newest first, after the keyset position ``after``."""
    query = select(Run)
    for name in ("flow_id", "order_id", "client_id"):
        if getattr(filters, name):
            query = query.where(getattr(Run, name) == getattr(filters, name))
    if filters.status:
        query = query.where(Run.status == filters.status)
        if filters.status != "succeeded":  # through ix_runs_status_created, in order (models.NOT_SUCCEEDED)
            query = query.where(NOT_SUCCEEDED)
    if filters.recipient:
        if filters.recipient.endswith("*"):
            query = query.where(Run.recipient.startswith(filters.recipient[:-1], autoescape=True))
        else:
            query = query.where(Run.recipient == filters.recipient)
    if filters.since is not None:
        query = query.where(Run.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(Run.created_at < filters.until)
    if after is not None:
        created_at, run_id = after
        query = query.where(
            or_(Run.created_at < created_at, and_(Run.created_at == created_at, Run.id < run_id))
        )
    return query.order_by(Run.created_at.desc(), Run.id.desc())


def page(session: Session, filters: Filters, limit: int, after=None) -> tuple[list[Run], bool]:
    """Up to ``limit`` runs and whether more follow."""
    runs = session.scalars(runs_query(filters, after).limit(limit + 1)).all()
    return list(runs[:limit]), len(runs) > limit


@dataclass
class Related:
    """The orders and clients of a page of runs, read in two queries."""

    orders: dict[str, Order]
    clients: dict[str, Client]


def related(session: Session, runs: list[Run]) -> Related:
    order_ids = {r.order_id for r in runs if r.order_id}
    client_ids = {r.client_id for r in runs if r.client_id}
    orders = session.scalars(select(Order).where(Order.id.in_(order_ids))).all() if order_ids else []
    clients = (
        session.scalars(select(Client).where(Client.external_id.in_(client_ids))).all() if client_ids else []
    )
    return Related({o.id: o for o in orders}, {c.external_id: c for c in clients})


def extras(run: Run, known: Related) -> dict:
    """``order``, ``client`` and ``recipient`` of a run item."""
    context = run.context if isinstance(run.context, dict) else {}
    return {
        "order": _order(run.order_id, known.orders.get(run.order_id or ""), context.get("order")),
        "client": _client(run.client_id, known.clients.get(run.client_id or ""), context.get("client")),
        "recipient": run.recipient or recipient_of(run.definition, context),
    }


def _order(order_id: str | None, row: Order | None, snapshot) -> dict | None:
    if row is not None:
        return {"id": row.id, "status": row.status, "price": row.price}
    if not order_id:
        return None
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    price = snapshot.get("price")
    return {
        "id": order_id,
        "status": snapshot.get("status"),
        "price": price if isinstance(price, int | float) and not isinstance(price, bool) else None,
    }


def _client(client_id: str | None, row: Client | None, snapshot) -> dict | None:
    if row is not None:
        return {"id": row.external_id, "name": row.name}
    if not client_id:
        return None
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    name = snapshot.get("name")
    return {"id": client_id, "name": name if isinstance(name, str) else None}


def everything(session: Session, filters: Filters, maximum: int) -> Iterator[tuple[Run, dict]]:
    """Every matching run with its extras, newest first, page by page, at most ``maximum``."""
    after, given = None, 0
    while given < maximum:
        runs, more = page(session, filters, min(PAGE, maximum - given), after)
        known = related(session, runs)
        for run in runs:
            yield run, extras(run, known)
        given += len(runs)
        if not more or not runs:
            return
        after = (runs[-1].created_at, runs[-1].id)
        session.expunge_all()  # a long export holds one page in memory, not all of them
