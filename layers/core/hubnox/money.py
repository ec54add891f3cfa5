"""How hubnox shows an amount to people: the one format used by notes, the card and the settings page.

Swedish style for every currency, since Fortnox companies are Swedish: a space between thousands,
a decimal comma, two decimals, and the currency after the number (`kr` for SEK, the ISO code for
the others). The spaces are no-break spaces, so an amount never breaks across lines:

    1 234,50 kr     1 234,50 EUR     −0,23 kr
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: the no-break space between groups of thousands and before the currency
SPACE = "\u00a0"
#: what a missing amount reads as
MISSING = "—"
#: currencies with a Swedish name of their own; every other currency shows its ISO code
CURRENCY_NAMES = {"SEK": "kr"}
_CENT = Decimal("0.01")


def format_money(value: Decimal | int | str | None, currency: str | None) -> str:
    """`value` in `currency` (SEK when None) for people, e.g. `1 234,50 kr` or `−12,00 EUR`."""
    if value is None or value == "":
        return MISSING
    amount = Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)
    code = (currency or "SEK").strip().upper() or "SEK"
    whole, cents = f"{abs(amount):,.2f}".split(".")
    sign = "−" if amount < 0 else ""
    return f"{sign}{whole.replace(',', SPACE)},{cents}{SPACE}{CURRENCY_NAMES.get(code, code)}"


def format_signed_money(value: Decimal, currency: str | None) -> str:
    """A difference, with its sign always shown: `+0,04 kr`, `−1,00 EUR`."""
    text = format_money(value, currency)
    return text if value < 0 else f"+{text}"
