"""Bulk writes for the engine's hot paths: many rows in a few statements, on both databases.

SQLAlchemy's ``session.execute(insert(Model), rows)`` becomes, with psycopg 3, an executemany
that sends every row as its own prepared statement through a pipeline: ~0.2 ms of Python per row.
Here PostgreSQL gets one ``INSERT … SELECT … FROM json_to_recordset(:rows)`` (or
``UPDATE … FROM json_to_recordset``) per call — the rows travel as one JSON document and the
server unpacks them — and SQLite keeps its executemany (a C loop, no network). The statements
are built here; storage/writes.py sends a transaction's writes together.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    text,
)
from sqlalchemy.orm import Session

from plugin.storage.prepared import execute_prepared

__all__ = ["execute_prepared"]  # the engine's, from here

_PG_TYPES = (
    (JSON, "json"),
    (Boolean, "boolean"),
    (DateTime, "timestamp"),
    (Date, "date"),
    (Float, "double precision"),
    (BigInteger, "bigint"),
    (Integer, "integer"),
    (Text, "text"),
    (String, "text"),
)
STATEMENTS: dict[tuple, Any] = {}


def pg_type(column) -> str:
    for sa_type, name in _PG_TYPES:
        if isinstance(column.type, sa_type):
            return name
    raise TypeError(f"no bulk mapping for {column.table.name}.{column.name} ({column.type!r})")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in bulk")


def document(rows: list[dict]) -> str:
    # orjson: datetimes as ISO 8601 (naive UTC here), ~10x the stdlib encoder on these documents;
    # the stdlib for what orjson refuses (integers beyond 64 bits, which JSON bodies may carry)
    try:
        return orjson.dumps(rows).decode()
    except TypeError:
        return json.dumps(rows, default=_default, ensure_ascii=False, separators=(",", ":"))


def _columns(table: Table, names) -> list:
    return [table.c[name] for name in names]


def with_defaults(table: Table, rows: list[dict]) -> list[dict]:
    """Fill the client-side defaults of columns the rows leave out, as the ORM would."""
    missing = [c for c in table.columns if c.name not in rows[0] and c.default is not None]
    if not missing:
        return rows
    out = []
    for given in rows:
        row = dict(given)
        for column in missing:
            default = column.default
            row[column.name] = default.arg(None) if default.is_callable else default.arg
        out.append(row)
    return out


def _recordset(table: Table, names: tuple[str, ...], param: str = "rows") -> str:
    """``json_to_recordset(CAST(:rows AS json)) AS r("a" type, …)`` for these columns."""
    spec = ", ".join(f'"{c.name}" {pg_type(c)}' for c in _columns(table, names))
    return f"json_to_recordset(CAST(:{param} AS json)) AS r({spec})"


def _quoted(names) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _pg_insert(table: Table, names: tuple[str, ...], tail: str = ""):
    """``INSERT INTO table (names) SELECT … FROM json_to_recordset(:rows)`` + ``tail``, built once."""
    key = ("insert", table.name, names, tail)
    if key not in STATEMENTS:
        STATEMENTS[key] = text(insert_sql(table, names) + f" {tail}").bindparams(bindparam("rows"))
    return STATEMENTS[key]


def insert_sql(table: Table, names: tuple[str, ...], p: str = "") -> str:
    """The INSERT of :func:`_pg_insert`, its parameter named ``{p}rows``."""
    listed = _quoted(names)
    return (
        f'INSERT INTO "{table.name}" ({listed}) SELECT {listed} FROM {_recordset(table, names, p + "rows")}'  # noqa: S608 - names from the model, values bound
    )


def update_sql(table: Table, names: tuple[str, ...], keys: tuple[str, ...], p: str = "") -> str:
    """UPDATE by ``keys`` from ``{p}rows``, the rows picked by their first key in ``{p}first``."""
    assign = ", ".join(f'"{n}" = r."{n}"' for n in names if n not in keys)
    match = " AND ".join(f't."{k}" = r."{k}"' for k in keys)
    # the rows to update are also picked by their first key column (``= ANY(:first)``), so that
    # PostgreSQL probes the key's index. Joined with the recordset alone, which it estimates at
    # 100 rows whatever it holds, it hashed the recordset and scanned the whole table on every
    # call while the table was young or small (steps and runs before their first ANALYZE: 1.3 ms
    # per settle at 20,000 steps and growing, the largest PostgreSQL cost of bench/e2e.py's rate
    # phase; tests/engine/test_plans.py)
    column = table.c[keys[0]]
    return (
        f'UPDATE "{table.name}" AS t SET {assign} FROM {_recordset(table, names, p + "rows")} '  # noqa: S608 - names from the model, values bound
        f'WHERE t."{column.name}" = ANY(CAST(:{p}first AS {pg_type(column)}[])) AND {match}'
    )


def count_sql(table: Table, keys: tuple[str, ...], counts: tuple[str, ...], p: str = "") -> str:
    """The counter upsert of :meth:`Writes.add_counts`, its rows in ``{p}rows``."""
    names = (*keys, *counts)
    picked = ", ".join([*(f'r."{k}"' for k in keys), *(f'coalesce(r."{c}", 0)' for c in counts)])
    adding = ", ".join(f'"{c}" = t."{c}" + excluded."{c}"' for c in counts)
    return (
        f'INSERT INTO "{table.name}" AS t ({_quoted(names)}) SELECT {picked} '  # noqa: S608 - names from the model, values bound
        f"FROM {_recordset(table, names, p + 'rows')} ON CONFLICT ({_quoted(keys)}) DO UPDATE SET {adding}"
    )


def among_param(session: Session, column, name: str) -> Any:
    """``column IN :name`` for a statement built once: ``= ANY(:name)`` on PostgreSQL (an array),
    an expanding ``IN`` on SQLite; the list goes in the parameters."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(bindparam(name, expanding=True))
    return _any(column, bindparam(name, type_=_array_of(column)))


def among(session: Session, column, values) -> Any:
    """``column IN values`` for long lists: PostgreSQL gets ``= ANY(:array)`` (one parameter, so
    the statement text — and psycopg's parse of it — is the same for every list length)."""
    values = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return _any(column, bindparam(None, values, type_=_array_of(column)))


def _array_of(column):
    from sqlalchemy.dialects.postgresql import ARRAY

    return ARRAY(Integer() if isinstance(column.type, Integer) else Text())


def _any(column, array) -> Any:
    from sqlalchemy import any_

    return column == any_(array)


def insert_new_rows(session: Session, table: Table, rows: list[dict], key: str = "id") -> list:
    """INSERT … ON CONFLICT (key) DO NOTHING; returns the keys actually inserted, in row order.

    A key repeated among ``rows`` counts once (its first row); keys already stored are skipped.
    """
    seen, unique = set(), []
    for row in rows:
        if row[key] not in seen:
            seen.add(row[key])
            unique.append(row)
    if not unique:
        return []
    unique = with_defaults(table, unique)
    names = tuple(unique[0])
    inserted: set = set()
    if session.get_bind().dialect.name == "postgresql":
        statement = _pg_insert(table, names, f'ON CONFLICT ("{key}") DO NOTHING RETURNING "{key}"')
        inserted.update(execute_prepared(session, statement, {"rows": document(unique)}).scalars())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        for start in range(0, len(unique), 400):  # SQLite caps the bound parameters of one statement
            chunk = unique[start : start + 400]
            stmt = sqlite_insert(table).values(chunk).on_conflict_do_nothing().returning(table.c[key])
            inserted.update(session.connection().execute(stmt).scalars())
    return [row[key] for row in unique if row[key] in inserted]


def dialect_insert(session: Session, table):
    """``insert(table)`` of the session's dialect (PostgreSQL or SQLite), whose statements take
    ``on_conflict_do_nothing`` / ``on_conflict_do_update`` and their ``excluded`` row."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
