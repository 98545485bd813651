"""The circuit breaker of each destination (``scheme://host:port``) of outgoing calls.

A receiver that refuses, hangs, answers 5xx or 429 must slow only the runs addressed to it.
Every outgoing call asks :meth:`Destinations.admit` first:

- **closed**: the call goes out. Consecutive failures to reach the receiver (connection refused,
  unreachable, or not accepted in time) count; at ``threshold`` the circuit opens. Any HTTP
  answer, 5xx and 429 included, shows the receiver reachable: those are retried per message with
  backoff or Retry-After. The engine's send stage also opens it (:meth:`Destinations.trip`) when
  the destination holds every place of its lane without answering: a receiver that accepts and
  never answers.
- **open**: no connection is attempted; the call raises :class:`CircuitOpen`, a retryable error
  whose ``retry_after`` is the end of the open period, so the engine schedules the retry.
- **half-open** (the open period is over): one probe goes out; success closes the circuit,
  failure opens it again for twice as long (up to ``max_open``).

State is per process (deciding costs no round trip); every transition is published to Redis
(``automation:destinations``) for ``/metrics``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from plugin.transport.errors import RetryableError

log = logging.getLogger(__name__)

REDIS_KEY = "automation:destinations"
FAILURES_KEY = "automation:destinations:failures"  # "<destination>\t<reason>" -> calls failed so
NEUTRAL = "neutral"
"""The outcome of a call that says nothing about the receiver (refused before it went out)."""
NO_ANSWER = "no answer in time"
"""A call that reached the receiver and got no answer in time: a failure of a probe only (the
send stage sees a receiver that holds every call unanswered)."""


class CircuitOpen(RetryableError):
    """The destination's circuit is open: the call was not attempted."""


def destination_of(url: str) -> str:
    """``scheme://host:port`` of a URL: the unit of isolation (credentials and path left out)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = (parts.hostname or "?").lower()
    except ValueError:
        return "?"
    return f"{parts.scheme}://{host}:{port}"


def lane_of(node_type: str, params: dict) -> str:
    """The destination an action's params address, as far as they say before the call: the lane
    its send waits in (a templated host makes its own lane; no URL: the node type's default API)."""
    for name in ("url", "webhook_url", "base_url"):
        value = params.get(name)
        if isinstance(value, str) and "://" in value:
            return destination_of(value)
    host = params.get("smtp_host")
    if isinstance(host, str) and host:
        return f"smtp://{host.lower()}:{params.get('smtp_port') or params.get('security') or ''}"
    return node_type


@dataclass
class _Circuit:
    failures: int = 0
    trips: int = 0
    state: str = "closed"  # closed | open | half_open
    open_until: float = 0.0  # monotonic
    reason: str = ""
    probing: bool = False


@dataclass(frozen=True)
class Policy:
    threshold: int = 5
    base_open: float = 30.0
    max_open: float = 600.0


class Destinations:
    """The circuits of this process, one per destination; thread-safe."""

    def __init__(self, policy: Policy | None = None, redis=None):
        self.policy = policy or Policy()
        self.redis = redis
        self._circuits: dict[str, _Circuit] = {}
        self._not_closed: set[str] = set()
        self._lock = threading.Lock()

    def refusal(self, dest: str) -> CircuitOpen | None:
        """The error a call to ``dest`` would get now without going out, or ``None`` (it may go)."""
        with self._lock:
            circuit = self._circuits.get(dest)
            if circuit is None or circuit.state == "closed":
                return None
            remaining = circuit.open_until - time.monotonic()
            if circuit.state == "open" and remaining > 0:
                return self._refusal(dest, circuit, remaining)
            if circuit.state == "half_open" and circuit.probing:
                return self._refusal(dest, circuit, self._open_seconds(circuit))
            return None

    def admit(self, dest: str) -> None:
        """Let one call to ``dest`` go out, or raise :class:`CircuitOpen`; the caller reports its
        end with :meth:`done`."""
        with self._lock:
            circuit = self._circuits.get(dest)
            if circuit is None or circuit.state == "closed":
                return
            if circuit.state == "open":
                remaining = circuit.open_until - time.monotonic()
                if remaining > 0:
                    raise self._refusal(dest, circuit, remaining)
                circuit.state = "half_open"
                self._publish(dest, circuit)
            if circuit.probing:
                raise self._refusal(dest, circuit, self._open_seconds(circuit))
            circuit.probing = True

    def done(self, dest: str, failure: str | None = None) -> None:
        """A call to ``dest`` ended; ``failure`` names what went wrong, ``None`` for success,
        :data:`NEUTRAL` when the call said nothing about the receiver."""
        if failure in (NEUTRAL, NO_ANSWER):
            with self._lock:
                circuit = self._circuits.get(dest)
                if circuit is not None and circuit.state == "half_open" and circuit.probing:
                    if failure == NO_ANSWER:
                        self._trip(dest, circuit, failure)
                    else:
                        circuit.probing = False
            return
        with self._lock:
            circuit = self._circuits.get(dest)
            if failure is None:
                if circuit is None:
                    return
                was = circuit.state
                circuit.failures, circuit.trips, circuit.state, circuit.reason = 0, 0, "closed", ""
                self._not_closed.discard(dest)
                circuit.probing = False
                if was != "closed":
                    log.info("destination %s answers again: circuit closed", dest)
                    self._publish(dest, circuit)
                return
            if circuit is None:
                circuit = self._circuits[dest] = _Circuit()
            circuit.failures += 1
            if circuit.state == "half_open" or (
                circuit.state == "closed" and circuit.failures >= self.policy.threshold
            ):
                self._trip(dest, circuit, failure)

    def count_failure(self, dest: str, reason: str) -> None:
        """One failed call to ``dest`` counted in Redis for ``/metrics`` (all processes); only a
        failure costs the round trip, a success nothing."""
        if self.redis is None:
            return
        try:
            self.redis.hincrby(FAILURES_KEY, f"{dest}\t{reason}", 1)
        except Exception:  # noqa: BLE001 - visibility only
            log.debug("could not count a failure of %s", dest)

    def trip(self, dest: str, reason: str) -> None:
        """Open ``dest``'s circuit now unless it is open already (the send stage saw it stall)."""
        with self._lock:
            circuit = self._circuits.setdefault(dest, _Circuit())
            if circuit.state != "open":
                self._trip(dest, circuit, reason)

    def any_open(self) -> bool:
        """Whether some circuit of this process is not closed (a cheap test before asking each)."""
        return bool(self._not_closed)

    def _open_seconds(self, circuit: _Circuit) -> float:
        return min(self.policy.max_open, self.policy.base_open * 2 ** max(circuit.trips - 1, 0))

    def _trip(self, dest: str, circuit: _Circuit, reason: str) -> None:
        self._not_closed.add(dest)
        circuit.trips += 1
        circuit.state = "open"
        circuit.probing = False
        circuit.reason = reason
        seconds = self._open_seconds(circuit)
        circuit.open_until = time.monotonic() + seconds
        log.warning("destination %s: circuit open for %.0f s (%s)", dest, seconds, reason)
        self._publish(dest, circuit)

    def _refusal(self, dest: str, circuit: _Circuit, seconds: float) -> CircuitOpen:
        at = datetime.fromtimestamp(time.time() + seconds, UTC).strftime("%H:%M:%S")
        return CircuitOpen(
            f"receiver unavailable: {dest} ({circuit.reason}); circuit open, next try after {at} UTC",
            retry_after=seconds,
        )

    def _publish(self, dest: str, circuit: _Circuit) -> None:
        if self.redis is None:
            return
        remaining = max(0.0, circuit.open_until - time.monotonic()) if circuit.state == "open" else 0.0
        value = {
            "state": circuit.state,
            "reason": circuit.reason,
            "trips": circuit.trips,
            "open_until": time.time() + remaining if remaining else None,
            "updated_at": time.time(),
        }
        try:
            self.redis.hset(REDIS_KEY, dest, json.dumps(value))
        except Exception:  # noqa: BLE001 - visibility only; the decision is local
            log.debug("could not publish the circuit of %s", dest)


def failures(redis) -> dict[tuple[str, str], int]:
    """Failed calls per (destination, reason), all processes, since Redis was last emptied."""
    try:
        raw = redis.hgetall(FAILURES_KEY)
    except Exception:  # noqa: BLE001
        return {}
    out = {}
    for key, value in raw.items():
        dest, _, reason = (key.decode() if isinstance(key, bytes) else key).partition("\t")
        out[dest, reason] = int(value)
    return out


def published(redis) -> dict[str, dict]:
    """Every destination's last published circuit state (all processes): ``{dest: {...}}``."""
    try:
        raw = redis.hgetall(REDIS_KEY)
    except Exception:  # noqa: BLE001
        return {}
    out = {}
    for key, value in raw.items():
        try:
            out[key.decode() if isinstance(key, bytes) else key] = json.loads(value)
        except ValueError:
            continue
    return out
