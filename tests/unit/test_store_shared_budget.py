"""The shared request budget: every container draws from the same counters in the table."""

from __future__ import annotations

import inspect

import pytest

from hubnox.errors import TransientError
from hubnox.rate_budget import RateBudget
from hubnox.store.shared_budget import DynamoRateBudget
from hubnox.store.table import Table
from tests.support.clock import FakeClock

TABLE = "hubnox-test"
REGION = "eu-north-1"
FORTNOX = {"limit": 25, "window": 5.0}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.25)


def two_containers(table: Table, clock: FakeClock) -> tuple[DynamoRateBudget, DynamoRateBudget]:
    return DynamoRateBudget(table, clock, clock.sleep), DynamoRateBudget(table, clock, clock.sleep)


def test_two_containers_share_one_budget(table, clock):
    first, second = two_containers(table, clock)

    for _ in range(15):
        first.acquire("fortnox:123456", **FORTNOX, max_wait=0)
    for _ in range(10):
        second.acquire("fortnox:123456", **FORTNOX, max_wait=0)

    with pytest.raises(TransientError) as failure:
        first.acquire("fortnox:123456", **FORTNOX, max_wait=0)
    with pytest.raises(TransientError):
        second.acquire("fortnox:123456", **FORTNOX, max_wait=0)
    assert failure.value.code == "RATE_BUDGET"
    assert 0 < failure.value.retry_after <= FORTNOX["window"] + 1
    assert clock.slept == []


def test_each_key_has_its_own_budget(table, clock):
    budget = DynamoRateBudget(table, clock, clock.sleep)
    for _ in range(25):
        budget.acquire("fortnox:123456", **FORTNOX, max_wait=0)

    budget.acquire("fortnox:777777", **FORTNOX, max_wait=0)
    budget.acquire("hubspot:102670506", limit=110, window=10, max_wait=0)


def test_a_spent_budget_waits_for_room_when_allowed_to(table, clock):
    first, second = two_containers(table, clock)
    for _ in range(25):
        first.acquire("fortnox:123456", **FORTNOX, max_wait=0)
    start = clock.now

    second.acquire("fortnox:123456", **FORTNOX, max_wait=10)

    assert clock.slept  # it waited through the injected sleep
    assert 5.0 <= clock.now - start <= 6.0  # until the full slice leaves the window, no later


def test_a_wait_longer_than_allowed_fails_with_the_time_to_retry(table, clock):
    budget = DynamoRateBudget(table, clock, clock.sleep)
    for _ in range(25):
        budget.acquire("fortnox:123456", **FORTNOX, max_wait=0)

    with pytest.raises(TransientError) as failure:
        budget.acquire("fortnox:123456", **FORTNOX, max_wait=2)

    assert clock.slept == []  # it did not sleep a wait it could not finish
    assert failure.value.retry_after > 2


def test_no_span_of_one_window_ever_holds_more_than_the_limit(table, clock):
    first, second = two_containers(table, clock)
    granted: list[float] = []

    for index in range(120):
        clock.now += 0.013 * (index % 7)  # uneven traffic, bursts included
        (first if index % 3 else second).acquire("fortnox:123456", **FORTNOX, max_wait=30)
        granted.append(clock.now)

    busiest = max(sum(1 for t in granted if end - FORTNOX["window"] < t <= end) for end in granted)
    assert busiest == FORTNOX["limit"]
    # Steady throughput stays near the limit: 25 per 6 s with five slices per window.
    assert granted[-1] - granted[0] <= (120 / 25) * 6.0


def test_counters_expire_through_ttl(table, clock):
    DynamoRateBudget(table, clock, clock.sleep).acquire("fortnox:123456", **FORTNOX, max_wait=0)

    counters = table.query("RATE#fortnox:123456")

    assert len(counters) == 1
    assert counters[0]["count"] == 1
    assert clock.now + FORTNOX["window"] < counters[0]["expires_at"] <= clock.now + 3 * FORTNOX["window"]


def test_a_budget_needs_a_positive_limit_and_window(table, clock):
    budget = DynamoRateBudget(table, clock, clock.sleep)

    with pytest.raises(ValueError):
        budget.acquire("k", limit=0, window=5, max_wait=0)
    with pytest.raises(ValueError):
        budget.acquire("k", limit=5, window=0, max_wait=0)


def test_the_shared_budget_fits_where_the_clients_expect_a_rate_budget():
    assert inspect.signature(DynamoRateBudget.acquire) == inspect.signature(RateBudget.acquire)
