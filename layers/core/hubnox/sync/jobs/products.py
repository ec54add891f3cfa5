"""The `sync_products` job: the portal's HubSpot products become Fortnox articles with their prices.

Every product ends in exactly one of four outcomes, and the run's result says which:

- `created`: Fortnox had no article with the product's SKU; it was created and priced;
- `updated`: the article exists and its description, VAT, unit or price-list price differed from
  what the product maps to; only the fields that differ are written;
- `unchanged`: the article already says what the product says; nothing is written;
- `skipped`, with its reason: `no_sku`, `invalid_sku` (Fortnox does not accept it as an article
  number), `duplicate_sku` (an earlier product has the same SKU) or `refused` (Fortnox refused the
  write; its message is kept).

A broken connection or a Fortnox that keeps failing fails the run, so it is retried; one product
Fortnox refuses does not stop the others. The result keeps counts of everything and names at most
`MAX_LISTED` products per outcome, so a large catalogue still fits in the run record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hubnox.errors import ConnectionBrokenError, UserFixableError
from hubnox.fortnox.models import Article
from hubnox.hubspot import paths
from hubnox.hubspot.models import Product
from hubnox.money import format_money
from hubnox.observability import logger
from hubnox.sync.articles import article_from_product
from hubnox.sync.attempt import Attempt
from hubnox.sync.model import ArticleDraft, cents
from hubnox.sync.ports import FortnoxArticles, HubSpotReads

#: products named per outcome in the run's result (the counts cover all of them)
MAX_LISTED = 50
#: the currency of price-list prices: Fortnox keeps them in the company's currency, kronor
PRICE_CURRENCY = "SEK"
#: why a product was skipped, as the settings page says it
SKIP_REASONS = {
    "no_sku": "without a SKU",
    "invalid_sku": "with a SKU Fortnox does not accept as an article number",
    "duplicate_sku": "with the SKU of another product",
    "refused": "refused by Fortnox",
}
_SKIP_CODES = {"ARTICLE_NUMBER_MISSING": "no_sku", "ARTICLE_NUMBER_INVALID": "invalid_sku"}
#: the article fields kept in step with HubSpot: field -> how the change reads
_COMPARED = {"description": "name", "vat": "VAT", "unit": "unit"}


@dataclass
class ProductSyncReport:
    """What one product sync did to each product; `as_result()` is the run's result."""

    created: list[str] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def skip(self, product: Product, reason: str, message: str) -> None:
        self.skipped.append({"product_id": product.id, "name": product.name or "", "sku": product.sku or "",
                             "reason": reason, "message": message})

    @property
    def counts(self) -> dict[str, int]:
        return {"created": len(self.created), "updated": len(self.updated), "unchanged": len(self.unchanged),
                "skipped": len(self.skipped)}

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        reasons: dict[str, int] = {}
        for item in self.skipped:
            reasons[item["reason"]] = reasons.get(item["reason"], 0) + 1
        return reasons

    def summary(self) -> str:
        """One line for people, e.g. "2 created, 1 updated, 7 unchanged, 3 skipped (2 without a SKU,
        1 refused by Fortnox)"."""
        counts = self.counts
        text = ", ".join(f"{counts[name]} {name}" for name in ("created", "updated", "unchanged", "skipped"))
        reasons = self.skipped_by_reason
        if reasons:
            text += " (" + ", ".join(f"{reasons[reason]} {SKIP_REASONS[reason]}"
                                     for reason in SKIP_REASONS if reason in reasons) + ")"
        return text

    def as_result(self) -> dict[str, Any]:
        return {
            "summary": self.summary(), "counts": self.counts, "skipped_by_reason": self.skipped_by_reason,
            "created": self.created[:MAX_LISTED], "updated": self.updated[:MAX_LISTED],
            "unchanged": self.unchanged[:MAX_LISTED], "skipped": self.skipped[:MAX_LISTED],
        }


def sync_products(current: Attempt) -> dict[str, Any]:
    """Create the missing articles, bring the existing ones in step with their products, and
    answer the run's result (`ProductSyncReport.as_result`)."""
    settings = current.portal_settings
    fortnox = current.fortnox
    report = ProductSyncReport()
    drafts: list[tuple[Product, ArticleDraft]] = []
    seen: set[str] = set()
    for product in _all_products(current.hubspot):
        try:
            draft = article_from_product(product, settings)
        except UserFixableError as error:
            report.skip(product, _SKIP_CODES.get(error.code or "", "refused"), error.message)
            continue
        number = draft.article.article_number or ""
        if number in seen:
            report.skip(product, "duplicate_sku", f"Product '{product.name or product.id}' has SKU {number}, "
                        "like a product before it; only the first becomes the Fortnox article.")
            continue
        seen.add(number)
        drafts.append((product, draft))
    existing = fortnox.find_articles([draft.article.article_number or "" for _, draft in drafts]) if drafts else {}
    for product, draft in drafts:
        number = draft.article.article_number or ""
        try:
            article = existing.get(number)
            if article is None:
                _create(fortnox, draft)
                report.created.append(number)
                continue
            changes = _bring_in_step(fortnox, article, draft)
            if changes:
                report.updated.append({"article_number": number, "changes": changes})
            else:
                report.unchanged.append(number)
        except ConnectionBrokenError:
            raise
        except UserFixableError as error:
            report.skip(product, "refused", error.message)
    logger.info("products synced", extra={"products_" + name: count for name, count in report.counts.items()})
    return report.as_result()


def _create(fortnox: FortnoxArticles, draft: ArticleDraft) -> None:
    fortnox.create_article(draft.article)
    if draft.price is not None:
        fortnox.set_price(draft.price_list, draft.article.article_number or "", draft.price, new_article=True)


def _bring_in_step(fortnox: FortnoxArticles, article: Article, draft: ArticleDraft) -> list[str]:
    """Write what differs between the article in Fortnox and the one the product maps to; the
    changes made, as people read them ("name 'Seat' → 'Seat, 12 months'")."""
    wanted = draft.article
    number = wanted.article_number or ""
    differing: dict[str, Any] = {}
    changes: list[str] = []
    for name, label in _COMPARED.items():
        value, now = getattr(wanted, name), getattr(article, name)
        if value is None or _same(value, now):
            continue  # a default the settings leave empty never clears what Fortnox has
        differing[name] = value
        changes.append(f"{label} {_shown(name, now)} → {_shown(name, value)}")
    if differing:
        fortnox.update_article(number, Article(description=differing.pop("description", article.description),
                                               **differing))
    if draft.price is not None:
        price = cents(draft.price)
        current = fortnox.get_price(draft.price_list, number)
        now = current.price if current is not None else None
        if now is None or cents(Decimal(now)) != price:
            fortnox.set_price(draft.price_list, number, price, new_article=False)
            changes.append(f"price {format_money(now, PRICE_CURRENCY)} → {format_money(price, PRICE_CURRENCY)}")
    return changes


def _same(wanted: Any, now: Any) -> bool:
    if isinstance(wanted, Decimal):
        return now is not None and Decimal(now) == wanted
    return bool(wanted == now)


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "(none)"
    if name == "vat":
        return f"{Decimal(value).normalize():f} %"
    return repr(str(value)) if name == "description" else str(value)


def _all_products(hubspot: HubSpotReads) -> Iterator[Product]:
    """Every product of the portal, oldest first, page by page."""
    after: str | None = None
    while True:
        page = hubspot.search(paths.PRODUCTS, [], Product.PROPERTIES, ["hs_object_id"], 200, after, model=Product)
        yield from page.results  # type: ignore[misc]
        if page.next_after is None:
            return
        after = page.next_after
