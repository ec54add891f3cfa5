"""A portal's HubSpot client whose look-ups of slow-changing records are served from a cache shared
by every run of the portal (`hubnox.store.portal_cache`): the account's owners, tax-rate library
and company currency, the products of line items without a SKU, and a company deal's reference
contact.

A deal with an owner, a tax rate on a line and no currency of its own used to cost three HubSpot
reads more than its own records, and a line without a SKU (its product) and a reference contact
one more each; with the cache they cost nothing after the first deal that read them, so such a
deal stays within the seven HubSpot calls of a plain one. How long each serves:
- owners, tax rates, currency and products: an hour (the store's `CACHE_SECONDS`). They are account set-up,
  edited rarely, and a product is only read for what its line item lacks;
- a reference contact: 15 minutes (`RECORD_SECONDS`). A contact is a person's data that sales
  edit more often (a new e-mail or phone), and that we keep no longer than a burst of deals needs
  it; the item holds only the properties read for it, and its `expires_at` has DynamoDB delete it.
A record is cached only with the properties it was read with, and served only to a read asking for
no more (a property mapped since is read fresh); records HubSpot lacks (deleted) are not cached.

What is never cached: the deal, its line items and companies, and the contacts of a deal without
a company, which are the customer (matched and created in Fortnox) and must be what HubSpot holds.
What the cache cannot know is asked for at once: an owner not cached yet, or a tax rate a line
names that the cached library lacks (`tax_rates(fresh=True)`, added in HubSpot since). Errors (a
missing scope, an unknown owner) are never cached: they are the user's to fix and must show as
soon as fixed. A run a person started (`FRESH_TRIGGERS`: a replay, the card's button, the settings
page) reads everything fresh and refreshes the cache (`fresh_for`): the way to fix a document is
"correct the record in HubSpot, then replay", and the replay must see the correction at once.
Everything else goes to the wrapped client unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from hubnox.hubspot import paths
from hubnox.hubspot.models import AccountDetails, CrmObject, Owner, TaxRate
from hubnox.sync.ports import HubSpot, PortalLookups

#: how long a record read for one deal serves the portal's later deals, by object type, in seconds
#: (products as long as the account look-ups: `hubnox.store.portal_cache.CACHE_SECONDS`)
RECORD_SECONDS: dict[str, float] = {paths.PRODUCTS: 3600.0, paths.CONTACTS: 15 * 60.0}
#: the triggers of runs a person started, often to see a fix: they read every record fresh
FRESH_TRIGGERS = frozenset({"replay", "card", "settings"})

R = TypeVar("R", bound=CrmObject)


class CachedLookups:
    """`HubSpot` for one portal, with `owner`, `tax_rates`, `account_details` and
    `batch_read_cached` (products, reference contacts) cached; with `fresh`, every look-up is read
    from HubSpot and its answer cached for the runs after."""

    def __init__(self, hubspot: HubSpot, cache: PortalLookups, portal_id: str, *, fresh: bool = False) -> None:
        self._hubspot = hubspot
        self._cache = cache
        self._portal_id = portal_id
        self.fresh = fresh

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hubspot, name)

    def refreshing(self) -> CachedLookups:
        """This portal's client reading every look-up fresh (and caching what it reads)."""
        return CachedLookups(self._hubspot, self._cache, self._portal_id, fresh=True)

    def owner(self, owner_id: str, *, archived: bool = False) -> Owner:
        name = f"owner#{owner_id}#{'archived' if archived else 'active'}"
        cached = self._get(name)
        if cached is not None:
            return Owner.model_validate(cached)
        owner = self._hubspot.owner(owner_id, archived=archived)
        self._cache.put(self._portal_id, name, owner.model_dump(mode="json", by_alias=True))
        return owner

    def tax_rates(self, *, fresh: bool = False) -> list[TaxRate]:
        """The tax-rate library; `fresh` reads it from HubSpot even when cached."""
        cached = None if fresh else self._get("tax_rates")
        if cached is not None:
            return [TaxRate.model_validate(rate) for rate in cached]
        rates = self._hubspot.tax_rates()
        self._cache.put(self._portal_id, "tax_rates", [rate.model_dump(mode="json", by_alias=True) for rate in rates])
        return rates

    def account_details(self) -> AccountDetails:
        cached = self._get("account_details")
        if cached is not None:
            return AccountDetails.model_validate(cached)
        details = self._hubspot.account_details()
        self._cache.put(self._portal_id, "account_details", details.model_dump(mode="json", by_alias=True))
        return details

    def batch_read_cached(self, object_type: str, ids: Sequence[str], properties: Sequence[str], *,
                          model: type[R]) -> list[R]:
        """The records of `ids` that exist, in the order of `ids` (each once): those cached with all
        of `properties` from the cache, the others in one batch read, then cached for
        `RECORD_SECONDS[object_type]` with just `properties`. Only the types of `RECORD_SECONDS`
        are cached (a `KeyError` for others: what may be cached is decided here, not by callers)."""
        seconds = RECORD_SECONDS[object_type]
        names = {record_id: f"{object_type}#{record_id}" for record_id in dict.fromkeys(ids)}
        cached = {} if self.fresh else self._cache.get_many(self._portal_id, list(names.values()))
        found: dict[str, R] = {}
        for record_id, name in names.items():
            value = cached.get(name)
            if isinstance(value, dict) and set(properties) <= set(value.get("properties") or {}):
                found[record_id] = model.model_validate(value)
        unread = [record_id for record_id in names if record_id not in found]
        if unread:
            for record in self._hubspot.batch_read(object_type, unread, properties, model=model).found:
                kept = {prop: record.properties.get(prop) for prop in properties}
                self._cache.put(self._portal_id, names.get(record.id, f"{object_type}#{record.id}"),
                                {"id": record.id, "properties": kept}, seconds=seconds)
                found[record.id] = cast(R, record)
        return [found[record_id] for record_id in names if record_id in found]

    def _get(self, name: str) -> Any | None:
        return None if self.fresh else self._cache.get(self._portal_id, name)


def with_portal_lookups(hubspot: HubSpot, cache: PortalLookups, portal_id: str) -> HubSpot:
    """`hubspot` with its look-ups cached for the portal."""
    return cast(HubSpot, CachedLookups(hubspot, cache, portal_id))


def fresh_for(hubspot: HubSpot, trigger: str) -> HubSpot:
    """The client a run of `trigger` reads with: a run a person started (`FRESH_TRIGGERS`) reads
    every look-up fresh and refreshes the cache; other runs, and clients without a cache, as given."""
    if trigger in FRESH_TRIGGERS and isinstance(hubspot, CachedLookups):
        return cast(HubSpot, hubspot.refreshing())
    return hubspot
