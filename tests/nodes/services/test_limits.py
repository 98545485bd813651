"""The CRMs' shared limiter: booked slots, and slots used late (RQ resumes a step up to a second
or two after its slot) that must not go out together above the rate."""

from __future__ import annotations

import pytest

from plugin.nodes._services import limits
from plugin.nodes.base import Deferred
from tests.fakes.fixtures import make_services

ACCOUNT = "shop.amocrm.ru"


def redis_now_ms(redis) -> int:
    seconds, micros = redis.time()
    return seconds * 1000 + micros // 1000


def goes(services, state: dict) -> bool:
    """True when the request may go out now; False when the limiter defers it."""
    try:
        limits.take(services, "amocrm", ACCOUNT, state)
    except Deferred:
        return False
    return True


@pytest.mark.parametrize("burst", [1, 3])
def test_slots_used_late_do_not_go_out_together(limits_redis, burst):
    """Six steps hold slots booked one interval apart, and all come back late at once: only the
    burst goes, as if they had come on time; each of the others is told to wait for the sends'
    next place (one interval) and keeps its slot instead of being booked again at the end of the
    queue. Before, a late slot went "now, however late": all six at once."""
    # one request per 5 s: the few calls below take far less than an interval however loaded the machine
    services = make_services(
        redis=limits_redis, extra={"rate_limits": {"amocrm": {"rate": 0.2, "burst": burst}}}
    )
    now = redis_now_ms(limits_redis)
    states = [{"rate_slot": now - 30_000 + k * 5_000} for k in range(6)]  # 30 s to 5 s late
    schedule = limits_redis.get(limits.rate_key("amocrm", ACCOUNT))

    went, waits = [], []
    for state in states:
        try:
            limits.take(services, "amocrm", ACCOUNT, state)
            went.append(True)
        except Deferred as exc:
            went.append(False)
            waits.append(exc.seconds)

    assert went == [True] * burst + [False] * (6 - burst)
    assert all(0 < wait <= 5.0 for wait in waits), waits
    for state in states[:burst]:
        assert "rate_slot" not in state  # used
    assert [s["rate_slot"] for s in states[burst:]] == [now - 30_000 + k * 5_000 for k in range(burst, 6)]
    assert limits_redis.get(limits.rate_key("amocrm", ACCOUNT)) == schedule  # nothing booked again

    # the sends' next place is free (time passed): exactly one of the waiting steps takes it
    limits_redis.delete(limits.sent_key("amocrm", ACCOUNT))
    assert [goes(services, state) for state in states[burst:]] == [True] * burst + [False] * (6 - 2 * burst)


def test_a_slot_that_is_due_goes_once_and_a_fresh_request_waits_behind_it(limits_redis):
    """A step whose slot is due takes the sends' only place; a new request in the same instant,
    which the schedule would let go (nothing booked), waits for the next place, one interval."""
    services = make_services(redis=limits_redis, extra={"rate_limits": {"amocrm": {"rate": 0.2, "burst": 1}}})
    late = {"rate_slot": redis_now_ms(limits_redis) - 1_000}
    assert goes(services, late) and late == {}
    fresh: dict = {}
    with pytest.raises(Deferred) as deferred:
        limits.take(services, "amocrm", ACCOUNT, fresh)
    assert 0 < deferred.value.seconds <= 5.0 and fresh["rate_slot"]  # booked: it comes back for this place


def test_an_early_slot_waits_for_its_time(limits_redis):
    services = make_services(redis=limits_redis, extra={"rate_limits": {"amocrm": {"rate": 0.2, "burst": 1}}})
    state = {"rate_slot": redis_now_ms(limits_redis) + 60_000}
    with pytest.raises(Deferred) as deferred:
        limits.take(services, "amocrm", ACCOUNT, state)
    assert 55 < deferred.value.seconds <= 60
    assert limits_redis.get(limits.sent_key("amocrm", ACCOUNT)) is None  # nothing counted as sent
