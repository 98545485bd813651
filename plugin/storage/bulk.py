"""Bulk writes for the engine's hot paths: many rows in a few statements, on both databases.

SQLAlchemy's ``session.execute(insert(Model), rows)`` becomes, with psycopg 3, an executemany
that sends every row as its own prepared statement through a pipeline: ~0.2 ms of Python per row.
Here PostgreSQL gets one ``INSERT … SELECT … FROM json_to_recordset(:rows)`` (or
``UPDATE … FROM json_to_recordset``) per call — the rows travel as one JSON document and the
server unpacks them — and SQLite keeps its executemany (a C loop, no network).
"""

from __future__ import annotations

import json
import time
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


def execute_prepared(session: Session, statement, params: dict | None = None, *, grown: tuple[str, ...] = ()):
    """Execute ``statement`` as a server-side prepared statement (psycopg 3); returns the result.

    A worker's connections prepare nothing on their own (storage/db.py): PostgreSQL keeps the
    generic plan it made on a statement's 6th run, and one made while a table was young — a
    sequential scan with an ``id = ANY(array)`` test per row — is kept as the table grows. Here
    the statements of every dispatched batch still skip parsing and planning: an INSERT from the
    rows' JSON, a counter upsert through its unique index (plans that cannot depend on how many
    rows the tables hold: ``grown`` empty; the rollup's three-table upsert cost PostgreSQL ~0.7 ms
    to parse and plan and ~0.1 ms to run, twice per batch), and the claim, the subjects' read and
    the updates by key once every table named in ``grown`` is past :data:`GROWN_PAGES` pages on
    disk — from there on PostgreSQL's generic plan probes the index (tests/engine/test_plans.py),
    and a table only shrinks on disk by ``TRUNCATE`` or ``VACUUM FULL`` (whose relcache
    invalidation makes PostgreSQL plan again; the ANALYZE autovacuum runs at the latest within a
    minute after 50 changed rows replans a seq scan then made). Until then each runs unprepared,
    planned with its values, and the size is looked up again at most every
    :data:`GROWN_RECHECK` seconds per connection.

    psycopg prepares a statement on the use that finds its connection's threshold reached: 0 for
    this call. A prepared statement lasts until the connection's next rollback (psycopg then
    deallocates them all); a commit keeps it. The statement runs on psycopg's cursor
    (:func:`_on_driver`: callers pass statements they built once, and read the rows by attribute,
    ``.all()`` or ``.scalars()``), or through SQLAlchemy when its engine has listeners."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    threshold = getattr(driver, "prepare_threshold", False)
    if threshold is False:  # not psycopg 3: SQLite
        return connection.execute(statement, params)
    prepare = not grown or _grown(connection, grown)
    if not (connection._has_events or connection.engine._has_events):
        return _on_driver(connection, driver, statement, params, prepare)
    # someone listens to the statements (instrumentation, a test): SQLAlchemy runs it
    if not prepare:
        return connection.execute(statement, params)
    driver.prepare_threshold = 0
    try:
        return connection.execute(statement, params)
    finally:
        driver.prepare_threshold = threshold


class Rows(list):
    """The rows a statement run on the driver returned (named tuples), with the two accessors of
    SQLAlchemy's result its callers use."""

    def all(self) -> list:
        return list(self)

    def scalars(self) -> list:
        return [row[0] for row in self]


_COMPILED: dict[int, list] = {}  # id(statement) → [statement, compiled, result processors or None]


def _on_driver(connection, driver, statement, params: dict | None, prepare: bool) -> Rows:
    """``statement`` — one built once by its caller, so compiled once — run on psycopg's cursor.

    SQLAlchemy's ``Connection.execute`` of an already compiled statement cost ~50 µs of Python
    (its cache key, execution context and result metadata) over psycopg's ~90 µs round trip,
    measured on local PostgreSQL; about ten such statements run per dispatched batch. Errors
    still go through SQLAlchemy (``_handle_dbapi_exception``): the same exception classes, and a
    lost connection invalidated in its pool, as if SQLAlchemy had run the statement."""
    entry = _COMPILED.get(id(statement))
    if entry is None or entry[0] is not statement:
        if len(_COMPILED) > 512:  # statements are built once each; this only guards a misuse
            _COMPILED.clear()
        compiled = statement.compile(dialect=connection.dialect)
        # an expanding IN or a literal-execute parameter is rendered per call: SQLAlchemy's to run
        entry = _COMPILED[id(statement)] = [
            statement,
            None if "POSTCOMPILE" in compiled.string else compiled,
            None,
        ]
    compiled = entry[1]
    if compiled is None:
        return connection.execute(statement, params)
    sql, values = compiled.string, compiled.construct_params(params)  # a LIMIT's value included
    from psycopg.rows import namedtuple_row  # psycopg is loaded: its connection is here

    cursor = driver.cursor(row_factory=namedtuple_row)
    threshold = driver.prepare_threshold  # None (a worker's): psycopg prepares nothing, however asked
    try:
        if prepare:
            driver.prepare_threshold = 0
        cursor.execute(sql, values, prepare=prepare)
        if cursor.description is None:
            return Rows()
        rows = cursor.fetchall()
        if entry[2] is None:
            entry[2] = _processors(compiled, connection.dialect, cursor.description)
    except Exception as exc:  # noqa: BLE001 - raised again as SQLAlchemy would have
        connection._handle_dbapi_exception(exc, sql, values, cursor, None)
    finally:
        driver.prepare_threshold = threshold
        cursor.close()
    processors = entry[2]
    if any(processors):
        rows = [type(row)(*(p(v) if p else v for p, v in zip(processors, row, strict=True))) for row in rows]
    return Rows(rows)


def _processors(compiled, dialect, description) -> list:
    """SQLAlchemy's result processor of each column, or None where it has none (psycopg already
    returns the Python value: every type of our tables on PostgreSQL, checked in tests)."""
    types = {entry.keyname: entry.type for entry in compiled._result_columns or ()}
    out = []
    for column in description:
        type_ = types.get(column.name)
        out.append(type_._cached_result_processor(dialect, column.type_code) if type_ is not None else None)
    return out


GROWN_PAGES = 64  # 512 kB: a generic plan of ``id = ANY($1)`` took the index from ~40 pages up
GROWN_RECHECK = 10.0
_GROWN = "automation.grown"  # a DBAPI connection's info key: {table: True, or when to look again}
_PAGES = text("SELECT pg_relation_size(CAST(:t AS regclass)) / current_setting('block_size')::int")


def _grown(connection, tables: tuple[str, ...]) -> bool:
    """Whether every one of ``tables`` is past :data:`GROWN_PAGES` pages, as this connection last
    looked (a table once past stays past for the connection's life)."""
    known = connection.info.setdefault(_GROWN, {})
    young = [t for t in tables if known.get(t) is not True]
    if not young:
        return True
    now = time.monotonic()
    if any(known.get(t, 0.0) > now for t in young):
        return False
    for table in young:
        pages = connection.execute(_PAGES, {"t": table}).scalar()
        known[table] = True if pages >= GROWN_PAGES else now + GROWN_RECHECK
    return all(known[t] is True for t in young)


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
        listed = _quoted(names)
        _CACHE[key] = text(
            f'INSERT INTO "{table.name}" ({listed}) SELECT {listed} FROM {_recordset(table, names)} {tail}'  # noqa: S608 - names from the model, values bound
        ).bindparams(bindparam("rows"))
    return _CACHE[key]


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """INSERT every row (all with the same keys) into ``table``; PostgreSQL: one statement."""
    if not rows:
        return
    rows = _with_defaults(table, rows)
    names = tuple(rows[0])
    if session.get_bind().dialect.name != "postgresql":
        session.connection().execute(table.insert(), rows)
        return
    execute_prepared(session, _pg_insert(table, names), {"rows": document(rows)})


def update_rows(session: Session, table: Table, keys: tuple[str, ...], rows: list[dict]) -> None:
    """UPDATE ``table`` row by row: each dict holds the ``keys`` columns and the columns to set."""
    if not rows:
        return
    names = tuple(rows[0])
    settable = [n for n in names if n not in keys]
    if session.get_bind().dialect.name != "postgresql":
        key = ("update-lite", table.name, names, keys)
        if key not in _CACHE:
            _CACHE[key] = (
                table.update()
                .where(*[table.c[k] == bindparam("k_" + k) for k in keys])
                .values({n: bindparam("v_" + n) for n in settable})
            )
        params = [
            {**{"k_" + k: row[k] for k in keys}, **{"v_" + n: row[n] for n in settable}} for row in rows
        ]
        session.connection().execute(_CACHE[key], params)
        return
    key = ("update", table.name, names, keys)
    if key not in _CACHE:
        assign = ", ".join(f'"{n}" = r."{n}"' for n in settable)
        match = " AND ".join(f't."{k}" = r."{k}"' for k in keys)
        # the rows to update are also picked by their first key column (``= ANY(:first)``), so
        # that PostgreSQL probes the key's index. Joined with the recordset alone, which it
        # estimates at 100 rows whatever it holds, it hashed the recordset and scanned the whole
        # table on every call while the table was young or small (steps and runs before their
        # first ANALYZE: 1.3 ms per settle at 20,000 steps and growing, the largest PostgreSQL
        # cost of bench/e2e.py's rate phase; tests/engine/test_plans.py)
        first = table.c[keys[0]]
        _CACHE[key] = text(
            f'UPDATE "{table.name}" AS t SET {assign} FROM {_recordset(table, names)} '  # noqa: S608 - names from the model, values bound
            f'WHERE t."{first.name}" = ANY(CAST(:first AS {_pg_type(first)}[])) AND {match}'
        ).bindparams(bindparam("rows"), bindparam("first"))
    firsts = list(dict.fromkeys(row[keys[0]] for row in rows))
    execute_prepared(session, _CACHE[key], {"rows": document(rows), "first": firsts}, grown=(table.name,))


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
    several tables at once: each part is ``(table, key columns, count columns, rows)``, a row
    holding its keys and any of the counts (those left out add 0).

    PostgreSQL gets one statement whatever the parts hold — each part a data-modifying CTE over
    ``json_to_recordset`` (an empty part inserts nothing) — where one executemany per table cost
    the engine's settle and dispatch jobs three statements per batch (issue #19: the rollup's
    hours, days and seen groups took the RQ worker from 1.35 to 1.73 CPU ms per action). SQLite
    keeps an executemany per non-empty part. Rows are written in the order given (callers sort
    them, so two transactions lock shared rows in the same order)."""
    if not any(rows for *_, rows in parts):
        return
    if session.get_bind().dialect.name != "postgresql":
        for table, keys, counts, rows in parts:
            if rows:
                stmt = dialect_insert(session, table)
                stmt = stmt.on_conflict_do_update(
                    index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in counts}
                )
                session.connection().execute(stmt, [{**dict.fromkeys(counts, 0), **row} for row in rows])
        return
    key = ("add-counts", tuple((table.name, keys, counts) for table, keys, counts, _ in parts))
    if key not in _CACHE:
        ctes = []
        for n, (table, keys, counts, _) in enumerate(parts):
            names = (*keys, *counts)
            picked = ", ".join([*(f'r."{k}"' for k in keys), *(f'coalesce(r."{c}", 0)' for c in counts)])
            adding = ", ".join(f'"{c}" = t."{c}" + excluded."{c}"' for c in counts)
            ctes.append(
                f'p{n} AS (INSERT INTO "{table.name}" AS t ({_quoted(names)}) SELECT {picked} '  # noqa: S608 - names from the model, values bound
                f"FROM {_recordset(table, names, f'rows{n}')} "
                f"ON CONFLICT ({_quoted(keys)}) DO UPDATE SET {adding})"
            )
        _CACHE[key] = text("WITH " + ", ".join(ctes) + " SELECT 1").bindparams(
            *(bindparam(f"rows{n}") for n in range(len(parts)))
        )
    execute_prepared(session, _CACHE[key], {f"rows{n}": document(rows) for n, (*_, rows) in enumerate(parts)})
