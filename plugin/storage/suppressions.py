"""The suppression list (SPEC §11): normalised addresses, adding without duplicates, the look-up a
sending step makes, and the checker a process hands its actions (``Services.suppressed``).

An entry is an e-mail or a phone and a channel (``email``, ``sms`` or ``all``). A step of a
channel is held back when an address of its client has an entry for that channel or ``all``
(which addresses: ``nodes._services.optout.addresses_of``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.nodes._services.optout import normalize_email, normalize_phone  # noqa: F401 - the list's rules
from plugin.storage.models import Suppression

log = logging.getLogger(__name__)

CHANNELS = ("email", "sms", "all")
SOURCES = ("api", "unsubscribe", "import")
KINDS = ("email", "phone")
REASON_MAX = 500


def find(session: Session, channel: str, addresses: Iterable[str]) -> Suppression | None:
    """The entry that holds ``channel`` back for any of ``addresses``, if there is one."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return None
    query = (
        select(Suppression)
        .where(Suppression.address.in_(wanted), Suppression.channel.in_((channel, "all")))
        .order_by(Suppression.created_at)
        .limit(1)
    )
    return session.scalars(query).first()


def add(
    session: Session, kind: str, address: str, channel: str, reason: str, source: str
) -> tuple[Suppression, bool]:
    """The entry for (address, channel), made if absent: ``(entry, created)``. A concurrent insert of
    the same entry is the one found (a savepoint keeps the caller's transaction)."""
    existing = _existing(session, address, channel)
    if existing is not None:
        return existing, False
    row = Suppression(
        kind=kind, address=address, channel=channel, reason=(reason or "")[:REASON_MAX], source=source
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = _existing(session, address, channel)
        if found is None:
            raise
        return found, False
    return row, True


def add_many(session: Session, entries: list[dict], source: str) -> tuple[int, int]:
    """Add ``entries`` (``{"kind", "address", "channel", "reason"}``) not yet listed: ``(added,
    duplicates)``, an entry already listed or repeated in ``entries`` being a duplicate."""
    seen: set[tuple[str, str]] = set()
    for start in range(0, len(entries), 500):
        chunk = entries[start : start + 500]
        query = select(Suppression.address, Suppression.channel).where(
            Suppression.address.in_({e["address"] for e in chunk})
        )
        seen.update((a, c) for a, c in session.execute(query))
    added = 0
    for item in entries:
        key = (item["address"], item["channel"])
        if key in seen:
            continue
        seen.add(key)
        session.add(Suppression(**item, source=source))
        added += 1
    try:
        session.flush()
    except IntegrityError:  # the same entries added meanwhile by another request: one by one
        session.rollback()
        added = sum(add(session, **item, source=source)[1] for item in entries)
    return added, len(entries) - added


def _existing(session: Session, address: str, channel: str) -> Suppression | None:
    query = select(Suppression).where(Suppression.address == address, Suppression.channel == channel)
    return session.scalars(query).first()


def describe(row: Suppression) -> str:
    """What a skipped step says: «адрес в списке отписки: ivan@example.ru (email; отписался по ссылке)»."""
    why = row.reason or {"unsubscribe": "отписался по ссылке", "import": "импорт"}.get(row.source, "")
    detail = f"{row.channel}; {why}" if why else row.channel
    return f"адрес в списке отписки: {row.address} ({detail})"


def as_dict(row: Suppression) -> dict:
    return {
        "id": row.id,
        row.kind: row.address,
        "channel": row.channel,
        "reason": row.reason,
        "source": row.source,
        "created_at": row.created_at.isoformat() + "Z" if row.created_at else None,
    }


class Checker:
    """``checker(channel, addresses)`` → the reason a step of ``channel`` to those addresses is held
    back, or ``None``. Each look-up opens a short session of its own: it runs in the send threads."""

    def __init__(self, bind):
        self.bind = bind

    def __call__(self, channel: str, addresses: Iterable[str]) -> str | None:
        with Session(bind=self.bind) as session:
            row = find(session, channel, addresses)
            return None if row is None else describe(row)
