"""Which Fortnox article each line item is billed on.

A line item's article number is its SKU (`hs_sku`), else its product's SKU. Fortnox is asked
once per distinct SKU. A line whose article Fortnox lacks, or that has no SKU at all, follows
the portal's `ArticlePolicy`:

- `skip`: no document; the error lists every such line by name and SKU;
- `placeholder`: a line with a SKU Fortnox lacks goes on the placeholder article (created when
  Fortnox lacks it) and keeps the line's own name and price;
- `create`: the article is created with the SKU as its number, the line's name as description
  and the line's unit price in the price list.

Under `placeholder` and `create`, a line without a SKU hubnox can use (none, or one Fortnox
would refuse as an article number) becomes a row without an article: the line's name as the
row text, its quantity, price, discount and VAT, booked on the article defaults' sales account
(or Fortnox's predefined one), with a warning. Creating an article for it is no option (Fortnox
would number a new article on every run), and the placeholder would hide what was sold.

A deal without line items follows `no_line_items`: `fail`, or one row for the deal's amount on
the placeholder article (the only place the deal's `amount` is ever invoiced, and said so).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from hubnox.errors import UserFixableError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import Article, Limits
from hubnox.hubspot.models import LineItem, Product
from hubnox.ids import ARTICLE_NUMBER_PATTERN
from hubnox.sync.model import ArticleDraft, ArticlePlan, DealSnapshot, PlannedLine, SyncWarning, fortnox_text
from hubnox.sync.portal_settings import ArticlePolicy, PortalSettings
from hubnox.sync.ports import FortnoxArticles

#: the description of a placeholder article hubnox creates
PLACEHOLDER_DESCRIPTION = "Line item from HubSpot"


#: Fortnox's code for "Artikelnummer … används redan": the article number is taken
ARTICLE_NUMBER_IN_USE = 2000013


def resolve_articles(snapshot: DealSnapshot, settings: PortalSettings, fortnox: FortnoxArticles) -> ArticlePlan:
    """The article for every line item, in the deal's order, after applying the article policy;
    lines without a usable SKU get no article (`no_article`) unless the policy is `skip`.

    Raises `UserFixableError` when the policy is `skip` and articles are missing, or when the deal
    has no line items and the settings say to fail (or there is no deal amount to bill instead).
    """
    if not snapshot.line_items:
        return _deal_amount_plan(snapshot, settings, fortnox)
    skus = [sku for line in snapshot.line_items if (sku := _article_number(snapshot.sku_of(line))) is not None]
    found: dict[str, Article | None] = fortnox.find_articles(skus) if skus else {}
    missing = [line for line in snapshot.line_items
               if found.get(_article_number(snapshot.sku_of(line)) or "") is None]
    policy = settings.articles.policy
    if missing and policy is ArticlePolicy.SKIP:
        raise UserFixableError(
            f"Fortnox has no article for {_describe(snapshot, missing)}.",
            code="ARTICLE_MISSING",
            hint="Create these articles in Fortnox (article number = the product's SKU), or choose the "
            "placeholder or create policy in hubnox settings, then replay.")
    plan = _Planner(snapshot, settings, fortnox, found)
    if policy is ArticlePolicy.CREATE:
        plan.create_missing(missing)
    return plan.build()


class _Planner:
    """Builds the plan; creates the articles the policy asks for, each once."""

    def __init__(self, snapshot: DealSnapshot, settings: PortalSettings, fortnox: FortnoxArticles,
                 found: dict[str, Article | None]) -> None:
        self.snapshot = snapshot
        self.settings = settings
        self.fortnox = fortnox
        self.found = found
        self.created: list[str] = []
        self.warnings: list[SyncWarning] = []
        self._placeholder: Article | None = None

    def create_missing(self, missing: list[LineItem]) -> None:
        for line in missing:
            sku = _creatable(self.snapshot.sku_of(line))
            if sku is not None and self.found.get(sku) is None:
                self.found[sku] = self._create(sku, line)

    def _create(self, sku: str, line: LineItem) -> Article:
        product = self.snapshot.product_of(line)
        vat, warning = self.snapshot.line_vat(line)
        if warning:
            self.warnings.append(warning)
        name = line.name or (product.name if product else None) or sku
        draft = _article_draft(sku, name, line.price, vat, self.settings, f"article {sku}")
        self.warnings.extend(draft.warnings)
        try:
            article = self.fortnox.create_article(draft.article)
        except FortnoxError as refused:
            return self._created_meanwhile(sku, refused)  # with the price the other run set
        if draft.price is not None:
            self.fortnox.set_price(draft.price_list, sku, draft.price, new_article=True)
        self.created.append(sku)
        return article

    def _created_meanwhile(self, number: str, refused: FortnoxError) -> Article:
        """The article another run created between this run's look-up and its create (two deals with
        the same new product at the same moment), as Fortnox has it; re-raises any other refusal."""
        if refused.fortnox_code != ARTICLE_NUMBER_IN_USE:
            raise refused
        made = self.fortnox.get_article(number)
        if made is None:
            raise refused
        return made

    def placeholder(self) -> Article:
        if self._placeholder is None:
            number = self.settings.articles.placeholder_article_number
            article = self.fortnox.get_article(number)
            if article is None:
                defaults = self.settings.articles.defaults
                try:
                    article = self.fortnox.create_article(Article(
                        article_number=number, description=PLACEHOLDER_DESCRIPTION, type="SERVICE",
                        unit=defaults.unit, vat=Decimal(defaults.vat), sales_account=defaults.sales_account))
                    self.created.append(number)
                except FortnoxError as refused:
                    article = self._created_meanwhile(number, refused)
            self._placeholder = article
        return self._placeholder

    def _without_article(self, line: LineItem) -> bool:
        """True (with a warning) when the line goes out as a row without an article: it has no SKU
        that could be an article number hubnox creates, or no SKU at all under `placeholder`."""
        raw = self.snapshot.sku_of(line)
        policy = self.settings.articles.policy
        if policy is ArticlePolicy.PLACEHOLDER and _article_number(raw) is not None:
            return False
        if policy is ArticlePolicy.CREATE and _creatable(raw) is not None:
            return False
        account = self.settings.articles.defaults.sales_account
        booked = (f"sales account {account} (Fortnox's predefined one for reverse-charge and export customers)"
                  if account else "Fortnox's predefined sales account")
        self.warnings.append(SyncWarning(
            code="NO_ARTICLE_ROW",
            message=f"Line item '{line.name or line.id}' ({_sku_text(raw)}) has no SKU hubnox can use as a Fortnox "
            f"article number, so it is billed as a row without an article (its own name, quantity, price and VAT), "
            f"booked on {booked}. Give the product a SKU in HubSpot to bill it on an article."))
        return True

    def build(self) -> ArticlePlan:
        lines = []
        for line in self.snapshot.line_items:
            sku = _article_number(self.snapshot.sku_of(line))
            article = self.found.get(sku or "")
            source: Literal["existing", "created", "placeholder"]
            if article is None and self._without_article(line):
                lines.append(PlannedLine(line=line, article_number=None, source="no_article", sku=sku))
                continue
            if article is None:
                article, source = self.placeholder(), "placeholder"
                self.warnings.append(SyncWarning(
                    code="PLACEHOLDER_ARTICLE",
                    message=f"Fortnox has no article for line item '{line.name or line.id}' "
                    f"({_sku_text(self.snapshot.sku_of(line))}); it is billed on the placeholder article "
                    f"{article.article_number} with its own name and price."))
            else:
                source = "created" if sku in self.created else "existing"
            lines.append(PlannedLine(line=line, article_number=article.article_number or sku or "",
                                     source=source, article_vat=article.vat, sku=sku))
        return ArticlePlan(lines=lines, created_articles=list(dict.fromkeys(self.created)),
                           warnings=self.warnings)


def _deal_amount_plan(snapshot: DealSnapshot, settings: PortalSettings, fortnox: FortnoxArticles) -> ArticlePlan:
    deal = snapshot.deal
    if settings.no_line_items == "fail":
        raise UserFixableError(
            f"Deal {deal.id} has no line items, so there is nothing to invoice.",
            code="NO_LINE_ITEMS",
            hint="Add the products sold as line items on the deal in HubSpot, then replay.")
    amount = deal.amount
    if amount is None or amount <= 0:
        raise UserFixableError(
            f"Deal {deal.id} has no line items and no amount, so there is nothing to invoice.",
            code="NO_LINE_ITEMS",
            hint="Add the products sold as line items on the deal in HubSpot, then replay.")
    text = format(amount, "f")
    row = LineItem(id=f"deal-{deal.id}", properties={
        "name": deal.name or f"Deal {deal.id}", "quantity": "1", "price": text, "amount": text})
    planner = _Planner(snapshot, settings, fortnox, {})
    article = planner.placeholder()
    planner.warnings.append(SyncWarning(
        code="DEAL_AMOUNT_ROW",
        message=f"The deal has no line items; it is billed as one row of its amount ({text}) on the "
        f"placeholder article {article.article_number}. Check that the amount is what should be invoiced."))
    return ArticlePlan(lines=[PlannedLine(line=row, article_number=article.article_number or "",
                                          source="placeholder", article_vat=article.vat)],
                       created_articles=planner.created, warnings=planner.warnings)


def article_from_product(product: Product, settings: PortalSettings) -> ArticleDraft:
    """The Fortnox article a HubSpot product maps to (SKU as number, name as description, the
    article defaults) and its unit price for the price list, for the sync-products job.

    Raises `UserFixableError` when the product has no SKU (code `ARTICLE_NUMBER_MISSING`) or one
    Fortnox does not accept as an article number (`ARTICLE_NUMBER_INVALID`).
    """
    if not (product.sku or "").strip():
        raise UserFixableError(
            f"Product '{product.name or product.id}' has no SKU, so it cannot become a Fortnox article: "
            "the article number is the SKU.",
            code="ARTICLE_NUMBER_MISSING",
            hint="Give the product a SKU in HubSpot, then sync products again.")
    sku = _creatable(product.sku)
    if sku is None:
        raise UserFixableError(
            f"Product '{product.name or product.id}' ({_sku_text(product.sku)}) cannot become a Fortnox article: "
            "an article number is at most 50 letters, digits and - + / _ .",
            code="ARTICLE_NUMBER_INVALID",
            hint="Change the product's SKU in HubSpot to one Fortnox accepts, then sync products again.")
    return _article_draft(sku, product.name or product.description or sku, product.price, None, settings,
                          f"product '{product.name or product.id}'")


def _article_draft(number: str, name: str, price: Decimal | None, vat: Decimal | None, settings: PortalSettings,
                   what: str) -> ArticleDraft:
    defaults = settings.articles.defaults
    description, warnings = fortnox_text(name, Limits.ARTICLE_DESCRIPTION, f"the description of {what}")
    article = Article(article_number=number, description=description or number, type=defaults.type,
                      unit=defaults.unit, vat=vat if vat is not None else Decimal(defaults.vat),
                      sales_account=defaults.sales_account)
    return ArticleDraft(article=article, price=price, price_list=defaults.price_list, warnings=warnings)


def _article_number(sku: str | None) -> str | None:
    """The SKU as the number to look an article up by; None when there is none or it is longer than
    any Fortnox article number."""
    text = (sku or "").strip()
    return text if 0 < len(text) <= Limits.ARTICLE_NUMBER else None


def _creatable(sku: str | None) -> str | None:
    """The SKU as the number of an article hubnox creates: only characters Fortnox accepts."""
    text = (sku or "").strip()
    return text if ARTICLE_NUMBER_PATTERN.fullmatch(text) and text.strip(".") else None


def _sku_text(sku: str | None) -> str:
    if sku is None:
        return "no SKU"
    if _article_number(sku) is None:
        return f"SKU {sku!r}, too long for a Fortnox article number"
    return f"SKU {sku}"


def _describe(snapshot: DealSnapshot, lines: list[LineItem]) -> str:
    parts = [f"'{line.name or line.id}' ({_sku_text(snapshot.sku_of(line))})" for line in lines]
    return ("line item " if len(parts) == 1 else "the line items ") + ", ".join(parts)
