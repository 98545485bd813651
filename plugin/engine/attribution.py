"""Paid orders attributed to the scenarios that reached their clients (issue #19, SPEC §11).

The rule: a scenario *touches* a client when an action step of one of its runs for that client
succeeds (a run that reached an action — ``counted`` — and not a test send); the touch time is
that step's end. A paid order (``orders.paid_at``: when it first entered the ``paid`` group, or
the date the integration gave) is attributed to each scenario by its **last touch** of the
order's client at or before ``paid_at`` and at most :data:`MAX_WINDOW_DAYS` before it. Each paid
order counts **once per scenario** (an order paid, sent back to work and paid again keeps its
``paid_at`` and its row); a client reached by two scenarios counts for both. The window a reader
asks for (``window_days``, default 7) is applied when read: ``paid_at − touched_at ≤ window_days``.

A periodic pass (:func:`attribute`, the ``attribution`` job) reads the orders paid since its
watermark and stores one ``conversions`` row per (scenario, order), with the touch's run and
branch; a second cursor, on ``updated_at``, reads the paid orders the first one went past (a
payment reported days later with its real date, a client attached after the payment). Rows go
in with ``ON CONFLICT DO NOTHING`` and the watermarks only move forward, in the same
transaction, so passes may repeat or overlap. The reading side is engine/conversions.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session, aliased

from plugin.storage import bulk
from plugin.storage.models import Order, Run, Step, utcnow
from plugin.storage.stats_models import Conversion, ConversionOrder, StatsMark, age_days

log = logging.getLogger(__name__)

MAX_WINDOW_DAYS = 90
"""The largest ``window_days`` a reader may ask for: touches older than this are never stored."""

MARK = "attribution"
LATE_MARK = "attribution_late"
"""The second cursor: paid orders by ``updated_at``, for the ones the first one passed by — an
order whose integration gave a ``paid_at`` behind the watermark (a payment entered days later),
or whose transaction committed after the watermark's settling minutes, or that got its client
only after it was paid."""

SETTLE = timedelta(minutes=5)
"""How far behind ``now`` the watermark stays. An order's ``paid_at`` (and a touch's time) is set
before its transaction commits; re-reading the last minutes each pass takes in what committed
late, and ``ON CONFLICT DO NOTHING`` makes the re-reading free of double counts."""

CHUNK = 500  # orders (their clients) per touch query and rows per insert

_TABLE = Conversion.__table__
_ORDERS = ConversionOrder.__table__
_MARKS = StatsMark.__table__


def _is_touch(run, step) -> list:
    """The terms of a touch: a succeeded action step of a counted, non-test run with a client —
    or its split's choice: a client assigned to a variant is that variant's, even one that sends
    nothing (a control group), so each variant's conversions compare with the others'."""
    return [
        run.client_id.is_not(None),  # ix_runs_client_id's own predicate, for its use
        run.counted.is_(True),
        run.trigger != "test",
        run.flow_id.is_not(None),
        step.run_id == run.id,
        or_(step.node_type.like("action.%"), step.node_type == "flow.split"),
        step.status == "succeeded",
    ]


def branch_expression(run=Run):
    """``(variant, action)`` of a row of ``run``, as correlated scalar subqueries: the ``variant``
    in the output of its ``flow.split`` step, and the node id of its first succeeded action step
    (by end, then id; NULL: the run reached nobody). Its branch is ``coalesce(variant, action)``."""
    split, act = aliased(Step), aliased(Step)
    variant = (
        select(split.output["variant"].as_string())
        .where(split.run_id == run.id, split.node_type == "flow.split")
        .order_by(split.finished_at, split.id)
        .limit(1)
        .correlate(run)
        .scalar_subquery()
    )
    action = (
        select(act.node_id)
        .where(act.run_id == run.id, act.node_type.like("action.%"), act.status == "succeeded")
        .order_by(act.finished_at, act.id)
        .limit(1)
        .correlate(run)
        .scalar_subquery()
    )
    return variant, action


def branch_of(session: Session, run_ids: Iterable[str]) -> dict[str, str]:
    """Each run's branch: its split's variant, else its first succeeded action node's id.

    Runs with neither (nothing reached) are left out."""
    ids, branches = list(dict.fromkeys(run_ids)), {}
    variant, action = branch_expression()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = session.execute(select(Run.id, variant, action).where(bulk.among(session, Run.id, chunk)))
        for run_id, split_variant, first_action in rows:
            branch = split_variant if split_variant not in (None, "") else first_action
            if branch is not None:
                branches[run_id] = str(branch)
    return branches


def _paid_since(session: Session, since: datetime | None, now: datetime, limit: int):
    """Up to ``limit`` orders paid after ``since`` (and not after ``now``), in ``paid_at`` order,
    and the time up to which every paid order has been read. Orders sharing the ``paid_at`` of the
    batch's edge are all taken or all left to the next pass."""
    columns = (Order.id, Order.client_id, Order.paid_at, Order.price)
    query = select(*columns).where(Order.paid_at.is_not(None), Order.paid_at <= now)
    if since is not None:
        query = query.where(Order.paid_at > since)
    rows = session.execute(query.order_by(Order.paid_at, Order.id).limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, now
    edge = rows[limit].paid_at
    taken = [r for r in rows[:limit] if r.paid_at < edge]
    if taken:
        return taken, taken[-1].paid_at
    # more than ``limit`` orders paid at one instant (a bulk import): that instant at once
    return session.execute(select(*columns).where(Order.paid_at == edge).order_by(Order.id)).all(), edge


def _touches(session: Session, clients: list[str], low: datetime, high: datetime) -> dict:
    """client → [(touched_at, run_id, flow_id, branch)] of touches between ``low`` and ``high``."""
    step = aliased(Step)
    query = (
        select(Run.client_id, step.finished_at, Run.id, Run.flow_id, Run.branch)
        .select_from(Run)
        .join(step, step.run_id == Run.id)
        .where(
            bulk.among(session, Run.client_id, clients),
            Run.created_at <= high,
            step.finished_at >= low,
            step.finished_at <= high,
            *_is_touch(Run, step),
        )
    )
    found: dict[str, list] = {}
    for client_id, *touch in session.execute(query):
        found.setdefault(client_id, []).append(tuple(touch))
    return found


def _last_touches(order, touches: list) -> dict[str, tuple]:
    """flow → (touched_at, run_id, branch) of the scenario's last touch within the largest window."""
    earliest = order.paid_at - timedelta(days=MAX_WINDOW_DAYS)
    last: dict[str, tuple] = {}
    for touched_at, run_id, flow_id, branch in touches:
        if (
            earliest <= touched_at <= order.paid_at
            and (touched_at, run_id) > last.get(flow_id, (earliest, ""))[:2]
        ):
            last[flow_id] = (touched_at, run_id, branch)
    return last


def _conversions(session: Session, orders: list) -> list[dict]:
    """The conversion rows of ``orders`` (each with a client)."""
    rows: list[dict] = []
    for start in range(0, len(orders), CHUNK):
        chunk = orders[start : start + CHUNK]
        low = min(o.paid_at for o in chunk) - timedelta(days=MAX_WINDOW_DAYS)
        touches = _touches(session, sorted({o.client_id for o in chunk}), low, max(o.paid_at for o in chunk))
        for order in chunk:
            for flow_id, (touched_at, run_id, branch) in sorted(
                _last_touches(order, touches.get(order.client_id, [])).items()
            ):
                rows.append(
                    {
                        "flow_id": flow_id,
                        "order_id": order.id,
                        "client_id": order.client_id,
                        "run_id": run_id,
                        "branch": branch,
                        "touched_at": touched_at,
                        "paid_at": order.paid_at,
                        "revenue": float(order.price or 0),
                        "age_days": age_days(touched_at, order.paid_at),
                    }
                )
    # the run's branch as the engine recorded it (reach per branch reads the same), else — a run
    # that reached its client before runs had one — as its steps tell
    missing = [r for r in rows if r["branch"] is None]
    branches = branch_of(session, (r["run_id"] for r in missing))
    for row in missing:
        row["branch"] = branches.get(row["run_id"], "")[:100]
    return rows


def _store(session: Session, rows: list[dict]) -> int:
    """INSERT … ON CONFLICT DO NOTHING; how many rows were new. The orders' ``conversion_orders``
    rows follow (:func:`_store_orders`)."""
    stored = 0
    for start in range(0, len(rows), CHUNK):
        stmt = (
            bulk.dialect_insert(session, _TABLE)
            .values(rows[start : start + CHUNK])
            .on_conflict_do_nothing(index_elements=["flow_id", "order_id"])
            .returning(_TABLE.c.order_id)
        )
        stored += len(session.execute(stmt).all())
    _store_orders(session, rows)
    return stored


def _store_orders(session: Session, rows: list[dict]) -> None:
    """Each order of ``rows`` once in ``conversion_orders``: its nearest touch's age and its
    largest amount, merged with what an earlier pass stored (an order a scenario converts for
    later only ever lowers the age). Repeating a pass changes nothing."""
    orders: dict[str, dict] = {}
    for row in rows:
        found = orders.get(row["order_id"])
        if found is None:
            orders[row["order_id"]] = {k: row[k] for k in ("order_id", "paid_at", "age_days", "revenue")}
        else:
            found["age_days"] = min(found["age_days"], row["age_days"])
            found["revenue"] = max(found["revenue"], row["revenue"])
    merged, c = list(orders.values()), _ORDERS.c
    for start in range(0, len(merged), CHUNK):
        stmt = bulk.dialect_insert(session, _ORDERS).values(merged[start : start + CHUNK])
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["order_id"],
            set_={
                "age_days": case((c.age_days < new.age_days, c.age_days), else_=new.age_days),
                "revenue": case((c.revenue > new.revenue, c.revenue), else_=new.revenue),
            },
        )
        session.execute(stmt)


def _advance(session: Session, at: datetime, name: str = MARK) -> None:
    """Move the watermark ``name`` to ``at``, never back (another pass may have gone further)."""
    stmt = bulk.dialect_insert(session, _MARKS).values(name=name, at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"at": case((_MARKS.c.at > stmt.excluded.at, _MARKS.c.at), else_=stmt.excluded.at)},
    )
    session.execute(stmt)


def _mark(session: Session, name: str) -> datetime | None:
    return session.execute(select(StatsMark.at).where(StatsMark.name == name)).scalar_one_or_none()


def _late(session: Session, since: datetime, now: datetime, limit: int) -> tuple[list, datetime]:
    """Orders paid at or before ``since`` (the first cursor's watermark: it went past them) but
    changed after :data:`LATE_MARK`, about ``limit`` in ``updated_at`` order (through
    ``ix_orders_paid_updated``), and the time :data:`LATE_MARK` may move to. Its first pass only
    sets the mark: the first cursor starts from the beginning, so it reads every paid order."""
    low = _mark(session, LATE_MARK)
    if low is None:
        return [], now - SETTLE
    columns = (Order.id, Order.client_id, Order.paid_at, Order.price, Order.updated_at)
    changed = (Order.paid_at.is_not(None), Order.updated_at > low, Order.updated_at <= now)
    rows = session.execute(
        select(*columns).where(*changed).order_by(Order.updated_at, Order.id).limit(limit + 1)
    ).all()
    high = now - SETTLE
    if len(rows) > limit:  # more follow: up to the instant of the first one left out, whole
        edge = rows[limit].updated_at
        rows = [r for r in rows[:limit] if r.updated_at < edge]
        if not rows:  # more than ``limit`` changed at one instant: that instant at once
            rows = session.execute(select(*columns).where(*changed, Order.updated_at == edge)).all()
            high = min(high, edge)
        else:
            high = min(high, rows[-1].updated_at)
    return [r for r in rows if r.paid_at <= since], max(low, high)


def watermark(session: Session) -> datetime | None:
    """Orders paid up to this time have been attributed (None: no pass yet)."""
    return _mark(session, MARK)


def attribute(session: Session, now: datetime | None = None, limit: int = 5000) -> int:
    """One pass: the orders paid since the watermark (at most about ``limit``, in ``paid_at``
    order) attributed to the scenarios that last touched their clients; the watermark moved, all
    committed. Returns the conversions stored by this pass (rows already there are not counted)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")
    now = now or utcnow()
    since = watermark(session)
    orders, read_to = _paid_since(session, since, now, limit)
    late, late_to = _late(session, since, now, limit) if since is not None else ([], now - SETTLE)
    taken = {o.id for o in orders}
    orders = [*orders, *(o for o in late if o.id not in taken)]
    rows = _conversions(session, [o for o in orders if o.client_id])
    stored = _store(session, rows)
    mark = min(read_to, now - SETTLE)
    if since is None or mark > since:
        _advance(session, mark)
    _advance(session, late_to, LATE_MARK)
    session.commit()
    if stored:
        log.info(
            "attribution: %d orders read, %d conversions stored, watermark %s", len(orders), stored, mark
        )
    return stored


def catch_up(
    session: Session, now: datetime | None = None, limit: int = 5000, seconds: float | None = None
) -> int:
    """Passes until every order paid up to ``now`` is read (or ``seconds`` have gone): a pass
    storing nothing may still have orders after it. Returns the conversions stored."""
    now, started, stored = now or utcnow(), time.monotonic(), 0
    while True:
        stored += attribute(session, now=now, limit=limit)
        if watermark(session) >= now - SETTLE or (
            seconds is not None and time.monotonic() - started > seconds
        ):
            return stored


def window_terms(window_days: int) -> list:
    """``paid_at − touched_at ≤ window_days`` on a conversions row: its ``age_days`` (the days
    rounded up) at most ``window_days`` — exact, and a range of ``ix_conversions_age_paid``."""
    if not 0 <= window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be between 0 and {MAX_WINDOW_DAYS}, got {window_days!r}")
    return [_TABLE.c.age_days <= window_days]
