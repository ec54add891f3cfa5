"""What the Fortnox simulator accepts and how it writes values back: the field tables of each
resource (derived from the spec's payload schemas), the checks and conversions a request body goes
through, and the small value rules (Decimals as JSON numbers, OCR and organisation-number check
digits, natural sort of codes, the VAT rates Fortnox accepts).

A request's `null` means "not sent"; the string "API_BLANK" clears a field, as in Fortnox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request

from sandbox import fortnox_money as money
from sandbox.fortnox_errors import FortnoxError


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


VAT_RATES = (Decimal(25), Decimal(12), Decimal(6), Decimal(0))


COUNTRIES = {
    "SE": "Sverige",
    "NO": "Norge",
    "DK": "Danmark",
    "FI": "Finland",
    "IS": "Island",
    "DE": "Tyskland",
    "GB": "Storbritannien",
    "US": "USA",
    "NL": "Nederländerna",
    "FR": "Frankrike",
    "ES": "Spanien",
    "IT": "Italien",
    "PL": "Polen",
    "EE": "Estland",
    "LV": "Lettland",
    "LT": "Litauen",
    "IE": "Irland",
    "BE": "Belgien",
    "AT": "Österrike",
    "CH": "Schweiz",
}


# -- field tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    """How one writable field is checked and stored."""

    kind: str  # str num int bool date datetime qty obj tags
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    nested: Mapping[str, FieldRule] | None = None


def _table(
    groups: Mapping[str, str],
    choices: Mapping[str, tuple[str, ...]] | None = None,
    nested: Mapping[str, Mapping[str, FieldRule]] | None = None,
) -> dict[str, FieldRule]:
    """Field rules from compact groups: {"str": "Name:1024 City", "num": "Price", ...}."""
    table = {}
    for kind, names in groups.items():
        for item in names.split():
            name, _, limit = item.partition(":")
            table[name] = FieldRule(
                kind, int(limit) if limit else None, (choices or {}).get(name, ()), (nested or {}).get(name)
            )
    return table


EMAIL_FIELDS = _table(
    {"str": "EmailAddressBCC EmailAddressCC EmailAddressFrom EmailAddressTo EmailBody:20000 EmailSubject:100"}
)


EDI_FIELDS = _table(
    {
        "str": "EDIGlobalLocationNumber:13 EDIGlobalLocationNumberDelivery:13 EDIInvoiceExtra1 "
        "EDIInvoiceExtra2 EDIOurElectronicReference EDIYourElectronicReference"
    }
)


DELIVERY_TYPES = ("PRINT", "EMAIL", "PRINTSERVICE")


CUSTOMER_FIELDS = _table(
    {
        "bool": "Active ShowPriceVATIncluded",
        "str": "Address1:1024 Address2:1024 City:1024 Comments:1024 CostCenter CountryCode:2 Currency:3 "
        "CustomerNumber:1024 DeliveryAddress1:1024 DeliveryAddress2:1024 DeliveryCity:1024 "
        "DeliveryCountry:1024 DeliveryCountryCode:2 DeliveryFax:1024 DeliveryName:1024 "
        "DeliveryPhone1:1024 DeliveryPhone2:1024 DeliveryZipCode:10 Email:1024 EmailInvoice:1024 "
        "EmailInvoiceBCC:1024 EmailInvoiceCC:1024 EmailOffer:1024 EmailOfferBCC:1024 "
        "EmailOfferCC:1024 EmailOrder:1024 EmailOrderBCC:1024 EmailOrderCC:1024 "
        "ExternalReference:1024 Fax:1024 GLN:13 GLNDelivery:13 InvoiceAdministrationFee "
        "InvoiceFreight InvoiceRemark:1024 Name:1024 OrganisationNumber:30 OurReference:50 "
        "Phone1:1024 Phone2:1024 PriceList Project SalesAccount:4 TermsOfDelivery TermsOfPayment "
        "Type VATNumber VATType VisitingAddress:128 VisitingCity:128 VisitingCountry:128 "
        "VisitingCountryCode:2 VisitingZipCode:10 WWW:128 WayOfDelivery YourReference:50 ZipCode:10",
        "num": "InvoiceDiscount",
        "obj": "DefaultDeliveryTypes DefaultTemplates",
    },
    choices={
        "Type": ("PRIVATE", "COMPANY"),
        "VATType": ("SEVAT", "SEREVERSEDVAT", "EUREVERSEDVAT", "EUVAT", "EXPORT"),
    },
    nested={
        "DefaultDeliveryTypes": _table(
            {"str": "Invoice Offer Order"}, choices={k: DELIVERY_TYPES for k in ("Invoice", "Offer", "Order")}
        ),
        "DefaultTemplates": _table({"str": "CashInvoice Invoice Offer Order"}),
    },
)


CUSTOMER_IGNORED = frozenset({"@url", "Country"})


CUSTOMER_LIST_FIELDS = (
    "Active",
    "Address1",
    "Address2",
    "City",
    "CustomerNumber",
    "Email",
    "Name",
    "OrganisationNumber",
    "Phone",
    "ZipCode",
)


ARTICLE_FIELDS = _table(
    {
        "bool": "Active Bulky Expired Housework StockGoods WebshopArticle",
        "str": "ArticleNumber:50 CostCalculationMethod DefaultStockLocation DefaultStockPoint "
        "Description:200 EAN:30 HouseworkType Manufacturer:50 ManufacturerArticleNumber:50 "
        "Note:10000 StockPlace:100 SupplierName SupplierNumber Type Unit",
        "int": "ConstructionAccount Depth EUAccount EUVATAccount ExportAccount Height PurchaseAccount "
        "SalesAccount StockAccount StockChangeAccount Weight Width",
        "num": "DirectCost FreightCost OtherCost PurchasePrice QuantityInStock StockWarning VAT",
    },
    choices={"Type": ("STOCK", "SERVICE")},
)


ARTICLE_IGNORED = frozenset(
    {"@url", "CommodityCode", "SalesPrice", "DisposableQuantity", "ReservedQuantity", "StockValue"}
)


_DOCUMENT_COMMON = {
    "str": "Address1:1024 Address2:1024 City:1024 Comments:1024 CostCenter Country Currency:3 "
    "CustomerName:1024 CustomerNumber DeliveryAddress1:1024 DeliveryAddress2:1024 DeliveryCity:1024 "
    "DeliveryCountry DeliveryName:1024 DeliveryZipCode:1024 DocumentNumber "
    "ExternalInvoiceReference1:80 ExternalInvoiceReference2:80 Language OurReference:50 Phone1:1024 "
    "Phone2:1024 PriceList PrintTemplate Project Remarks:1024 TaxReductionType TermsOfDelivery "
    "TermsOfPayment WayOfDelivery YourOrderNumber:75 YourReference:50 ZipCode:1024",
    "num": "AdministrationFee CurrencyRate Freight",
    "int": "CurrencyUnit",
    "bool": "NotCompleted VATIncluded",
    "obj": "EmailInformation",
    "tags": "Labels",
}


_DOCUMENT_CHOICES = {"Language": ("SV", "EN"), "TaxReductionType": ("none", "rot", "rut", "green")}


INVOICE_FIELDS = _table(
    {
        **_DOCUMENT_COMMON,
        "str": _DOCUMENT_COMMON["str"] + " CreditInvoiceReference InvoiceType OCR PaymentWay",
        "bool": _DOCUMENT_COMMON["bool"] + " EUQuarterlyReport",
        "date": "DeliveryDate DueDate InvoiceDate OutboundDate",
        "obj": "EmailInformation EDIInformation",
    },
    choices={
        **_DOCUMENT_CHOICES,
        "InvoiceType": ("INVOICE", "AGREEMENTINVOICE", "INTRESTINVOICE", "SUMMARYINVOICE", "CASHINVOICE"),
        "PaymentWay": ("CASH", "CARD", "AG"),
    },
    nested={"EmailInformation": EMAIL_FIELDS, "EDIInformation": EDI_FIELDS},
)


INVOICE_READ_ONLY = words(
    "@url @urlTaxReductionList AccountingMethod AdministrationFeeVAT Balance BasisTaxReduction Booked "
    "Cancelled ContractReference ContributionPercent ContributionValue Credit FinalPayDate FreightVAT Gross"
    " HouseWork InvoicePeriodEnd InvoicePeriodReference InvoicePeriodStart InvoiceReference LastRemindDate "
    "Net NoxFinans OfferReference OrderReference OrganisationNumber Reminders RoundOff Sent TaxReduction "
    "TimeBasisReference Total TotalToPay TotalVAT VoucherNumber VoucherSeries VoucherYear WarehouseReady"
)


ORDER_FIELDS = _table(
    {
        **_DOCUMENT_COMMON,
        "str": _DOCUMENT_COMMON["str"] + " DeliveryState OrganisationNumber StockPointCode StockPointId",
        "num": _DOCUMENT_COMMON["num"] + " CurrencyUnit",
        "int": "",
        "bool": _DOCUMENT_COMMON["bool"] + " CopyRemarks",
        "date": "DeliveryDate OrderDate OutboundDate",
    },
    choices={**_DOCUMENT_CHOICES, "DeliveryState": ("registration", "reservation", "delivery")},
    nested={"EmailInformation": EMAIL_FIELDS},
)


ORDER_READ_ONLY = words(
    "@url @urlTaxReductionList AdministrationFeeVAT BasisTaxReduction Cancelled ContributionPercent "
    "ContributionValue FreightVAT Gross HouseWork InvoiceReference Net OfferReference OrderType RoundOff "
    "Sent TaxReduction TimeBasisReference Total TotalToPay TotalVAT WarehouseReady"
)


_ROW_COMMON = {
    "int": "AccountNumber HouseWorkHoursToReport",
    "str": "ArticleNumber CostCenter Description:255 DiscountType HouseWorkType Project StockPointCode "
    "Unit:20 VATCode",
    "qty": "DeliveredQuantity",
    "num": "Cost Discount Price VAT",
    "bool": "HouseWork",
}


_ROW_CHOICES = {"DiscountType": ("AMOUNT", "PERCENT")}


INVOICE_ROW_FIELDS = _table(_ROW_COMMON, choices=_ROW_CHOICES)


INVOICE_ROW_READ_ONLY = frozenset(
    {"ContributionPercent", "ContributionValue", "PriceExcludingVAT", "Total", "TotalExcludingVAT"}
)


ORDER_ROW_FIELDS = _table(
    {**_ROW_COMMON, "str": _ROW_COMMON["str"] + " StockPointId", "qty": "DeliveredQuantity OrderedQuantity"},
    choices=_ROW_CHOICES,
)


ORDER_ROW_READ_ONLY = frozenset({"ContributionPercent", "ContributionValue", "ReservedQuantity", "Total"})


PRICE_LIST_FIELDS = _table({"str": "Code:100 Comments Description:50", "bool": "PreSelected"})


PRICE_FIELDS = _table(
    {"str": "ArticleNumber PriceList", "datetime": "Date", "num": "FromQuantity Percent Price"}
)


CURRENCY_FIELDS = _table(
    {"num": "BuyRate SellRate Unit", "str": "Code:3 Description", "date": "Date", "bool": "IsAutomatic"}
)


TERMS_FIELDS = _table({"str": "Code:25 Description"})


WAY_OF_DELIVERY_FIELDS = _table({"str": "Code:50 Description:100 DescriptionEnglish:100"})


URL_ONLY = frozenset({"@url"})


# -- values ----------------------------------------------------------------------------------------


def luhn_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return str((10 - total % 10) % 10)


def ocr_number(document_number: int) -> str:
    """Fortnox's default OCR: the number, a length digit and a Luhn check digit (1 -> "133")."""
    digits = str(document_number)
    payload = digits + str((len(digits) + 2) % 10)
    return payload + luhn_digit(payload)


def valid_organisation_number(value: str) -> bool:
    """A Swedish organisation or personal number (10 or 12 digits, optional dash) with a valid check digit."""
    digits = value.replace("-", "").replace(" ", "")
    if not digits.isdigit() or len(digits) not in (10, 12):
        return False
    digits = digits[-10:]
    return luhn_digit(digits[:9]) == digits[9]


def to_json(value: Any) -> Any:
    """Internal values as JSON: Decimals as numbers, private keys dropped."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def quantity_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def plain(value: Decimal) -> str:
    """A decimal without trailing zeros or exponent ("9.2412", "1", "0")."""
    return format(value.normalize(), "f") if value else "0"


def natural_key(value: Any) -> tuple[int, int, str]:
    """Numbers in numeric order before other codes (customer "2" before "10")."""
    text = "" if value is None else str(value)
    return (0, int(text), "") if text.isdigit() else (1, 0, text.lower())


EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


CUSTOMER_NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9+/_\-–]+$")


def require(fields: Mapping[str, Any], *names: str) -> None:
    """Fortnox's error for the first of `names` that a create request leaves empty."""
    for name in names:
        if not fields.get(name):
            raise FortnoxError("FIELD_REQUIRED", field=name)


# -- request bodies --------------------------------------------------------------------------------


def read_payload(request: Request, wrapper: str) -> dict[str, Any]:
    data = request.get_data(cache=True)
    if not data.strip():
        raise FortnoxError("EMPTY_BODY")
    if request.mimetype and "json" not in request.mimetype:
        raise FortnoxError("INVALID_CONTENT_TYPE")
    try:
        body = json.loads(data, parse_float=Decimal)
    except ValueError as exc:
        raise FortnoxError("JSON_SYNTAX") from exc
    if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
        raise FortnoxError("EMPTY_BODY")
    for key in body:
        if key != wrapper:
            raise FortnoxError("INVALID_FIELD", field=key)
    return body[wrapper]


def coerce(
    payload: Mapping[str, Any],
    table: Mapping[str, FieldRule],
    ignored: Iterable[str],
    *,
    skip: Iterable[str] = (),
) -> dict[str, Any]:
    """The known fields of a payload, checked and converted; read-only ones dropped."""
    ignored = set(ignored) | set(skip)
    out: dict[str, Any] = {}
    for name, value in payload.items():
        rule = table.get(name)
        if rule is None:
            if name in ignored:
                continue
            raise FortnoxError("INVALID_FIELD", field=name)
        if value is None:
            continue
        if value == "API_BLANK":
            out[name] = None
            continue
        out[name] = coerce_value(name, rule, value)
    return out


def coerce_value(name: str, rule: FieldRule, value: Any) -> Any:
    kind = rule.kind
    if kind in ("str", "date", "datetime"):
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and kind == "str":
            value = str(value)
        if not isinstance(value, str):
            raise FortnoxError("INVALID_VALUE", field=name)
        if kind == "date":
            try:
                date.fromisoformat(value)
            except ValueError as exc:
                raise FortnoxError("INVALID_DATE", field=name) from exc
            if len(value) != 10:
                raise FortnoxError("INVALID_DATE", field=name)
            return value
        if rule.max_length is not None and len(value) > rule.max_length:
            raise FortnoxError("FIELD_TOO_LONG", field=name, limit=rule.max_length)
        if rule.choices:
            for choice in rule.choices:
                if choice.lower() == value.lower():
                    return choice
            raise FortnoxError("INVALID_VALUE", field=name)
        return value
    if kind in ("num", "qty", "int"):
        try:
            number = money.to_decimal(value)
        except ValueError as exc:
            raise FortnoxError("MUST_BE_NUMERIC", field=name) from exc
        if kind == "int":
            if number != number.to_integral_value():
                raise FortnoxError("MUST_BE_NUMERIC", field=name)
            return int(number)
        return money.round_cents(number) if kind == "qty" else number
    if kind == "bool":
        if not isinstance(value, bool):
            raise FortnoxError("MUST_BE_BOOLEAN", field=name)
        return value
    if kind == "obj":
        if not isinstance(value, dict):
            raise FortnoxError("INVALID_VALUE", field=name)
        return coerce(value, rule.nested or {}, ())
    if kind == "tags":
        if not isinstance(value, list) or not all(isinstance(tag, dict) for tag in value):
            raise FortnoxError("INVALID_VALUE", field=name)
        tags_table = {"Id": FieldRule("int")}
        return [coerce(tag, tags_table, ()) for tag in value]
    raise FortnoxError("INVALID_VALUE", field=name)


def base_url(request: Request) -> str:
    return request.host_url.rstrip("/")


def check_vat(vat: Decimal | None) -> None:
    if vat is not None and vat not in VAT_RATES:
        raise FortnoxError("VAT_RATE_INVALID", vat=plain(vat))
