"""Back from Fortnox, end to end: what the bookkeeper and the customer do in Fortnox reaches the
deals and the company in HubSpot within one poller tick, through the local gateway.

Four deals become four invoices through the worker; in Fortnox all are booked and sent, the
customer pays #1 in full and #2 in part, #3 is credited (and its credit invoice booked), #4 falls
overdue; ONE poller tick later every deal and the company hold the new state, and a second tick
writes nothing to HubSpot. A HubSpot workflow on "status is paid" enrolls the paid deal exactly
once; the deal card then answers from the properties without asking Fortnox; and an install made
before the status properties existed gets them on its next tick.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hubnox.hubspot import paths
from hubnox.hubspot import properties as app_properties
from hubnox.hubspot.app_properties import CURSOR as APP_PROPERTIES_CURSOR
from hubnox.jobs import JobQueue, submit
from hubnox.records import Run, RunRequest
from hubnox.store.cursors import CursorStore
from hubnox.store.runs import RunStore
from hubnox.store.table import cursor_key
from sandbox.admin import (
    add_workflow_trigger,
    bookkeep_invoice,
    credit_invoice,
    make_overdue,
    pay_invoice,
    send_invoice,
    workflow_enrollments,
)
from sandbox.hubspot import HubSpotSimulator
from tests.e2e.test_card import fetch_card
from tests.support.workflows import CRM, Rep, drain, fortnox_invoices, table, tick

pytestmark = pytest.mark.e2e

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DEAL_TO_COMPANY_PRIMARY = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}
LINE_ITEM_TO_DEAL = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}
#: one line each, so every invoice has a round total (10 000 + 25 % VAT = 12 500 SEK)
LINE = {"name": "Onboarding workshop", "quantity": "1", "price": "10000.00", "hs_sku": "HNX-ONB"}
PART_PAYMENT = Decimal("5000")
OVERDUE_DAYS = 3

#: the deal properties the status sync writes (hubnox.hubspot.properties), and the document's number
DEAL_PROPERTIES = (
    "fortnox_document_status", "fortnox_document_total", "fortnox_document_balance", "fortnox_document_currency",
    "fortnox_credit_invoice_number", "fortnox_document_due_date", "fortnox_document_final_pay_date",
    "fortnox_status_synced_at", "fortnox_document_number",
)
#: the customer totals on companies and contacts, and the customer number they are keyed by
CUSTOMER_PROPERTIES = (
    "fortnox_outstanding_balance", "fortnox_overdue_amount", "fortnox_unpaid_invoices", "fortnox_overdue_invoices",
    "fortnox_last_payment_date", "fortnox_customer_number",
)


# -- helpers ----------------------------------------------------------------------------------------


@pytest.fixture
def rep(stack, connected_portal) -> Rep:
    return Rep(stack, connected_portal.portal_id, connected_portal.hubspot_token)


def company_with_deals(rep: Rep, count: int) -> tuple[str, list[str]]:
    """One customer company with `count` deals, each with one line item; answers their ids."""
    company = rep.call("POST", f"{CRM}/companies", 201, json={"properties": {
        "name": "Acme AB", "organisation_number": "556036-0793", "city": "Stockholm", "country": "SE"},
        "associations": []})
    deals = []
    for i in range(count):
        deal = rep.call("POST", f"{CRM}/0-3", 201, json={"properties": {
            "dealname": f"Acme AB - order {i + 1}", "pipeline": "default", "dealstage": "contractsent",
            "deal_currency_code": "SEK"},
            "associations": [{"to": {"id": company["id"]}, "types": [DEAL_TO_COMPANY_PRIMARY]}]})
        rep.call("POST", f"{CRM}/line_items", 201, json={
            "properties": LINE, "associations": [{"to": {"id": deal["id"]}, "types": [LINE_ITEM_TO_DEAL]}]})
        deals.append(str(deal["id"]))
    return str(company["id"]), deals


def enqueue(stack, portal_id: str, deal_id: str) -> Run:
    """The job the card's "create invoice" hands the worker (as tests/e2e/test_documents.py does)."""
    queue = JobQueue(stack.aws("sqs"), stack.environment["JOBS_QUEUE_URL"])
    request = RunRequest(portal_id=portal_id, kind="create_document", trigger="card", object_type="deal",
                         object_id=deal_id, document_type="invoice", trigger_key="manual:invoice")
    return submit(RunStore(table(stack), time.time), queue, request)


def invoices_for(stack, tenant_id: str, deal_ids: list[str]) -> list[dict[str, Any]]:
    """The one Fortnox invoice each deal became, in the deals' order. A credit invoice copies its
    original's ExternalInvoiceReference1 (the Fortnox simulator's decision), so it is left out."""
    found = []
    for deal_id in deal_ids:
        [invoice] = [i for i in fortnox_invoices(stack, tenant_id, deal_id) if str(i.get("Credit")) != "true"]
        found.append(invoice)
    return found


def properties(rep: Rep, kind: str, object_id: str, names: tuple[str, ...]) -> dict[str, Any]:
    return rep.call("GET", f"{CRM}/{kind}/{object_id}", params={"properties": ",".join(names)})["properties"]


def money(value: Any) -> Decimal | None:
    """A HubSpot number property as a Decimal ("12500", "12500.0" and "12500.00" are equal)."""
    return None if value in (None, "") else Decimal(str(value))


def today_in_sweden() -> str:
    return datetime.now(STOCKHOLM).date().isoformat()


def hubspot_writes(stack, portal_id: str, after_id: int) -> list[dict[str, Any]]:
    """hubnox's writes to the portal's CRM since the request `after_id` (reads, searches and batch
    reads left out); the HubSpot simulator's request log names the portal of each API call."""
    requests = stack.hubspot.get("/_sandbox/requests", params={"since": after_id}).json()["requests"]
    return [r for r in requests
            if r["id"] > after_id and r["tenant"] == str(portal_id) and r["path"].startswith("/crm/")
            and (r["method"] in ("PATCH", "PUT", "DELETE")
                 or (r["method"] == "POST" and not r["path"].endswith(("/search", "/batch/read"))))]


def last_request_id(simulator) -> int:
    """The newest request id in a simulator's request log (`stack.hubspot` or `stack.fortnox`)."""
    requests = simulator.get("/_sandbox/requests").json()["requests"]
    return max((r["id"] for r in requests), default=0)


def fortnox_api_calls(stack, after_id: int) -> list[dict[str, Any]]:
    """The Fortnox API calls (not the sandbox controls) since the request `after_id`."""
    requests = stack.fortnox.get("/_sandbox/requests", params={"since": after_id}).json()["requests"]
    return [r for r in requests if r["path"].startswith("/3/")]


def made_and_booked(stack, rep: Rep, portal_id: str, tenant_id: str, count: int) -> tuple[str, list[str], list[str]]:
    """`count` deals of one company made into invoices by the worker and booked in Fortnox: the
    company, the deals and their invoice numbers."""
    company_id, deals = company_with_deals(rep, count)
    for deal_id in deals:
        enqueue(stack, portal_id, deal_id)
    drain(stack)
    numbers = [str(i["DocumentNumber"]) for i in invoices_for(stack, tenant_id, deals)]
    for number in numbers:
        bookkeep_invoice(stack.urls["fortnox_api"], tenant_id, number)
    return company_id, deals, numbers


def hubspot_simulator(stack) -> HubSpotSimulator:
    """The HubSpot simulator the stack runs in this process (to set up what its API cannot: a portal
    whose hubnox properties predate version 2)."""
    [simulator] = [s.server.app for s in stack.running.servers if isinstance(s.server.app, HubSpotSimulator)]
    return simulator


# -- the story --------------------------------------------------------------------------------------


def test_paid_part_paid_credited_and_overdue_invoices_reach_their_deals_and_company_in_one_cycle(
        stack, connected_portal, rep):
    portal_id, tenant_id = connected_portal.portal_id, connected_portal.tenant_id
    fortnox_url = stack.urls["fortnox_api"]
    company_id, deals = company_with_deals(rep, 4)
    for deal_id in deals:
        enqueue(stack, portal_id, deal_id)
    drain(stack)
    made = invoices_for(stack, tenant_id, deals)
    numbers = [str(i["DocumentNumber"]) for i in made]

    # The bookkeeper's day in Fortnox.
    for number in numbers:
        bookkeep_invoice(fortnox_url, tenant_id, number)
        send_invoice(fortnox_url, tenant_id, number)
    pay_invoice(fortnox_url, tenant_id, numbers[0])
    pay_invoice(fortnox_url, tenant_id, numbers[1], amount=PART_PAYMENT)
    credit_number = str(credit_invoice(fortnox_url, tenant_id, numbers[2])["CreditInvoice"]["DocumentNumber"])
    bookkeep_invoice(fortnox_url, tenant_id, credit_number)
    overdue = make_overdue(fortnox_url, tenant_id, numbers[3], days=OVERDUE_DAYS)["Invoice"]

    seen = last_request_id(stack.hubspot)
    tick(stack)  # one cycle: the poller's tick sends the status message and drains it
    writes = hubspot_writes(stack, portal_id, seen)
    # Batch updates only: one for the four deals, one for the company (no contact is a customer here).
    assert [(w["method"], w["path"]) for w in writes] == [
        ("POST", paths.batch_update(paths.DEALS)), ("POST", paths.batch_update(paths.COMPANIES))]

    after = invoices_for(stack, tenant_id, deals)
    paid, partly, credited, late = (properties(rep, "0-3", d, DEAL_PROPERTIES) for d in deals)
    total = Decimal(str(after[0]["Total"]))
    assert total == Decimal("12500")  # 10 000 SEK and 25 % VAT

    assert paid["fortnox_document_status"] == "paid"
    assert money(paid["fortnox_document_balance"]) == 0
    assert money(paid["fortnox_document_total"]) == total
    assert paid["fortnox_document_final_pay_date"] == today_in_sweden()
    assert paid["fortnox_document_currency"] == "SEK"
    assert paid["fortnox_status_synced_at"]  # the card reads the properties once this is set

    assert partly["fortnox_document_status"] == "partly_paid"
    assert money(partly["fortnox_document_balance"]) == total - PART_PAYMENT
    assert not partly["fortnox_document_final_pay_date"]

    assert credited["fortnox_document_status"] == "credited"
    assert credited["fortnox_credit_invoice_number"] == credit_number
    assert money(credited["fortnox_document_balance"]) == 0  # sandbox decision: booking the credit zeroes both

    assert late["fortnox_document_status"] == "overdue"
    assert late["fortnox_document_due_date"] == overdue["DueDate"]
    assert date.fromisoformat(late["fortnox_document_due_date"]) < date.fromisoformat(today_in_sweden())
    assert money(late["fortnox_document_balance"]) == Decimal(str(after[3]["Balance"])) == total

    customer = properties(rep, "companies", company_id, CUSTOMER_PROPERTIES)
    assert customer["fortnox_customer_number"] == str(after[0]["CustomerNumber"])
    assert money(customer["fortnox_outstanding_balance"]) == (total - PART_PAYMENT) + total
    assert money(customer["fortnox_overdue_amount"]) == total
    assert money(customer["fortnox_unpaid_invoices"]) == 2
    assert money(customer["fortnox_overdue_invoices"]) == 1
    assert customer["fortnox_last_payment_date"] == today_in_sweden()

    # A quiet cycle: nothing changed in Fortnox, so nothing is written to HubSpot.
    seen = last_request_id(stack.hubspot)
    tick(stack)
    assert hubspot_writes(stack, portal_id, seen) == []
    assert properties(rep, "0-3", deals[0], DEAL_PROPERTIES)["fortnox_document_status"] == "paid"


def test_a_workflow_enrolls_the_deal_once_when_its_invoice_is_paid(stack, connected_portal, rep):
    """A HubSpot workflow "Fortnox document status is paid" enrolls the deal when hubnox writes it,
    not before, and a repeat cycle does not enroll it again."""
    portal_id, tenant_id = connected_portal.portal_id, connected_portal.tenant_id
    hubspot_url, fortnox_url = stack.urls["hubspot_api"], stack.urls["fortnox_api"]
    trigger = add_workflow_trigger(hubspot_url, portal_id, "deals", "fortnox_document_status", "paid")
    _, [deal_id, unpaid_id] = company_with_deals(rep, 2)
    for deal in (deal_id, unpaid_id):
        enqueue(stack, portal_id, deal)
    drain(stack)
    made = invoices_for(stack, tenant_id, [deal_id, unpaid_id])
    paid_number, unpaid_number = (str(i["DocumentNumber"]) for i in made)
    for number in (paid_number, unpaid_number):
        bookkeep_invoice(fortnox_url, tenant_id, number)
    tick(stack)
    assert workflow_enrollments(hubspot_url, trigger) == []  # booked is not paid

    pay_invoice(fortnox_url, tenant_id, paid_number)
    tick(stack)
    [enrolled] = workflow_enrollments(hubspot_url, trigger)
    assert enrolled["objectId"] == deal_id
    assert enrolled["changeSource"] == "INTEGRATION"  # hubnox's batch update, not a person

    tick(stack)
    assert len(workflow_enrollments(hubspot_url, trigger)) == 1


def test_with_the_properties_synced_the_deal_card_answers_without_asking_fortnox(stack, connected_portal, rep):
    portal_id, tenant_id = connected_portal.portal_id, connected_portal.tenant_id
    _, [deal_id], [number] = made_and_booked(stack, rep, portal_id, tenant_id, 1)
    pay_invoice(stack.urls["fortnox_api"], tenant_id, number)
    tick(stack)

    seen = last_request_id(stack.fortnox)
    card = fetch_card(stack, portal_id, "0-3", deal_id)

    assert fortnox_api_calls(stack, seen) == []
    document = card["document"]
    assert (document["type"], document["number"], document["status"], document["source"]) == (
        "invoice", number, "paid", "hubspot")
    assert document["syncedAt"]
    assert money(document["balance"]) == 0 and money(document["total"]) == Decimal("12500")


def test_a_deal_card_still_reads_fortnox_before_the_first_sync(stack, connected_portal, rep):
    """The other side of the card's choice: without synced properties Fortnox is asked, so the test
    above shows the properties at work, not a card that never calls Fortnox."""
    portal_id, tenant_id = connected_portal.portal_id, connected_portal.tenant_id
    _, [deal_id], [number] = made_and_booked(stack, rep, portal_id, tenant_id, 1)

    seen = last_request_id(stack.fortnox)
    card = fetch_card(stack, portal_id, "0-3", deal_id)

    assert [r["path"] for r in fortnox_api_calls(stack, seen)] == [f"/3/invoices/{number}"]
    assert (card["document"]["number"], card["document"]["source"]) == (number, "fortnox")


def test_an_install_with_only_the_first_properties_gets_the_status_properties_on_its_next_tick(
        stack, connected_portal, rep):
    portal_id, tenant_id = connected_portal.portal_id, connected_portal.tenant_id
    company_id, [deal_id], [number] = made_and_booked(stack, rep, portal_id, tenant_id, 1)
    # Make the portal what an install before version 2 left: no status properties, the five first
    # statuses, and no recorded property version.
    portal = hubspot_simulator(stack).portal(portal_id)
    new_names = {"deals": [p["name"] for p in app_properties.STATUS_DEAL_PROPERTIES],
                 "companies": [p["name"] for p in app_properties.CUSTOMER_AGGREGATE_PROPERTIES],
                 "contacts": [p["name"] for p in app_properties.CUSTOMER_AGGREGATE_PROPERTIES]}
    for kind, names in new_names.items():
        for name in names:
            del portal.properties[kind][name]
    status = portal.properties["deals"][app_properties.DOCUMENT_STATUS]
    status.options = [o for o in status.options if o["value"] in ("draft", "booked", "sent", "paid", "cancelled")]
    table(stack).delete(cursor_key(portal_id, APP_PROPERTIES_CURSOR))
    pay_invoice(stack.urls["fortnox_api"], tenant_id, number, amount=PART_PAYMENT)

    tick(stack)

    for kind, names in new_names.items():
        for name in names:
            assert name in portal.properties[kind], (kind, name)
    assert "partly_paid" in [o["value"] for o in portal.properties["deals"][app_properties.DOCUMENT_STATUS].options]
    assert CursorStore(table(stack)).get(portal_id, APP_PROPERTIES_CURSOR) == str(app_properties.APP_PROPERTIES_VERSION)
    # The same cycle wrote the new properties: the upgrade comes before the writes.
    deal = properties(rep, "0-3", deal_id, DEAL_PROPERTIES)
    assert deal["fortnox_document_status"] == "partly_paid"
    assert money(deal["fortnox_document_balance"]) == Decimal("12500") - PART_PAYMENT
    assert money(properties(rep, "companies", company_id, CUSTOMER_PROPERTIES)["fortnox_outstanding_balance"]) == (
        Decimal("12500") - PART_PAYMENT)
