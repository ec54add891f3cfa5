"""The shared request budget: every container paces its calls by the same schedule in the table."""

from __future__ import annotations

import inspect
import itertools
import threading

import pytest

from hubnox.errors import TransientError
from hubnox.rate_budget import RateBudget
from hubnox.store.shared_budget import DynamoRateBudget, budget_key
from hubnox.store.table import Table
from tests.support.aws import OneRequestAtATime
from tests.support.clock import FakeClock

LIMIT, WINDOW = 24, 5.0  # Fortnox: 25 per 5 s, less one for skew
KEY = "fortnox:client:123456"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.25)


def busiest_window(starts: list[float], window: float) -> int:
    """The most calls any half-open span of `window` seconds holds (checked from each call on)."""
    ordered = sorted(starts)
    return max(sum(1 for t in ordered if begin <= t < begin + window) for begin in ordered)


def test_calls_are_paced_one_interval_apart_across_containers(table, clock):
    first, second = DynamoRateBudget(table, clock, clock.sleep), DynamoRateBudget(table, clock, clock.sleep)
    starts = []
    for index in range(10):
        (first if index % 2 else second).acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=30)
        starts.append(clock.now)

    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(5.0 / 24 <= gap <= 5.0 / 24 + 1e-5 for gap in gaps)  # the other container's slot is never reused


def test_a_lone_call_goes_at_once(table, clock):
    DynamoRateBudget(table, clock, clock.sleep).acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=0)

    assert clock.slept == []


def test_no_five_second_window_ever_holds_more_than_24_and_steady_traffic_gets_4_75_a_second(table, clock):
    budgets = [DynamoRateBudget(table, clock, clock.sleep) for _ in range(3)]
    starts: list[float] = []
    for index in range(300):
        if index % 50 == 0:
            clock.advance(3.7)  # idle now and then: the schedule must not bank a burst
        clock.advance(0.011 * (index % 5))
        budgets[index % 3].acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=30)
        starts.append(clock.now)

    assert busiest_window(starts, 5.0) == 24
    steady = starts[1:50]  # one stretch without idling
    assert (len(steady) - 1) / (steady[-1] - steady[0]) >= 4.75


def test_concurrent_containers_never_share_a_slot(table):
    """Five threads, each its own container, race for one key's slots on moto (one request at a
    time, as DynamoDB applies each conditional write atomically and moto in-process does not; the
    threads still race between their requests. The same race on DynamoDB Local is in
    tests/integration/test_stores_on_dynamodb_local.py)."""
    table = Table(OneRequestAtATime(table._client), table.name)
    start = 1_800_000_000.0
    calls: list[float] = []
    lock = threading.Lock()

    def container() -> None:
        # The clock stands still, so every slot is booked ahead: any lost update would show as two
        # calls in one slot. The sleep records when the call would go instead of waiting.
        moments: list[float] = []
        budget = DynamoRateBudget(table, lambda: start, lambda seconds: moments.append(start + seconds))
        for _ in range(40):
            before = len(moments)
            budget.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=10_000)
            if len(moments) == before:
                moments.append(start)
        with lock:
            calls.extend(moments)

    threads = [threading.Thread(target=container) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 200
    assert len({round(t, 6) for t in calls}) == 200
    assert busiest_window(calls, 5.0) == 24
    assert 200 / (max(calls) - min(calls) + 5.0 / 24) >= 4.75


def test_a_wait_longer_than_allowed_fails_without_taking_a_slot(table, clock):
    other = DynamoRateBudget(table, FakeClock(clock.now), lambda seconds: None)  # books without waiting
    for _ in range(30):
        other.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=60)
    booked = table.get(budget_key(KEY))

    with pytest.raises(TransientError) as failure:
        DynamoRateBudget(table, clock, clock.sleep).acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=2)

    assert failure.value.code == "RATE_BUDGET"
    assert failure.value.retry_after == pytest.approx(30 * 5.0 / 24, abs=1e-3)
    assert clock.slept == []
    assert table.get(budget_key(KEY))["next_at"] == booked["next_at"]  # nothing booked


def test_ahead_says_how_far_the_schedule_runs_ahead(table, clock):
    budget = DynamoRateBudget(table, clock, clock.sleep)
    assert budget.ahead(KEY) == 0.0
    for _ in range(3):
        budget.acquire(KEY, limit=1, window=2.0, max_wait=10)

    assert budget.ahead(KEY) == pytest.approx(2.0)
    clock.advance(5)
    assert budget.ahead(KEY) == 0.0


def test_each_key_has_its_own_schedule(table, clock):
    budget = DynamoRateBudget(table, clock, clock.sleep)
    for _ in range(5):
        budget.acquire(KEY, limit=1, window=60, max_wait=1000)

    budget.acquire("fortnox:client:777777", limit=LIMIT, window=WINDOW, max_wait=0)
    budget.acquire("hubspot:102670506", limit=110, window=10, max_wait=0)


def test_the_schedule_expires_through_ttl_and_a_vanished_item_starts_afresh(table, clock):
    budget = DynamoRateBudget(table, clock, clock.sleep)
    budget.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=0)
    item = table.get(budget_key(KEY))
    assert clock.now + WINDOW < item["expires_at"] <= clock.now + 2 * WINDOW + 61

    table.delete(budget_key(KEY))
    clock.advance(120)
    # its remembered next_at no longer matches: it starts again
    budget.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=0)
    assert table.get(budget_key(KEY))["next_at"] / 1e6 == pytest.approx(clock.now + 5.0 / 24)


def test_a_budget_needs_a_positive_limit_and_window(table, clock):
    budget = DynamoRateBudget(table, clock, clock.sleep)

    with pytest.raises(ValueError):
        budget.acquire("k", limit=0, window=5, max_wait=0)
    with pytest.raises(ValueError):
        budget.acquire("k", limit=5, window=0, max_wait=0)


def test_the_shared_budget_fits_where_the_clients_expect_a_rate_budget():
    assert inspect.signature(DynamoRateBudget.acquire) == inspect.signature(RateBudget.acquire)


def test_table_is_the_one_the_tests_share(table):
    assert isinstance(table, Table)


def test_a_call_woken_too_late_for_its_slot_takes_the_next_one_so_no_window_overfills(table, clock):
    """A busy machine wakes a sleeper late: going then would land the call in one window with the
    on-time calls of later slots. It takes the next slot instead, behind those booked meanwhile."""
    budget = DynamoRateBudget(table, clock, clock.sleep)
    other = DynamoRateBudget(table, clock, clock.sleep)
    budget.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=30)  # the schedule is now booked
    first_slot = clock.now + WINDOW / LIMIT

    woken: list[float] = []

    def overslept(seconds: float) -> None:
        clock.sleep(seconds)
        if not woken:
            clock.advance(0.6)  # woken 0.6 s after the slot
            other.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=30)  # another container kept its slot
        woken.append(clock.now)

    late = DynamoRateBudget(table, clock, overslept)
    late.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=30)

    # It did not go 0.6 s late in its own slot, but in the slot after the one the other took.
    assert clock.now - first_slot == pytest.approx(0.6 + WINDOW / LIMIT, abs=1e-3)


def test_a_late_call_goes_after_a_few_slots_however_late(table, clock):
    other = DynamoRateBudget(table, clock, clock.sleep)
    other.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=30)
    late_sleeps: list[float] = []

    def always_late(seconds: float) -> None:
        late_sleeps.append(seconds)
        clock.sleep(seconds)
        clock.advance(1.0)
        other.acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=30)  # the schedule stays booked

    DynamoRateBudget(table, clock, always_late).acquire(KEY, limit=LIMIT, window=WINDOW, max_wait=30)

    assert len(late_sleeps) == 3  # three slots taken, each missed, then it went
