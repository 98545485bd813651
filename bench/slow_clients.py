#!/usr/bin/env python3
"""Slow clients: 64 uploads that send their headers and then stall, held for 60 s.

Each stalled connection sends the headers of an ingestion request (``POST /api/v1/events``,
``/visits``, ``/batch``, ``PUT /api/v1/orders/{id}`` in turn) with ``Content-Length: 100000``, ten
bytes of the body, and then nothing. When the server closes one (a 408, or just the close), the
staller opens another at once, so 64 stalls are held for the whole phase. Meanwhile two probes,
each on a fresh connection per request, ask ``GET /api/v1/health`` and ``POST /api/v1/events``
(a valid event) five times a second; a probe that gets no answer in 5 s counts as 5,000 ms.

Reported per server (granian, the default, and gunicorn): p50/p99/max of each probe before and
during the stall, probes that failed, stalled connections the server closed (with a 408 or not)
and after how long. PostgreSQL + Redis, the API as ``plugin/processes.py api_command`` starts it.

    python bench/slow_clients.py                      # both servers, 64 stalls held 60 s
    python bench/slow_clients.py --hold 15 --server granian
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests

from bench import common as c

ROUTES = (
    ("POST", "/api/v1/events"),
    ("POST", "/api/v1/visits"),
    ("POST", "/api/v1/batch"),
    ("PUT", "/api/v1/orders/slow-{n}"),
)
PROBE_TIMEOUT = 5.0


class Staller(threading.Thread):
    """Holds ``count`` stalled uploads open until stopped, reopening each one the server closes."""

    def __init__(self, port: int, count: int):
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.stop = threading.Event()
        self.closed: list[tuple[float, bool]] = []  # (seconds held, answered 408?)
        self.opened = 0
        self.failed_opens = 0

    def _open(self, n: int):
        method, path = ROUTES[n % len(ROUTES)]
        head = (
            f"{method} {path.format(n=n)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {c.TOKEN}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        ).encode()
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(head + b'{"id":"sl')
        except OSError:
            self.failed_opens += 1
            return None
        sock.setblocking(False)
        self.opened += 1
        return sock, time.monotonic(), b""

    def run(self) -> None:
        import selectors

        sel = selectors.DefaultSelector()
        held: dict[socket.socket, list] = {}  # socket → [opened at, bytes answered]
        n = 0
        while not self.stop.is_set():
            while len(held) < self.count and not self.stop.is_set():
                opened = self._open(n)
                n += 1
                if opened is None:
                    time.sleep(0.05)
                    break
                sock, started, _ = opened
                held[sock] = [started, b""]
                sel.register(sock, selectors.EVENT_READ)
            for key, _ in sel.select(timeout=0.2):
                sock = key.fileobj
                try:
                    chunk = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                state = held[sock]
                state[1] += chunk
                if chunk and b"\r\n\r\n" not in state[1]:
                    continue
                sel.unregister(sock)
                sock.close()
                del held[sock]
                self.closed.append((time.monotonic() - state[0], b" 408 " in state[1].split(b"\r\n", 1)[0]))
        for sock in held:
            sock.close()


class Probe(threading.Thread):
    """One request every 1/rate s on a fresh connection; latencies in ms (a timeout: 5,000)."""

    def __init__(self, base: str, kind: str, rate: float = 5.0):
        super().__init__(daemon=True)
        self.base, self.kind, self.period = base, kind, 1 / rate
        self.stop = threading.Event()
        self.samples: list[tuple[float, float, bool]] = []  # (when, ms, ok)

    def _once(self) -> bool:
        headers = {"Authorization": f"Bearer {c.TOKEN}", "Connection": "close"}
        if self.kind == "health":
            r = requests.get(self.base + "/api/v1/health", headers=headers, timeout=PROBE_TIMEOUT)
            return r.status_code == 200
        event = {"id": f"probe-{uuid.uuid4().hex[:12]}", "name": "probe", "data": {"n": 1}}
        r = requests.post(self.base + "/api/v1/events", json=event, headers=headers, timeout=PROBE_TIMEOUT)
        return r.status_code == 202

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                ok = self._once()
            except requests.RequestException:
                ok = False
            ms = (time.monotonic() - started) * 1000
            self.samples.append((started, ms if ok else max(ms, PROBE_TIMEOUT * 1000), ok))
            self.stop.wait(max(0.0, self.period - (time.monotonic() - started)))


def summary(samples, start: float, end: float) -> dict:
    window = [(ms, ok) for when, ms, ok in samples if start <= when < end]
    values = [ms for ms, _ in window]
    return {
        "n": len(window),
        "failed": sum(1 for _, ok in window if not ok),
        "p50_ms": c.percentile(values, 50),
        "p99_ms": c.percentile(values, 99),
        "max_ms": max(values) if values else None,
    }


def measure(server: str, stalls: int, hold: float, baseline: float, read_timeout: str | None) -> dict:
    name, db_url = c.create_database("bench_slow")
    procs = c.Procs(c.LOGS / f"slow_clients-{server}")
    try:
        extra = {"AUTOMATION_API_SERVER": server, "AUTOMATION_ACCESS_LOG": "0"}
        if read_timeout:
            extra["AUTOMATION_REQUEST_READ_TIMEOUT"] = read_timeout
        env = c.app_env(db_url, c.redis_url(), c.CACHE / "bench-slow-data", **extra)
        c.flush_redis(env["REDIS_URL"])
        c.migrate(env, procs.log_dir / "migrate.log")
        base, _api = c.start_api(procs, env)
        c.wait_healthy(procs, base)
        port = int(base.rsplit(":", 1)[1])
        probes = [Probe(base, "health"), Probe(base, "ingest")]
        for probe in probes:
            probe.start()
        t0 = time.monotonic()
        time.sleep(baseline)
        staller = Staller(port, stalls)
        staller.start()
        t1 = time.monotonic()
        time.sleep(hold)
        t2 = time.monotonic()
        staller.stop.set()
        for probe in probes:
            probe.stop.set()
        for thread in (*probes, staller):
            thread.join(timeout=PROBE_TIMEOUT + 2)
        held = [s for s, _ in staller.closed]
        return {
            "server": server,
            "stalls": stalls,
            "hold_s": hold,
            "health_before": summary(probes[0].samples, t0, t1),
            "ingest_before": summary(probes[1].samples, t0, t1),
            "health_during": summary(probes[0].samples, t1, t2),
            "ingest_during": summary(probes[1].samples, t1, t2),
            "stalls_opened": staller.opened,
            "stall_opens_failed": staller.failed_opens,
            "stalls_closed_by_server": len(held),
            "closed_with_408": sum(1 for _, a in staller.closed if a),
            "stall_held_p50_s": c.percentile(held, 50),
            "stall_held_max_s": max(held) if held else None,
            "api_errors": procs.errors("api"),
        }
    finally:
        procs.stop_all()
        c.drop_database(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=("granian", "gunicorn", "both"), default="both")
    parser.add_argument("--stalls", type=int, default=64)
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--baseline", type=float, default=5.0)
    parser.add_argument(
        "--read-timeout", help="AUTOMATION_REQUEST_READ_TIMEOUT for the API (default: its own)"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/slow_clients.json"
    )
    args = parser.parse_args()
    servers = ("granian", "gunicorn") if args.server == "both" else (args.server,)
    results = [measure(s, args.stalls, args.hold, args.baseline, args.read_timeout) for s in servers]
    rows = []
    for r in results:
        for probe in ("health", "ingest"):
            for phase in ("before", "during"):
                s = r[f"{probe}_{phase}"]
                rows.append(
                    [
                        r["server"],
                        probe,
                        phase,
                        s["n"],
                        s["failed"],
                        s["p50_ms"],
                        s["p99_ms"],
                        s["max_ms"],
                        c.verdict(s["p99_ms"], 100, False) if phase == "during" else "",
                    ]
                )
    print(
        table := c.table(
            ["server", "probe", "phase", "requests", "failed", "p50 ms", "p99 ms", "max ms", "p99 < 100 ms"],
            rows,
        )
    )
    print(
        c.table(
            ["server", "stalls opened", "closed by server", "with 408", "held p50 s", "held max s"],
            [
                [
                    r["server"],
                    r["stalls_opened"],
                    r["stalls_closed_by_server"],
                    r["closed_with_408"],
                    r["stall_held_p50_s"],
                    r["stall_held_max_s"],
                ]
                for r in results
            ],
        )
    )
    if not args.no_write:
        path = c.write_results(
            "slow_clients", {"stalls": args.stalls, "hold_s": args.hold, "results": results, "table": table}
        )
        print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
