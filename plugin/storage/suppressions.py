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
from sqlalchemy.orm import Session

from plugin.nodes._services.optout import normalize_email, normalize_phone  # noqa: F401 - the list's rules
from plugin.storage import bulk
from plugin.storage.models import Suppression, new_id, utcnow

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
    """The entry for (address, channel), made if absent: ``(entry, created)``. INSERT … ON CONFLICT
    DO NOTHING: two requests adding the same entry at once make one, and neither fails."""
    existing = _existing(session, address, channel)
    if existing is not None:
        return existing, False
    row = _row(kind, address, channel, reason, source)
    added = session.execute(_insert(session).values(row).returning(Suppression.id)).scalar()
    if added is None:
        return _existing(session, address, channel), False
    return session.get(Suppression, added), True


def add_many(session: Session, entries: list[dict], source: str) -> tuple[int, int]:
    """Add ``entries`` (``{"kind", "address", "channel", "reason"}``) not yet listed: ``(added,
    duplicates)``, an entry already listed or repeated in ``entries`` being a duplicate."""
    unique = {(e["address"], e["channel"]): e for e in reversed(entries)}  # the first of each wins
    rows = [_row(source=source, **e) for e in reversed(unique.values())]
    added = 0
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        added += len(session.execute(_insert(session).values(chunk).returning(Suppression.id)).all())
    return added, len(entries) - added


def _row(kind: str, address: str, channel: str, reason: str, source: str) -> dict:
    reason = (reason or "")[:REASON_MAX]
    return {
        "id": new_id(),
        "kind": kind,
        "address": address,
        "channel": channel,
        "reason": reason,
        "source": source,
        "created_at": utcnow(),
    }


def _insert(session: Session):
    """``INSERT INTO suppressions … ON CONFLICT (address, channel) DO NOTHING`` in the session's dialect."""
    return bulk.dialect_insert(session, Suppression).on_conflict_do_nothing(
        index_elements=["address", "channel"]
    )


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
