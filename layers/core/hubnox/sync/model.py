"""The values the sync logic takes and returns: a deal as read, and what each step decided.

`DealSnapshot` is everything read from HubSpot for one deal; the pure steps turn it into a
`CustomerResolution` (customers.py), an `ArticlePlan` (articles.py), a `DocumentDraft`
(documents.py) and, once Fortnox created the document, a list of `TotalsDifference` (totals.py).
Each step reports what it changed on the way (a text cut to a Fortnox limit, a discount folded
into a price) as `SyncWarning`s, which the note shows.

Texts sent to Fortnox go through `fortnox_text`: it keeps what Fortnox stores and cuts what is
too long, with a warning instead of a failure.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hubnox.errors import UserFixableError
from hubnox.fortnox.models import Article, FortnoxCustomer, Invoice, Order
from hubnox.hubspot.models import Company, Contact, Deal, LineItem, Product
from hubnox.sync.portal_settings import FORTNOX_VAT_RATES

CENT = Decimal("0.01")

#: Characters Fortnox is known to store. Fortnox documents no character set and refuses some
#: texts with code 2000359 ("invalid characters"); connectors cut texts to Latin-1. hubnox keeps
#: Windows-1252 (Latin-1 plus € and typographic quotes and dashes) and drops the rest (emoji),
#: with a warning. Correct it here if Fortnox is seen to accept more.
FORTNOX_TEXT_ENCODING = "cp1252"


def cents(value: Decimal) -> Decimal:
    """`value` rounded half-up to two decimals, as both HubSpot and Fortnox round money."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class SyncWarning(BaseModel):
    """Something the sync changed or assumed that the user should know; shown in the note."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str


def fortnox_text(value: str | None, limit: int, what: str) -> tuple[str | None, list[SyncWarning]]:
    """`value` as Fortnox can store it: normalised, without characters outside
    `FORTNOX_TEXT_ENCODING`, cut to `limit` characters. Each change comes with a warning naming
    `what` (e.g. "the row text of line item 'Consulting'")."""
    if value is None:
        return None, []
    warnings: list[SyncWarning] = []
    text = unicodedata.normalize("NFC", value)
    kept = "".join(ch for ch in text if _storable(ch))
    if kept != text:
        dropped = "".join(dict.fromkeys(ch for ch in text if not _storable(ch)))
        warnings.append(SyncWarning(code="TEXT_CHARACTERS_REMOVED",
                                    message=f"Removed characters Fortnox cannot store ({dropped}) from {what}."))
        kept = re.sub(r" {2,}", " ", kept).strip()
    if len(kept) > limit:
        warnings.append(SyncWarning(code="TEXT_CUT",
                                    message=f"Cut {what} to the {limit} characters Fortnox allows "
                                    f"(it had {len(kept)})."))
        kept = kept[: limit - 1] + "…"
    return (kept or None), warnings


def _storable(ch: str) -> bool:
    if ch in "\t\n\r":
        return True
    if unicodedata.category(ch).startswith("C"):
        return False
    try:
        ch.encode(FORTNOX_TEXT_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


class DealSnapshot(BaseModel):
    """One deal as read from HubSpot, with everything a document is made from.

    `company` is the deal's (primary) company, None when it has none; `contacts` are the contacts
    read for it, the primary contact first (`hubnox.sync.reader` says which that is): the reference
    person, and the customer when there is no company. `products` holds the products of line
    items by product id. `tax_rates` maps the ids of the portal's tax-rate library
    (`hs_tax_rate_group_id` on a line item) to their percentage (`percentageRate`): a line's VAT
    comes from there, else from its article.
    """

    model_config = ConfigDict(frozen=True)

    deal: Deal
    line_items: list[LineItem] = Field(default_factory=list)
    products: dict[str, Product] = Field(default_factory=dict)
    company: Company | None = None
    contacts: list[Contact] = Field(default_factory=list)
    owner_name: str | None = None
    portal_currency: str = "SEK"
    tax_rates: dict[str, Decimal] = Field(default_factory=dict)

    @property
    def primary_contact(self) -> Contact | None:
        """The deal's primary contact, when one was read."""
        return self.contacts[0] if self.contacts else None

    @property
    def currency(self) -> str:
        """The document currency: the deal's, else the portal's."""
        return (self.deal.currency or self.portal_currency).upper()

    def product_of(self, line: LineItem) -> Product | None:
        """The product a line item was made from, when it was read."""
        return self.products.get(line.product_id) if line.product_id else None

    def sku_of(self, line: LineItem) -> str | None:
        """The line item's SKU, else its product's."""
        product = self.product_of(line)
        return line.sku or (product.sku if product else None)

    def line_vat(self, line: LineItem) -> tuple[Decimal | None, SyncWarning | None]:
        """The VAT percentage a line item's tax rate sets, None when it names none.

        A tax-rate id missing from `tax_rates` gives None and a warning (the article's VAT then
        applies); a rate Fortnox does not have (25, 12, 6, 0 %) raises `UserFixableError`.
        """
        rate_id = line.tax_rate_group_id
        if rate_id is None:
            return None, None
        rate = self.tax_rates.get(rate_id)
        if rate is None:
            return None, SyncWarning(
                code="UNKNOWN_TAX_RATE",
                message=f"Line item '{line.name or line.id}' names tax rate {rate_id}, which hubnox could not "
                "read; the article's VAT was used.")
        if rate != rate.to_integral_value() or int(rate) not in FORTNOX_VAT_RATES:
            raise UserFixableError(
                f"Line item '{line.name or line.id}' has a tax rate of {rate} %, which Fortnox does not have.",
                code="UNSUPPORTED_VAT_RATE",
                hint="Use a tax rate of 25, 12, 6 or 0 % on the line item in HubSpot, then replay.")
        return Decimal(int(rate)), None


class PropertyWriteBack(BaseModel):
    """HubSpot properties to set on one record after the run (e.g. the Fortnox customer number)."""

    model_config = ConfigDict(frozen=True)

    object_type: Literal["companies", "contacts", "deals"]
    object_id: str
    properties: dict[str, str]


class CustomerResolution(BaseModel):
    """The Fortnox customer a deal is billed to, and how hubnox found it.

    `action` is `matched` (found, unchanged), `updated` (found, mapped fields written) or
    `created`. `source` says whether it stands for the deal's company or a contact.
    """

    model_config = ConfigDict(frozen=True)

    customer_number: str
    customer_name: str
    action: Literal["matched", "updated", "created"]
    source: Literal["company", "contact"]
    source_id: str
    customer: FortnoxCustomer
    changed_fields: list[str] = Field(default_factory=list)
    warnings: list[SyncWarning] = Field(default_factory=list)
    write_back: PropertyWriteBack | None = None


class CustomerDraft(BaseModel):
    """A Fortnox customer as mapped from one HubSpot company or contact, before any call."""

    model_config = ConfigDict(frozen=True)

    customer: FortnoxCustomer
    #: Fortnox field names the HubSpot mappings filled (what an update may change)
    mapped_fields: list[str] = Field(default_factory=list)
    #: Fortnox field names filled from the primary contact, which an update writes only where empty
    fill_empty_fields: list[str] = Field(default_factory=list)
    warnings: list[SyncWarning] = Field(default_factory=list)


class PlannedLine(BaseModel):
    """One line item with the Fortnox article it is billed on.

    `source`: `existing` (the article with the line's SKU), `created` (made for this run),
    `placeholder` (the placeholder article; the row keeps the line's own name and price) or
    `no_article` (a line without a usable SKU: a row with no article, `article_number` None, with
    the line's name, price and VAT, booked on the article defaults' sales account).
    `article_vat` is the article's VAT, which Fortnox applies when the line names no tax rate.
    """

    model_config = ConfigDict(frozen=True)

    line: LineItem
    article_number: str | None
    source: Literal["existing", "created", "placeholder", "no_article"]
    article_vat: Decimal | None = None
    sku: str | None = None


class ArticleDraft(BaseModel):
    """A Fortnox article as mapped from a HubSpot product, with its price for the price list."""

    model_config = ConfigDict(frozen=True)

    article: Article
    price: Decimal | None
    price_list: str
    warnings: list[SyncWarning] = Field(default_factory=list)


class ArticlePlan(BaseModel):
    """The articles of every line, in the deal's order, and what was created on the way."""

    model_config = ConfigDict(frozen=True)

    lines: list[PlannedLine]
    created_articles: list[str] = Field(default_factory=list)
    warnings: list[SyncWarning] = Field(default_factory=list)


class ExpectedLine(BaseModel):
    """What HubSpot says one line item comes to, and the document rows that carry it."""

    model_config = ConfigDict(frozen=True)

    line_item_id: str
    name: str
    #: the line's net amount in HubSpot (after discount, before VAT)
    amount: Decimal
    #: the VAT percentage sent on its rows (None: Fortnox takes the article's)
    vat: Decimal | None
    #: positions of its rows in the document's row list
    row_indexes: list[int]


class DocumentDraft(BaseModel):
    """A Fortnox invoice or order ready to create, with what its amounts should come to."""

    model_config = ConfigDict(frozen=True)

    document_type: Literal["invoice", "order"]
    document: Invoice | Order
    currency: str
    expected_lines: list[ExpectedLine]
    warnings: list[SyncWarning] = Field(default_factory=list)

    @property
    def expected_net(self) -> Decimal:
        """The sum of the line items' HubSpot amounts: what the document's `Net` should be."""
        return sum((line.amount for line in self.expected_lines), Decimal(0))


class TotalsDifference(BaseModel):
    """A difference between Fortnox's computed amounts and the deal's line items, explained.

    `kind`: `row` (one line's rows), `net`, `vat`, `rounding` (Fortnox's `RoundOff`), `fees`
    (freight or administration fee Fortnox added), `currency` or `rows` (the number of rows).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["row", "net", "vat", "rounding", "fees", "currency", "rows"]
    subject: str
    expected: Decimal | str | None = None
    actual: Decimal | str | None = None
    explanation: str

    @property
    def difference(self) -> Decimal | None:
        """Fortnox's amount minus HubSpot's, for money differences."""
        if isinstance(self.expected, Decimal) and isinstance(self.actual, Decimal):
            return self.actual - self.expected
        return None
