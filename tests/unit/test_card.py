"""The app card: a company's or contact's Fortnox customer and what it owes, a deal's document and last
run, the states that say what to fix, the time budget, the cache, and the card's actions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hubnox.config import get_app_config
from hubnox.errors import (
    BadRequestError,
    ConnectionBrokenError,
    NotFoundError,
    TransientError,
    UserFixableError,
)
from hubnox.fortnox.errors import FortnoxNotFoundError
from hubnox.fortnox.health import ConnectionHealth, FeatureHealth
from hubnox.fortnox.models import FortnoxCustomer, Invoice, Order
from hubnox.fortnox.statuses import invoice_status, order_status, payment_status
from hubnox.hubspot import properties
from hubnox.hubspot.models import CrmObject
from hubnox.links import verify_replay
from hubnox.records import DealLink, FortnoxConnection, HubSpotConnection, Run, RunRequest
from hubnox.services.card.actions import CardActions
from hubnox.services.card.cache import CARD_TTL_SECONDS, IN_FLIGHT_TTL_SECONDS, PARTIAL_TTL_SECONDS, CardCache
from hubnox.services.card.request import CardRequest
from hubnox.services.card.service import CardService
from hubnox.signing import Signer
from sandbox.gateway import LocalFunction, functions_from_template, read_template
from sandbox.hubspot_signing import signature_headers
from tests.support.aws import REGION, TABLE
from tests.support.clock import FakeClock

PORTAL = "102670506"
BASE = "https://hubnox.example.com"
NOW = 1_795_771_433.0  # 2026-11-27
TODAY = date(2026, 11, 27)
SIGNING_KEY = "k" * 40


# -- fakes of the ports --------------------------------------------------------------------------------


class Connections:
    def __init__(self, hubspot: str | None = "active", fortnox: str | None = "active") -> None:
        self.hubspot = hubspot
        self.fortnox = fortnox

    def get_hubspot(self, portal_id: str) -> HubSpotConnection | None:
        if self.hubspot is None:
            return None
        return HubSpotConnection(portal_id=portal_id, installed_at=0, status=self.hubspot,  # type: ignore[arg-type]
                                 installed_by_user=ADMIN_USER_ID,
                                 broken_reason="refresh token revoked" if self.hubspot == "broken" else None)

    def get_fortnox(self, portal_id: str) -> FortnoxConnection | None:
        if self.fortnox is None:
            return None
        return FortnoxConnection(portal_id=portal_id, tenant_id="7001", company_name="Acme AB",
                                 auth_mode="client_credentials", connected_at=0,
                                 status=self.fortnox,  # type: ignore[arg-type]
                                 broken_reason="consent withdrawn" if self.fortnox == "broken" else None)


class Runs:
    def __init__(self, *runs: Run) -> None:
        self.latest = {(run.portal_id, run.object_type, run.object_id): run for run in runs}

    def latest_for_object(self, portal_id: str, object_type: str, object_id: str) -> Run | None:
        return self.latest.get((portal_id, object_type, object_id))


class DealLinks:
    def __init__(self, *links: DealLink) -> None:
        self.links = {(link.portal_id, link.deal_id, link.trigger_key): link for link in links}

    def get(self, portal_id: str, deal_id: str, trigger_key: str) -> DealLink | None:
        return self.links.get((portal_id, deal_id, trigger_key))


class Crm:
    """HubSpot records by (object type as the card names it, id)."""

    def __init__(self, records: dict[tuple[str, str], dict[str, str]] | None = None,
                 error: Exception | None = None) -> None:
        self.records = records or {}
        self.error = error
        self.reads: list[tuple[str, str]] = []

    def get_object(self, object_type: str, object_id: str, properties: Any = (), associations: Any = ()) -> CrmObject:
        kind = {"deals": "deal", "company": "company", "contact": "contact"}[object_type]
        self.reads.append((kind, object_id))
        if self.error is not None:
            raise self.error
        if (kind, object_id) not in self.records:
            raise NotFoundError(f"No {kind} {object_id}.")
        return CrmObject(id=object_id, properties=self.records[(kind, object_id)])


def invoice(number: str, customer: str = "1001", *, booked: bool = True, balance: str = "0", total: str = "1250",
            due: str = "2026-12-27", invoiced: str = "2026-11-27", currency: str = "SEK", sent: bool = False,
            cancelled: bool = False) -> Invoice:
    return Invoice.model_validate({
        "DocumentNumber": number, "CustomerNumber": customer, "CustomerName": "Kund AB", "Booked": booked,
        "Balance": balance, "Total": total, "DueDate": due, "InvoiceDate": invoiced, "Currency": currency,
        "Sent": sent, "Cancelled": cancelled,
    })


class Fortnox:
    """A Fortnox company with customers, invoices and orders; `gate` holds every call until it is set."""

    def __init__(self, customers: dict[str, str] | None = None, invoices: list[Invoice] | None = None,
                 orders: list[Order] | None = None, *, gate: threading.Event | None = None,
                 error: Exception | None = None) -> None:
        self.customers = customers or {}
        self.invoices = invoices or []
        self.orders = orders or []
        self.gate = gate
        self.error = error
        self.calls: list[tuple[str, ...]] = []

    def _enter(self, *call: str) -> None:
        self.calls.append(call)
        if self.gate is not None:
            self.gate.wait(5)
        if self.error is not None:
            raise self.error

    def get_customer(self, customer_number: str) -> FortnoxCustomer:
        self._enter("customer", customer_number)
        if customer_number not in self.customers:
            raise FortnoxNotFoundError(404, 2000433, "Kan inte hitta kunden")
        return FortnoxCustomer(customer_number=customer_number, name=self.customers[customer_number],
                               email="ekonomi@kund.se")

    def list_invoices(self, customer_number: str, filter: str | None = None) -> list[Invoice]:
        self._enter("invoices", customer_number, filter or "")
        mine = [i for i in self.invoices if i.customer_number == customer_number]
        if filter == "unpaid":
            return [i for i in mine if i.booked and not i.cancelled and i.balance]
        if filter == "unpaidoverdue":
            return [i for i in mine if i.booked and not i.cancelled and i.balance and i.due_date < TODAY]
        return mine

    def get_invoice(self, document_number: str) -> Invoice:
        self._enter("invoice", document_number)
        for found in self.invoices:
            if found.document_number == document_number:
                return found
        raise FortnoxNotFoundError(404, None, "not found")

    def get_order(self, document_number: str) -> Order:
        self._enter("order", document_number)
        for found in self.orders:
            if found.document_number == document_number:
                return found
        raise FortnoxNotFoundError(404, None, "not found")


def run(status: str = "failed", *, kind: str = "create_document", object_type: str = "deal", object_id: str = "904",
        trigger_key: str | None = "workflow:invoice", error: str | None = "Fortnox cannot find the account.") -> Run:
    return Run(run_id="01JDRUN0000000000000000001", portal_id=PORTAL, kind=kind, trigger="workflow",  # type: ignore[arg-type]
               object_type=object_type, object_id=object_id, document_type="invoice", trigger_key=trigger_key,
               status=status, created_at=NOW - 120, finished_at=NOW - 100 if status in ("failed", "succeeded")  # type: ignore[arg-type]
               else None, error_code="FORTNOX_2000423" if error else None, error_message=error)


def link(trigger_key: str = "workflow:invoice", number: str | None = "55", kind: str = "invoice") -> DealLink:
    return DealLink(portal_id=PORTAL, deal_id="904", trigger_key=trigger_key, run_id="01JDRUN0000000000000000001",
                    claimed_at=NOW - 300, document_type=kind if number else None, document_number=number,
                    documented_at=NOW - 290 if number else None)


def service(*, connections: Connections | None = None, runs: Runs | None = None, links: DealLinks | None = None,
            crm: Crm | None = None, fortnox: Fortnox | None = None, clock: FakeClock | None = None,
            budget: float = 2.0, default_type: str = "invoice", cache: CardCache | None = None,
            health: ConnectionHealth | None = None,
            super_admins: Callable[[str, str], bool] | None = None) -> CardService:
    crm = crm if crm is not None else Crm()
    fortnox = fortnox if fortnox is not None else Fortnox()
    clock = clock or FakeClock(NOW)
    return CardService(connections=connections or Connections(), runs=runs or Runs(), deal_links=links or DealLinks(),
                       hubspot=lambda portal_id: crm, fortnox=lambda portal_id: fortnox,
                       signer=Signer(SIGNING_KEY, clock=clock), public_base=BASE, clock=clock,
                       default_document_type=lambda portal_id: default_type,  # type: ignore[arg-type,return-value]
                       budget_seconds=budget, cache=cache, health=lambda portal_id: health,
                       super_admins=super_admins)


#: the HubSpot user who installed hubnox in the portal (the card's viewer unless a test says otherwise)
ADMIN_USER_ID = "5129385"


def request(object_type: str = "company", object_id: str = "501", user_id: str = ADMIN_USER_ID) -> CardRequest:
    return CardRequest(portal_id=PORTAL, object_type=object_type, object_id=object_id,  # type: ignore[arg-type]
                       user_id=user_id, user_email="rep@acme.se")


def company_with_customer(number: str = "1001") -> Crm:
    return Crm({("company", "501"): {properties.CUSTOMER_NUMBER: number, "name": "Kund AB"}})


def customer_ledger() -> Fortnox:
    return Fortnox({"1001": "Kund AB"}, [
        invoice("41", balance="1250", due="2026-10-31", invoiced="2026-10-01"),
        invoice("42", balance="500", due="2026-12-31", invoiced="2026-11-20"),
        invoice("43", balance="100", total="100", due="2026-11-01", invoiced="2026-10-02", currency="EUR"),
        invoice("40", balance="0", invoiced="2026-09-01"),
        invoice("44", booked=False, balance="300", invoiced="2026-11-26"),
        invoice("39", cancelled=True, balance="0", invoiced="2026-08-01"),
        invoice("7", customer="10010", balance="999"),  # another customer whose number merely contains 1001
    ])


# -- companies and contacts ----------------------------------------------------------------------------


def test_a_company_card_shows_its_customer_what_it_owes_and_what_is_overdue():
    card = service(crm=company_with_customer(), fortnox=customer_ledger()).card(request())
    assert (card["state"], card["partial"], card["notes"]) == ("ready", False, [])
    customer = card["customer"]
    assert (customer["number"], customer["name"], customer["url"]) == ("1001", "Kund AB", "https://apps.fortnox.se")
    assert customer["outstanding"] == [{"currency": "EUR", "amount": "100", "text": "100,00\u00a0EUR"},
                                       {"currency": "SEK", "amount": "1750", "text": "1\u00a0750,00\u00a0kr"}]
    assert customer["overdue"] == [{"currency": "EUR", "amount": "100", "text": "100,00\u00a0EUR"},
                                   {"currency": "SEK", "amount": "1250", "text": "1\u00a0250,00\u00a0kr"}]
    assert (customer["unpaidCount"], customer["overdueCount"]) == (3, 2)
    assert card["fortnoxCompany"] == "Acme AB"


def test_the_latest_invoices_come_newest_first_with_their_payment_status():
    card = service(crm=company_with_customer(), fortnox=customer_ledger()).card(request())
    rows = card["customer"]["invoices"]
    assert [(row["number"], row["status"]) for row in rows] == [
        ("44", "draft"), ("42", "unpaid"), ("43", "overdue"), ("41", "overdue"), ("40", "paid")]
    assert rows[1] == {"number": "42", "status": "unpaid", "invoiceDate": "2026-11-20", "dueDate": "2026-12-31",
                       "total": "1250", "balance": "500", "currency": "SEK",
                       "totalText": "1\u00a0250,00\u00a0kr", "balanceText": "500,00\u00a0kr"}


def test_a_contact_card_uses_the_contacts_own_customer_number():
    crm = Crm({("contact", "77"): {properties.CUSTOMER_NUMBER: "1001", "email": "anna@kund.se"}})
    card = service(crm=crm, fortnox=customer_ledger()).card(request("contact", "77"))
    assert card["objectType"] == "contact" and card["customer"]["number"] == "1001"


def test_a_record_without_a_customer_number_asks_to_create_or_match_one():
    fortnox = customer_ledger()
    card = service(crm=Crm({("company", "501"): {"name": "Ny AB"}}), fortnox=fortnox).card(request())
    assert card["state"] == "no_customer" and "not matched" in card["message"]
    assert card["actions"][0] == {"action": "update-customer", "label": "Create or match Fortnox customer"}
    assert fortnox.calls == []


def test_the_portals_match_rule_finds_the_customer_when_the_record_names_none():
    seen = []

    def match(portal_id, object_type, record):
        seen.append((portal_id, object_type, record.prop("name")))
        return "1001"

    cards = service(crm=Crm({("company", "501"): {"name": "Kund AB"}}), fortnox=customer_ledger())
    cards._match = match
    card = cards.card(request())
    assert card["customer"]["number"] == "1001" and card["customer"]["unpaidCount"] == 3
    assert seen == [(PORTAL, "company", "Kund AB")]


def test_a_customer_number_fortnox_does_not_know_says_so():
    card = service(crm=company_with_customer("9999"), fortnox=customer_ledger()).card(request())
    assert card["state"] == "no_customer" and "no customer 9999" in card["message"]


def test_a_slow_fortnox_gives_a_partial_card_within_the_budget_that_says_so():
    gate = threading.Event()
    fortnox = Fortnox({"1001": "Kund AB"}, [invoice("41", balance="1250")], gate=gate)
    try:
        started = time.monotonic()
        card = service(crm=company_with_customer(), fortnox=fortnox, budget=0.05).card(request())
        elapsed = time.monotonic() - started
    finally:
        gate.set()
    assert elapsed < 1.0
    assert card["state"] == "ready" and card["partial"] is True
    assert card["notes"] == ["Fortnox did not answer within 0.05 seconds, so the customer is not shown. "
                             "Reload the card in a minute."]
    assert card["customer"] == {"number": "1001", "name": None, "url": "https://apps.fortnox.se"}
    assert len(fortnox.calls) == 4  # all four asked at once, not one after another


def test_fortnox_busy_leaves_the_card_partial_with_the_reason():
    fortnox = Fortnox({"1001": "Kund AB"}, error=TransientError("Fortnox answered 429; try again later."))
    card = service(crm=company_with_customer(), fortnox=fortnox).card(request())
    assert card["partial"] is True and "Fortnox is busy (Fortnox answered 429" in card["notes"][0]


def test_a_fortnox_connection_that_breaks_while_reading_asks_to_reconnect():
    fortnox = Fortnox(error=ConnectionBrokenError("Fortnox", "Fortnox did not accept hubnox's access: 401"))
    card = service(crm=company_with_customer(), fortnox=fortnox).card(request())
    assert card["state"] == "fortnox_broken" and "Reconnect Fortnox" in card["message"]
    assert card["settingsUrl"].startswith(f"{BASE}/settings?login=")


def test_a_record_hubspot_does_not_have_is_not_found():
    card = service(crm=Crm()).card(request("company", "404"))
    assert card["state"] == "not_found" and card["message"] == "HubSpot has no company 404."


# -- deals ---------------------------------------------------------------------------------------------


def test_a_deal_card_shows_its_linked_invoice_with_status_and_balance():
    fortnox = Fortnox(invoices=[invoice("55", balance="1250", sent=True)])
    crm = Crm({("deal", "904"): {}})  # a deal the status sync has not written yet
    card = service(links=DealLinks(link()), crm=crm, fortnox=fortnox).card(request("deal", "904"))
    assert card["state"] == "ready"
    document = card["document"]
    assert {k: document[k] for k in ("type", "number", "status", "total", "balance", "currency", "dueDate")} == {
        "type": "invoice", "number": "55", "status": "sent", "total": "1250", "balance": "1250", "currency": "SEK",
        "dueDate": "2026-12-27"}
    assert crm.reads == [("deal", "904")]  # one read, for the synced state the deal does not have yet
    assert (document["source"], document["syncedAt"]) == ("fortnox", None)
    assert fortnox.calls == [("invoice", "55")]
    assert [action["action"] for action in card["actions"]] == ["open-settings"]


def test_a_deal_finds_its_document_in_its_fortnox_properties_when_no_link_names_it():
    order = Order.model_validate({"DocumentNumber": "12", "CustomerNumber": "1001", "Total": "800",
                                  "InvoiceReference": "61"})
    crm = Crm({("deal", "904"): {properties.DOCUMENT_TYPE: "order", properties.DOCUMENT_NUMBER: "12"}})
    card = service(crm=crm, fortnox=Fortnox(orders=[order])).card(request("deal", "904"))
    assert (card["document"]["type"], card["document"]["status"], card["document"]["invoiceNumber"]) == (
        "order", "invoiced", "61")


def test_a_deal_without_a_document_offers_to_create_one_of_the_portals_default_type():
    crm = Crm({("deal", "904"): {}})
    card = service(crm=crm).card(request("deal", "904"))
    assert card["document"] is None
    assert card["actions"][0] == {"action": "create-document", "label": "Create invoice now", "documentType": "invoice"}
    as_order = service(crm=crm, default_type="order").card(request("deal", "904"))
    assert as_order["actions"][0]["label"] == "Create order now"


def test_without_the_order_licence_the_card_warns_and_its_create_order_button_is_disabled():
    health = ConnectionHealth("1000001", 1.0, 2.0, (
        FeatureHealth("invoice", "Invoices", "ok"),
        FeatureHealth("order", "Orders", "no_licence", "Orders will not work: no Order licence.", "Add it.")))

    card = service(crm=Crm({("deal", "904"): {}}), default_type="order", health=health).card(request("deal", "904"))

    assert card["fortnoxWarnings"] == ["Orders will not work: no Order licence. Add it."]
    assert card["actions"][0] == {"action": "create-document", "label": "Create order now (not available)",
                                  "documentType": "order", "disabled": True,
                                  "disabledReason": "Orders will not work: no Order licence."}


def test_a_failed_last_run_shows_its_error_and_a_signed_replay_link():
    cards = service(runs=Runs(run("failed")), crm=Crm({("deal", "904"): {}}))
    last = cards.card(request("deal", "904"))["lastRun"]
    assert (last["status"], last["errorCode"], last["errorMessage"]) == (
        "failed", "FORTNOX_2000423", "Fortnox cannot find the account.")
    assert last["finishedAt"] == "2026-11-27T09:22:13Z"
    url = urlsplit(last["replayUrl"])
    assert url.path == f"/replay/{last['id']}"
    assert verify_replay(Signer(SIGNING_KEY, clock=FakeClock(NOW)), parse_qs(url.query)["t"][0], last["id"]) == PORTAL


def test_no_create_action_while_a_document_run_is_under_way():
    cards = service(runs=Runs(run("running", error=None)), crm=Crm({("deal", "904"): {}}))
    card = cards.card(request("deal", "904"))
    assert card["lastRun"]["replayUrl"] is None
    assert [action["action"] for action in card["actions"]] == ["open-settings"]


def test_a_deal_whose_document_is_gone_from_fortnox_says_so():
    card = service(links=DealLinks(link(number="99")), crm=Crm({("deal", "904"): {}}),
                   fortnox=Fortnox()).card(request("deal", "904"))
    assert card["document"]["status"] == "missing" and card["notes"] == ["Fortnox has no invoice 99 any more."]


def test_a_slow_hubspot_keeps_the_create_action_away_rather_than_risk_a_second_document():
    gate = threading.Event()

    class SlowCrm(Crm):
        def get_object(self, *args: Any, **kwargs: Any) -> CrmObject:
            gate.wait(5)
            return super().get_object(*args, **kwargs)

    try:
        card = service(crm=SlowCrm({("deal", "904"): {}}), budget=0.05).card(request("deal", "904"))
    finally:
        gate.set()
    assert card["partial"] is True and "HubSpot did not answer" in card["notes"][0]
    assert [action["action"] for action in card["actions"]] == ["open-settings"]


@pytest.mark.parametrize(("fields", "status"), [
    ({"Booked": False}, "draft"),
    ({"Booked": True, "Balance": "1250"}, "booked"),
    ({"Booked": True, "Balance": "1250", "Sent": True}, "sent"),
    ({"Booked": False, "Sent": True}, "sent"),
    ({"Booked": True, "Balance": "0", "Sent": True}, "paid"),
    ({"Booked": True, "Balance": "0", "Cancelled": True}, "cancelled"),
])
def test_an_invoices_status_on_the_deal_card(fields, status):
    assert invoice_status(Invoice.model_validate({"CustomerNumber": "1", **fields})) == status


@pytest.mark.parametrize(("fields", "status"), [
    ({}, "draft"), ({"Sent": True}, "sent"), ({"InvoiceReference": "61"}, "invoiced"),
    ({"InvoiceReference": "0"}, "draft"), ({"Cancelled": True, "InvoiceReference": "61"}, "cancelled"),
])
def test_an_orders_status_on_the_deal_card(fields, status):
    assert order_status(Order.model_validate({"CustomerNumber": "1", **fields})) == status


def test_payment_status_counts_a_credit_balance_as_owed_and_a_past_due_date_as_overdue():
    assert payment_status(invoice("1", balance="-200", due="2026-12-31"), TODAY) == "unpaid"
    assert payment_status(invoice("1", balance=str(Decimal("0.01")), due="2026-11-26"), TODAY) == "overdue"
    assert payment_status(invoice("1", balance="5", due="2026-11-27"), TODAY) == "unpaid"  # due today


# -- states --------------------------------------------------------------------------------------------


def test_a_portal_without_hubnox_gets_the_not_installed_state_and_the_install_link():
    card = service(connections=Connections(hubspot=None)).card(request())
    assert card["state"] == "not_installed" and card["installUrl"] == f"{BASE}/oauth/hubspot/install"
    assert service(connections=Connections(hubspot="uninstalled")).card(request())["state"] == "not_installed"


def test_a_broken_hubspot_install_says_why():
    card = service(connections=Connections(hubspot="broken")).card(request())
    assert card["state"] == "hubspot_broken" and "refresh token revoked" in card["message"]


def test_without_fortnox_the_card_offers_a_signed_single_use_settings_link():
    clock = FakeClock(NOW)
    cards = service(connections=Connections(fortnox=None), clock=clock)
    first, second = cards.card(request()), cards.card(request())
    assert first["state"] == "fortnox_not_connected" and "Connect Fortnox" in first["message"]
    token = parse_qs(urlsplit(first["settingsUrl"]).query)["login"][0]
    claims = Signer(SIGNING_KEY, clock=clock).verify("login", token)
    assert (claims["portal"], claims["user"]) == (PORTAL, "rep@acme.se")
    assert second["cached"] is True and second["settingsUrl"] != first["settingsUrl"]  # fresh link, cached card


def test_a_broken_fortnox_connection_asks_to_reconnect_with_the_reason():
    card = service(connections=Connections(fortnox="broken")).card(request())
    assert card["state"] == "fortnox_broken" and "consent withdrawn" in card["message"]
    assert card["settingsUrl"].startswith(f"{BASE}/settings?login=")


# -- the cache -----------------------------------------------------------------------------------------


def test_a_card_is_served_from_the_cache_for_a_minute_then_built_again():
    clock, fortnox = FakeClock(NOW), customer_ledger()
    cards = service(crm=company_with_customer(), fortnox=fortnox, clock=clock)
    assert cards.card(request())["cached"] is False
    clock.now += CARD_TTL_SECONDS - 1
    assert cards.card(request())["cached"] is True
    assert len(fortnox.calls) == 4
    clock.now += 2
    assert cards.card(request())["cached"] is False
    assert len(fortnox.calls) == 8


def test_a_partial_card_is_cached_only_briefly():
    clock, gate = FakeClock(NOW), threading.Event()
    fortnox = Fortnox({"1001": "Kund AB"}, gate=gate)
    cards = service(crm=company_with_customer(), fortnox=fortnox, clock=clock, budget=0.05)
    try:
        assert cards.card(request())["partial"] is True
    finally:
        gate.set()
    clock.now += PARTIAL_TTL_SECONDS + 1
    again = cards.card(request())
    assert again["cached"] is False and again["partial"] is False


def test_a_card_with_a_run_under_way_is_cached_only_until_the_worker_may_be_done():
    clock = FakeClock(NOW)
    cards = service(runs=Runs(run("queued", error=None)), crm=Crm({("deal", "904"): {}}), clock=clock)
    cards.card(request("deal", "904"))
    clock.now += IN_FLIGHT_TTL_SECONDS - 1
    assert cards.card(request("deal", "904"))["cached"] is True
    clock.now += 2
    assert cards.card(request("deal", "904"))["cached"] is False


def test_cards_of_other_records_and_portals_are_cached_apart():
    crm = Crm({("company", "501"): {properties.CUSTOMER_NUMBER: "1001"}, ("company", "502"): {}})
    cards = service(crm=crm, fortnox=customer_ledger())
    assert cards.card(request("company", "501"))["state"] == "ready"
    assert cards.card(request("company", "502"))["state"] == "no_customer"
    other_portal = CardRequest(portal_id="999", object_type="company", object_id="501")
    assert cards.card(other_portal)["cached"] is False


def test_a_cards_lifetime_counts_from_when_it_was_asked_for_not_from_when_it_was_built():
    clock = FakeClock(NOW)
    cache = CardCache(clock)
    clock.now += 3  # the card took three seconds to build
    cache.put(("1", "deal", "904"), {"state": "ready"}, IN_FLIGHT_TTL_SECONDS, since=NOW)
    clock.now = NOW + IN_FLIGHT_TTL_SECONDS - 0.1
    assert cache.get(("1", "deal", "904")) == {"state": "ready"}
    clock.now = NOW + IN_FLIGHT_TTL_SECONDS
    assert cache.get(("1", "deal", "904")) is None


def test_a_full_cache_lets_the_least_recently_viewed_card_go():
    clock = FakeClock(NOW)
    cache = CardCache(clock, max_entries=2)
    first, second, third = ("1", "company", "501"), ("1", "company", "502"), ("1", "company", "503")
    cache.put(first, {"id": "501"}, CARD_TTL_SECONDS, since=NOW)
    cache.put(second, {"id": "502"}, CARD_TTL_SECONDS, since=NOW)
    assert cache.get(first) == {"id": "501"}
    cache.put(third, {"id": "503"}, CARD_TTL_SECONDS, since=NOW)
    assert cache.get(second) is None
    assert cache.get(first) == {"id": "501"} and cache.get(third) == {"id": "503"}


def test_a_full_cache_lets_expired_cards_go_before_fresh_ones():
    clock = FakeClock(NOW)
    cache = CardCache(clock, max_entries=2)
    fresh, brief, new = ("1", "company", "501"), ("1", "deal", "904"), ("1", "company", "503")
    cache.put(fresh, {"id": "501"}, CARD_TTL_SECONDS, since=NOW)
    cache.put(brief, {"id": "904"}, IN_FLIGHT_TTL_SECONDS, since=NOW)
    clock.now += IN_FLIGHT_TTL_SECONDS
    cache.put(new, {"id": "503"}, CARD_TTL_SECONDS, since=clock.now)
    assert cache.get(fresh) == {"id": "501"} and cache.get(new) == {"id": "503"}


def test_a_service_views_its_records_through_its_own_bounded_cache():
    clock = FakeClock(NOW)
    crm = Crm({("company", "501"): {}, ("company", "502"): {}, ("company", "503"): {}})
    cards = service(crm=crm, clock=clock, cache=CardCache(clock, max_entries=2))
    for object_id in ("501", "502", "503"):
        assert cards.card(request("company", object_id))["cached"] is False
    assert cards.card(request("company", "503"))["cached"] is True
    assert cards.card(request("company", "501"))["cached"] is False


# -- the request ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [
    ("0-3", "deal"), ("DEAL", "deal"), ("deals", "deal"), ("0-2", "company"), ("companies", "company"),
    ("0-1", "contact"), ("CONTACT", "contact"),
])
def test_the_card_names_object_types_as_hubspot_does(given, expected):
    query = {"portalId": PORTAL, "userId": "5", "userEmail": "rep@acme.se", "appId": "4242001",
             "objectType": given, "objectId": "904"}
    assert CardRequest.from_query(query).object_type == expected


@pytest.mark.parametrize(("query", "code"), [
    ({"objectType": "0-3", "objectId": "904"}, "MISSING_PORTAL"),
    ({"portalId": PORTAL, "objectType": "0-3"}, "MISSING_OBJECT"),
    ({"portalId": PORTAL, "objectType": "0-5", "objectId": "904"}, "BAD_OBJECT_TYPE"),
    ({"portalId": PORTAL, "objectType": "deal", "objectId": "9x"}, "MISSING_OBJECT"),
])
def test_a_request_missing_what_the_card_needs_is_a_bad_request(query, code):
    with pytest.raises(BadRequestError) as refused:
        CardRequest.from_query(query)
    assert refused.value.code == code


def test_an_action_may_name_its_record_in_the_body_but_only_hubspots_query_names_who_asks():
    body = {"objectType": "deal", "objectId": "904", "portalId": "1", "userEmail": "boss@acme.se"}
    parsed = CardRequest.from_query({"portalId": PORTAL, "userId": "5"}, body)
    assert (parsed.portal_id, parsed.object_type, parsed.object_id, parsed.user) == (PORTAL, "deal", "904", "5")
    with pytest.raises(BadRequestError, match="portalId"):
        CardRequest.from_query({}, body)


# -- actions -------------------------------------------------------------------------------------------


class Submitted:
    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []

    def __call__(self, request: RunRequest, *, replay_of: str | None = None) -> Run:
        self.jobs.append(request.model_dump(exclude_none=True))
        return Run(run_id=f"01JDNEW00000000000000000{len(self.jobs):02d}", created_at=NOW, **request.model_dump())


def actions(*, connections: Connections | None = None, runs: Runs | None = None, links: DealLinks | None = None,
            cards: CardService | None = None) -> tuple[CardActions, Submitted]:
    submitted = Submitted()
    return CardActions(cards=cards or service(), connections=connections or Connections(), runs=runs or Runs(),
                       deal_links=links or DealLinks(), submit=submitted), submitted


def test_create_document_enqueues_a_card_run_for_the_deal_under_the_manual_trigger():
    card_actions, submitted = actions()
    answer = card_actions.perform("create-document", request("deal", "904"), {})
    assert submitted.jobs == [{"portal_id": PORTAL, "kind": "create_document", "trigger": "card",
                               "object_type": "deal", "object_id": "904", "document_type": "invoice",
                               "trigger_key": "manual:invoice"}]
    assert answer["ok"] is True and answer["runId"] == "01JDNEW0000000000000000001"
    assert "being created" in answer["message"]


def test_create_document_can_ask_for_an_order():
    card_actions, submitted = actions()
    card_actions.perform("create-document", request("deal", "904"), {"documentType": "order"})
    assert (submitted.jobs[0]["document_type"], submitted.jobs[0]["trigger_key"]) == ("order", "manual:order")


def test_create_document_refuses_a_deal_that_already_has_its_manual_document():
    card_actions, submitted = actions(links=DealLinks(link("manual:invoice", "55")))
    with pytest.raises(UserFixableError, match="already has Fortnox invoice 55"):
        card_actions.perform("create-document", request("deal", "904"), {})
    assert submitted.jobs == []


def test_a_second_click_answers_the_run_already_under_way_instead_of_a_second_run():
    card_actions, submitted = actions(runs=Runs(run("queued", error=None, trigger_key="manual:invoice")))
    answer = card_actions.perform("create-document", request("deal", "904"), {})
    assert submitted.jobs == [] and answer["runId"] == "01JDRUN0000000000000000001"
    assert "already on its way" in answer["message"]


@pytest.mark.parametrize("under_way", ["workflow:order", "workflow:invoice", "manual:order"])
def test_a_click_for_an_invoice_is_not_absorbed_by_another_kind_of_run_under_way(under_way):
    card_actions, submitted = actions(runs=Runs(run("running", error=None, trigger_key=under_way)))
    answer = card_actions.perform("create-document", request("deal", "904"), {})
    assert [job["trigger_key"] for job in submitted.jobs] == ["manual:invoice"]
    assert answer["runId"] != "01JDRUN0000000000000000001"


def test_an_action_drops_the_cached_card_so_the_next_look_shows_the_run():
    crm = Crm({("deal", "904"): {}})
    cards = service(crm=crm)
    cards.card(request("deal", "904"))
    card_actions, _ = actions(cards=cards)
    card_actions.perform("create-document", request("deal", "904"), {})
    assert cards.card(request("deal", "904"))["cached"] is False


def test_update_customer_enqueues_a_customer_sync_for_a_company_or_contact():
    card_actions, submitted = actions()
    card_actions.perform("update-customer", request("contact", "77"), {})
    assert submitted.jobs == [{"portal_id": PORTAL, "kind": "sync_customer", "trigger": "card",
                               "object_type": "contact", "object_id": "77"}]


@pytest.mark.parametrize(("action", "object_type", "body"), [
    ("update-customer", "deal", {}), ("create-document", "company", {}), ("create-document", "deal",
                                                                          {"documentType": "offer"}),
])
def test_an_action_on_the_wrong_record_or_with_a_wrong_type_is_a_bad_request(action, object_type, body):
    card_actions, submitted = actions()
    with pytest.raises(BadRequestError):
        card_actions.perform(action, request(object_type, "904"), body)
    assert submitted.jobs == []


def test_open_settings_answers_a_signed_login_link_for_the_user():
    card_actions, _ = actions()
    answer = card_actions.perform("open-settings", request(), {})
    token = parse_qs(urlsplit(answer["url"]).query)["login"][0]
    assert Signer(SIGNING_KEY, clock=FakeClock(NOW)).verify("login", token)["user"] == "rep@acme.se"


def test_only_the_installer_and_super_admins_get_a_way_into_the_settings_others_learn_why():
    card_actions, _ = actions()
    answer = card_actions.perform("open-settings", request(user_id="777"), {})
    assert answer["ok"] is False and "Only super admins" in answer["message"] and "url" not in answer
    card = service(connections=Connections(fortnox=None)).card(request(user_id="777"))
    assert "settingsUrl" not in card and "Only super admins" in card["settingsNote"]

    asked: list[tuple[str, str]] = []

    def super_admins(portal_id: str, user_id: str) -> bool:
        asked.append((portal_id, user_id))
        return user_id == "888"

    cards = service(connections=Connections(fortnox=None), super_admins=super_admins)
    assert "settingsUrl" in cards.card(request(user_id="888"))
    assert "settingsUrl" not in cards.card(request(user_id="777"))
    assert [user for _, user in asked] == ["888", "777"]


def test_actions_need_hubnox_installed_and_fortnox_connected():
    for connections, system in ((Connections(hubspot=None), "HubSpot"), (Connections(fortnox="broken"), "Fortnox")):
        card_actions, submitted = actions(connections=connections)
        with pytest.raises(ConnectionBrokenError) as refused:
            card_actions.perform("create-document", request("deal", "904"), {})
        assert refused.value.system == system and submitted.jobs == []


def test_an_unknown_action_is_not_found():
    card_actions, _ = actions()
    with pytest.raises(NotFoundError):
        card_actions.perform("delete-everything", request(), {})


# -- the function behind the gateway ---------------------------------------------------------------------

EVENTS = Path(__file__).resolve().parents[2] / "events"
CLIENT_SECRET = "card-test-client-secret"


@pytest.fixture
def crm_card(table, monkeypatch) -> Iterator[LocalFunction]:
    """The crm_card function as Lambda runs it, on moto, with a known client secret."""
    for name, value in {"PUBLIC_BASE_URL": "https://hubnox.example.com", "HUBSPOT_CLIENT_SECRET": CLIENT_SECRET,
                        "SIGNING_KEY": SIGNING_KEY, "TABLE_NAME": TABLE, "AWS_DEFAULT_REGION": REGION,
                        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECRETS_NAME", raising=False)
    yield LocalFunction(functions_from_template(read_template())["crm_card"])
    get_app_config.cache_clear()


def signed(name: str, *, secret: str = CLIENT_SECRET, body: str | None = None) -> dict[str, Any]:
    """The sample event `name`, signed now (v3) as HubSpot would sign it, with `body` if given."""
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    if body is not None:
        event["body"] = body
    headers = {k: v for k, v in event["headers"].items() if not k.startswith("x-hubspot-")}
    url = f"https://hubnox.example.com{event['rawPath']}?{event['rawQueryString']}"
    now_ms = int(time.time() * 1000)
    headers.update({k.lower(): v for k, v in signature_headers(secret, event["requestContext"]["http"]["method"], url,
                                                               event.get("body") or "", now_ms, ("v3",)).items()})
    return {**event, "headers": headers}


def test_the_card_route_refuses_an_unsigned_request_with_401(crm_card):
    event = json.loads((EVENTS / "crm_card_fetch.json").read_text(encoding="utf-8"))
    event["headers"] = {k: v for k, v in event["headers"].items() if not k.startswith("x-hubspot-")}
    answer = crm_card.invoke(event)
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["code"] == "SIGNATURE_MISSING"


def test_the_card_route_refuses_a_signature_made_with_another_secret(crm_card):
    answer = crm_card.invoke(signed("crm_card_fetch.json", secret="someone-else"))
    assert answer["statusCode"] == 401 and json.loads(answer["body"])["code"] == "SIGNATURE_MISMATCH"


def test_a_signed_card_request_for_a_portal_without_hubnox_gets_the_not_installed_card(crm_card):
    answer = crm_card.invoke(signed("crm_card_fetch.json"))
    assert answer["statusCode"] == 200
    card = json.loads(answer["body"])
    assert (card["state"], card["objectType"], card["objectId"]) == ("not_installed", "deal", "904")
    assert card["installUrl"] == "https://hubnox.example.com/oauth/hubspot/install"


def test_an_action_whose_body_was_changed_after_signing_is_refused(crm_card):
    event = signed("crm_card_action_create_document.json")
    event["body"] = event["body"].replace("invoice", "order")
    assert crm_card.invoke(event)["statusCode"] == 401


def test_a_signed_action_with_a_body_that_is_not_json_is_a_400(crm_card):
    answer = crm_card.invoke(signed("crm_card_action_create_document.json", body="{not json"))
    assert answer["statusCode"] == 400 and json.loads(answer["body"])["code"] == "MALFORMED_JSON"


def test_a_signed_action_for_a_portal_without_hubnox_says_so_and_enqueues_nothing(crm_card):
    answer = crm_card.invoke(signed("crm_card_action_create_document.json"))
    assert answer["statusCode"] == 409
    assert json.loads(answer["body"])["message"] == "hubnox is not installed in this HubSpot portal."
