"""Statements run as the engine's hot paths need them: prepared on the server when their plan
cannot go stale, on psycopg's cursor without SQLAlchemy's per-call work (storage/bulk.py builds
most of them)."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.orm import Session


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
