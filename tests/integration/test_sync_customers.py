"""The Fortnox customer a deal is billed to: linked, matched exactly, updated or created from HubSpot.

Most tests use a recording fake of the customer port; the substring tests use the real Fortnox
client on the Fortnox simulator, whose search matches substrings as Fortnox's does.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hubnox.api_http import build_http_client
from hubnox.errors import UserFixableError
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.errors import FortnoxNotFoundError
from hubnox.fortnox.models import FortnoxCustomer
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.hubspot.models import Company, Contact, Deal
from hubnox.rate_budget import LocalRateBudget
from hubnox.sync.customers import (
    country_code,
    customer_from_record,
    find_customer_number,
    resolve_customer,
    resolve_record_customer,
)
from hubnox.sync.model import DealSnapshot
from hubnox.sync.portal_settings import (
    ContactMatchRule,
    CustomerDefaults,
    CustomerFieldMappings,
    CustomerNumberRule,
    PortalSettings,
)
from sandbox.fortnox import FortnoxSimulator
from tests.support.clock import FakeClock
from tests.support.openapi import OpenApiSpec

ACME = {"name": "Acme AB", "organisation_number": "556677-8899", "address": "Storgatan 1", "zip": "111 22",
        "city": "Stockholm", "country": "Sweden", "phone": "+46 8 123 45 67", "domain": "acme.se"}


def company(company_id: str = "301", **properties: str | None) -> Company:
    return Company(id=company_id, properties={**ACME, **properties})


def contact(contact_id: str = "51", **properties: str | None) -> Contact:
    base = {"firstname": "Åsa", "lastname": "Öberg", "email": "asa@acme.se", "phone": "070-123 45 67"}
    return Contact(id=contact_id, properties={**base, **properties})


def deal_with(company_record: Company | None = None, *contacts: Contact) -> DealSnapshot:
    return DealSnapshot(deal=Deal(id="9001", properties={"dealname": "Rollout"}), company=company_record,
                        contacts=list(contacts))


class FakeCustomers:
    """The customer port as the client behaves: searches keep exact matches only."""

    def __init__(self, *customers: FortnoxCustomer) -> None:
        self.customers = {c.customer_number or "": c for c in customers}
        self.calls: list[tuple[str, Any]] = []

    def find_customers(self, **search: str) -> list[FortnoxCustomer]:
        self.calls.append(("find", search))
        fields = {"customernumber": "customer_number", "organisationnumber": "organisation_number",
                  "email": "email", "phone": "phone1", "name": "name", "gln": "gln"}
        return [c for c in self.customers.values()
                if all(getattr(c, fields[key]) == value for key, value in search.items())]

    def get_customer(self, customer_number: str) -> FortnoxCustomer:
        self.calls.append(("get", customer_number))
        if customer_number not in self.customers:
            raise FortnoxNotFoundError(404, 2000433, "Kan inte hitta kunden.")
        return self.customers[customer_number]

    def create_customer(self, customer: FortnoxCustomer) -> FortnoxCustomer:
        self.calls.append(("create", customer))
        number = customer.customer_number or str(len(self.customers) + 1)
        created = customer.model_copy(update={"customer_number": number})
        self.customers[number] = created
        return created

    def update_customer(self, customer_number: str, customer: FortnoxCustomer) -> FortnoxCustomer:
        self.calls.append(("update", customer))
        changes = customer.model_dump(exclude_none=True, exclude={"customer_number"})
        updated = self.customers[customer_number].model_copy(update=changes)
        self.customers[customer_number] = updated
        return updated

    def made(self, kind: str) -> list[Any]:
        return [argument for name, argument in self.calls if name == kind]


def existing_acme(**fields: Any) -> FortnoxCustomer:
    base = {"customer_number": "17", "name": "Acme AB", "organisation_number": "556677-8899",
            "address1": "Storgatan 1", "zip_code": "111 22", "city": "Stockholm", "country_code": "SE",
            "phone1": "+46 8 123 45 67", "www": "acme.se", "email": "asa@acme.se"}
    return FortnoxCustomer(**{**base, **fields})


# -- matching --------------------------------------------------------------------------------------

def test_a_company_is_matched_by_organisation_number_and_left_alone_when_nothing_changed() -> None:
    fortnox = FakeCustomers(existing_acme())
    resolution = resolve_customer(deal_with(company(), contact()), PortalSettings(), fortnox)
    assert (resolution.customer_number, resolution.action, resolution.source) == ("17", "matched", "company")
    assert fortnox.made("find") == [{"organisationnumber": "556677-8899"}]
    assert fortnox.made("update") == [] and fortnox.made("create") == []
    assert resolution.write_back is not None
    assert (resolution.write_back.object_type, resolution.write_back.object_id,
            resolution.write_back.properties) == ("companies", "301", {"fortnox_customer_number": "17"})


def test_fortnoxs_substring_search_finds_look_alikes_but_only_the_exact_one_is_taken(fortnox: FortnoxClient) -> None:
    fortnox.create_customer(FortnoxCustomer(name="Acme Holding", organisation_number="16556677-8899"))
    exact = fortnox.create_customer(FortnoxCustomer(name="Acme AB", organisation_number="556677-8899"))
    resolution = resolve_customer(deal_with(company()), PortalSettings(update_matched_customers=False), fortnox)
    assert resolution.customer_number == exact.customer_number
    assert resolution.action == "matched"


def test_a_deal_without_company_is_matched_through_its_contacts_email_exactly(fortnox: FortnoxClient) -> None:
    fortnox.create_customer(FortnoxCustomer(name="Johanna", email="johanna@acme.se", type="PRIVATE"))
    anna = fortnox.create_customer(FortnoxCustomer(name="Anna", email="anna@acme.se", type="PRIVATE"))
    record = contact(email="ANNA@acme.se", firstname="Anna", lastname=None)
    resolution = resolve_customer(deal_with(None, record), PortalSettings(update_matched_customers=False), fortnox)
    assert (resolution.customer_number, resolution.source, resolution.source_id) == (anna.customer_number,
                                                                                      "contact", "51")


def test_a_linked_customer_number_looks_up_that_customer_exactly_not_its_prefixes(fortnox: FortnoxClient) -> None:
    for name in ("One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"):
        fortnox.create_customer(FortnoxCustomer(name=name))
    record = company(organisation_number=None, fortnox_customer_number="1")
    resolution = resolve_customer(deal_with(record), PortalSettings(update_matched_customers=False), fortnox)
    assert (resolution.customer_number, resolution.customer_name) == ("1", "One")


def test_several_exact_matches_are_refused_naming_each_customer() -> None:
    fortnox = FakeCustomers(existing_acme(), existing_acme(customer_number="42", name="Acme AB (old)"))
    with pytest.raises(UserFixableError) as failure:
        resolve_customer(deal_with(company()), PortalSettings(), fortnox)
    assert failure.value.code == "AMBIGUOUS_CUSTOMER"
    assert "17 (Acme AB)" in failure.value.message and "42 (Acme AB (old))" in failure.value.message
    assert fortnox.made("create") == []


def test_a_deal_without_company_or_contact_says_what_to_associate() -> None:
    with pytest.raises(UserFixableError) as failure:
        resolve_customer(deal_with(None), PortalSettings(), FakeCustomers())
    assert failure.value.code == "MISSING_COMPANY"
    assert "company" in (failure.value.hint or "") and "contact" in (failure.value.hint or "")


def test_a_company_without_the_matching_value_fails_when_the_settings_say_so() -> None:
    fortnox = FakeCustomers()
    settings = PortalSettings.model_validate({"company_match": {"when_value_missing": "fail"}})
    with pytest.raises(UserFixableError) as failure:
        resolve_customer(deal_with(company(organisation_number=None)), settings, fortnox)
    assert failure.value.code == "MISSING_MATCH_VALUE" and "organisation_number" in failure.value.message
    assert fortnox.calls == []


def test_a_contact_without_the_matching_value_fails_when_the_settings_say_so() -> None:
    settings = PortalSettings.model_validate({"contact_match": {"when_value_missing": "fail"}})
    with pytest.raises(UserFixableError) as failure:
        resolve_customer(deal_with(None, contact(email=None)), settings, FakeCustomers())
    assert failure.value.code == "MISSING_MATCH_VALUE" and "contact" in failure.value.message


def test_by_default_a_company_without_the_matching_value_gets_a_new_customer_linked_to_it() -> None:
    fortnox = FakeCustomers(existing_acme())
    resolution = resolve_customer(deal_with(company(organisation_number=None)), PortalSettings(), fortnox)
    assert resolution.action == "created" and fortnox.made("find") == []
    [warning] = [w for w in resolution.warnings if w.code == "NO_MATCH_VALUE"]
    assert "no organisation_number" in warning.message
    assert resolution.write_back is not None
    assert resolution.write_back.properties == {"fortnox_customer_number": resolution.customer_number}


def test_the_second_deal_of_a_company_without_the_matching_value_finds_the_customer_through_its_link() -> None:
    fortnox = FakeCustomers()
    first = resolve_customer(deal_with(company(organisation_number=None)), PortalSettings(), fortnox)
    assert first.write_back is not None
    linked = company(organisation_number=None, **first.write_back.properties)
    second = resolve_customer(deal_with(linked), PortalSettings(), fortnox)
    assert (second.customer_number, second.action) == (first.customer_number, "matched")
    assert len(fortnox.made("create")) == 1 and second.write_back is None
    assert "NO_MATCH_VALUE" not in [w.code for w in second.warnings]


def test_match_name_takes_the_one_customer_of_the_same_normalised_name(fortnox: FortnoxClient) -> None:
    fortnox.create_customer(FortnoxCustomer(name="Acme AB Holding"))
    acme = fortnox.create_customer(FortnoxCustomer(name="ACME  ab"))
    settings = PortalSettings.model_validate({"company_match": {"when_value_missing": "match_name"},
                                              "update_matched_customers": False})
    resolution = resolve_customer(deal_with(company(organisation_number=None)), settings, fortnox)
    assert (resolution.customer_number, resolution.action) == (acme.customer_number, "matched")
    assert [w.code for w in resolution.warnings] == ["MATCHED_BY_NAME"]
    assert resolution.write_back is not None


def test_match_name_creates_when_no_name_matches_and_refuses_to_guess_between_several() -> None:
    settings = PortalSettings.model_validate({"company_match": {"when_value_missing": "match_name"}})
    created = resolve_customer(deal_with(company(organisation_number=None)), settings, FakeCustomers())
    assert created.action == "created" and "NO_MATCH_VALUE" in [w.code for w in created.warnings]
    twins = FakeCustomers(existing_acme(), existing_acme(customer_number="18"))
    with pytest.raises(UserFixableError) as failure:
        resolve_customer(deal_with(company(organisation_number=None)), settings, twins)
    assert failure.value.code == "AMBIGUOUS_CUSTOMER" and "17" in failure.value.message


def test_a_linked_customer_that_was_deleted_is_matched_again_with_a_warning() -> None:
    fortnox = FakeCustomers(existing_acme())
    record = company(fortnox_customer_number="99")
    resolution = resolve_customer(deal_with(record), PortalSettings(), fortnox)
    assert resolution.customer_number == "17"
    assert "LINKED_CUSTOMER_GONE" in [w.code for w in resolution.warnings]
    assert resolution.write_back is not None and resolution.write_back.properties == {"fortnox_customer_number": "17"}


# -- creating --------------------------------------------------------------------------------------

def test_an_unknown_company_is_created_from_the_mappings_and_the_defaults() -> None:
    settings = PortalSettings(customer_defaults=CustomerDefaults(
        terms_of_payment="30", vat_type="SEVAT", currency="SEK", price_list="A", invoice_print_template="fakt",
        order_print_template="orderbekr", default_delivery_type="EMAIL"))
    fortnox = FakeCustomers()
    resolution = resolve_customer(deal_with(company(), contact()), settings, fortnox)
    [sent] = fortnox.made("create")
    assert resolution.action == "created"
    assert (sent.name, sent.organisation_number, sent.address1, sent.zip_code, sent.city, sent.country_code) == (
        "Acme AB", "556677-8899", "Storgatan 1", "111 22", "Stockholm", "SE")
    assert (sent.phone1, sent.www, sent.email, sent.type) == ("+46 8 123 45 67", "acme.se", "asa@acme.se", "COMPANY")
    assert (sent.terms_of_payment, sent.vat_type, sent.currency, sent.price_list) == ("30", "SEVAT", "SEK", "A")
    assert sent.default_templates is not None and sent.default_delivery_types is not None
    payload = sent.to_payload()
    assert payload["DefaultTemplates"] == {"Invoice": "fakt", "Order": "orderbekr"}
    assert payload["DefaultDeliveryTypes"] == {"Invoice": "EMAIL", "Order": "EMAIL"}
    assert "CustomerNumber" not in payload
    OpenApiSpec.load("fortnox/openapi.json").validate_request("POST", "/3/customers", {"Customer": payload}, {})


def test_a_created_customer_is_accepted_by_the_fortnox_simulator(fortnox: FortnoxClient) -> None:
    settings = PortalSettings(customer_defaults=CustomerDefaults(
        terms_of_payment="30", price_list="A", invoice_print_template="fakt", default_delivery_type="EMAIL"))
    resolution = resolve_customer(deal_with(company(), contact()), settings, fortnox)
    stored = fortnox.get_customer(resolution.customer_number)
    assert (stored.name, stored.organisation_number, stored.email, stored.terms_of_payment) == (
        "Acme AB", "556677-8899", "asa@acme.se", "30")


EVERY_DEFAULT = CustomerDefaults(
    terms_of_payment="30", vat_type="EUREVERSEDVAT", currency="EUR", price_list="A", invoice_print_template="fakt",
    order_print_template="orderbekr", offer_print_template="offert", way_of_delivery="P", terms_of_delivery="FVL",
    sales_account="3308", cost_center="SALJ", project="1")


def test_a_new_customer_gets_every_default_as_fortnox_names_it() -> None:
    fortnox = FakeCustomers()
    resolve_customer(deal_with(company(), contact()), PortalSettings(customer_defaults=EVERY_DEFAULT), fortnox)
    [sent] = fortnox.made("create")
    payload = sent.to_payload()
    assert {name: payload[name] for name in ("TermsOfPayment", "VATType", "Currency", "PriceList", "WayOfDelivery",
                                             "TermsOfDelivery", "SalesAccount", "CostCenter", "Project")} == {
        "TermsOfPayment": "30", "VATType": "EUREVERSEDVAT", "Currency": "EUR", "PriceList": "A",
        "WayOfDelivery": "P", "TermsOfDelivery": "FVL", "SalesAccount": "3308", "CostCenter": "SALJ", "Project": "1"}
    assert payload["DefaultTemplates"] == {"Invoice": "fakt", "Order": "orderbekr", "Offer": "offert"}
    OpenApiSpec.load("fortnox/openapi.json").validate_request("POST", "/3/customers", {"Customer": payload}, {})


def test_every_default_is_kept_by_the_fortnox_simulator(fortnox: FortnoxClient) -> None:
    resolution = resolve_customer(deal_with(company(), contact()), PortalSettings(customer_defaults=EVERY_DEFAULT),
                                  fortnox)
    stored = fortnox.get_customer(resolution.customer_number)
    assert (stored.way_of_delivery, stored.terms_of_delivery, stored.sales_account, stored.cost_center,
            stored.project, stored.vat_type) == ("P", "FVL", "3308", "SALJ", "1", "EUREVERSEDVAT")
    assert stored.default_templates is not None and stored.default_templates.offer == "offert"


def test_unset_defaults_leave_fortnox_its_predefined_values() -> None:
    fortnox = FakeCustomers()
    resolve_customer(deal_with(company(), contact()), PortalSettings(), fortnox)
    [sent] = fortnox.made("create")
    payload = sent.to_payload()
    assert not {"WayOfDelivery", "TermsOfDelivery", "SalesAccount", "CostCenter", "Project",
                "DefaultTemplates"} & set(payload)


def test_a_private_customer_is_named_from_first_and_last_name() -> None:
    fortnox = FakeCustomers()
    resolution = resolve_customer(deal_with(None, contact()), PortalSettings(), fortnox)
    [sent] = fortnox.made("create")
    assert (sent.name, sent.type, sent.email, sent.phone1) == ("Åsa Öberg", "PRIVATE", "asa@acme.se", "070-123 45 67")
    assert resolution.write_back is not None and resolution.write_back.object_type == "contacts"


def test_a_mapped_full_name_property_wins_over_first_and_last_name() -> None:
    mappings = CustomerFieldMappings(contact={"Name": "full_name", "Email": "email"})
    draft = customer_from_record(contact(full_name="Dr. Åsa Öberg-Lind"),
                                 PortalSettings(customer_fields=mappings))
    assert draft.customer.name == "Dr. Åsa Öberg-Lind"
    assert draft.mapped_fields == ["Name", "Email"]


def test_a_contact_without_a_name_is_named_after_its_email_and_without_either_it_fails() -> None:
    draft = customer_from_record(contact(firstname=None, lastname=None), PortalSettings())
    assert draft.customer.name == "asa@acme.se" and [w.code for w in draft.warnings] == ["NAME_FROM_EMAIL"]
    with pytest.raises(UserFixableError, match="no name"):
        customer_from_record(contact(firstname=None, lastname=None, email=None), PortalSettings())


def test_over_long_values_are_cut_with_a_warning_and_bad_ones_left_out() -> None:
    draft = customer_from_record(company(zip="123 45 678 90", country="Atlantis", name="Å" * 1100,
                                         phone="+46 8 🤙 1"), PortalSettings())
    customer = draft.customer
    assert customer.zip_code == "123 45 67…" and len(customer.name) == 1024
    assert customer.country_code is None and customer.phone1 == "+46 8 1"
    assert sorted(w.code for w in draft.warnings) == ["TEXT_CHARACTERS_REMOVED", "TEXT_CUT", "TEXT_CUT",
                                                      "UNKNOWN_COUNTRY"]
    customer.to_payload()


def test_an_invalid_email_is_left_out_with_a_warning() -> None:
    draft = customer_from_record(contact(email="asa at acme"), PortalSettings())
    assert draft.customer.email is None and "INVALID_EMAIL" in [w.code for w in draft.warnings]


def test_country_names_become_iso_codes() -> None:
    assert [country_code(v) for v in ("Sweden", "sverige", "se", "Norge", "United Kingdom", "Narnia")] == [
        "SE", "SE", "SE", "NO", "GB", None]


# -- updating --------------------------------------------------------------------------------------

def test_a_matched_customer_gets_the_mapped_fields_that_changed_and_nothing_else() -> None:
    fortnox = FakeCustomers(existing_acme(terms_of_payment="10"))
    record = company(address="Nya vägen 5", city="Göteborg")
    resolution = resolve_customer(deal_with(record), PortalSettings(), fortnox)
    [sent] = fortnox.made("update")
    assert resolution.action == "updated" and resolution.changed_fields == ["Address1", "City"]
    assert sent.model_dump(exclude_none=True) == {"name": "Acme AB", "address1": "Nya vägen 5", "city": "Göteborg"}
    assert fortnox.customers["17"].terms_of_payment == "10"


def test_the_deal_contacts_email_fills_a_new_company_customer_but_never_overwrites_a_matched_one() -> None:
    fortnox = FakeCustomers(existing_acme(email="faktura@acme.se"))
    resolution = resolve_customer(deal_with(company(), contact()), PortalSettings(), fortnox)
    assert resolution.action == "matched" and fortnox.customers["17"].email == "faktura@acme.se"


def test_empty_hubspot_values_never_clear_a_fortnox_field() -> None:
    fortnox = FakeCustomers(existing_acme())
    resolution = resolve_customer(deal_with(company(address=None, phone="")), PortalSettings(), fortnox)
    assert resolution.action == "matched" and fortnox.made("update") == []


def test_matched_customers_are_not_touched_when_updating_is_off() -> None:
    fortnox = FakeCustomers(existing_acme())
    resolution = resolve_customer(deal_with(company(address="Nya vägen 5")),
                                  PortalSettings(update_matched_customers=False), fortnox)
    assert resolution.action == "matched"
    # read once, for its VAT type (search results carry none), and never changed
    assert fortnox.made("get") == ["17"] and fortnox.made("update") == []


# -- customer numbers ------------------------------------------------------------------------------

HUBSPOT_NUMBERS = PortalSettings(customer_number=CustomerNumberRule(source="hubspot_property",
                                                                    hubspot_property="customer_no"))


def test_a_customer_number_from_hubspot_creates_the_customer_under_that_number() -> None:
    fortnox = FakeCustomers()
    resolution = resolve_customer(deal_with(company(customer_no="ACME-1")), HUBSPOT_NUMBERS, fortnox)
    assert fortnox.made("find") == [{"customernumber": "ACME-1"}]
    assert resolution.customer_number == "ACME-1" and resolution.action == "created"
    assert resolution.write_back is None


def test_a_customer_number_from_hubspot_names_an_existing_customer_even_with_another_org_number() -> None:
    fortnox = FakeCustomers(existing_acme(customer_number="ACME-1", organisation_number="559999-0000"))
    resolution = resolve_customer(deal_with(company(customer_no="ACME-1")),
                                  HUBSPOT_NUMBERS.model_copy(update={"update_matched_customers": False}), fortnox)
    assert (resolution.customer_number, resolution.action) == ("ACME-1", "matched")


@pytest.mark.parametrize("number", ["ÅÄÖ-1", "ACME 1", "acme#1"])
def test_a_customer_number_fortnox_would_refuse_is_reported_before_calling_fortnox(number: str) -> None:
    fortnox = FakeCustomers()
    with pytest.raises(UserFixableError) as failure:
        resolve_customer(deal_with(company(customer_no=number)), HUBSPOT_NUMBERS, fortnox)
    assert failure.value.code == "INVALID_CUSTOMER_NUMBER" and number in failure.value.message
    assert fortnox.calls == []


def test_a_missing_customer_number_in_hubspot_says_which_property_to_fill() -> None:
    with pytest.raises(UserFixableError) as failure:
        resolve_customer(deal_with(company()), HUBSPOT_NUMBERS, FakeCustomers())
    assert failure.value.code == "MISSING_CUSTOMER_NUMBER" and "customer_no" in failure.value.message


def test_no_write_back_when_the_record_already_carries_the_number_or_write_back_is_off() -> None:
    fortnox = FakeCustomers(existing_acme())
    linked = resolve_customer(deal_with(company(fortnox_customer_number="17")), PortalSettings(), fortnox)
    assert linked.write_back is None
    off = PortalSettings(customer_number=CustomerNumberRule(write_back_property=None))
    assert resolve_customer(deal_with(company()), off, fortnox).write_back is None


def test_without_a_contact_rule_a_private_customer_is_created_or_found_by_its_link() -> None:
    settings = PortalSettings(contact_match=None)
    fortnox = FakeCustomers()
    first = resolve_customer(deal_with(None, contact()), settings, fortnox)
    fortnox.calls.clear()
    again = resolve_record_customer(contact(fortnox_customer_number=first.customer_number), settings, fortnox)
    assert (first.action, again.action, again.customer_number) == ("created", "matched", first.customer_number)
    assert fortnox.calls == [("get", first.customer_number)]  # the link is read by number, whole


def test_a_linked_customer_costs_one_read_by_number_even_when_matched_customers_are_updated() -> None:
    fortnox = FakeCustomers(existing_acme(vat_type="SEVAT"))
    record = company(fortnox_customer_number="17")
    resolution = resolve_customer(deal_with(record), PortalSettings(update_matched_customers=True), fortnox)
    assert (resolution.customer_number, resolution.action) == ("17", "matched")
    assert fortnox.calls == [("get", "17")]


def test_a_linked_number_fortnox_could_never_have_is_matched_again_without_asking_for_it() -> None:
    fortnox = FakeCustomers(existing_acme())
    resolution = resolve_customer(deal_with(company(fortnox_customer_number="1 7")), PortalSettings(), fortnox)
    assert resolution.customer_number == "17"
    assert "LINKED_CUSTOMER_GONE" in [w.code for w in resolution.warnings]
    assert ("get", "1 7") not in fortnox.calls


def test_a_contact_rule_on_phone_searches_fortnoxs_phone() -> None:
    settings = PortalSettings(contact_match=ContactMatchRule(hubspot_property="phone", fortnox_field="Phone1"))
    fortnox = FakeCustomers(FortnoxCustomer(customer_number="5", name="Åsa", phone1="070-123 45 67"))
    resolution = resolve_customer(deal_with(None, contact()), settings, fortnox)
    assert fortnox.made("find") == [{"phone": "070-123 45 67"}] and resolution.customer_number == "5"


@pytest.fixture
def fortnox() -> FortnoxClient:
    """The real Fortnox client on a fresh company of the Fortnox simulator, on a hand-moved clock."""
    clock = FakeClock()
    simulator = FortnoxSimulator(clock=clock, wall_clock=clock)
    http = build_http_client("https://api.fortnox.se", transport=httpx.WSGITransport(app=simulator))
    tenant = str(http.post("/_sandbox/companies", json={"serviceConsent": {"clientId": "cid"}}).json()["tenantId"])
    tokens = FortnoxOAuth(http, client_id="cid", client_secret="s", auth_url="https://apps.fortnox.se"
                          ).client_credentials(tenant)

    class Token:
        def token(self) -> str:
            return tokens.access_token

        def invalidate(self, token: str) -> None:
            pass

    return FortnoxClient(http, Token(), LocalRateBudget(clock=clock, sleep=clock.sleep),
                         FortnoxClient.tenant_key_for("cid", tenant))


# -- looking up without changing anything (the app card) ---------------------------------------------


def test_a_record_is_looked_up_by_the_match_rule_and_nothing_is_created_or_changed() -> None:
    fortnox = FakeCustomers(existing_acme())
    record = company(organisation_number="556677-8899", name="Acme Aktiebolag")
    assert find_customer_number(record, PortalSettings(), fortnox) == "17"
    assert fortnox.made("create") == [] and fortnox.made("update") == []


def test_a_linked_customer_number_is_found_before_the_rule_is_used() -> None:
    fortnox = FakeCustomers(existing_acme(), existing_acme(customer_number="18", organisation_number="556606-0793"))
    record = company(organisation_number="556677-8899", fortnox_customer_number="18")
    assert find_customer_number(record, PortalSettings(), fortnox) == "18"


def test_a_record_without_the_rules_value_or_a_match_has_no_customer_and_no_error() -> None:
    fortnox = FakeCustomers(existing_acme())
    assert find_customer_number(company(organisation_number=None), PortalSettings(), fortnox) is None
    assert find_customer_number(company(organisation_number="556606-0793"), PortalSettings(), fortnox) is None
    assert find_customer_number(contact(email="nobody@example.se"), PortalSettings(), fortnox) is None
    assert fortnox.made("create") == []
