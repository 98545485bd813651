"""The scheduler process: RQ's cron scheduler for the periodic jobs (the sweep, the prune) and
RQ's scheduler of delayed jobs (retries at their time). It loads only the configuration and
Redis; the jobs themselves run on the workers."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


def schedule_jobs(scheduler, config: dict, queue_name: str) -> list:
    """Register the periodic jobs on an rq ``CronScheduler``: the sweep (N-day events, lost work),
    unless retention is off the prune of old engine rows, the failure alerts and the attribution
    of paid orders (each unless its interval is 0). Returns the cron jobs."""
    from rq import Queue
    from rq.cron import CronJob
    from rq.serializers import JSONSerializer

    from plugin.config import RetentionPolicy
    from plugin.jobs.queue import JOB_PREFIX

    class JsonCronJob(CronJob):
        # rq's CronJob enqueues with the default (pickle) serializer; our jobs are JSON, and named
        # by path: the scheduler never loads them (the workers run them)
        def enqueue(self, connection):
            queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
            return queue.enqueue(self.func_name, args=self.args, kwargs=self.kwargs, **self.job_options)

    jobs = [
        scheduler.register(
            _job(JOB_PREFIX + "sweep"),
            queue_name,
            interval=int(config.get("SWEEP_INTERVAL", 10)),
            job_timeout=600,
            result_ttl=0,
        )
    ]
    prune_interval = int(config.get("PRUNE_INTERVAL", 300))
    if prune_interval > 0 and RetentionPolicy.from_config(config).enabled:
        jobs.append(
            scheduler.register(
                _job(JOB_PREFIX + "prune"), queue_name, interval=prune_interval, job_timeout=600, result_ttl=0
            )
        )
    # the scenarios' failure alerts (engine/alerts.py), paid orders attributed (engine/attribution.py)
    for name, key in (("alerts", "ALERT_INTERVAL"), ("attribution", "ATTRIBUTION_INTERVAL")):
        interval = int(config.get(key, 60))
        if interval > 0:
            job = _job(JOB_PREFIX + name)
            jobs.append(scheduler.register(job, queue_name, interval=interval, job_timeout=300, result_ttl=0))
    for job in jobs:
        job.__class__ = JsonCronJob
    return jobs


def _job(path: str):
    """A job named by its path, for ``CronScheduler.register`` (which reads the name off a
    function's ``__module__`` and ``__name__``) without importing it."""
    from types import SimpleNamespace

    module, _, name = path.rpartition(".")
    return SimpleNamespace(__module__=module, __name__=name)


def run_scheduler() -> None:
    """The periodic jobs (see :func:`schedule_jobs`) through RQ's own cron scheduler, and RQ's
    scheduler of delayed jobs (retries at their time) in a thread beside it."""
    from rq.cron import CronScheduler

    from plugin.config import from_env
    from plugin.storage.redisconn import redis_from_config

    # only the configuration and Redis: the jobs run on the workers, which load the engine
    config = from_env()
    connection = redis_from_config(config)
    _delayed_jobs_thread(connection, config["QUEUE_NAME"])
    scheduler = CronScheduler(connection=connection, logging_level="WARNING")
    schedule_jobs(scheduler, config, config["QUEUE_NAME"])
    scheduler.start()


def _delayed_jobs_thread(connection, queue_name: str) -> threading.Thread:
    """RQ's scheduler of delayed jobs (``enqueue_at``/``enqueue_in``) for ``queue_name``, in a
    daemon thread: every second it moves the jobs that are due onto the queue. RQ takes a lock
    per queue, so beside workers that run their own, one of them does it at a time."""
    from rq.scheduler import RQScheduler
    from rq.serializers import JSONSerializer

    class ThreadScheduler(RQScheduler):
        def _install_signal_handlers(self):
            pass  # signals belong to the main thread: the process ends with it

    # the dispatch queue too: no job is ever scheduled on it, but a worker started with its own
    # scheduler takes any queue's lock left free and forks a ~64 MB scheduler process for it
    from plugin.jobs.queue import DISPATCH_SUFFIX

    queues = [queue_name, queue_name + DISPATCH_SUFFIX]
    scheduler = ThreadScheduler(
        queues, connection=connection, serializer=JSONSerializer, logging_level="WARNING"
    )

    def work() -> None:
        while True:
            try:
                scheduler.work()
            except Exception:
                log.warning("RQ's scheduler of delayed jobs failed; again in 1 s", exc_info=True)
                time.sleep(1)

    thread = threading.Thread(target=work, name="rq-delayed-jobs", daemon=True)
    thread.start()
    return thread
