"""Primary contact sync: who is billed for a deal, what its document names as our customer's
reference, and what the contact adds to a company customer, with the setting on and off."""

from __future__ import annotations

import pytest

from hubnox.errors import UserFixableError
from hubnox.fortnox.models import FortnoxCustomer, Invoice
from hubnox.hubspot.models import Contact, Deal
from hubnox.sync.customers import find_customer_number, resolve_customer, resolve_record_customer
from hubnox.sync.documents import build_document
from hubnox.sync.model import ArticlePlan, DealSnapshot
from hubnox.sync.portal_settings import ContactMatchRule, PortalSettings
from tests.integration.test_sync_customers import FakeCustomers, company, contact, deal_with, existing_acme

ON = PortalSettings()
OFF = PortalSettings(primary_contact_sync=False)


def test_on_a_deal_without_a_company_bills_its_primary_contact_as_a_new_private_customer() -> None:
    fortnox = FakeCustomers()
    resolution = resolve_customer(deal_with(None, contact("51"), contact("52", email="bo@acme.se")), ON, fortnox)
    assert (resolution.action, resolution.source, resolution.source_id) == ("created", "contact", "51")
    [made] = fortnox.made("create")
    assert (made.name, made.email, made.type) == ("Åsa Öberg", "asa@acme.se", "PRIVATE")
    assert fortnox.made("find") == [{"email": "asa@acme.se"}]


def test_on_the_primary_contact_is_matched_by_the_contact_rule() -> None:
    settings = PortalSettings(contact_match=ContactMatchRule(hubspot_property="phone", fortnox_field="Phone1"))
    fortnox = FakeCustomers(FortnoxCustomer(customer_number="8", name="Åsa Öberg", phone1="070-123 45 67",
                                            email="asa@acme.se"))
    resolution = resolve_customer(deal_with(None, contact()), settings, fortnox)
    assert (resolution.customer_number, resolution.action) == ("8", "matched")
    assert fortnox.made("find") == [{"phone": "070-123 45 67"}] and fortnox.made("create") == []


def test_off_a_deal_without_a_company_fails_saying_contacts_are_not_billed_and_how_to_fix_it() -> None:
    fortnox = FakeCustomers()
    with pytest.raises(UserFixableError) as failure:
        resolve_customer(deal_with(None, contact()), OFF, fortnox)
    assert failure.value.code == "MISSING_COMPANY"
    assert "primary contact sync is off" in str(failure.value)
    assert failure.value.hint is not None
    assert "Associate the deal with a company" in failure.value.hint
    assert "turn on primary contact sync" in failure.value.hint
    assert fortnox.calls == []


def test_on_a_matched_company_customer_gets_the_contacts_email_and_phone_where_its_own_are_empty() -> None:
    fortnox = FakeCustomers(existing_acme(email=None, phone1=None))
    resolution = resolve_customer(deal_with(company(phone=None), contact()), ON, fortnox)
    [sent] = fortnox.made("update")
    assert sent.model_dump(exclude_none=True) == {"name": "Acme AB", "email": "asa@acme.se",
                                                  "phone1": "070-123 45 67"}
    assert resolution.action == "updated" and resolution.changed_fields == ["Email", "Phone1"]


def test_on_the_contact_never_overwrites_a_company_customers_own_email_or_phone() -> None:
    fortnox = FakeCustomers(existing_acme(email="faktura@acme.se", phone1="08-555 00 00"))
    resolution = resolve_customer(deal_with(company(phone=None), contact()), ON, fortnox)
    assert resolution.action == "matched" and fortnox.made("update") == []


def test_on_a_new_company_customer_takes_the_contacts_phone_only_when_the_company_has_none() -> None:
    fortnox = FakeCustomers()
    resolve_customer(deal_with(company(phone=None), contact()), ON, fortnox)
    resolve_customer(deal_with(company("302", organisation_number="556000-0001"), contact()), ON, fortnox)
    first, second = fortnox.made("create")
    assert (first.phone1, first.email) == ("070-123 45 67", "asa@acme.se")
    assert (second.phone1, second.email) == ("+46 8 123 45 67", "asa@acme.se")


def test_off_the_contact_adds_nothing_to_a_company_customer() -> None:
    fortnox = FakeCustomers(existing_acme(email=None, phone1=None))
    resolution = resolve_customer(deal_with(company(phone=None), contact()), OFF, fortnox)
    assert resolution.action == "matched" and fortnox.made("update") == []
    created = FakeCustomers()
    resolve_customer(deal_with(company(phone=None), contact()), OFF, created)
    [made] = created.made("create")
    assert (made.email, made.phone1) == (None, None)


def test_the_primary_contacts_name_is_the_documents_your_reference_only_when_on() -> None:
    snap = DealSnapshot(deal=Deal(id="9001", properties={"dealname": "Rollout", "deal_currency_code": "SEK"}),
                        company=company(), contacts=[Contact(id="52", properties={"firstname": "Bo",
                                                                                  "lastname": "Ek"}),
                                                     contact("51")])
    fortnox = FakeCustomers(existing_acme())
    references = []
    for settings in (ON, OFF):
        customer = resolve_customer(snap, settings, fortnox)
        document = build_document(snap, customer, ArticlePlan(lines=[]), settings.model_copy(
            update={"no_line_items": "placeholder_row"}), "invoice").document
        assert isinstance(document, Invoice)
        references.append(document.your_reference)
    assert references == ["Bo Ek", None]


def test_off_a_contact_is_never_made_a_customer_nor_matched_by_the_contact_rule() -> None:
    fortnox = FakeCustomers(FortnoxCustomer(customer_number="8", name="Åsa Öberg", email="asa@acme.se"))
    with pytest.raises(UserFixableError) as failure:
        resolve_record_customer(contact(), OFF, fortnox)
    assert failure.value.code == "CONTACT_SYNC_OFF" and fortnox.calls == []
    assert find_customer_number(contact(), OFF, fortnox) is None
    assert find_customer_number(contact(), ON, fortnox) == "8"
