"""API calls per deal by scenario, counted from the simulators' request logs, each with its goal.

`calls_per_scenario(bench)` runs every scenario on the benchmark's local stack (`benchmarks.__main__.
Bench`) and answers {scenario: {"hubspot", "fortnox", "hubspot_goal", "fortnox_goal", "rate_limited"}}.
Each scenario seeds a fresh portal whose Fortnox company is new; one warm-up deal of the same shape
creates the customer and the articles, and the deal measured after it is a company's later deal,
unless the scenario is about a first deal or new articles. Calls are the requests each service
received for that one deal, OAuth and the simulators' own control routes left out, retries included.
The warm-up deal also fills the portal's HubSpot cache (`hubnox.sync.portal_lookups`): the deal
measured after it takes its owner, its reference contact and the product of a line without a SKU
from there, as a company's later deal within the cache's life does (a contact's is 15 minutes).

Goals (issue 16): a deal whose customer and articles exist costs at most 4 Fortnox calls (customer,
articles, create, PDF) and at most 7 HubSpot calls. A new article costs what Fortnox's API makes the
floor for an article with its price: two calls, `POST /3/articles` and its row in the price list
(`POST /3/prices`), since Fortnox has no bulk create and takes no price on the article itself
(`SalesPrice` is read-only). A new customer is one more call (its create), and its number written
back to the company one more HubSpot call.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hubnox.hubspot.properties import ORGANISATION_NUMBER_PROPERTY

if TYPE_CHECKING:
    from benchmarks.__main__ import Bench

#: the issue's goals for a deal whose customer and articles exist
FORTNOX_GOAL = 4
HUBSPOT_GOAL = 7
#: Fortnox calls a new article adds: the article, then its price-list row
NEW_ARTICLE_CALLS = 2
#: a new customer adds its create in Fortnox, and its number written back to the company in HubSpot
NEW_CUSTOMER_CALLS = 1
#: Fortnox's window: a pause this long keeps the warm-up's calls from slowing the measured deal
RATE_WINDOW_SECONDS = 5.2
LINE_COUNTS = (1, 10, 50, 100)
NEW_ARTICLES = 5


def _line(ref: str, index: int, sku: str | None, product: str | None = None) -> dict[str, Any]:
    properties = {"name": f"Item {index}", "quantity": str(1 + index % 3), "price": f"{100 + index}.50"}
    if sku is not None:
        properties["hs_sku"] = sku
    if product is not None:
        properties["hs_product_id"] = product
    return {"ref": ref, "properties": properties}


def _seed(deals: list[list[dict[str, Any]]], *, owner: bool = False, contact: bool = False,
          products: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A portal whose company (with the organisation number the default rule matches) has `deals`,
    each a list of line items; with `owner` the deals are owned, with `contact` each has one contact."""
    lines = [{**line, "ref": f"d{d}-{line['ref']}"} for d, items in enumerate(deals) for line in items]
    deal_records = []
    for d, items in enumerate(deals):
        properties = {"dealname": f"Deal {d}", "deal_currency_code": "SEK"}
        if owner:
            properties["hubspot_owner_id"] = "sara"
        links = [{"to": "acme", "typeId": 5}] + [{"to": f"d{d}-{line['ref']}"} for line in items]
        if contact:
            links.append({"to": "anna"})
        deal_records.append({"ref": f"deal{d}", "properties": properties, "associations": links})
    seed: dict[str, Any] = {
        "properties": {"companies": [{**ORGANISATION_NUMBER_PROPERTY, "groupName": "companyinformation"}]},
        "objects": {
            "companies": [{"ref": "acme", "properties": {"name": "Acme AB", "organisation_number": "556036-0793"}}],
            "contacts": [{"ref": "anna", "properties": {"firstname": "Anna", "lastname": "Andersson",
                                                        "email": "anna@acme.example"}}] if contact else [],
            "products": products or [],
            "line_items": lines,
            "deals": deal_records,
        }}
    if owner:
        seed["owners"] = [{"ref": "sara", "firstName": "Sara", "lastName": "Säljare", "email": "sara@acme.example"}]
    return seed


def _portal(bench: Bench, seed: dict[str, Any], deals: int) -> tuple[str, list[str]]:
    from sandbox.admin import AdminBrowser, connect_fortnox, install_hubnox

    seeded = bench.http.post(f"{bench.stack.hubspot_api_url}/_sandbox/portals", json=seed).json()
    browser = AdminBrowser()
    portal_id = install_hubnox(browser, bench.stack.gateway_url, portal_id=str(seeded["portalId"]))
    connect_fortnox(browser, bench.stack.gateway_url)
    return portal_id, [str(seeded["refs"][f"deal{d}"]) for d in range(deals)]


def _measure(bench: Bench, portal_id: str, deal_id: str) -> dict[str, Any]:
    from benchmarks.__main__ import _api, deal_requests

    hubspot, fortnox, seconds = deal_requests(bench, portal_id, deal_id)
    return {"hubspot": len(_api(hubspot)), "fortnox": len(_api(fortnox)),
            "rate_limited": sum(1 for r in hubspot + fortnox if r["status"] == 429), "seconds": seconds}


def _later(bench: Bench, seed: dict[str, Any]) -> dict[str, Any]:
    """The second of the seed's two deals, after the first made the customer and the articles."""
    portal_id, deal_ids = _portal(bench, seed, 2)
    _measure(bench, portal_id, deal_ids[0])
    time.sleep(RATE_WINDOW_SECONDS)
    return _measure(bench, portal_id, deal_ids[1])


def _skus(count: int, prefix: str = "SKU") -> list[dict[str, Any]]:
    return [_line(f"l{i}", i, f"{prefix}-{i % 40}") for i in range(count)]


def calls_per_scenario(bench: Bench) -> dict[str, dict[str, Any]]:
    """Every scenario's calls for one deal, with the goals beside them."""
    results: dict[str, dict[str, Any]] = {}

    def record(name: str, measured: dict[str, Any], fortnox_goal: int = FORTNOX_GOAL,
               hubspot_goal: int = HUBSPOT_GOAL) -> None:
        results[name] = {**measured, "hubspot_goal": hubspot_goal, "fortnox_goal": fortnox_goal}

    portal_id, [deal_id] = _portal(bench, _seed([_skus(1)]), 1)
    # a new company and one new article: the customer's search and create, the article's look-up,
    # create and price-list row; in HubSpot the customer number written back to the company
    record("first deal, 1 line item (new customer, new article)", _measure(bench, portal_id, deal_id),
           fortnox_goal=FORTNOX_GOAL + NEW_CUSTOMER_CALLS + NEW_ARTICLE_CALLS,
           hubspot_goal=HUBSPOT_GOAL + NEW_CUSTOMER_CALLS)
    for count in LINE_COUNTS:
        record(f"later deal, {count} line items", _later(bench, _seed([_skus(count), _skus(count)])))
    record("later deal with owner and one contact", _later(bench, _seed([_skus(1), _skus(1)], owner=True,
                                                                        contact=True)))
    product = [{"ref": "widget", "properties": {"name": "Widget", "price": "99"}}]
    no_sku = [_line("p", 0, None, product="widget"), _line("l1", 1, "SKU-1")]
    record("later deal with a product without SKU", _later(bench, _seed([no_sku, no_sku], products=product)))
    record(f"later deal with {NEW_ARTICLES} new articles",
           _later(bench, _seed([_skus(1), _skus(NEW_ARTICLES, prefix="NEW")])),
           fortnox_goal=FORTNOX_GOAL + NEW_ARTICLE_CALLS * NEW_ARTICLES)
    return results


def report(results: dict[str, dict[str, Any]]) -> list[str]:
    """The scenarios as a Markdown table, each figure with its goal."""
    lines = ["| scenario | HubSpot calls (goal) | Fortnox calls (goal) | 429s |", "| --- | ---: | ---: | ---: |"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['hubspot']} (≤ {r['hubspot_goal']}) | {r['fortnox']} (≤ {r['fortnox_goal']}) "
                     f"| {r['rate_limited']} |")
    return lines


def main() -> int:
    """`python -m benchmarks.calls`: the scenarios alone, on a stack of their own."""
    from benchmarks.__main__ import Bench

    bench = Bench()
    try:
        results = calls_per_scenario(bench)
    finally:
        bench.close()
    for line in report(results):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
