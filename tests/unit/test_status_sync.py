"""The status sync on fakes: Fortnox's changes reach only the deals and customers they change, in batches,
with a fixed number of Fortnox calls per cycle; a cycle in which nothing changed makes no HubSpot call."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import Invoice, InvoicePayment, Order
from hubnox.hubspot.paths import DEALS
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.status_fanout import StatusMessage
from hubnox.sync.status_model import STOCKHOLM, stockholm_today
from hubnox.sync.status_sync import CURSOR_NAME, ORDERS_NOT_AVAILABLE, PAYMENTS_NOT_GRANTED, StatusOutcome, StatusSync
from tests.support.clock import FakeClock
from tests.support.fakes import Cursors, DealLinks, DocumentStates, HubSpot, Leases

PORTAL = "4242"
DUE = date(2027, 2, 14)  # a month after the fake clock's start (2027-01-15)


class Fortnox:
    """One Fortnox company as the status sync reads it: documents stamped with the moment they last
    changed, `lastmodified` compared by the minute in Swedish time, every call kept in `calls`."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.invoices: dict[str, tuple[Invoice, float]] = {}
        self.orders: dict[str, tuple[Order, float]] = {}
        self.payments: list[tuple[InvoicePayment, float]] = []
        self.calls: list[str] = []
        self.payment_scope = True
        self.order_licence = True

    def put_invoice(self, invoice: Invoice) -> Invoice:
        self.invoices[str(invoice.document_number)] = (invoice, self.clock())
        return invoice

    def change_invoice(self, number: str, **changes: Any) -> Invoice:
        return self.put_invoice(self.invoices[number][0].model_copy(update=changes))

    def put_order(self, order: Order) -> Order:
        self.orders[str(order.document_number)] = (order, self.clock())
        return order

    def pay(self, number: str, amount: str, on: date, *, touch_invoice: bool = True) -> None:
        invoice, modified = self.invoices[number]
        balance = (invoice.balance or Decimal(0)) - Decimal(amount)
        paid = invoice.model_copy(update={"balance": balance, "final_pay_date": on if balance == 0 else None})
        self.invoices[number] = (paid, self.clock() if touch_invoice else modified)
        self.payments.append((InvoicePayment(number=str(len(self.payments) + 1), invoice_number=number,
                                             amount=Decimal(amount), payment_date=on,
                                             invoice_customer_number=invoice.customer_number), self.clock()))

    def _since(self, since: str) -> float:
        return datetime.strptime(since, "%Y-%m-%d %H:%M").replace(tzinfo=STOCKHOLM).timestamp()

    def list_invoices_changed(self, since: str) -> list[Invoice]:
        self.calls.append("invoices?lastmodified")
        return [invoice for invoice, modified in self.invoices.values() if modified >= self._since(since)]

    def list_orders_changed(self, since: str) -> list[Order]:
        self.calls.append("orders?lastmodified")
        if not self.order_licence:  # Fortnox answers 400 with 2001101 for a company without the licence
            raise FortnoxError(400, 2001101, "Det finns ingen aktiv licens för önskat scope")
        return [order for order, modified in self.orders.values() if modified >= self._since(since)]

    def list_payments_changed(self, since: str) -> list[InvoicePayment]:
        self.calls.append("invoicepayments?lastmodified")
        if not self.payment_scope:
            raise FortnoxError(403, None, "Missing scope")
        return [payment for payment, modified in self.payments if modified >= self._since(since)]

    def list_invoices_filtered(self, filter: str) -> list[Invoice]:
        self.calls.append(f"invoices?filter={filter}")
        assert filter == "unpaidoverdue"
        today = stockholm_today(self.clock())
        return [invoice for invoice, _ in self.invoices.values() if _owed(invoice)
                and invoice.due_date is not None and invoice.due_date < today]

    def list_invoices(self, customer_number: str, filter: str | None = None) -> list[Invoice]:
        self.calls.append(f"invoices?customernumber={customer_number}")
        assert filter == "unpaid"
        return [invoice for invoice, _ in self.invoices.values()
                if invoice.customer_number == customer_number and _owed(invoice)]

    def get_invoice(self, document_number: str) -> Invoice:
        self.calls.append(f"invoices/{document_number}")
        return self.invoices[document_number][0]

    def get_order(self, document_number: str) -> Order:
        self.calls.append(f"orders/{document_number}")
        return self.orders[document_number][0]


def _owed(invoice: Invoice) -> bool:
    return bool(invoice.booked) and not invoice.cancelled and (invoice.balance or 0) != 0


def invoice(number: str, deal: str | None, customer: str = "C1", total: str = "1000", **fields: Any) -> Invoice:
    values: dict[str, Any] = {"document_number": number, "customer_number": customer,
                              "external_invoice_reference1": deal, "total": Decimal(total),
                              "balance": Decimal(total), "booked": True, "sent": True, "cancelled": False,
                              "credit": False, "due_date": DUE, "currency": "SEK"}
    return Invoice(**{**values, **fields})


class World:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.fortnox = Fortnox(self.clock)
        self.hubspot = HubSpot()
        self.documents = DocumentStates()
        self.links = DealLinks(self.clock)
        self.cursors = Cursors()
        self.leases = Leases(self.clock)
        self.settings = PortalSettings()
        self.upgrades: list[str] = []
        self.sync = StatusSync(fortnox_for=lambda portal: self.fortnox, hubspot_for=lambda portal: self.hubspot,
                               documents=self.documents, deal_links=self.links, cursors=self.cursors,
                               leases=self.leases, settings_for=lambda portal: self.settings,
                               upgrade=self.upgrades.append, clock=self.clock)

    def made(self, document: Invoice | Order, deal: str, kind: str = "invoice") -> None:
        """hubnox made `document` for `deal`: the deal exists, its link names the document, Fortnox holds it."""
        self.hubspot.put(DEALS, deal, dealname=f"Deal {deal}")
        self.links.claim(PORTAL, deal, "stage:closedwon", f"run-{deal}")
        self.links.set_document(PORTAL, deal, "stage:closedwon", kind, str(document.document_number))
        if isinstance(document, Invoice):
            self.fortnox.put_invoice(document)
        else:
            self.fortnox.put_order(document)

    def cycle(self, after_seconds: float = 120, **run: Any) -> StatusOutcome:
        """One cycle `after_seconds` later, with the calls of both APIs counted from zero."""
        self.clock.advance(after_seconds)
        self.fortnox.calls.clear()
        self.hubspot.writes.clear()
        self.hubspot.searches.clear()
        return self.sync.run(StatusMessage(PORTAL), "message-1", **run)

    def deal(self, deal_id: str) -> dict[str, str | None]:
        return self.hubspot.objects[DEALS][deal_id].properties

    def batches(self, object_type: str) -> list[tuple[str, ...]]:
        return [write[2:] for write in self.hubspot.writes if write[:2] == ("batch_update", object_type)]


@pytest.fixture
def world() -> World:
    return World()


def test_a_thousand_documents_with_one_change_give_one_deal_update_and_one_customers_totals(world):
    for index in range(1000):
        world.made(invoice(str(1000 + index), f"d{index}", customer=f"C{index % 10}"), f"d{index}")
    for customer in range(10):
        world.hubspot.put("companies", f"co{customer}", fortnox_customer_number=f"C{customer}")

    first = world.cycle()
    assert first.deals_updated == 1000 and [len(batch) for batch in world.batches(DEALS)] == [100] * 10
    assert world.deal("d7")["fortnox_document_status"] == "sent"
    assert world.deal("d7")["fortnox_document_balance"] == "1000.00"
    assert world.hubspot.objects["companies"]["co3"].properties["fortnox_outstanding_balance"] == "100000.00"

    world.clock.advance(60)
    world.fortnox.pay("1007", "1000", date(2027, 1, 15))
    second = world.cycle()

    assert world.batches(DEALS) == [("d7",)]
    assert second.deals_updated == 1
    assert world.deal("d7")["fortnox_document_status"] == "paid"
    assert world.deal("d7")["fortnox_document_balance"] == "0.00"
    assert world.deal("d7")["fortnox_document_final_pay_date"] == "2027-01-15"
    assert world.deal("d7")["fortnox_status_synced_at"] == str(int(world.clock() * 1000))
    assert world.batches("companies") == [("co7",)]
    company = world.hubspot.objects["companies"]["co7"].properties
    assert company["fortnox_outstanding_balance"] == "99000.00"
    assert company["fortnox_unpaid_invoices"] == "99"
    assert company["fortnox_last_payment_date"] == "2027-01-15"
    # the three reads of what changed, and one read of the paying customer's unpaid invoices
    assert world.fortnox.calls == ["invoices?lastmodified", "orders?lastmodified", "invoicepayments?lastmodified",
                                   "invoices?customernumber=C7"]


def test_a_cycle_in_which_nothing_changed_makes_three_fortnox_calls_and_no_hubspot_call(world):
    world.made(invoice("1001", "d1"), "d1")
    world.hubspot.put("companies", "co1", fortnox_customer_number="C1")
    world.cycle()

    quiet = world.cycle(after_seconds=600)

    assert world.hubspot.writes == [] and world.hubspot.searches == []
    assert world.fortnox.calls == ["invoices?lastmodified", "orders?lastmodified", "invoicepayments?lastmodified"]
    assert quiet.deals_updated == 0 and quiet.cursor is not None


def test_the_first_cycle_sweeps_overdue_invoices_and_the_next_sweep_comes_an_hour_later(world):
    world.made(invoice("1001", "d1"), "d1")

    assert world.cycle().swept and "invoices?filter=unpaidoverdue" in world.fortnox.calls
    assert not world.cycle(after_seconds=1800).swept
    assert "invoices?filter=unpaidoverdue" not in world.fortnox.calls
    assert world.cycle(after_seconds=1800).swept


def test_the_overlap_window_reads_a_change_twice_and_writes_it_once(world):
    world.made(invoice("1001", "d1"), "d1")
    world.cycle()
    world.fortnox.pay("1001", "400", date(2027, 1, 15))  # inside the minutes the next two reads overlap

    world.cycle(after_seconds=30)
    assert world.batches(DEALS) == [("d1",)]
    assert world.deal("d1")["fortnox_document_status"] == "partly_paid"

    again = world.cycle(after_seconds=30)
    assert again.documents_read == 1  # read again in the overlap...
    assert world.hubspot.writes == []  # ...and found written already


def test_a_credited_invoice_shows_credited_with_its_credit_invoice_number_and_the_credit_invoice_stays_off_the_deal(
        world):
    world.made(invoice("1001", "d1"), "d1")
    world.cycle()
    world.clock.advance(60)
    world.fortnox.change_invoice("1001", credit_invoice_reference="1002", balance=Decimal(0))
    world.fortnox.put_invoice(invoice("1002", "d1", total="-1000", credit=True, credit_invoice_reference="1001",
                                      balance=Decimal(0)))

    outcome = world.cycle()

    assert world.batches(DEALS) == [("d1",)]
    assert world.deal("d1")["fortnox_document_status"] == "credited"
    assert world.deal("d1")["fortnox_credit_invoice_number"] == "1002"
    assert outcome.documents_tracked == 1  # the credit invoice is not a document the deal's links name


def test_an_order_that_becomes_an_invoice_hands_its_deal_to_the_invoice(world):
    order = Order(document_number="5", customer_number="C1", external_invoice_reference1="d1", total=Decimal(800),
                  currency="SEK", sent=True, cancelled=False)
    world.made(order, "d1", kind="order")
    world.cycle()
    assert world.deal("d1")["fortnox_document_status"] == "sent"

    world.clock.advance(60)
    world.fortnox.put_order(order.model_copy(update={"invoice_reference": "1500"}))
    world.fortnox.put_invoice(invoice("1500", None, total="800", booked=False, sent=False))
    world.cycle()
    assert world.deal("d1")["fortnox_document_status"] == "draft"
    assert world.deal("d1")["fortnox_document_balance"] == "800.00"

    world.clock.advance(60)
    world.fortnox.change_invoice("1500", booked=True)
    world.fortnox.pay("1500", "800", date(2027, 1, 16))
    world.cycle()
    assert world.batches(DEALS) == [("d1",)]
    assert world.deal("d1")["fortnox_document_status"] == "paid"


def test_without_the_payment_scope_payments_are_skipped_with_a_warning_and_paid_comes_from_the_invoice(world):
    world.fortnox.payment_scope = False
    world.made(invoice("1001", "d1"), "d1")
    world.cycle()
    world.clock.advance(60)
    world.fortnox.pay("1001", "1000", date(2027, 1, 15))

    outcome = world.cycle()

    assert outcome.warnings == [PAYMENTS_NOT_GRANTED]
    assert world.deal("d1")["fortnox_document_status"] == "paid"
    assert outcome.cursor is not None  # the cycle is complete without payments


def test_a_company_without_the_order_licence_still_has_its_invoices_followed(world):
    world.fortnox.order_licence = False
    world.made(invoice("1001", "d1"), "d1")
    world.cycle()
    world.clock.advance(60)
    world.fortnox.pay("1001", "1000", date(2027, 1, 15))

    outcome = world.cycle()

    assert outcome.warnings == [ORDERS_NOT_AVAILABLE]
    assert world.deal("d1")["fortnox_document_status"] == "paid"
    assert outcome.cursor is not None  # the message is done, not failed and sent again


def test_a_payment_that_leaves_its_invoice_unmodified_is_found_through_the_payments_read(world):
    world.made(invoice("1001", "d1"), "d1")
    world.hubspot.put("contacts", "ct1", fortnox_customer_number="C1")
    world.cycle(after_seconds=3600)
    world.clock.advance(600)
    world.fortnox.pay("1001", "250", date(2027, 1, 15), touch_invoice=False)

    world.cycle()

    assert "invoices/1001" in world.fortnox.calls
    assert world.deal("d1")["fortnox_document_status"] == "partly_paid"
    contact = world.hubspot.objects["contacts"]["ct1"].properties
    assert contact["fortnox_outstanding_balance"] == "750.00"
    assert contact["fortnox_last_payment_date"] == "2027-01-15"


def test_an_invoice_that_falls_overdue_without_changing_is_found_by_the_hourly_sweep(world):
    world.made(invoice("1001", "d1", due_date=date(2027, 1, 16)), "d1")
    world.hubspot.put("companies", "co1", fortnox_customer_number="C1")
    world.cycle()

    world.cycle(after_seconds=2 * 86_400)  # two days on, nothing modified in Fortnox

    assert world.deal("d1")["fortnox_document_status"] == "overdue"
    company = world.hubspot.objects["companies"]["co1"].properties
    assert (company["fortnox_overdue_amount"], company["fortnox_overdue_invoices"]) == ("1000.00", "1")


def test_a_document_the_deals_links_do_not_name_is_left_alone(world):
    world.hubspot.put(DEALS, "d1")
    world.fortnox.put_invoice(invoice("1001", "d1"))  # someone typed the deal id into Fortnox by hand
    world.made(invoice("1002", "d2"), "d2")

    outcome = world.cycle()

    assert outcome.documents_tracked == 1 and "fortnox_document_status" not in world.deal("d1")


def test_with_timeline_notes_on_a_state_change_adds_one_note_and_first_tracking_adds_none(world):
    world.settings = PortalSettings(status_timeline_notes=True)
    world.made(invoice("1001", "d1", total="12500"), "d1")
    world.cycle()
    assert [w for w in world.hubspot.writes if w[0] == "note"] == []

    world.clock.advance(60)
    world.fortnox.pay("1001", "12500", date(2027, 1, 15))
    world.cycle()

    assert [w[:2] for w in world.hubspot.writes if w[0] == "note"] == [("note", "d1")]
    note = next(w[2] for w in world.hubspot.writes if w[0] == "note")
    assert note == "<p>Fortnox: invoice 1001 is now paid (12\u00a0500,00 kr, 2027-01-15)</p>"


def test_a_deal_hubspot_refuses_holds_the_cursor_and_is_written_next_cycle(world):
    world.made(invoice("1001", "d1"), "d1")
    world.made(invoice("1002", "d2"), "d2")
    world.hubspot.refuse.add("d2")

    first = world.cycle()
    assert (first.deals_updated, first.deals_failed) == (1, 1)
    held = json.loads(world.cursors.get(PORTAL, CURSOR_NAME) or "")
    assert held["since"] == first.since  # the next cycle reads from where this one did

    world.hubspot.refuse.clear()
    second = world.cycle()
    assert world.batches(DEALS) == [("d2",)]
    assert second.since == "2027-01-15 08:56"
    assert json.loads(world.cursors.get(PORTAL, CURSOR_NAME) or "")["since"] == "2027-01-15 09:04"


def test_a_cycle_short_of_time_saves_what_it_wrote_and_continues_without_writing_it_twice(world):
    for index in range(150):
        world.made(invoice(str(1000 + index), f"d{index}"), f"d{index}")
    left = iter([100.0, 5.0])

    first = world.cycle(time_left=lambda: next(left, 5.0))
    assert first.continuation == StatusMessage(PORTAL) and first.deals_updated == 100
    assert world.cursors.get(PORTAL, CURSOR_NAME) is None

    world.cycle(after_seconds=1)
    assert [len(batch) for batch in world.batches(DEALS)] == [50]


def test_a_second_message_for_a_portal_being_synced_does_nothing(world):
    world.made(invoice("1001", "d1"), "d1")
    assert world.leases.acquire(f"status:{PORTAL}", "other", 600)

    outcome = world.cycle()

    assert outcome.busy and world.fortnox.calls == [] and world.hubspot.writes == []


def test_each_cycle_first_upgrades_the_portals_properties(world):
    world.cycle()
    world.cycle()
    assert world.upgrades == [PORTAL, PORTAL]


def test_a_first_cycle_of_many_documents_reads_the_portals_links_at_once_not_per_deal(world):
    for index in range(50):
        world.made(invoice(str(1000 + index), f"d{index}"), f"d{index}")
    world.hubspot.put(DEALS, "stranger")
    world.fortnox.put_invoice(invoice("2000", "stranger"))  # a deal id typed into Fortnox by hand
    asked: list[str] = []
    for_deal, by_deal = world.links.for_deal, world.links.documents_by_deal
    world.links.for_deal = lambda portal, deal: asked.append(f"for_deal {deal}") or for_deal(portal, deal)
    world.links.documents_by_deal = lambda portal: asked.append("documents_by_deal") or by_deal(portal)

    outcome = world.cycle()

    assert asked == ["documents_by_deal"]
    assert outcome.documents_tracked == 50 and outcome.deals_updated == 50
    assert "fortnox_document_status" not in world.deal("stranger")
