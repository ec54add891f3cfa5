"""Through the whole local stack: a deal owned by a rep, with a line item at the 12 % food rate of the
portal's tax-rate library, enrolled in hubnox's workflow action with a print template chosen, becomes
one draft invoice whose row carries VAT 12, whose OurReference is the owner's name and whose print
template is the one the workflow chose."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support.workflows import CRM, LINE_ITEM_TO_DEAL, Rep, callback, drain, fortnox_invoices

pytestmark = pytest.mark.e2e

DEAL_TO_COMPANY_PRIMARY = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}


@pytest.fixture
def rep(stack, connected_portal) -> Rep:
    return Rep(stack, connected_portal.portal_id, connected_portal.hubspot_token)


def portal_account(stack, portal_id: str) -> dict[str, Any]:
    """The portal's tax-rate library and owners, as HubSpot holds them."""
    return stack.hubspot.get(f"/_sandbox/portals/{portal_id}").json()


def hire(stack, portal_id: str, first: str, last: str) -> str:
    """A new user of the portal, so a new owner records can be assigned to; answers the owner id."""
    answer = stack.hubspot.post(f"/_sandbox/portals/{portal_id}/owners", json={
        "firstName": first, "lastName": last, "email": f"{first.lower()}@acme.example"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def owned_deal_with_a_food_line(rep: Rep, owner_id: str, food_rate_id: str) -> str:
    company = rep.call("POST", f"{CRM}/companies", 201, json={"properties": {
        "name": "Konferensgården AB", "organisation_number": "556677-8899", "city": "Uppsala", "country": "SE"},
        "associations": []})
    deal = rep.call("POST", f"{CRM}/0-3", 201, json={"properties": {
        "dealname": "Konferensgården AB - kickoff", "pipeline": "default", "dealstage": "contractsent",
        "deal_currency_code": "SEK", "hubspot_owner_id": owner_id},
        "associations": [{"to": {"id": company["id"]}, "types": [DEAL_TO_COMPANY_PRIMARY]}]})
    for line in ({"name": "Workshop", "quantity": "1", "price": "8000", "hs_sku": "KICK-WS"},
                 {"name": "Konferenslunch", "quantity": "12", "price": "145", "hs_sku": "KICK-LUNCH",
                  "hs_tax_rate_group_id": food_rate_id}):
        rep.call("POST", f"{CRM}/line_items", 201, json={
            "properties": line, "associations": [{"to": {"id": deal["id"]}, "types": [LINE_ITEM_TO_DEAL]}]})
    return str(deal["id"])


def test_a_food_line_and_an_owner_become_vat_12_and_our_reference_with_the_chosen_template(
        stack, connected_portal, rep):
    portal_id = connected_portal.portal_id
    food = next(rate for rate in portal_account(stack, portal_id)["taxRates"] if rate["percentageRate"] == 12)
    deal_id = owned_deal_with_a_food_line(rep, hire(stack, portal_id, "Sara", "Säljare"), food["id"])

    enrolled = stack.hubspot.post("/_sandbox/workflows/enroll", json={
        "portalId": int(portal_id), "clientId": stack.environment["HUBSPOT_CLIENT_ID"],
        "objectType": "DEAL", "objectId": deal_id,
        "actionUrl": f"{stack.running.gateway_url}/hubspot/actions/create-document",
        "inputFields": {"documentType": "invoice", "printTemplate": "faktura_en"}}).json()
    assert enrolled["state"] == "BLOCKED", enrolled
    drain(stack)

    [invoice] = fortnox_invoices(stack, connected_portal.tenant_id, deal_id)
    assert [(row["Description"], Decimal(str(row["VAT"]))) for row in invoice["InvoiceRows"]] == [
        ("Workshop", Decimal(25)), ("Konferenslunch", Decimal(12))]
    assert Decimal(str(invoice["TotalVAT"])) == Decimal("2000") + Decimal("208.80")
    assert (invoice["OurReference"], invoice["PrintTemplate"]) == ("Sara Säljare", "faktura_en")
    done = callback(stack, enrolled["callbackId"])
    assert (done["executionState"], done["outputFields"]["documentNumber"]) == ("SUCCESS",
                                                                               invoice["DocumentNumber"])
    [note] = rep.notes(deal_id)
    assert "was created as a draft" in note and "tax_rates.read" not in note
