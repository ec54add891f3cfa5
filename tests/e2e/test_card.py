"""The app card end to end: HubSpot (the simulator) fetches the card from the gateway as
`hubspot.fetch` does, signed, for records whose Fortnox side was set up through Fortnox's own API."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from hubnox.store.deal_links import DealLinkStore
from hubnox.store.table import Table
from sandbox.admin import AdminBrowser, install_hubnox, open_login_link

pytestmark = pytest.mark.e2e


def fetch_card(stack, portal_id: str, object_type: str, object_id: str) -> dict[str, Any]:
    """The card's JSON, fetched by the HubSpot simulator from the gateway as a record page does."""
    query = urlencode({"objectType": object_type, "objectId": object_id})
    # The card belongs to hubnox's app, so HubSpot signs with its secret (the portal has other apps too).
    answer = stack.hubspot.post("/_sandbox/cards/fetch", json={
        "portalId": int(portal_id), "appId": int(stack.environment["HUBSPOT_APP_ID"]),
        "url": f"{stack.running.gateway_url}/hubspot/card?{query}"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["status"], result["error"], result["attempts"]) == (200, None, 1), result
    return result["body"]


OTHER_INTEGRATION = "bookkeeping-tool"


class FortnoxCompany:
    """The connected Fortnox company, spoken to through Fortnox's API as another integration would."""

    def __init__(self, stack, tenant_id: str) -> None:
        auth = stack.urls["fortnox_auth"]
        redirect_uri = "http://127.0.0.1/bookkeeping-tool"
        # The company's administrator consents to another integration (a bookkeeping tool) for the company.
        consent = httpx.get(f"{auth}/oauth-v1/auth", params={
            "client_id": OTHER_INTEGRATION, "redirect_uri": redirect_uri, "response_type": "code", "state": "s",
            "scope": "customer invoice bookkeeping", "access_type": "offline", "sandbox_tenant": tenant_id})
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        token = httpx.post(f"{auth}/oauth-v1/token", auth=(OTHER_INTEGRATION, "bookkeeping-secret"), timeout=10.0,
                           data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
        token.raise_for_status()
        self.tenant_id = tenant_id
        self.api = httpx.Client(base_url=stack.urls["fortnox_api"], timeout=10.0,
                                headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        self.control = stack.fortnox

    def customer(self, name: str) -> str:
        created = self.api.post("/3/customers", json={"Customer": {"Name": name}})
        assert created.status_code == 201, created.text
        return created.json()["Customer"]["CustomerNumber"]

    def invoice(self, customer: str, price: str, *, booked: bool = True, deal_id: str | None = None) -> dict[str, Any]:
        fields = {"CustomerNumber": customer, "Currency": "SEK",
                  "InvoiceRows": [{"Description": "Licence", "DeliveredQuantity": "1", "Price": price, "VAT": 25}]}
        if deal_id:
            fields["ExternalInvoiceReference1"] = deal_id
        created = self.api.post("/3/invoices", json={"Invoice": fields})
        assert created.status_code == 201, created.text
        invoice = created.json()["Invoice"]
        if booked:
            assert self.api.put(f"/3/invoices/{invoice['DocumentNumber']}/bookkeep").status_code == 200
        return invoice

    def make_overdue(self, number: str, days: int = 10) -> None:
        moved = self.control.post(f"/_sandbox/companies/{self.tenant_id}/invoices/{number}/overdue",
                                  json={"days": days})
        assert moved.status_code == 200, moved.text


def create_record(stack, token: str, object_type: str, properties: dict[str, str]) -> str:
    created = stack.hubspot.post(f"/crm/objects/2026-03/{object_type}", json={"properties": properties},
                                 headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_company_card_shows_its_fortnox_customer_with_unpaid_and_overdue_invoices(stack, connected_portal):
    fortnox = FortnoxCompany(stack, connected_portal.tenant_id)
    number = fortnox.customer("Kund AB")
    overdue = fortnox.invoice(number, "1000")
    fortnox.make_overdue(overdue["DocumentNumber"])
    unpaid = fortnox.invoice(number, "400")
    draft = fortnox.invoice(number, "50", booked=False)
    company_id = create_record(stack, connected_portal.hubspot_token, "companies",
                               {"name": "Kund AB", "fortnox_customer_number": number})

    card = fetch_card(stack, connected_portal.portal_id, "0-2", company_id)

    assert (card["state"], card["partial"], card["notes"]) == ("ready", False, [])
    assert card["fortnoxCompany"] == connected_portal.company_name
    customer = card["customer"]
    assert (customer["number"], customer["name"]) == (number, "Kund AB")
    assert (customer["unpaidCount"], customer["overdueCount"]) == (2, 1)
    owed = Decimal(str(overdue["Total"])) + Decimal(str(unpaid["Total"]))
    assert [(a["currency"], Decimal(a["amount"])) for a in customer["outstanding"]] == [("SEK", owed)]
    assert [(a["currency"], Decimal(a["amount"])) for a in customer["overdue"]] == [
        ("SEK", Decimal(str(overdue["Total"])))]
    statuses = {row["number"]: row["status"] for row in customer["invoices"]}
    assert statuses == {overdue["DocumentNumber"]: "overdue", unpaid["DocumentNumber"]: "unpaid",
                        draft["DocumentNumber"]: "draft"}
    assert [action["action"] for action in card["actions"]] == ["update-customer", "open-settings"]


def test_a_deal_card_shows_the_fortnox_invoice_made_for_it(stack, connected_portal):
    fortnox = FortnoxCompany(stack, connected_portal.tenant_id)
    deal_id = create_record(stack, connected_portal.hubspot_token, "0-3", {"dealname": "Kund AB licence"})
    invoice = fortnox.invoice(fortnox.customer("Kund AB"), "2000", booked=False, deal_id=deal_id)
    links = DealLinkStore(Table(stack.aws("dynamodb"), stack.environment["TABLE_NAME"]))
    run_id = uuid.uuid4().hex
    links.claim(connected_portal.portal_id, deal_id, "workflow:invoice", run_id)
    links.set_document(connected_portal.portal_id, deal_id, "workflow:invoice", "invoice", invoice["DocumentNumber"])

    card = fetch_card(stack, connected_portal.portal_id, "0-3", deal_id)

    assert (card["state"], card["objectType"], card["partial"]) == ("ready", "deal", False)
    document = card["document"]
    assert (document["type"], document["number"], document["status"]) == (
        "invoice", invoice["DocumentNumber"], "draft")
    assert Decimal(document["total"]) == Decimal(str(invoice["Total"]))
    assert Decimal(document["balance"]) == Decimal(str(invoice["Balance"]))
    assert [action["action"] for action in card["actions"]] == ["open-settings"]  # no second invoice offered


def test_a_deal_without_a_document_offers_create_invoice_now(stack, connected_portal):
    deal_id = create_record(stack, connected_portal.hubspot_token, "0-3", {"dealname": "Ny affär"})
    card = fetch_card(stack, connected_portal.portal_id, "0-3", deal_id)
    assert (card["state"], card["document"], card["lastRun"]) == ("ready", None, None)
    assert card["actions"][0] == {"action": "create-document", "label": "Create invoice now",
                                  "documentType": "invoice"}


def test_a_portal_without_fortnox_gets_a_card_that_links_to_the_settings(stack):
    browser = AdminBrowser()
    try:
        portal_id = install_hubnox(browser, stack.running.gateway_url)
    finally:
        browser.close()
    card = fetch_card(stack, portal_id, "0-2", "1")
    assert card["state"] == "fortnox_not_connected"
    rep = AdminBrowser()
    try:
        page = open_login_link(rep, card["settingsUrl"], portal_id=portal_id)  # HubSpot: the installer
    finally:
        rep.close()
    assert page.status_code == 200 and "Connect Fortnox" in page.text


def test_a_card_request_hubspot_did_not_sign_is_refused(stack, connected_portal):
    query = urlencode({"objectType": "0-3", "objectId": "1", "portalId": connected_portal.portal_id})
    answer = stack.gateway.get(f"/hubspot/card?{query}")
    assert answer.status_code == 401 and answer.json()["code"] == "SIGNATURE_MISSING"


def test_create_invoice_now_on_the_card_makes_the_invoice_the_card_then_shows(stack, connected_portal):
    headers = {"Authorization": f"Bearer {connected_portal.hubspot_token}"}
    contact_id = create_record(stack, connected_portal.hubspot_token, "contacts",
                               {"email": f"anna.{uuid.uuid4().hex[:8]}@kund.se", "firstname": "Anna",
                                "lastname": "Berg"})
    deal = stack.hubspot.post("/crm/objects/2026-03/0-3", headers=headers, json={
        "properties": {"dealname": "Kund AB seats", "deal_currency_code": "SEK"},
        "associations": [{"to": {"id": contact_id},
                          "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]})
    assert deal.status_code == 201, deal.text
    deal_id = str(deal.json()["id"])
    line = stack.hubspot.post("/crm/objects/2026-03/line_items", headers=headers, json={
        "properties": {"name": "Seat, 12 months", "quantity": "2", "price": "1490.50", "hs_sku": "HNX-SEAT"},
        "associations": [{"to": {"id": deal_id},
                          "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}]}]})
    assert line.status_code == 201, line.text
    before = fetch_card(stack, connected_portal.portal_id, "0-3", deal_id)
    create = next(action for action in before["actions"] if action["action"] == "create-document")

    clicked = stack.hubspot.post("/_sandbox/cards/fetch", json={
        "portalId": int(connected_portal.portal_id), "appId": int(stack.environment["HUBSPOT_APP_ID"]),
        "method": "POST", "body": {"documentType": create["documentType"]},
        "url": f"{stack.running.gateway_url}/hubspot/card/actions/create-document?"
               + urlencode({"objectType": "0-3", "objectId": deal_id})}).json()
    assert clicked["status"] == 200, clicked
    assert clicked["body"]["ok"] is True and clicked["body"]["status"] == "queued"
    drained = stack.gateway.post("/_sandbox/worker/drain").json()
    assert drained["timed_out"] is False

    after = fetch_card(stack, connected_portal.portal_id, "0-3", deal_id)
    assert after["lastRun"]["id"] == clicked["body"]["runId"]
    assert (after["lastRun"]["status"], after["lastRun"]["trigger"]) == ("succeeded", "card")
    assert (after["document"]["type"], after["document"]["status"]) == ("invoice", "draft")
    assert Decimal(after["document"]["total"]) > 0
    assert [action["action"] for action in after["actions"]] == ["open-settings"]


def test_a_company_never_synced_finds_its_fortnox_customer_by_organisation_number(stack, connected_portal):
    fortnox = FortnoxCompany(stack, connected_portal.tenant_id)
    created = fortnox.api.post("/3/customers", json={"Customer": {"Name": "Kund AB",
                                                                   "OrganisationNumber": "556036-0793"}})
    number = created.json()["Customer"]["CustomerNumber"]
    fortnox.invoice(number, "700")
    company_id = create_record(stack, connected_portal.hubspot_token, "companies",
                               {"name": "Kund AB", "organisation_number": "5560360793"})

    card = fetch_card(stack, connected_portal.portal_id, "0-2", company_id)

    assert card["state"] == "ready" and card["customer"]["number"] == number
    assert card["customer"]["unpaidCount"] == 1
    company = stack.fortnox.get(f"/_sandbox/companies/{connected_portal.tenant_id}").json()
    assert len(company["Customers"]) == 1  # looked up, nothing created


def test_a_contact_that_is_no_customer_itself_shows_the_customer_of_its_primary_company(stack, connected_portal):
    fortnox = FortnoxCompany(stack, connected_portal.tenant_id)
    number = fortnox.customer("Kund AB")
    fortnox.invoice(number, "300")
    token = connected_portal.hubspot_token
    former = create_record(stack, token, "companies", {"name": "Förra AB"})
    company_id = create_record(stack, token, "companies", {"name": "Kund AB", "fortnox_customer_number": number})
    contact = stack.hubspot.post("/crm/objects/2026-03/contacts", headers={"Authorization": f"Bearer {token}"},
                                 json={"properties": {"firstname": "Anna", "email": "anna@nowhere.example"},
                                       "associations": [
                                           {"to": {"id": former}, "types": [
                                               {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]},
                                           {"to": {"id": company_id}, "types": [
                                               {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]})
    assert contact.status_code == 201, contact.text

    card = fetch_card(stack, connected_portal.portal_id, "0-1", contact.json()["id"])

    assert (card["state"], card["partial"]) == ("ready", False)
    assert (card["customer"]["number"], card["customer"]["name"]) == (number, "Kund AB")
    assert card["customer"]["via"] == {"objectType": "company", "objectId": company_id, "name": "Kund AB"}
    assert card["customer"]["unpaidCount"] == 1
