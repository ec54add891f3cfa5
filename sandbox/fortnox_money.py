"""Totals, VAT and rounding of Fortnox invoices and orders, as the Fortnox simulator computes them.

Established from responses Fortnox really returned (see ../shared/reference/money.md):

- `Price` and quantities are stored with 2 decimals, rounded half-up (1.125 -> 1.13).
- A row's `Total` is `DeliveredQuantity` x `Price`; only `DeliveredQuantity` counts (an order
  row with `OrderedQuantity` alone, or a text row, totals 0).
- `Net` is the sum of the row totals; `TotalVAT` the VAT of those rows; a row's `VAT` is kept
  as sent.
- A SEK document's `Total` is `Net` + VAT rounded to whole kronor, and `RoundOff` is `Total`
  minus the unrounded sum (1698.23 -> `Total` 1698, `RoundOff` -0.23).
- `TotalToPay` equals `Total`; `Gross` equals `Net` when no row has a discount.

Every point Fortnox does not confirm is decided here, once, in `MoneyRules` (the constants
`RULES` uses), so a correction is a one-line change:

- `amount_discount_per_row`: `DiscountType` AMOUNT takes the amount off the whole row, not off
  each unit. The spec calls the field "Discount amount" without a unit, the Fortnox row editor
  shows it beside the row sum, and no public client or recording says otherwise.
- `percent_discount_rounding`: a PERCENT discount is applied to the unrounded row amount and
  the discounted row total is rounded once (11.90 at 15 % -> 10.12, where HubSpot's rule of
  rounding the discount first gives 10.11). The sync must compare and report, never assume.
- `vat_rounding`: VAT is computed per VAT rate on the sum of that rate's row totals and
  rounded half-up to öre (Fortnox rounds on the document, not per line); .50 rounds up.
- `whole_units_currencies`: only SEK documents are rounded to whole units; other currencies
  keep their cents and have `RoundOff` 0.
- `gross`: `Gross` is the sum of the rows before discounts, without VAT.
- `VATIncluded`: prices include VAT; a rate's net is its VAT-inclusive sum / (1 + rate),
  rounded to öre, and its VAT the difference (956 at 25 % -> 764.80 net + 191.20 VAT).
- `fee_vat_rate`: `Freight` and `AdministrationFee` carry VAT at 25 % (docs example: freight
  95 -> `FreightVAT` 23.75); both count in `TotalVAT` and `Total`, not in `Net`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
UNIT = Decimal("1")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class MoneyRules:
    """The decisions on uncertain points (see the module docstring); `RULES` is the one in use."""

    amount_discount_per_row: bool = True
    percent_discount_rounding: str = "row_total"  # or "discount_first" (HubSpot's way)
    vat_rounding: str = "per_rate"  # or "per_row"
    whole_units_currencies: frozenset[str] = frozenset({"SEK"})
    fee_vat_rate: Decimal = Decimal("25")


RULES = MoneyRules()


def to_decimal(value: object) -> Decimal:
    """A number sent as JSON number or numeric string, as an exact Decimal; ValueError otherwise."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    else:
        raise ValueError(f"not a number: {value!r}")
    if not number.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return number


def round_cents(value: Decimal) -> Decimal:
    """Two decimals, half-up (away from zero), as Fortnox stores prices, quantities and amounts."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_units(value: Decimal) -> Decimal:
    """Whole units, half-up (öresavrundning)."""
    return value.quantize(UNIT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RowInput:
    """The money fields of one document row, as stored (quantity and price already rounded)."""

    quantity: Decimal | None
    price: Decimal | None
    vat: Decimal
    discount: Decimal = ZERO
    discount_type: str = "PERCENT"


@dataclass(frozen=True)
class RowAmounts:
    """What Fortnox computes for one row."""

    total: Decimal  # in the document's price terms (with VAT when VATIncluded)
    total_excluding_vat: Decimal
    price_excluding_vat: Decimal
    gross_excluding_vat: Decimal  # before the discount


@dataclass(frozen=True)
class DocumentTotals:
    """The read-only amounts of an invoice or order header."""

    net: Decimal
    gross: Decimal
    total_vat: Decimal
    freight_vat: Decimal
    administration_fee_vat: Decimal
    round_off: Decimal
    total: Decimal
    total_to_pay: Decimal
    vat_by_rate: dict[Decimal, Decimal] = field(default_factory=dict)


def _excluding_vat(amount: Decimal, vat: Decimal) -> Decimal:
    return round_cents(amount * HUNDRED / (HUNDRED + vat))


def row_amounts(row: RowInput, *, vat_included: bool = False, rules: MoneyRules = RULES) -> RowAmounts:
    """The row total (after its discount) and its amounts without VAT."""
    quantity = row.quantity or ZERO
    price = row.price or ZERO
    base = quantity * price
    if row.discount and row.discount_type == "AMOUNT":
        per_row = row.discount if rules.amount_discount_per_row else row.discount * quantity
        total = round_cents(base) - round_cents(per_row)
    elif row.discount:
        if rules.percent_discount_rounding == "discount_first":
            total = round_cents(base) - round_cents(base * row.discount / HUNDRED)
        else:
            total = round_cents(base * (HUNDRED - row.discount) / HUNDRED)
    else:
        total = round_cents(base)
    if vat_included:
        return RowAmounts(
            total=total,
            total_excluding_vat=_excluding_vat(total, row.vat),
            price_excluding_vat=_excluding_vat(price, row.vat),
            gross_excluding_vat=_excluding_vat(round_cents(base), row.vat),
        )
    return RowAmounts(
        total=total,
        total_excluding_vat=total,
        price_excluding_vat=round_cents(price),
        gross_excluding_vat=round_cents(base),
    )


def document_totals(
    rows: Iterable[RowInput],
    *,
    currency: str = "SEK",
    vat_included: bool = False,
    freight: Decimal = ZERO,
    administration_fee: Decimal = ZERO,
    rules: MoneyRules = RULES,
) -> DocumentTotals:
    """Net, VAT, rounding and total of a document from its rows, as Fortnox computes them."""
    net_by_rate: dict[Decimal, Decimal] = {}
    vat_by_rate: dict[Decimal, Decimal] = {}
    gross = ZERO
    for row in rows:
        amounts = row_amounts(row, vat_included=vat_included, rules=rules)
        gross += amounts.gross_excluding_vat
        # With VATIncluded the sum is VAT-inclusive here and split into net and VAT per rate below.
        net_by_rate[row.vat] = net_by_rate.get(row.vat, ZERO) + amounts.total
        if not vat_included and rules.vat_rounding == "per_row":
            row_vat = round_cents(amounts.total * row.vat / HUNDRED)
            vat_by_rate[row.vat] = vat_by_rate.get(row.vat, ZERO) + row_vat
    for rate, amount in list(net_by_rate.items()):
        if vat_included:
            net_by_rate[rate] = _excluding_vat(amount, rate)
            vat_by_rate[rate] = amount - net_by_rate[rate]
        elif rules.vat_rounding != "per_row":
            vat_by_rate[rate] = round_cents(amount * rate / HUNDRED)
    net = sum(net_by_rate.values(), ZERO)
    freight_vat = round_cents(freight * rules.fee_vat_rate / HUNDRED)
    fee_vat = round_cents(administration_fee * rules.fee_vat_rate / HUNDRED)
    total_vat = sum(vat_by_rate.values(), ZERO) + freight_vat + fee_vat
    unrounded = net + total_vat + freight + administration_fee
    whole_units = currency.upper() in rules.whole_units_currencies
    total = round_units(unrounded) if whole_units else round_cents(unrounded)
    return DocumentTotals(
        net=net,
        gross=gross,
        total_vat=total_vat,
        freight_vat=freight_vat,
        administration_fee_vat=fee_vat,
        round_off=total - unrounded,
        total=total,
        total_to_pay=total,
        vat_by_rate={rate: vat for rate, vat in vat_by_rate.items() if rate},
    )


def due_date(invoice_date: date, days: int) -> date:
    """The due date for terms of payment of `days` days."""
    return invoice_date + timedelta(days=days)
