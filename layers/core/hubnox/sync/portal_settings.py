"""A portal's sync settings: one pydantic model with every option and sensible defaults.

The settings page and `GET`/`PUT /settings/api/settings` read and write `PortalSettings` as JSON;
the store keeps the payload versioned (optimistic concurrency). `parse_settings` turns an
invalid payload into a `BadRequestError` whose message names each wrong field, so the API
answers 400 with it. `migrate` reads stored payloads of any earlier `SETTINGS_SCHEMA_VERSION`.

Decisions kept here:
- The default company rule pairs the HubSpot company property `organisation_number` with
  Fortnox's `OrganisationNumber`. HubSpot has no built-in organisation-number property, so
  portals that invoice Swedish companies create one; hubnox names the default after Fortnox's
  own field so the pairing reads naturally, and an admin with another property points the rule
  at it. The organisation number is the one identifier both sides treat as unique, where names
  are not (name matching is what makes duplicate customers).
- The default contact rule (for deals without a company) pairs `email` with Fortnox's `Email`.
- A company or contact without the match rule's value (the `organisation_number` hubnox creates
  at install is empty in every portal at first) gets a new customer, linked through the
  customer-number property so its later deals find it (`when_value_missing` `create`); an admin
  may have hubnox first look for exactly one customer of the same normalised name
  (`match_name`), or refuse (`fail`). Version 1 had `fail` as its default, so its stored `fail`
  becomes `create` (`_v1_to_v2`): failing most first deals is what the default must not do.
- Primary contact sync (`primary_contact_sync`) is on by default, and portals whose settings were
  saved before it existed (version 1) are migrated with it on: hubnox has always billed a deal
  without a company to its contact and named the contact as the company's reference, so turning
  it on keeps every deal that works today working. Admins who bill companies only turn it off.
- Fortnox numbers new customers and hubnox writes the number back to the record's
  `fortnox_customer_number` property, which later runs use as the link.
- Missing articles are created (SKU as article number), a deal without line items fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from hubnox.errors import BadRequestError
from hubnox.hubspot import properties as app_properties
from hubnox.ids import ARTICLE_NUMBER_PATTERN

SETTINGS_SCHEMA_VERSION = 2

DocumentType = Literal["invoice", "order"]

#: VAT rates a Swedish Fortnox company accepts on rows and articles
FORTNOX_VAT_RATES: tuple[int, ...] = (25, 12, 6, 0)

#: HubSpot internal property names: lower-case letters, digits and underscores
_PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ACCOUNT = re.compile(r"[1-9][0-9]{3}")

#: Fortnox customer fields a HubSpot property may fill (Fortnox's names)
CUSTOMER_FIELDS: tuple[str, ...] = (
    "Name", "OrganisationNumber", "VATNumber", "Address1", "Address2", "ZipCode", "City", "CountryCode",
    "DeliveryName", "DeliveryAddress1", "DeliveryAddress2", "DeliveryZipCode", "DeliveryCity",
    "DeliveryCountryCode", "Phone1", "Phone2", "Email", "EmailInvoice", "EmailInvoiceCC", "EmailInvoiceBCC",
    "EmailOrder", "WWW", "GLN", "YourReference", "OurReference", "ExternalReference", "InvoiceRemark",
    "Comments",
)

#: Fortnox customer fields a match rule may compare, with the customer search parameter for each
MATCH_FIELDS: dict[str, str] = {
    "OrganisationNumber": "organisationnumber",
    "Email": "email",
    "Phone1": "phone",
    "Name": "name",
    "GLN": "gln",
}

#: what the settings promise a company customer gets: name, organisation number, phone and address
#: (and the website); the organisation number is the property the default match rule reads
DEFAULT_COMPANY_FIELDS: dict[str, str] = {
    "Name": "name",
    "OrganisationNumber": app_properties.ORGANISATION_NUMBER,
    "Address1": "address",
    "Address2": "address2",
    "ZipCode": "zip",
    "City": "city",
    "CountryCode": "country",
    "Phone1": "phone",
    "WWW": "domain",
}

#: what the settings promise a private customer gets: full name, e-mail, phone and address.
#: "Name" is absent on purpose: HubSpot has no full-name property, so a contact's name is its first
#: name + last name (`Contact.full_name`) unless an admin maps Name to a property.
DEFAULT_CONTACT_FIELDS: dict[str, str] = {
    "Email": "email",
    "Phone1": "phone",
    "Address1": "address",
    "ZipCode": "zip",
    "City": "city",
    "CountryCode": "country",
}


def _check_property(value: str) -> str:
    if not _PROPERTY_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a HubSpot property name (lower-case letters, digits and "
                         "underscores, starting with a letter)")
    return value


#: a HubSpot property's internal name, checked
PropertyName = Annotated[str, AfterValidator(_check_property)]


class _Settings(BaseModel):
    """Strict reading: unknown keys are refused so a typo in the settings API is reported."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerStage(_Settings):
    """The poller makes a document of `document_type` for deals entering this pipeline stage."""

    pipeline_id: str = Field(min_length=1, max_length=100)
    stage_id: str = Field(min_length=1, max_length=100)
    document_type: DocumentType = "invoice"


#: what hubnox does for a record without the match rule's value: create a new customer (linked to
#: the record through the customer-number property), first look for exactly one customer of the
#: same normalised name, or fail the run
WhenValueMissing = Literal["create", "match_name", "fail"]


class CompanyMatchRule(_Settings):
    """Which HubSpot company property identifies the Fortnox customer, and in which Fortnox field.

    `when_value_missing` decides for a company without that value (see `WhenValueMissing`); a
    company linked by an earlier run (its customer-number property set) is found by the link first.
    """

    hubspot_property: PropertyName = "organisation_number"
    fortnox_field: Literal["OrganisationNumber", "Email", "Phone1", "Name", "GLN"] = "OrganisationNumber"
    when_value_missing: WhenValueMissing = "create"


class ContactMatchRule(_Settings):
    """Primary contact sync's rule: the contact property that finds a contact's Fortnox customer
    (for deals without a company), paired with the Fortnox field it is compared with, and what to
    do for a contact without that value."""

    hubspot_property: PropertyName = "email"
    fortnox_field: Literal["Email", "Phone1", "OrganisationNumber", "Name"] = "Email"
    when_value_missing: WhenValueMissing = "create"


class CustomerNumberRule(_Settings):
    """Where new customers' numbers come from.

    `fortnox`: Fortnox numbers them; `write_back_property` (on the company or contact) then gets
    the number, and a record carrying one is linked to that customer on later runs.
    `hubspot_property`: the number is read from `hubspot_property` on the company or contact and
    must use Fortnox's characters (letters, digits and - + / _).
    """

    source: Literal["fortnox", "hubspot_property"] = "fortnox"
    write_back_property: PropertyName | None = app_properties.CUSTOMER_NUMBER
    hubspot_property: PropertyName | None = None

    @model_validator(mode="after")
    def _property_for_source(self) -> CustomerNumberRule:
        if self.source == "hubspot_property" and not self.hubspot_property:
            raise ValueError("hubspot_property must name the HubSpot property holding the customer "
                             "number when source is hubspot_property")
        return self


class CustomerDefaults(_Settings):
    """Values every customer hubnox creates gets; None leaves Fortnox's predefined value.

    Each is a code from the connected Fortnox company's own lists (terms of payment, currencies,
    price lists, print templates, ways and terms of delivery, accounts, cost centers, projects),
    except `vat_type`, Fortnox's fixed list. Fortnox customers have no customer group: cost
    center, project and sales account are where such a grouping lives in Fortnox.
    `customer_type` `auto` makes companies COMPANY and contacts PRIVATE customers.
    """

    terms_of_payment: str | None = Field(default=None, min_length=1, max_length=25)
    vat_type: Literal["SEVAT", "SEREVERSEDVAT", "EUREVERSEDVAT", "EUVAT", "EXPORT"] | None = None
    currency: str | None = None
    price_list: str | None = Field(default=None, min_length=1, max_length=100)
    customer_type: Literal["auto", "COMPANY", "PRIVATE"] = "auto"
    invoice_print_template: str | None = Field(default=None, min_length=1, max_length=25)
    order_print_template: str | None = Field(default=None, min_length=1, max_length=25)
    offer_print_template: str | None = Field(default=None, min_length=1, max_length=25)
    default_delivery_type: Literal["PRINT", "EMAIL", "PRINTSERVICE"] | None = None
    way_of_delivery: str | None = Field(default=None, min_length=1, max_length=50)
    terms_of_delivery: str | None = Field(default=None, min_length=1, max_length=20)
    #: a four-digit account; Fortnox's sales accounts are 3000-3999
    sales_account: str | None = None
    cost_center: str | None = Field(default=None, min_length=1, max_length=6)
    project: str | None = Field(default=None, min_length=1, max_length=20)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is not None and not _CURRENCY.fullmatch(value):
            raise ValueError(f"{value!r} is not a currency code such as SEK or EUR")
        return value

    @field_validator("sales_account")
    @classmethod
    def _sales_account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.fullmatch(value):
            raise ValueError(f"{value!r} is not a Fortnox account number (four digits, such as 3001)")
        return value


def _check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    for fortnox_field in mapping:
        if fortnox_field not in CUSTOMER_FIELDS:
            raise ValueError(f"{fortnox_field!r} is not a Fortnox customer field hubnox can fill "
                             f"(one of {', '.join(CUSTOMER_FIELDS)})")
    return mapping


#: Fortnox customer field -> HubSpot property
FieldMapping = Annotated[dict[str, PropertyName], AfterValidator(_check_mapping)]


class CustomerFieldMappings(_Settings):
    """Fortnox customer field -> HubSpot property, for customers made from companies and contacts.

    A contact's `Name` is its first and last name unless `contact` maps `Name` to a property.
    """

    company: FieldMapping = Field(default_factory=lambda: dict(DEFAULT_COMPANY_FIELDS))
    contact: FieldMapping = Field(default_factory=lambda: dict(DEFAULT_CONTACT_FIELDS))


class ArticlePolicy(StrEnum):
    """What to do with a line item whose article Fortnox does not have."""

    SKIP = "skip"  # make no document; the note lists every missing article
    PLACEHOLDER = "placeholder"  # bill it on the placeholder article, keeping its own name and price
    CREATE = "create"  # create the article (SKU as number), its price in the price list


class ArticleDefaults(_Settings):
    """What articles hubnox creates get, unless the line item says otherwise (its VAT)."""

    type: Literal["SERVICE", "STOCK"] = "SERVICE"
    unit: str | None = Field(default="st", max_length=20)
    vat: StrictInt = 25
    sales_account: StrictInt | None = Field(default=None, ge=1000, le=9999)
    price_list: str = Field(default="A", min_length=1, max_length=100)

    @field_validator("vat")
    @classmethod
    def _vat(cls, value: int) -> int:
        return _check_vat(value)


def _check_vat(value: int) -> int:
    if value not in FORTNOX_VAT_RATES:
        raise ValueError(f"{value} is not a Fortnox VAT rate (25, 12, 6 or 0)")
    return value


class ArticleSettings(_Settings):
    """How line items find their Fortnox articles."""

    policy: ArticlePolicy = ArticlePolicy.CREATE
    placeholder_article_number: str = "HUBSPOT"
    defaults: ArticleDefaults = Field(default_factory=ArticleDefaults)

    @field_validator("placeholder_article_number")
    @classmethod
    def _number(cls, value: str) -> str:
        if not ARTICLE_NUMBER_PATTERN.fullmatch(value) or not value.strip("."):
            raise ValueError(f"{value!r} is not a Fortnox article number (at most 50 letters, digits "
                             "and - + / _ .)")
        return value


class DealMappings(_Settings):
    """HubSpot deal properties that fill the document's reference fields.

    Unmapped, `your_reference` is the deal's first contact's name and `our_reference` the deal
    owner's name (when known); `your_order_number` and `remarks` stay empty.
    """

    your_reference: PropertyName | None = None
    our_reference: PropertyName | None = None
    your_order_number: PropertyName | None = None
    remarks: PropertyName | None = None


class PortalSettings(_Settings):
    """Everything a portal's admin decides about turning deals into Fortnox documents."""

    schema_version: StrictInt = SETTINGS_SCHEMA_VERSION
    default_document_type: DocumentType = "invoice"
    trigger_stages: list[TriggerStage] = Field(default_factory=list, max_length=50)
    company_match: CompanyMatchRule = Field(default_factory=CompanyMatchRule)
    #: on: a deal without a company bills its primary contact (a private customer), and a deal with
    #: one names the contact as its reference and fills the customer's empty e-mail and phone from it;
    #: off: contacts never become customers and a deal without a company fails
    primary_contact_sync: StrictBool = True
    #: None: deals without a company always get a new customer (or the one linked by number)
    contact_match: ContactMatchRule | None = Field(default_factory=ContactMatchRule)
    customer_number: CustomerNumberRule = Field(default_factory=CustomerNumberRule)
    customer_defaults: CustomerDefaults = Field(default_factory=CustomerDefaults)
    customer_fields: CustomerFieldMappings = Field(default_factory=CustomerFieldMappings)
    # Strict: "yes" or "1" is a mistake to report by its field, not a boolean to guess.
    update_matched_customers: StrictBool = True
    articles: ArticleSettings = Field(default_factory=ArticleSettings)
    no_line_items: Literal["fail", "placeholder_row"] = "fail"
    deal_fields: DealMappings = Field(default_factory=DealMappings)
    write_back_deal_properties: StrictBool = True
    #: on: when the status sync sees a document's Fortnox state change (paid, overdue...), it adds a
    #: short note to the deal's timeline; off: the deal's properties change silently
    status_timeline_notes: StrictBool = False

    @field_validator("schema_version")
    @classmethod
    def _current(cls, value: int) -> int:
        if value != SETTINGS_SCHEMA_VERSION:
            raise ValueError(f"must be {SETTINGS_SCHEMA_VERSION}; stored settings of other versions are "
                             "read through migrate()")
        return value

    @field_validator("trigger_stages")
    @classmethod
    def _distinct_stages(cls, stages: list[TriggerStage]) -> list[TriggerStage]:
        seen: set[tuple[str, str]] = set()
        for stage in stages:
            key = (stage.pipeline_id, stage.stage_id)
            if key in seen:
                raise ValueError(f"stage {stage.stage_id!r} of pipeline {stage.pipeline_id!r} is listed twice")
            seen.add(key)
        return stages

    def hubspot_properties(self) -> dict[str, list[str]]:
        """The HubSpot properties these settings read, beyond hubnox's own, by object type
        (`deal`, `line_item`, `company`, `contact`)."""
        deal = [name for name in (self.deal_fields.your_reference, self.deal_fields.our_reference,
                                  self.deal_fields.your_order_number, self.deal_fields.remarks) if name]
        company = [self.company_match.hubspot_property, *self.customer_fields.company.values()]
        contact = [*self.customer_fields.contact.values()]
        if self.contact_match is not None and self.primary_contact_sync:
            contact.append(self.contact_match.hubspot_property)
        for names in (company, contact):
            names += [name for name in (self.customer_number.write_back_property,
                                        self.customer_number.hubspot_property) if name]
        return {"deal": _unique(deal), "line_item": [], "company": _unique(company),
                "contact": _unique(contact)}


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def parse_settings(payload: Mapping[str, Any]) -> PortalSettings:
    """Current-version settings from a request body; `BadRequestError` naming every wrong field."""
    try:
        return PortalSettings.model_validate(payload)
    except ValidationError as error:
        raise BadRequestError(describe_errors(error), code="INVALID_SETTINGS",
                              hint="Correct the named settings and save again.") from None


def describe_errors(error: ValidationError) -> str:
    """One sentence per problem, each starting with the dotted field name (`articles.policy: ...`)."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{field}: {message}")
    return "Invalid settings. " + "; ".join(problems) + "."


def _v1_customer_defaults(payload: dict[str, Any]) -> dict[str, Any]:
    """Version 1 to 2: new customers' defaults gained the offer print template, way and terms of
    delivery, sales account, cost center and project, all left to Fortnox (None) for saved settings."""
    defaults = dict(payload.get("customer_defaults") or {})
    for name in ("offer_print_template", "way_of_delivery", "terms_of_delivery", "sales_account",
                 "cost_center", "project"):
        defaults.setdefault(name, None)
    return {**payload, "customer_defaults": defaults}


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1's default `fail` for a company without the match value becomes `create` (the new
    default); contacts gain `when_value_missing` with its default. Version 1 billed contacts and
    used them as references without a switch: primary contact sync stays on."""
    company = data.get("company_match")
    if isinstance(company, dict) and company.get("when_value_missing") == "fail":
        data = {**data, "company_match": {**company, "when_value_missing": "create"}}
    return _v1_customer_defaults({**data, "primary_contact_sync": True})


#: schema version -> the function that turns a payload of that version into the next one
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def _from_storage(value: Any) -> Any:
    """A stored payload with DynamoDB's numbers (Decimal) back to the JSON types the model takes."""
    if isinstance(value, dict):
        return {key: _from_storage(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_storage(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def migrate(payload: Mapping[str, Any] | None) -> PortalSettings:
    """The settings a stored payload stands for, migrated to `SETTINGS_SCHEMA_VERSION`.

    None (nothing saved yet) gives the defaults; a payload without `schema_version` is version 1.
    A payload from a newer hubnox than this one raises `BadRequestError` rather than losing fields.
    """
    if payload is None:
        return PortalSettings()
    data = _from_storage(dict(payload))
    version = int(data.get("schema_version", 1))
    if version > SETTINGS_SCHEMA_VERSION:
        raise BadRequestError(f"The saved settings are of version {version}, newer than this hubnox "
                              f"understands ({SETTINGS_SCHEMA_VERSION}).", code="SETTINGS_TOO_NEW",
                              hint="Deploy the hubnox version that saved them.")
    while version < SETTINGS_SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    data["schema_version"] = version
    return parse_settings(data)
