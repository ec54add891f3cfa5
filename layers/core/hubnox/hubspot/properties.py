"""The HubSpot properties hubnox creates in a portal at install, in one property group.

Deals carry the Fortnox document and the state of the last sync; companies and contacts carry
the Fortnox customer number they are matched to. An admin may add more from the settings page's
field mappings (`mapping_property`), in the same group.
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


def _text(name: str, label: str, description: str, field_type: str = "text") -> dict[str, Any]:
    return {"name": name, "label": label, "description": description, "groupName": GROUP_NAME,
            "type": "string", "fieldType": field_type}


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
    _select(DOCUMENT_STATUS, "Fortnox document status", "The document's status when hubnox last saw it.",
            [("draft", "Draft"), ("booked", "Booked"), ("sent", "Sent"), ("paid", "Paid"),
             ("cancelled", "Cancelled")]),
    _select(SYNC_STATUS, "Fortnox sync status", "The outcome of the last hubnox run for this deal.",
            [("queued", "Queued"), ("running", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed")]),
    _text(LAST_ERROR, "Fortnox last error", "What went wrong in the last failed hubnox run, in plain words.",
          field_type="textarea"),
    _text(CUSTOMER_NUMBER, "Fortnox customer number", "The Fortnox customer the deal was invoiced to."),
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
    "deals": DEAL_PROPERTIES,
    "companies": (CUSTOMER_PROPERTY, ORGANISATION_NUMBER_PROPERTY),
    "contacts": (CUSTOMER_PROPERTY,),
}

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
