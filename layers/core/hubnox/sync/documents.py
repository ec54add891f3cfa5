"""A deal's line items as a Fortnox invoice or order, row by row, to the öre.

Every line item becomes one row (sometimes two, see below) with the line's name, quantity, unit
price and VAT; the document is billed from the line items' own amounts, never the deal's
`amount`. Each line's HubSpot amount (`amount`, the net after discount) is what its rows must
come to in Fortnox, and `ExpectedLine` remembers it for the totals check.

How HubSpot and Fortnox count differ (see `FortnoxRows` for Fortnox's rules as hubnox predicts
them). HubSpot rounds a line's discount half-up to the öre before subtracting it (11.90 at 15 %
-> discount 1.785 -> 1.79 -> 10.11); Fortnox applies a PERCENT discount to the row and rounds the
discounted total (-> 10.12); Fortnox stores prices, quantities and discounts with two decimals;
and whether Fortnox's AMOUNT discount is per unit or per row is not documented. So for each
line hubnox tries, in order, and sends the first whose predicted Fortnox total equals the
HubSpot amount:

1. a percentage discount on the row (only for lines with a percentage discount);
2. the plain row: quantity × unit price;
3. the discount folded into the unit price (amount / quantity, when that is a whole öre price);
4. the plain row plus a second row on the same article and VAT carrying the difference (the
   discount, or the rounding of a price with more than two decimals).

AMOUNT discounts are never sent. Choices 3 and 4 come with a warning saying what was done. Texts
are cut to Fortnox's limits with a warning.

VAT follows the customer's Fortnox VAT type (`row_vat`, the one place this is decided): rows for
reverse-charge and export customers carry 0 % and the note says why; otherwise a row carries the
line's tax rate where HubSpot names one (`DealSnapshot.line_vat`: the portal's tax-rate library,
read by the orchestration), else it names no VAT and Fortnox takes its article's. A row without
an article (a line without a usable SKU) carries the line's rate, else the article defaults' VAT,
and is booked on the article defaults' sales account (none for 0 % VAT types, so Fortnox's
predefined export and EU accounts apply).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from hubnox.errors import UserFixableError
from hubnox.fortnox.models import Invoice, InvoiceRow, Limits, Order, OrderRow
from hubnox.hubspot.models import LineItem
from hubnox.sync.model import (
    ArticlePlan,
    CustomerResolution,
    DealSnapshot,
    DocumentDraft,
    ExpectedLine,
    PlannedLine,
    SyncWarning,
    cents,
    fortnox_text,
)
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.ports import FortnoxCurrencies

HUNDRED = Decimal(100)
ZERO = Decimal(0)

#: Customer VAT types billed without Swedish VAT, and why (for the note). Fortnox books these
#: types on its reverse-charge and export accounts but does not document what it does with a
#: row's VAT sent through the API; hubnox therefore sends the 0 % it means on every row, and
#: `EUVAT` (EU consumers) and `SEVAT` keep Swedish VAT. Correct it here if Fortnox says otherwise.
ZERO_VAT_TYPES: dict[str, str] = {
    "EUREVERSEDVAT": "EU reverse charge (the buyer accounts for the VAT)",
    "EXPORT": "export outside the EU (no Swedish VAT)",
    "SEREVERSEDVAT": "Swedish reverse charge (the buyer accounts for the VAT)",
}


def row_vat(vat_type: str | None, line_vat: Decimal | None, *, has_article: bool,
            default_vat: int) -> Decimal | None:
    """The VAT percentage a line's rows carry for a customer of `vat_type`: 0 for the types in
    `ZERO_VAT_TYPES`; else the line's tax rate; else, for a row without an article,
    `default_vat` (the article defaults'); None leaves Fortnox the article's VAT."""
    if vat_type in ZERO_VAT_TYPES:
        return ZERO
    if line_vat is not None:
        return line_vat
    return None if has_article else Decimal(default_vat)


class FortnoxRows:
    """How Fortnox computes a row's `Total`, as hubnox predicts it before sending.

    Price, quantity and discount are stored rounded half-up to two decimals; a row totals
    quantity × price rounded to the öre; a PERCENT discount is taken off the unrounded row
    amount and the discounted total is rounded once. Because HubSpot rounds the discount first,
    a percentage is sent only where both rules give the same total, so a wrong guess here can
    only cost a fold into the price, never a wrong total.
    """

    @staticmethod
    def stored(value: Decimal) -> Decimal:
        """A price, quantity or discount as Fortnox stores it (written as given when that is exact)."""
        stored = cents(value)
        return value if stored == value else stored

    @staticmethod
    def total(quantity: Decimal, price: Decimal, percent: Decimal | None = None) -> Decimal:
        """The row total Fortnox computes for stored values."""
        base = quantity * price
        if percent:
            return cents(base * (HUNDRED - percent) / HUNDRED)
        return cents(base)


def hubspot_amount(line: LineItem) -> Decimal:
    """A line item's net amount: HubSpot's `amount` when set, else computed as HubSpot does.

    HubSpot's rule: price × quantity, minus the discount rounded half-up to the öre (the
    percentage when set, else `discount` per unit × quantity).
    """
    if line.amount is not None:
        return cents(line.amount)
    quantity = line.quantity if line.quantity is not None else Decimal(1)
    base = (line.price or ZERO) * quantity
    return cents(base) - _hubspot_discount(line, base, quantity)


def _hubspot_discount(line: LineItem, base: Decimal, quantity: Decimal) -> Decimal:
    if line.discount_percentage:
        return cents(base * line.discount_percentage / HUNDRED)
    if line.discount:
        return cents(line.discount * quantity)
    return ZERO


@dataclass(frozen=True)
class _Row:
    description: str | None
    quantity: Decimal
    price: Decimal
    percent: Decimal | None = None


def build_document(snapshot: DealSnapshot, customer: CustomerResolution, plan: ArticlePlan,
                   settings: PortalSettings, document_type: Literal["invoice", "order"] | str) -> DocumentDraft:
    """The invoice or order to create for the deal, with each line's expected amount.

    The draft's warnings are every warning of the run so far (customer, articles, document).
    Raises `UserFixableError` when line items are in another currency than the deal, or a line's
    tax rate is one Fortnox does not have.
    """
    if document_type not in ("invoice", "order"):
        raise ValueError(f"unknown document type {document_type!r}")
    kind: Literal["invoice", "order"] = "order" if document_type == "order" else "invoice"
    currency = _currency(snapshot)
    warnings: list[SyncWarning] = [*customer.warnings, *plan.warnings]
    rows: list[InvoiceRow | OrderRow] = []
    expected: list[ExpectedLine] = []
    vat_type = customer.customer.vat_type
    if vat_type in ZERO_VAT_TYPES and plan.lines:
        warnings.append(SyncWarning(
            code="ZERO_VAT_CUSTOMER",
            message=f"Every row carries 0 % VAT: the Fortnox customer's VAT type is {vat_type}, "
            f"{ZERO_VAT_TYPES[vat_type]}. HubSpot's tax on the line items is not billed."))
    defaults = settings.articles.defaults
    account = defaults.sales_account if vat_type not in ZERO_VAT_TYPES else None
    for planned in plan.lines:
        line_rows, line_vat, amount = _line_rows(snapshot, planned, warnings)
        has_article = planned.article_number is not None
        sent_vat = row_vat(vat_type, line_vat, has_article=has_article, default_vat=defaults.vat)
        start = len(rows)
        vat = int(sent_vat) if sent_vat is not None else None
        rows += [_fortnox_row(kind, planned.article_number, row, vat, None if has_article else account)
                 for row in line_rows]
        expected.append(ExpectedLine(line_item_id=planned.line.id, name=_name(snapshot, planned),
                                     amount=amount, vat=sent_vat, row_indexes=list(range(start, len(rows)))))
    header = _header(snapshot, customer, settings, currency, warnings)
    document = (Invoice.model_validate({**header, "invoice_rows": rows}) if kind == "invoice"
                else Order.model_validate({**header, "order_rows": rows}))
    return DocumentDraft(document_type=kind, document=document, currency=currency, expected_lines=expected,
                         warnings=list(dict.fromkeys(warnings)))


#: the Fortnox company's own currency: always there, so never looked up
HOME_CURRENCY = "SEK"


def check_currency(currency: str, fortnox: FortnoxCurrencies) -> None:
    """Raise `UserFixableError` before anything is made in Fortnox when the company's currency
    register lacks `currency`; a currency it has is billed at Fortnox's own rate (hubnox sends no
    `CurrencyRate`)."""
    code = currency.upper()
    if code == HOME_CURRENCY:
        return
    known = sorted({c.code.upper() for c in fortnox.currencies()})
    if code in known:
        return
    raise UserFixableError(
        f"The deal is in {code}, a currency the Fortnox company has not added "
        f"(it has {', '.join(known) or 'only SEK'}).",
        code="CURRENCY_NOT_IN_FORTNOX",
        hint=f"In Fortnox, add {code} under Inställningar (the cog) > Fakturering > Valuta, the currency "
        "register, ideally with automatic rates; or change the deal's currency in HubSpot. Then replay.")


def _currency(snapshot: DealSnapshot) -> str:
    currency = snapshot.currency
    other = sorted({line.currency.upper() for line in snapshot.line_items
                    if line.currency and line.currency.upper() != currency})
    if other:
        raise UserFixableError(
            f"The deal is in {currency} but some of its line items are in {', '.join(other)}; one Fortnox "
            "document has one currency.",
            code="MIXED_CURRENCIES",
            hint="Put all line items in the deal's currency in HubSpot, then replay.")
    return currency


def _name(snapshot: DealSnapshot, planned: PlannedLine) -> str:
    line = planned.line
    product = snapshot.product_of(line)
    return line.name or (product.name if product else None) or planned.sku or f"Line item {line.id}"


def _line_rows(snapshot: DealSnapshot, planned: PlannedLine, warnings: list[SyncWarning],
               ) -> tuple[list[_Row], Decimal | None, Decimal]:
    """The rows for one line item, the VAT they carry, and the HubSpot amount they must total."""
    line = planned.line
    name = _name(snapshot, planned)
    label = f"'{_short(name)}'"
    vat, warning = snapshot.line_vat(line)
    if warning:
        warnings.append(warning)
    quantity = line.quantity
    if quantity is None:
        quantity = Decimal(1)
        warnings.append(SyncWarning(code="QUANTITY_MISSING",
                                    message=f"Line item {label} has no quantity; 1 was billed."))
    price = line.price if line.price is not None else ZERO
    amount = hubspot_amount(line)
    description, shaped = fortnox_text(name, Limits.ROW_DESCRIPTION, f"the row text of line item {label}")
    warnings.extend(shaped)
    rows = _rows_matching(line, description, quantity, price, amount, label, warnings)
    return rows, vat, amount


def _rows_matching(line: LineItem, description: str | None, quantity: Decimal, price: Decimal, amount: Decimal,
                   label: str, warnings: list[SyncWarning]) -> list[_Row]:
    """The first row layout whose Fortnox total equals HubSpot's amount (see the module docstring)."""
    fit = _LineFit(line, description, quantity, price, amount, label)
    if fit.quantity != quantity:
        warnings.append(SyncWarning(code="QUANTITY_ROUNDED",
                                    message=f"Fortnox keeps two decimals: the quantity of {label} was "
                                    f"rounded from {quantity} to {fit.quantity}."))
    for attempt in (fit.percent_row, fit.plain_row, fit.folded_row):
        rows = attempt(warnings)
        if rows:
            return rows
    return fit.adjusted_rows(warnings)


class _LineFit:
    """The row layouts for one line item, each offered only when Fortnox would total it to `amount`."""

    def __init__(self, line: LineItem, description: str | None, quantity: Decimal, price: Decimal,
                 amount: Decimal, label: str) -> None:
        self.line, self.description, self.amount, self.label = line, description, amount, label
        self.given_price = price
        self.quantity, self.price = FortnoxRows.stored(quantity), FortnoxRows.stored(price)
        self.percent = FortnoxRows.stored(line.discount_percentage) if line.discount_percentage else None
        self.has_discount = bool(self.percent or line.discount)
        self.plain_total = FortnoxRows.total(self.quantity, self.price)

    def percent_row(self, warnings: list[SyncWarning]) -> list[_Row] | None:
        if self.percent is None or FortnoxRows.total(self.quantity, self.price, self.percent) != self.amount:
            return None
        return [_Row(self.description, self.quantity, self.price, self.percent)]

    def plain_row(self, warnings: list[SyncWarning]) -> list[_Row] | None:
        if self.plain_total != self.amount:
            return None
        if self.price != self.given_price:
            warnings.append(SyncWarning(code="PRICE_ROUNDED",
                                        message=f"Fortnox keeps two decimals: the unit price of {self.label} was "
                                        f"rounded from {self.given_price} to {self.price}."))
        return [_Row(self.description, self.quantity, self.price)]

    def folded_row(self, warnings: list[SyncWarning]) -> list[_Row] | None:
        if not self.quantity or self.amount / self.quantity != cents(self.amount / self.quantity):
            return None
        unit = cents(self.amount / self.quantity)
        if not self.has_discount:
            warnings.append(SyncWarning(
                code="PRICE_FROM_AMOUNT",
                message=f"Line item {self.label} is billed at the unit price {unit}, since {self.given_price} × "
                f"{self.quantity} would not give HubSpot's {self.amount} in Fortnox."))
        else:
            if self.percent is not None:
                predicted = FortnoxRows.total(self.quantity, self.price, self.percent)
                why = f"Fortnox's percentage discount would give {predicted} instead of HubSpot's {self.amount}"
            else:
                why = "Fortnox does not document whether a discount amount is per unit or per row"
            warnings.append(SyncWarning(
                code="DISCOUNT_IN_PRICE",
                message=f"HubSpot's {_discount_text(self.line)} on {self.label} is folded into the unit price "
                f"({self.price} -> {unit}) because {why}."))
        return [_Row(self.description, self.quantity, unit)]

    def adjusted_rows(self, warnings: list[SyncWarning]) -> list[_Row]:
        difference = self.amount - self.plain_total
        prefix = "Discount" if self.has_discount else "Price adjustment"
        text, shaped = fortnox_text(f"{prefix}: {self.description or ''}".strip(), Limits.ROW_DESCRIPTION,
                                    f"the {prefix.lower()} row of line item {self.label}")
        warnings.extend(shaped)
        if self.has_discount:
            warnings.append(SyncWarning(
                code="DISCOUNT_ROW",
                message=f"HubSpot's {_discount_text(self.line)} on {self.label} is billed as a separate row of "
                f"{difference} so that the line comes to HubSpot's {self.amount}."))
        else:
            warnings.append(SyncWarning(
                code="ADJUSTMENT_ROW",
                message=f"Line item {self.label} comes to {self.amount} in HubSpot but {self.given_price} × "
                f"{self.quantity} gives {self.plain_total} in Fortnox (two decimals); a separate row of "
                f"{difference} makes up the difference."))
        return [_Row(self.description, self.quantity, self.price), _Row(text, Decimal(1), difference)]


def _discount_text(line: LineItem) -> str:
    if line.discount_percentage:
        return f"{line.discount_percentage.normalize():f} % discount"
    if line.discount:
        return f"discount of {line.discount} per unit"
    return "discount"


def _fortnox_row(kind: str, article_number: str | None, row: _Row, vat: int | None,
                 account: int | None) -> InvoiceRow | OrderRow:
    extra: dict[str, object] = {"discount": row.percent, "discount_type": "PERCENT"} if row.percent else {}
    if account is not None:
        extra["account_number"] = account
    if kind == "invoice":
        return InvoiceRow(article_number=article_number, description=row.description,
                          delivered_quantity=row.quantity, price=row.price, vat=vat, **extra)
    # Only DeliveredQuantity counts towards an order's totals; OrderedQuantity alone totals 0.
    return OrderRow(article_number=article_number, description=row.description, ordered_quantity=row.quantity,
                    delivered_quantity=row.quantity, price=row.price, vat=vat, **extra)


def _header(snapshot: DealSnapshot, customer: CustomerResolution, settings: PortalSettings, currency: str,
            warnings: list[SyncWarning]) -> dict[str, object]:
    deal = snapshot.deal
    mapping = settings.deal_fields
    contact = snapshot.contacts[0].full_name if snapshot.contacts else None
    sources = {
        "your_reference": (deal.prop(mapping.your_reference) if mapping.your_reference else contact,
                           Limits.REFERENCE, "YourReference"),
        "our_reference": (deal.prop(mapping.our_reference) if mapping.our_reference else snapshot.owner_name,
                          Limits.REFERENCE, "OurReference"),
        "your_order_number": (deal.prop(mapping.your_order_number) if mapping.your_order_number else None,
                              Limits.YOUR_ORDER_NUMBER, "YourOrderNumber"),
        "remarks": (deal.prop(mapping.remarks) if mapping.remarks else None, Limits.REMARKS, "Remarks"),
    }
    header: dict[str, object] = {
        "customer_number": customer.customer_number,
        "currency": currency,
        "vat_included": False,
        "external_invoice_reference1": deal.id,
    }
    for attribute, (value, limit, field) in sources.items():
        text, shaped = fortnox_text(value, limit, f"the document's {field}")
        warnings.extend(shaped)
        if text is not None:
            header[attribute] = text
    return header


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
