"""Fortnox API v3 records as pydantic models, with money as `Decimal`.

Attributes are snake_case; on the wire they are Fortnox's PascalCase (`VATIncluded`,
`ExternalInvoiceReference1`, `@url`), produced by `fortnox_alias`. Models read whatever Fortnox
answers (numbers sometimes come as strings, empty dates as "") and `to_payload()` writes only
the fields Fortnox lets a client set, after checking the length limits in `Limits`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hubnox.errors import BadRequestError

_ACRONYMS = {"vat": "VAT", "ocr": "OCR", "www": "WWW", "ean": "EAN", "gln": "GLN", "eu": "EU",
             "edi": "EDI", "cc": "CC", "bcc": "BCC"}


def fortnox_alias(name: str) -> str:
    """Fortnox's field name for a snake_case attribute (`vat_included` -> `VATIncluded`)."""
    return "".join(_ACRONYMS.get(part, part[:1].upper() + part[1:]) for part in name.split("_"))


class Limits:
    """Field lengths Fortnox enforces, from the v3 spec and the reference; checked before sending.

    `YOUR_ORDER_NUMBER` is 30 although the spec says 75: one long-lived client library
    documents 30, and the shorter limit is safe under both.
    """

    CUSTOMER_NUMBER = 1024
    CUSTOMER_NAME = 1024
    ADDRESS = 1024
    ZIP_CODE = 10
    COUNTRY_CODE = 2
    CURRENCY = 3
    REFERENCE = 50  # YourReference, OurReference
    SALES_ACCOUNT = 4
    VISITING_TEXT = 128
    ARTICLE_NUMBER = 50
    ARTICLE_DESCRIPTION = 200
    ARTICLE_NOTE = 10_000
    ROW_DESCRIPTION = 255
    UNIT = 20
    EXTERNAL_INVOICE_REFERENCE = 80
    YOUR_ORDER_NUMBER = 30
    REMARKS = 1024
    COMMENTS = 1024
    EMAIL_SUBJECT = 100
    EMAIL_BODY = 20_000
    PRINT_TEMPLATE_NAME = 25
    EAN = 30


class FortnoxModel(BaseModel):
    """Base of every Fortnox record: PascalCase aliases, lenient reading, strict writing."""

    model_config = ConfigDict(alias_generator=fortnox_alias, populate_by_name=True, extra="ignore",
                              coerce_numbers_to_str=True)

    #: attributes Fortnox sets itself; never sent
    READ_ONLY: ClassVar[frozenset[str]] = frozenset()
    #: attribute -> maximum length, checked by `to_payload`
    LIMITS: ClassVar[Mapping[str, int]] = {}

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        # Fortnox writes missing dates and numbers as "", which no typed field can hold.
        if isinstance(data, Mapping):
            return {key: (None if value == "" else value) for key, value in data.items()}
        return data

    def check_limits(self) -> None:
        """Raise `BadRequestError` naming the first field longer than Fortnox allows."""
        for name, limit in self.LIMITS.items():
            value = getattr(self, name, None)
            if isinstance(value, str) and len(value) > limit:
                raise BadRequestError(
                    f"{fortnox_alias(name)} {value[:40]!r}... is longer than the {limit} characters "
                    "Fortnox allows.",
                    code="FORTNOX_FIELD_TOO_LONG",
                    hint=f"Shorten it to at most {limit} characters in HubSpot.",
                )

    def to_payload(self) -> dict[str, Any]:
        """The fields a client may write, PascalCase, without empty ones."""
        self.check_limits()
        exclude = set(self.READ_ONLY) | {"url"}
        return self.model_dump(by_alias=True, exclude_none=True, exclude=exclude)


class DefaultTemplates(FortnoxModel):
    invoice: str | None = None
    order: str | None = None
    offer: str | None = None
    cash_invoice: str | None = None


class DefaultDeliveryTypes(FortnoxModel):
    """How a customer's documents are sent by default: PRINT, EMAIL or PRINTSERVICE."""

    invoice: Literal["PRINT", "EMAIL", "PRINTSERVICE"] | None = None
    order: Literal["PRINT", "EMAIL", "PRINTSERVICE"] | None = None
    offer: Literal["PRINT", "EMAIL", "PRINTSERVICE"] | None = None


class FortnoxCustomer(FortnoxModel):
    """A Fortnox customer (`/3/customers`)."""

    LIMITS: ClassVar[Mapping[str, int]] = {
        "customer_number": Limits.CUSTOMER_NUMBER, "name": Limits.CUSTOMER_NAME,
        "address1": Limits.ADDRESS, "address2": Limits.ADDRESS, "zip_code": Limits.ZIP_CODE,
        "country_code": Limits.COUNTRY_CODE, "currency": Limits.CURRENCY,
        "your_reference": Limits.REFERENCE, "our_reference": Limits.REFERENCE,
        "delivery_zip_code": Limits.ZIP_CODE, "delivery_country_code": Limits.COUNTRY_CODE,
        "sales_account": Limits.SALES_ACCOUNT, "www": Limits.VISITING_TEXT,
        "invoice_remark": Limits.REMARKS, "comments": Limits.COMMENTS,
    }
    READ_ONLY: ClassVar[frozenset[str]] = frozenset({"phone", "country"})

    url: str | None = Field(default=None, alias="@url")
    customer_number: str | None = None
    name: str
    type: Literal["PRIVATE", "COMPANY"] | None = None
    organisation_number: str | None = None
    vat_number: str | None = None
    vat_type: str | None = None
    address1: str | None = None
    address2: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country_code: str | None = None
    country: str | None = None
    delivery_name: str | None = None
    delivery_address1: str | None = None
    delivery_address2: str | None = None
    delivery_zip_code: str | None = None
    delivery_city: str | None = None
    delivery_country_code: str | None = None
    phone: str | None = None
    phone1: str | None = None
    phone2: str | None = None
    email: str | None = None
    email_invoice: str | None = None
    email_invoice_cc: str | None = None
    email_invoice_bcc: str | None = None
    email_order: str | None = None
    www: str | None = None
    gln: str | None = None
    currency: str | None = None
    terms_of_payment: str | None = None
    terms_of_delivery: str | None = None
    way_of_delivery: str | None = None
    price_list: str | None = None
    sales_account: str | None = None
    cost_center: str | None = None
    project: str | None = None
    show_price_vat_included: bool | None = None
    our_reference: str | None = None
    your_reference: str | None = None
    external_reference: str | None = None
    invoice_remark: str | None = None
    comments: str | None = None
    default_templates: DefaultTemplates | None = None
    default_delivery_types: DefaultDeliveryTypes | None = None
    active: bool | None = None


class Article(FortnoxModel):
    """A Fortnox article (`/3/articles`). Its prices live in price lists (`Price`)."""

    LIMITS: ClassVar[Mapping[str, int]] = {
        "article_number": Limits.ARTICLE_NUMBER, "description": Limits.ARTICLE_DESCRIPTION,
        "note": Limits.ARTICLE_NOTE, "ean": Limits.EAN,
    }
    # SalesPrice shows the default price list's price; prices are written through /3/prices.
    READ_ONLY: ClassVar[frozenset[str]] = frozenset({
        "sales_price", "quantity_in_stock", "reserved_quantity", "disposable_quantity", "stock_value",
    })

    url: str | None = Field(default=None, alias="@url")
    article_number: str | None = None
    description: str
    type: Literal["STOCK", "SERVICE"] | None = None
    unit: str | None = None
    vat: Decimal | None = None
    sales_account: int | None = None
    sales_price: Decimal | None = None
    purchase_price: Decimal | None = None
    ean: str | None = None
    note: str | None = None
    stock_goods: bool | None = None
    quantity_in_stock: Decimal | None = None
    reserved_quantity: Decimal | None = None
    disposable_quantity: Decimal | None = None
    stock_value: Decimal | None = None
    active: bool | None = None
    expired: bool | None = None
    webshop_article: bool | None = None


class Price(FortnoxModel):
    """An article's price in one price list, from a quantity on (`/3/prices`)."""

    url: str | None = Field(default=None, alias="@url")
    article_number: str
    price_list: str
    from_quantity: Decimal | None = None
    price: Decimal | None = None
    percent: Decimal | None = None


class PriceList(FortnoxModel):
    """A price list; `pre_selected` marks the company's default list."""

    url: str | None = Field(default=None, alias="@url")
    code: str
    description: str | None = None
    comments: str | None = None
    pre_selected: bool | None = None


def _quantity_text(value: Decimal | None) -> str | None:
    # Quantities are strings in the spec; written exactly, without exponent.
    return None if value is None else format(value, "f")


class _DocumentRow(FortnoxModel):
    """What invoice and order rows share; quantities go out as the exact strings the spec types them as."""

    LIMITS: ClassVar[Mapping[str, int]] = {"description": Limits.ROW_DESCRIPTION, "unit": Limits.UNIT}
    QUANTITIES: ClassVar[tuple[str, ...]] = ("delivered_quantity",)

    row_id: int | None = None
    article_number: str | None = None
    description: str | None = None
    delivered_quantity: Decimal | None = None
    price: Decimal | None = None
    discount: Decimal | None = None
    discount_type: Literal["AMOUNT", "PERCENT"] | None = None
    vat: int | None = None
    vat_code: str | None = None
    account_number: int | None = None
    unit: str | None = None
    cost_center: str | None = None
    project: str | None = None
    total: Decimal | None = None
    contribution_percent: Decimal | None = None
    contribution_value: Decimal | None = None

    def to_payload(self) -> dict[str, Any]:
        payload = super().to_payload()
        for name in self.QUANTITIES:
            value = getattr(self, name)
            if value is not None:
                payload[fortnox_alias(name)] = _quantity_text(value)
        return payload


class InvoiceRow(_DocumentRow):
    """One row of an invoice. `delivered_quantity` is what Fortnox bills."""

    READ_ONLY: ClassVar[frozenset[str]] = frozenset({
        "total", "total_excluding_vat", "price_excluding_vat", "contribution_percent", "contribution_value",
    })

    total_excluding_vat: Decimal | None = None
    price_excluding_vat: Decimal | None = None


class OrderRow(_DocumentRow):
    """One row of an order. Only `delivered_quantity` counts towards totals."""

    READ_ONLY: ClassVar[frozenset[str]] = frozenset({
        "row_id", "total", "reserved_quantity", "contribution_percent", "contribution_value",
    })
    QUANTITIES: ClassVar[tuple[str, ...]] = ("ordered_quantity", "delivered_quantity")

    ordered_quantity: Decimal | None = None
    reserved_quantity: Decimal | None = None


class EmailInformation(FortnoxModel):
    LIMITS: ClassVar[Mapping[str, int]] = {"email_subject": Limits.EMAIL_SUBJECT,
                                            "email_body": Limits.EMAIL_BODY}

    email_address_to: str | None = None
    email_address_cc: str | None = Field(default=None, alias="EmailAddressCC")
    email_address_bcc: str | None = Field(default=None, alias="EmailAddressBCC")
    email_address_from: str | None = None
    email_subject: str | None = None
    email_body: str | None = None


class DocumentTotals(BaseModel):
    """A document's amounts as Fortnox computed them, in the document's currency."""

    model_config = ConfigDict(frozen=True)

    net: Decimal | None = None
    gross: Decimal | None = None
    total_vat: Decimal | None = None
    round_off: Decimal | None = None
    total: Decimal | None = None
    total_to_pay: Decimal | None = None
    freight: Decimal | None = None
    freight_vat: Decimal | None = None
    administration_fee: Decimal | None = None
    administration_fee_vat: Decimal | None = None
    balance: Decimal | None = None
    currency: str | None = None


_DOCUMENT_LIMITS: Mapping[str, int] = {
    "external_invoice_reference1": Limits.EXTERNAL_INVOICE_REFERENCE,
    "external_invoice_reference2": Limits.EXTERNAL_INVOICE_REFERENCE,
    "your_order_number": Limits.YOUR_ORDER_NUMBER,
    "your_reference": Limits.REFERENCE,
    "our_reference": Limits.REFERENCE,
    "remarks": Limits.REMARKS,
    "comments": Limits.COMMENTS,
    "currency": Limits.CURRENCY,
}

_DOCUMENT_READ_ONLY = frozenset({
    "net", "gross", "total_vat", "round_off", "total", "total_to_pay", "freight_vat",
    "administration_fee_vat", "balance", "booked", "cancelled", "sent", "final_pay_date",
    "order_reference", "invoice_reference", "offer_reference", "credit", "organisation_number",
    "voucher_number", "voucher_series", "voucher_year", "order_type", "contribution_percent",
    "contribution_value", "credit_invoice_reference", "last_remind_date",
})


class _Document(FortnoxModel):
    """What invoices and orders share."""

    LIMITS: ClassVar[Mapping[str, int]] = _DOCUMENT_LIMITS
    READ_ONLY: ClassVar[frozenset[str]] = _DOCUMENT_READ_ONLY

    url: str | None = Field(default=None, alias="@url")
    document_number: str | None = None
    customer_number: str
    customer_name: str | None = None
    address1: str | None = None
    address2: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country: str | None = None
    delivery_date: date | None = None
    currency: str | None = None
    currency_rate: Decimal | None = None
    currency_unit: Decimal | None = None
    price_list: str | None = None
    vat_included: bool | None = None
    terms_of_payment: str | None = None
    terms_of_delivery: str | None = None
    way_of_delivery: str | None = None
    print_template: str | None = None
    language: Literal["SV", "EN"] | None = None
    your_order_number: str | None = None
    your_reference: str | None = None
    our_reference: str | None = None
    external_invoice_reference1: str | None = None
    external_invoice_reference2: str | None = None
    remarks: str | None = None
    comments: str | None = None
    cost_center: str | None = None
    project: str | None = None
    freight: Decimal | None = None
    administration_fee: Decimal | None = None
    email_information: EmailInformation | None = None
    not_completed: bool | None = None
    organisation_number: str | None = None
    net: Decimal | None = None
    gross: Decimal | None = None
    total_vat: Decimal | None = None
    round_off: Decimal | None = None
    total: Decimal | None = None
    total_to_pay: Decimal | None = None
    freight_vat: Decimal | None = None
    administration_fee_vat: Decimal | None = None
    cancelled: bool | None = None
    sent: bool | None = None

    @property
    def totals(self) -> DocumentTotals:
        """The amounts Fortnox computed for this document."""
        return DocumentTotals(
            net=self.net, gross=self.gross, total_vat=self.total_vat, round_off=self.round_off,
            total=self.total, total_to_pay=self.total_to_pay, freight=self.freight,
            freight_vat=self.freight_vat, administration_fee=self.administration_fee,
            administration_fee_vat=self.administration_fee_vat,
            balance=getattr(self, "balance", None), currency=self.currency,
        )

    def _payload_with_rows(self, rows_attribute: str) -> dict[str, Any]:
        self.check_limits()
        if self.email_information is not None:
            self.email_information.check_limits()
        exclude = set(self.READ_ONLY) | {"url", rows_attribute}
        payload = self.model_dump(by_alias=True, exclude_none=True, exclude=exclude)
        rows = getattr(self, rows_attribute)
        payload[fortnox_alias(rows_attribute)] = [row.to_payload() for row in rows]
        return payload


class Invoice(_Document):
    """A customer invoice (`/3/invoices`); new ones are drafts (unbooked, unsent)."""

    invoice_type: Literal["INVOICE", "AGREEMENTINVOICE", "INTRESTINVOICE", "SUMMARYINVOICE",
                          "CASHINVOICE"] | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    ocr: str | None = None
    balance: Decimal | None = None
    booked: bool | None = None
    final_pay_date: date | None = None
    order_reference: str | None = None
    credit: bool | None = None
    #: on a credited invoice, the number of the credit invoice made for it; on a credit invoice, the
    #: invoice it credits ("0" or absent when there is none)
    credit_invoice_reference: str | None = None
    last_remind_date: date | None = None
    invoice_rows: list[InvoiceRow] = Field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        return self._payload_with_rows("invoice_rows")


class Order(_Document):
    """A sales order (`/3/orders`); `invoice_reference` is set once it became an invoice."""

    order_date: date | None = None
    delivery_state: Literal["registration", "reservation", "delivery"] | None = None
    copy_remarks: bool | None = None
    invoice_reference: str | None = None
    order_rows: list[OrderRow] = Field(default_factory=list)

    def to_payload(self) -> dict[str, Any]:
        return self._payload_with_rows("order_rows")


class InvoicePayment(FortnoxModel):
    """A payment registered against a customer invoice (`/3/invoicepayments`, scope `payment`).

    `amount` is in SEK, `amount_currency` in the invoice's currency. Read only: hubnox never
    registers payments."""

    number: str | None = None
    invoice_number: str | None = None
    amount: Decimal | None = None
    amount_currency: Decimal | None = None
    currency: str | None = None
    currency_rate: Decimal | None = None
    currency_unit: Decimal | None = None
    payment_date: date | None = None
    booked: bool | None = None
    invoice_customer_number: str | None = None
    invoice_customer_name: str | None = None
    invoice_due_date: date | None = None
    invoice_total: Decimal | None = None
    external_invoice_reference1: str | None = None


class DocumentKind(StrEnum):
    """The two documents hubnox creates, with their Fortnox resource names."""

    INVOICE = "invoice"
    ORDER = "order"

    @property
    def resource(self) -> str:
        return f"{self.value}s"

    @property
    def wrapper(self) -> str:
        return self.value.capitalize()

    @property
    def list_key(self) -> str:
        return f"{self.wrapper}s"

    @property
    def model(self) -> type[Invoice] | type[Order]:
        return Invoice if self is DocumentKind.INVOICE else Order


class CompanyInformation(FortnoxModel):
    """The connected Fortnox company; `database_number` is its tenant id."""

    company_name: str | None = None
    organization_number: str | None = None
    address: str | None = None
    zip_code: str | None = None
    city: str | None = None
    country_code: str | None = None
    database_number: int | None = None
    visit_address: str | None = None
    visit_zip_code: str | None = None
    visit_city: str | None = None
    visit_country_code: str | None = None


class TermsOfPayment(FortnoxModel):
    code: str
    description: str | None = None


class Currency(FortnoxModel):
    code: str
    description: str | None = None
    buy_rate: Decimal | None = None
    sell_rate: Decimal | None = None
    unit: Decimal | None = None
    rate_date: str | None = Field(default=None, alias="Date")
    is_automatic: bool | None = None


class PrintTemplate(FortnoxModel):
    template: str
    name: str | None = None


class WayOfDelivery(FortnoxModel):
    code: str
    description: str | None = None
    description_english: str | None = None


class TermsOfDelivery(FortnoxModel):
    code: str
    description: str | None = None


class Account(FortnoxModel):
    """An account of the chart of accounts (`/3/accounts`); 3000-3999 are sales accounts."""

    number: int
    description: str | None = None
    active: bool | None = None
    year: int | None = None


class CostCenter(FortnoxModel):
    code: str
    description: str | None = None
    active: bool | None = None


class Project(FortnoxModel):
    project_number: str
    description: str | None = None
    status: str | None = None


class FortnoxTokens(BaseModel):
    """The answer of Fortnox's token endpoint, with the expiry moment and the tenant it is for."""

    model_config = ConfigDict(frozen=True)

    # Kept out of repr(), str() and validation errors: tokens are never logged.
    access_token: str = Field(repr=False)
    refresh_token: str | None = Field(repr=False)
    expires_in: int
    expires_at: float
    scopes: list[str] = Field(default_factory=list)
    token_type: str = "bearer"
    tenant_id: str | None = None


def tenant_of_access_token(access_token: str) -> str | None:
    """The `tenantId` claim of a Fortnox access token (a JWT; Fortnox publishes no key to verify)."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        return None
    tenant = claims.get("tenantId") if isinstance(claims, dict) else None
    return str(tenant) if tenant is not None else None
