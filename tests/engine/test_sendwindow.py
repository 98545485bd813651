"""The send window's arithmetic (plugin/engine/sendwindow.py): pure, on explicit clocks."""

from __future__ import annotations

from datetime import datetime

import pytest

from plugin.engine.sendwindow import next_opening, problems

WEEKDAYS = {"days": [1, 2, 3, 4, 5], "from": "09:00", "to": "21:00", "timezone": "Europe/Moscow"}


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        # Monday 03:00 in Moscow → 09:00 the same day (06:00 UTC), until 21:00
        (WEEKDAYS, datetime(2026, 12, 7, 0, 0), (datetime(2026, 12, 7, 6, 0), datetime(2026, 12, 7, 18, 0))),
        (WEEKDAYS, datetime(2026, 12, 7, 6, 0), None),  # 09:00 sharp: open
        (WEEKDAYS, datetime(2026, 12, 7, 17, 59), None),  # 20:59: still open
        # 21:00 is closed: Tuesday 09:00
        (WEEKDAYS, datetime(2026, 12, 7, 18, 0), (datetime(2026, 12, 8, 6, 0), datetime(2026, 12, 8, 18, 0))),
        # Friday 22:00 → Monday 09:00
        (
            WEEKDAYS,
            datetime(2026, 12, 11, 19, 0),
            (datetime(2026, 12, 14, 6, 0), datetime(2026, 12, 14, 18, 0)),
        ),
        # no days: every day; 24:00 is the end of the day
        ({"from": "00:00", "to": "24:00"}, datetime(2026, 12, 12, 23, 30), None),
        # the default zone is the engine's (Moscow unless given): Sunday 23:30 UTC is Monday 02:30 there
        (
            {"from": "08:00", "to": "09:00"},
            datetime(2026, 12, 13, 23, 30),
            (datetime(2026, 12, 14, 5, 0), datetime(2026, 12, 14, 6, 0)),
        ),
        # Berlin moves to summer time on 29 March 2026: 10:00 local is 08:00 UTC that day
        (
            {"days": [7], "from": "10:00", "to": "11:00", "timezone": "Europe/Berlin"},
            datetime(2026, 3, 28, 12, 0),
            (datetime(2026, 3, 29, 8, 0), datetime(2026, 3, 29, 9, 0)),
        ),
    ],
)
def test_next_opening(window, now, expected):
    assert next_opening(window, now) == expected


def test_a_window_without_a_zone_is_read_in_the_engines():
    window = {"from": "09:00", "to": "10:00"}
    # 04:30 UTC is 09:30 in Yekaterinburg (open) and 07:30 in Moscow (opens at 06:00 UTC)
    assert next_opening(window, datetime(2026, 12, 7, 4, 30), "Asia/Yekaterinburg") is None
    assert next_opening(window, datetime(2026, 12, 7, 4, 30)) == (
        datetime(2026, 12, 7, 6, 0),
        datetime(2026, 12, 7, 7, 0),
    )


def test_problems_name_the_zone_and_the_hours():
    assert problems({"from": "09:00", "to": "21:00", "timezone": "Europe/Moscow"}) == []
    found = problems({"from": "21:00", "to": "21:00", "timezone": "Moscow"})
    assert [p["path"] for p in found] == ["/settings/send_window/timezone", "/settings/send_window/to"]
