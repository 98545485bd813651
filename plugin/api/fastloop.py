"""The lean ingestion path on granian's event loop: ``POST /api/v1/events`` and ``/visits``
answered without a request thread (RSGI, ``plugin.serving.BufferedRSGI``; PostgreSQL with the group
commit).

Under ``BufferedRSGI`` a request that :class:`~plugin.api.fastpath.FastIngest` answers crossed
four threads: the event loop handed it to a request thread, which handed its row to the group
committer and waited for the commit, then handed the answer back to the loop — two thread
wake-ups of its own per request, on top of the committer's. Here the loop reads and checks the
request itself (the same code as ``FastIngest``: the same strict JSON reading, quick loaders and
schemas, token rules, scopes and rate limiter) and submits the row to the committer, which hands
a whole group's answers back to the loop at once.

Only what needs no I/O is done on the loop; everything else goes to the request threads exactly
as before (``FastIngest``, then Flask), so this path can only ever answer 202, as ``FastIngest``
would have:

* a stored API token is known here once a request thread has looked it up (``FastIngest.tokens``),
  and the statement that stores the row inserts it only if the token still exists (a row not
  inserted is then looked at again off the loop: a revoked token goes to Flask for its 401, a
  row that existed already answers ``created: false``);
* the per-token rate limiter's budget is taken here only from what this process holds ahead
  (``RateLimiter.take_held``); when it holds none, a request thread asks Redis;
* a group that failed or did not answer in time: the row is stored alone with the same id on a
  worker thread of the loop's executor, and an error there hands the request to Flask. "In
  time" is ``WAIT_SECONDS``, kept for all the rows waiting by one timer that looks every
  :data:`WATCH_TICK` seconds while any waits (``asyncio.timeout()`` per request — a timer
  scheduled and cancelled, its context manager's bookkeeping — was ~4 % of the event loop's
  samples at 200 events/s, py-spy).

``AUTOMATION_LOOP_INGEST=0`` turns it off (every request crosses to a request thread).
"""

from __future__ import annotations

import asyncio
import logging

from plugin.api.auth import allows, identity_for
from plugin.ingest.groupcommit import WAIT_SECONDS

log = logging.getLogger(__name__)

WATCH_TICK = 1.0  # seconds between looks for rows whose group is late (WAIT_SECONDS: 30)
PATHS = {"/api/v1/events": "event", "/api/v1/visits": "visit"}


class _Unknown(Exception):
    """A stored token this process has not looked up yet: a request thread does."""


class LoopIngest:
    """``await answer(path, headers, body)`` → ``(body, headers)`` of a 202, or None (the request
    goes to a request thread). See the module docstring."""

    def __init__(self, fast):
        self.fast = fast
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[asyncio.Future, float] = {}  # a row's answer → when it is overdue
        self._watching = False
        self.served = 0  # answered here (tests)

    def handles(self, method: str, path: str, query: str) -> bool:
        return method == "POST" and not query and path in PATHS

    async def answer(self, path: str, headers, body: bytes) -> tuple[bytes, list] | None:
        kind = PATHS[path]
        checked = self._checked(kind, headers, body)
        if checked is None:
            return None
        values, identity = checked
        try:
            created = await self._store(kind, values)
            if not created and identity.token_id is not None:
                # not inserted: a row that existed already, or a token revoked since it was known
                loop, fast = asyncio.get_running_loop(), self.fast
                header = headers.get("authorization")
                if await loop.run_in_executor(None, fast._identity, fast._engine, header) is None:
                    return None  # Flask answers the 401
        except Exception:
            log.warning("ingestion on the event loop declined %s after an error", path, exc_info=True)
            return None
        self.served += 1
        return self.fast.encoded({"accepted": True, "created": created, "events": 1 if created else 0})

    def _checked(self, kind: str, headers, body: bytes):
        """``(row values, identity)`` of a valid, authorised request within its budget, else None."""
        fast = self.fast
        fast._db()  # the engines and the committer, made on the first request
        if fast._group is None or not self._plain(headers, body):
            return None
        try:
            data = fast._load(kind, body)
            identity = data is not None and self._identity(headers.get("authorization"))
        except Exception:
            log.warning("ingestion on the event loop declined a request after an error", exc_info=True)
            return None
        if not identity or not allows(identity.scope, fast.scopes[kind]):
            return None
        if not fast.app.extensions["ingest_rate_limiter"].take_held(identity.key):
            return None  # no budget held ahead: a request thread asks Redis
        if identity.token_id is not None:
            fast.app.extensions["token_use"].touch(fast._engine, identity.token_id)
        values = fast.row_values(kind, data)
        if identity.token_id is not None:
            values["token"] = identity.token_id
        return values, identity

    async def _store(self, kind: str, values: dict) -> bool:
        """Submitted to the group commit; alone (the same id) if its group failed or is late."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        future = loop.create_future()
        self._waiting[future] = loop.time() + WAIT_SECONDS
        if not self._watching:
            self._watching = True
            loop.call_later(WATCH_TICK, self._watch)
        self.fast._group.submit(kind, values, self._sink, future)
        created = await future
        if created is None:
            created = await loop.run_in_executor(None, _store_alone, self.fast, kind, values)
        return created

    def _watch(self) -> None:
        """The loop's timer: a row whose group has not answered within ``WAIT_SECONDS`` is
        answered None (stored alone); looks again while any row waits."""
        now, late = self._loop.time(), 0
        for future, deadline in list(self._waiting.items()):
            if future.done():
                del self._waiting[future]
            elif deadline <= now:
                del self._waiting[future]
                future.set_result(None)
                late += 1
        if late:
            log.warning(
                "group commit did not answer %d rows within %.0f s; storing alone", late, WAIT_SECONDS
            )
        self._watching = bool(self._waiting)
        if self._watching:
            self._loop.call_later(WATCH_TICK, self._watch)

    def _plain(self, headers, body: bytes) -> bool:
        """A JSON body whose declared length came whole and within the limit (else FastIngest's
        ``_read`` would decline too)."""
        content_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/json" or headers.get("transfer-encoding") is not None:
            return False
        declared = headers.get("content-length")
        limit = self.fast.app.config.get("MAX_CONTENT_LENGTH")
        return (
            declared is not None
            and declared.isdigit()
            and int(declared) == len(body) > 0
            and not (limit and len(body) > limit)
        )

    def _identity(self, header: str | None):
        def known(digest: str) -> tuple[int, str] | None:
            found = self.fast.tokens.get(digest)
            if found is None:
                raise _Unknown
            return found

        try:
            return identity_for(header, self.fast.app.config.get("API_TOKEN") or "", known)
        except _Unknown:
            return None

    def _sink(self, results: list) -> None:
        """The committer's thread: hand a group's answers to the loop, one wake-up."""
        self._loop.call_soon_threadsafe(self._resolve, results)

    def _resolve(self, results: list) -> None:
        waiting = self._waiting
        for future, created in results:
            waiting.pop(future, None)
            if not future.done():
                future.set_result(created)


def _store_alone(fast, kind: str, values: dict) -> bool:
    """A row its group did not store, on its own statement, and dispatch told (a Redis round
    trip): both on a request thread, never on the event loop."""
    created = fast.store_alone(kind, values)
    if created:
        fast._notify(1)
    return created
