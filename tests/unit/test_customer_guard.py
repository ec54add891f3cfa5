"""One Fortnox customer per HubSpot record, however many of its runs overlap: the customer guard.

Overlapping runs of one company cannot find each other's new customer (the number reaches HubSpot
only when a run tells its outcome; a company without organisation number has nothing to search by),
so each reaches the create path; there the guard lets one create and the others bill that customer.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto import mock_aws

from hubnox.errors import TransientError
from hubnox.fortnox.models import FortnoxCustomer
from hubnox.hubspot.models import Company
from hubnox.jobs import Job
from hubnox.store.leases import LeaseStore
from hubnox.store.made_customers import MadeCustomerStore
from hubnox.store.table import Table, create_table
from hubnox.sync.attempt import Attempt
from hubnox.sync.customer_guard import CUSTOMER_LEASE_WAIT_SECONDS, CustomerGuard
from hubnox.sync.customers import resolve_customer, resolve_record_customer
from hubnox.sync.jobs.customers import SyncCustomer
from hubnox.sync.portal_settings import CustomerNumberRule, PortalSettings
from hubnox.sync.ports import CustomerCreations
from tests.integration.test_sync_customers import FakeCustomers, company, contact, deal_with, existing_acme
from tests.support.aws import OneRequestAtATime
from tests.support.clock import FakeClock
from tests.support.fakes import Leases, MadeCustomers

PORTAL = "4711"
TENANT = "hubnox-fortnox:7001"
SETTINGS = PortalSettings()
#: a company the match rule cannot search for: its deals' customer is created, then linked
NO_ORG_NUMBER = company(organisation_number=None)


class Company7001(FakeCustomers):
    """The customer port of one Fortnox company, named as the Fortnox client names it."""

    def __init__(self, *customers: FortnoxCustomer, tenant_key: str = TENANT) -> None:
        super().__init__(*customers)
        self.tenant_key = tenant_key


class SearchedBeforeTheCreate(Company7001):
    """A Fortnox whose searches answer as they did before any run created the customer: the moment two
    runs of one company both searched by its organisation number and found nothing."""

    def find_customers(self, **search: str) -> list[FortnoxCustomer]:
        self.calls.append(("find", search))
        return []


class World:
    """A guard over fake leases and made-customer records, and a try of a run for it."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.leases = Leases(self.clock)
        self.made = MadeCustomers()
        self.guard = CustomerGuard(leases=self.leases, made=self.made, clock=self.clock, sleep=self.clock.sleep)

    def run(self, fortnox: Company7001, run_id: str = "run-1") -> CustomerCreations:
        return self.guard.for_attempt(attempt(fortnox, run_id))


def attempt(fortnox: Any, run_id: str, hubspot: Any = None, object_id: str = "301") -> Attempt:
    job = Job(run_id=run_id, portal_id=PORTAL, kind="sync_customer", trigger="card", object_type="company",
              object_id=object_id)
    return Attempt(job, 1, 5, lambda portal: hubspot, lambda portal: fortnox)


@pytest.fixture
def world() -> World:
    return World()


# -- overlapping runs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("record", "fortnox"), [
    (NO_ORG_NUMBER, Company7001()),
    (company(), SearchedBeforeTheCreate()),
], ids=["without organisation number", "both searched before either created"])
def test_the_second_run_of_a_company_bills_the_customer_the_first_made_instead_of_making_another(
        world: World, record: Company, fortnox: Company7001) -> None:
    first = resolve_record_customer(record, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-1"))
    before_second = len(fortnox.calls)
    second = resolve_record_customer(record, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-2"))
    assert len(fortnox.made("create")) == 1
    assert (first.action, second.action) == ("created", "matched")
    assert second.customer_number == first.customer_number == "1"
    # Beside its search, the second run read the made customer by its number, and nothing else.
    assert [call for call in fortnox.calls[before_second:] if call[0] != "find"] == [("get", "1")]
    assert second.write_back is not None and second.write_back.properties == {"fortnox_customer_number": "1"}
    assert "NO_MATCH_VALUE" not in [warning.code for warning in second.warnings]
    assert world.leases.held == {}


def test_a_deal_of_the_company_goes_through_the_guard_as_the_sync_customer_job_does(world: World) -> None:
    fortnox = Company7001()
    first = resolve_customer(deal_with(NO_ORG_NUMBER, contact()), SETTINGS, fortnox,
                             customers_made=world.run(fortnox, "deal-run-1"))
    second = resolve_customer(deal_with(NO_ORG_NUMBER, contact()), SETTINGS, fortnox,
                              customers_made=world.run(fortnox, "deal-run-2"))
    assert len(fortnox.made("create")) == 1
    assert second.customer_number == first.customer_number


def test_the_made_customer_is_updated_where_the_company_changed_since_as_a_matched_one_is(world: World) -> None:
    fortnox = Company7001()
    resolve_record_customer(NO_ORG_NUMBER, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-1"))
    moved = company(organisation_number=None, city="Göteborg")
    second = resolve_record_customer(moved, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-2"))
    assert (second.action, second.changed_fields) == ("updated", ["City"])
    assert fortnox.customers["1"].city == "Göteborg" and len(fortnox.made("create")) == 1


def test_a_run_that_finds_the_record_being_given_its_customer_waits_then_goes_back_to_the_queue(
        world: World) -> None:
    class SlowToCreate(Company7001):
        """While the first run creates, the second run of the company arrives."""

        def create_customer(self, customer: FortnoxCustomer) -> FortnoxCustomer:
            with pytest.raises(TransientError) as busy:
                resolve_record_customer(NO_ORG_NUMBER, SETTINGS, self, customers_made=world.run(self, "run-2"))
            overlapping.append(busy.value)
            return super().create_customer(customer)

    overlapping: list[TransientError] = []
    fortnox = SlowToCreate()
    first = resolve_record_customer(NO_ORG_NUMBER, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-1"))
    [busy] = overlapping
    assert busy.code == "CUSTOMER_BUSY" and busy.retry_after
    assert sum(world.clock.slept) >= CUSTOMER_LEASE_WAIT_SECONDS - 1  # it waited a while first
    assert first.action == "created" and len(fortnox.made("create")) == 1
    # Its retry, once the first run let go, bills the first run's customer.
    again = resolve_record_customer(NO_ORG_NUMBER, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-2"))
    assert (again.action, again.customer_number) == ("matched", first.customer_number)


# -- what the record made before -----------------------------------------------------------------------


def test_a_made_customer_deleted_in_fortnox_since_is_created_anew_and_remembered(world: World) -> None:
    fortnox = Company7001()
    resolve_record_customer(NO_ORG_NUMBER, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-1"))
    del fortnox.customers["1"]  # deleted in Fortnox: a GET by its number answers 404
    fortnox.customers["9"] = FortnoxCustomer(customer_number="9", name="Someone Else AB")
    again = resolve_record_customer(NO_ORG_NUMBER, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-2"))
    assert (again.action, again.customer_number) == ("created", "2")
    assert len(fortnox.made("create")) == 2
    assert world.made.get(PORTAL, TENANT, "company", "301") == again.customer_number
    third = resolve_record_customer(NO_ORG_NUMBER, SETTINGS, fortnox, customers_made=world.run(fortnox, "run-3"))
    assert (third.action, third.customer_number) == ("matched", again.customer_number)


def test_another_fortnox_company_of_the_portal_gets_its_own_customer(world: World) -> None:
    before = Company7001()
    resolve_record_customer(NO_ORG_NUMBER, SETTINGS, before, customers_made=world.run(before, "run-1"))
    # The portal reconnected to another Fortnox company, which has a customer 1 of its own.
    after = Company7001(FortnoxCustomer(customer_number="1", name="Someone Else AB"),
                        tenant_key="hubnox-fortnox:9002")
    there = resolve_record_customer(NO_ORG_NUMBER, SETTINGS, after, customers_made=world.run(after, "run-2"))
    assert there.action == "created" and there.customer_name == "Acme AB"
    assert [made.name for made in after.made("create")] == ["Acme AB"] and "1" not in after.made("get")


def test_numbers_from_hubspot_the_overlapping_run_bills_the_number_instead_of_creating_it_again(
        world: World) -> None:
    settings = PortalSettings(customer_number=CustomerNumberRule(source="hubspot_property",
                                                                 hubspot_property="customer_no"))
    record = company(customer_no="K-100")
    fortnox = SearchedBeforeTheCreate()
    resolve_record_customer(record, settings, fortnox, customers_made=world.run(fortnox, "run-1"))
    second = resolve_record_customer(record, settings, fortnox, customers_made=world.run(fortnox, "run-2"))
    assert (second.action, second.customer_number) == ("matched", "K-100")
    assert [made.customer_number for made in fortnox.made("create")] == ["K-100"]
    # A number changed in HubSpot names a new customer: the one made before is not billed for it.
    renumbered = resolve_record_customer(company(customer_no="K-200"), settings, fortnox,
                                         customers_made=world.run(fortnox, "run-3"))
    assert (renumbered.action, renumbered.customer_number) == ("created", "K-200")


def test_a_record_the_rules_find_a_customer_for_never_takes_the_lease(world: World) -> None:
    class Refusing:
        def create_once(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the guard is for the create path only")

    fortnox = Company7001(existing_acme())
    resolution = resolve_record_customer(company(), SETTINGS, fortnox, customers_made=Refusing())
    assert resolution.action == "matched"


# -- two runs at once, on the real stores --------------------------------------------------------------


@pytest.fixture
def shared_table(aws_clients: tuple[Any, Any]) -> Any:
    dynamodb, _ = aws_clients
    with mock_aws():
        create_table(dynamodb, "hubnox-customers")
        yield Table(OneRequestAtATime(dynamodb), "hubnox-customers")


class OneCompanysFortnox(Company7001):
    """One Fortnox company shared by the runs: calls one at a time, a create that takes a while."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def create_customer(self, customer: FortnoxCustomer) -> FortnoxCustomer:
        time.sleep(0.2)  # the other run reaches its create path meanwhile
        with self.lock:
            return super().create_customer(customer)

    def get_customer(self, customer_number: str) -> FortnoxCustomer:
        with self.lock:
            return super().get_customer(customer_number)


class CompanyInHubSpot:
    """The HubSpot company the runs read: without organisation number, not linked yet."""

    def get_object(self, object_type: str, object_id: str, properties: Any = (), associations: Any = (), *,
                   model: Any = None) -> Company:
        return NO_ORG_NUMBER


def test_two_sync_customer_runs_of_a_company_without_organisation_number_at_once_make_one_customer(
        shared_table: Table) -> None:
    guard = CustomerGuard(leases=LeaseStore(shared_table, time.time), made=MadeCustomerStore(shared_table, time.time),
                          clock=time.time, sleep=time.sleep)
    job = SyncCustomer(guard)
    fortnox = OneCompanysFortnox()
    start = threading.Barrier(2)

    def run(run_id: str) -> dict[str, Any]:
        current = attempt(fortnox, run_id, hubspot=CompanyInHubSpot())
        start.wait()
        result, _ = job(current)
        return result

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, ["run-1", "run-2"]))

    assert len(fortnox.made("create")) == 1
    assert sorted(result["action"] for result in results) == ["created", "matched"]
    assert {result["customer_number"] for result in results} == {"1"}
    assert MadeCustomerStore(shared_table, time.time).get(PORTAL, TENANT, "company", "301") == "1"
