"""The HubSpot properties hubnox creates in a portal at install, in one property group.

Deals carry the Fortnox document, the state of the last sync and, from version 2, what became of
the document in Fortnox (status, total, balance, due and final pay dates, credit invoice);
companies and contacts carry the Fortnox customer number they are matched to and, from version 2,
the customer's outstanding and overdue amounts so lists, reports and workflow triggers can use
them. An admin may add more from the settings page's field mappings (`mapping_property`), in the
same group.

`APP_PROPERTIES_VERSION` names this set; `hubnox.hubspot.app_properties` brings an install made
with an older set up to it.
"""

from __future__ import annotations

from typing import Any

GROUP_NAME = "hubnox"
GROUP_LABEL = "Fortnox (hubnox)"

DOCUMENT_NUMBER = "fortnox_document_number"
DOCUMENT_TYPE = "fortnox_document_type"
DOCUMENT_STATUS = "fortnox_document_status"
SYNC_STATUS = "fortnox_sync_status"
LAST_ERROR = "fortnox_last_error"
CUSTOMER_NUMBER = "fortnox_customer_number"

#: the version of the property set below; raise it whenever a property is added or an option list grows
APP_PROPERTIES_VERSION = 2

# -- version 2: what became of the document in Fortnox (deals) and the customer's balances ----------
DOCUMENT_TOTAL = "fortnox_document_total"
DOCUMENT_BALANCE = "fortnox_document_balance"
DOCUMENT_CURRENCY = "fortnox_document_currency"
CREDIT_INVOICE_NUMBER = "fortnox_credit_invoice_number"
DOCUMENT_DUE_DATE = "fortnox_document_due_date"
DOCUMENT_FINAL_PAY_DATE = "fortnox_document_final_pay_date"
STATUS_SYNCED_AT = "fortnox_status_synced_at"

OUTSTANDING_BALANCE = "fortnox_outstanding_balance"
OVERDUE_AMOUNT = "fortnox_overdue_amount"
UNPAID_INVOICES = "fortnox_unpaid_invoices"
OVERDUE_INVOICES = "fortnox_overdue_invoices"
LAST_PAYMENT_DATE = "fortnox_last_payment_date"

#: the states of a Fortnox document as the deal shows them (`fortnox_document_status`), in the order
#: a document usually moves through them; `invoiced` is an order that became an invoice
DOCUMENT_STATES: tuple[tuple[str, str], ...] = (
    ("draft", "Draft"),
    ("booked", "Booked"),
    ("sent", "Sent"),
    ("partly_paid", "Partly paid"),
    ("overdue", "Overdue"),
    ("paid", "Paid"),
    ("credited", "Credited"),
    ("cancelled", "Cancelled"),
    ("invoiced", "Invoiced (order)"),
)


def _text(name: str, label: str, description: str, field_type: str = "text") -> dict[str, Any]:
    return {"name": name, "label": label, "description": description, "groupName": GROUP_NAME,
            "type": "string", "fieldType": field_type}


def _number(name: str, label: str, description: str, *, currency: bool = False) -> dict[str, Any]:
    definition = {"name": name, "label": label, "description": description, "groupName": GROUP_NAME,
                  "type": "number", "fieldType": "number"}
    if currency:
        definition["numberDisplayHint"] = "formatted"
    return definition


def _date(name: str, label: str, description: str, *, with_time: bool = False) -> dict[str, Any]:
    return {"name": name, "label": label, "description": description, "groupName": GROUP_NAME,
            "type": "datetime" if with_time else "date", "fieldType": "date"}


def _select(name: str, label: str, description: str, options: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "name": name, "label": label, "description": description, "groupName": GROUP_NAME,
        "type": "enumeration", "fieldType": "select",
        "options": [{"value": value, "label": text, "displayOrder": i, "hidden": False}
                    for i, (value, text) in enumerate(options)],
    }


DEAL_PROPERTIES: tuple[dict[str, Any], ...] = (
    _text(DOCUMENT_NUMBER, "Fortnox document number", "The number of the Fortnox invoice or order made from "
          "this deal."),
    _select(DOCUMENT_TYPE, "Fortnox document type", "Whether the deal became a Fortnox invoice or order.",
            [("invoice", "Invoice"), ("order", "Order")]),
    _select(DOCUMENT_STATUS, "Fortnox document status", "The document's state in Fortnox when hubnox last "
            "saw it: draft, booked, sent, partly paid, overdue, paid, credited, cancelled, or invoiced "
            "for an order that became an invoice.", list(DOCUMENT_STATES)),
    _select(SYNC_STATUS, "Fortnox sync status", "The outcome of the last hubnox run for this deal.",
            [("queued", "Queued"), ("running", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed")]),
    _text(LAST_ERROR, "Fortnox last error", "What went wrong in the last failed hubnox run, in plain words.",
          field_type="textarea"),
    _text(CUSTOMER_NUMBER, "Fortnox customer number", "The Fortnox customer the deal was invoiced to."),
)

#: what hubnox's status sync keeps on a deal about its document (version 2), status included
STATUS_DEAL_PROPERTIES: tuple[dict[str, Any], ...] = (
    _number(DOCUMENT_TOTAL, "Fortnox document total", "The document's total including VAT, in its "
            "currency.", currency=True),
    _number(DOCUMENT_BALANCE, "Fortnox document balance", "What is left to pay on the invoice, in its "
            "currency; 0 once it is paid.", currency=True),
    _text(DOCUMENT_CURRENCY, "Fortnox document currency", "The currency of the document's total and "
          "balance (e.g. SEK)."),
    _text(CREDIT_INVOICE_NUMBER, "Fortnox credit invoice number", "The number of the credit invoice that "
          "credits this deal's invoice, when there is one."),
    _date(DOCUMENT_DUE_DATE, "Fortnox due date", "The invoice's due date."),
    _date(DOCUMENT_FINAL_PAY_DATE, "Fortnox final pay date", "The day the invoice was paid in full."),
    _date(STATUS_SYNCED_AT, "Fortnox status synced at", "When hubnox last copied the document's state "
          "from Fortnox; empty until it first has.", with_time=True),
)

#: what hubnox's status sync keeps on the companies and contacts that are Fortnox customers (version 2)
CUSTOMER_AGGREGATE_PROPERTIES: tuple[dict[str, Any], ...] = (
    _number(OUTSTANDING_BALANCE, "Fortnox outstanding balance", "What the customer has left to pay on "
            "booked invoices, in SEK.", currency=True),
    _number(OVERDUE_AMOUNT, "Fortnox overdue amount", "The part of the outstanding balance that is past "
            "its due date, in SEK.", currency=True),
    _number(UNPAID_INVOICES, "Fortnox unpaid invoices", "How many of the customer's booked invoices are "
            "not paid in full."),
    _number(OVERDUE_INVOICES, "Fortnox overdue invoices", "How many of the customer's unpaid invoices are "
            "past their due date."),
    _date(LAST_PAYMENT_DATE, "Fortnox last payment date", "The day of the customer's latest payment hubnox "
          "saw."),
)

CUSTOMER_PROPERTY = _text(CUSTOMER_NUMBER, "Fortnox customer number",
                          "The Fortnox customer this record is matched to.")

#: HubSpot has no organisation-number property; the default company match rule reads this one.
ORGANISATION_NUMBER = "organisation_number"
ORGANISATION_NUMBER_PROPERTY = _text(ORGANISATION_NUMBER, "Organisation number",
                                     "The company's Swedish organisation number (e.g. 556036-0793); hubnox "
                                     "matches Fortnox customers by it.")

#: object type -> the properties hubnox needs there
APP_PROPERTIES: dict[str, tuple[dict[str, Any], ...]] = {
    "deals": DEAL_PROPERTIES + STATUS_DEAL_PROPERTIES,
    "companies": (CUSTOMER_PROPERTY, ORGANISATION_NUMBER_PROPERTY, *CUSTOMER_AGGREGATE_PROPERTIES),
    "contacts": (CUSTOMER_PROPERTY, *CUSTOMER_AGGREGATE_PROPERTIES),
}

#: the names of the deal's status properties and the customers' aggregates, for reads
STATUS_DEAL_PROPERTY_NAMES: tuple[str, ...] = (DOCUMENT_STATUS, *(p["name"] for p in STATUS_DEAL_PROPERTIES))
CUSTOMER_AGGREGATE_PROPERTY_NAMES: tuple[str, ...] = tuple(p["name"] for p in CUSTOMER_AGGREGATE_PROPERTIES)

#: Fortnox customer field -> the HubSpot fieldType of a property made to fill it. Every Fortnox
#: customer field is text (zip codes, GLN and organisation numbers keep their leading zeros and
#: dashes), so every such property is a string; only how HubSpot shows it differs.
MAPPING_FIELD_TYPES: dict[str, str] = {
    "Phone1": "phonenumber",
    "Phone2": "phonenumber",
    "InvoiceRemark": "textarea",
    "Comments": "textarea",
}


def mapping_property(name: str, label: str, fortnox_field: str) -> dict[str, Any]:
    """The definition of a property an admin creates to fill `fortnox_field`, in hubnox's group."""
    return _text(name, label, f"Copied by hubnox to the Fortnox customer's {fortnox_field}.",
                 field_type=MAPPING_FIELD_TYPES.get(fortnox_field, "text"))
