"""The card of a contact that is no Fortnox customer itself shows the customer of its company."""

from __future__ import annotations

from typing import Any

from hubnox.hubspot import properties
from hubnox.hubspot.models import AssociatedRecord, CrmObject
from tests.unit.test_card import Crm, customer_ledger, request, service


class CrmWithCompanies(Crm):
    """HubSpot records whose contacts belong to companies: `companies` maps a contact to its company
    ids as HubSpot lists them, `primary` to the one with the primary label."""

    def __init__(self, records: dict[tuple[str, str], dict[str, str]], companies: dict[str, list[str]],
                 primary: dict[str, str] | None = None) -> None:
        super().__init__(records)
        self.companies = companies
        self.primary = primary or {}

    def get_object(self, object_type: str, object_id: str, properties: Any = (), associations: Any = ()) -> CrmObject:
        found = super().get_object(object_type, object_id, properties, associations)
        if object_type == "contact" and "companies" in associations:
            return found.model_copy(update={"associations": {"companies": self.companies.get(object_id, [])}})
        return found

    def associations(self, from_type: str, object_id: str, to_type: str) -> list[AssociatedRecord]:
        self.reads.append(("associations", object_id))
        return [AssociatedRecord(id=company_id, type_ids=[279] + ([1] if self.primary.get(object_id) == company_id
                                                                  else []))
                for company_id in self.companies.get(object_id, [])]


def test_a_contact_without_its_own_customer_shows_its_companys_customer():
    crm = CrmWithCompanies({("contact", "77"): {"email": "anna@kund.se"},
                            ("company", "501"): {properties.CUSTOMER_NUMBER: "1001", "name": "Kund AB"}},
                           {"77": ["501"]})
    card = service(crm=crm, fortnox=customer_ledger()).card(request("contact", "77"))
    assert card["state"] == "ready"
    assert card["customer"]["number"] == "1001" and card["customer"]["name"] == "Kund AB"
    assert card["customer"]["via"] == {"objectType": "company", "objectId": "501", "name": "Kund AB"}
    assert card["customer"]["unpaidCount"] == 3
    assert card["actions"][0] == {"action": "update-customer",
                                  "label": "Create or match the contact's own Fortnox customer"}


def test_a_contact_that_is_a_customer_itself_shows_its_own_customer():
    crm = CrmWithCompanies({("contact", "77"): {properties.CUSTOMER_NUMBER: "1001"},
                            ("company", "501"): {properties.CUSTOMER_NUMBER: "2002", "name": "Annat AB"}},
                           {"77": ["501"]})
    card = service(crm=crm, fortnox=customer_ledger()).card(request("contact", "77"))
    assert card["customer"]["number"] == "1001" and "via" not in card["customer"]
    assert ("company", "501") not in crm.reads


def test_of_several_companies_the_contacts_primary_one_is_shown_and_matched_by_the_portals_rule():
    crm = CrmWithCompanies({("contact", "77"): {}, ("company", "500"): {"name": "Förra AB"},
                            ("company", "501"): {"name": "Kund AB"}}, {"77": ["500", "501"]}, {"77": "501"})
    matched = []

    def match(portal_id, object_type, record):
        matched.append((object_type, record.id))
        return "1001" if record.id == "501" else None

    cards = service(crm=crm, fortnox=customer_ledger())
    cards._match = match
    card = cards.card(request("contact", "77"))
    assert card["customer"]["number"] == "1001" and card["customer"]["via"]["name"] == "Kund AB"
    assert matched == [("contact", "77"), ("company", "501")]


def test_a_contact_without_a_company_or_whose_company_is_no_customer_either_has_no_customer():
    for companies in ({}, {"77": ["501"]}):
        crm = CrmWithCompanies({("contact", "77"): {}, ("company", "501"): {"name": "Ny AB"}}, companies)
        card = service(crm=crm, fortnox=customer_ledger()).card(request("contact", "77"))
        assert card["state"] == "no_customer" and card["customer"] is None
