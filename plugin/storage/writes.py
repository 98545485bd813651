"""A transaction's writes sent together: one statement on PostgreSQL (:class:`Writes`), each at
once on SQLite; the rows' statements themselves are built in storage/bulk.py."""

from __future__ import annotations

from functools import partial

from sqlalchemy import Table, bindparam, text
from sqlalchemy.orm import Session

from plugin.storage.bulk import (
    STATEMENTS,
    count_sql,
    dialect_insert,
    document,
    insert_sql,
    pg_type,
    update_sql,
    with_defaults,
)
from plugin.storage.prepared import execute_prepared


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """INSERT every row (all with the same keys) into ``table``; PostgreSQL: one statement."""
    Writes(session).insert(table, rows).flush()


def update_rows(session: Session, table: Table, keys: tuple[str, ...], rows: list[dict]) -> None:
    """UPDATE ``table`` row by row: each dict holds the ``keys`` columns and the columns to set."""
    Writes(session).update(table, keys, rows).flush()


class Writes:
    """The writes of one transaction, sent as one statement on PostgreSQL.

    Each :meth:`insert`, :meth:`update`, :meth:`update_in`, :meth:`add_to` and :meth:`add_counts`
    is a part;
    :meth:`flush` sends those gathered as ``WITH w0 AS (… RETURNING 1), w1 AS (…) SELECT (SELECT
    count(*) FROM w0), (SELECT count(*) FROM w1)``: one round trip and one statement where a
    dispatched batch sent one per part (runs, steps, events, counters, the flow's counter; then
    steps, runs, counters). Each scalar subquery reads its part to the end before the next runs, so the parts
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
        rows = with_defaults(table, rows)
        names = tuple(rows[0])
        if not self.pg:
            self.session.connection().execute(table.insert(), rows)
            return self
        build = partial(insert_sql, table, names)
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
        build = partial(update_sql, table, names, keys)
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
        part = _Part(("in", table, column, names), build, params, "update", [], (column,))
        part.among = params["among"]  # its rows' keys, built only if another part writes the table
        return self._add(part)

    def add_to(self, table: Table, key: str, row: dict, counts: tuple[str, ...]) -> Writes:
        """``UPDATE table SET c = c + :c (each of counts), other = :other WHERE key = :key``: one
        row, by its primary key, whose plan holds however large the table grows (a counter of a
        table that grows slowly: prepared from the start). Parts run in order: add to several
        rows in one order everywhere, so that two transactions lock them alike."""
        names = tuple(row)
        if not self.pg:
            given = {n: bindparam("v_" + n, row[n], type_=table.c[n].type) for n in names if n != key}
            sets = {n: table.c[n] + value if n in counts else value for n, value in given.items()}
            self.session.connection().execute(table.update().where(table.c[key] == row[key]).values(sets))
            return self
        build = partial(_add_to_sql, table, key, names, counts)
        part = _Part(("add", table, key, names, counts), build, dict(row), "update", [row], (key,))
        part.gated = False
        return self._add(part)

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
                build = partial(count_sql, table, keys, counts)
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
        if shape not in STATEMENTS:
            STATEMENTS[shape] = _joined(parts)
        params = {part.prefix + name: value for part in parts for name, value in part.params.items()}
        grown = tuple(
            dict.fromkeys(part.table.name for part in parts if part.kind == "update" and part.gated)
        )
        execute_prepared(self.session, STATEMENTS[shape], params, grown=grown)


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
        self.gated = True  # an update prepared only once its table has grown (execute_prepared)
        self.among: list | None = None  # update_in's values of its one key column (``rows`` unused)

    def clashes(self, other: _Part) -> bool:
        """Whether one statement holding both could lose a write: they may write one row."""
        if other.table is not self.table or self.kind == other.kind == "insert":
            return False
        if "count" in (self.kind, other.kind):
            return True
        keys = self.keys or other.keys  # an update's (one of the two is one)
        mine = self.keyed(keys)
        if mine is None:
            return True
        theirs = other.keyed(keys)
        return theirs is None or bool(mine & theirs)

    def keyed(self, keys: tuple[str, ...]) -> set | None:
        """The ``keys`` of every row it writes, or None when its rows do not hold them all."""
        if self.among is not None:
            return {(value,) for value in self.among} if keys == self.keys else None
        if any(k not in self.rows[0] for k in keys):
            return None
        return {tuple(row[k] for k in keys) for row in self.rows}


def _add_to_sql(table: Table, key: str, names: tuple, counts: tuple, p: str = "") -> str:
    cast = {n: f"CAST(:{p}{n} AS {pg_type(table.c[n])})" for n in names}
    sets = ", ".join(
        f'"{n}" = "{n}" + {cast[n]}' if n in counts else f'"{n}" = {cast[n]}' for n in names if n != key
    )
    return f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = {cast[key]}'  # noqa: S608 - names from the model, values bound


def _update_in_sql(table: Table, column: str, names: tuple[str, ...], p: str = "") -> str:
    sets = ", ".join(f'"{n}" = CAST(:{p}{n} AS {pg_type(table.c[n])})' for n in names)
    kind = pg_type(table.c[column])
    return f'UPDATE "{table.name}" SET {sets} WHERE "{column}" = ANY(CAST(:{p}among AS {kind}[]))'  # noqa: S608 - names from the model, values bound


def _update_lite(session: Session, table: Table, keys: tuple, names: tuple, rows: list[dict]) -> None:
    """:meth:`Writes.update` on SQLite: an executemany of the update by key."""
    settable = [n for n in names if n not in keys]
    key = ("update-lite", table.name, names, keys)
    if key not in STATEMENTS:
        STATEMENTS[key] = (
            table.update()
            .where(*[table.c[k] == bindparam("k_" + k) for k in keys])
            .values({n: bindparam("v_" + n) for n in settable})
        )
    params = [{**{"k_" + k: row[k] for k in keys}, **{"v_" + n: row[n] for n in settable}} for row in rows]
    session.connection().execute(STATEMENTS[key], params)
