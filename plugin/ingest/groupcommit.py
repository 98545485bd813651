"""Group commit for the lean ingestion path on PostgreSQL: concurrent requests, one statement.

Each ``POST /api/v1/events`` or ``/visits`` answered by ``plugin.api.fastpath`` used to send its
own statement and commit (a pool check-out, a round trip, a WAL flush each). Here the request
threads of one API worker hand their rows to one committer thread and wait; the committer takes
everything queued at that moment (while it writes one group, the next one gathers), writes the
group in one atomic statement — ``json_to_recordset`` → ``INSERT … ON CONFLICT (id) DO NOTHING
RETURNING`` → the engine events of the rows actually inserted — notifies dispatch once, and wakes
the requests. A request answers 202 only after its row is committed, as before.

Nothing is weakened:

* the ids are the requests' own (given by the client, or generated before queueing), so a group
  sent twice (a dead connection) or a row stored alone after its group failed (below) is caught
  by ``ON CONFLICT``: one event per id, however it got there;
* the same id twice in one group: its first request stores it, the others answer ``created:
  false``, exactly as if they had come one after another;
* a group that fails (a row the database refuses, the database down) fails no request: each of
  its requests stores its row alone on the one-row path, which declines to Flask on an error, so
  only the bad row gets its problem details;
* a request whose group is not written within ``WAIT_SECONDS`` stores alone, with the same id;
* a row may name the stored API token its request was accepted with (``token``, the requests
  answered on the event loop, plugin/api/fastloop.py, which knew the token from an earlier
  request): it is inserted only if that token still exists, in the same statement, so a token
  revoked a moment ago stores nothing more.

While groups begin closer together than ``DENSE`` lingers (at the default 10 ms: more than 20
requests a second to one API process), the committer lingers ``linger`` seconds after a group's
first row for the rows right behind it (``AUTOMATION_INGEST_GATHER_MS``): at 100 requests a second
a group of one becomes a group of two or three, and the per-group work — a pool check-out, a
statement, a commit and its WAL flush, the dispatch notification — is paid once for them. Sparse
traffic is not delayed, and neither is a group that holds a row from every request thread of the
process (``capacity``: no other row can come before it is written — at full load the linger would
only idle the threads).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

from plugin.nodes.base import VISIT_FIELDS
from plugin.storage import bulk

log = logging.getLogger(__name__)

MAX_GROUP = 256
WAIT_SECONDS = 30.0
DENSE = 5  # a group's first row within this many lingers of the previous one's: traffic to linger for

_VISIT_COLUMNS = ("id", *VISIT_FIELDS, "client_id", "created_at")
_CUSTOM_COLUMNS = ("id", "name", "visit_id", "client_id", "data", "created_at")


def _statement(
    table: str, columns: tuple[str, ...], types: dict[str, str], trigger: str, event_data: str
) -> str:
    spec = ", ".join(f'"{c}" {types.get(c, "text")}' for c in columns)
    listed = ", ".join(f'"{c}"' for c in columns)
    return (
        f"WITH r AS MATERIALIZED (SELECT * FROM json_to_recordset(CAST(%(rows)s AS json)) "  # noqa: S608 - names are constants, rows bound
        f"AS r({spec}, event_data json, now timestamp, ord integer, token integer)), "
        f"n AS (INSERT INTO {table} ({listed}) SELECT {listed} FROM r "
        f"WHERE r.token IS NULL OR EXISTS (SELECT 1 FROM api_tokens t WHERE t.id = r.token) ORDER BY ord "
        f"ON CONFLICT (id) DO NOTHING RETURNING id) "
        f"INSERT INTO events (trigger, subject_id, data, created_at) "
        f"SELECT '{trigger}', r.id, {event_data}, r.now FROM r JOIN n ON n.id = r.id ORDER BY r.ord "
        f"RETURNING subject_id"
    )


STATEMENTS = {
    "visit": _statement(
        "visits", _VISIT_COLUMNS, {"created_at": "timestamp"}, "visit_created", "CAST('{}' AS json)"
    ),
    "event": _statement(
        "custom_events",
        _CUSTOM_COLUMNS,
        {"created_at": "timestamp", "data": "json"},
        "custom_event",
        "r.event_data",
    ),
}


class _Item:
    __slots__ = ("created", "done", "kind", "sink", "tag", "values")

    def __init__(self, kind: str, values: dict, sink=None, tag=None):
        self.kind = kind
        self.values = values
        self.sink, self.tag = sink, tag  # submit(): told with the group's other rows of the same sink
        self.done = None
        if sink is None:  # store(): the request thread waits on this lock
            self.done = threading.Lock()
            self.done.acquire()
        self.created: bool | None = None  # None: not stored by a group (store it alone)


class GroupCommit:
    """One committer thread per process, started on first use (and again in a forked child)."""

    def __init__(self, engine, dbapi_error, notify, linger: float = 0.0, capacity: int | None = None):
        self._engine = engine  # autocommit: each group statement is its own transaction
        self._dbapi_error = dbapi_error
        self._notify = notify  # called with the number of events a group created
        self._linger = linger  # seconds a group waits for more rows while traffic is dense
        self._capacity = min(capacity or MAX_GROUP, MAX_GROUP)  # the request threads that store here
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._started_in: int | None = None
        self._start_lock = threading.Lock()
        self.groups = 0  # statements written (tests, metrics)
        self.rows = 0

    def store(self, kind: str, values: dict) -> bool | None:
        """True/False (created or not) once committed; None when the caller must store it alone."""
        self._ensure_thread()
        item = _Item(kind, values)
        self._queue.put(item)
        if not item.done.acquire(timeout=WAIT_SECONDS):
            log.warning("group commit did not answer within %.0f s; storing alone", WAIT_SECONDS)
            return None
        return item.created

    def submit(self, kind: str, values: dict, sink, tag) -> None:
        """``store`` without waiting: once the row's group is committed (or has failed), the
        committer calls ``sink([(tag, created), ...])`` once for all of the group's rows submitted
        with that sink — one wake-up of an event loop per group, not per request
        (``created`` None: store it alone, as with ``store``)."""
        self._ensure_thread()
        self._queue.put(_Item(kind, values, sink, tag))

    def _ensure_thread(self) -> None:
        if self._started_in == os.getpid():
            return
        with self._start_lock:
            if self._started_in != os.getpid():
                if self._started_in is not None:  # a forked child: the parent's queue and thread are not ours
                    self._queue = queue.SimpleQueue()
                threading.Thread(target=self._run, name="group-commit", daemon=True).start()
                self._started_in = os.getpid()

    def _gather(self, previous: float) -> tuple[list[_Item], float]:
        """The next group: the first row, what is queued behind it, and — while rows come closer
        together than ``DENSE`` lingers — what comes within ``linger``; with the first row's time."""
        group = [self._queue.get()]
        first = time.monotonic()
        deadline = first + self._linger if self._linger and first - previous < DENSE * self._linger else 0.0
        while len(group) < MAX_GROUP:
            if len(group) >= self._capacity:
                deadline = 0.0  # every request thread waits in this group: no more rows can come
            try:
                wait = deadline - time.monotonic()
                group.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return group, first

    def _run(self) -> None:
        previous = float("-inf")
        while True:
            group, previous = self._gather(previous)
            try:
                created = self._write(group)
            except BaseException:  # never leave a request waiting: each stores alone
                log.exception("group commit of %d rows failed; storing them one by one", len(group))
                for item in group:
                    item.created = None
                created = 0
            if created:
                try:
                    self._notify(created)
                except Exception:  # noqa: BLE001 - stored: the sweeper dispatches undispatched events
                    log.warning("could not notify dispatch of %d events", created)
            told: dict = {}
            for item in group:
                if item.sink is None:
                    item.done.release()
                else:
                    told.setdefault(item.sink, []).append((item.tag, item.created))
            for sink, results in told.items():
                try:
                    sink(results)
                except Exception:  # noqa: BLE001 - an event loop that is gone: its requests are gone too
                    log.warning("could not hand %d stored rows back to their requests", len(results))

    def _write(self, group: list[_Item]) -> int:
        """Store the group, one statement (and transaction) per kind; set each item's answer."""
        by_kind: dict[str, dict[str, _Item]] = {}
        repeats: list[_Item] = []
        for item in group:
            first = by_kind.setdefault(item.kind, {})
            if item.values["id"] in first:
                repeats.append(item)  # stored by its first request; this one answers created: false
            else:
                first[item.values["id"]] = item
        created = 0
        failed = None
        for kind, items in by_kind.items():
            try:
                inserted = write_rows(
                    self._engine, self._dbapi_error, kind, [i.values for i in items.values()]
                )
            except Exception as exc:  # noqa: BLE001 - these requests store alone; other kinds stand
                failed = exc
                for item in items.values():
                    item.created = None
                continue
            for subject, item in items.items():
                item.created = subject in inserted
            created += len(inserted)
        for item in repeats:
            # its first request's answer decides: stored alone after a failure, this one follows it
            item.created = None if by_kind[item.kind][item.values["id"]].created is None else False
        self.groups += 1
        self.rows += len(group)
        if failed is not None:
            log.warning("group commit: some rows are stored one by one after %r", failed)
        return created


def write_rows(engine, dbapi_error, kind: str, values: list[dict]) -> set[str]:
    """Store ``kind`` rows (distinct ids) with their engine events, atomically in one statement on
    an autocommit connection; returns the ids actually inserted. No pre-ping: a connection found
    dead (PostgreSQL restarted) is replaced and the statement sent once more — the rows' own ids
    and ``ON CONFLICT`` keep what the first try may have committed from being stored twice."""
    document = bulk.document([{**row, "ord": order} for order, row in enumerate(values)])
    for attempt in (1, 2):
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                cursor.execute(STATEMENTS[kind], {"rows": document})
                return {subject for (subject,) in cursor.fetchall()}
        except dbapi_error as exc:
            if attempt == 2 or not engine.dialect.is_disconnect(exc, raw.dbapi_connection, None):
                raise
            raw.invalidate(exc)
        finally:
            raw.close()
    raise AssertionError("unreachable")
