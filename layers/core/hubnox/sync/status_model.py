"""What a Fortnox document's state is, and what HubSpot shows of it: pure functions, no I/O.

The status sync (`hubnox.sync.status_sync`) reads what changed in Fortnox and asks this module three
things: the one word for a document's state (`document_state`), the deal properties that show it
(`deal_values`), and a Fortnox customer's totals for its companies and contacts
(`customer_aggregate`). `changed_values` is what keeps the sync cheap: only values that differ from
what hubnox last wrote are sent.

Fortnox has no single status field. An invoice carries `Booked`, `Cancelled`, `Sent`, `Credit`,
`CreditInvoiceReference`, `Balance`, `Total` and `DueDate`, and several can hold at once (a sent,
booked, partly paid invoice that is overdue). The state is the first that matches, in this order:

1. cancelled
2. credited: a credit invoice was made for it (`CreditInvoiceReference` set on an invoice that is not
   itself a credit invoice)
3. paid: booked with nothing left to pay
4. overdue: booked, money left, due before today (Swedish date)
5. partly_paid: booked, some but not all of it paid
6. sent
7. booked
8. draft

An order is cancelled, invoiced (it became an invoice, whose state the deal then follows), sent, or a
draft. Amounts stay `Decimal` and are written with two decimals; a customer's totals are in SEK,
each invoice's balance times its `CurrencyRate` (per `CurrencyUnit` when Fortnox names one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from hubnox.fortnox.models import DocumentKind, Invoice, InvoicePayment, Order

DocumentState = Literal["draft", "booked", "sent", "partly_paid", "overdue", "paid", "credited", "cancelled",
                        "invoiced"]
#: every state, in the order HubSpot's enum lists them
DOCUMENT_STATES: tuple[str, ...] = get_args(DocumentState)

#: Fortnox's dates are Swedish: an invoice due today is overdue tomorrow in Stockholm
STOCKHOLM = ZoneInfo("Europe/Stockholm")
CENT = Decimal("0.01")

# The deal properties the status sync writes (hubnox's group; defined in `hubnox.hubspot.properties`).
STATUS = "fortnox_document_status"
TOTAL = "fortnox_document_total"
BALANCE = "fortnox_document_balance"
CURRENCY = "fortnox_document_currency"
CREDIT_INVOICE_NUMBER = "fortnox_credit_invoice_number"
DUE_DATE = "fortnox_document_due_date"
FINAL_PAY_DATE = "fortnox_document_final_pay_date"
SYNCED_AT = "fortnox_status_synced_at"

# The company and contact properties: a Fortnox customer's number (written when hubnox links it) and totals.
CUSTOMER_NUMBER_PROPERTY = "fortnox_customer_number"
OUTSTANDING_BALANCE = "fortnox_outstanding_balance"
OVERDUE_AMOUNT = "fortnox_overdue_amount"
UNPAID_INVOICES = "fortnox_unpaid_invoices"
OVERDUE_INVOICES = "fortnox_overdue_invoices"
LAST_PAYMENT_DATE = "fortnox_last_payment_date"

_NO_REFERENCE = (None, "", "0")

#: (document kind, document number), e.g. ("invoice", "1001")
DocumentKey = tuple[str, str]


@dataclass(frozen=True)
class DocumentSnapshot:
    """A tracked Fortnox document: its deal, its customer, its last state and the deal values written."""

    deal_id: str
    customer_number: str
    state: str
    written: dict[str, str] = field(default_factory=dict)
    checked_at: float = 0.0


@dataclass(frozen=True)
class CustomerSnapshot:
    """A Fortnox customer's totals as last written to its companies and contacts."""

    written: dict[str, str] = field(default_factory=dict)
    last_payment_date: date | None = None


def stockholm_today(epoch_seconds: float) -> date:
    """The date in Sweden at `epoch_seconds`, the date Fortnox's due dates compare with."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).astimezone(STOCKHOLM).date()


def stockholm_minute(epoch_seconds: float) -> str:
    """`epoch_seconds` as Fortnox's `lastmodified` takes it: "YYYY-MM-DD HH:MM", Swedish time."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def invoice_state(invoice: Invoice, today: date) -> DocumentState:
    """The invoice's state, the first of the precedence list that matches."""
    balance = invoice.balance
    total = invoice.total
    if invoice.cancelled:
        return "cancelled"
    if (invoice.credit_invoice_reference or "").strip() not in _NO_REFERENCE and not invoice.credit:
        return "credited"
    if invoice.booked and balance is not None:
        if balance == 0:
            return "paid"
        if balance > 0 and invoice.due_date is not None and invoice.due_date < today:
            return "overdue"
        if total is not None and 0 < balance < total:
            return "partly_paid"
    if invoice.sent:
        return "sent"
    if invoice.booked:
        return "booked"
    return "draft"


def order_state(order: Order) -> DocumentState:
    """The order's state: cancelled, invoiced, sent or draft (an order has no money state of its own)."""
    if order.cancelled:
        return "cancelled"
    if (order.invoice_reference or "").strip() not in _NO_REFERENCE:
        return "invoiced"
    if order.sent:
        return "sent"
    return "draft"


def document_state(document: Invoice | Order, today: date) -> DocumentState:
    """The state of an invoice or an order (see the module's precedence list)."""
    if isinstance(document, Invoice):
        return invoice_state(document, today)
    return order_state(document)


def money_text(value: Decimal | None) -> str:
    """An amount as HubSpot's number property takes it: two decimals, half up; "" when unknown."""
    return "" if value is None else format(value.quantize(CENT, rounding=ROUND_HALF_UP), "f")


def date_text(value: date | None) -> str:
    """A date as HubSpot's date property takes it, "YYYY-MM-DD"; "" when there is none."""
    return "" if value is None else value.isoformat()


def deal_values(kind: DocumentKind | str, document: Invoice | Order, today: date) -> dict[str, str]:
    """The deal properties that show `document`'s Fortnox state, every value a string ("" clears).

    An order writes only its state, total and currency: it has no balance, due date or payments.
    `fortnox_status_synced_at` is not among them: the sync stamps it on the writes it makes, so a
    document that did not change is never written again.
    """
    kind = DocumentKind(kind)
    values = {
        STATUS: document_state(document, today),
        TOTAL: money_text(document.total),
        CURRENCY: document.currency or "",
    }
    if kind is DocumentKind.INVOICE and isinstance(document, Invoice):
        credited = (document.credit_invoice_reference or "").strip()
        values.update({
            BALANCE: money_text(document.balance),
            DUE_DATE: date_text(document.due_date),
            FINAL_PAY_DATE: date_text(document.final_pay_date),
            CREDIT_INVOICE_NUMBER: "" if credited in _NO_REFERENCE or document.credit else credited,
        })
    return values


def in_sek(amount: Decimal, invoice: Invoice) -> Decimal:
    """An amount of `invoice`'s currency in SEK: times `CurrencyRate`, per `CurrencyUnit` when given.
    A SEK invoice (or one without a rate) counts as it is."""
    if (invoice.currency or "SEK").upper() == "SEK" or not invoice.currency_rate:
        return amount
    unit = invoice.currency_unit or Decimal(1)
    return amount * invoice.currency_rate / unit


def customer_aggregate(unpaid_invoices: Iterable[Invoice], payments_seen: Iterable[InvoicePayment],
                       stored_last_payment: date | None, today: date) -> dict[str, str]:
    """A Fortnox customer's totals for its HubSpot companies and contacts, every value a string.

    Counts booked, uncancelled invoices with a balance: the outstanding balance sums every such
    balance in SEK (a credit invoice's negative balance lowers it), the unpaid count is the invoices
    with money still owed, and the overdue ones are those due before `today`. The last payment date is
    the newest of the one stored and the payments seen now (Fortnox has no customer-level date).
    """
    outstanding = overdue = Decimal(0)
    unpaid = overdue_count = 0
    for invoice in unpaid_invoices:
        balance = invoice.balance
        if not invoice.booked or invoice.cancelled or balance is None or balance == 0:
            continue
        sek = in_sek(balance, invoice)
        outstanding += sek
        if balance > 0:
            unpaid += 1
            if invoice.due_date is not None and invoice.due_date < today:
                overdue += sek
                overdue_count += 1
    dates = [payment.payment_date for payment in payments_seen if payment.payment_date is not None]
    if stored_last_payment is not None:
        dates.append(stored_last_payment)
    return {
        OUTSTANDING_BALANCE: money_text(outstanding),
        OVERDUE_AMOUNT: money_text(overdue),
        UNPAID_INVOICES: str(unpaid),
        OVERDUE_INVOICES: str(overdue_count),
        LAST_PAYMENT_DATE: date_text(max(dates) if dates else None),
    }


def changed_values(new: Mapping[str, str], written: Mapping[str, str]) -> dict[str, str]:
    """The values of `new` that differ from what was last `written`. A value never written counts as
    "" (HubSpot's empty property), so an empty value is not sent the first time either."""
    return {name: value for name, value in new.items() if written.get(name, "") != value}
