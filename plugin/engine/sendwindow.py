"""Send windows (SPEC §11 ``settings.send_window``): messages to a client go out only on the
window's days, between its ``from`` and ``to``, local time of its time zone.

An email or SMS step reached outside the window is not called: its outcome is a wait (status
``waiting``, not an attempt) until the window next opens, stored on the step like any other
wait, so the run resumes through the same durable path as retries and ``flow.delay`` (RQ's
scheduler, the sweeper as fallback). The opening the step waits for is kept in its state; once it
has come the step sends, as long as that window has not closed meanwhile (a worker down for the
whole window waits for the next one).

Conditions are evaluated when the run is created, before any wait: the run exists, with its
verdicts, and waits before its first sending action.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from plugin.engine.calls import Engine, Outcome
from plugin.messages import msg

SENDING = frozenset({"action.email", "action.sms"})
"""The actions that message the client; the rest (staff notifications, CRM tasks, webhooks) go at once."""

DEFAULT_TIMEZONE = "Europe/Moscow"
ALL_DAYS = (1, 2, 3, 4, 5, 6, 7)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo | None:
    """The IANA time zone ``name``, or None when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("Europe")
        return None


def _clock(text: str) -> tuple[int, int]:
    hours, minutes = text.split(":")
    return int(hours), int(minutes)


def problems(window: dict) -> list[dict]:
    """What is wrong with a (schema-valid) send window beyond its shape: the time zone, the hours."""
    found = []
    if "timezone" in window and zone(window["timezone"]) is None:
        found.append(
            {
                "path": "/settings/send_window/timezone",
                "message": msg(
                    "window.timezone",
                    f"unknown time zone {window['timezone']!r} (an IANA name, e.g. Europe/Moscow)",
                    value=window["timezone"],
                ),
            }
        )
    if _clock(window["from"]) >= _clock(window["to"]):
        found.append(
            {
                "path": "/settings/send_window/to",
                "message": msg(
                    "window.order",
                    f"must be later than from ({window['from']}), got {window['to']!r}",
                    start=window["from"],
                    end=window["to"],
                ),
            }
        )
    return found


def _local(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    hours, minutes = _clock(hhmm)
    if hours == 24:
        return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)
    return datetime.combine(day, time(hours, minutes), tzinfo=tz)


def next_opening(window: dict, now: datetime, default_tz: str = DEFAULT_TIMEZONE):
    """None when ``now`` (naive UTC) is inside the window; else ``(opens, closes)`` of the next
    window, as naive UTC datetimes."""
    tz = zone(window.get("timezone") or default_tz) or zone(DEFAULT_TIMEZONE)
    days = set(window.get("days") or ALL_DAYS)
    local = now.replace(tzinfo=UTC).astimezone(tz)
    for ahead in range(8):
        day = local.date() + timedelta(days=ahead)
        if day.isoweekday() not in days:
            continue
        opens, closes = _local(day, window["from"], tz), _local(day, window["to"], tz)
        if opens <= local < closes:
            return None
        if local < opens:
            return _utc(opens), _utc(closes)
    return None  # unreachable for a valid window (at least one day a week)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def window_outcome(engine: Engine, graph, nid: str, state: dict | None) -> Outcome | None:
    """The wait of a sending step reached outside its flow's window, or None when it may send now."""
    window = graph.settings.get("send_window")
    if not window or graph.nodes[nid]["type"] not in SENDING:
        return None
    now = engine.clock()
    held = (state or {}).get("send_window")
    if held and _parse(held["opens"]) <= now < _parse(held["closes"]):
        return None  # the opening this step waited for has come, and its window is still open
    following = next_opening(window, now, engine.timezone)
    if following is None:
        return None
    opens, closes = following
    error = _waiting(window, opens, engine.timezone)["error"]
    window_state = {"opens": opens.isoformat(), "closes": closes.isoformat()}
    return Outcome(
        "waiting",
        error=error,
        state={**(state or {}), "send_window": window_state},
        resume_in=max(0.0, (opens - now).total_seconds()),
        counted=False,
    )


def _waiting(window: dict, opens: datetime, default_tz: str) -> dict:
    """The opening a step waits for, in the window's own time zone, and the words for it."""
    tz_name = window.get("timezone") or default_tz
    local = opens.replace(tzinfo=UTC).astimezone(zone(tz_name) or zone(DEFAULT_TIMEZONE))
    error = (
        f"ждёт окна отправки до {local:%H:%M} {local:%d.%m} "
        f"(waiting for the send window: {local:%Y-%m-%d %H:%M} {tz_name})"
    )
    return {
        "opens": opens.isoformat() + "Z",
        "local": f"{local:%Y-%m-%d %H:%M}",
        "timezone": tz_name,
        "error": error,
    }


def dry_wait(graph, nid: str, now: datetime, default_tz: str) -> dict | None:
    """What a dry run says of a step that a real run reaching it at ``now`` (naive UTC) would hold
    until its flow's send window opens (as :func:`window_outcome` decides), or None: it would go now."""
    window = graph.settings.get("send_window")
    if not window or graph.nodes[nid]["type"] not in SENDING:
        return None
    following = next_opening(window, now, default_tz)
    return None if following is None else _waiting(window, following[0], default_tz)
