"""The local rate budget: a sliding window that waits for a free slot or hands the job back."""

from __future__ import annotations

import threading

import pytest

from hubnox.errors import TransientError
from hubnox.rate_budget import LocalRateBudget
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def budget(clock: FakeClock) -> LocalRateBudget:
    return LocalRateBudget(clock=clock, sleep=clock.sleep)


def test_calls_within_the_limit_go_at_once(budget: LocalRateBudget, clock: FakeClock) -> None:
    for _ in range(25):
        budget.acquire("fortnox:c:1", limit=25, window=5.0, max_wait=10.0)
    assert clock.slept == []


def test_a_call_over_the_limit_waits_until_the_oldest_slot_leaves_the_window(
        budget: LocalRateBudget, clock: FakeClock) -> None:
    budget.acquire("k", limit=2, window=5.0, max_wait=10.0)
    clock.now += 1.5
    budget.acquire("k", limit=2, window=5.0, max_wait=10.0)

    budget.acquire("k", limit=2, window=5.0, max_wait=10.0)

    assert clock.slept == [pytest.approx(3.5)]


def test_the_window_slides_so_old_calls_stop_counting(budget: LocalRateBudget, clock: FakeClock) -> None:
    for _ in range(3):
        budget.acquire("k", limit=3, window=10.0, max_wait=0.0)
    clock.now += 10.0
    for _ in range(3):
        budget.acquire("k", limit=3, window=10.0, max_wait=0.0)
    assert clock.slept == []


def test_a_wait_longer_than_max_wait_hands_the_job_back_with_retry_after(
        budget: LocalRateBudget, clock: FakeClock) -> None:
    budget.acquire("k", limit=1, window=10.0, max_wait=1.0)
    clock.now += 2.0

    with pytest.raises(TransientError) as caught:
        budget.acquire("k", limit=1, window=10.0, max_wait=1.0)

    assert caught.value.retry_after == pytest.approx(8.0)
    assert clock.slept == []


def test_each_key_has_its_own_window(budget: LocalRateBudget, clock: FakeClock) -> None:
    budget.acquire("hubspot:1", limit=1, window=10.0, max_wait=0.0)
    budget.acquire("hubspot:2", limit=1, window=10.0, max_wait=0.0)
    with pytest.raises(TransientError):
        budget.acquire("hubspot:1", limit=1, window=10.0, max_wait=0.0)


def test_concurrent_callers_never_get_more_slots_than_the_limit(budget: LocalRateBudget) -> None:
    granted: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def take(number: int) -> None:
        try:
            budget.acquire("shared", limit=50, window=5.0, max_wait=0.0)
        except TransientError:
            with lock:
                refused.append(number)
        else:
            with lock:
                granted.append(number)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(granted) == 50
    assert len(refused) == 150


def test_a_budget_without_room_is_a_programming_error(budget: LocalRateBudget) -> None:
    with pytest.raises(ValueError):
        budget.acquire("k", limit=0, window=5.0, max_wait=1.0)
