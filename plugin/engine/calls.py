"""One call of an action and what came of it: the :class:`Engine` calls run with, the
:class:`Outcome` of an attempt, and the outcomes of calls that failed (backoff), or were never
made (an open circuit, a busy destination). Touches no database.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from plugin.engine import templating
from plugin.engine.runner import backoff, build_call, secret_values
from plugin.lifecycle import STOPPING
from plugin.masking import current, mask
from plugin.nodes.base import ActionFailed, Deferred, Skip
from plugin.storage.models import utcnow
from plugin.transport.destinations import CircuitOpen

log = logging.getLogger(__name__)

INLINE_WAIT = 1.0  # rate-limit waits are slept in place up to this long in all, per attempt and per job
BUSY_RETRY = 5.0


class Engine:
    """What execution needs from the process: registry, secrets, services, tunables."""

    def __init__(
        self,
        registry,
        secrets,
        services,
        *,
        lease_seconds=120,
        retry_base=5.0,
        max_attempts=8,
        schedule=None,
        schedule_many=None,
        connections=None,
        timezone="Europe/Moscow",
    ):
        self.registry = registry
        self.secrets = secrets
        self.services = services
        self.lease_seconds = lease_seconds
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.schedule = schedule  # callable(run_id, seconds) that re-enqueues a run later
        self._schedule_many = schedule_many  # callable([(run_id, naive UTC datetime)]), grouped
        self.waits_until: float | None = None  # the job's in-place waits end here (monotonic)
        # callable(connection id) -> (type, sealed params) | None: a node's connection, read at send time
        self.connections = connections
        self.timezone = timezone  # of send windows that name none (AUTOMATION_TIMEZONE)
        self.clock = utcnow  # what send windows read the time from (naive UTC); tests set their own

    def start_waits(self) -> None:
        """A job (or a dispatch batch) begins: its calls may sleep in place for rate limits for
        ``INLINE_WAIT`` seconds in all, however many runs it holds; past that, a rate-limit wait
        makes the step ``waiting`` and RQ's scheduling resumes it. Without this a job of fifty
        runs to one CRM slept up to half a second per run and held its worker for 25 s."""
        self.waits_until = time.monotonic() + INLINE_WAIT

    def may_wait(self, seconds: float, waited: float) -> bool:
        """Whether a call may sleep ``seconds`` in place, having slept ``waited`` already."""
        if STOPPING.is_set() or seconds > INLINE_WAIT - waited:
            return False
        return self.waits_until is None or time.monotonic() + seconds <= self.waits_until

    def schedule_many(self, runs: list[tuple[str, Any]]) -> None:
        """Resume these runs at their times (naive UTC datetimes); the sweeper is the fallback."""
        if self._schedule_many is not None:
            self._schedule_many(runs)
        elif self.schedule is not None:
            now = utcnow()
            for run_id, at in runs:
                self.schedule(run_id, max(0.0, (at - now).total_seconds()))


@dataclass
class Outcome:
    """The result of one action attempt, before it is stored."""

    status: str  # succeeded | skipped | failed | retrying | waiting
    output: dict | None = None
    error: str | None = None
    state: dict = field(default_factory=dict)
    resume_in: float | None = None  # seconds, for retrying / waiting
    counted: bool = True  # a rate-limit wait is not an attempt
    duration_ms: float = 0.0


def call_action(engine: Engine, spec, node: dict, params: dict, context: dict, **call: Any) -> Outcome:
    """Perform one attempt of an action and classify what happened; touches no database.
    ``call``: ``run_id``, ``flow_info``, ``event_type``, ``attempt``, ``state`` (see :func:`_call`)."""
    if isinstance(params.get("connection"), str):  # open_params could not resolve it: deleted
        return Outcome("failed", error=f"the connection {params['connection']!r} no longer exists")
    return _call(engine, spec, node, params, context, **call)


def _call(
    engine: Engine,
    spec,
    node: dict,
    params: dict,
    context: dict,
    *,
    run_id: str,
    flow_info: dict,
    event_type: str,
    attempt: int,
    state: dict,
) -> Outcome:
    secrets = secret_values(spec, params, node)
    state = dict(state or {})
    started = time.monotonic()
    waited = 0.0  # in-place rate-limit waits so far: bounded, so a worker is never held longer
    while True:
        try:
            call = build_call(
                spec,
                node,
                params,
                context,
                run_id=run_id,
                flow=flow_info,
                event_type=event_type,
                attempt=attempt,
                state=state,
                services=engine.services,
            )
            with current(secrets):  # remote text is masked as it is read, before it is trimmed
                output = spec.module.execute(call)
        except Deferred as exc:
            pause = max(exc.seconds, 0.01)
            if engine.may_wait(pause, waited):
                waited += pause
                time.sleep(pause)
                continue
            outcome = Outcome("waiting", error=f"waiting: {exc.reason}", resume_in=exc.seconds, counted=False)
        except Skip as exc:
            outcome = Outcome("skipped", output={"skipped": exc.reason})
        except CircuitOpen as exc:  # raised before anything went out (a probe is under way)
            outcome = held_outcome(engine, exc, state)
        except ActionFailed as exc:
            outcome = failure_outcome(engine, exc, attempt)
        except templating.TemplateError as exc:
            outcome = Outcome("failed", error=f"template error: {exc}")
        except Exception as exc:  # a bug in an action: recorded, never silent
            log.exception("action %s crashed", node["type"])
            outcome = Outcome("failed", error=f"internal error in {node['type']}: {exc!r}")
        else:
            outcome = Outcome("succeeded", output=output if isinstance(output, dict) else {"result": output})
        outcome.state = mask(state, secrets)
        outcome.output = mask(outcome.output, secrets)
        outcome.error = mask(outcome.error, secrets)
        outcome.duration_ms = round((time.monotonic() - started) * 1000, 2)
        return outcome


def busy_outcome(engine: Engine, exc: Exception) -> Outcome:
    """A call its destination's lane never started (the receiver holds every place): try again in
    a few seconds; not an attempt."""
    seconds = BUSY_RETRY * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret
    at = (utcnow() + timedelta(seconds=seconds)).strftime("%H:%M:%S")
    return Outcome(
        "waiting", error=f"waiting: {exc}; next try after {at} UTC", resume_in=seconds, counted=False
    )


def failure_outcome(engine: Engine, exc: ActionFailed, attempt: int) -> Outcome:
    """A failed attempt: retried later (by backoff, or when the remote side said) or failed."""
    message = describe(exc)
    if exc.retryable and attempt < engine.max_attempts:
        delay = backoff(attempt, engine.retry_base)
        if exc.retry_after is not None:  # a 429 or 503 says when to come back
            delay = exc.retry_after
        return Outcome("retrying", error=message, resume_in=max(0.0, min(float(delay), 86400.0)))
    suffix = f" (gave up after {attempt} attempts)" if exc.retryable else ""
    return Outcome("failed", error=message + suffix)


def refused_outcome(engine: Engine, lane: str, state: dict | None = None) -> Outcome | None:
    """The outcome of a call whose destination's circuit is open, without making it; else None."""
    refusal = engine.services.destinations.refusal(lane) if "://" in lane else None
    return held_outcome(engine, refusal, state) if refusal is not None else None


def held_outcome(engine: Engine, exc: CircuitOpen, state: dict | None) -> Outcome:
    """A call held back by its destination's open circuit: not an attempt (nothing went out); tried
    again when the circuit lets a probe through. The step gives up once its receiver has been
    unavailable for as long as its retries would have lasted (``held_since`` in its state)."""
    state = dict(state or {})
    now = time.time()
    since = float(state.setdefault("held_since", now))
    window = sum(min(engine.retry_base * 4**k, 6 * 3600.0) for k in range(max(engine.max_attempts - 1, 0)))
    message = describe(exc)
    if now - since > window:
        return Outcome(
            "failed", error=f"{message} (unavailable for {(now - since) / 3600:.1f} h: gave up)", state=state
        )
    delay = max(float(exc.retry_after or 0.0), 0.0) * random.uniform(1.0, 1.2)  # noqa: S311 - jitter, not a secret
    return Outcome("retrying", error=message, resume_in=min(delay, 86400.0), counted=False, state=state)


def describe(exc: ActionFailed) -> str:
    parts = [exc.message]
    if exc.status is not None and str(exc.status) not in exc.message:
        parts.append(f"(HTTP {exc.status})")
    return " ".join(parts)
