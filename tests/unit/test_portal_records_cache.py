"""The products of line items without a SKU and a company deal's reference contact, cached per portal:
a later deal reads neither again while they live (an hour, 15 minutes), a run a person started reads
them fresh and refreshes the cache, a deal without a company always reads its contacts (they are its
customer), and what HubSpot lacks is not cached."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from hubnox.hubspot import paths
from hubnox.hubspot.models import AssociatedRecord, BatchReadResult, CrmObject
from hubnox.jobs import Job
from hubnox.store.portal_cache import PortalCacheStore, cache_key
from hubnox.sync.attempt import Attempt
from hubnox.sync.portal_lookups import RECORD_SECONDS, CachedLookups
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.reader import DealReading, properties_to_read, read_deal
from tests.support.clock import FakeClock

PORTAL = "1"


class Portal:
    """Just enough of `HubSpotReads` for deals with line items, a company and contacts; each read
    is logged as (call, object type, ids...)."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, dict[str, str]]] = {
            paths.LINE_ITEMS: {"l1": {"name": "Widget", "quantity": "1", "price": "99", "hs_product_id": "p1"},
                               "l2": {"name": "Bolt", "quantity": "2", "price": "5", "hs_sku": "BOLT"}},
            paths.PRODUCTS: {"p1": {"name": "Widget", "description": "A widget", "price": "99"}},
            paths.COMPANIES: {"301": {"name": "Acme AB"}},
            paths.CONTACTS: {"51": {"firstname": "Anna", "lastname": "Andersson", "email": "anna@acme.example",
                                    "phone": "+46 8 123", "notes": "likes fika"},
                             "52": {"firstname": "Bo", "lastname": "Berg", "email": "bo@acme.example"}},
        }
        self.calls: list[tuple[str, ...]] = []

    def get_object(self, object_type: str, object_id: str, properties: Sequence[str] = (),
                   associations: Sequence[str] = (), *, model: Any = CrmObject) -> Any:
        self.calls.append(("get", object_type, object_id))
        company = [] if object_id == "no-company" else [{"id": "301", "type": "deal_to_company"}]
        return model.from_api({"id": object_id, "properties": {"dealname": f"Deal {object_id}"}, "associations": {
            "line_items": {"results": [{"id": "l1"}, {"id": "l2"}]},
            "companies": {"results": company},
            "contacts": {"results": [{"id": "51"}]}}})

    def batch_read(self, object_type: str, ids: Sequence[str], properties: Sequence[str], *,
                   model: type[CrmObject] = CrmObject) -> BatchReadResult:
        self.calls.append(("batch", object_type, *ids))
        held = self.records[object_type]
        # HubSpot answers the properties asked for that have a value, and a few of its own beside them
        found = [model(id=i, properties={"hs_object_id": i, "createdate": "2026-01-01",
                                         **{name: value for name, value in held[i].items() if name in properties}})
                 for i in ids if i in held]
        return BatchReadResult(found=found, missing=[i for i in ids if i not in held])

    def associations(self, from_type: str, object_id: str, to_type: str) -> list[AssociatedRecord]:
        raise AssertionError("a deal with one contact needs no labels")

    def reads_of(self, object_type: str) -> list[tuple[str, ...]]:
        return [call for call in self.calls if call[:2] == ("batch", object_type)]


@pytest.fixture
def world(table: Any) -> tuple[Portal, PortalCacheStore, FakeClock]:
    clock = FakeClock()
    return Portal(), PortalCacheStore(table, clock), clock


def deal(hubspot: Portal, cache: PortalCacheStore, deal_id: str = "9001",
         settings: PortalSettings | None = None) -> DealReading:
    """One run reading a deal, with a client of its own as the worker makes one per run."""
    return read_deal(CachedLookups(hubspot, cache, PORTAL), deal_id, properties_to_read(settings or PortalSettings()))


def job(trigger: str, deal_id: str = "9003") -> Job:
    return Job(run_id=f"run-{trigger}", portal_id=PORTAL, kind="create_document", trigger=trigger,
               object_type="deal", object_id=deal_id)


def test_a_later_deal_reads_neither_the_product_nor_the_reference_contact_again(world):
    hubspot, cache, _ = world
    first = deal(hubspot, cache, "9001")
    assert hubspot.reads_of(paths.PRODUCTS) == [("batch", paths.PRODUCTS, "p1")]
    assert hubspot.reads_of(paths.CONTACTS) == [("batch", paths.CONTACTS, "51")]

    hubspot.calls.clear()
    later = deal(hubspot, cache, "9002")

    assert hubspot.calls == [("get", paths.DEALS, "9002"), ("batch", paths.LINE_ITEMS, "l1", "l2"),
                             ("batch", paths.COMPANIES, "301")]
    assert later.products["p1"].name == first.products["p1"].name == "Widget"
    assert later.products["p1"].description == "A widget"
    assert [(c.id, c.full_name, c.email, c.phone) for c in later.contacts] == \
        [("51", "Anna Andersson", "anna@acme.example", "+46 8 123")]


def test_the_cached_contact_holds_only_the_properties_read_and_expires(world, table):
    hubspot, cache, clock = world
    deal(hubspot, cache)
    item = table.get(cache_key(PORTAL, f"{paths.CONTACTS}#51"))

    stored = json.loads(item["value"])
    assert set(stored["properties"]) == set(properties_to_read(PortalSettings()).contact) | {
        "email", "firstname", "lastname", "phone", "address", "zip", "city", "country"}
    assert "notes" not in stored["properties"] and "hs_object_id" not in stored["properties"]
    assert "createdate" not in item["value"]
    # DynamoDB's TTL sweep deletes the item: it has its expiry attribute, within an hour of the read
    assert clock.now + RECORD_SECONDS[paths.CONTACTS] <= int(item["expires_at"]) <= clock.now + 3600


def test_the_contact_is_read_again_after_15_minutes_and_the_product_after_an_hour(world):
    hubspot, cache, clock = world
    deal(hubspot, cache)
    hubspot.records[paths.CONTACTS]["51"]["email"] = "anna.andersson@acme.example"

    clock.advance(RECORD_SECONDS[paths.CONTACTS] - 1)
    assert deal(hubspot, cache).contacts[0].email == "anna@acme.example"  # still cached
    clock.advance(2)
    assert deal(hubspot, cache).contacts[0].email == "anna.andersson@acme.example"
    assert len(hubspot.reads_of(paths.CONTACTS)) == 2
    assert len(hubspot.reads_of(paths.PRODUCTS)) == 1

    clock.advance(RECORD_SECONDS[paths.PRODUCTS])
    deal(hubspot, cache)
    assert len(hubspot.reads_of(paths.PRODUCTS)) == 2


def test_a_deal_without_a_company_reads_its_contacts_every_time(world):
    hubspot, cache, _ = world
    deal(hubspot, cache, "9001")  # caches contact 51 as a reference person
    hubspot.records[paths.CONTACTS]["51"]["email"] = "anna.andersson@acme.example"

    for _ in range(2):
        reading = deal(hubspot, cache, "no-company")
        assert reading.company is None
        assert reading.contacts[0].email == "anna.andersson@acme.example"
    assert len(hubspot.reads_of(paths.CONTACTS)) == 3
    assert len(hubspot.reads_of(paths.PRODUCTS)) == 1  # its product is still the cached one


@pytest.mark.parametrize("trigger", ["replay", "card"])
def test_a_run_a_person_started_reads_fresh_and_refreshes_the_cache(world, trigger):
    hubspot, cache, _ = world
    deal(hubspot, cache, "9001")
    # the user's fix path: correct the records in HubSpot, then replay the run
    hubspot.records[paths.PRODUCTS]["p1"]["description"] = "A blue widget"
    hubspot.records[paths.CONTACTS]["51"]["email"] = "anna.andersson@acme.example"

    attempt = Attempt(job(trigger), 1, 5, lambda portal: CachedLookups(hubspot, cache, portal),
                      lambda portal: None)
    fixed = read_deal(attempt.hubspot, "9003", properties_to_read(PortalSettings()))

    assert fixed.products["p1"].description == "A blue widget"
    assert fixed.contacts[0].email == "anna.andersson@acme.example"
    assert len(hubspot.reads_of(paths.PRODUCTS)) == len(hubspot.reads_of(paths.CONTACTS)) == 2
    # the next automatic run takes the corrected records from the cache
    after = deal(hubspot, cache, "9004")
    assert (after.products["p1"].description, after.contacts[0].email) == \
        ("A blue widget", "anna.andersson@acme.example")
    assert len(hubspot.reads_of(paths.PRODUCTS)) == len(hubspot.reads_of(paths.CONTACTS)) == 2


def test_an_automatic_run_uses_the_cache(world):
    hubspot, cache, _ = world
    deal(hubspot, cache, "9001")
    for trigger in ("workflow", "poller", "webhook"):
        attempt = Attempt(job(trigger), 1, 5, lambda portal: CachedLookups(hubspot, cache, portal),
                          lambda portal: None)
        read_deal(attempt.hubspot, "9003", properties_to_read(PortalSettings()))
    assert len(hubspot.reads_of(paths.PRODUCTS)) == len(hubspot.reads_of(paths.CONTACTS)) == 1


def test_a_deleted_record_is_not_cached_and_is_asked_for_again(world):
    hubspot, cache, _ = world
    del hubspot.records[paths.PRODUCTS]["p1"]
    del hubspot.records[paths.CONTACTS]["51"]
    for _ in range(2):
        reading = deal(hubspot, cache)
        assert reading.products == {} and reading.contacts == []
    assert len(hubspot.reads_of(paths.PRODUCTS)) == len(hubspot.reads_of(paths.CONTACTS)) == 2


def test_a_contact_property_mapped_since_the_contact_was_cached_is_read_fresh(world):
    hubspot, cache, _ = world
    deal(hubspot, cache)
    hubspot.records[paths.CONTACTS]["51"]["mobilephone"] = "+46 70 123"
    plain = PortalSettings()
    mapped = plain.model_copy(update={"customer_fields": plain.customer_fields.model_copy(
        update={"contact": {**plain.customer_fields.contact, "Phone2": "mobilephone"}})})
    assert "mobilephone" in properties_to_read(mapped).contact

    assert deal(hubspot, cache, settings=mapped).contacts[0].prop("mobilephone") == "+46 70 123"
    assert deal(hubspot, cache, settings=mapped).contacts[0].prop("mobilephone") == "+46 70 123"
    assert len(hubspot.reads_of(paths.CONTACTS)) == 2  # read for the new mapping once, then cached with it
