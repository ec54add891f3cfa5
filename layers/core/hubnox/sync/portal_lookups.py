"""A portal's HubSpot client whose account look-ups (owners, tax-rate library, company currency) are
served from a cache shared by every run of the portal (`hubnox.store.portal_cache`).

A deal with an owner, a tax rate on a line and no currency of its own used to cost three HubSpot
reads more than its own records; with the cache they cost nothing for an hour after the first
deal, so such a deal stays within the seven HubSpot calls of a plain one. What the cache cannot
know is asked for at once: an owner not cached yet, or a tax rate a line names that the cached
library lacks (`tax_rates(fresh=True)`, added in HubSpot since). Errors (a missing scope, an
unknown owner) are never cached: they are the user's to fix and must show as soon as fixed.
Everything else goes to the wrapped client unchanged.
"""

from __future__ import annotations

from typing import Any, cast

from hubnox.hubspot.models import AccountDetails, Owner, TaxRate
from hubnox.sync.ports import HubSpot, PortalLookups


class CachedLookups:
    """`HubSpot` for one portal, with `owner`, `tax_rates` and `account_details` cached."""

    def __init__(self, hubspot: HubSpot, cache: PortalLookups, portal_id: str) -> None:
        self._hubspot = hubspot
        self._cache = cache
        self._portal_id = portal_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hubspot, name)

    def owner(self, owner_id: str, *, archived: bool = False) -> Owner:
        name = f"owner#{owner_id}#{'archived' if archived else 'active'}"
        cached = self._cache.get(self._portal_id, name)
        if cached is not None:
            return Owner.model_validate(cached)
        owner = self._hubspot.owner(owner_id, archived=archived)
        self._cache.put(self._portal_id, name, owner.model_dump(mode="json", by_alias=True))
        return owner

    def tax_rates(self, *, fresh: bool = False) -> list[TaxRate]:
        """The tax-rate library; `fresh` reads it from HubSpot even when cached."""
        cached = None if fresh else self._cache.get(self._portal_id, "tax_rates")
        if cached is not None:
            return [TaxRate.model_validate(rate) for rate in cached]
        rates = self._hubspot.tax_rates()
        self._cache.put(self._portal_id, "tax_rates", [rate.model_dump(mode="json", by_alias=True) for rate in rates])
        return rates

    def account_details(self) -> AccountDetails:
        cached = self._cache.get(self._portal_id, "account_details")
        if cached is not None:
            return AccountDetails.model_validate(cached)
        details = self._hubspot.account_details()
        self._cache.put(self._portal_id, "account_details", details.model_dump(mode="json", by_alias=True))
        return details


def with_portal_lookups(hubspot: HubSpot, cache: PortalLookups, portal_id: str) -> HubSpot:
    """`hubspot` with its account look-ups cached for the portal."""
    return cast(HubSpot, CachedLookups(hubspot, cache, portal_id))
