"""``serving.Deadlines``: granian's body reads on the event loop end in a ``TimeoutError`` once
past ``AUTOMATION_REQUEST_READ_TIMEOUT`` (the 408), and a read that ended in time is never
cancelled afterwards, while its request goes on."""

from __future__ import annotations

import asyncio
import time

import pytest

from plugin.serving import DEADLINE_TICK, BufferedRSGI


class _Proto:
    """A request body as granian hands it to an RSGI app: ``await proto()`` or ``async for``."""

    def __init__(self, body: bytes, stall: float = 0.0):
        self.body, self.stall = body, stall

    async def __call__(self) -> bytes:
        await asyncio.sleep(self.stall)
        return self.body

    def __aiter__(self):
        return self._chunks()

    async def _chunks(self):
        await asyncio.sleep(self.stall)
        yield self.body


def _app(max_body: int | None) -> BufferedRSGI:
    return BufferedRSGI(lambda environ, start: [], threads=1, timeout=0.3, max_body=max_body)


@pytest.mark.parametrize(("max_body", "declared"), [(None, "4"), (1000, "4"), (1000, None)])
def test_a_stalled_read_times_out_within_a_tick_of_its_deadline(max_body, declared):
    async def main():
        app = _app(max_body)
        began = time.monotonic()
        with pytest.raises(TimeoutError):
            await app._body(_Proto(b"late", stall=30), declared)
        return time.monotonic() - began

    took = asyncio.run(main())
    assert 0.3 <= took < 0.3 + DEADLINE_TICK + 0.5


@pytest.mark.parametrize(("max_body", "declared"), [(None, "4"), (1000, "4"), (1000, None)])
def test_a_read_in_time_is_left_alone_after_its_deadline(max_body, declared):
    async def main():
        app = _app(max_body)
        body = await app._body(_Proto(b"body", stall=0.05), declared)
        await asyncio.sleep(0.3 + 3 * DEADLINE_TICK)  # the request's work, past the read's deadline
        return body, asyncio.current_task().cancelling()

    assert asyncio.run(main()) == (b"body", 0)


def test_many_reads_at_once_each_get_their_own_outcome():
    async def main():
        app = _app(1000)
        reads = [app._body(_Proto(b"x", stall=30 if n % 2 else 0), "1") for n in range(20)]
        return await asyncio.gather(*reads, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert [type(o).__name__ for o in outcomes] == ["bytes", "TimeoutError"] * 10
