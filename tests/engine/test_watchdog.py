"""The watchdog that bounds a template render: it interrupts a block past its deadline even when its
first exception is swallowed on the way, and never interrupts anything outside a block."""

from __future__ import annotations

import threading
import time

import pytest

from plugin.engine import watchdog


def _spin(seconds: float) -> int:
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        n += 1
    return n


def test_a_block_past_its_deadline_is_interrupted():
    started = time.monotonic()
    with pytest.raises(watchdog.Overrun), watchdog.deadline(0.2):
        _spin(10)
    assert time.monotonic() - started < 5  # interrupted, not the 10 s the loop wanted


def test_a_swallowed_overrun_is_fired_again_until_the_block_ends():
    """As a garbage-collector callback running when the exception arrives swallows it."""
    swallowed = 0

    def body():
        nonlocal swallowed
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                _spin(end - time.monotonic())
            except watchdog.Overrun:
                swallowed += 1
                if swallowed == 3:
                    raise

    started = time.monotonic()
    with pytest.raises(watchdog.Overrun), watchdog.deadline(0.2):
        body()
    assert swallowed == 3
    assert time.monotonic() - started < 5


def test_code_after_a_block_that_ended_is_never_interrupted():
    for _ in range(20):  # each block ends just around its deadline
        try:
            with watchdog.deadline(0.01):
                _spin(0.01)
        except watchdog.Overrun:
            pass
    _spin(watchdog.REFIRE * 3)  # an exception still pending or a late fire would land here


def test_the_opener_itself_is_not_fired_at_after_its_block():
    """An Overrun caught by the opener's handler is not followed by another one in that handler."""

    def opener():
        try:
            with watchdog.deadline(0.1):
                _spin(10)
        except watchdog.Overrun:
            _spin(watchdog.REFIRE * 3)  # still in the opener, past several refire periods
            return "handled"
        return "ended"

    assert opener() == "handled"


def test_blocks_in_other_threads_are_bounded_apart():
    results: dict[str, str] = {}

    def run(name: str, seconds: float) -> None:
        try:
            with watchdog.deadline(seconds):
                _spin(1.0)
            results[name] = "ended"
        except watchdog.Overrun:
            results[name] = "interrupted"

    threads = [
        threading.Thread(target=run, args=("short", 0.1)),
        threading.Thread(target=run, args=("long", 30)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"short": "interrupted", "long": "ended"}
