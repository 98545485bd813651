"""The processes of a deployment: API, RQ workers, the RQ cron scheduler, and the embedded supervisor."""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from plugin.config import STOP_SECONDS, read_timeout, stop_grace, switch

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
    """One RQ worker, JSON-serialised jobs, with RQ's scheduler of delayed jobs (retries) unless
    ``AUTOMATION_WORKER_SCHEDULER=0`` (the embedded default runs it in the scheduler process:
    RQ forks it from a worker, a process of ~60 MB).

    A SimpleWorker runs jobs in its own process instead of forking one per job: the flow index,
    the database pool and kept-alive HTTP connections survive from job to job.
    """
    from rq.serializers import JSONSerializer

    from plugin.config import switch
    from plugin.jobs.queue import dispatch_queue
    from plugin.jobs.worker import context

    stop_grace()  # a bad value fails here, not later in the signal handler
    runtime = context().runtime
    tune_gc()
    _children_die_with(os.getpid())
    queues = [dispatch_queue(runtime.queue), runtime.queue]  # in this order: dispatch jobs first
    worker = _stopping_worker_class()(queues, connection=runtime.redis, serializer=JSONSerializer)
    try:
        worker.work(
            with_scheduler=switch("AUTOMATION_WORKER_SCHEDULER"), burst=burst, logging_level="WARNING"
        )
    finally:
        from plugin.lifecycle import STOPPING

        if STOPPING.is_set():
            # RQ's teardown is done; the send threads of a job cut short may still be waiting on
            # a receiver, and the interpreter's exit would join them
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def _stopping_worker_class():
    """RQ's SimpleWorker that also stops within :data:`STOP_SECONDS` of SIGTERM/SIGINT.

    RQ's warm shutdown waits for the current job, however long: a send to a receiver that never
    answers, a run's steps. So the first signal also sets ``plugin.lifecycle.STOPPING`` (the
    engine's loops wind down) and arms a watchdog: a job still running after the grace gets RQ's
    cold shutdown (the signal again: ``SystemExit`` in the job), and a process still alive 2 s later
    exits at once. A run cut short stays leased ``running`` in the database; the sweeper resumes it
    once the lease ends.
    """
    from rq import SimpleWorker

    from plugin.lifecycle import STOPPING

    class StoppingWorker(SimpleWorker):
        def request_stop(self, signum, frame):
            if not STOPPING.is_set():
                STOPPING.set()
                _watchdog(signum)
            super().request_stop(signum, frame)

        def unsubscribe(self):
            # RQ stops its pubsub thread with redis-py's stop(), which (redis-py 8) waits for the
            # thread's get_message(timeout=60): when the unsubscribe reply came first, the worker
            # hung up to a minute in its teardown (the key-rotation test's worker.wait(20) failures)
            thread = self.pubsub_thread
            if thread is None:
                return
            with contextlib.suppress(Exception):
                self.pubsub.unsubscribe()
            try:
                thread.stop(timeout=1)
            except TypeError:  # redis-py before 8: stop() takes no timeout and does not wait
                thread.stop()
            with contextlib.suppress(Exception):
                self.pubsub.close()

        def stop_scheduler(self):
            # RQ joins its scheduler process without a timeout
            process = getattr(self.scheduler, "_process", None)
            if process is None or not process.pid:
                return
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGTERM)
            process.join(timeout=3)
            if process.is_alive():
                process.kill()
                process.join(timeout=1)

    return StoppingWorker


def _watchdog(signum: int) -> None:
    """After the grace, the stop signal again (RQ's cold shutdown); 2 s later, an immediate exit."""
    grace = stop_grace()

    def watch() -> None:
        time.sleep(grace)
        log.warning(
            "still busy %.0f s after the stop signal: cutting the current job short; its stack:", grace
        )
        faulthandler.dump_traceback(all_threads=True)  # what held it, for whoever reads the log
        os.kill(os.getpid(), signum)
        time.sleep(2)
        log.error("did not stop after the cold shutdown; exiting now")
        logging.shutdown()
        os._exit(1)

    threading.Thread(target=watch, name="stop-watchdog", daemon=True).start()


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


API_SERVERS = ("granian", "gunicorn")


def api_command(
    port: int,
    workers: int = 2,
    threads: int = 8,
    server: str | None = None,
    host: str = "0.0.0.0",  # noqa: S104 - a network service: every interface unless told otherwise
) -> list[str]:
    """The command line of the API server: granian by default, gunicorn (gthread) on request.

    ``AUTOMATION_API_SERVER`` (or ``server``) picks it. granian parses HTTP and keeps
    connections in Rust; it reads each request's body on its event loop (``plugin.wsgi.rsgi``:
    a stalled upload holds no thread) and runs the WSGI app on ``threads`` threads per worker: on the
    2-core benchmark machine a stored event costs ~0.75 CPU ms there against ~1.6 under gunicorn's
    gthread worker, whose pure-Python parser and per-request thread hand-off cost more than our
    own request handling (bench/README.md, "the API server"). Both log each request to stdout
    unless ``AUTOMATION_ACCESS_LOG=0``: through Python logging that line is ~17 % of a granian
    worker's CPU at ~5,000 small requests/s (bench/profile_api.py).
    """
    server = (server or os.environ.get("AUTOMATION_API_SERVER") or "granian").strip().lower()
    if server == "gunicorn":
        return _gunicorn_command(host, port, workers, threads)
    if server != "granian":
        raise ValueError(f"AUTOMATION_API_SERVER must be one of {', '.join(API_SERVERS)}, got {server!r}")
    return _granian_command(host, port, workers, threads)


def _gunicorn_command(host: str, port: int, workers: int, threads: int) -> list[str]:
    access_log = ["--access-logfile", "-"] if switch("AUTOMATION_ACCESS_LOG") else []
    return [
        *(sys.executable, "-m", "gunicorn", "plugin.wsgi:app"),
        *("--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads)),
        *("--worker-class", "gthread", "--timeout", "120", "--graceful-timeout", str(int(stop_grace()))),
        # its request line and Referer carry the query (the login link's token): redacted
        *("--logger-class", "plugin.redacting.RedactingGunicornLogger"),
        *access_log,
        *("--log-level", "warning"),
    ]


def _granian_command(host: str, port: int, workers: int, threads: int) -> list[str]:
    # the body read on granian's event loop before a thread is taken (plugin.serving.BufferedRSGI,
    # which writes the access line itself: plugin.accesslog); without it (behind a proxy that
    # buffers bodies) granian's WSGI threads read it, ~0.09 CPU ms less, and granian logs
    rsgi = switch("AUTOMATION_READ_BODY_FIRST")
    interface = (
        ["plugin.wsgi:rsgi", "--interface", "rsgi"]
        if rsgi
        else ["plugin.wsgi:app", "--interface", "wsgi", "--blocking-threads", str(threads)]
    )
    return [
        *(sys.executable, "-m", "granian", *interface),
        *("--host", host, "--port", str(port), "--workers", str(workers)),
        *("--http1-header-read-timeout", str(int(read_timeout() * 1000))),
        *("--no-ws", "--respawn-failed-workers"),
        *("--workers-kill-timeout", str(max(1, int(stop_grace())))),
        "--access-log" if switch("AUTOMATION_ACCESS_LOG") and not rsgi else "--no-access-log",
        *("--log-level", "warning"),
    ]


def api_workers() -> int:
    """``AUTOMATION_API_WORKERS``, else :func:`default_api_workers` for the configured database."""
    from plugin.config import from_env

    value = os.environ.get("AUTOMATION_API_WORKERS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise SystemExit(f"AUTOMATION_API_WORKERS must be a whole number of at least 1, got {value!r}")
        return int(value)
    return default_api_workers(
        from_env()["SQLALCHEMY_DATABASE_URI"], server=os.environ.get("AUTOMATION_API_SERVER")
    )


def default_api_workers(database_url: str, cores: int | None = None, server: str | None = None) -> int:
    """API processes unless told: 1 on SQLite (the embedded default: one writer at a time, and
    ~100 MB less for a second process); on PostgreSQL under granian 2 from 4 cores up, else 1 (under
    gunicorn 2: its threads read the bodies, half of them at most for slow ones, so a second process
    keeps more of them for everyone else). On 2 cores (with
    two RQ workers, the scheduler and PostgreSQL beside it) one process needs 14 % less CPU per
    delivered action at 200 events/s — one event loop, group commit and dispatch notification for
    all requests, groups twice as large — and serves the same full load (closed loop, 5 rounds
    alternated: 1,509 against 1,520 delivered/s; bench/README.md §12 round 8); a process's Python
    answers ~3,000 ingestion requests a second, so more cores take a second one."""
    if database_url.startswith("sqlite"):
        return 1
    if (server or "granian").strip().lower() == "gunicorn":
        return 2
    return 2 if (cores if cores is not None else os.cpu_count() or 1) >= 4 else 1


def serve_api(port: int, workers: int | None = None, threads: int = 8) -> subprocess.Popen:
    workers = workers or api_workers()
    # granian's app threads are plugin.serving.BufferedRSGI's, sized by this variable in each worker
    return _child(api_command(port, workers, threads), {**os.environ, "AUTOMATION_API_THREADS": str(threads)})


def _child(command: list[str], env: dict | None = None) -> subprocess.Popen:
    """A child in a process group of its own, so that it and whatever it forks (granian's or
    gunicorn's workers, RQ's scheduler process) can be stopped, and if need be killed, together."""
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603 - our own command lines


def stop_children(children: list[subprocess.Popen], timeout: float = STOP_SECONDS - 1.5) -> None:
    """SIGTERM each child's process group, wait up to ``timeout`` in all, then SIGKILL what is left
    of each group (a child that exited may have left a forked process behind)."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", " ".join(map(str, child.args[:4])), timeout)
        _signal_group(child, signal.SIGKILL)
        child.wait()


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (installed before any child starts: a signal that came
    between the start of a child and the handler would kill this process and orphan the child)."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    return stopping


def run_until_signalled(children: list[subprocess.Popen], stopping: threading.Event) -> int:
    """Wait until ``stopping`` is set or a child exits, then stop every child
    (:func:`stop_children`). Returns the exited child's code, else 0."""
    code = 0
    try:
        while not stopping.is_set():
            exited = next((child for child in children if child.poll() is not None), None)
            if exited is not None:
                code = exited.returncode
                log.error("child %s exited with %s; stopping", " ".join(map(str, exited.args[:4])), code)
                break
            stopping.wait(0.5)
    finally:
        stop_children(children)
    return code


def announce_when_up(port: int, message: str, stopping: threading.Event, timeout: float = 120) -> None:
    """Print ``message`` (the URLs to open) once the API answers on ``port``, from a thread: a URL
    printed before the server listens greets the user with "connection refused" for 3–5 s."""
    import urllib.error
    import urllib.request

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while not stopping.is_set() and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):
                    pass
            except urllib.error.HTTPError:
                pass  # it answers: 503 while a worker is still starting
            except OSError:
                stopping.wait(0.1)
                continue
            sys.stdout.write(message)
            sys.stdout.flush()
            return

    threading.Thread(target=wait, name="announce", daemon=True).start()


# The workers and the scheduler run with -OO: docstrings (their libraries' too) are dead weight in a
# process that serves no documentation — ~5 MB RSS less per process (bench/README.md §10). -OO also
# drops asserts: plugin/ has none (tests/architecture/test_background_python.py). The gain needs the
# opt-2 bytecode cached (scripts/_setup.sh compiles it; without, each start compiles anew). The API
# keeps its docstrings: flask-smorest builds the OpenAPI document from them.
BACKGROUND_PYTHON = (sys.executable, "-OO")


def supervise(port: int, n_workers: int, ready_message: str = "") -> int:
    """Start API, workers and scheduler as children; stop them all within 10 s of Ctrl-C/SIGTERM,
    then the embedded Redis (if this process started it). ``ready_message`` is printed once the
    API answers."""
    from plugin.storage.redisconn import stop_embedded_redis

    stopping = stop_on_signals()
    worker = [*BACKGROUND_PYTHON, str(ROOT / "server.py"), "worker"]
    children: list[subprocess.Popen] = []
    try:
        children.append(serve_api(port))
        # the scheduler child moves delayed jobs onto the queue: no worker forks a process for it
        children += [
            _child(worker, {**os.environ, "AUTOMATION_WORKER_SCHEDULER": "0"}) for _ in range(n_workers)
        ]
        children.append(_child([*BACKGROUND_PYTHON, str(ROOT / "server.py"), "scheduler"]))
        if ready_message:
            announce_when_up(port, ready_message, stopping)
        return run_until_signalled(children, stopping)
    finally:
        stop_children(children)  # a no-op for children already stopped
        stop_embedded_redis()
