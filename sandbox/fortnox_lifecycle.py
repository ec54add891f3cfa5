"""How an invoice (and an order, where it applies) moves through Fortnox's states in the simulator:
bookkeep, send, payment registration, credit, cancel, and falling overdue.

The `/3/` routes and the `/_sandbox/` controls both call these functions, so a test that pays an
invoice through a control sees exactly what a client registering the payment through
/3/invoicepayments would see. Every function stamps `_modified` on each document (and payment) it
changes, through `FortnoxState.stamp`, so `lastmodified` lists them. Refusals raise `FortnoxError`
with Fortnox's codes (the `/3/` routes answer them as ErrorInformation; the controls turn them into
{"message"}).

Decisions where Fortnox does not document its behaviour (also in the README):
  - A payment lowers the invoice's Balance when it is registered; booking the payment only sets its
    Booked and voucher. FinalPayDate is set to the payment's date when Balance reaches 0 (or
    below) and cleared when a change or deletion of a payment raises it again.
  - A payment bumps its invoice's `_modified`, so `GET /3/invoices?lastmodified=` lists the invoice.
  - A payment's `amount` is in the invoice's currency (it is what Balance is kept in);
    AmountCurrency holds it and Amount the SEK value (amount × CurrencyRate, rounded to öre).
  - Payments need a booked, uncancelled invoice with a balance; an amount of 0 is refused,
    overpaying is allowed (Balance goes below 0).
  - Credit needs a booked, uncancelled invoice that is not itself a credit invoice and was not
    credited yet. It makes a new, unbooked credit invoice: Credit "true", the rows with negated
    quantities, CreditInvoiceReference = the original, ExternalInvoiceReference1/2, YourReference
    and OurReference copied, dated today. The original's CreditInvoiceReference names it.
    Booking the credit invoice sets both Balances to 0 (payments already made on the original
    are not refunded in the simulator). Cancelling the unbooked credit invoice clears the
    original's CreditInvoiceReference, so it can be credited again.
  - `make_overdue` moves DueDate into the past and stamps the invoice: real Fortnox does not modify
    an invoice when time passes; the stamp is a test convenience.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from sandbox import fortnox_money as money
from sandbox.fortnox_documents import INVOICE, ORDER, DocumentKind, new_document, recompute
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_state import Company, FortnoxState

#: the voucher series Fortnox's BAS setup uses for customer invoices and customer payments
INVOICE_VOUCHER_SERIES = "B"
PAYMENT_VOUCHER_SERIES = "C"

#: the bank giro account a payment is booked against when the request names none
DEFAULT_MODE_OF_PAYMENT = "BG"
DEFAULT_MODE_OF_PAYMENT_ACCOUNT = 1930


def is_credit_invoice(invoice: dict[str, Any]) -> bool:
    return invoice.get("Credit") == "true"


def bookkeep(company: Company, invoice: dict[str, Any], state: FortnoxState) -> None:
    """Book an invoice (Booked and its voucher). Booking a credit invoice settles both balances."""
    if invoice["Cancelled"]:
        raise FortnoxError("DOCUMENT_CANCELLED")
    if invoice["Booked"]:
        raise FortnoxError("ALREADY_BOOKED")
    invoice.update(
        {
            "Booked": True,
            "VoucherSeries": INVOICE_VOUCHER_SERIES,
            "VoucherYear": int(invoice["InvoiceDate"][:4]),
            "VoucherNumber": next(company.voucher_numbers),
        }
    )
    if is_credit_invoice(invoice):
        original = company.invoices.get(int(invoice["CreditInvoiceReference"] or 0))
        invoice["Balance"] = Decimal(0)
        if original is not None:
            original["Balance"] = Decimal(0)
            state.stamp(original)
    state.stamp(invoice)


def mark_sent(document: dict[str, Any], state: FortnoxState) -> None:
    """Mark an invoice or order as sent (what externalprint, print and email do to it)."""
    if document["Cancelled"]:
        raise FortnoxError("DOCUMENT_CANCELLED")
    document["Sent"] = True
    state.stamp(document)


def cancel(company: Company, kind: DocumentKind, document: dict[str, Any], state: FortnoxState) -> None:
    """Cancel an unbooked invoice or an order not yet invoiced (a booked invoice is credited)."""
    if document["Cancelled"]:
        raise FortnoxError("DOCUMENT_CANCELLED")
    if kind is INVOICE and document["Booked"]:
        raise FortnoxError("CANNOT_CANCEL_BOOKED")
    if kind is ORDER and document["InvoiceReference"]:
        raise FortnoxError("ORDER_INVOICED")
    document["Cancelled"] = True
    state.stamp(document)
    if kind is INVOICE and is_credit_invoice(document):
        original = company.invoices.get(int(document["CreditInvoiceReference"] or 0))
        if original is not None and original.get("CreditInvoiceReference") == document["DocumentNumber"]:
            original["CreditInvoiceReference"] = None
            state.stamp(original)


def make_overdue(invoice: dict[str, Any], days: int, state: FortnoxState) -> None:
    """Move DueDate `days` into the past (InvoiceDate too when it would fall after it)."""
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise FortnoxError("INVALID_VALUE", field="days")
    due = state.today() - timedelta(days=days)
    invoice["DueDate"] = due.isoformat()
    if invoice["InvoiceDate"] > invoice["DueDate"]:
        invoice["InvoiceDate"] = invoice["DueDate"]
    state.stamp(invoice)


def _check_payable(invoice: dict[str, Any]) -> None:
    if invoice["Cancelled"]:
        raise FortnoxError("DOCUMENT_CANCELLED")
    if not invoice["Booked"]:
        raise FortnoxError("PAYMENT_NEEDS_BOOKED_INVOICE", number=invoice["DocumentNumber"])


def _move_balance(invoice: dict[str, Any], paid: Decimal, paid_on: str | None) -> None:
    """Add `paid` (invoice currency) to what the invoice has taken; set or clear FinalPayDate."""
    invoice["_paid"] += paid
    invoice["Balance"] = invoice["Balance"] - paid
    if invoice["Balance"] <= 0:
        invoice["FinalPayDate"] = paid_on
    else:
        invoice["FinalPayDate"] = None


def register_payment(
    company: Company,
    invoice: dict[str, Any],
    amount: Decimal | None,
    paid_on: str | None,
    state: FortnoxState,
    *,
    booked: bool = False,
    mode_of_payment: str | None = None,
    mode_of_payment_account: int | None = None,
    source: str = "manual",
) -> dict[str, Any]:
    """Register a payment of `amount` (invoice currency; default the whole balance) on `paid_on`
    (default today) and lower the invoice's Balance. `booked` books it at once, as a payment
    registered in Fortnox's own UI is; the API creates it unbooked (PUT …/bookkeep books it)."""
    _check_payable(invoice)
    value = invoice["Balance"] if amount is None else money.round_cents(amount)
    if value == 0:
        raise FortnoxError("INVALID_VALUE", field="Amount")
    day = paid_on or state.today().isoformat()
    rate = Decimal(str(invoice["CurrencyRate"]))
    payment: dict[str, Any] = {
        "Number": str(company.next_payment_number()),
        "InvoiceNumber": int(invoice["DocumentNumber"]),
        "AmountCurrency": value,
        "Amount": money.round_cents(value * rate),
        "Currency": invoice["Currency"],
        "CurrencyRate": rate,
        "CurrencyUnit": Decimal(invoice.get("CurrencyUnit") or 1),
        "PaymentDate": day,
        "Booked": False,
        "ModeOfPayment": mode_of_payment or DEFAULT_MODE_OF_PAYMENT,
        "ModeOfPaymentAccount": mode_of_payment_account or DEFAULT_MODE_OF_PAYMENT_ACCOUNT,
        "Source": source,
        "VoucherNumber": None,
        "VoucherSeries": None,
        "VoucherYear": None,
        "WriteOffs": [],
    }
    _move_balance(invoice, value, day)
    company.payments.append(payment)
    if booked:
        bookkeep_payment(company, payment, state)
    state.stamp(payment)
    state.stamp(invoice)
    return payment


def find_payment(company: Company, number: str) -> dict[str, Any]:
    for payment in company.payments:
        if payment.get("Number") == number:
            return payment
    raise FortnoxError("PAYMENT_NOT_FOUND", number=number)


def update_payment(
    company: Company,
    payment: dict[str, Any],
    state: FortnoxState,
    *,
    amount: Decimal | None = None,
    paid_on: str | None = None,
    mode_of_payment: str | None = None,
    mode_of_payment_account: int | None = None,
) -> None:
    """Change an unbooked payment; a new amount moves its invoice's Balance by the difference."""
    if payment["Booked"]:
        raise FortnoxError("PAYMENT_BOOKED", number=payment["Number"])
    invoice = company.invoices[payment["InvoiceNumber"]]
    if paid_on is not None:
        payment["PaymentDate"] = paid_on
    if mode_of_payment is not None:
        payment["ModeOfPayment"] = mode_of_payment
    if mode_of_payment_account is not None:
        payment["ModeOfPaymentAccount"] = mode_of_payment_account
    if amount is not None:
        value = money.round_cents(amount)
        if value == 0:
            raise FortnoxError("INVALID_VALUE", field="Amount")
        _move_balance(invoice, value - payment["AmountCurrency"], payment["PaymentDate"])
        payment["AmountCurrency"] = value
        payment["Amount"] = money.round_cents(value * payment["CurrencyRate"])
    elif paid_on is not None and invoice["FinalPayDate"] is not None:
        invoice["FinalPayDate"] = paid_on
    state.stamp(payment)
    state.stamp(invoice)


def delete_payment(company: Company, payment: dict[str, Any], state: FortnoxState) -> None:
    """Delete an unbooked payment and give its amount back to the invoice's Balance."""
    if payment["Booked"]:
        raise FortnoxError("PAYMENT_BOOKED", number=payment["Number"])
    invoice = company.invoices[payment["InvoiceNumber"]]
    company.payments.remove(payment)
    _move_balance(invoice, -payment["AmountCurrency"], invoice["FinalPayDate"])
    state.stamp(invoice)


def bookkeep_payment(company: Company, payment: dict[str, Any], state: FortnoxState) -> None:
    """Book a payment: Booked and its voucher (series C); the invoice's Balance already moved."""
    if payment["Booked"]:
        raise FortnoxError("PAYMENT_ALREADY_BOOKED", number=payment["Number"])
    payment.update(
        {
            "Booked": True,
            "VoucherSeries": PAYMENT_VOUCHER_SERIES,
            "VoucherYear": int(payment["PaymentDate"][:4]),
            "VoucherNumber": next(company.voucher_numbers),
        }
    )
    state.stamp(payment)


#: header fields a credit invoice takes from the invoice it credits
_CREDIT_HEADER = (
    "CustomerNumber",
    "CustomerName",
    "Address1",
    "Address2",
    "ZipCode",
    "City",
    "Country",
    "Phone1",
    "Phone2",
    "OrganisationNumber",
    "DeliveryName",
    "DeliveryAddress1",
    "DeliveryAddress2",
    "DeliveryZipCode",
    "DeliveryCity",
    "DeliveryCountry",
    "Currency",
    "CurrencyRate",
    "CurrencyUnit",
    "PriceList",
    "TermsOfPayment",
    "TermsOfDelivery",
    "WayOfDelivery",
    "YourReference",
    "OurReference",
    "YourOrderNumber",
    "ExternalInvoiceReference1",
    "ExternalInvoiceReference2",
    "Project",
    "CostCenter",
    "Freight",
    "AdministrationFee",
    "VATIncluded",
    "Language",
    "PrintTemplate",
    "EmailInformation",
    "_vat_type",
)


def credit(company: Company, invoice: dict[str, Any], state: FortnoxState) -> dict[str, Any]:
    """Credit a booked invoice: a new unbooked credit invoice that mirrors it with negated rows,
    referenced from the original's CreditInvoiceReference (see the module docstring)."""
    if invoice["Cancelled"]:
        raise FortnoxError("DOCUMENT_CANCELLED")
    if is_credit_invoice(invoice):
        raise FortnoxError("CANNOT_CREDIT_CREDIT_INVOICE")
    if not invoice["Booked"]:
        raise FortnoxError("CREDIT_NEEDS_BOOKED_INVOICE")
    if invoice.get("CreditInvoiceReference") not in (None, "", "0"):
        raise FortnoxError("ALREADY_CREDITED", number=invoice["CreditInvoiceReference"])
    number = max(company.invoices, default=0) + 1
    today = state.today().isoformat()
    note = new_document(INVOICE, number, today)
    for name in _CREDIT_HEADER:
        value = invoice.get(name)
        note[name] = dict(value) if isinstance(value, dict) else value
    for name in ("Freight", "AdministrationFee"):
        note[name] = -(invoice.get(name) or Decimal(0))
    note["DueDate"] = today
    note["Credit"] = "true"
    note["CreditInvoiceReference"] = invoice["DocumentNumber"]
    note["Remarks"] = f"Kreditering av faktura {invoice['DocumentNumber']}"
    rows = []
    for row in invoice["InvoiceRows"]:
        copy = dict(row)
        copy["RowId"] = company.next_row_id()
        if copy.get("DeliveredQuantity") is not None:
            copy["DeliveredQuantity"] = -copy["DeliveredQuantity"]
        rows.append(copy)
    note["InvoiceRows"] = rows
    recompute(INVOICE, note)
    company.invoices[number] = note
    invoice["CreditInvoiceReference"] = note["DocumentNumber"]
    state.stamp(note)
    state.stamp(invoice)
    return note
