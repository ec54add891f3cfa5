"""One way to show money: `hubnox.money.format_money`, used by the notes, the card and the settings page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from hubnox.fortnox.models import Invoice
from hubnox.money import format_money, format_signed_money
from hubnox.services.card.invoices import invoice_row, money_text, totals_by_currency
from hubnox.sync.notes import money as note_money

NBSP = "\u00a0"


@pytest.mark.parametrize(("value", "currency", "shown"), [
    (D("1234.5"), "SEK", "1 234,50 kr"),
    (D("1234.5"), "EUR", "1 234,50 EUR"),
    (D("1234567.891"), "sek", "1 234 567,89 kr"),
    (D("0.005"), "SEK", "0,01 kr"),  # half-up, as Fortnox rounds
    (D("-0.23"), "SEK", "−0,23 kr"),
    (D("999"), None, "999,00 kr"),  # no currency: Fortnox's default, SEK
    ("12", "USD", "12,00 USD"),
    (None, "EUR", "—"),
])
def test_amounts_read_swedish_style_in_their_own_currency(value, currency, shown) -> None:
    assert format_money(value, currency) == shown.replace(" ", NBSP)


def test_a_difference_always_shows_its_sign() -> None:
    assert (format_signed_money(D("0.04"), "SEK"), format_signed_money(D("-1"), "EUR")) == (
        f"+0,04{NBSP}kr", f"−1,00{NBSP}EUR")


def test_notes_and_the_card_show_an_amount_the_same_way() -> None:
    invoice = Invoice.model_validate({"DocumentNumber": "7", "CustomerNumber": "1", "Currency": "EUR",
                                      "Total": "1234.5", "Balance": "1234.5", "InvoiceDate": "2026-12-01"})
    expected = f"1{NBSP}234,50{NBSP}EUR"
    assert note_money(D("1234.5"), "EUR") == expected
    assert money_text(D("1234.5"), "EUR") == expected
    assert invoice_row(invoice, date(2026, 12, 6))["totalText"] == expected
    assert totals_by_currency([invoice])[0]["text"] == expected
