"""Races: many workers at once against leases, nonces, deal links, token writes and rate budgets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hubnox.records import FortnoxConnection
from hubnox.store.connections import ConnectionStore
from hubnox.store.crypto import TokenCipher
from hubnox.store.deal_links import DealLinkStore
from hubnox.store.leases import LeaseStore
from hubnox.store.nonces import NonceStore
from hubnox.store.shared_budget import DynamoRateBudget
from hubnox.store.table import StaleVersion, Table, create_table
from tests.support.aws import OneRequestAtATime
from tests.support.clock import FakeClock

TABLE = "hubnox-test"
REGION = "eu-north-1"
PORTAL = "102670506"
WORKERS = 8


@pytest.fixture(scope="module")
def clients():
    # Built once: moto intercepts every client while a mock is active, and clients are slow to build.
    credentials = {"region_name": REGION, "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client("dynamodb", **credentials), boto3.client("kms", **credentials)


@pytest.fixture
def aws(clients):
    dynamodb, kms = clients
    with mock_aws():
        create_table(dynamodb, TABLE)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        yield Table(OneRequestAtATime(dynamodb), TABLE), TokenCipher(kms, key_id)


@pytest.fixture
def table(aws) -> Table:
    return aws[0]


def all_at_once(attempt: Callable[[int], Any], workers: int = WORKERS) -> list[Any]:
    """Run `attempt(worker)` in `workers` threads released together; their results in order."""
    start = threading.Barrier(workers)

    def run(worker: int) -> Any:
        start.wait()
        return attempt(worker)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(workers)))


def test_of_many_simultaneous_lease_requests_exactly_one_wins(table):
    leases = LeaseStore(table, FakeClock(1_800_000_000.25))

    results = all_at_once(
        lambda worker: leases.acquire("fortnox-refresh#1", f"worker-{worker}", ttl_seconds=30)
    )

    assert results.count(True) == 1


def test_workers_holding_a_lease_never_overlap(table):
    leases = LeaseStore(table, time.time, sleep=time.sleep)
    inside = most_inside = entries = 0
    guard = threading.Lock()

    def work(worker: int) -> None:
        nonlocal inside, most_inside, entries
        with leases.hold("fortnox-refresh#1", f"worker-{worker}", ttl=10, wait=10, poll=0.005):
            with guard:
                inside += 1
                entries += 1
                most_inside = max(most_inside, inside)
            time.sleep(0.005)
            with guard:
                inside -= 1

    all_at_once(work, workers=6)

    assert entries == 6
    assert most_inside == 1


def test_of_many_simultaneous_nonce_claims_exactly_one_wins(table):
    nonces = NonceStore(table, FakeClock(1_800_000_000.25))

    results = all_at_once(lambda _: nonces.claim("callback", "ap-102670506-56776413549-7-0", ttl_seconds=600))

    assert results.count(True) == 1


def test_of_many_simultaneous_deal_claims_exactly_one_wins_and_all_agree(table):
    links = DealLinkStore(table, FakeClock(1_800_000_000.25))

    results = all_at_once(lambda worker: links.claim(PORTAL, "9001", "closedwon", f"run-{worker}"))

    winners = [worker for worker, link in enumerate(results) if link.claimed_by(f"run-{worker}")]
    assert len(winners) == 1
    assert {link.run_id for link in results} == {f"run-{winners[0]}"}


def test_of_two_refreshes_from_the_same_version_only_one_is_saved(aws):
    table, cipher = aws
    store = ConnectionStore(table, cipher)
    read = store.put_fortnox(_fortnox())

    def refresh(worker: int) -> str:
        try:
            store.update_fortnox_tokens(
                PORTAL,
                access_token=f"access-{worker}",
                refresh_token=f"refresh-{worker}",
                access_expires_at=1_800_003_600,
                expected_version=read.version,
            )
        except StaleVersion:
            return "stale"
        return "saved"

    results = all_at_once(refresh)

    assert results.count("saved") == 1
    winner = results.index("saved")
    assert store.get_fortnox(PORTAL).refresh_token.get_secret_value() == f"refresh-{winner}"


def test_refreshes_serialised_by_a_lease_each_rotate_the_latest_token(aws):
    table, cipher = aws
    store = ConnectionStore(table, cipher)
    leases = LeaseStore(table, time.time, sleep=time.sleep)
    store.put_fortnox(_fortnox())
    spent: list[str] = []

    def refresh(worker: int) -> None:
        with leases.hold(f"fortnox-refresh#{PORTAL}", f"worker-{worker}", ttl=10, wait=10, poll=0.005):
            current = store.get_fortnox(PORTAL)  # re-read inside the lease
            spent.append(current.refresh_token.get_secret_value())
            store.update_fortnox_tokens(
                PORTAL,
                access_token=f"access-{worker}",
                refresh_token=f"refresh-{worker}",
                access_expires_at=1_800_003_600,
                expected_version=current.version,
            )

    all_at_once(refresh, workers=5)

    assert len(set(spent)) == 5  # no refresh token was used twice
    assert store.get_fortnox(PORTAL).version == 6


def test_simultaneous_requests_from_many_containers_never_book_the_same_slot(table):
    """The budget is a schedule (one slot every window / limit seconds): containers booking at once
    each get their own slot, so no window ever holds more than the limit."""
    clock = FakeClock(1_800_000_000.25)
    containers = [DynamoRateBudget(table, clock) for _ in range(4)]

    def burst(worker: int) -> list[float]:
        return [containers[worker % 4].reserve("fortnox:123456", limit=20, window=5) for _ in range(6)]

    waits = sorted(wait for booked in all_at_once(burst) for wait in booked)
    assert len(set(waits)) == len(waits)
    assert all(later - earlier >= 0.25 - 1e-6 for earlier, later in pairwise(waits))


def _fortnox() -> FortnoxConnection:
    return FortnoxConnection(
        portal_id=PORTAL,
        tenant_id="123456",
        company_name="Acme AB",
        auth_mode="authorization_code",
        access_token="access-initial",
        refresh_token="refresh-initial",
        access_expires_at=1_800_000_000,
        connected_at=1_800_000_000,
    )
