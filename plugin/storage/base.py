"""The declarative base of every model, and the helpers their columns share.

All timestamps are stored as naive UTC (SQLite has no time zones); :func:`utcnow` makes them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Index, MetaData, text
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The plain declarative base of every model; the API hands it to Flask-SQLAlchemy."""

    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over the rows matching ``where`` only, with the same predicate on PostgreSQL and SQLite.

    A row outside ``where`` costs the index nothing on insert, nor on an update that leaves it
    outside. A query uses the index only when its WHERE implies ``where``: ``col = :x`` implies
    ``col IS NOT NULL`` on both databases; anything else should carry the predicate's own term.
    """
    return Index(name, *columns, unique=unique, postgresql_where=text(where), sqlite_where=text(where))
