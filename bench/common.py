"""Shared helpers of the benchmarks: databases, processes, memory sampling, tables, results.

Every benchmark is one command (``python bench/<name>.py``) that prints a table and writes
``bench/results/<name>.json``. Nothing here is imported by the product.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
CACHE = ROOT / ".cache"
LOGS = CACHE / "bench-logs"

PG_BASE = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_BASE = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = os.environ.get("BENCH_REDIS_DB")  # unset: lease one of 1–14 like the test suite does
TOKEN = "bench-token-6f1d0c1e2b7a4e58"
SECRET_KEY = "0Nq0kxJ7m3y0n4U3hCz8y2W3x9mQm0mX4nOa3JcZ6eA="

# The tree under test: this checkout, or another one (BENCH_TARGET, e.g. an export of HEAD made
# by ``bench/run_all.sh --head``) so a stable commit can be measured while the checkout changes.
TARGET = Path(os.environ.get("BENCH_TARGET") or ROOT).resolve()
for _path in (ROOT, TARGET):
    if str(_path) in sys.path:
        sys.path.remove(str(_path))
    sys.path.insert(0, str(_path))


# -- databases ---------------------------------------------------------------------------------


def background_python(role: str = "worker") -> list[str]:
    """The interpreter and flags the product starts ``role`` (``worker`` / ``scheduler``) with:
    ``-OO`` where the target's supervisor uses it (``plugin/processes.py`` ``BACKGROUND_PYTHON``),
    so an older tree is run as it ran."""
    source = (TARGET / "plugin" / "processes.py").read_text(encoding="utf-8")
    optimized = 'BACKGROUND_PYTHON = (sys.executable, "-OO")' in source
    return [sys.executable, "-OO"] if optimized and role in ("worker", "scheduler") else [sys.executable]


def create_database(prefix: str) -> tuple[str, str]:
    """A fresh, empty PostgreSQL database: (name, url)."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{PG_BASE}/{name}"


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_STARTED = time.monotonic()
_LOAD_AT_START = os.getloadavg()
_lease: dict[str, Any] = {}


def redis_url() -> str:
    """The benchmark's Redis database: ``BENCH_REDIS_DB``, or one of 1–14 leased through the key
    ``automation-test:lease:<n>`` in database 0 — the protocol of tests/conftest.py, so a benchmark
    and a concurrent test run never flush each other's database. Released when the process exits."""
    if REDIS_DB:
        return f"{REDIS_BASE}/{REDIS_DB}"
    if "url" in _lease:
        return _lease["url"]
    import atexit

    import redis

    admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
    token = f"bench-{uuid.uuid4().hex}"
    deadline = time.monotonic() + 120
    while True:
        db = next(
            (n for n in range(1, 15) if admin.set(f"automation-test:lease:{n}", token, nx=True, ex=1800)),
            None,
        )
        if db is not None:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("no free Redis database (1–14 are all leased); set BENCH_REDIS_DB")
        time.sleep(0.5)

    def release() -> None:
        try:
            if admin.get(f"automation-test:lease:{db}") == token.encode():
                admin.delete(f"automation-test:lease:{db}")
        except redis.RedisError:
            pass

    atexit.register(release)
    _lease.update(url=f"{REDIS_BASE}/{db}", db=db)
    return _lease["url"]


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def app_env(database_url: str, redis: str, data_dir: Path, **extra: Any) -> dict[str, str]:
    """The environment of every server process of a benchmark (README: Configuration)."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis,
        "AUTOMATION_DATA_DIR": str(data_dir),
        "AUTOMATION_API_TOKEN": TOKEN,
        "AUTOMATION_SECRET_KEY": SECRET_KEY,
        "AUTOMATION_OUTBOUND_ALLOWLIST": "127.0.0.1,::1,localhost",
        "AUTOMATION_HTTP_TIMEOUT": "10",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def migrate(env: dict[str, str], log: Path) -> None:
    """``python server.py migrate`` against the benchmark's database."""
    with open(log, "wb") as out:
        subprocess.run(
            [sys.executable, str(TARGET / "server.py"), "migrate"],
            cwd=TARGET,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )


def start_api(
    procs: Procs, env: dict[str, str], workers: int = 2, threads: int = 8
) -> tuple[str, subprocess.Popen]:
    """The API with the command of plugin/processes.py ``api_command`` (granian unless
    ``AUTOMATION_API_SERVER`` in ``env`` says gunicorn; bound to loopback; access log to the
    process log); returns (base URL, master process)."""
    from plugin.processes import api_command

    port = free_port()
    command = api_command(port, workers, threads, server=env.get("AUTOMATION_API_SERVER"), host="127.0.0.1")
    # granian's app threads (plugin.wsgi.BufferedRSGI) are sized by the environment, as serve_api does
    api = procs.start("api", command, {**env, "AUTOMATION_API_THREADS": str(threads)})
    return f"http://127.0.0.1:{port}", api


def wait_healthy(procs: Procs, base: str, workers: int = 0, timeout: float = 60) -> None:
    import requests

    def healthy():
        h = requests.get(base + "/api/v1/health", timeout=5).json()
        return h.get("status") == "ok" and h.get("workers", 0) >= workers

    wait_until(
        healthy, timeout, "the API" + (f" and {workers} workers" if workers else ""), alive=procs.check_alive
    )


def make_app(env: dict[str, str], worker: bool = False):
    """The Flask app built from ``env`` (the app reads its configuration from the environment);
    ``worker``: configured as an RQ worker's (``plugin.api.app.WORKER_CONFIG``), for work done in process
    that a worker would do."""
    os.environ.update(env)
    import plugin.api.app

    return plugin.api.app.create_app(getattr(plugin.api.app, "WORKER_CONFIG", None) if worker else None)


# -- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused_port() -> tuple[int, socket.socket]:
    """A loopback port that refuses connections (RST at once), kept so until the socket is closed:
    bound but not listening, so no other program can take the port meanwhile."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock.getsockname()[1], sock


class Procs:
    """Child processes started by a benchmark; stopped (SIGTERM, then SIGKILL) by their own ids."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[tuple[str, subprocess.Popen]] = []

    def start(
        self, name: str, cmd: Sequence[str], env: dict[str, str] | None = None, cwd: Path = TARGET
    ) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        child = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children.append((name, child))
        return child

    def check_alive(self) -> None:
        for name, child in self.children:
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode}:\n{self.log(name)}")

    def errors(self, *names: str) -> dict[str, Any]:
        """Tracebacks in the logs of ``names`` (all when empty): count and the last exception line."""
        out: dict[str, Any] = {}
        for path in sorted(self.log_dir.glob("*.log")):
            if names and path.stem not in names:
                continue
            lines = path.read_text(errors="replace").splitlines()
            count = sum(1 for ln in lines if ln.startswith("Traceback"))
            if count:
                last = next(
                    (ln for ln in reversed(lines) if ln and not ln.startswith((" ", "\t")) and ":" in ln), ""
                )
                out[path.stem] = {"tracebacks": count, "last": last[:300]}
        return out

    def log(self, name: str, tail: int = 4000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def stop(self, child: subprocess.Popen, timeout: float = 15) -> None:
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)  # its own session: gunicorn workers, RQ horses
            except ProcessLookupError:
                pass
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.wait()

    def stop_all(self) -> None:
        self.stop_all_but()

    def stop_all_but(self, *keep: str) -> None:
        for name, child in reversed(self.children):
            if name not in keep:
                self.stop(child)
        self.children = [(n, ch) for n, ch in self.children if n in keep]


def wait_until(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.2,
    alive: Callable[[], None] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if alive:
            alive()
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - not up yet, whatever the reason
            last_error = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready in {timeout} s (last error: {last_error!r})")


# -- memory ------------------------------------------------------------------------------------


def _cpu(times) -> float:
    return (
        times.user
        + times.system
        + getattr(times, "children_user", 0.0)
        + getattr(times, "children_system", 0.0)
    )


class Sampler:
    """Peak resident memory and CPU seconds of the system under test, sampled every ``interval`` s.

    ``groups`` maps a label to a root pid; the root is reported as ``<label>`` and each of its
    descendants as ``<label>/child`` (gunicorn workers, RQ work horses), so peaks are per process.
    CPU counts each root with its reaped children (RQ's short-lived work horses) plus live
    descendants; ``pg_database`` adds the PostgreSQL backends serving that database. The machine is
    shared, so the busy CPU of everything else is measured too (``others_cpu_s``).
    """

    def __init__(
        self,
        groups: dict[str, int],
        interval: float = 0.5,
        pg_database: str | None = None,
        helpers: dict[str, int] | None = None,
    ):
        import psutil

        self.psutil = psutil
        self.groups = groups
        self.interval = interval
        self.pg_database = pg_database
        self.helpers = helpers or {}  # load generator, receiver: ours but not the system under test
        self.peaks: dict[str, float] = {}
        self.peak_totals: dict[str, float] = {}
        self._procs: dict[
            int, list
        ] = {}  # pid -> [Process, label, cpu at first sight, last cpu, born_after_start]
        self._pg: dict[int, list] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._pg_conn = None

    def _see(self, table: dict, proc, label: str, first: bool) -> None:
        try:
            cpu = _cpu(proc.cpu_times())
        except self.psutil.Error:
            return
        entry = table.get(proc.pid)
        if entry is None:
            born_after = proc.create_time() >= self.started_wall - 0.05 if not first else False
            table[proc.pid] = [proc, label, 0.0 if born_after else cpu, cpu, born_after]
        else:
            entry[3] = cpu

    def sample(self, first: bool = False) -> None:
        psutil = self.psutil
        for label, pid in self.groups.items():
            try:
                root = psutil.Process(pid)
                procs = [(label, root)] + [(label + "/child", ch) for ch in root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            total = 0.0
            for name, proc in procs:
                try:
                    mb = proc.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                total += mb
                self.peaks[name] = max(self.peaks.get(name, 0.0), mb)
                self._see(self._procs, proc, name, first)
            self.peak_totals[label] = max(self.peak_totals.get(label, 0.0), total)
        if self.pg_database:
            try:
                if self._pg_conn is None:
                    import psycopg

                    self._pg_conn = psycopg.connect(f"{PG_BASE}/postgres", autocommit=True)
                pids = [
                    r[0]
                    for r in self._pg_conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.pg_database,)
                    )
                ]
                for pid in pids:
                    try:
                        self._see(self._pg, psutil.Process(pid), "postgres", first)
                    except psutil.Error:
                        pass
            except Exception:  # noqa: BLE001 - PostgreSQL CPU is best effort
                pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def _machine(self) -> tuple[float, float]:
        t = self.psutil.cpu_times()
        idle = t.idle + getattr(t, "iowait", 0.0)
        return sum(t) - idle - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0), time.monotonic()

    def _helper_cpu(self) -> float:
        import resource

        total = 0.0
        for pid in self.helpers.values():
            try:
                total += _cpu(self.psutil.Process(pid).cpu_times())
            except self.psutil.Error:
                pass
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once reaped
        return total + me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def _redis_cpu(self) -> float:
        total = 0.0
        for proc in self.psutil.process_iter(["name"]):
            if (proc.info.get("name") or "").startswith("redis-server"):
                try:
                    total += _cpu(proc.cpu_times())
                except self.psutil.Error:
                    pass
        return total

    def start(self) -> Sampler:
        self.started_wall = time.time()
        self._machine0 = self._machine()
        self._helpers0 = self._helper_cpu()
        self._redis0 = self._redis_cpu()
        self.sample(first=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
        busy1, t1 = self._machine()
        busy0, t0 = self._machine0
        wall = t1 - t0

        by_group: dict[str, float] = {}

        def delta(table: dict) -> float:
            total = 0.0
            for proc, label, first, last, _born in table.values():
                alive = proc.is_running()
                if alive or table is self._pg:
                    value = last - first
                else:  # reaped: its parent's children_* holds its whole life; drop what preceded start
                    value = -first
                total += value
                group = label.split("/")[0]
                by_group[group] = by_group.get(group, 0.0) + value
            return total

        sut = delta(self._procs)
        pg = delta(self._pg)
        helpers = self._helper_cpu() - self._helpers0
        redis_cpu = self._redis_cpu() - self._redis0
        machine_busy = busy1 - busy0
        if self._pg_conn is not None:
            self._pg_conn.close()
        return {
            "rss_peaks_mb": {k: round(v, 1) for k, v in sorted(self.peaks.items())},
            "cpu": {
                "wall_s": round(wall, 2),
                "system_under_test_s": round(sut, 2),
                "by_process_tree_s": {k: round(v, 2) for k, v in sorted(by_group.items())},
                "postgres_backends_s": round(pg, 2),
                "redis_s": round(redis_cpu, 2),
                "load_generator_and_receiver_s": round(helpers, 2),
                "machine_busy_s": round(machine_busy, 2),
                "others_s": round(max(0.0, machine_busy - sut - pg - redis_cpu - helpers), 2),
                "others_cores": round(
                    max(0.0, machine_busy - sut - pg - redis_cpu - helpers) / max(wall, 1e-9), 2
                ),
                "cores": os.cpu_count(),
            },
        }


# -- numbers and output ------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[fmt(c) for c in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(r[i]) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)
    ]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [
        line,
        "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        line,
    ]
    for row in rows:
        out.append(
            "| "
            + " | ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True))
            + " |"
        )
    out.append(line)
    return "\n".join(out)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").replace("×", "").isdigit()


def git_state() -> dict[str, Any]:
    """What was measured: this checkout's HEAD and whether plugin/ had uncommitted changes, or the
    BENCH_TARGET tree (its ``.bench-source`` file names the commit it was exported from)."""

    def run(*args):
        try:
            return subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    if TARGET != ROOT:
        source = TARGET / ".bench-source"
        return {
            "target": str(TARGET),
            "source": source.read_text().strip() if source.exists() else "unknown",
            "uncommitted_engine_changes": False,
        }
    return {
        "target": "working tree",
        "commit": run("rev-parse", "HEAD"),
        "subject": run("log", "-1", "--format=%s"),
        "uncommitted_engine_changes": [
            line.strip() for line in run("status", "--porcelain", "--", "plugin", "server.py").splitlines()
        ],
    }


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in _LOAD_AT_START],
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {
        "benchmark": name,
        "wall_seconds": round(time.monotonic() - _STARTED, 1),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_state(),
        "machine": machine(),
        **data,
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "n/a"
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "FAIL"
