"""The status sync against both simulators: the real Fortnox and HubSpot clients, the stores on moto,
and invoices moved through Fortnox's states by the Fortnox simulator's own lifecycle controls.

Each test makes documents as hubnox makes them (`ExternalInvoiceReference1` = the deal, a deal link
naming the document), moves them in Fortnox (book, send, pay, credit, cancel, overdue, an order
invoiced), runs one cycle, and reads the deals, companies and contacts back through HubSpot's API.
The clock is one fake clock for both simulators and the sync, so "today" and Fortnox's
`lastmodified` agree, and the request logs count what a cycle costs.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hubnox.api_http import build_http_client
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.hubspot.app_properties import upgrade_if_needed
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.rate_budget import LocalRateBudget
from hubnox.store.cursors import CursorStore
from hubnox.store.deal_links import DealLinkStore
from hubnox.store.document_states import DocumentStateStore
from hubnox.store.leases import LeaseStore
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.status_fanout import StatusMessage
from hubnox.sync.status_sync import PAYMENTS_NOT_GRANTED, StatusOutcome, StatusSync
from hubnox.tokens import StaticToken
from sandbox.fortnox import FortnoxSimulator
from sandbox.fortnox_oauth import ROUTE_SCOPES
from sandbox.hubspot import HubSpotSimulator
from tests.integration.test_hubspot_batch_update import SCOPES as HUBSPOT_SCOPES
from tests.sandbox.test_fortnox_support import START
from tests.support.clock import FakeClock

FORTNOX_API = "https://api.fortnox.se"
HUBSPOT_API = "https://api.hubapi.com"
CALLBACK = "https://hubnox.example/oauth/hubspot/callback"
CLIENT_ID = "hubnox"
CRM = "/crm/objects/2026-03"
#: START is 2026-03-02 in Stockholm
TODAY = "2026-03-02"
#: one row of 1 000 SEK and 25 % VAT: every invoice totals 1 250 SEK
TOTAL = Decimal("1250")
ALL_SCOPES = " ".join(sorted(set(ROUTE_SCOPES.values())))
WITHOUT_PAYMENT = " ".join(sorted(set(ROUTE_SCOPES.values()) - {"payment"}))
DEAL_PROPERTIES = ("fortnox_document_status", "fortnox_document_total", "fortnox_document_balance",
                   "fortnox_document_currency", "fortnox_credit_invoice_number", "fortnox_document_due_date",
                   "fortnox_document_final_pay_date", "fortnox_status_synced_at")
CUSTOMER_PROPERTIES = ("fortnox_outstanding_balance", "fortnox_overdue_amount", "fortnox_unpaid_invoices",
                       "fortnox_overdue_invoices", "fortnox_last_payment_date")


def money(value: Any) -> Decimal | None:
    """A HubSpot number property as a Decimal ("1250" and "1250.00" are equal)."""
    return None if value in (None, "") else Decimal(str(value))


class _Token:
    """The Fortnox service account's access token, as the connection store would hand it out."""

    def __init__(self, token: str) -> None:
        self.value = token

    def token(self) -> str:
        return self.value

    def invalidate(self, token: str) -> None:
        pass


class World:
    """A HubSpot portal with hubnox installed and a Fortnox company connected, both simulated in
    process on one fake clock, and hubnox's status sync over the real clients and moto's table."""

    def __init__(self, table: Any, fortnox_scope: str = ALL_SCOPES) -> None:
        self.clock = FakeClock(START)
        self.fortnox_sim = FortnoxSimulator(clock=self.clock, wall_clock=self.clock)
        self.hubspot_sim = HubSpotSimulator(clock=self.clock, wall_clock=self.clock)
        self.fx = build_http_client(FORTNOX_API, transport=httpx.WSGITransport(app=self.fortnox_sim))
        self.hs = build_http_client(HUBSPOT_API, transport=httpx.WSGITransport(app=self.hubspot_sim))
        self.tenant = str(self.fx.post("/_sandbox/companies", json={
            "serviceConsent": {"clientId": CLIENT_ID, "scope": fortnox_scope}}).json()["tenantId"])
        tokens = FortnoxOAuth(self.fx, client_id=CLIENT_ID, client_secret="s",
                              auth_url="https://apps.fortnox.se").client_credentials(self.tenant)
        self.fx_auth = {"Authorization": f"Bearer {tokens.access_token}"}
        self.fortnox = FortnoxClient(self.fx, _Token(tokens.access_token),
                                     LocalRateBudget(clock=self.clock, sleep=self.clock.sleep),
                                     FortnoxClient.tenant_key_for(CLIENT_ID, self.tenant))
        self.portal = str(self.hs.post("/_sandbox/portals", json={}).json()["portalId"])
        oauth = HubSpotOAuth(self.hs, client_id="cid", client_secret="secret", auth_url="https://app.hubspot.com")
        consent = self.hs.get(f"{oauth.authorize_url(HUBSPOT_SCOPES, [], CALLBACK, 'st')}"
                              f"&sandbox_portal={self.portal}")
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        token = oauth.exchange_code(code, CALLBACK).access_token
        self.hs_auth = {"Authorization": f"Bearer {token}"}
        self.hubspot = HubSpotClient(self.hs, StaticToken(token), LocalRateBudget(clock=self.clock,
                                                                                  sleep=self.clock.sleep),
                                     self.portal)
        self.cursors = CursorStore(table)
        self.links = DealLinkStore(table, self.clock)
        self.settings = PortalSettings()
        # The upgrade is the wiring's: the portal starts without hubnox's properties, as a portal
        # installed before them does, and the first cycle creates them.
        self.sync = StatusSync(
            fortnox_for=lambda portal: self.fortnox, hubspot_for=lambda portal: self.hubspot,
            documents=DocumentStateStore(table), deal_links=self.links, cursors=self.cursors,
            leases=LeaseStore(table, self.clock), settings_for=lambda portal: self.settings,
            upgrade=lambda portal: upgrade_if_needed(self.hubspot, self.cursors, portal), clock=self.clock)
        self.customers: dict[str, str] = {}

    # -- Fortnox, as hubnox and the bookkeeper use it ------------------------------------------------

    def fortnox_call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.fx.request(method, path, headers=self.fx_auth, **kwargs)
        assert response.status_code == expect, response.text
        return response.json()

    def customer(self, name: str = "Acme AB") -> str:
        if name not in self.customers:
            made = self.fortnox_call("POST", "/3/customers", 201, json={"Customer": {"Name": name}})
            self.customers[name] = str(made["Customer"]["CustomerNumber"])
        return self.customers[name]

    def invoice(self, deal_id: str, customer: str | None = None) -> str:
        """An invoice hubnox made for the deal (its deal link names it)."""
        fields = {"CustomerNumber": customer or self.customer(), "Currency": "SEK",
                  "ExternalInvoiceReference1": deal_id,
                  "InvoiceRows": [{"Description": "Workshop", "DeliveredQuantity": "1", "Price": "1000", "VAT": 25}]}
        made = self.fortnox_call("POST", "/3/invoices", 201, json={"Invoice": fields})
        number = str(made["Invoice"]["DocumentNumber"])
        self.link(deal_id, "invoice", number)
        return number

    def order(self, deal_id: str) -> str:
        fields = {"CustomerNumber": self.customer(), "Currency": "SEK", "ExternalInvoiceReference1": deal_id,
                  "OrderRows": [{"Description": "Workshop", "OrderedQuantity": "1", "DeliveredQuantity": "1",
                                 "Price": "1000", "VAT": 25}]}
        number = str(self.fortnox_call("POST", "/3/orders", 201, json={"Order": fields})["Order"]["DocumentNumber"])
        self.link(deal_id, "order", number)
        return number

    def link(self, deal_id: str, kind: str, number: str) -> None:
        self.links.claim(self.portal, deal_id, f"manual:{kind}", uuid.uuid4().hex)
        self.links.set_document(self.portal, deal_id, f"manual:{kind}", kind, number)

    def act(self, number: str, action: str, **body: Any) -> dict[str, Any]:
        """A lifecycle step in Fortnox (the simulator's control: book, send, pay, credit, cancel, overdue)."""
        response = self.fx.post(f"/_sandbox/companies/{self.tenant}/invoices/{number}/{action}", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def booked(self, *numbers: str, sent: bool = False) -> None:
        for number in numbers:
            self.act(number, "bookkeep")
            if sent:
                self.act(number, "send")

    def fortnox_invoice(self, number: str) -> dict[str, Any]:
        return dict(self.fortnox_call("GET", f"/3/invoices/{number}")["Invoice"])

    # -- HubSpot, as the rep sees it -----------------------------------------------------------------

    def hubspot_call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.hs.request(method, path, headers=self.hs_auth, **kwargs)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def record(self, kind: str, **props: str) -> str:
        return str(self.hubspot_call("POST", f"{CRM}/{kind}", 201, json={"properties": props})["id"])

    def deal(self) -> str:
        return self.record("deals", dealname=f"Deal {uuid.uuid4().hex[:6]}")

    def props(self, kind: str, object_id: str, names: tuple[str, ...]) -> dict[str, Any]:
        return dict(self.hubspot_call("GET", f"{CRM}/{kind}/{object_id}",
                                      params={"properties": ",".join(names)})["properties"])

    def requests(self, sim: str, after: int = 0) -> list[dict[str, Any]]:
        client = self.hs if sim == "hubspot" else self.fx
        return list(client.get("/_sandbox/requests", params={"since": after}).json()["requests"])

    def last_request(self, sim: str) -> int:
        return max((r["id"] for r in self.requests(sim)), default=0)

    # -- the cycle -----------------------------------------------------------------------------------

    def cycle(self, after_seconds: float = 120) -> StatusOutcome:
        self.clock.advance(after_seconds)
        return self.sync.run(StatusMessage(self.portal), owner=uuid.uuid4().hex)


def hubspot_writes(world: World, after: int) -> list[tuple[str, str]]:
    """The CRM writes since request `after` (searches and reads left out)."""
    return [(r["method"], r["path"]) for r in world.requests("hubspot", after)
            if r["path"].startswith("/crm/") and r["method"] != "GET"
            and not r["path"].endswith(("/search", "/batch/read"))]


@pytest.fixture
def world(table) -> World:
    world = World(table)
    world.cycle()  # the first cycle creates hubnox's properties, so the records below can carry them
    return world


# -- each state reaches its deal ---------------------------------------------------------------------


def test_an_invoice_paid_in_full_shows_paid_with_balance_0_and_its_final_pay_date(world: World) -> None:
    deal = world.deal()
    number = world.invoice(deal)
    world.booked(number, sent=True)
    world.act(number, "pay")

    outcome = world.cycle()

    values = world.props("deals", deal, DEAL_PROPERTIES)
    assert values["fortnox_document_status"] == "paid"
    assert (money(values["fortnox_document_total"]), money(values["fortnox_document_balance"])) == (TOTAL, 0)
    assert values["fortnox_document_currency"] == "SEK"
    assert values["fortnox_document_final_pay_date"] == TODAY
    assert values["fortnox_document_due_date"] == world.fortnox_invoice(number)["DueDate"]
    assert values["fortnox_status_synced_at"]
    assert (outcome.deals_updated, outcome.warnings) == (1, [])


def test_a_partly_paid_invoice_shows_what_is_left_and_no_final_pay_date(world: World) -> None:
    deal = world.deal()
    number = world.invoice(deal)
    world.booked(number, sent=True)
    world.act(number, "pay", amount="500")

    world.cycle()

    values = world.props("deals", deal, DEAL_PROPERTIES)
    assert values["fortnox_document_status"] == "partly_paid"
    assert money(values["fortnox_document_balance"]) == TOTAL - 500
    assert not values["fortnox_document_final_pay_date"]


def test_a_credited_invoice_shows_credited_with_its_credit_invoice_and_the_credit_invoice_stays_off_deals(
        world: World) -> None:
    deal = world.deal()
    number = world.invoice(deal)
    world.booked(number, sent=True)
    world.cycle()
    assert world.props("deals", deal, DEAL_PROPERTIES)["fortnox_document_status"] == "sent"
    credit_number = str(world.act(number, "credit")["CreditInvoice"]["DocumentNumber"])
    world.act(credit_number, "bookkeep")

    outcome = world.cycle()

    values = world.props("deals", deal, DEAL_PROPERTIES)
    assert values["fortnox_document_status"] == "credited"
    assert values["fortnox_credit_invoice_number"] == credit_number
    assert money(values["fortnox_document_balance"]) == 0
    # The credit invoice carries the deal too (ExternalInvoiceReference1), but hubnox did not make it.
    assert (outcome.documents_tracked, outcome.deals_updated) == (1, 1)


def test_an_invoice_past_its_due_date_shows_overdue(world: World) -> None:
    deal = world.deal()
    number = world.invoice(deal)
    world.booked(number, sent=True)
    due = world.act(number, "overdue", days=3)["Invoice"]["DueDate"]

    world.cycle()

    values = world.props("deals", deal, DEAL_PROPERTIES)
    assert values["fortnox_document_status"] == "overdue"
    assert values["fortnox_document_due_date"] == due < TODAY
    assert money(values["fortnox_document_balance"]) == TOTAL


def test_a_cancelled_invoice_shows_cancelled(world: World) -> None:
    deal = world.deal()
    number = world.invoice(deal)
    world.cycle()
    assert world.props("deals", deal, DEAL_PROPERTIES)["fortnox_document_status"] == "draft"
    world.act(number, "cancel")

    world.cycle()

    assert world.props("deals", deal, DEAL_PROPERTIES)["fortnox_document_status"] == "cancelled"


def test_an_order_that_becomes_an_invoice_hands_its_deal_to_the_invoice(world: World) -> None:
    deal = world.deal()
    order = world.order(deal)
    world.cycle()
    assert world.props("deals", deal, DEAL_PROPERTIES)["fortnox_document_status"] == "draft"

    made = world.fortnox_call("PUT", f"/3/orders/{order}/createinvoice")["Order"]
    number = str(made["InvoiceReference"])
    world.booked(number)
    world.act(number, "pay", amount="250")
    world.cycle()

    values = world.props("deals", deal, DEAL_PROPERTIES)
    assert values["fortnox_document_status"] == "partly_paid"
    assert money(values["fortnox_document_balance"]) == TOTAL - 250
    world.act(number, "pay")
    world.cycle()
    assert world.props("deals", deal, DEAL_PROPERTIES)["fortnox_document_status"] == "paid"


# -- what a cycle costs ------------------------------------------------------------------------------


def test_a_cycle_after_nothing_changed_writes_nothing_to_hubspot_and_reads_fortnox_three_times(
        world: World) -> None:
    deal = world.deal()
    number = world.invoice(deal)
    world.booked(number, sent=True)
    world.act(number, "pay", amount="100")
    company = world.record("companies", name="Acme AB", fortnox_customer_number=world.customer())
    hubspot_before = world.last_request("hubspot")
    world.cycle()
    assert hubspot_writes(world, hubspot_before)  # the change is written...
    assert money(world.props("companies", company, CUSTOMER_PROPERTIES)["fortnox_outstanding_balance"]) == TOTAL - 100

    hubspot_before, fortnox_before = world.last_request("hubspot"), world.last_request("fortnox")
    outcome = world.cycle()
    outcome_later = world.cycle(after_seconds=600)

    assert hubspot_writes(world, hubspot_before) == []  # ...and a quiet cycle writes nothing
    assert [r for r in world.requests("hubspot", hubspot_before) if r["path"].startswith("/crm/")] == []
    paths = sorted(r["path"] for r in world.requests("fortnox", fortnox_before) if r["path"].startswith("/3/"))
    assert paths == sorted(["/3/invoices", "/3/orders", "/3/invoicepayments"] * 2)
    assert (outcome.deals_updated, outcome.customers_changed, outcome_later.deals_updated) == (0, 0, 0)


# -- without the payment scope -----------------------------------------------------------------------


def test_without_the_payment_scope_the_cycle_warns_and_paid_comes_from_the_final_pay_date(table) -> None:
    world = World(table, fortnox_scope=WITHOUT_PAYMENT)
    world.cycle()
    deal = world.deal()
    number = world.invoice(deal)
    company = world.record("companies", name="Acme AB", fortnox_customer_number=world.customer())
    world.booked(number, sent=True)
    world.act(number, "pay")

    outcome = world.cycle()

    assert outcome.warnings == [PAYMENTS_NOT_GRANTED]
    values = world.props("deals", deal, DEAL_PROPERTIES)
    assert (values["fortnox_document_status"], values["fortnox_document_final_pay_date"]) == ("paid", TODAY)
    assert world.props("companies", company, CUSTOMER_PROPERTIES)["fortnox_last_payment_date"] == TODAY
    refused = [r for r in world.requests("fortnox") if r["path"] == "/3/invoicepayments"]
    assert refused and {r["status"] for r in refused} == {403}


# -- the customers' totals ---------------------------------------------------------------------------


def test_a_customers_companies_and_contacts_get_its_totals_and_another_customers_records_stay_untouched(
        world: World) -> None:
    acme, other = world.customer("Acme AB"), world.customer("Other AB")
    company = world.record("companies", name="Acme AB", fortnox_customer_number=acme)
    contact = world.record("contacts", email="astrid@acme.se", fortnox_customer_number=acme)
    bystander = world.record("companies", name="Other AB", fortnox_customer_number=other)
    paid, partly, late = world.deal(), world.deal(), world.deal()
    numbers = [world.invoice(deal, acme) for deal in (paid, partly, late)]
    world.booked(*numbers, sent=True)
    world.act(numbers[0], "pay", date="2026-03-01")
    world.act(numbers[1], "pay", amount="1000")
    world.act(numbers[2], "overdue", days=5)

    outcome = world.cycle()

    expected = {"fortnox_outstanding_balance": (TOTAL - 1000) + TOTAL, "fortnox_overdue_amount": TOTAL,
                "fortnox_unpaid_invoices": 2, "fortnox_overdue_invoices": 1}
    for kind, record in (("companies", company), ("contacts", contact)):
        values = world.props(kind, record, CUSTOMER_PROPERTIES)
        assert {name: money(values[name]) for name in expected} == expected, kind
        assert values["fortnox_last_payment_date"] == TODAY  # the newer of the two payments
    assert all(not value for name, value in world.props("companies", bystander, CUSTOMER_PROPERTIES).items()
               if name in CUSTOMER_PROPERTIES)
    assert (outcome.customers_changed, outcome.records_updated) == (1, 2)

    world.act(numbers[2], "pay")
    world.cycle()
    values = world.props("companies", company, CUSTOMER_PROPERTIES)
    assert {name: money(values[name]) for name in expected} == {
        "fortnox_outstanding_balance": TOTAL - 1000, "fortnox_overdue_amount": 0,
        "fortnox_unpaid_invoices": 1, "fortnox_overdue_invoices": 0}
