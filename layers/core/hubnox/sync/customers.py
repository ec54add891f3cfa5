"""Which Fortnox customer a deal is billed to: match, create or update it from HubSpot.

The customer stands for the deal's company, or, with primary contact sync on, for its primary
contact when the deal has no company (a private customer); with it off a deal without a company
fails. With it on, a company customer also takes the primary contact's e-mail and phone (through
the contact field mappings) where the company gives none, and a matched one gets them where its
own fields are empty. It is found in this order:

1. with `customer_number.source` `hubspot_property`: the number the record carries (validated
   against Fortnox's characters) names the customer; it is created with that number if missing;
2. otherwise the record's link property (`customer_number.write_back_property`, filled by earlier
   runs) names it, when that customer still exists (one GET by number, the whole customer);
3. otherwise the match rule: the record's property value searched in the paired Fortnox field.
   Fortnox searches substrings; the client keeps exact matches only, and more than one exact
   match is an error naming them, never a guess.

A record without the match rule's value follows the rule's `when_value_missing`: `create` (a new
customer, linked through step 2 from then on, so the company's next deal finds it), `match_name`
(first the one Fortnox customer whose name equals the record's, compared without case and extra
spaces; several are an error) or `fail`. The note says no match value was there.

Nothing found: the customer is created from the defaults and the field mappings, through
`customers_made` when given (`hubnox.sync.customer_guard`): overlapping runs of one record, none of
which can find the others' new customer yet, then create it once, and the later ones bill it as
matched. Found: the
mapped fields that differ are written when `update_matched_customers` is on (empty HubSpot values
never clear a Fortnox field). Texts longer than Fortnox allows are cut with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from hubnox.errors import UserFixableError
from hubnox.fortnox.errors import FortnoxNotFoundError
from hubnox.fortnox.models import DefaultDeliveryTypes, DefaultTemplates, FortnoxCustomer
from hubnox.hubspot.models import Company, Contact
from hubnox.ids import CUSTOMER_NUMBER_PATTERN
from hubnox.sync.model import (
    CustomerDraft,
    CustomerResolution,
    DealSnapshot,
    PropertyWriteBack,
    SyncWarning,
    fortnox_text,
)
from hubnox.sync.portal_settings import MATCH_FIELDS, PortalSettings, WhenValueMissing
from hubnox.sync.ports import CustomerCreations, FortnoxCustomers

#: Fortnox field name -> FortnoxCustomer attribute
_ATTRIBUTES: dict[str, str] = {
    (info.alias or name): name for name, info in FortnoxCustomer.model_fields.items()
}
#: contact fields a company customer takes from the deal's primary contact when the company mapping
#: leaves them empty: HubSpot companies have no e-mail, and Fortnox e-mails invoices
CONTACT_FIELDS_FOR_COMPANIES = ("Email", "EmailInvoice", "EmailOrder", "Phone1", "Phone2")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY_FIELDS = frozenset({"CountryCode", "DeliveryCountryCode"})

#: HubSpot's free-text country values hubnox turns into ISO codes (English and Swedish names)
COUNTRY_CODES: dict[str, str] = {
    "sweden": "SE", "sverige": "SE", "norway": "NO", "norge": "NO", "denmark": "DK", "danmark": "DK",
    "finland": "FI", "suomi": "FI", "iceland": "IS", "island": "IS", "germany": "DE", "tyskland": "DE",
    "deutschland": "DE", "united kingdom": "GB", "uk": "GB", "great britain": "GB", "storbritannien": "GB",
    "england": "GB", "united states": "US", "united states of america": "US", "usa": "US", "usa.": "US",
    "netherlands": "NL", "nederländerna": "NL", "the netherlands": "NL", "france": "FR", "frankrike": "FR",
    "spain": "ES", "spanien": "ES", "italy": "IT", "italien": "IT", "poland": "PL", "polen": "PL",
    "estonia": "EE", "estland": "EE", "latvia": "LV", "lettland": "LV", "lithuania": "LT", "litauen": "LT",
    "ireland": "IE", "irland": "IE", "belgium": "BE", "belgien": "BE", "austria": "AT", "österrike": "AT",
    "switzerland": "CH", "schweiz": "CH", "portugal": "PT", "canada": "CA", "kanada": "CA",
}

RecordKind = Literal["company", "contact"]


def resolve_customer(snapshot: DealSnapshot, settings: PortalSettings, fortnox: FortnoxCustomers, *,
                     customers_made: CustomerCreations | None = None) -> CustomerResolution:
    """The Fortnox customer for the deal: its company's, else (with primary contact sync on) its
    primary contact's. `customers_made` guards the create as in `resolve_record_customer`.

    Raises `UserFixableError` when the deal has neither (or no company and primary contact sync is
    off), when a needed value is missing or invalid, or when several Fortnox customers match.
    """
    contact = snapshot.primary_contact if settings.primary_contact_sync else None
    if snapshot.company is not None:
        return resolve_record_customer(snapshot.company, settings, fortnox, reference_contact=contact,
                                       customers_made=customers_made)
    if not settings.primary_contact_sync:
        raise UserFixableError(
            f"Deal {snapshot.deal.id} has no company, and primary contact sync is off in the hubnox "
            "settings, so hubnox bills companies only and will not make its contact a customer.",
            code="MISSING_COMPANY",
            hint="Associate the deal with a company in HubSpot, or turn on primary contact sync in the "
            "hubnox settings to bill the deal's primary contact as a private customer, then replay.")
    if contact is not None:
        return resolve_record_customer(contact, settings, fortnox, customers_made=customers_made)
    raise UserFixableError(
        f"Deal {snapshot.deal.id} has no company and no contact, so hubnox cannot tell whom to bill.",
        code="MISSING_COMPANY",
        hint="Associate the deal with a company (or, for a private customer, a contact) in HubSpot, "
        "then replay.",
    )


def resolve_record_customer(record: Company | Contact, settings: PortalSettings, fortnox: FortnoxCustomers, *,
                            reference_contact: Contact | None = None,
                            customers_made: CustomerCreations | None = None) -> CustomerResolution:
    """The Fortnox customer for one HubSpot company or contact: linked, matched, updated or created.

    Used for deals and for the sync-customer job (the card's Update button, the workflow action).
    With `customers_made`, a record the rules find no customer for gets at most one, whatever runs
    of it overlap: the one made for it before, while Fortnox has it, is matched instead.
    A contact with primary contact sync off raises `UserFixableError`: contacts never become customers.
    """
    kind = _kind(record)
    if kind == "contact" and not settings.primary_contact_sync:
        raise UserFixableError(
            f"Primary contact sync is off in the hubnox settings, so the contact {record.id} does not become a "
            "Fortnox customer.",
            code="CONTACT_SYNC_OFF",
            hint="Update the customer from the contact's company, or turn on primary contact sync in the hubnox "
            "settings.")
    draft = customer_from_record(record, settings, reference_contact=reference_contact)
    warnings = list(draft.warnings)
    existing, whole = _find_existing(record, kind, draft, settings, fortnox, warnings)
    changed: list[str] = []
    if existing is None:
        customer, created = _create(record, kind, draft, fortnox, customers_made)
        if not created:
            # Made for the record by an overlapping (or earlier) run: billed as a linked one would be,
            # and, like a linked one, without the note that a customer was created for want of a value.
            existing, whole = customer, True
            warnings = [warning for warning in warnings if warning.code != "NO_MATCH_VALUE"]
    if existing is None:
        action: Literal["matched", "updated", "created"] = "created"
    else:
        customer, changed = _maybe_update(existing, draft, settings, fortnox, whole=whole)
        action = "updated" if changed else "matched"
    number = customer.customer_number or (existing.customer_number if existing else None) or ""
    if customer.vat_type is None and number and not (whole and customer is existing):
        # A search answers list items without VATType; the rows' VAT depends on it.
        customer = fortnox.get_customer(number)
    return CustomerResolution(
        customer_number=number, customer_name=customer.name, action=action, source=kind,
        source_id=record.id, customer=customer, changed_fields=changed, warnings=warnings,
        write_back=_write_back(record, kind, number, settings),
    )


def find_customer_number(record: Company | Contact, settings: PortalSettings, fortnox: FortnoxCustomers) -> str | None:
    """The number of the Fortnox customer a company or contact matches by the portal's rules, without
    creating or changing anything: the customer-number property, the linked number, then the match
    rule. None when nothing matches or the record lacks the value the rule needs; several matches
    raise `UserFixableError` as they do for a deal.
    """
    kind = _kind(record)
    numbers = settings.customer_number
    candidates = [numbers.hubspot_property] if numbers.source == "hubspot_property" else []
    candidates.append(numbers.write_back_property)
    for prop in candidates:
        value = record.prop(prop) if prop else None
        if value:
            found = _one(fortnox.find_customers(customernumber=value), f"customer number {value}")
            if found is not None:
                return found.customer_number
    rule = settings.company_match if kind == "company" else settings.contact_match
    if kind == "contact" and not settings.primary_contact_sync:
        rule = None
    value = record.prop(rule.hubspot_property) if rule is not None else None
    if rule is None or not value:
        return None
    found = _one(fortnox.find_customers(**{MATCH_FIELDS[rule.fortnox_field]: value}), f"{rule.fortnox_field} {value}")
    return found.customer_number if found is not None else None


def customer_from_record(record: Company | Contact, settings: PortalSettings, *,
                         reference_contact: Contact | None = None) -> CustomerDraft:
    """The Fortnox customer a company or contact maps to, as hubnox would create it.

    Mapped fields come from `customer_fields`; a contact's name is first + last name unless
    `Name` is mapped; the match rule's value goes into its Fortnox field; `customer_defaults`
    fill the rest. A company customer takes e-mail and phone fields from `reference_contact` (the
    primary contact, through the contact mapping) where its own mapping leaves them empty; those
    are listed in `fill_empty_fields`, which an update writes only where Fortnox has nothing.
    Raises `UserFixableError` when no name can be found, or when the
    customer number must come from HubSpot and is missing or invalid.
    """
    kind = _kind(record)
    mapping = settings.customer_fields.company if kind == "company" else settings.customer_fields.contact
    warnings: list[SyncWarning] = []
    values: dict[str, Any] = {}
    for field, prop in mapping.items():
        _put(values, field, record.prop(prop), f"{kind} {record.id}", prop, warnings)
    # The record's own values update a matched customer; the contact's only fill fields Fortnox has empty.
    mapped = list(values)
    if kind == "company" and reference_contact is not None:
        for field in CONTACT_FIELDS_FOR_COMPANIES:
            contact_prop = settings.customer_fields.contact.get(field)
            if contact_prop and field not in values:
                _put(values, field, reference_contact.prop(contact_prop), f"contact {reference_contact.id}",
                     contact_prop, warnings)
    from_contact = [field for field in values if field not in mapped]
    if "Name" not in values:
        values["Name"] = _fallback_name(record, kind, warnings)
    rule = settings.company_match if kind == "company" else settings.contact_match
    if rule is not None and rule.fortnox_field not in values:
        _put(values, rule.fortnox_field, record.prop(rule.hubspot_property), f"{kind} {record.id}",
             rule.hubspot_property, warnings)
    if settings.customer_number.source == "hubspot_property":
        values["CustomerNumber"] = customer_number_from(record, kind, settings)
    fields = {_ATTRIBUTES[name]: value for name, value in values.items()}
    customer = FortnoxCustomer(**fields, **_defaults(kind, settings))
    return CustomerDraft(customer=customer, mapped_fields=mapped, fill_empty_fields=from_contact,
                         warnings=warnings)


def customer_number_from(record: Company | Contact, kind: RecordKind, settings: PortalSettings) -> str:
    """The customer number a record carries in `customer_number.hubspot_property`, checked
    against Fortnox's characters (letters, digits and - + / _); `UserFixableError` otherwise."""
    prop = settings.customer_number.hubspot_property or ""
    value = record.prop(prop)
    if value is None:
        raise UserFixableError(
            f"The {kind} {record.id} has no Fortnox customer number in its property {prop}.",
            code="MISSING_CUSTOMER_NUMBER",
            hint=f"Fill in {prop} on the {kind} in HubSpot (hubnox takes customer numbers from there), "
            "then replay.")
    if not CUSTOMER_NUMBER_PATTERN.fullmatch(value):
        raise UserFixableError(
            f"The {kind} {record.id} has {value!r} in {prop}, which Fortnox does not accept as a customer "
            "number.",
            code="INVALID_CUSTOMER_NUMBER",
            hint="Use only letters A-Z, digits and - + / _ (no spaces or å, ä, ö) in the customer number, "
            "then replay.")
    return value


def _kind(record: Company | Contact) -> RecordKind:
    return "contact" if isinstance(record, Contact) else "company"


def _put(values: dict[str, Any], field: str, raw: str | None, where: str, prop: str,
         warnings: list[SyncWarning]) -> None:
    """Store one HubSpot value under a Fortnox field, shaped the way Fortnox accepts it."""
    if raw is None:
        return
    if field in _COUNTRY_FIELDS:
        code = country_code(raw)
        if code is None:
            warnings.append(SyncWarning(code="UNKNOWN_COUNTRY",
                                        message=f"Left {field} empty: hubnox does not know the country "
                                        f"{raw!r} ({prop} of {where}); use a two-letter code such as SE."))
            return
        values[field] = code
        return
    if field.startswith("Email") and not _EMAIL.match(raw):
        warnings.append(SyncWarning(code="INVALID_EMAIL",
                                    message=f"Left {field} empty: {raw!r} ({prop} of {where}) is not an "
                                    "e-mail address."))
        return
    limit = FortnoxCustomer.LIMITS.get(_ATTRIBUTES[field], 1024)
    text, shaped = fortnox_text(raw, limit, f"the customer's {field} ({prop} of {where})")
    warnings.extend(shaped)
    if text is not None:
        values[field] = text


def country_code(value: str) -> str | None:
    """The ISO 3166 alpha-2 code for a HubSpot country value ("SE", "Sweden", "Sverige")."""
    text = value.strip()
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    return COUNTRY_CODES.get(text.casefold())


def _fallback_name(record: Company | Contact, kind: RecordKind, warnings: list[SyncWarning]) -> str:
    candidate = record.full_name if isinstance(record, Contact) else None
    if candidate is None and isinstance(record, Contact) and record.email:
        candidate = record.email
        warnings.append(SyncWarning(code="NAME_FROM_EMAIL",
                                    message=f"Contact {record.id} has no first or last name; the customer is "
                                    f"named after the e-mail address {record.email}."))
    if candidate is None:
        raise UserFixableError(
            f"The {kind} {record.id} has no name, and Fortnox needs one for the customer.",
            code="MISSING_CUSTOMER_NAME",
            hint=f"Give the {kind} a name in HubSpot, then replay.")
    text, shaped = fortnox_text(candidate, FortnoxCustomer.LIMITS["name"], f"the customer's name ({kind} {record.id})")
    warnings.extend(shaped)
    return text or candidate


def _defaults(kind: RecordKind, settings: PortalSettings) -> dict[str, Any]:
    defaults = settings.customer_defaults
    customer_type = defaults.customer_type
    if customer_type == "auto":
        customer_type = "COMPANY" if kind == "company" else "PRIVATE"
    values: dict[str, Any] = {
        "type": customer_type, "vat_type": defaults.vat_type, "terms_of_payment": defaults.terms_of_payment,
        "currency": defaults.currency, "price_list": defaults.price_list,
        "way_of_delivery": defaults.way_of_delivery, "terms_of_delivery": defaults.terms_of_delivery,
        "sales_account": defaults.sales_account, "cost_center": defaults.cost_center, "project": defaults.project,
    }
    if defaults.invoice_print_template or defaults.order_print_template or defaults.offer_print_template:
        values["default_templates"] = DefaultTemplates(invoice=defaults.invoice_print_template,
                                                       order=defaults.order_print_template,
                                                       offer=defaults.offer_print_template)
    if defaults.default_delivery_type:
        values["default_delivery_types"] = DefaultDeliveryTypes(invoice=defaults.default_delivery_type,
                                                                order=defaults.default_delivery_type)
    return values


def _find_existing(record: Company | Contact, kind: RecordKind, draft: CustomerDraft, settings: PortalSettings,
                   fortnox: FortnoxCustomers, warnings: list[SyncWarning]) -> tuple[FortnoxCustomer | None, bool]:
    """The existing customer, and whether it was read whole (by number) rather than from a search."""
    numbers = settings.customer_number
    if numbers.source == "hubspot_property":
        number = draft.customer.customer_number or ""
        return _one(fortnox.find_customers(customernumber=number), f"customer number {number}"), False
    linked = record.prop(numbers.write_back_property) if numbers.write_back_property else None
    if linked:
        # One GET by number: the whole customer (VAT type included), where a search would need a
        # second call for it. A number Fortnox refuses or no longer has is matched again.
        found = _linked_customer(linked, fortnox)
        if found is not None:
            return found, True
        warnings.append(SyncWarning(code="LINKED_CUSTOMER_GONE",
                                    message=f"The {kind}'s linked Fortnox customer {linked} no longer exists; "
                                    "hubnox matched it again."))
    return _match_by_rule(record, kind, draft.customer.name, settings, fortnox, warnings), False


def _create(record: Company | Contact, kind: RecordKind, draft: CustomerDraft, fortnox: FortnoxCustomers,
            customers_made: CustomerCreations | None) -> tuple[FortnoxCustomer, bool]:
    """The customer for a record the rules found none for, and whether it was created now. Through
    `customers_made`, the customer made for the record before is taken while Fortnox has it, unless
    the record's own customer number (`hubspot_property`) names another one now."""
    if customers_made is None:
        return fortnox.create_customer(draft.customer), True
    wanted = draft.customer.customer_number

    def find(number: str) -> FortnoxCustomer | None:
        return _linked_customer(number, fortnox) if wanted in (None, number) else None

    return customers_made.create_once(kind, record.id, find=find,
                                      create=lambda: fortnox.create_customer(draft.customer))


def _linked_customer(number: str, fortnox: FortnoxCustomers) -> FortnoxCustomer | None:
    """The customer a record's link property names, read whole by its number; None when Fortnox has
    no customer by that number (deleted, or never a valid number)."""
    if not CUSTOMER_NUMBER_PATTERN.fullmatch(number) or number != number.strip():
        return None
    try:
        return fortnox.get_customer(number)
    except FortnoxNotFoundError:
        return None


def _match_by_rule(record: Company | Contact, kind: RecordKind, name: str | None, settings: PortalSettings,
                   fortnox: FortnoxCustomers, warnings: list[SyncWarning]) -> FortnoxCustomer | None:
    rule = settings.company_match if kind == "company" else settings.contact_match
    if rule is None:
        return None
    value = record.prop(rule.hubspot_property)
    if value is None:
        return _without_match_value(record, kind, name, rule.hubspot_property, rule.fortnox_field,
                                    rule.when_value_missing, fortnox, warnings)
    return _one(fortnox.find_customers(**{MATCH_FIELDS[rule.fortnox_field]: value}),
                f"{rule.fortnox_field} {value}")


def _without_match_value(record: Company | Contact, kind: RecordKind, name: str | None, prop: str, field: str,
                         when: WhenValueMissing, fortnox: FortnoxCustomers,
                         warnings: list[SyncWarning]) -> FortnoxCustomer | None:
    """The customer for a record without the match rule's value, by `when_value_missing`."""
    if when == "fail":
        raise UserFixableError(
            f"The {kind} {record.id} has no {prop}, which hubnox matches Fortnox customers by ({field}).",
            code="MISSING_MATCH_VALUE",
            hint=f"Fill in {prop} on the {kind} in HubSpot, or let hubnox create customers for {kind} records "
            "without it in hubnox settings, then replay.")
    if when == "match_name" and name and name.strip():
        found = _one(fortnox.find_customers(name=name), f"the name {name.strip()}")
        if found is not None:
            warnings.append(SyncWarning(
                code="MATCHED_BY_NAME",
                message=f"The {kind} has no {prop}, so hubnox matched the Fortnox customer by its name "
                f"({found.customer_number}, {found.name}) and linked it to the {kind}."))
            return found
    warnings.append(SyncWarning(
        code="NO_MATCH_VALUE",
        message=f"The {kind} has no {prop}, so hubnox could not look for an existing Fortnox customer by it "
        f"and created a new one, linked to the {kind} for its later deals. Fill in {prop} to match "
        "customers that already exist in Fortnox."))
    return None


def _one(found: Sequence[FortnoxCustomer], what: str) -> FortnoxCustomer | None:
    """The single exact match, None for none; several are the user's to sort out."""
    if len(found) > 1:
        named = ", ".join(f"{c.customer_number} ({c.name})" for c in found)
        raise UserFixableError(
            f"Several Fortnox customers have {what}: {named}. hubnox will not guess which one to bill.",
            code="AMBIGUOUS_CUSTOMER",
            hint="Merge or deactivate the duplicates in Fortnox, or put the right customer number on the "
            "HubSpot record, then replay.")
    return found[0] if found else None


def _maybe_update(existing: FortnoxCustomer, draft: CustomerDraft, settings: PortalSettings,
                  fortnox: FortnoxCustomers, *, whole: bool) -> tuple[FortnoxCustomer, list[str]]:
    if not settings.update_matched_customers:
        return existing, []
    number = existing.customer_number or ""
    # A search answers list items with a few fields; the comparison needs the whole customer, which a
    # read by number (`whole`) already is.
    current = existing if whole else fortnox.get_customer(number)
    changes: dict[str, Any] = {}
    for field in draft.mapped_fields:
        attribute = _ATTRIBUTES[field]
        wanted = getattr(draft.customer, attribute)
        if wanted is not None and not _same(field, wanted, getattr(current, attribute)):
            changes[attribute] = wanted
    for field in draft.fill_empty_fields:
        attribute = _ATTRIBUTES[field]
        wanted = getattr(draft.customer, attribute)
        if wanted is not None and not str(getattr(current, attribute) or "").strip():
            changes[attribute] = wanted
    if not changes:
        return current, []
    name = changes.pop("name", current.name)
    updated = fortnox.update_customer(number, FortnoxCustomer(name=name, **changes))
    changed = [field for field in (*draft.mapped_fields, *draft.fill_empty_fields) if _ATTRIBUTES[field] in changes
               or (field == "Name" and name != current.name)]
    return updated, changed


def _same(field: str, wanted: Any, current: Any) -> bool:
    if current is None:
        return False
    if field.startswith("Email"):
        return str(wanted).strip().casefold() == str(current).strip().casefold()
    if field == "OrganisationNumber":
        return re.sub(r"\W", "", str(wanted)) == re.sub(r"\W", "", str(current))
    return str(wanted).strip() == str(current).strip()


def _write_back(record: Company | Contact, kind: RecordKind, number: str, settings: PortalSettings,
                ) -> PropertyWriteBack | None:
    prop = settings.customer_number.write_back_property
    if settings.customer_number.source != "fortnox" or not prop or not number or record.prop(prop) == number:
        return None
    return PropertyWriteBack(object_type="companies" if kind == "company" else "contacts", object_id=record.id,
                             properties={prop: number})
