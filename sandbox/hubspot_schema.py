"""What a fresh HubSpot portal knows before anyone writes to it: object types, their standard
properties and groups, the default deal pipeline, the HubSpot-defined association types and the
scopes each object needs.

Everything here is static description; the data a portal holds lives in `hubspot_store`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type as the simulator serves it."""

    name: str  # the plural path name: "deals"
    type_id: str  # the objectTypeId: "0-3"
    singular: str  # "deal", also accepted in paths and association filters
    association_key: str  # the key of this type in an object's `associations` field
    read_scopes: tuple[str, ...]  # any one of them grants reading
    write_scopes: tuple[str, ...]
    schema_read_scopes: tuple[str, ...]
    schema_write_scopes: tuple[str, ...]
    default_properties: tuple[str, ...]  # returned when no `properties` are asked for
    always_properties: tuple[str, ...]  # returned with whatever was asked for
    created_property: str
    modified_properties: tuple[str, ...]
    query_properties: tuple[str, ...]  # what the search `query` text matches
    default_group: str
    spec_file: str  # which official spec file documents this type's paths
    spec_segment: str  # the type as written in that spec's paths

    @property
    def spec_base(self) -> str:
        return f"/crm/objects/2026-03/{self.spec_segment}"


OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType(
            "deals",
            "0-3",
            "deal",
            "deals",
            ("crm.objects.deals.read",),
            ("crm.objects.deals.write",),
            ("crm.schemas.deals.read", "crm.objects.deals.read"),
            ("crm.schemas.deals.write",),
            (
                "dealname",
                "amount",
                "closedate",
                "pipeline",
                "dealstage",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ),
            ("createdate", "hs_lastmodifieddate", "hs_object_id"),
            "createdate",
            ("hs_lastmodifieddate",),
            ("dealname",),
            "dealinformation",
            "deals.json",
            "0-3",
        ),
        ObjectType(
            "line_items",
            "0-8",
            "line_item",
            "line items",
            ("crm.objects.line_items.read", "e-commerce"),
            ("crm.objects.line_items.write", "e-commerce"),
            ("crm.schemas.line_items.read", "crm.objects.line_items.read", "e-commerce"),
            ("e-commerce",),
            ("name", "quantity", "price", "amount", "createdate", "hs_lastmodifieddate", "hs_object_id"),
            ("createdate", "hs_lastmodifieddate", "hs_object_id"),
            "createdate",
            ("hs_lastmodifieddate",),
            ("name", "hs_sku", "description"),
            "lineiteminformation",
            "lineItems.json",
            "line_items",
        ),
        ObjectType(
            "companies",
            "0-2",
            "company",
            "companies",
            ("crm.objects.companies.read",),
            ("crm.objects.companies.write",),
            ("crm.schemas.companies.read", "crm.objects.companies.read"),
            ("crm.schemas.companies.write",),
            ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
            ("createdate", "hs_lastmodifieddate", "hs_object_id"),
            "createdate",
            ("hs_lastmodifieddate",),
            ("name", "domain", "website", "phone"),
            "companyinformation",
            "companies.json",
            "companies",
        ),
        ObjectType(
            "contacts",
            "0-1",
            "contact",
            "contacts",
            ("crm.objects.contacts.read",),
            ("crm.objects.contacts.write",),
            ("crm.schemas.contacts.read", "crm.objects.contacts.read"),
            ("crm.schemas.contacts.write",),
            ("firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id"),
            ("createdate", "lastmodifieddate", "hs_object_id"),
            "createdate",
            ("lastmodifieddate", "hs_lastmodifieddate"),
            ("firstname", "lastname", "email", "phone", "company"),
            "contactinformation",
            "contacts.json",
            "contacts",
        ),
        ObjectType(
            "products",
            "0-7",
            "product",
            "products",
            ("crm.objects.products.read", "e-commerce"),
            ("crm.objects.products.write", "e-commerce"),
            ("crm.objects.products.write", "e-commerce"),
            ("e-commerce",),
            ("name", "description", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"),
            ("createdate", "hs_lastmodifieddate", "hs_object_id"),
            "createdate",
            ("hs_lastmodifieddate",),
            ("name", "description", "price", "hs_sku"),
            "productinformation",
            "products.json",
            "products",
        ),
        ObjectType(
            "notes",
            "0-46",
            "note",
            "notes",
            ("crm.objects.contacts.read",),
            ("crm.objects.contacts.write",),
            ("crm.schemas.notes.read", "crm.objects.notes.read", "crm.objects.contacts.read"),
            ("crm.schemas.contacts.write",),
            ("hs_timestamp", "hs_note_body", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
            "hs_createdate",
            ("hs_lastmodifieddate",),
            ("hs_note_body",),
            "notes",
            "notes.json",
            "notes",
        ),
    )
}

_ALIASES: dict[str, str] = {}
for _t in OBJECT_TYPES.values():
    for _alias in (_t.name, _t.type_id, _t.singular):
        _ALIASES[_alias.lower()] = _t.name
_ALIASES["line_item"] = "line_items"
_ALIASES["lineitem"] = "line_items"
_ALIASES["lineitems"] = "line_items"


def object_type(alias: str) -> ObjectType | None:
    """The object type a path segment or association name means (`0-3`, `deals`, `deal`)."""
    name = _ALIASES.get(alias.lower())
    return OBJECT_TYPES[name] if name else None


# -- properties ----------------------------------------------------------------------------------

# type -> the fieldTypes HubSpot accepts with it (reference hubspot.md §4.7)
FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "bool": ("booleancheckbox", "calculation_equation"),
    "enumeration": ("booleancheckbox", "checkbox", "radio", "select", "calculation_equation"),
    "date": ("date",),
    "datetime": ("date",),
    "string": ("text", "textarea", "file", "html", "phonenumber", "calculation_equation"),
    "number": ("number", "calculation_equation"),
    "phone_number": ("phonenumber",),
}
MAX_STRING_LENGTH = 65_536
MAX_UNIQUE_PROPERTIES = 10
CURRENCY_CODES = ("SEK", "EUR", "USD", "NOK", "DKK", "GBP", "CHF", "PLN")


@dataclass
class PropertyDef:
    """A property definition, standard or created through the API."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group: str = ""
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    read_only: bool = False  # HubSpot maintains the value; writes are rejected
    calculated: bool = False
    hubspot_defined: bool = True
    has_unique_value: bool = False
    hidden: bool = False
    form_field: bool = False
    display_order: int = -1
    external_options: bool = False
    referenced_object_type: str | None = None
    number_display_hint: str | None = None
    created_at: str = "1970-01-01T00:00:00Z"
    updated_at: str = "1970-01-01T00:00:00Z"

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group,
            "options": [dict(o) for o in self.options],
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "hubspotDefined": self.hubspot_defined,
            "formField": self.form_field,
            "archived": False,
            "dataSensitivity": "non_sensitive",
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
        }
        if self.referenced_object_type:
            body["referencedObjectType"] = self.referenced_object_type
        if self.number_display_hint:
            body["numberDisplayHint"] = self.number_display_hint
        return body


def _options(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False} for i, (value, label) in enumerate(pairs)
    ]


def _p(name: str, label: str, type_: str = "string", field_type: str = "text", **extra: Any) -> PropertyDef:
    if "options" in extra:  # each portal gets its own copy of shared option lists
        extra["options"] = [dict(option) for option in extra["options"]]
    return PropertyDef(name=name, label=label, type=type_, field_type=field_type, **extra)


def _system(created: str, modified: tuple[str, ...]) -> list[PropertyDef]:
    props = [
        _p("hs_object_id", "Record ID", "number", "number", read_only=True),
        _p(created, "Create Date", "datetime", "date"),
    ]
    props += [_p(m, "Last Modified Date", "datetime", "date", read_only=True) for m in modified]
    return props


_OWNER = {"external_options": True, "referenced_object_type": "OWNER"}
_CURRENCY = _options(*((code, code) for code in CURRENCY_CODES))


def standard_properties(type_name: str) -> list[PropertyDef]:
    """The standard properties a fresh portal has for one object type (a fresh list each call)."""
    t = OBJECT_TYPES[type_name]
    money = {"number_display_hint": "currency"}
    props: dict[str, list[PropertyDef]] = {
        "deals": [
            _p("dealname", "Deal Name"),
            _p("amount", "Amount", "number", "number", **money),
            _p("dealstage", "Deal Stage", "enumeration", "radio"),
            _p("pipeline", "Pipeline", "enumeration", "select"),
            _p("closedate", "Close Date", "datetime", "date"),
            _p("deal_currency_code", "Currency", "enumeration", "select", options=_CURRENCY),
            _p("hubspot_owner_id", "Deal owner", "enumeration", "select", **_OWNER),
            _p("description", "Deal Description", "string", "textarea"),
            _p(
                "dealtype",
                "Deal Type",
                "enumeration",
                "radio",
                options=_options(("newbusiness", "New Business"), ("existingbusiness", "Existing Business")),
            ),
            _p("closed_lost_reason", "Closed Lost Reason", "string", "textarea"),
            _p("closed_won_reason", "Closed Won Reason", "string", "textarea"),
        ],
        "line_items": [
            _p("name", "Name"),
            _p("description", "Description", "string", "textarea"),
            _p("hs_sku", "SKU"),
            _p("quantity", "Quantity", "number", "number"),
            _p("price", "Unit price", "number", "number", **money),
            _p("amount", "Net price", "number", "number", read_only=True, calculated=True, **money),
            _p(
                "hs_pre_discount_amount",
                "Pre-discount amount",
                "number",
                "number",
                read_only=True,
                calculated=True,
                **money,
            ),
            _p(
                "hs_total_discount",
                "Total discount",
                "number",
                "number",
                read_only=True,
                calculated=True,
                **money,
            ),
            _p("discount", "Unit discount", "number", "number", **money),
            _p(
                "hs_discount_percentage",
                "Discount Percentage",
                "number",
                "number",
                number_display_hint="percentage",
            ),
            _p("hs_product_id", "Product ID", "number", "number"),
            _p("hs_tax_rate_group_id", "Tax rate", "string", "text"),
            _p("hs_line_item_currency_code", "Currency", "enumeration", "select", options=_CURRENCY),
            _p(
                "recurringbillingfrequency",
                "Billing frequency",
                "enumeration",
                "select",
                options=_options(
                    ("weekly", "Weekly"),
                    ("biweekly", "Biweekly"),
                    ("monthly", "Monthly"),
                    ("quarterly", "Quarterly"),
                    ("per_six_months", "Every six months"),
                    ("annually", "Annually"),
                    ("per_two_years", "Every two years"),
                    ("per_three_years", "Every three years"),
                ),
            ),
            _p("hs_recurring_billing_start_date", "Billing start date", "date", "date"),
            _p("hs_recurring_billing_period", "Term"),
            _p("hs_position_on_quote", "Position on quote", "number", "number"),
            _p("hs_cost_of_goods_sold", "Unit cost", "number", "number", **money),
        ],
        "companies": [
            _p("name", "Company name"),
            _p("domain", "Company Domain Name"),
            _p("website", "Website URL"),
            _p("phone", "Phone Number", "string", "phonenumber"),
            _p("address", "Street Address"),
            _p("address2", "Street Address 2"),
            _p("city", "City"),
            _p("zip", "Postal Code"),
            _p("state", "State/Region"),
            _p("country", "Country/Region"),
            _p("description", "Description", "string", "textarea"),
            _p("industry", "Industry"),
            _p("numberofemployees", "Number of Employees", "number", "number"),
            _p("hubspot_owner_id", "Company owner", "enumeration", "select", **_OWNER),
        ],
        "contacts": [
            _p("firstname", "First Name"),
            _p("lastname", "Last Name"),
            _p("email", "Email"),
            _p("phone", "Phone Number", "string", "phonenumber"),
            _p("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
            _p("company", "Company Name"),
            _p("jobtitle", "Job Title"),
            _p("address", "Street Address"),
            _p("city", "City"),
            _p("zip", "Postal Code"),
            _p("state", "State/Region"),
            _p("country", "Country/Region"),
            _p("website", "Website URL"),
            _p("hubspot_owner_id", "Contact owner", "enumeration", "select", **_OWNER),
        ],
        "products": [
            _p("name", "Name"),
            _p("price", "Unit price", "number", "number", **money),
            _p("hs_sku", "SKU"),
            _p("description", "Description", "string", "textarea"),
            _p("hs_cost_of_goods_sold", "Unit cost", "number", "number", **money),
            _p(
                "hs_product_type",
                "Product type",
                "enumeration",
                "select",
                options=_options(
                    ("inventory", "Inventory"), ("non_inventory", "Non-inventory"), ("service", "Service")
                ),
            ),
            _p(
                "recurringbillingfrequency",
                "Billing frequency",
                "enumeration",
                "select",
                options=_options(("monthly", "Monthly"), ("quarterly", "Quarterly"), ("annually", "Annually")),
            ),
            _p("hs_recurring_billing_period", "Term"),
        ],
        "notes": [
            _p("hs_timestamp", "Activity date", "datetime", "date"),
            _p("hs_note_body", "Note body", "string", "html"),
            _p("hs_attachment_ids", "Attached file IDs", "enumeration", "checkbox", external_options=True),
            _p("hubspot_owner_id", "Activity assigned to", "enumeration", "select", **_OWNER),
        ],
    }
    result = props[type_name] + _system(t.created_property, t.modified_properties)
    for i, prop in enumerate(result):
        prop.group = prop.group or t.default_group
        prop.display_order = i
    return result


def standard_groups(type_name: str) -> list[dict[str, Any]]:
    """The property groups of a fresh portal for one object type."""
    labels = {
        "deals": [("dealinformation", "Deal information"), ("deal_activity", "Deal activity")],
        "line_items": [("lineiteminformation", "Line item information")],
        "companies": [("companyinformation", "Company information")],
        "contacts": [("contactinformation", "Contact information")],
        "products": [("productinformation", "Product information")],
        "notes": [("notes", "Note information")],
    }[type_name]
    return [
        {"name": name, "label": label, "displayOrder": i, "archived": False} for i, (name, label) in enumerate(labels)
    ]


# -- the default deal pipeline -------------------------------------------------------------------

DEFAULT_DEAL_STAGES: tuple[tuple[str, str, str, bool], ...] = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
)
EPOCH_ISO = "1970-01-01T00:00:00Z"  # HubSpot's default pipelines and their stages have createdAt 0


def pipeline_json(
    pipeline_id: str,
    label: str,
    stages: list[tuple[str, str, str, bool]],
    display_order: int = 0,
    created_at: str = EPOCH_ISO,
) -> dict[str, Any]:
    """A deal pipeline in the API's shape, its stages ordered as given."""
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": display_order,
        "archived": False,
        "createdAt": created_at,
        "updatedAt": created_at,
        "stages": [
            {
                "id": stage_id,
                "label": stage_label,
                "displayOrder": i,
                "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                "archived": False,
                "createdAt": created_at,
                "updatedAt": created_at,
            }
            for i, (stage_id, stage_label, probability, closed) in enumerate(stages)
        ],
    }


def default_pipeline() -> dict[str, Any]:
    return pipeline_json("default", "Sales Pipeline", list(DEFAULT_DEAL_STAGES))


# -- associations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssociationType:
    """A directional association type: HubSpot-defined, or a label a portal defined (USER_DEFINED)."""

    type_id: int
    inverse_id: int
    name: str  # as in an object's `associations` field: "deal_to_line_item"
    label: str | None = None  # "Primary" for the primary company types
    implies: int | None = None  # a primary or labelled type also holds the unlabelled one
    category: str = "HUBSPOT_DEFINED"


# (from type, to type) -> its types, the default (unlabelled) one first (reference hubspot.md §4.6)
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[AssociationType, ...]] = {
    ("deals", "line_items"): (AssociationType(19, 20, "deal_to_line_item"),),
    ("line_items", "deals"): (AssociationType(20, 19, "line_item_to_deal"),),
    ("deals", "companies"): (
        AssociationType(341, 342, "deal_to_company_unlabeled"),
        AssociationType(5, 6, "deal_to_company", "Primary", implies=341),
    ),
    ("companies", "deals"): (
        AssociationType(342, 341, "company_to_deal_unlabeled"),
        AssociationType(6, 5, "company_to_deal", "Primary", implies=342),
    ),
    ("deals", "contacts"): (AssociationType(3, 4, "deal_to_contact"),),
    ("contacts", "deals"): (AssociationType(4, 3, "contact_to_deal"),),
    ("deals", "notes"): (AssociationType(213, 214, "deal_to_note"),),
    ("notes", "deals"): (AssociationType(214, 213, "note_to_deal"),),
    ("companies", "notes"): (AssociationType(189, 190, "company_to_note"),),
    ("notes", "companies"): (AssociationType(190, 189, "note_to_company"),),
    ("contacts", "notes"): (AssociationType(201, 202, "contact_to_note"),),
    ("notes", "contacts"): (AssociationType(202, 201, "note_to_contact"),),
    ("contacts", "companies"): (
        AssociationType(279, 280, "contact_to_company_unlabeled"),
        AssociationType(1, 2, "contact_to_company", "Primary", implies=279),
    ),
    ("companies", "contacts"): (
        AssociationType(280, 279, "company_to_contact_unlabeled"),
        AssociationType(2, 1, "company_to_contact", "Primary", implies=280),
    ),
}


def association_type(from_type: str, to_type: str, type_id: int) -> AssociationType | None:
    """The HubSpot-defined type with this id between the two object types, if there is one."""
    for candidate in ASSOCIATION_TYPES.get((from_type, to_type), ()):
        if candidate.type_id == type_id:
            return candidate
    return None


def default_association_type(from_type: str, to_type: str) -> AssociationType | None:
    types = ASSOCIATION_TYPES.get((from_type, to_type))
    return types[0] if types else None


# -- scopes of the other APIs ----------------------------------------------------------------------

FILES_WRITE_SCOPES = ("files", "files.write", "files.ui_hidden.write")
FILES_READ_SCOPES = ("files", "files.read", "files.ui_hidden.read")
AUTOMATION_SCOPES = ("automation",)
ACCOUNT_SCOPES = ("oauth",)


def association_target(from_type: str, type_id: int) -> str | None:
    """The object type a HubSpot-defined association type id leads to from `from_type`."""
    for (source, target), kinds in ASSOCIATION_TYPES.items():
        if source == from_type and any(k.type_id == type_id for k in kinds):
            return target
    return None
