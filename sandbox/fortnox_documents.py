"""The Fortnox simulator's invoices and orders as documents: what differs between the two kinds,
a new document's defaults, the header taken from the customer, rows with article defaults and list
prices, totals and VAT as `sandbox.fortnox_money` computes them, the JSON renderings and the PDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox import fortnox_money as money
from sandbox.fortnox_catalog import customer_or_400, find_article, list_price
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_fields import (
    COUNTRIES,
    INVOICE_FIELDS,
    INVOICE_READ_ONLY,
    INVOICE_ROW_FIELDS,
    INVOICE_ROW_READ_ONLY,
    ORDER_FIELDS,
    ORDER_READ_ONLY,
    ORDER_ROW_FIELDS,
    ORDER_ROW_READ_ONLY,
    FieldRule,
    check_vat,
    coerce,
    ocr_number,
    plain,
    quantity_text,
    to_json,
)
from sandbox.fortnox_state import DEFAULT_TERMS_CODE, PRINT_TEMPLATES, Company
from sandbox.pdf import render_pdf

#: BAS sales accounts by VAT rate, used when neither the row nor the article names one
SALES_ACCOUNTS = {Decimal(25): 3001, Decimal(12): 3002, Decimal(6): 3003, Decimal(0): 3004}

#: Customer VAT types whose rows default to 0 % VAT. Decided here, since Fortnox does not document
#: it for the API: a row that names no VAT gets 0 % for these customers (whether or not it has an
#: article, as Fortnox's invoice form does when the customer's VAT type is chosen); a row that names
#: a VAT keeps it as sent (recorded: "a row's VAT is kept as sent"). A row without an article and
#: without a VAT gets 25 % for other customers; without an AccountNumber it is booked on the sales
#: account for its VAT (`SALES_ACCOUNTS`), like Fortnox's predefined accounts.
ZERO_VAT_TYPES = frozenset({"EXPORT", "EUREVERSEDVAT", "SEREVERSEDVAT"})


@dataclass(frozen=True)
class DocumentKind:
    """What differs between invoices and orders."""

    name: str  # invoice | order
    wrapper: str
    list_wrapper: str
    path: str
    rows_key: str
    fields: Mapping[str, FieldRule]
    read_only: frozenset[str]
    row_fields: Mapping[str, FieldRule]
    row_read_only: frozenset[str]
    date_field: str
    not_found: str


INVOICE = DocumentKind(
    "invoice",
    "Invoice",
    "Invoices",
    "invoices",
    "InvoiceRows",
    INVOICE_FIELDS,
    INVOICE_READ_ONLY,
    INVOICE_ROW_FIELDS,
    INVOICE_ROW_READ_ONLY,
    "InvoiceDate",
    "INVOICE_NOT_FOUND",
)

ORDER = DocumentKind(
    "order",
    "Order",
    "Orders",
    "orders",
    "OrderRows",
    ORDER_FIELDS,
    ORDER_READ_ONLY,
    ORDER_ROW_FIELDS,
    ORDER_ROW_READ_ONLY,
    "OrderDate",
    "ORDER_NOT_FOUND",
)


def document_store(company: Company, kind: DocumentKind) -> dict[int, dict[str, Any]]:
    return company.invoices if kind is INVOICE else company.orders


def find_document(company: Company, kind: DocumentKind, number: str) -> dict[str, Any]:
    document = document_store(company, kind).get(int(number)) if number.isdigit() else None
    if document is None:
        raise FortnoxError(kind.not_found, number=number)
    return document


def _customer_defaults(
    company: Company, kind: DocumentKind, customer: dict[str, Any]
) -> dict[str, Any]:
    email_to = customer.get("EmailInvoice" if kind is INVOICE else "EmailOrder") or customer.get("Email")
    return {
        "CustomerName": customer.get("Name"),
        "Address1": customer.get("Address1"),
        "Address2": customer.get("Address2"),
        "ZipCode": customer.get("ZipCode"),
        "City": customer.get("City"),
        "Country": COUNTRIES.get(customer.get("CountryCode") or "", customer.get("CountryCode")),
        "Phone1": customer.get("Phone1"),
        "Phone2": customer.get("Phone2"),
        "OrganisationNumber": customer.get("OrganisationNumber"),
        "DeliveryName": customer.get("DeliveryName"),
        "DeliveryAddress1": customer.get("DeliveryAddress1"),
        "DeliveryAddress2": customer.get("DeliveryAddress2"),
        "DeliveryZipCode": customer.get("DeliveryZipCode"),
        "DeliveryCity": customer.get("DeliveryCity"),
        "DeliveryCountry": customer.get("DeliveryCountry"),
        "Currency": customer.get("Currency") or "SEK",
        "TermsOfPayment": customer.get("TermsOfPayment") or DEFAULT_TERMS_CODE,
        "PriceList": customer.get("PriceList") or company.preselected_price_list(),
        "YourReference": customer.get("YourReference"),
        "OurReference": customer.get("OurReference"),
        "TermsOfDelivery": customer.get("TermsOfDelivery"),
        "WayOfDelivery": customer.get("WayOfDelivery"),
        "CostCenter": customer.get("CostCenter"),
        "Project": customer.get("Project"),
        "VATIncluded": bool(customer.get("ShowPriceVATIncluded")),
        "PrintTemplate": (customer.get("DefaultTemplates") or {}).get(
            "Invoice" if kind is INVOICE else "Order"
        )
        or PRINT_TEMPLATES[kind.name][0][0],
        "EmailInformation": {
            "EmailAddressTo": email_to,
            "EmailAddressCC": None,
            "EmailAddressBCC": None,
            "EmailAddressFrom": None,
            "EmailSubject": None,
            "EmailBody": None,
        },
        "_vat_type": customer.get("VATType") or "SEVAT",
    }


def new_document(kind: DocumentKind, number: int, today: str) -> dict[str, Any]:
    """A fresh document's fields before the request's header and rows are applied; `today` is its date."""
    common: dict[str, Any] = {
        "DocumentNumber": str(number),
        "Language": "SV",
        "CurrencyUnit": Decimal(1),
        "Freight": Decimal(0),
        "AdministrationFee": Decimal(0),
        "NotCompleted": False,
        "Labels": [],
        "Cancelled": False,
        "Sent": False,
        "Remarks": None,
        "Comments": None,
        "ExternalInvoiceReference1": None,
        "ExternalInvoiceReference2": None,
        "YourOrderNumber": None,
        "DeliveryDate": None,
        "OutboundDate": None,
        "TaxReductionType": "none",
        "HouseWork": False,
        "WarehouseReady": False,
        "OfferReference": None,
        "ContributionPercent": None,
        "ContributionValue": None,
        "TaxReduction": 0,
        "BasisTaxReduction": 0,
        "TimeBasisReference": None,
        kind.rows_key: [],
        kind.date_field: today,
    }
    if kind is INVOICE:
        common.update(
            {
                "InvoiceType": "INVOICE",
                "Booked": False,
                "Credit": "false",
                "CreditInvoiceReference": None,
                "FinalPayDate": None,
                "OCR": ocr_number(number),
                "NoxFinans": False,
                "Reminders": 0,
                "LastRemindDate": None,
                "AccountingMethod": "ACCRUAL",
                "VoucherNumber": None,
                "VoucherSeries": None,
                "VoucherYear": None,
                "OrderReference": None,
                "InvoiceReference": None,
                "ContractReference": None,
                "InvoicePeriodStart": None,
                "InvoicePeriodEnd": None,
                "InvoicePeriodReference": None,
                "PaymentWay": None,
                "EUQuarterlyReport": False,
                "EDIInformation": {},
                "_paid": Decimal(0),
            }
        )
    else:
        common.update(
            {
                "InvoiceReference": None,
                "OrderType": "Order",
                "CopyRemarks": False,
                "DeliveryState": None,
                "StockPointCode": None,
                "StockPointId": None,
            }
        )
    return common


def apply_header(
    company: Company,
    kind: DocumentKind,
    document: dict[str, Any],
    fields: dict[str, Any],
    *,
    creating: bool,
) -> None:
    """Header fields onto a document, the customer's values where a new customer is named."""
    customer_number = fields.get("CustomerNumber", document.get("CustomerNumber"))
    if not customer_number:
        raise FortnoxError("FIELD_REQUIRED", field="CustomerNumber")
    customer_changed = creating or customer_number != document.get("CustomerNumber")
    if customer_changed:
        customer = customer_or_400(company, customer_number)
        defaults = _customer_defaults(company, kind, customer)
        for name, value in defaults.items():
            if name not in fields:
                document[name] = value
    old_terms, old_date = document.get("TermsOfPayment"), document.get(kind.date_field)
    for name, value in fields.items():
        if name in ("EmailInformation", "EDIInformation"):
            document[name] = {**(document.get(name) or {}), **(value or {})}
        elif name != "DocumentNumber":
            document[name] = value
    _check_document_refs(company, kind, document)
    currency = company.currencies[document["Currency"]]
    if "CurrencyRate" not in fields and (customer_changed or "Currency" in fields):
        document["CurrencyRate"] = currency["SellRate"] / (currency["Unit"] or Decimal(1))
        # An invoice types CurrencyUnit as an integer, an order as a number.
        unit = currency["Unit"] or Decimal(1)
        document["CurrencyUnit"] = int(unit) if kind is INVOICE else unit
    if (
        kind is INVOICE
        and "DueDate" not in fields
        and (creating or document["TermsOfPayment"] != old_terms or document["InvoiceDate"] != old_date)
    ):
        days = company.terms_of_payments[document["TermsOfPayment"]]["_days"]
        document["DueDate"] = money.due_date(
            date.fromisoformat(document["InvoiceDate"]), days
        ).isoformat()


def _check_document_refs(company: Company, kind: DocumentKind, document: dict[str, Any]) -> None:
    checks = (
        ("Currency", company.currencies, "CURRENCY_NOT_FOUND"),
        ("TermsOfPayment", company.terms_of_payments, "TERMS_NOT_FOUND"),
        ("PriceList", company.price_lists, "PRICE_LIST_NOT_FOUND"),
    )
    for name, store, key in checks:
        if not document.get(name) or document[name] not in store:
            raise FortnoxError(key, status=400, code=document.get(name))
    template = document.get("PrintTemplate")
    if template and template not in {code for code, _ in PRINT_TEMPLATES[kind.name]}:
        raise FortnoxError("PRINT_TEMPLATE_NOT_FOUND", code=template)


def _build_row(
    company: Company,
    kind: DocumentKind,
    document: dict[str, Any],
    payload: Any,
    existing: dict[str, Any] | None,
) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise FortnoxError("EMPTY_BODY")
    fields = coerce(payload, kind.row_fields, kind.row_read_only, skip=("RowId",))
    row: dict[str, Any] = (
        dict(existing)
        if existing
        else {
            "ArticleNumber": None,
            "Description": None,
            "DeliveredQuantity": None,
            "Price": None,
            "Discount": Decimal(0),
            "DiscountType": "PERCENT",
            "VAT": None,
            "Unit": None,
            "AccountNumber": None,
            "CostCenter": None,
            "Project": None,
            "Cost": None,
            "VATCode": None,
            "HouseWork": False,
            "HouseWorkType": None,
            "HouseWorkHoursToReport": None,
            "StockPointCode": None,
        }
    )
    if kind is ORDER and not existing:
        row.update({"OrderedQuantity": None, "StockPointId": None})
    row.update(fields)
    if "Price" in fields and fields["Price"] is not None:
        row["Price"] = money.round_cents(fields["Price"])
    row["Discount"] = money.round_cents(row.get("Discount") or Decimal(0))
    article = None
    if row.get("ArticleNumber"):
        article = find_article(company, row["ArticleNumber"], status=400)
        if row.get("Description") is None:
            row["Description"] = article.get("Description")
        if row.get("Unit") is None:
            row["Unit"] = article.get("Unit")
        if row.get("VAT") is None and document.get("_vat_type") not in ZERO_VAT_TYPES:
            row["VAT"] = article.get("VAT")
        if row.get("Price") is None:
            quantity = row.get("DeliveredQuantity") or row.get("OrderedQuantity") or Decimal(0)
            row["Price"] = list_price(
                company, document["PriceList"], row["ArticleNumber"], quantity
            )
        if row.get("AccountNumber") is None:
            row["AccountNumber"] = article.get("SalesAccount")
    if row.get("VAT") is None:
        row["VAT"] = Decimal(0) if document.get("_vat_type") in ZERO_VAT_TYPES else Decimal(25)
    check_vat(row["VAT"])
    if row.get("AccountNumber") is None and (row.get("Price") is not None or article is not None):
        row["AccountNumber"] = SALES_ACCOUNTS[row["VAT"]]
    return row


def apply_rows(company: Company, kind: DocumentKind, document: dict[str, Any], sent: Any) -> None:
    """Rows by RowId (kept, updated, new; omitted ones deleted) or, without RowIds, by position."""
    if not isinstance(sent, list):
        raise FortnoxError("INVALID_VALUE", field=kind.rows_key)
    existing = document[kind.rows_key]
    by_id = {row["RowId"]: row for row in existing}
    use_ids = any(isinstance(row, dict) and row.get("RowId") is not None for row in sent)
    rows = []
    for index, payload in enumerate(sent):
        base_row: dict[str, Any] | None
        if use_ids:
            row_id = payload.get("RowId") if isinstance(payload, dict) else None
            if row_id is None:
                base_row = None
            else:
                base_row = by_id.get(row_id) if isinstance(row_id, int) else None
                if base_row is None:
                    raise FortnoxError("ROW_NOT_FOUND", row_id=row_id)
        else:
            base_row = existing[index] if index < len(existing) else None
        rows.append(_build_row(company, kind, document, payload, base_row))
    for row in rows:
        row["RowId"] = company.next_row_id()
    document[kind.rows_key] = rows


def recompute(kind: DocumentKind, document: dict[str, Any]) -> None:
    vat_included = bool(document.get("VATIncluded"))
    inputs = []
    for row in document[kind.rows_key]:
        row_input = money.RowInput(
            quantity=row.get("DeliveredQuantity"),
            price=row.get("Price"),
            vat=row["VAT"],
            discount=row.get("Discount") or Decimal(0),
            discount_type=row.get("DiscountType") or "PERCENT",
        )
        amounts = money.row_amounts(row_input, vat_included=vat_included)
        row["Total"] = amounts.total
        if kind is INVOICE:
            row["TotalExcludingVAT"] = amounts.total_excluding_vat
            row["PriceExcludingVAT"] = amounts.price_excluding_vat
        inputs.append(row_input)
    totals = money.document_totals(
        inputs,
        currency=document["Currency"],
        vat_included=vat_included,
        freight=document.get("Freight") or Decimal(0),
        administration_fee=document.get("AdministrationFee") or Decimal(0),
    )
    document.update(
        {
            "Net": totals.net,
            "Gross": totals.gross,
            "TotalVAT": totals.total_vat,
            "FreightVAT": totals.freight_vat,
            "AdministrationFeeVAT": totals.administration_fee_vat,
            "RoundOff": totals.round_off,
            "Total": totals.total,
            "TotalToPay": totals.total_to_pay,
        }
    )
    if kind is INVOICE:
        document["Balance"] = totals.total - document["_paid"]


def render_document(kind: DocumentKind, document: dict[str, Any], base: str) -> dict[str, Any]:
    number = document["DocumentNumber"]
    out: dict[str, Any] = {
        "@url": f"{base}/3/{kind.path}/{number}",
        "@urlTaxReductionList": f"{base}/3/taxreductions?filter={kind.path}&referencenumber={number}",
    }
    for name in sorted(set(kind.fields) | kind.read_only - {"@url", "@urlTaxReductionList"}):
        if name == kind.rows_key:
            continue
        out[name] = document.get(name)
    out["CustomerNumber"] = document["CustomerNumber"]
    out[kind.rows_key] = [_render_row(kind, row) for row in document[kind.rows_key]]
    rendered = to_json(out)
    rendered["CurrencyRate"] = float(document["CurrencyRate"])
    return rendered


def _render_row(kind: DocumentKind, row: dict[str, Any]) -> dict[str, Any]:
    out = {name: row.get(name) for name in sorted(set(kind.row_fields) | kind.row_read_only)}
    out["RowId"] = row["RowId"]
    out["DeliveredQuantity"] = quantity_text(row.get("DeliveredQuantity"))
    if kind is ORDER:
        out["OrderedQuantity"] = quantity_text(row.get("OrderedQuantity"))
        out["ReservedQuantity"] = "0.00"
    else:
        out["VAT"] = int(row["VAT"])
    return to_json(out)


def render_invoice_item(invoice: dict[str, Any], base: str) -> dict[str, Any]:
    names = (
        "Balance",
        "Booked",
        "Cancelled",
        "CostCenter",
        "Credit",
        "CreditInvoiceReference",
        "Currency",
        "CurrencyUnit",
        "CustomerName",
        "CustomerNumber",
        "DocumentNumber",
        "DueDate",
        "ExternalInvoiceReference1",
        "ExternalInvoiceReference2",
        "FinalPayDate",
        "InvoiceDate",
        "InvoiceType",
        "LastRemindDate",
        "NotCompleted",
        "NoxFinans",
        "OCR",
        "OrderReference",
        "Project",
        "Reminders",
        "Sent",
        "TermsOfPayment",
        "Total",
        "TotalToPay",
        "VoucherNumber",
        "VoucherSeries",
        "VoucherYear",
        "WayOfDelivery",
    )
    out = to_json(
        {"@url": f"{base}/3/invoices/{invoice['DocumentNumber']}", **{n: invoice.get(n) for n in names}}
    )
    out["CurrencyRate"] = plain(invoice["CurrencyRate"])  # a string in lists (recorded), a number on one
    return out


def render_order_item(order: dict[str, Any], base: str) -> dict[str, Any]:
    names = (
        "Cancelled",
        "Currency",
        "CustomerName",
        "CustomerNumber",
        "DeliveryDate",
        "DocumentNumber",
        "ExternalInvoiceReference1",
        "ExternalInvoiceReference2",
        "OrderDate",
        "OrderType",
        "Project",
        "Sent",
        "Total",
    )
    return to_json(
        {"@url": f"{base}/3/orders/{order['DocumentNumber']}", **{n: order.get(n) for n in names}}
    )


def check_editable(kind: DocumentKind, document: dict[str, Any]) -> None:
    if document["Cancelled"]:
        raise FortnoxError("DOCUMENT_CANCELLED")
    if kind is INVOICE and document["Booked"]:
        raise FortnoxError("DOCUMENT_BOOKED")
    if kind is ORDER and document["InvoiceReference"]:
        raise FortnoxError("ORDER_INVOICED")


def document_pdf(company: Company, kind: DocumentKind, document: dict[str, Any]) -> bytes:
    """The document as the customer would get it on paper: a real PDF."""
    currency = document["Currency"]
    title = f"{'Faktura' if kind is INVOICE else 'Orderbekräftelse'} {document['DocumentNumber']}"
    lines = [
        f"{company.info['CompanyName']}, org.nr {company.info['OrganizationNumber']}",
        f"{company.info['Address']}, {company.info['ZipCode']} {company.info['City']}",
        "",
        f"Kund {document['CustomerNumber']}: {document.get('CustomerName') or ''}",
        " ".join(str(document.get(name) or "") for name in ("Address1", "ZipCode", "City")).strip(),
        f"Er referens: {document.get('YourReference') or '-'}   "
        f"Vår referens: {document.get('OurReference') or '-'}",
    ]
    if kind is INVOICE:
        lines.append(
            f"Fakturadatum: {document['InvoiceDate']}   Förfallodatum: {document['DueDate']}   "
            f"Betalningsvillkor: {document['TermsOfPayment']}"
        )
    else:
        lines.append(f"Orderdatum: {document['OrderDate']}")
    if document.get("ExternalInvoiceReference1"):
        lines.append(f"Referens: {document['ExternalInvoiceReference1']}")
    lines += ["", "Art.nr | Benämning | Antal | À-pris | Rabatt | Moms | Belopp"]
    for row in document[kind.rows_key]:
        discount = row.get("Discount") or Decimal(0)
        discount_text = (
            f"{discount:.2f} {'%' if row.get('DiscountType') == 'PERCENT' else currency}"
            if discount
            else ""
        )
        lines.append(
            " | ".join(
                (
                    row.get("ArticleNumber") or "",
                    row.get("Description") or "",
                    quantity_text(row.get("DeliveredQuantity")) or "",
                    f"{row['Price']:.2f}" if row.get("Price") is not None else "",
                    discount_text,
                    f"{plain(row['VAT'])} %",
                    f"{row['Total']:.2f}",
                )
            )
        )
    lines += ["", f"Netto: {document['Net']:.2f} {currency}"]
    if document.get("Freight"):
        lines.append(f"Frakt: {document['Freight']:.2f} {currency}")
    if document.get("AdministrationFee"):
        lines.append(f"Fakturaavgift: {document['AdministrationFee']:.2f} {currency}")
    lines.append(f"Moms: {document['TotalVAT']:.2f} {currency}")
    if document["RoundOff"]:
        lines.append(f"Öresavrundning: {document['RoundOff']:.2f} {currency}")
    lines.append(f"Att betala: {document['Total']:.2f} {currency}")
    if kind is INVOICE:
        lines.append(f"OCR: {document['OCR']}")
    if document.get("Remarks"):
        lines += ["", document["Remarks"]]
    return render_pdf(lines, title=title, author=company.info["CompanyName"])
