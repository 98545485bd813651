"""Bulk writes for the engine's hot paths: many rows in a few statements, on both databases.

SQLAlchemy's ``session.execute(insert(Model), rows)`` becomes, with psycopg 3, an executemany
that sends every row as its own prepared statement through a pipeline: ~0.2 ms of Python per row.
Here PostgreSQL gets one ``INSERT … SELECT … FROM json_to_recordset(:rows)`` (or
``UPDATE … FROM json_to_recordset``) per call — the rows travel as one JSON document and the
server unpacks them — and SQLite keeps its executemany (a C loop, no network). :class:`Writes`
sends the writes of one transaction as one statement.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
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

from plugin.storage.prepared import Rows, execute_prepared

__all__ = ["Rows", "Writes", "execute_prepared"]  # Rows and execute_prepared: the engine's, from here

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
_CACHE: dict[tuple, Any] = {}


def _pg_type(column) -> str:
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


def _with_defaults(table: Table, rows: list[dict]) -> list[dict]:
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
    spec = ", ".join(f'"{c.name}" {_pg_type(c)}' for c in _columns(table, names))
    return f"json_to_recordset(CAST(:{param} AS json)) AS r({spec})"


def _quoted(names) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _pg_insert(table: Table, names: tuple[str, ...], tail: str = ""):
    """``INSERT INTO table (names) SELECT … FROM json_to_recordset(:rows)`` + ``tail``, built once."""
    key = ("insert", table.name, names, tail)
    if key not in _CACHE:
        _CACHE[key] = text(_insert_sql(table, names) + f" {tail}").bindparams(bindparam("rows"))
    return _CACHE[key]


def _insert_sql(table: Table, names: tuple[str, ...], p: str = "") -> str:
    """The INSERT of :func:`_pg_insert`, its parameter named ``{p}rows``."""
    listed = _quoted(names)
    return (
        f'INSERT INTO "{table.name}" ({listed}) SELECT {listed} FROM {_recordset(table, names, p + "rows")}'  # noqa: S608 - names from the model, values bound
    )


def _update_sql(table: Table, names: tuple[str, ...], keys: tuple[str, ...], p: str = "") -> str:
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
        f'WHERE t."{column.name}" = ANY(CAST(:{p}first AS {_pg_type(column)}[])) AND {match}'
    )


def _count_sql(table: Table, keys: tuple[str, ...], counts: tuple[str, ...], p: str = "") -> str:
    """The counter upsert of :meth:`Writes.add_counts`, its rows in ``{p}rows``."""
    names = (*keys, *counts)
    picked = ", ".join([*(f'r."{k}"' for k in keys), *(f'coalesce(r."{c}", 0)' for c in counts)])
    adding = ", ".join(f'"{c}" = t."{c}" + excluded."{c}"' for c in counts)
    return (
        f'INSERT INTO "{table.name}" AS t ({_quoted(names)}) SELECT {picked} '  # noqa: S608 - names from the model, values bound
        f"FROM {_recordset(table, names, p + 'rows')} ON CONFLICT ({_quoted(keys)}) DO UPDATE SET {adding}"
    )


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """INSERT every row (all with the same keys) into ``table``; PostgreSQL: one statement."""
    Writes(session).insert(table, rows).flush()


def update_rows(session: Session, table: Table, keys: tuple[str, ...], rows: list[dict]) -> None:
    """UPDATE ``table`` row by row: each dict holds the ``keys`` columns and the columns to set."""
    Writes(session).update(table, keys, rows).flush()


def among_param(session: Session, column, name: str) -> Any:
    """``column IN :name`` for a statement built once: ``= ANY(:name)`` on PostgreSQL (an array),
    an expanding ``IN`` on SQLite; the list goes in the parameters."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(bindparam(name, expanding=True))
    from sqlalchemy import any_
    from sqlalchemy.dialects.postgresql import ARRAY

    item = Integer() if isinstance(column.type, Integer) else Text()
    return column == any_(bindparam(name, type_=ARRAY(item)))


def among(session: Session, column, values) -> Any:
    """``column IN values`` for long lists: PostgreSQL gets ``= ANY(:array)`` (one parameter, so
    the statement text — and psycopg's parse of it — is the same for every list length)."""
    values = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    from sqlalchemy import any_
    from sqlalchemy.dialects.postgresql import ARRAY

    item = Integer() if isinstance(column.type, Integer) else Text()
    return column == any_(bindparam(None, values, type_=ARRAY(item)))


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
    unique = _with_defaults(table, unique)
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


def add_counts(
    session: Session, parts: list[tuple[Table, tuple[str, ...], tuple[str, ...], list[dict]]]
) -> None:
    """Counter upserts, ``INSERT … ON CONFLICT (keys) DO UPDATE SET c = c + excluded.c``, into
    several tables at once (:meth:`Writes.add_counts`): each part is ``(table, key columns, count
    columns, rows)``, a row holding its keys and any of the counts (those left out add 0)."""
    Writes(session).add_counts(parts).flush()


class Writes:
    """The writes of one transaction, sent as one statement on PostgreSQL.

    Each :meth:`insert`, :meth:`update`, :meth:`update_in` and :meth:`add_counts` is a part;
    :meth:`flush` sends those gathered as ``WITH w0 AS (… RETURNING 1), w1 AS (…) SELECT (SELECT
    count(*) FROM w0), (SELECT count(*) FROM w1)``: one round trip and one statement where a
    dispatched batch sent one per part (runs, steps, events, counters; then steps, runs,
    counters). Each scalar subquery reads its part to the end before the next runs, so the parts
    run in the order given and rows other transactions write too (counters) are locked in the one
    order every writer uses (a ``WITH`` part nothing reads runs at the end, the last listed first).

    Every part sees the tables as they were before the statement: a part writing a row another
    pending part writes flushes that one first, and a caller reading what it wrote flushes first.
    SQLite runs each part at once."""

    def __init__(self, session: Session):
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.parts: list[_Part] = []

    def insert(self, table: Table, rows: list[dict]) -> Writes:
        """INSERT every row (all with the same keys)."""
        if not rows:
            return self
        rows = _with_defaults(table, rows)
        names = tuple(rows[0])
        if not self.pg:
            self.session.connection().execute(table.insert(), rows)
            return self
        build = partial(_insert_sql, table, names)
        return self._add(_Part(("insert", table, names), build, {"rows": document(rows)}, "insert", rows))

    def update(self, table: Table, keys: tuple[str, ...], rows: list[dict]) -> Writes:
        """UPDATE row by row: each dict holds the ``keys`` columns and the columns to set."""
        if not rows:
            return self
        names = tuple(rows[0])
        if not self.pg:
            _update_lite(self.session, table, keys, names, rows)
            return self
        params = {"rows": document(rows), "first": list(dict.fromkeys(row[keys[0]] for row in rows))}
        build = partial(_update_sql, table, names, keys)
        return self._add(_Part(("update", table, names, keys), build, params, "update", rows, keys))

    def update_in(self, table: Table, column: str, values: list, **assign) -> Writes:
        """``UPDATE table SET name = value, … WHERE column IN values``."""
        if not values:
            return self
        if not self.pg:
            self.session.connection().execute(
                table.update().where(table.c[column].in_(values)).values(**assign)
            )
            return self
        names = tuple(sorted(assign))
        params = {**{n: assign[n] for n in names}, "among": list(values)}
        build = partial(_update_in_sql, table, column, names)
        rows = [{column: value} for value in values]
        return self._add(_Part(("in", table, column, names), build, params, "update", rows, (column,)))

    def add_counts(self, parts: list[tuple[Table, tuple[str, ...], tuple[str, ...], list[dict]]]) -> Writes:
        """Counter upserts, ``INSERT … ON CONFLICT (keys) DO UPDATE SET c = c + excluded.c``: each
        part is ``(table, key columns, count columns, rows)``, a row holding its keys and any of
        the counts (those left out add 0). Rows are written in the order given (callers sort them,
        so two transactions lock shared rows in the same order)."""
        for table, keys, counts, rows in parts:
            if rows and not self.pg:
                stmt = dialect_insert(self.session, table)
                stmt = stmt.on_conflict_do_update(
                    index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in counts}
                )
                self.session.connection().execute(stmt, [{**dict.fromkeys(counts, 0), **row} for row in rows])
            elif rows:
                build = partial(_count_sql, table, keys, counts)
                self._add(
                    _Part(("count", table, keys, counts), build, {"rows": document(rows)}, "count", rows)
                )
        return self

    def _add(self, part: _Part) -> Writes:
        if any(part.clashes(other) for other in self.parts):
            self.flush()
        self.parts.append(part)
        return self

    def flush(self) -> None:
        """Send the parts gathered (not committed)."""
        parts, self.parts = self.parts, []
        if not parts:
            return
        for n, part in enumerate(parts):
            part.prefix = f"w{n}_" if len(parts) > 1 else ""
        shape = tuple(part.shape for part in parts)
        if shape not in _CACHE:
            _CACHE[shape] = _joined(parts)
        params = {part.prefix + name: value for part in parts for name, value in part.params.items()}
        grown = tuple(dict.fromkeys(part.table.name for part in parts if part.kind == "update"))
        execute_prepared(self.session, _CACHE[shape], params, grown=grown)


def _joined(parts: list[_Part]):
    """The one statement of ``parts`` (see :class:`Writes`), each part's parameters prefixed."""
    if len(parts) == 1:
        sql = parts[0].build("")
    else:
        ctes = ", ".join(f"{part.prefix[:-1]} AS ({part.build(part.prefix)} RETURNING 1)" for part in parts)
        names = [part.prefix[:-1] for part in parts]
        reads = ", ".join(f"(SELECT count(*) FROM {n}) AS {n}" for n in names)  # noqa: S608 - ours
        sql = f"WITH {ctes} SELECT {reads}"
    return text(sql).bindparams(*(bindparam(part.prefix + name) for part in parts for name in part.params))


class _Part:
    """One part of :class:`Writes`: its statement's shape (the cache key), its SQL given a prefix
    for its parameters' names, and the rows it writes (to tell a clash with another part)."""

    def __init__(self, shape: tuple, build, params: dict, kind: str, rows: list[dict], keys: tuple = ()):
        self.shape, self.build, self.params = shape, build, params
        self.table, self.kind, self.rows, self.keys = shape[1], kind, rows, keys
        self.prefix = ""  # its parameters' names' prefix in the statement (set by Writes.flush)

    def clashes(self, other: _Part) -> bool:
        """Whether one statement holding both could lose a write: they may write one row."""
        if other.table is not self.table or self.kind == other.kind == "insert":
            return False
        if "count" in (self.kind, other.kind):
            return True
        keys = self.keys or other.keys  # an update's (one of the two is one)
        mine, theirs = _keyed(self.rows, keys), _keyed(other.rows, keys)
        return mine is None or theirs is None or bool(mine & theirs)


def _keyed(rows: list[dict], keys: tuple[str, ...]) -> set | None:
    """The ``keys`` of every row, or None when the rows do not hold them all."""
    if any(k not in rows[0] for k in keys):
        return None
    return {tuple(row[k] for k in keys) for row in rows}


def _update_in_sql(table: Table, column: str, names: tuple[str, ...], p: str = "") -> str:
    sets = ", ".join(f'"{n}" = CAST(:{p}{n} AS {_pg_type(table.c[n])})' for n in names)
    kind = _pg_type(table.c[column])
    return f'UPDATE "{table.name}" SET {sets} WHERE "{column}" = ANY(CAST(:{p}among AS {kind}[]))'  # noqa: S608 - names from the model, values bound


def _update_lite(session: Session, table: Table, keys: tuple, names: tuple, rows: list[dict]) -> None:
    """:meth:`Writes.update` on SQLite: an executemany of the update by key."""
    settable = [n for n in names if n not in keys]
    key = ("update-lite", table.name, names, keys)
    if key not in _CACHE:
        _CACHE[key] = (
            table.update()
            .where(*[table.c[k] == bindparam("k_" + k) for k in keys])
            .values({n: bindparam("v_" + n) for n in settable})
        )
    params = [{**{"k_" + k: row[k] for k in keys}, **{"v_" + n: row[n] for n in settable}} for row in rows]
    session.connection().execute(_CACHE[key], params)
