"""The `sync_products` job: the portal's HubSpot products become Fortnox articles with their prices.

A product that cannot become an article is skipped and named in the run's result;
the others are still synced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hubnox.errors import UserFixableError
from hubnox.hubspot import paths
from hubnox.hubspot.models import Product
from hubnox.observability import logger
from hubnox.sync.articles import article_from_product
from hubnox.sync.attempt import Attempt
from hubnox.sync.ports import HubSpotReads


def sync_products(current: Attempt) -> dict[str, Any]:
    """Create the missing articles and set their prices; answers the run's result."""
    settings = current.portal_settings
    created: list[str] = []
    priced: list[str] = []
    skipped: list[dict[str, str]] = []
    products = list(_all_products(current.hubspot))
    numbers = [number for product in products if (number := product.sku)]
    existing = current.fortnox.find_articles(numbers) if numbers else {}
    for product in products:
        try:
            draft = article_from_product(product, settings)
            number = draft.article.article_number or ""
            new = existing.get(number) is None
            if new:
                current.fortnox.create_article(draft.article)
                created.append(number)
            if draft.price is not None:
                current.fortnox.set_price(draft.price_list, number, draft.price, new_article=new)
                priced.append(number)
        except UserFixableError as error:
            skipped.append({"product_id": product.id, "name": product.name or "", "reason": error.message})
    logger.info("products synced", extra={"articles_created": len(created), "prices_set": len(priced),
                                          "products_skipped": len(skipped)})
    return {"created": created, "priced": priced, "skipped": skipped}


def _all_products(hubspot: HubSpotReads) -> Iterator[Product]:
    """Every product of the portal, oldest first, page by page."""
    after: str | None = None
    while True:
        page = hubspot.search(paths.PRODUCTS, [], Product.PROPERTIES, ["hs_object_id"], 200, after, model=Product)
        yield from page.results  # type: ignore[misc]
        if page.next_after is None:
            return
        after = page.next_after
