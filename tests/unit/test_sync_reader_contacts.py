"""Which of a deal's contacts the reader reads, and which is its primary contact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubnox.hubspot import paths
from hubnox.hubspot.models import AssociatedRecord, BatchReadResult, CrmObject
from hubnox.sync.portal_settings import DealMappings, PortalSettings
from hubnox.sync.reader import PropertiesToRead, properties_to_read, read_deal


class Deals:
    """Just enough of `HubSpotReads` for a deal with companies and contacts and no line items."""

    def __init__(self, companies: Sequence[str] = (), contacts: Sequence[str] = (),
                 labels: dict[str, list[str]] | None = None) -> None:
        self.companies, self.contacts, self.labels = list(companies), list(contacts), labels or {}
        self.calls: list[tuple[str, ...]] = []

    def get_object(self, object_type: str, object_id: str, properties: Sequence[str] = (),
                   associations: Sequence[str] = (), *, model: Any = CrmObject) -> Any:
        self.calls.append(("get", object_type))
        return model.model_validate({"id": object_id, "properties": {}, "associations": {
            "companies": self.companies, "contacts": self.contacts}})

    def batch_read(self, object_type: str, ids: Sequence[str], properties: Sequence[str], *,
                   model: type[CrmObject] = CrmObject) -> BatchReadResult:
        self.calls.append(("batch", object_type, *ids))
        return BatchReadResult(found=[model(id=i, properties={"firstname": f"C{i}"}) for i in ids], missing=[])

    def associations(self, from_type: str, object_id: str, to_type: str) -> list[AssociatedRecord]:
        self.calls.append(("associations", from_type, to_type))
        return [AssociatedRecord(id=i, type_ids=[3], labels=self.labels.get(i, [])) for i in self.contacts]


def read(deals: Deals, settings: PortalSettings | None = None) -> list[str]:
    wanted = properties_to_read(settings or PortalSettings())
    return [contact.id for contact in read_deal(deals, "9001", wanted).contacts]


def test_a_deal_with_one_contact_reads_it_without_asking_for_labels():
    deals = Deals(contacts=["51"])
    assert read(deals) == ["51"]
    assert ("associations", paths.DEALS, paths.CONTACTS) not in deals.calls


def test_the_contact_labelled_primary_comes_first_and_is_the_only_one_read_beside_a_company():
    labels = {"53": ["Decision maker"], "52": ["Primary contact"]}
    assert read(Deals(contacts=["51", "52", "53"], labels=labels)) == ["52", "51", "53"]
    with_company = Deals(companies=["301"], contacts=["51", "52", "53"], labels=labels)
    assert read(with_company) == ["52"]
    assert ("batch", paths.CONTACTS, "52") in with_company.calls


def test_without_a_primary_label_the_first_contact_the_deal_lists_is_primary():
    assert read(Deals(companies=["301"], contacts=["51", "52"], labels={"52": ["Billing"]})) == ["51"]
    assert read(Deals(contacts=["51", "52"], labels={"52": ["primary"]})) == ["52", "51"]


def test_with_primary_contact_sync_off_no_contact_is_read():
    off = PortalSettings(primary_contact_sync=False)
    for deals in (Deals(contacts=["51", "52"]), Deals(companies=["301"], contacts=["51", "52"])):
        assert read(deals, off) == []
        assert not [call for call in deals.calls if call[0] == "associations" or paths.CONTACTS in call]
    assert properties_to_read(off).contact_customers is False
    assert properties_to_read(off).reference_contact is False


def test_a_company_deal_reads_its_primary_contact_when_a_mapped_reference_leaves_only_email_and_phone():
    mapped = PortalSettings(deal_fields=DealMappings(your_reference="buyer"))
    assert properties_to_read(mapped).reference_contact is True
    no_contact_fields = mapped.model_copy(update={"customer_fields": mapped.customer_fields.model_copy(
        update={"contact": {"Address1": "address"}})})
    assert properties_to_read(no_contact_fields).reference_contact is False
    assert PropertiesToRead().contact_customers is True
