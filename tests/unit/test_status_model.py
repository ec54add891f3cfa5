"""A Fortnox document's one state word by the precedence list, the deal values that show it, a customer's
totals in SEK, and the diff that keeps unchanged values from being written again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from hubnox.fortnox.models import Invoice, InvoicePayment, Order
from hubnox.sync.status_model import (
    DOCUMENT_STATES,
    changed_values,
    customer_aggregate,
    deal_values,
    document_state,
    stockholm_minute,
    stockholm_today,
)

TODAY = date(2027, 1, 15)


def invoice(**fields: Any) -> Invoice:
    values: dict[str, Any] = {"document_number": "1001", "customer_number": "C1", "total": Decimal(1000),
                              "balance": Decimal(1000), "booked": False, "sent": False, "cancelled": False,
                              "credit": False, "due_date": date(2027, 2, 14), "currency": "SEK"}
    return Invoice(**{**values, **fields})


@pytest.mark.parametrize(("fields", "state"), [
    ({}, "draft"),
    ({"booked": True}, "booked"),
    ({"sent": True}, "sent"),
    ({"booked": True, "sent": True}, "sent"),
    ({"booked": True, "sent": True, "balance": Decimal(400)}, "partly_paid"),
    ({"booked": True, "balance": Decimal(400), "due_date": date(2027, 1, 14)}, "overdue"),
    ({"booked": True, "balance": Decimal(1000), "due_date": date(2027, 1, 14)}, "overdue"),
    ({"booked": True, "balance": Decimal(1000), "due_date": TODAY}, "booked"),  # due today is not overdue yet
    ({"booked": True, "sent": True, "balance": Decimal(0)}, "paid"),
    ({"booked": True, "balance": Decimal(0), "due_date": date(2027, 1, 1)}, "paid"),
    ({"booked": True, "credit_invoice_reference": "1002", "balance": Decimal(0)}, "credited"),
    ({"booked": True, "credit_invoice_reference": "1002", "balance": Decimal(1000),
      "due_date": date(2027, 1, 1)}, "credited"),
    ({"booked": True, "credit_invoice_reference": "0"}, "booked"),
    ({"credit": True, "credit_invoice_reference": "1001", "booked": True, "total": Decimal(-1000),
      "balance": Decimal(-1000)}, "booked"),  # a credit invoice is not itself "credited"
    ({"cancelled": True, "credit_invoice_reference": "1002"}, "cancelled"),
    ({"booked": False, "balance": Decimal(0)}, "draft"),  # an unbooked invoice is never paid
])
def test_an_invoices_state_is_the_first_of_the_precedence_list_that_matches(fields, state):
    assert document_state(invoice(**fields), TODAY) == state


@pytest.mark.parametrize(("fields", "state"), [
    ({}, "draft"),
    ({"sent": True}, "sent"),
    ({"sent": True, "invoice_reference": "1500"}, "invoiced"),
    ({"invoice_reference": "0"}, "draft"),
    ({"cancelled": True, "invoice_reference": "1500"}, "cancelled"),
])
def test_an_orders_state_is_cancelled_invoiced_sent_or_draft(fields, state):
    order = Order(document_number="5", customer_number="C1", **fields)
    assert document_state(order, TODAY) == state


def test_every_state_is_in_the_vocabulary():
    assert set(DOCUMENT_STATES) == {"draft", "booked", "sent", "partly_paid", "overdue", "paid", "credited",
                                    "cancelled", "invoiced"}


def test_an_invoices_deal_values_are_strings_with_two_decimals_and_iso_dates():
    paid = invoice(booked=True, total=Decimal("12500"), balance=Decimal("0"), final_pay_date=date(2027, 1, 15),
                   currency="EUR")
    assert deal_values("invoice", paid, TODAY) == {
        "fortnox_document_status": "paid", "fortnox_document_total": "12500.00",
        "fortnox_document_balance": "0.00", "fortnox_document_currency": "EUR",
        "fortnox_document_due_date": "2027-02-14", "fortnox_document_final_pay_date": "2027-01-15",
        "fortnox_credit_invoice_number": "",
    }


def test_a_credited_invoice_names_its_credit_invoice_and_an_order_writes_no_money_state():
    credited = invoice(booked=True, credit_invoice_reference="1002")
    assert deal_values("invoice", credited, TODAY)["fortnox_credit_invoice_number"] == "1002"
    order = Order(document_number="5", customer_number="C1", total=Decimal("800.5"), currency="SEK", sent=True)
    assert deal_values("order", order, TODAY) == {"fortnox_document_status": "sent",
                                                  "fortnox_document_total": "800.50",
                                                  "fortnox_document_currency": "SEK"}


def test_a_customers_totals_are_in_sek_and_count_only_booked_uncancelled_invoices_with_a_balance():
    unpaid = [
        invoice(document_number="1", booked=True, balance=Decimal("1000.50")),
        invoice(document_number="2", booked=True, balance=Decimal("100"), currency="EUR",
                currency_rate=Decimal("11.2345"), due_date=date(2027, 1, 10)),
        invoice(document_number="3", booked=True, balance=Decimal("-200"), credit=True),  # a credit lowers it
        invoice(document_number="4", booked=False, balance=Decimal("999")),  # a draft is not owed yet
        invoice(document_number="5", booked=True, cancelled=True, balance=Decimal("999")),
        invoice(document_number="6", booked=True, balance=Decimal(0)),
    ]
    payments = [InvoicePayment(invoice_number="1", amount=Decimal(10), payment_date=date(2027, 1, 12)),
                InvoicePayment(invoice_number="1", amount=Decimal(10), payment_date=date(2027, 1, 14))]

    totals = customer_aggregate(unpaid, payments, date(2027, 1, 13), TODAY)

    assert totals == {
        "fortnox_outstanding_balance": "1923.95",  # 1000.50 + 1123.45 - 200
        "fortnox_overdue_amount": "1123.45",
        "fortnox_unpaid_invoices": "2",
        "fortnox_overdue_invoices": "1",
        "fortnox_last_payment_date": "2027-01-14",
    }


def test_a_currency_unit_divides_the_rate_and_the_stored_last_payment_stays_when_none_is_newer():
    per_hundred = invoice(booked=True, balance=Decimal(1000), currency="JPY", currency_rate=Decimal("7.5"),
                          currency_unit=Decimal(100))
    totals = customer_aggregate([per_hundred], [], date(2026, 12, 1), TODAY)
    assert totals["fortnox_outstanding_balance"] == "75.00"
    assert totals["fortnox_last_payment_date"] == "2026-12-01"
    assert customer_aggregate([], [], None, TODAY)["fortnox_last_payment_date"] == ""


def test_only_values_that_differ_from_those_written_are_changed_and_empty_counts_as_never_written():
    written = {"a": "1", "b": "x"}
    assert changed_values({"a": "1", "b": "y", "c": "", "d": "2"}, written) == {"b": "y", "d": "2"}
    assert changed_values({"a": "", "b": "x"}, written) == {"a": ""}  # a value that went away is cleared


def test_swedish_dates_and_minutes_follow_stockholm_time_across_midnight_and_summer_time():
    # 2027-01-14 23:30 UTC is already the 15th in Stockholm (UTC+1); in July it is UTC+2.
    assert stockholm_today(1_800_000_000 - 8.5 * 3600) == date(2027, 1, 15)
    assert stockholm_minute(1_800_000_000) == "2027-01-15 09:00"
    assert stockholm_minute(1_815_000_000) == "2027-07-08 00:40"  # 22:40 UTC, +2 in summer
