"""Open-loop load generator: a fixed offered rate of custom events, one per request.

wrk (Debian's 4.1) is closed-loop only (no ``-R``; that is wrk2, not packaged), so the fixed-rate
mode uses this: requests are scheduled at ``t0 + i / rate`` whether or not earlier ones have been
answered, sent over ``connections`` keep-alive connections, and each event carries its *scheduled*
send time in ``data.sent_at`` (so queueing in the generator counts as latency: no coordinated
omission).

    python bench/loadgen.py --url http://127.0.0.1:8080/api/v1/events --rate 200 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    socket_errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # scheduled send → response
    started_ms: float = 0.0
    ended_ms: float = 0.0
    late_ms: float = 0.0  # worst lag of a request behind its schedule
    unsent: int = 0  # still queued in the generator when the grace period ran out (server too slow)

    def summary(self) -> dict:
        from bench.common import percentile

        ok = sum(n for s, n in self.statuses.items() if 200 <= s < 300)
        return {
            "scheduled": self.sent,
            "sent": self.sent - self.unsent,
            "unsent_server_too_slow": self.unsent,
            "ok": ok,
            "non_2xx": sum(n for s, n in self.statuses.items() if not 200 <= s < 300),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "socket_errors": self.socket_errors,
            "api_latency_ms": {
                "p50": _r(percentile(self.latencies_ms, 50)),
                "p99": _r(percentile(self.latencies_ms, 99)),
                "max": _r(max(self.latencies_ms) if self.latencies_ms else None),
            },
            "max_schedule_lag_ms": round(self.late_ms, 1),
        }


def _r(value):
    return None if value is None else round(value, 2)


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def run(
    url: str,
    rate: float,
    duration: float,
    prefix: str,
    token: str | None = None,
    connections: int = 16,
    name: str = "bench",
    grace: float = 10.0,
    extra: dict | None = None,
) -> Result:
    """``grace``: seconds after the schedule ends during which queued requests are still sent;
    what is left then is counted as ``unsent`` (keeps a run bounded when the server is too slow).
    ``extra``: more fields of each event's ``data`` (e.g. ``{"price": 1}``)."""
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port or 80, parts.path or "/"
    total = int(rate * duration)
    queue: asyncio.Queue = asyncio.Queue()
    result = Result()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""

    def request(i: int, sent_at_ms: float) -> bytes:
        body = json.dumps(
            {
                "id": f"{prefix}-{i}",
                "name": name,
                "data": {"n": i, "sent_at": round(sent_at_ms, 3), **(extra or {})},
            },
            separators=(",", ":"),
        ).encode()
        return (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    ready = asyncio.Event()

    async def connection() -> None:
        try:  # connect before the clock starts
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            reader = writer = None
        await ready.wait()
        while True:
            item = await queue.get()
            if item is None:
                break
            i, scheduled_ms = item
            if time.monotonic() > stop_at:
                result.unsent += 1
                continue
            for attempt in (1, 2):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    writer.write(request(i, scheduled_ms))
                    await writer.drain()
                    status = await _read_response(reader)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    result.latencies_ms.append(time.time() * 1000 - scheduled_ms)
                    break
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    if attempt == 2:
                        result.socket_errors += 1
        if writer is not None:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    await asyncio.sleep(0.2)
    ready.set()
    t0_wall = time.time() * 1000
    t0 = time.monotonic()
    stop_at = t0 + duration + grace
    result.started_ms = t0_wall
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            result.late_ms = max(result.late_ms, -delay * 1000)
        queue.put_nowait((i, t0_wall + i / rate * 1000))
        result.sent += 1
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.ended_ms = time.time() * 1000
    return result


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--token")
    parser.add_argument("--prefix", default=f"lg{int(time.time())}")
    args = parser.parse_args()
    res = asyncio.run(run(args.url, args.rate, args.duration, args.prefix, args.token, args.connections))
    print(json.dumps(res.summary(), indent=2))
