"""Claiming stored events for dispatch: each worker takes a batch of undispatched events, others
skip them.

A claim is a lease (``claimed_until``, committed: an event whose claim ran out — its worker died
— is claimed again), or, on PostgreSQL in a session that :func:`hold_claims` marked (the dispatch
jobs'), row locks held by the session's open transaction (``FOR NO KEY UPDATE SKIP LOCKED``):
nothing is written and nothing committed, the batch's T1 marks the events dispatched and ends the
claim in the same commit, and a rollback, a crash or a lost connection frees them at once. One
statement that wrote every claimed row and one commit less per batch (bench/README.md §12). A
rollback in the middle of a batch (a poison event halved, a run that exists already) frees the
events too: :func:`retake` locks again those still undispatched that no other worker took meanwhile.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, any_, bindparam, func, select, update
from sqlalchemy.orm import Session

from plugin.storage import bulk
from plugin.storage.models import Event, utcnow

HOLD = "automation.hold_claims"  # a session's info key: its claims are row locks (PostgreSQL)


class Claim(list):
    """The ids of claimed events, in order, with their rows as the claim returned them (``rows``),
    so that dispatching the batch needs no second read of the events."""

    rows: list


def claim_events(session: Session, limit: int, lease_seconds: float) -> Claim:
    """Take up to ``limit`` undispatched events for this worker (others skip them): as a lease,
    committed, or as row locks held until the session's transaction ends (:func:`hold_claims`)."""
    now = utcnow()
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and session.info.get(HOLD):
        # prepared once the events outgrow a young table's plan (bulk.execute_prepared)
        rows = bulk.execute_prepared(session, _held_statement(limit), {"now": now}, grown=("events",)).all()
        if not rows:
            # nothing locked: end the transaction (a commit: psycopg drops its prepared statements
            # on every rollback)
            session.commit()
        return _claim(rows)
    statement = _claim_statement(postgresql, limit)
    rows = session.execute(statement, {"now": now, "until": now + timedelta(seconds=lease_seconds)}).all()
    rows.sort(key=lambda row: row.id)
    session.commit()
    return _claim(rows)


def hold_claims(session: Session) -> None:
    """Make this session's claims row locks held by its transaction, on PostgreSQL (see above);
    SQLite keeps leases (a held claim would hold its one writer's lock through the whole batch)."""
    session.info[HOLD] = session.get_bind().dialect.name == "postgresql"


def holds_claims(session: Session) -> bool:
    return bool(session.info.get(HOLD))


def retake(session: Session, event_ids) -> Claim:
    """After a rollback freed a held claim: those of ``event_ids`` still undispatched and not taken
    by another worker meanwhile, locked again (a lease claim survives a rollback: as it was)."""
    if not holds_claims(session):
        return event_ids
    ids = sorted(event_ids)
    if not ids:
        return _claim([])
    rows = session.execute(_retake_statement(), {"ids": ids}).all()
    if not rows:
        session.commit()  # nothing held: no transaction left open
    return _claim(rows)


def _claim(rows) -> Claim:
    claim = Claim(row.id for row in rows)
    claim.rows = rows
    return claim


def _columns(table):
    # what dispatching needs (not ``error``: a claim made before migration 0006 works too)
    return (
        table.c.id,
        table.c.trigger,
        table.c.subject_id,
        table.c.data,
        table.c.created_at,
        table.c.dispatched_at,
        table.c.dedupe_key,
    )


_HELD: dict[Any, Any] = {}


def _held_statement(limit: int):
    """The held claim's SELECT, built once per limit: the oldest undispatched events nobody holds,
    through the partial index of undispatched ids (a lease still running is respected: a claim
    another version of the worker made during an upgrade)."""
    if limit not in _HELD:
        table = Event.__table__
        claimable = (table.c.claimed_until.is_(None)) | (table.c.claimed_until < bindparam("now"))
        _HELD[limit] = (
            select(*_columns(table))
            .where(table.c.dispatched_at.is_(None))
            .where(claimable)
            .order_by(table.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, key_share=True)
        )
    return _HELD[limit]


def _retake_statement():
    if "retake" in _HELD:
        return _HELD["retake"]
    from sqlalchemy.dialects.postgresql import ARRAY  # PostgreSQL only: a SQLite worker never loads it

    table = Event.__table__
    _HELD["retake"] = (
        select(*_columns(table))
        .where(table.c.id == any_(bindparam("ids", type_=ARRAY(Integer()))))
        .where(table.c.dispatched_at.is_(None))
        .order_by(table.c.id)
        .with_for_update(skip_locked=True, key_share=True)
    )
    return _HELD["retake"]


_CLAIMS: dict[tuple[bool, int], Any] = {}


def _claim_statement(postgresql: bool, limit: int):
    """The claim's UPDATE, built once per database kind and limit (its times are parameters)."""
    key = (postgresql, limit)
    if key in _CLAIMS:
        return _CLAIMS[key]
    # the table's columns, not the entity's attributes: an ORM attribute anywhere in an UPDATE
    # sends it through the ORM's bulk-update path (session synchronisation), ~11 % of a dispatch
    # worker's CPU at 200 events/s
    table = Event.__table__
    claimable = (table.c.claimed_until.is_(None)) | (table.c.claimed_until < bindparam("now"))
    pending = select(table.c.id).where(table.c.dispatched_at.is_(None)).where(claimable)
    pending = pending.order_by(table.c.id).limit(limit)
    if postgresql:
        pending = pending.with_for_update(skip_locked=True)
    # computed once (a MATERIALIZED CTE): as a plain ``IN (subquery)`` PostgreSQL may plan it as
    # the inner side of a nested loop and rescan it per row, and each rescan skips the rows this
    # statement already updated and returns the next ones — claiming the whole backlog at once
    pending = pending.cte("pending")
    if postgresql:
        pending = pending.prefix_with("MATERIALIZED")
        # ``id = ANY(ARRAY(…))``: one primary-key probe per claimed id. As ``IN (SELECT … FROM
        # pending)`` the planner, which estimates the CTE at one row, joined it by a nested loop
        # over every undispatched event: ~90 ms per claim of 200 behind a backlog
        chosen = table.c.id == any_(func.array(select(pending.c.id).scalar_subquery()))
    else:
        chosen = table.c.id.in_(select(pending.c.id))
    _CLAIMS[key] = (
        update(table)
        .where(chosen)
        .where(table.c.dispatched_at.is_(None))
        .where(claimable)
        .values(claimed_until=bindparam("until"))
        .returning(*_columns(table))
    )
    return _CLAIMS[key]
