"""The product sync tells the truth: each HubSpot product is created, updated, unchanged or skipped
(with its reason) as a Fortnox article, and existing articles follow their products.

HubSpot and Fortnox are the simulators, in process, reached by hubnox's real clients.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from hubnox.api_http import RetryPolicy, build_http_client
from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.hubspot.client import HubSpotClient
from hubnox.hubspot.oauth import HubSpotOAuth
from hubnox.jobs import Job
from hubnox.money import format_money
from hubnox.rate_budget import LocalRateBudget
from hubnox.services.install import HUBSPOT_SCOPES
from hubnox.sync.attempt import Attempt
from hubnox.sync.jobs.products import MAX_LISTED, sync_products
from hubnox.sync.portal_settings import ArticleDefaults, ArticleSettings, PortalSettings
from hubnox.tokens import StaticToken
from sandbox.fortnox import FortnoxSimulator
from sandbox.hubspot import HubSpotSimulator

HUBSPOT, FORTNOX = "http://hubspot.test", "http://fortnox.test"
REDIRECT = "https://hubnox.example.com/oauth/hubspot/callback"
SEAT = {"name": "Seat", "price": "1490.50", "hs_sku": "SEAT-1"}
HOUR = {"name": "Consulting hour", "price": "1200"}


class Catalogue:
    """A HubSpot portal with products and a connected Fortnox company, as the product sync sees them."""

    def __init__(self, *products: dict[str, str]) -> None:
        hubspot_sim, fortnox_sim = HubSpotSimulator(), FortnoxSimulator()
        fortnox_sim.limiter.enabled = False
        self.hs_http = build_http_client(HUBSPOT, transport=httpx.WSGITransport(app=hubspot_sim))
        self.fx_http = build_http_client(FORTNOX, transport=httpx.WSGITransport(app=fortnox_sim))
        seeded = self.hs_http.post("/_sandbox/portals", json={"objects": {"products": [
            {"ref": f"product{i}", "properties": p} for i, p in enumerate(products)]}})
        assert seeded.status_code == 201, seeded.text
        self.portal = str(seeded.json()["portalId"])
        self.product_ids = [seeded.json()["refs"][f"product{i}"] for i in range(len(products))]
        no_wait = RetryPolicy(sleep=lambda seconds: None)
        budget = LocalRateBudget()
        self.hubspot = HubSpotClient(self.hs_http, StaticToken(self._hubspot_token()), budget, self.portal,
                                     retry=no_wait)
        company = self.fx_http.post("/_sandbox/companies", json={
            "CompanyName": "Testbolaget AB", "serviceConsent": {"clientId": "hubnox-fortnox"}}).json()
        self.tenant = str(company["tenantId"])
        oauth = FortnoxOAuth(self.fx_http, client_id="hubnox-fortnox", client_secret="secret", auth_url=FORTNOX)
        self.fortnox = FortnoxClient(self.fx_http, StaticToken(oauth.client_credentials(self.tenant).access_token),
                                     budget, FortnoxClient.tenant_key_for("hubnox-fortnox", self.tenant),
                                     retry=no_wait)

    def _hubspot_token(self, client_id: str = "hubnox-hubspot", scopes: tuple[str, ...] = HUBSPOT_SCOPES) -> str:
        oauth = HubSpotOAuth(self.hs_http, client_id=client_id, client_secret="secret", auth_url=HUBSPOT)
        link = oauth.authorize_url(list(scopes), [], REDIRECT, "state")
        consent = self.hs_http.get(f"{link}&sandbox_portal={self.portal}".removeprefix(HUBSPOT))
        code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
        return oauth.exchange_code(code, REDIRECT).access_token

    def as_admin(self, method: str, path: str, body: dict[str, Any]) -> None:
        """A change a person makes in HubSpot (through another app of the portal)."""
        token = self._hubspot_token("portal-admin", ("crm.objects.products.read", "crm.objects.products.write"))
        answer = self.hs_http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code < 300, answer.text

    def sync(self, settings: PortalSettings | None = None) -> dict[str, Any]:
        job = Job(run_id="01KPRODUCTSYNC0000000000000", portal_id=self.portal, kind="sync_products",
                  trigger="settings")
        attempt = Attempt(job=job, attempt=1, max_attempts=3, hubspot_factory=lambda portal: self.hubspot,
                          fortnox_factory=lambda portal: self.fortnox, settings=settings)
        return sync_products(attempt)

    def company(self) -> dict[str, Any]:
        return self.fx_http.get(f"/_sandbox/companies/{self.tenant}").json()

    def articles(self) -> dict[str, dict[str, Any]]:
        return {a["ArticleNumber"]: a for a in self.company()["Articles"]}

    def prices(self) -> dict[str, Decimal]:
        return {p["ArticleNumber"]: Decimal(str(p["Price"])) for p in self.company()["Prices"]}

    def fortnox_writes(self) -> list[tuple[str, str]]:
        entries = self.fx_http.get("/_sandbox/requests").json()["requests"]
        return [(e["method"], e["path"]) for e in entries
                if e["method"] in ("POST", "PUT", "DELETE") and e["path"].startswith("/3/")]

    def clear_log(self) -> None:
        self.fx_http.delete("/_sandbox/requests")


def test_a_first_sync_creates_articles_and_says_why_each_other_product_was_skipped() -> None:
    world = Catalogue(SEAT, HOUR, {"name": "Odd", "price": "5", "hs_sku": "HAS SPACE"},
                      {"name": "Seat again", "price": "9", "hs_sku": "SEAT-1"})

    result = world.sync()

    assert world.articles()["SEAT-1"]["Description"] == "Seat"
    assert world.prices() == {"SEAT-1": Decimal("1490.50")}
    assert result["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "skipped": 3}
    assert result["created"] == ["SEAT-1"]
    assert [(s["name"], s["reason"]) for s in result["skipped"]] == [
        ("Consulting hour", "no_sku"), ("Odd", "invalid_sku"), ("Seat again", "duplicate_sku")]
    assert result["skipped_by_reason"] == {"no_sku": 1, "invalid_sku": 1, "duplicate_sku": 1}
    assert result["summary"] == ("1 created, 0 updated, 0 unchanged, 3 skipped (1 without a SKU, 1 with a SKU "
                                 "Fortnox does not accept as an article number, 1 with the SKU of another product)")


def test_a_second_sync_writes_nothing_when_nothing_changed() -> None:
    world = Catalogue(SEAT)
    world.sync()
    world.clear_log()

    result = world.sync()

    assert result["counts"] == {"created": 0, "updated": 0, "unchanged": 1, "skipped": 0}
    assert result["unchanged"] == ["SEAT-1"]
    assert world.fortnox_writes() == []


def test_an_existing_article_takes_its_products_name_price_vat_and_unit() -> None:
    world = Catalogue(SEAT)
    world.sync()
    created = world.fortnox.get_article("SEAT-1")
    assert created is not None and (created.vat, created.unit) == (Decimal(25), "st")
    world.as_admin("PATCH", f"/crm/objects/2026-03/products/{world.product_ids[0]}",
                   {"properties": {"name": "Seat, 12 months", "price": "1590"}})
    settings = PortalSettings(articles=ArticleSettings(defaults=ArticleDefaults(vat=12, unit="h")))
    world.clear_log()

    result = world.sync(settings)

    article = world.articles()["SEAT-1"]
    assert (article["Description"], Decimal(str(article["VAT"])), article["Unit"]) == (
        "Seat, 12 months", Decimal(12), "h")
    assert world.prices() == {"SEAT-1": Decimal("1590.00")}
    assert result["counts"] == {"created": 0, "updated": 1, "unchanged": 0, "skipped": 0}
    [updated] = result["updated"]
    assert updated["article_number"] == "SEAT-1"
    assert updated["changes"] == [
        "name 'Seat' → 'Seat, 12 months'", "VAT 25 % → 12 %", "unit st → h",
        f"price {format_money(Decimal('1490.50'), 'SEK')} → {format_money(Decimal('1590'), 'SEK')}"]
    assert world.fortnox_writes() == [("PUT", "/3/articles/SEAT-1"), ("PUT", "/3/prices/A/SEAT-1/0")]


def test_a_product_fortnox_refuses_is_skipped_with_fortnoxs_message_and_the_others_still_sync() -> None:
    world = Catalogue({"name": "Broken", "price": "1", "hs_sku": "BROKEN-1"}, SEAT)
    world.fx_http.post("/_sandbox/faults", json={
        "kind": "status", "method": "POST", "path": "/3/articles", "status": 400, "times": 1,
        "body": {"ErrorInformation": {"error": 1, "message": "Ogiltigt värde", "code": 2000359}}})

    result = world.sync()

    assert result["created"] == ["SEAT-1"]
    [skipped] = result["skipped"]
    assert (skipped["name"], skipped["reason"]) == ("Broken", "refused")
    assert skipped["message"]
    assert "1 refused by Fortnox" in result["summary"]


def test_a_large_catalogue_is_counted_in_full_and_listed_in_part() -> None:
    world = Catalogue(*({"name": f"Item {i}", "price": "1"} for i in range(MAX_LISTED + 5)))

    result = world.sync()

    assert result["counts"]["skipped"] == MAX_LISTED + 5 and len(result["skipped"]) == MAX_LISTED
