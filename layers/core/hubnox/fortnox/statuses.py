"""What state a Fortnox document is in, in the words the deal card and the deal's properties use.

An invoice is `cancelled`, `paid` (booked, nothing left to pay), `sent`, `booked` or `draft`, in
that order; an order is `cancelled`, `invoiced`, `sent` or `draft`. In a customer's invoice list the
status speaks of payment: `draft`, `unpaid`, `overdue`, `paid`, `cancelled`.
"""

from __future__ import annotations

from datetime import date

from hubnox.fortnox.models import Invoice, Order


def invoice_status(invoice: Invoice) -> str:
    """An invoice's status on the deal card: cancelled, paid, sent, booked or draft."""
    if invoice.cancelled:
        return "cancelled"
    if invoice.booked and invoice.balance is not None and invoice.balance == 0:
        return "paid"
    if invoice.sent:
        return "sent"
    return "booked" if invoice.booked else "draft"


def order_status(order: Order) -> str:
    """An order's status on the deal card: cancelled, invoiced, sent or draft."""
    if order.cancelled:
        return "cancelled"
    if order.invoice_reference and order.invoice_reference not in ("0", ""):
        return "invoiced"
    return "sent" if order.sent else "draft"


def payment_status(invoice: Invoice, today: date) -> str:
    """An invoice's status in a customer's list: draft, unpaid, overdue, paid or cancelled."""
    if invoice.cancelled:
        return "cancelled"
    if not invoice.booked:
        return "draft"
    if invoice.balance is None or invoice.balance == 0:
        return "paid"
    return "overdue" if invoice.due_date is not None and invoice.due_date < today else "unpaid"
