"""What the API servers put in front of the Flask app (``plugin.wsgi`` builds them at import).

Under granian the Flask app runs behind :class:`BufferedRSGI`: granian reads each request body on
its event loop, with a deadline, before the app gets one of its threads. A client that sends its
headers and then stalls (or trickles its body) holds no thread and gets a 408 after
``AUTOMATION_REQUEST_READ_TIMEOUT`` seconds, so stalled uploads can never occupy every thread.
Under gunicorn (gthread) a thread reads the body; :func:`bounded_body` lets at most half of them
wait for a slow one, each within the same deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import queue
import socket
import sys
import threading
import time

from plugin.config import switch


def _problem(status: int, title: str, detail: str) -> tuple[list[tuple[str, str]], bytes]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [
        ("Content-Type", "application/problem+json"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    return headers, body


TIMEOUT_HEADERS, TIMEOUT_BODY = _problem(
    408, "Request Timeout", "the request body did not arrive in time; the connection is closed"
)


# a body that follows its headers in a packet of its own (urllib3 sends them apart) still comes
# at once; a stalled one holds the thread this long, so that threads keep turning over
QUICK_READ = 0.003


class TooSlow(Exception):
    """The body did not arrive before the deadline, or no thread may wait for it."""


def bounded_body(wsgi_app, timeout: float, slow_slots: int, max_body: int | None):
    """WSGI middleware for gunicorn's gthread worker, whose threads read request bodies.

    The body is read before the app runs: within :data:`QUICK_READ` (a client sends it right
    after its headers), else - the client is still sending - by one of at most ``slow_slots``
    threads per process, within ``timeout`` seconds. A slow body past the deadline, or one that finds every
    slot taken, is answered 408 (Connection: close): stalled uploads can hold at most
    ``slow_slots`` threads, the others stay free for every other request. Elsewhere (granian,
    tests: no ``gunicorn.socket``) it passes requests through.
    """
    slots = threading.BoundedSemaphore(slow_slots)

    def app(environ, start_response):
        sock = environ.get("gunicorn.socket")
        chunked = "chunked" in (environ.get("HTTP_TRANSFER_ENCODING") or "").lower()
        length = environ.get("CONTENT_LENGTH") or ""
        if sock is None or not (chunked or (length.isdigit() and int(length) > 0)):
            return wsgi_app(environ, start_response)
        if length.isdigit() and max_body and int(length) > max_body:
            return wsgi_app(environ, start_response)  # 413 from the declared length, unread
        want = int(length) if length.isdigit() and not chunked else (max_body + 1 if max_body else 1 << 30)
        try:
            body = _read_body(environ["wsgi.input"], sock, want, timeout, slots)
        except TooSlow:
            # gunicorn closes a connection by reading until the client closes it (up to 2 s, on its
            # main thread, which serves every connection): a stalled client never closes
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)
            start_response("408 Request Timeout", list(TIMEOUT_HEADERS))
            return [TIMEOUT_BODY]
        finally:
            sock.settimeout(None)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return wsgi_app(environ, start_response)

    return app


def _read_body(stream, sock, want: int, timeout: float, slots: threading.BoundedSemaphore) -> bytes:
    """``want`` bytes of ``stream`` (fewer at its end): within :data:`QUICK_READ`, else within
    ``timeout`` on a slot.

    gunicorn keeps what a read that raised had received (its reader's buffers), so the slow read
    goes on where the non-blocking one stopped."""
    sock.settimeout(QUICK_READ)
    try:
        return _read_up_to(stream, want)
    except (BlockingIOError, TimeoutError):
        pass
    if not slots.acquire(blocking=False):
        raise TooSlow
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TooSlow
            sock.settimeout(remaining)
            try:
                return _read_up_to(stream, want)
            except (BlockingIOError, TimeoutError):
                continue
    finally:
        slots.release()


def _read_up_to(stream, want: int) -> bytes:
    chunks, size = [], 0
    while size < want:
        chunk = stream.read(min(want - size, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class BufferedRSGI:
    """An RSGI app (granian ``--interface rsgi``) that runs a WSGI app on ``threads`` threads, each
    request's body read in full on granian's event loop first, within ``timeout`` seconds (else 408),
    and at most ``max_body`` bytes of it (more: the app sees the declared length and answers 413)."""

    def __init__(
        self, wsgi_app, threads: int, timeout: float, max_body: int | None, on_loop=None, access_log=None
    ):
        self.app, self.timeout, self.max_body = wsgi_app, timeout, max_body
        self.access_log = access_log  # plugin.accesslog.AccessLog: a line per request answered
        self.on_loop = on_loop  # plugin.api.fastloop.LoopIngest: requests answered on the loop
        self.threads, self.started = threads, False
        self.deadlines: dict[asyncio.AbstractEventLoop, Deadlines] = {}  # the body reads', per loop
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()  # (environ, future, loop); threads start lazily
        self.base = {
            "SCRIPT_NAME": "",
            "SERVER_SOFTWARE": "granian (rsgi)",
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }

    def __rsgi_del__(self, _loop) -> None:
        for _ in range(self.threads):
            self.jobs.put(None)

    async def __rsgi__(self, scope, proto) -> None:
        if scope.proto != "http":  # no websockets here
            return
        if self.access_log is None:
            await self._answer(scope, proto)
            return
        wall, began, status = time.time(), time.perf_counter(), None
        try:
            status = await self._answer(scope, proto)
        finally:
            self.access_log(wall, began, scope, status)

    async def _answer(self, scope, proto) -> int:
        """Answer the request; returns the status sent."""
        headers = scope.headers
        declared = headers.get("content-length")
        body = b""
        if declared != "0" and (declared is not None or "transfer-encoding" in headers):
            try:
                body = await self._body(proto, declared)
            except TimeoutError:
                proto.response_bytes(408, TIMEOUT_HEADERS, TIMEOUT_BODY)
                return 408
        on_loop = self.on_loop
        if on_loop is not None and on_loop.handles(scope.method, scope.path, scope.query_string):
            answered = await on_loop.answer(scope.path, headers, body)
            if answered is not None:
                proto.response_bytes(202, answered[1], answered[0])
                return 202
        environ = self._environ(scope, headers, body)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self.started:
            self._start_threads()
        self.jobs.put((environ, future, loop))
        status, response_headers, payload = await future
        proto.response_bytes(status, response_headers, payload)
        return status

    async def _body(self, proto, declared: str | None) -> bytes:
        limit = self.max_body
        if limit and declared is not None and declared.isdigit() and int(declared) > limit:
            return b""  # the app answers 413 from the declared length, without reading
        loop = asyncio.get_running_loop()
        deadlines = self.deadlines.get(loop)
        if deadlines is None:
            deadlines = self.deadlines[loop] = Deadlines(loop, self.timeout)
        task = asyncio.current_task()
        deadlines.start(task)
        try:
            if limit is None or (declared is not None and declared.isdigit()):
                return await proto()  # the declared length, within the limit: the stream ends there
            chunks, size = [], 0
            async for chunk in proto:
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    break  # enough for the app to see it is over the limit (413)
            return b"".join(chunks)
        except asyncio.CancelledError:
            if deadlines.end(task):
                raise TimeoutError from None
            raise
        finally:
            deadlines.end(task)

    def _environ(self, scope, headers, body: bytes) -> dict:
        host, _, port = scope.server.rpartition(":")
        client, _, client_port = scope.client.rpartition(":")
        environ = {
            **self.base,
            "REQUEST_METHOD": scope.method,
            # granian hands RSGI apps the path decoded, bytes that are not UTF-8 replaced by U+FFFD;
            # the app refuses a URL holding U+FFFD under every server (plugin/api/common.py)
            "PATH_INFO": scope.path.encode("utf-8").decode("latin-1"),
            "QUERY_STRING": scope.query_string,
            "SERVER_NAME": host,
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
            "REMOTE_ADDR": client,
            "REMOTE_PORT": client_port,
            "wsgi.url_scheme": scope.scheme,
            "wsgi.input": io.BytesIO(body),
        }
        for name, value in headers.items():
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
                continue
            if name == "content-length" or name == "transfer-encoding":
                continue  # the body is whole: its length is what came
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in environ:  # a repeated header: joined as one (cookies with "; ")
                environ[key] = f"{environ[key]}{'; ' if key == 'HTTP_COOKIE' else ','}{value}"
            else:
                environ[key] = value
        declared = headers.get("content-length")
        if body or declared is not None or "transfer-encoding" in headers:
            too_large = (
                self.max_body
                and declared is not None
                and declared.isdigit()
                and int(declared) > self.max_body
            )
            environ["CONTENT_LENGTH"] = declared if too_large else str(len(body))
        return environ

    def _start_threads(self) -> None:
        # a plain queue and call_soon_threadsafe: lighter than run_in_executor's two futures
        for n in range(self.threads):
            threading.Thread(target=self._serve, name=f"wsgi-{n}", daemon=True).start()
        self.started = True

    def _serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            environ, future, loop = job
            try:
                result = self._call(environ)
            except BaseException as exc:  # noqa: BLE001 - handed to the request's coroutine
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

    def _call(self, environ) -> tuple[int, list, bytes]:
        answer: list = []

        def start_response(status, headers, exc_info=None):
            answer[:] = [int(status.split(" ", 1)[0]), headers]

        chunks = self.app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return answer[0], answer[1], payload


class Deadlines:
    """The body reads of one event loop, each cancelled once ``timeout`` seconds old by a timer
    that looks every :data:`DEADLINE_TICK` seconds while any is under way: at most that much late.

    ``asyncio.timeout()`` around each read — a timer scheduled and cancelled, its context
    manager's bookkeeping — took ~12 % of the API's event loop at 200 events/s (py-spy, where
    nearly every body is read at once); here a read costs a dict entry."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float):
        self.loop, self.timeout = loop, timeout
        self.reading: dict[asyncio.Task, float] = {}
        self.expired: set[asyncio.Task] = set()
        self.ticking = False

    def start(self, task: asyncio.Task) -> None:
        self.reading[task] = self.loop.time() + self.timeout
        if not self.ticking:
            self.ticking = True
            self.loop.call_later(DEADLINE_TICK, self._tick)

    def end(self, task: asyncio.Task) -> bool:
        """The read of ``task`` is over; returns whether it was cancelled for its deadline (once)."""
        self.reading.pop(task, None)
        if task not in self.expired:
            return False
        self.expired.discard(task)
        task.uncancel()
        return True

    def _tick(self) -> None:
        now = self.loop.time()
        for task, deadline in list(self.reading.items()):
            if deadline <= now:
                del self.reading[task]
                self.expired.add(task)
                task.cancel()
        self.ticking = bool(self.reading)
        if self.ticking:
            self.loop.call_later(DEADLINE_TICK, self._tick)


DEADLINE_TICK = 0.25


def _settle(future: asyncio.Future, result, exc) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def loop_ingest(app):
    """The ingestion path on the event loop (plugin/api/fastloop.py), unless
    ``AUTOMATION_LOOP_INGEST=0`` or the lean path is off."""
    fast = app.extensions.get("fast_ingest")
    if fast is None or not switch("AUTOMATION_LOOP_INGEST"):
        return None
    from plugin.api.fastloop import LoopIngest

    return LoopIngest(fast)
