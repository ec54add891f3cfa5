"""HubSpot records as hubnox reads them: CRM objects with typed accessors, and API answers.

HubSpot sends every property value as a string or null (`"1500.00"`, `"3"`, even `""`). The
accessors here turn money and quantities into `Decimal` through `parse_decimal` and never into
float; a null or empty value is absent (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hubnox.errors import BadRequestError


def parse_decimal(value: str | int | Decimal | None, *, name: str = "value") -> Decimal | None:
    """A HubSpot number property as `Decimal`; None for null, "" or blanks.

    Raises `BadRequestError` naming the property when the text is not a finite number, so a
    mistyped value on a deal is explained instead of crashing a run.
    """
    if value is None:
        return None
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        number = Decimal(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise BadRequestError(f"The HubSpot property {name} holds {text!r}, which is not a number.",
                                  hint=f"Correct {name} in HubSpot.") from None
    if not number.is_finite():
        raise BadRequestError(f"The HubSpot property {name} holds {value!r}, which is not a number.",
                              hint=f"Correct {name} in HubSpot.")
    return number


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


class CrmObject(BaseModel):
    """One CRM record: its id, its properties (strings or None) and associated record ids."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    properties: dict[str, str | None] = Field(default_factory=dict)
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    archived: bool = False
    #: associated ids by plural object name ("line_items", "companies", ...)
    associations: dict[str, list[str]] = Field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        """Read a `SimplePublicObject(WithAssociations)` answer."""
        associations: dict[str, list[str]] = {}
        for name, block in (data.get("associations") or {}).items():
            ids = [str(item["id"]) for item in (block or {}).get("results", []) if "id" in item]
            key = association_key(name)
            # HubSpot lists a record once per association type; keep each id once, in order.
            associations[key] = list(dict.fromkeys([*associations.get(key, []), *ids]))
        raw = data.get("properties") or {}
        properties = {str(k): (None if v is None else str(v)) for k, v in raw.items()}
        return cls.model_validate({
            "id": str(data["id"]),
            "properties": properties,
            "createdAt": data.get("createdAt"),
            "updatedAt": data.get("updatedAt"),
            "archived": bool(data.get("archived", False)),
            "associations": associations,
        })

    def prop(self, name: str) -> str | None:
        """A property's text, None when absent, null or blank."""
        return _text(self.properties.get(name))

    def number(self, name: str) -> Decimal | None:
        """A property as `Decimal`, None when absent, null or blank."""
        return parse_decimal(self.properties.get(name), name=name)

    def associated(self, name: str) -> list[str]:
        """Ids of associated records of one type ("line_items", "companies", "contacts")."""
        return self.associations.get(association_key(name), [])


def association_key(name: str) -> str:
    """HubSpot names association blocks "line items" or "line_items"; hubnox uses the latter."""
    key = name.strip().lower().replace(" ", "_")
    return {"0-3": "deals", "0-1": "contacts", "0-2": "companies", "0-7": "products",
            "0-8": "line_items"}.get(key, key)


class Deal(CrmObject):
    """A deal. `dealstage` and `pipeline` hold internal ids, not labels."""

    #: what hubnox reads from a deal
    PROPERTIES: ClassVar[tuple[str, ...]] = (
        "dealname", "amount", "dealstage", "pipeline", "closedate", "deal_currency_code",
        "hs_lastmodifieddate", "hubspot_owner_id",
    )

    @property
    def name(self) -> str | None:
        return self.prop("dealname")

    @property
    def amount(self) -> Decimal | None:
        """The deal's amount. Not an invoice total: invoice from the line items instead."""
        return self.number("amount")

    @property
    def stage(self) -> str | None:
        return self.prop("dealstage")

    @property
    def pipeline(self) -> str | None:
        return self.prop("pipeline")

    @property
    def currency(self) -> str | None:
        return self.prop("deal_currency_code")

    @property
    def owner_id(self) -> str | None:
        return self.prop("hubspot_owner_id")

    @property
    def line_item_ids(self) -> list[str]:
        return self.associated("line_items")

    @property
    def company_ids(self) -> list[str]:
        return self.associated("companies")

    @property
    def contact_ids(self) -> list[str]:
        return self.associated("contacts")


class LineItem(CrmObject):
    """A deal's line item. `price` is per unit before discount and tax; `amount` is the net."""

    PROPERTIES: ClassVar[tuple[str, ...]] = (
        "name", "description", "quantity", "price", "amount", "hs_sku", "hs_product_id",
        "discount", "hs_discount_percentage", "hs_total_discount", "hs_pre_discount_amount",
        "hs_tax_rate_group_id", "hs_line_item_currency_code", "recurringbillingfrequency",
    )

    @property
    def name(self) -> str | None:
        return self.prop("name")

    @property
    def description(self) -> str | None:
        return self.prop("description")

    @property
    def sku(self) -> str | None:
        return self.prop("hs_sku")

    @property
    def product_id(self) -> str | None:
        return self.prop("hs_product_id")

    @property
    def quantity(self) -> Decimal | None:
        return self.number("quantity")

    @property
    def price(self) -> Decimal | None:
        return self.number("price")

    @property
    def amount(self) -> Decimal | None:
        return self.number("amount")

    @property
    def discount(self) -> Decimal | None:
        """Money off each unit."""
        return self.number("discount")

    @property
    def discount_percentage(self) -> Decimal | None:
        """Percent (10 = 10 %) off the line's pre-discount amount."""
        return self.number("hs_discount_percentage")

    @property
    def tax_rate_group_id(self) -> str | None:
        return self.prop("hs_tax_rate_group_id")

    @property
    def currency(self) -> str | None:
        return self.prop("hs_line_item_currency_code")


class _Addressed(CrmObject):
    """A company or contact: both carry HubSpot's address and phone properties."""

    @property
    def address(self) -> str | None:
        return self.prop("address")

    @property
    def zip(self) -> str | None:
        return self.prop("zip")

    @property
    def city(self) -> str | None:
        return self.prop("city")

    @property
    def country(self) -> str | None:
        return self.prop("country")

    @property
    def phone(self) -> str | None:
        return self.prop("phone")


class Company(_Addressed):
    """A company, the usual source of the Fortnox customer."""

    PROPERTIES: ClassVar[tuple[str, ...]] = (
        "name", "domain", "address", "address2", "zip", "city", "country", "phone",
    )

    @property
    def name(self) -> str | None:
        return self.prop("name")

    @property
    def domain(self) -> str | None:
        return self.prop("domain")

    @property
    def address2(self) -> str | None:
        return self.prop("address2")


class Contact(_Addressed):
    """A contact: the reference person or a private customer."""

    PROPERTIES: ClassVar[tuple[str, ...]] = (
        "email", "firstname", "lastname", "phone", "address", "zip", "city", "country",
    )

    @property
    def email(self) -> str | None:
        return self.prop("email")

    @property
    def first_name(self) -> str | None:
        return self.prop("firstname")

    @property
    def last_name(self) -> str | None:
        return self.prop("lastname")

    @property
    def full_name(self) -> str | None:
        parts = [part for part in (self.first_name, self.last_name) if part]
        return " ".join(parts) or None


class Product(CrmObject):
    """A product from the product library; its SKU usually names the Fortnox article."""

    PROPERTIES: ClassVar[tuple[str, ...]] = ("name", "description", "price", "hs_sku")

    @property
    def name(self) -> str | None:
        return self.prop("name")

    @property
    def description(self) -> str | None:
        return self.prop("description")

    @property
    def sku(self) -> str | None:
        return self.prop("hs_sku")

    @property
    def price(self) -> Decimal | None:
        return self.number("price")


class BatchError(BaseModel):
    """One failed input of a batch call (HubSpot's 207 `errors[]`)."""

    model_config = ConfigDict(frozen=True)

    status: str | None = None
    category: str | None = None
    message: str = ""
    ids: list[str] = Field(default_factory=list)


class BatchReadResult(BaseModel):
    """What a batch read found, which requested ids it did not find, and the errors behind that."""

    model_config = ConfigDict(frozen=True)

    found: list[CrmObject]
    missing: list[str]
    errors: list[BatchError] = Field(default_factory=list)


@dataclass(frozen=True)
class BatchUpdateResult:
    """What a batch update did: the ids it updated, the ids HubSpot does not know (deleted records), and
    the error messages of the inputs it refused. An id in neither list was not updated: try it again."""

    updated: list[str]
    missing: list[str]
    errors: list[str]


class SearchPage(BaseModel):
    """One page of a CRM search; `next_after` is None on the last page."""

    model_config = ConfigDict(frozen=True)

    total: int
    results: list[CrmObject]
    next_after: str | None = None


@dataclass(frozen=True)
class AssociationInput:
    """An association to write with a new record: the other record and the type id."""

    to_id: str
    type_id: int
    category: str = "HUBSPOT_DEFINED"

    def as_api(self) -> dict[str, Any]:
        return {"to": {"id": str(self.to_id)},
                "types": [{"associationCategory": self.category, "associationTypeId": self.type_id}]}


class AssociatedRecord(BaseModel):
    """One associated record and the association types that link it."""

    model_config = ConfigDict(frozen=True)

    id: str
    type_ids: list[int] = Field(default_factory=list)
    #: the labels of its labelled types ("Primary"; a portal's own labels too)
    labels: list[str] = Field(default_factory=list)


class PipelineStage(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    label: str
    display_order: int = Field(default=0, alias="displayOrder")
    archived: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)


class Pipeline(BaseModel):
    """A pipeline and its stages (store stage ids, show labels)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    label: str
    display_order: int = Field(default=0, alias="displayOrder")
    archived: bool = False
    stages: list[PipelineStage] = Field(default_factory=list)


class UploadedFile(BaseModel):
    """A file in HubSpot's file manager. A PRIVATE file's `url` is not public."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    id: str
    name: str | None = None
    extension: str | None = None
    access: str | None = None
    url: str | None = None
    size: int | None = None
    parent_folder_id: str | None = Field(default=None, alias="parentFolderId")


class AccountDetails(BaseModel):
    """The portal's id, currency and time zone (`GET /account-info/.../details`)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    portal_id: int = Field(alias="portalId")
    account_type: str | None = Field(default=None, alias="accountType")
    company_currency: str | None = Field(default=None, alias="companyCurrency")
    additional_currencies: list[str] = Field(default_factory=list, alias="additionalCurrencies")
    time_zone: str | None = Field(default=None, alias="timeZone")
    ui_domain: str | None = Field(default=None, alias="uiDomain")
    data_hosting_location: str | None = Field(default=None, alias="dataHostingLocation")


class TaxRate(BaseModel):
    """One rate of the portal's tax-rate library; line items name it by id in `hs_tax_rate_group_id`.

    `percentage_rate` is a plain percent (12 = 12 %), read from HubSpot's JSON number as `Decimal`.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    id: str
    name: str | None = None
    label: str | None = None
    percentage_rate: Decimal = Field(alias="percentageRate")
    active: bool = True

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> str:
        return str(value)

    @field_validator("percentage_rate", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Decimal:
        # A JSON number arrives as float; its shortest text is the value HubSpot wrote (12.5, not 12.4999...).
        number = parse_decimal(str(value), name="percentageRate")
        if number is None:
            raise ValueError("percentageRate is empty")
        return number


class Owner(BaseModel):
    """A HubSpot owner: the person (or queue) a record is assigned to by `hubspot_owner_id`."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    id: str
    email: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    user_id: int | None = Field(default=None, alias="userId")
    archived: bool = False

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> str:
        return str(value)

    @property
    def full_name(self) -> str | None:
        """"First Last", either part alone when the other is blank, None when both are."""
        return " ".join(part for part in (_text(self.first_name), _text(self.last_name)) if part) or None


class HubSpotUser(BaseModel):
    """A user of a HubSpot account (settings users API): who they are and whether they are a super admin."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    id: str
    email: str | None = None
    super_admin: bool = Field(default=False, alias="superAdmin")

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> str:
        return str(value)


class HubSpotTokens(BaseModel):
    """The answer of the token endpoint, with the moment the access token expires."""

    model_config = ConfigDict(frozen=True)

    # Kept out of repr(), str() and validation errors: tokens are never logged.
    access_token: str = Field(repr=False)
    refresh_token: str | None = Field(repr=False)
    expires_in: int
    expires_at: float
    hub_id: int | None = None
    scopes: list[str] = Field(default_factory=list)
    token_type: str = "bearer"


class TokenInfo(BaseModel):
    """What HubSpot says about a token (`introspect`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    active: bool
    hub_id: int | None = None
    hub_domain: str | None = None
    app_id: int | None = None
    user_id: int | None = None
    #: the user's e-mail
    user: str | None = None
    client_id: str | None = None
    scopes: list[str] = Field(default_factory=list)
    token_type: str | None = None
    token_use: str | None = None
    expires_in: int | None = None
