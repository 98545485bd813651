"""Journey tables (issue #20): the waits of ``flow.wait_event``, the per-entity locks of a flow's
run mode, and the cancellations of runs that were busy when an exit event or a restart came.

Imported by :mod:`plugin.storage.models`, so every process's metadata holds them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from plugin.storage.models import Base, partial_index, utcnow


class Wait(Base):
    """A run waiting at a ``flow.wait_event`` node for an event about its order, client or visitor.

    ``kind`` is the trigger waited for (``order_status_changed``…), ``subject`` whom it is about
    (``order:42``, ``client:c1``, ``visitor:v9``); an incoming event finds its waits through
    ``(kind, subject)`` among the waiting rows only, the sweeper the expired ones through
    ``timeout_at``. ``state`` goes ``waiting`` → ``came`` | ``timed_out`` | ``cancelled`` by one
    conditional UPDATE (``… WHERE state = 'waiting'``): whichever comes first wins, once.
    """

    __tablename__ = "journey_waits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(100))
    flow_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="waiting")
    timeout_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index("uq_journey_waits_run_node", "run_id", "node_id", unique=True),
        partial_index("ix_journey_waits_subject", "kind", "subject", where="state = 'waiting'"),
        partial_index("ix_journey_waits_timeout", "timeout_at", where="state = 'waiting'"),
    )


# the partial indexes' predicate as a query term (see models.NOT_SUCCEEDED: SQLite needs the same text)
WAITING = Wait.__table__.c.state == literal_column("'waiting'")


class RunLock(Base):
    """The row a dispatch locks (an upsert) before it decides a ``single`` / ``restart`` run mode
    for a flow and an entity: two dispatchers deciding for the same client take turns."""

    __tablename__ = "run_locks"

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(DateTime)


class RunCancel(Base):
    """A run to cancel that was leased (mid-call) when its exit event or restart came: the sweeper
    cancels it once its worker lets go of it, unless it finished meanwhile."""

    __tablename__ = "run_cancels"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
