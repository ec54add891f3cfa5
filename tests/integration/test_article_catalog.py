"""A Fortnox company's copy of its article list: a deal's articles cost one call at most whatever their
number, none while another deal refreshed the copy moments ago, and a new or deleted article is
handled without a wrong answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from hubnox.api_http import build_http_client
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.models import Article
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.rate_budget import LocalRateBudget
from hubnox.store.article_cache import ArticleCacheStore
from hubnox.sync.article_catalog import REFRESH_SKIP_SECONDS, CachedArticles
from sandbox.fortnox import FortnoxSimulator
from tests.support.clock import FakeClock


class Company:
    """The real client on a fresh company of the Fortnox simulator, and its request log."""

    def __init__(self, clock: FakeClock) -> None:
        self.simulator = FortnoxSimulator(clock=clock, wall_clock=clock)
        http = build_http_client("https://api.fortnox.se", transport=httpx.WSGITransport(app=self.simulator))
        tenant = str(http.post("/_sandbox/companies", json={"serviceConsent": {"clientId": "cid"}}).json()["tenantId"])
        tokens = FortnoxOAuth(http, client_id="cid", client_secret="s", auth_url="https://apps.fortnox.se"
                              ).client_credentials(tenant)

        class Token:
            def token(self) -> str:
                return tokens.access_token

            def invalidate(self, token: str) -> None:
                pass

        self.client = FortnoxClient(http, Token(), LocalRateBudget(clock=clock, sleep=clock.sleep),
                                    FortnoxClient.tenant_key_for("cid", tenant))
        self.tenant = tenant

    def calls(self) -> list[tuple[str, str]]:
        return [(e.method, e.path) for e in self.simulator.log.entries()
                if not e.path.startswith(("/oauth", "/_sandbox"))]

    def clear(self) -> None:
        self.simulator.log.clear()


@pytest.fixture
def world(table: Any) -> tuple[Company, ArticleCacheStore, FakeClock]:
    clock = FakeClock()
    company = Company(clock)
    for number in range(60):
        company.client.create_article(Article(article_number=f"SKU-{number}", description=f"Item {number}",
                                              vat=Decimal(25)))
    return company, ArticleCacheStore(table, clock), clock


def catalog(company: Company, cache: ArticleCacheStore, clock: FakeClock) -> CachedArticles:
    return CachedArticles(company.client, cache, company.client.tenant_key, clock)  # type: ignore[arg-type]


def test_every_deal_after_the_first_reads_its_articles_in_one_call_whatever_their_number(world) -> None:
    company, cache, clock = world
    company.clear()
    wanted = [f"SKU-{n}" for n in range(40)] + ["NEW-1"]

    first = catalog(company, cache, clock).find_articles(wanted)  # no copy yet: the full list, once

    assert first["SKU-39"] is not None and first["SKU-39"].vat == Decimal(25) and first["NEW-1"] is None
    assert company.calls() == [("GET", "/3/articles")]
    for sizes in (2, 40, 1):
        clock.now += REFRESH_SKIP_SECONDS
        company.clear()
        found = catalog(company, cache, clock).find_articles([f"SKU-{n}" for n in range(sizes)] + ["NEW-1"])
        assert company.calls() == [("GET", "/3/articles")]  # the changes since the last read only
        assert found["NEW-1"] is None and all(found[f"SKU-{n}"] for n in range(sizes))


def test_a_deal_right_after_another_costs_no_call_and_sees_what_the_other_created(world) -> None:
    company, cache, clock = world
    catalog(company, cache, clock).find_articles(["SKU-1", "SKU-2"])
    catalog(company, cache, clock).create_article(Article(article_number="NEW-1", description="New"))
    company.clear()

    found = catalog(company, cache, clock).find_articles(["SKU-1", "NEW-1"])

    assert company.calls() == []
    assert found["NEW-1"] is not None and found["SKU-1"] is not None


def test_an_article_made_or_changed_outside_hubnox_is_seen_on_the_next_read_of_changes(world) -> None:
    company, cache, clock = world
    catalog(company, cache, clock).find_articles(["SKU-1", "SKU-2"])
    clock.now += 600
    company.client.create_article(Article(article_number="ELSEWHERE", description="Made in Fortnox"))
    company.client.update_article("SKU-1", Article(description="Item 1", vat=Decimal(12)))
    clock.now += REFRESH_SKIP_SECONDS

    found = catalog(company, cache, clock).find_articles(["SKU-1", "ELSEWHERE"])

    assert found["ELSEWHERE"] is not None and found["SKU-1"] is not None and found["SKU-1"].vat == Decimal(12)


def test_one_sku_without_a_copy_is_one_get_and_a_stale_copy_is_read_whole_again(world) -> None:
    company, cache, clock = world
    company.clear()
    assert catalog(company, cache, clock).find_articles(["SKU-1"])["SKU-1"] is not None
    assert company.calls() == [("GET", "/3/articles/SKU-1")]
    catalog(company, cache, clock).find_articles(["SKU-1", "SKU-2"])

    catalog(company, cache, clock).stale()  # Fortnox refused an article the copy had
    company.clear()
    catalog(company, cache, clock).find_articles(["SKU-1", "SKU-2"])
    assert company.calls() == [("GET", "/3/articles")]
    assert cache.state(company.client.tenant_key).complete  # type: ignore[union-attr]


def test_a_document_refused_for_an_article_deleted_since_is_made_after_the_list_is_read_again(table) -> None:
    from hubnox.sync.article_catalog import with_article_catalog
    from tests.integration.test_runner import World, seed

    world = World(table, seed())
    cache = ArticleCacheStore(table, world.clock)
    world.fortnox_factory = lambda portal: with_article_catalog(world.fortnox, cache, world.fortnox.tenant_key,
                                                                world.clock)
    first = world.run()
    # two SKUs start the copy with the full list; the articles made for the deal are copied too
    assert first.status == "succeeded" and cache.find(world.fortnox.tenant_key, ["HNX-SEAT"])
    company = world.fortnox_sim.state.company(int(world.tenant))
    del company.articles["HNX-SEAT"]  # deleted in Fortnox, with its prices, as its DELETE does
    for key in [key for key in company.prices if key[1] == "HNX-SEAT"]:
        del company.prices[key]
    world.clock.now += 5  # within the refresh pause: the copy still lists it
    world.fortnox_sim.log.clear()

    order = world.run(trigger_key="workflow:order", document_type="order")

    assert order.status == "succeeded", order
    calls = world.fortnox_calls()
    assert calls.count(("POST", "/3/orders")) == 2  # refused once for the deleted article, then made
    assert ("POST", "/3/articles") in calls  # made again under the create policy
    assert cache.state(world.fortnox.tenant_key).complete  # type: ignore[union-attr]
