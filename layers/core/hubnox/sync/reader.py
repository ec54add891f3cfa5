"""Reading a deal from HubSpot with the fewest calls: everything a document is made from.

A deal is read in three to eight requests, whatever its size (up to 100 line items):

1. the deal with the ids of its line items, companies and contacts (one GET with `associations`),
   and, only when it has more than one contact and a contact is needed, its contact associations
   with their labels (one GET) to find the primary contact;
2. its line items (one batch read per 100);
3. the products of line items that carry no SKU of their own (one batch read, only when needed and
   not cached for the portal: `hubnox.sync.portal_lookups`);
4. the portal's tax-rate library, only when a line item names a tax rate (`hs_tax_rate_group_id`);
5. the deal's owner, only when it has one and the settings map no deal property to our reference
   (one call more when the owner is archived, see below);
6. the primary company, or the deal's contacts when it has no company (one batch read);
7. with a company, the deal's primary contact when the settings use it (one batch read, unless
   cached for the portal): it is the reference person (`YourReference`) and gives a company
   customer its empty e-mail and phone.

Decisions kept here:
- the customer's company is the deal's *primary* company (association type 5, which the deal read
  names `deal_to_company`); a deal whose companies are all unlabelled uses the first one listed;
- the deal's *primary contact* is the first contact whose association to the deal carries a label
  named "Primary" (or starting "Primary ", such as "Primary contact"; any case), else the first
  contact the deal lists. HubSpot defines no primary type between deals and contacts (only the
  unlabelled type 3), so a primary contact is a label the portal defines (`USER_DEFINED`); labels
  are read only for deals with several contacts (`PRIMARY_CONTACT_LABEL`);
- contacts are read only with primary contact sync on: a deal without a company has all its
  contacts read (one batch, the primary one first: it is the customer); a deal with one reads only
  its primary contact, and only when the settings use it (`needs_reference_contact`). Only that
  reference contact may come from the portal's cache: the contacts of a deal without a company
  are its customer, matched and created in Fortnox, and are always read fresh;
- the owner's name (first and last name, else the e-mail) is our reference (`OurReference`); an
  owner not found among the active ones is looked for among the archived ones (a deactivated
  user still owns deals), and one not found at all leaves our reference empty with a warning;
- the tax-rate library and the owners API need optional scopes (`tax_rates.read`,
  `crm.objects.owners.read`; `hubnox.services.install.HUBSPOT_OPTIONAL_SCOPES`). A portal that did not
  grant one gets a warning instead of a failure: its lines take their articles' VAT
  (`DealSnapshot.line_vat`), or its documents have no our reference;
- the portal's currency is read (account details, one call) only for a deal without a currency;
- line items keep the order of `hs_position_on_quote` where HubSpot set it, else their creation
  order (their ids); line items deleted between the two reads are left out with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self, TypeVar

from hubnox.errors import NotFoundError
from hubnox.hubspot import paths
from hubnox.hubspot.errors import MissingScopesError
from hubnox.hubspot.models import (
    Company,
    Contact,
    CrmObject,
    Deal,
    LineItem,
    Owner,
    Product,
    association_key,
)
from hubnox.sync.customers import CONTACT_FIELDS_FOR_COMPANIES
from hubnox.sync.model import DealSnapshot, SyncWarning
from hubnox.sync.portal_lookups import CachedLookups
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.ports import HubSpotReads

#: the association type name HubSpot gives the deal's primary company (type id 5) in a deal read
PRIMARY_COMPANY_TYPE = "deal_to_company"
#: association labels that make a deal's contact its primary contact: "Primary", "Primary contact"...
PRIMARY_CONTACT_LABEL = re.compile(r"primary(\s.*)?", re.IGNORECASE | re.DOTALL)
#: the line-item property HubSpot orders a deal's or quote's line items by
POSITION_PROPERTY = "hs_position_on_quote"

R = TypeVar("R", bound=CrmObject)


class DealRecord(Deal):
    """A deal as read with its associations, remembering which company is the primary one."""

    primary_company_id: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Self:
        deal = super().from_api(data)
        primary = None
        for name, block in (data.get("associations") or {}).items():
            if association_key(name) != "companies":
                continue
            primary = primary or next((str(item["id"]) for item in (block or {}).get("results", [])
                                       if item.get("type") == PRIMARY_COMPANY_TYPE and "id" in item), None)
        return deal.model_copy(update={"primary_company_id": primary})

    @property
    def customer_company_id(self) -> str | None:
        """The company the document is for: the primary one, else the first associated."""
        return self.primary_company_id or next(iter(self.company_ids), None)


@dataclass(frozen=True)
class DealReading:
    """Everything read for one deal: the deal, its line items in order, the products of line items
    without a SKU, the customer's company or else the deal's contacts, the percentages of the tax
    rates its line items name (by tax-rate id), its owner's name, and what was missing."""

    deal: DealRecord
    line_items: list[LineItem]
    products: dict[str, Product] = field(default_factory=dict)
    company: Company | None = None
    contacts: list[Contact] = field(default_factory=list)
    warnings: list[SyncWarning] = field(default_factory=list)
    tax_rates: dict[str, Decimal] = field(default_factory=dict)
    owner_name: str | None = None


@dataclass(frozen=True)
class PropertiesToRead:
    """The HubSpot properties the portal's settings map, beyond what hubnox always reads, whether a
    deal with a company also needs its primary contact, whether a deal without one may be billed to
    its contacts (primary contact sync), and whether the deal owner's name is needed
    (for our reference, unless a deal property is mapped to it)."""

    deal: Sequence[str] = ()
    line_item: Sequence[str] = ()
    company: Sequence[str] = ()
    contact: Sequence[str] = ()
    reference_contact: bool = True
    owner: bool = True
    contact_customers: bool = True


def _with(base: Sequence[str], extra: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*base, *(name for name in extra if name)]))


def read_deal(hubspot: HubSpotReads, deal_id: str, wanted: PropertiesToRead = PropertiesToRead()) -> DealReading:
    """The deal, its line items (and products where a SKU is missing, and the tax rates they name),
    its owner's name and its customer's company or contacts, in at most eight requests for up to
    100 line items.

    Raises `NotFoundError` when the deal does not exist.
    """
    deal = hubspot.get_object(paths.DEALS, deal_id, _with(Deal.PROPERTIES, wanted.deal),
                              ("line_items", "companies", "contacts"), model=DealRecord)
    warnings: list[SyncWarning] = []
    line_items = _line_items(hubspot, deal, wanted, warnings)
    products = _products(hubspot, line_items)
    tax_rates = _tax_rates(hubspot, line_items, warnings)
    owner_name = _owner_name(hubspot, deal, warnings) if wanted.owner else None
    company: Company | None = None
    contacts: list[Contact] = []
    company_id = deal.customer_company_id
    if company_id is not None:
        found = hubspot.batch_read(paths.COMPANIES, [company_id], _with(Company.PROPERTIES, wanted.company),
                                   model=Company).found
        company = found[0] if found else None  # type: ignore[assignment]
        if company is None:
            warnings.append(SyncWarning(code="COMPANY_MISSING", message=f"The deal's company {company_id} could "
                                        "not be read from HubSpot (deleted?)."))
    contact_ids = _contacts_to_read(hubspot, deal, company_id is not None, wanted)
    if contact_ids:
        properties = _with(Contact.PROPERTIES, wanted.contact)
        found_contacts = (_read_cacheable(hubspot, paths.CONTACTS, contact_ids, properties, Contact)
                          if company_id is not None  # the reference person only
                          else hubspot.batch_read(paths.CONTACTS, contact_ids, properties, model=Contact).found)
        by_id = {record.id: record for record in found_contacts}
        contacts = [by_id[i] for i in contact_ids if i in by_id]  # type: ignore[misc]
    return DealReading(deal=deal, line_items=line_items, products=products, company=company,
                       contacts=contacts, warnings=warnings, tax_rates=tax_rates, owner_name=owner_name)


def _contacts_to_read(hubspot: HubSpotReads, deal: Deal, has_company: bool, wanted: PropertiesToRead) -> list[str]:
    """Without a company the contacts are the customer's candidates, the primary one first; with one,
    only the primary contact matters, as the reference person."""
    needed = wanted.reference_contact if has_company else wanted.contact_customers
    if not needed or not deal.contact_ids:
        return []
    primary = primary_contact_id(hubspot, deal)
    if has_company:
        return [primary]
    return [primary, *(contact_id for contact_id in deal.contact_ids if contact_id != primary)]


def primary_contact_id(hubspot: HubSpotReads, deal: Deal) -> str:
    """The deal's primary contact: the first whose association carries a primary label, else the
    first the deal lists. Only a deal with several contacts costs a call (its labelled associations)."""
    if len(deal.contact_ids) < 2:
        return deal.contact_ids[0]
    labelled = {record.id for record in hubspot.associations(paths.DEALS, deal.id, paths.CONTACTS)
                if any(PRIMARY_CONTACT_LABEL.fullmatch(label.strip()) for label in record.labels)}
    return next((contact_id for contact_id in deal.contact_ids if contact_id in labelled), deal.contact_ids[0])


def _line_items(hubspot: HubSpotReads, deal: Deal, wanted: PropertiesToRead, warnings: list[SyncWarning]
                ) -> list[LineItem]:
    if not deal.line_item_ids:
        return []
    result = hubspot.batch_read(paths.LINE_ITEMS, deal.line_item_ids,
                                _with((*LineItem.PROPERTIES, POSITION_PROPERTY), wanted.line_item),
                                model=LineItem)
    if result.missing:
        warnings.append(SyncWarning(code="LINE_ITEMS_MISSING",
                                    message=f"{len(result.missing)} line item(s) of the deal could not be read "
                                    f"from HubSpot (deleted?) and are not on the document: "
                                    f"{', '.join(result.missing)}."))
    return sorted(result.found, key=_position)  # type: ignore[arg-type]


def _position(item: CrmObject) -> tuple[int, float, int, str]:
    position = item.prop(POSITION_PROPERTY)
    try:
        place = float(position) if position is not None else 0.0
    except ValueError:
        place = 0.0
    numeric = int(item.id) if item.id.isdigit() else 0
    return (0 if position is not None else 1, place, numeric, item.id)


def _products(hubspot: HubSpotReads, line_items: Sequence[LineItem]) -> dict[str, Product]:
    wanted = [item.product_id for item in line_items if not item.sku and item.product_id]
    if not wanted:
        return {}
    return {record.id: record for record in _read_cacheable(hubspot, paths.PRODUCTS, wanted, Product.PROPERTIES,
                                                            Product)}


def _read_cacheable(hubspot: HubSpotReads, object_type: str, ids: Sequence[str], properties: Sequence[str],
                    model: type[R]) -> list[R]:
    """Records the worker's client may serve from the portal's cache (`CachedLookups`); any other
    client reads them in one batch."""
    if isinstance(hubspot, CachedLookups):
        return hubspot.batch_read_cached(object_type, ids, properties, model=model)
    return hubspot.batch_read(object_type, ids, properties, model=model).found  # type: ignore[return-value]


def _tax_rates(hubspot: HubSpotReads, line_items: Sequence[LineItem], warnings: list[SyncWarning],
               ) -> dict[str, Decimal]:
    """The percentage of every rate in the portal's library, read only when a line item names one."""
    named = {item.tax_rate_group_id for item in line_items if item.tax_rate_group_id}
    if not named:
        return {}
    try:
        library = hubspot.tax_rates()
        if isinstance(hubspot, CachedLookups) and not named <= {rate.id for rate in library}:
            library = hubspot.tax_rates(fresh=True)  # a rate added since the library was cached
    except MissingScopesError:
        warnings.append(SyncWarning(
            code="TAX_RATES_NOT_GRANTED",
            message="hubnox may not read the portal's tax rates (HubSpot's optional tax_rates.read permission "
            "was not granted), so the rows take their Fortnox articles' VAT instead of the line items' tax "
            "rates. Reinstall hubnox and grant that permission to use them."))
        return {}
    return {rate.id: rate.percentage_rate for rate in library}


def _owner_name(hubspot: HubSpotReads, deal: Deal, warnings: list[SyncWarning]) -> str | None:
    """The deal owner's name for our reference, looked for among archived owners when not active."""
    if deal.owner_id is None:
        return None
    try:
        owner = _owner(hubspot, deal.owner_id)
    except MissingScopesError:
        warnings.append(SyncWarning(
            code="OWNER_NOT_GRANTED",
            message="hubnox may not read the deal owner (HubSpot's optional crm.objects.owners.read permission "
            "was not granted), so the document has no our reference. Reinstall hubnox and grant that "
            "permission, or map our reference to a deal property in the hubnox settings."))
        return None
    if owner is None:
        warnings.append(SyncWarning(
            code="OWNER_MISSING",
            message=f"The deal's owner {deal.owner_id} was not found in HubSpot, so the document has no our "
            "reference."))
        return None
    return owner.full_name or owner.email


def _owner(hubspot: HubSpotReads, owner_id: str) -> Owner | None:
    for archived in (False, True):
        try:
            return hubspot.owner(owner_id, archived=archived)
        except NotFoundError:
            continue
    return None


def needs_reference_contact(settings: PortalSettings) -> bool:
    """Whether a deal with a company also needs its primary contact (only with primary contact sync
    on): for `YourReference` when no deal property is mapped to it, or for the e-mail and phone of
    a company customer whose mapping has none."""
    if not settings.primary_contact_sync:
        return False
    if settings.deal_fields.your_reference is None:
        return True
    # The company's own e-mail or phone may be empty, so a mapped contact field may always fill in.
    return any(field in CONTACT_FIELDS_FOR_COMPANIES for field in settings.customer_fields.contact)


def properties_to_read(settings: PortalSettings) -> PropertiesToRead:
    """What the portal's settings need read from a deal and its records."""
    mapped = settings.hubspot_properties()
    return PropertiesToRead(deal=mapped.get("deal", ()), line_item=mapped.get("line_item", ()),
                            company=mapped.get("company", ()), contact=mapped.get("contact", ()),
                            reference_contact=needs_reference_contact(settings),
                            owner=settings.deal_fields.our_reference is None,
                            contact_customers=settings.primary_contact_sync)


def snapshot_of(hubspot: HubSpotReads, reading: DealReading) -> DealSnapshot:
    """The deal as the sync logic takes it; the portal's currency is asked for only when the deal
    names none."""
    currency = reading.deal.currency
    if currency is None:
        currency = hubspot.account_details().company_currency
    return DealSnapshot(deal=reading.deal, line_items=reading.line_items, products=reading.products,
                        company=reading.company, contacts=reading.contacts, owner_name=reading.owner_name,
                        tax_rates=reading.tax_rates, portal_currency=(currency or "SEK").upper())
