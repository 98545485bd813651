"""The processes of a deployment: API, RQ workers, the RQ cron scheduler, and the embedded supervisor."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from plugin.config import switch

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


# a young collection every 20,000 container allocations instead of 700; the older generations as
# often as before relative to it
GC_THRESHOLD = (20_000, 20, 20)


def tune_gc() -> None:
    """Fewer cyclic-GC passes in a long-running server process (``AUTOMATION_GC_TUNING=0``: off).

    CPython's default runs a young collection every 700 container allocations, and a full one over
    every tracked object every hundred of those. A 1,000-item ingestion batch parses into ~6,000
    dicts and lists, so each request paid ~9 young passes, and the full passes walked the ~140,000
    objects of the app itself (Flask, SQLAlchemy, marshmallow, the node registry), which are
    built at start-up and never garbage. ``gc.freeze()`` takes those out of every pass, and the
    higher threshold makes passes rarer; garbage cycles are still collected, a little later.
    One API worker on ``POST /batch``: 37-38k -> 51-62k items/s, measured alternately.
    """
    if not switch("AUTOMATION_GC_TUNING"):
        return
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def run_worker(burst: bool = False) -> None:
    """One RQ worker with the in-worker scheduler (for delayed re-runs), JSON-serialised jobs.

    A SimpleWorker runs jobs in its own process instead of forking one per job: the flow index,
    the database pool and kept-alive HTTP connections survive from job to job.
    """
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    from plugin.engine.tasks import _app

    app = _app()
    runtime = app.extensions["automation"]
    tune_gc()
    _children_die_with(os.getpid())
    worker = SimpleWorker([runtime.queue], connection=runtime.redis, serializer=JSONSerializer)
    worker.work(with_scheduler=True, burst=burst, logging_level="WARNING")


def _children_die_with(parent: int) -> None:
    """Children this process forks (RQ's scheduler process: ``with_scheduler``) get SIGTERM when
    it dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``): else the scheduler lived on as an orphan,
    polling Redis for ever, one more after each killed worker."""

    def in_child() -> None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # not Linux: nothing to ask for
            return
        if os.getppid() != parent:  # the worker died between the fork and the prctl
            os.kill(os.getpid(), signal.SIGTERM)

    os.register_at_fork(after_in_child=in_child)


def schedule_jobs(scheduler, app) -> list:
    """Register the periodic jobs on an rq ``CronScheduler``: the sweep (N-day events, lost work)
    and, unless retention is off, the prune of old engine rows. Returns the cron jobs."""
    from rq import Queue
    from rq.cron import CronJob
    from rq.serializers import JSONSerializer

    from plugin.engine import retention, tasks

    class JsonCronJob(CronJob):
        # rq's CronJob enqueues with the default (pickle) serializer; our jobs are JSON
        def enqueue(self, connection):
            queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
            return queue.enqueue(self.func, args=self.args, kwargs=self.kwargs, **self.job_options)

    config = app.config
    queue_name = app.extensions["automation"].queue.name
    jobs = [scheduler.register(
        tasks.sweep, queue_name, interval=int(config.get("SWEEP_INTERVAL", 10)), job_timeout=600, result_ttl=0
    )]
    prune_interval = int(config.get("PRUNE_INTERVAL", 300))
    if prune_interval > 0 and retention.Policy.from_config(config).enabled:
        jobs.append(scheduler.register(
            retention.prune_job, queue_name, interval=prune_interval, job_timeout=600, result_ttl=0
        ))
    for job in jobs:
        job.__class__ = JsonCronJob
    return jobs


def run_scheduler() -> None:
    """The periodic jobs (see :func:`schedule_jobs`) through RQ's own cron scheduler."""
    from rq.cron import CronScheduler

    from plugin.engine.tasks import _app

    app = _app()
    scheduler = CronScheduler(connection=app.extensions["automation"].redis, logging_level="WARNING")
    schedule_jobs(scheduler, app)
    scheduler.start()


API_SERVERS = ("granian", "gunicorn")


def api_command(port: int, workers: int = 2, threads: int = 8, server: str | None = None,
                host: str = "0.0.0.0") -> list[str]:
    """The command line of the API server: granian by default, gunicorn (gthread) on request.

    ``AUTOMATION_API_SERVER`` (or ``server``) picks it. granian parses HTTP and keeps
    connections in Rust and runs the WSGI app on ``threads`` blocking threads per worker: on the
    2-core benchmark machine a stored event costs ~0.75 CPU ms there against ~1.6 under gunicorn's
    gthread worker, whose pure-Python parser and per-request thread hand-off cost more than our
    own request handling (bench/README.md, "the API server"). Both log each request to stdout
    unless ``AUTOMATION_ACCESS_LOG=0``: through Python logging that line is ~17 % of a granian
    worker's CPU at ~5,000 small requests/s (bench/profile_api.py).
    """
    server = (server or os.environ.get("AUTOMATION_API_SERVER") or "granian").strip().lower()
    access_log = switch("AUTOMATION_ACCESS_LOG")
    if server == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "plugin.wsgi:app",
            "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread", "--timeout", "120", "--graceful-timeout", "10",
            *(["--access-logfile", "-"] if access_log else []), "--log-level", "warning",
        ]
    if server != "granian":
        raise ValueError(f"AUTOMATION_API_SERVER must be one of {', '.join(API_SERVERS)}, got {server!r}")
    return [
        sys.executable, "-m", "granian", "plugin.wsgi:app", "--interface", "wsgi",
        "--host", host, "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads),
        "--no-ws", "--respawn-failed-workers", "--workers-kill-timeout", "10",
        "--access-log" if access_log else "--no-access-log", "--log-level", "warning",
    ]


def serve_api(port: int, workers: int = 2, threads: int = 8) -> subprocess.Popen:
    return subprocess.Popen(api_command(port, workers, threads), cwd=ROOT)


def supervise(port: int, n_workers: int) -> int:
    """Start API, workers and scheduler as children; stop them all cleanly on Ctrl-C/SIGTERM."""
    children: list[subprocess.Popen] = [serve_api(port)]
    for _ in range(n_workers):
        children.append(subprocess.Popen([sys.executable, str(ROOT / "server.py"), "worker"], cwd=ROOT))
    children.append(subprocess.Popen([sys.executable, str(ROOT / "server.py"), "scheduler"], cwd=ROOT))
    stopping = False

    def stop(_signum=None, _frame=None):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    log.error("child %s exited with %s; stopping", child.args, child.returncode)
                    stopping = True
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.time() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                child.kill()
    return 0

