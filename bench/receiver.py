"""A fast local webhook receiver for the end-to-end benchmark, in its own process.

Answers every request with 200 (HTTP/1.1 keep-alive, Content-Length or chunked bodies) and
records ``(webhook-id, event id, arrival ms, sent_at ms)`` where ``event id`` and ``sent_at`` come
from the JSON body (``event.id``, ``event.data.sent_at``) that our ``action.webhook`` and the
Node-RED comparison flow both send. Plain asyncio, no dependencies.

Control endpoints (not recorded): ``GET /_bench/stats`` → ``{"count", "bad", "open"}`` (``open``:
connections open now), ``GET /_bench/records?from=N`` → records from index N, ``POST /_bench/reset``.

``--hold`` makes it a black hole (bench/isolation.py): every request other than the control
endpoints is recorded and never answered; the connection stays open until the client gives up.

    python bench/receiver.py --port 9100
    python bench/receiver.py --port 9101 --hold
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
OK_CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
)


class Store:
    def __init__(self) -> None:
        self.records: list[tuple] = []
        self.bad = 0  # deliveries whose body could not be read as the expected JSON
        self.open = 0  # connections open now
        self.hold = False  # black hole: record requests, never answer them


def _record(store: Store, headers: dict[str, str], body: bytes, arrival: float) -> None:
    webhook_id = headers.get("webhook-id")
    try:
        payload = json.loads(body)
        event = payload.get("event") or {}
        data = event.get("data") or {}
        store.records.append((webhook_id, event.get("id"), arrival, data.get("sent_at")))
    except (ValueError, AttributeError):
        store.bad += 1
        store.records.append((webhook_id, None, arrival, None))


def _control(store: Store, method: str, target: str) -> bytes:
    path, _, query = target.partition("?")
    if path == "/_bench/reset" and method == "POST":
        store.records.clear()
        store.bad = 0
        body = b'{"reset": true}'
    elif path == "/_bench/stats":
        body = json.dumps({"count": len(store.records), "bad": store.bad, "open": store.open}).encode()
    elif path == "/_bench/records":
        start = 0
        for part in query.split("&"):
            if part.startswith("from="):
                start = int(part[5:] or 0)
        body = json.dumps(store.records[start:]).encode()
    else:
        return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


class Http(asyncio.Protocol):
    def __init__(self, store: Store) -> None:
        self.store = store
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.store.open += 1

    def connection_lost(self, exc) -> None:
        self.store.open -= 1

    def data_received(self, data: bytes) -> None:
        arrival = time.time() * 1000.0
        self.buf += data
        while self.transport is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            try:
                method, target, version = head[0].split(" ", 2)
            except ValueError:
                self.transport.close()
                return
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            start = end + 4
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body, consumed = _chunked(self.buf, start)
                if body is None:
                    return
                del self.buf[:consumed]
            else:
                length = int(headers.get("content-length") or 0)
                if len(self.buf) < start + length:
                    return
                body = bytes(self.buf[start : start + length])
                del self.buf[: start + length]
            close = headers.get("connection", "").lower() == "close" or (
                version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive"
            )
            if target.startswith("/_bench/"):
                self.transport.write(_control(self.store, method, target))
            else:
                _record(self.store, headers, body, arrival)
                if self.store.hold:  # black hole: never answer, keep the connection
                    continue
                self.transport.write(OK_CLOSE if close else OK)
            if close:
                self.transport.close()
                self.transport = None


def _chunked(buf: bytearray, pos: int) -> tuple[bytes | None, int]:
    out = bytearray()
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None, 0
        size = int(bytes(buf[pos:line_end]).split(b";")[0] or b"0", 16)
        pos = line_end + 2
        if size == 0:
            trailer_end = buf.find(b"\r\n", pos)
            if trailer_end < 0:
                return None, 0
            return bytes(out), trailer_end + 2
        if len(buf) < pos + size + 2:
            return None, 0
        out += buf[pos : pos + size]
        pos += size + 2


async def main(port: int, hold: bool = False) -> None:
    store = Store()
    store.hold = hold
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Http(store), "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    sys.stdout.write(f"receiver listening on 127.0.0.1:{port}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--hold", action="store_true", help="black hole: accept and read requests, never answer"
    )
    args = parser.parse_args()
    try:  # a black hole holds every connection its clients open: as many descriptors as allowed
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    try:
        asyncio.run(main(args.port, args.hold))
    except KeyboardInterrupt:
        pass
