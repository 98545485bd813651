#!/usr/bin/env python3
"""Where the API's CPU goes: one API worker (granian or gunicorn) under wrk, sampled by py-spy (GIL holder only).

A fresh PostgreSQL database, the API with the arguments of plugin/processes.py ``serve_api`` but
one worker (so one process holds all the work), ``POST /api/v1/events`` from wrk at 16
connections for ``--duration`` seconds, no RQ worker (events are stored, dispatch waits).
Prints the CPU ms per stored event and the frames that hold the GIL most (inclusive share),
the profile behind "where the time goes" in bench/README.md.

    python bench/profile_api.py
    python bench/profile_api.py --duration 10 --rate-limit 0 --top 40
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

LUA = """
wrk.method = "POST"
wrk.body = '{"name":"bench","data":{"n":1,"sent_at":1764300000000}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""
NOISE = (
    "threading.py",
    "concurrent/futures",
    "runpy",
    "gunicorn/app",
    "arbiter",
    "gunicorn/__main__",
    "granian/",
)


def summarize(raw: Path, top: int) -> list[tuple[float, str]]:
    inclusive: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for frame in set(stack.split(";")):
            if not any(n in frame for n in NOISE):
                inclusive[frame] += int(count)
    return [(100.0 * n / total, frame) for frame, n in inclusive.most_common(top)] if total else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    # above what one worker answers (~5,000/s): at the product's default 2,000/s the refused
    # requests go to Flask for their 429 and the profile shows that instead of the hot path
    parser.add_argument("--rate-limit", default="50000", help="AUTOMATION_INGEST_RATE (0 = off)")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    spy_bin = Path(sys.executable).parent / "py-spy"
    if not spy_bin.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    name, db_url = c.create_database("profile_api")
    procs = c.Procs(c.LOGS / "profile_api")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = c.app_env(db_url, c.redis_url(), Path(tmp) / "data", AUTOMATION_INGEST_RATE=args.rate_limit)
            c.migrate(env, c.LOGS / "profile_api-migrate.log")
            base, master = c.start_api(procs, env, workers=1)
            c.wait_healthy(procs, base)
            time.sleep(1)
            worker = subprocess.run(
                ["pgrep", "-P", str(master.pid)], check=True, capture_output=True, text=True
            ).stdout.split()[0]
            lua, raw = Path(tmp) / "events.lua", Path(tmp) / "spy.txt"
            lua.write_text(LUA % c.TOKEN)
            stat = Path(f"/proc/{worker}/stat")
            before = sum(int(x) for x in stat.read_text().split()[13:15])  # utime + stime, in ticks
            sampler = c.Sampler({}, pg_database=name).start()
            spy = subprocess.Popen(
                [
                    str(spy_bin),
                    "record",
                    "--gil",
                    "-r",
                    "400",
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                    "-d",
                    str(max(1, args.duration - 2)),
                    "-p",
                    worker,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            out = subprocess.run(
                ["wrk", "-t2", "-c16", f"-d{args.duration}s", "-s", str(lua), base + "/api/v1/events"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            cpu_s = (sum(int(x) for x in stat.read_text().split()[13:15]) - before) / 100
            pg_s = sampler.stop()["cpu"]["postgres_backends_s"]
            spy.wait(timeout=60)
            import psycopg

            with psycopg.connect(db_url) as conn:
                stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
            print(next((ln.strip() for ln in out.splitlines() if "Requests/sec" in ln), out))
            print(
                f"API worker: {cpu_s:.1f} CPU s for {stored:,} stored events = {1000 * cpu_s / max(stored, 1):.2f} "
                f"CPU ms per event (rate limit {args.rate_limit}/s)"
            )
            print(
                f"PostgreSQL backends: {pg_s:.1f} CPU s = {1000 * pg_s / max(stored, 1):.2f} CPU ms per event"
            )
            print("\nframes holding the GIL (inclusive %, py-spy --gil):")
            for share, frame in summarize(raw, args.top):
                print(f"{share:5.1f}%  {frame[:150]}")
    finally:
        procs.stop_all()
        c.drop_database(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
