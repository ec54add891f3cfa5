"""Leases and nonces: one holder at a time, single use, both expiring with time."""

from __future__ import annotations

import pytest

from hubnox.errors import TransientError
from hubnox.store.leases import LeaseStore
from hubnox.store.nonces import NonceStore
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def leases(table, clock) -> LeaseStore:
    return LeaseStore(table, clock, sleep=clock.sleep)


# --- leases ---------------------------------------------------------------------------------------


def test_a_free_lease_is_taken_and_then_refused_to_others(leases):
    assert leases.acquire("fortnox-refresh#1", "worker-a", ttl_seconds=30) is True
    assert leases.acquire("fortnox-refresh#1", "worker-b", ttl_seconds=30) is False
    assert leases.acquire("fortnox-refresh#2", "worker-b", ttl_seconds=30) is True


def test_the_holder_may_renew_its_lease(leases, clock):
    leases.acquire("lease", "worker-a", ttl_seconds=30)
    clock.now += 20

    assert leases.acquire("lease", "worker-a", ttl_seconds=30) is True
    clock.now += 20  # past the first term, inside the renewed one
    assert leases.acquire("lease", "worker-b", ttl_seconds=30) is False


def test_an_expired_lease_can_be_taken_by_another(leases, clock):
    leases.acquire("lease", "worker-a", ttl_seconds=30)

    clock.now += 29.9
    assert leases.acquire("lease", "worker-b", ttl_seconds=30) is False
    clock.now += 0.2
    assert leases.acquire("lease", "worker-b", ttl_seconds=30) is True


def test_only_the_holder_releases_a_lease(leases):
    leases.acquire("lease", "worker-a", ttl_seconds=30)

    assert leases.release("lease", "worker-b") is False
    assert leases.acquire("lease", "worker-b", ttl_seconds=30) is False
    assert leases.release("lease", "worker-a") is True
    assert leases.acquire("lease", "worker-b", ttl_seconds=30) is True


def test_a_lease_item_is_swept_by_ttl_after_it_ends(table, leases, clock):
    leases.acquire("lease", "worker-a", ttl_seconds=30)

    item = table.get({"pk": "LEASE#lease", "sk": "LEASE"})

    assert item["held_until"] == clock.now + 30
    assert item["expires_at"] >= clock.now + 30


def test_hold_waits_for_the_holder_to_let_go_and_releases_afterwards(leases, clock):
    leases.acquire("lease", "crashed-worker", ttl_seconds=3)

    with leases.hold("lease", "worker-b", ttl=30, wait=5, poll=0.5):
        assert leases.acquire("lease", "worker-c", ttl_seconds=30) is False

    assert clock.slept == [0.5] * 6  # polled until the crashed worker's lease ran out
    assert leases.acquire("lease", "worker-c", ttl_seconds=30) is True


def test_hold_releases_the_lease_when_the_block_fails(leases):
    with pytest.raises(RuntimeError), leases.hold("lease", "worker-a", ttl=30, wait=0):
        raise RuntimeError("refresh failed")

    assert leases.acquire("lease", "worker-b", ttl_seconds=30) is True


def test_a_holder_that_outlives_its_lease_leaves_the_next_holders_lease_alone(leases, clock):
    with leases.hold("lease", "slow-worker", ttl=5, wait=0):
        clock.now += 6
        assert leases.acquire("lease", "worker-b", ttl_seconds=30) is True

    assert leases.acquire("lease", "worker-c", ttl_seconds=30) is False


def test_hold_gives_up_after_waiting_and_says_when_to_retry(leases, clock):
    leases.acquire("lease", "worker-a", ttl_seconds=30)
    start = clock.now

    with pytest.raises(TransientError) as failure, leases.hold("lease", "worker-b", ttl=30, wait=2, poll=0.5):
        pytest.fail("the block must not run without the lease")

    assert failure.value.code == "LEASE_BUSY"
    assert clock.now - start <= 2
    assert failure.value.retry_after == pytest.approx(30 - (clock.now - start))


# --- nonces ---------------------------------------------------------------------------------------


def test_a_nonce_is_claimed_once(table, clock):
    nonces = NonceStore(table, clock)

    assert nonces.claim("oauth-state", "st-8f2c", ttl_seconds=600) is True
    assert nonces.claim("oauth-state", "st-8f2c", ttl_seconds=600) is False
    assert nonces.claim("oauth-state", "st-other", ttl_seconds=600) is True
    assert nonces.claim("callback", "st-8f2c", ttl_seconds=600) is True


def test_a_nonce_can_be_claimed_again_once_its_time_is_up(table, clock):
    nonces = NonceStore(table, clock)
    nonces.claim("callback", "ap-102670506-56776413549-7-0", ttl_seconds=60)

    clock.now += 59
    assert nonces.claim("callback", "ap-102670506-56776413549-7-0", ttl_seconds=60) is False
    clock.now += 1
    assert nonces.claim("callback", "ap-102670506-56776413549-7-0", ttl_seconds=60) is True


def test_a_nonce_item_carries_its_ttl(table, clock):
    NonceStore(table, clock).claim("oauth-state", "st-1", ttl_seconds=600)

    assert table.get({"pk": "NONCE#oauth-state#st-1", "sk": "NONCE"})["expires_at"] == clock.now + 600


def test_an_empty_nonce_is_refused(table, clock):
    with pytest.raises(ValueError, match="empty"):
        NonceStore(table, clock).claim("oauth-state", "", ttl_seconds=600)
