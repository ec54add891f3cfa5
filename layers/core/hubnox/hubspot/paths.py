"""Every HubSpot API path hubnox calls, on the 2026-03 date-based API, in one place.

Moving to the next date version (every March and September) means changing `VERSION` here and
checking the specs for that version. Deals are addressed by their object type id `0-3`, which
is how the 2026-03 specs write them; other standard objects go by name.
"""

from __future__ import annotations

from urllib.parse import quote

VERSION = "2026-03"

DEALS = "0-3"
LINE_ITEMS = "line_items"
COMPANIES = "companies"
CONTACTS = "contacts"
PRODUCTS = "products"
NOTES = "notes"

#: names callers may use for an object type, mapped to the form the paths use
_OBJECT_TYPES = {
    "deal": DEALS,
    "deals": DEALS,
    "0-3": DEALS,
    "line_item": LINE_ITEMS,
    "line_items": LINE_ITEMS,
    "company": COMPANIES,
    "companies": COMPANIES,
    "contact": CONTACTS,
    "contacts": CONTACTS,
    "product": PRODUCTS,
    "products": PRODUCTS,
    "note": NOTES,
    "notes": NOTES,
}

#: the plural names HubSpot uses for association keys and pipelines, by object type in paths
ASSOCIATION_NAMES = {
    DEALS: "deals",
    LINE_ITEMS: "line_items",
    COMPANIES: "companies",
    CONTACTS: "contacts",
    PRODUCTS: "products",
    NOTES: "notes",
}


def object_type(name: str) -> str:
    """The path form of an object type ("deals" and "deal" become "0-3"); others pass through."""
    return _OBJECT_TYPES.get(name.lower(), name)


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def objects(kind: str) -> str:
    return f"/crm/objects/{VERSION}/{object_type(kind)}"


def object_by_id(kind: str, object_id: str) -> str:
    return f"{objects(kind)}/{_seg(object_id)}"


def batch_read(kind: str) -> str:
    return f"{objects(kind)}/batch/read"


def batch_update(kind: str) -> str:
    return f"{objects(kind)}/batch/update"


def search(kind: str) -> str:
    return f"{objects(kind)}/search"


def object_associations(kind: str, object_id: str, to_kind: str) -> str:
    return f"{object_by_id(kind, object_id)}/associations/{object_type(to_kind)}"


def associate_default(kind: str, object_id: str, to_kind: str, to_id: str) -> str:
    return (f"{objects(kind)}/{_seg(object_id)}/associations/default/"
            f"{object_type(to_kind)}/{_seg(to_id)}")


def pipelines(kind: str) -> str:
    return f"/crm/pipelines/{VERSION}/{_pipeline_type(kind)}"


def _pipeline_type(kind: str) -> str:
    # The pipelines API documents its objectType by name ("deals"); names are what it shows.
    return ASSOCIATION_NAMES.get(object_type(kind), kind)


def properties(kind: str) -> str:
    return f"/crm/properties/{VERSION}/{object_type(kind)}"


def property_by_name(kind: str, name: str) -> str:
    return f"{properties(kind)}/{_seg(name)}"


def property_groups(kind: str) -> str:
    return f"{properties(kind)}/groups"


FILES = f"/files/{VERSION}/files"


def file_signed_url(file_id: str) -> str:
    return f"{FILES}/{_seg(file_id)}/signed-url"


def callback_complete(callback_id: str) -> str:
    return f"/automation/actions/callbacks/{VERSION}/{_seg(callback_id)}/complete"


OAUTH_AUTHORIZE = "/oauth/authorize"  # on the app host (HUBSPOT_AUTH_URL), not the API host
OAUTH_TOKEN = f"/oauth/{VERSION}/token"
OAUTH_INTROSPECT = f"/oauth/{VERSION}/token/introspect"

ACCOUNT_DETAILS = f"/account-info/{VERSION}/details"

#: The portal's tax-rate library. HubSpot's API reference documents it on the date-based path
#: (`/tax-rates/2026-03/tax-rates`, the shape of the older `/tax-rates/v1/tax-rates`); no spec file
#: of it is among the ones hubnox checks against.
TAX_RATES = f"/tax-rates/{VERSION}/tax-rates"


def user(user_id: str) -> str:
    """One user of the account (settings users API, no spec file: HubSpot's 2026-03 reference)."""
    return f"/settings/users/{VERSION}/{_seg(user_id)}"


def owner(owner_id: str) -> str:
    """One owner, on the 2026-03 form of `/crm/v3/owners/{ownerId}` (no spec file: HubSpot's v3 reference)."""
    return f"/crm/owners/{VERSION}/{_seg(owner_id)}"


#: the HubSpot-defined association type id of a note's link to its deal (directional, from -> to)
NOTE_TO_DEAL = 214
