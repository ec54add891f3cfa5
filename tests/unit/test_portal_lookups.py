"""A portal's owners, tax-rate library and currency cached in the table: read from HubSpot once an hour
per portal, errors never cached, a tax rate the cached library lacks read fresh."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hubnox.errors import NotFoundError
from hubnox.hubspot.models import AccountDetails, Owner, TaxRate
from hubnox.store.portal_cache import CACHE_SECONDS, PortalCacheStore
from hubnox.sync.portal_lookups import CachedLookups
from hubnox.sync.reader import _tax_rates
from tests.support.clock import FakeClock


class CountingHubSpot:
    """The three account look-ups, counted; everything else answers its name."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.rates = [TaxRate(id="1", name="SE VAT 25%", percentageRate=Decimal("25"))]

    def owner(self, owner_id: str, *, archived: bool = False) -> Owner:
        self.calls.append(f"owner {owner_id} {archived}")
        if owner_id == "404":
            raise NotFoundError("no such owner")
        return Owner(id=owner_id, firstName="Sara", lastName="Säljare", email="sara@acme.example")

    def tax_rates(self) -> list[TaxRate]:
        self.calls.append("tax_rates")
        return list(self.rates)

    def account_details(self) -> AccountDetails:
        self.calls.append("account_details")
        return AccountDetails(portalId=1, companyCurrency="EUR")

    def get_object(self, *args: Any, **kwargs: Any) -> str:
        return "passed through"


@pytest.fixture
def parts(table: Any) -> tuple[CountingHubSpot, PortalCacheStore, FakeClock]:
    clock = FakeClock()
    return CountingHubSpot(), PortalCacheStore(table, clock), clock


def test_each_look_up_is_read_once_per_portal_until_it_expires(parts) -> None:
    hubspot, cache, clock = parts
    for _ in range(3):
        run = CachedLookups(hubspot, cache, "1")  # a new run each time, as the worker makes them
        assert run.owner("7").full_name == "Sara Säljare"
        assert [rate.percentage_rate for rate in run.tax_rates()] == [Decimal("25")]
        assert run.account_details().company_currency == "EUR"
    assert hubspot.calls == ["owner 7 False", "tax_rates", "account_details"]

    CachedLookups(hubspot, cache, "2").account_details()  # another portal has its own
    clock.now += CACHE_SECONDS + 1
    CachedLookups(hubspot, cache, "1").owner("7")
    assert hubspot.calls[3:] == ["account_details", "owner 7 False"]


def test_an_unknown_owner_is_asked_again_next_time_and_other_calls_pass_through(parts) -> None:
    hubspot, cache, _ = parts
    run = CachedLookups(hubspot, cache, "1")
    for _ in range(2):
        with pytest.raises(NotFoundError):
            run.owner("404")
    assert hubspot.calls == ["owner 404 False", "owner 404 False"]
    assert run.get_object("deals", "1") == "passed through"


def test_a_rate_added_since_the_library_was_cached_is_read_fresh(parts) -> None:
    hubspot, cache, _ = parts
    from hubnox.hubspot.models import LineItem

    lines = [LineItem(id="l1", properties={"name": "Lunch", "hs_tax_rate_group_id": "1"})]
    assert _tax_rates(CachedLookups(hubspot, cache, "1"), lines, []) == {"1": Decimal("25")}
    hubspot.rates.append(TaxRate(id="2", name="SE VAT 12%", percentageRate=Decimal("12")))

    assert _tax_rates(CachedLookups(hubspot, cache, "1"), lines, []) == {"1": Decimal("25")}  # cached
    added = [*lines, LineItem(id="l2", properties={"name": "Food", "hs_tax_rate_group_id": "2"})]
    assert _tax_rates(CachedLookups(hubspot, cache, "1"), added, []) == {"1": Decimal("25"), "2": Decimal("12")}
    assert hubspot.calls == ["tax_rates", "tax_rates"]


def test_a_refreshing_client_reads_every_look_up_and_caches_it_for_the_runs_after(parts) -> None:
    hubspot, cache, _ = parts
    CachedLookups(hubspot, cache, "1").account_details()
    CachedLookups(hubspot, cache, "1").owner("7")
    fresh = CachedLookups(hubspot, cache, "1").refreshing()
    fresh.owner("7"), fresh.tax_rates(), fresh.account_details()
    assert hubspot.calls == ["account_details", "owner 7 False", "owner 7 False", "tax_rates", "account_details"]

    again = CachedLookups(hubspot, cache, "1")
    again.owner("7"), again.tax_rates(), again.account_details()
    assert len(hubspot.calls) == 5
