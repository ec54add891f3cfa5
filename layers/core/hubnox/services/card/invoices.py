"""How Fortnox invoices and amounts read on the card."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hubnox.fortnox.models import Invoice
from hubnox.fortnox.statuses import payment_status
from hubnox.money import format_money


def money(value: Decimal | None) -> str | None:
    """An amount as a plain decimal string, for programs reading the card's JSON."""
    return None if value is None else format(value, "f")


def money_text(value: Decimal | None, currency: str | None) -> str | None:
    """An amount as the card shows it to people (`hubnox.money.format_money`)."""
    return None if value is None else format_money(value, currency)


def totals_by_currency(invoices: list[Invoice]) -> list[dict[str, str]]:
    """The balances of `invoices` summed per currency (Fortnox amounts are in each invoice's currency)."""
    sums: dict[str, Decimal] = {}
    for invoice in invoices:
        currency = (invoice.currency or "SEK").upper()
        sums[currency] = sums.get(currency, Decimal(0)) + (invoice.balance or Decimal(0))
    return [{"currency": currency, "amount": format(amount, "f"), "text": format_money(amount, currency)}
            for currency, amount in sorted(sums.items())]


def latest_first(invoice: Invoice) -> tuple[date, int, str]:
    number = invoice.document_number or ""
    return (invoice.invoice_date or date.min, int(number) if number.isdigit() else -1, number)



def invoice_row(invoice: Invoice, today: date) -> dict[str, Any]:
    return {
        "number": invoice.document_number, "status": payment_status(invoice, today),
        "invoiceDate": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
        "dueDate": invoice.due_date.isoformat() if invoice.due_date else None,
        "total": money(invoice.total), "balance": money(invoice.balance), "currency": invoice.currency,
        "totalText": money_text(invoice.total, invoice.currency),
        "balanceText": money_text(invoice.balance, invoice.currency),
    }
