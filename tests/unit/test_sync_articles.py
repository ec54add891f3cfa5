"""Line items find their Fortnox articles by SKU; missing ones follow the portal's article policy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hubnox.errors import UserFixableError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import Article, FortnoxCustomer
from hubnox.hubspot.models import Deal, LineItem, Product
from hubnox.sync.articles import article_from_product, resolve_articles
from hubnox.sync.documents import build_document
from hubnox.sync.model import CustomerResolution, DealSnapshot
from hubnox.sync.portal_settings import ArticleDefaults, ArticlePolicy, ArticleSettings, PortalSettings

D = Decimal
ZERO = Decimal(0)


def item(line_id: str, name: str, sku: str | None = None, price: str = "100", quantity: str = "1",
         **extra: str) -> LineItem:
    props = {"name": name, "quantity": quantity, "price": price, "hs_sku": sku, **extra}
    props.setdefault("amount", str(D(price) * D(quantity)))
    return LineItem(id=line_id, properties=props)


def snapshot(*lines: LineItem, products: dict[str, Product] | None = None, amount: str | None = None,
             **options: Any) -> DealSnapshot:
    deal = Deal(id="9001", properties={"dealname": "Rollout", "amount": amount})
    return DealSnapshot(deal=deal, line_items=list(lines), products=products or {}, **options)


def settings(policy: ArticlePolicy = ArticlePolicy.CREATE, **changes: Any) -> PortalSettings:
    return PortalSettings(articles=ArticleSettings(policy=policy), **changes)


class FakeArticles:
    """The article port: a company's articles, every call recorded."""

    def __init__(self, *articles: Article) -> None:
        self.articles = {a.article_number or "": a for a in articles}
        self.calls: list[tuple[str, Any]] = []

    def get_article(self, article_number: str) -> Article | None:
        self.calls.append(("get", article_number))
        return self.articles.get(article_number)

    def find_articles(self, article_numbers: Any) -> dict[str, Article | None]:
        return {number: self.get_article(number) for number in dict.fromkeys(article_numbers)}

    def create_article(self, article: Article) -> Article:
        self.calls.append(("create", article))
        self.articles[article.article_number or ""] = article
        return article

    def set_price(self, price_list: str, article_number: str, price: Decimal, from_quantity: Decimal = ZERO,
                  *, new_article: bool = False) -> Any:
        self.calls.append(("price", (price_list, article_number, price)))
        return None

    def made(self, kind: str) -> list[Any]:
        return [argument for name, argument in self.calls if name == kind]


WIDGET = Article(article_number="W-1", description="Widget", vat=D(25))
BOOK = Article(article_number="BOK", description="Bok", vat=D(6))


def test_each_line_is_billed_on_the_article_with_its_sku_asked_for_once_per_sku() -> None:
    fortnox = FakeArticles(WIDGET, BOOK)
    plan = resolve_articles(snapshot(item("1", "Widget", "W-1"), item("2", "Bok", "BOK"),
                                     item("3", "Widget again", "W-1")), settings(), fortnox)
    assert [(p.article_number, p.source, p.article_vat) for p in plan.lines] == [
        ("W-1", "existing", D(25)), ("BOK", "existing", D(6)), ("W-1", "existing", D(25))]
    assert fortnox.made("get") == ["W-1", "BOK"]
    assert plan.created_articles == [] and plan.warnings == []


def test_a_line_without_its_own_sku_uses_its_products_sku() -> None:
    product = Product(id="p1", properties={"name": "Widget", "hs_sku": "W-1"})
    line = item("1", "Widget", None, hs_product_id="p1")
    plan = resolve_articles(snapshot(line, products={"p1": product}), settings(), FakeArticles(WIDGET))
    assert plan.lines[0].article_number == "W-1"


def test_skip_lists_every_missing_article_and_line_without_sku_and_makes_nothing() -> None:
    fortnox = FakeArticles(WIDGET)
    lines = (item("1", "Widget", "W-1"), item("2", "Gadget", "G-9"), item("3", "Custom work", None))
    with pytest.raises(UserFixableError) as failure:
        resolve_articles(snapshot(*lines), settings(ArticlePolicy.SKIP), fortnox)
    assert failure.value.code == "ARTICLE_MISSING"
    assert "'Gadget' (SKU G-9)" in failure.value.message and "'Custom work' (no SKU)" in failure.value.message
    assert "'Widget'" not in failure.value.message
    assert fortnox.made("create") == []


def test_placeholder_bills_missing_articles_on_the_placeholder_creating_it_once() -> None:
    fortnox = FakeArticles(WIDGET)
    lines = (item("1", "Widget", "W-1"), item("2", "Gadget", "G-9", price="75.50"), item("3", "Custom", None))
    plan = resolve_articles(snapshot(*lines), settings(ArticlePolicy.PLACEHOLDER), fortnox)
    assert [(p.article_number, p.source) for p in plan.lines] == [
        ("W-1", "existing"), ("HUBSPOT", "placeholder"), (None, "no_article")]
    [created] = fortnox.made("create")
    assert (created.article_number, created.type, created.vat) == ("HUBSPOT", "SERVICE", D(25))
    assert plan.created_articles == ["HUBSPOT"]
    assert [w.code for w in plan.warnings] == ["PLACEHOLDER_ARTICLE", "NO_ARTICLE_ROW"]


def test_a_placeholder_row_keeps_the_lines_own_name_and_price() -> None:
    fortnox = FakeArticles(Article(article_number="HUBSPOT", description="Övrigt", vat=D(25)))
    snap = snapshot(item("1", "Gadget deluxe", "G-9", price="75.50", quantity="2"))
    plan = resolve_articles(snap, settings(ArticlePolicy.PLACEHOLDER), fortnox)
    customer = CustomerResolution(customer_number="1", customer_name="Acme", action="matched", source="company",
                                  source_id="1", customer=FortnoxCustomer(name="Acme"))
    document = build_document(snap, customer, plan, PortalSettings(), "invoice").document
    row = document.invoice_rows[0]  # type: ignore[union-attr]
    assert (row.article_number, row.description, row.price, row.delivered_quantity) == (
        "HUBSPOT", "Gadget deluxe", D("75.50"), D(2))
    assert fortnox.made("create") == []


def test_create_makes_the_missing_article_from_the_line_and_prices_it_in_the_price_list() -> None:
    fortnox = FakeArticles()
    line = item("1", "Kurslitteratur", "BOK-2", price="349", hs_tax_rate_group_id="r6")
    custom = PortalSettings(articles=ArticleSettings(defaults=ArticleDefaults(unit="st", sales_account=3001,
                                                                              price_list="B")))
    plan = resolve_articles(snapshot(line, line, tax_rates={"r6": D(6)}), custom, fortnox)
    [created] = fortnox.made("create")
    assert (created.article_number, created.description, created.vat, created.type, created.unit,
            created.sales_account) == ("BOK-2", "Kurslitteratur", D(6), "SERVICE", "st", 3001)
    assert fortnox.made("price") == [("B", "BOK-2", D(349))]
    assert [(p.article_number, p.source, p.article_vat) for p in plan.lines] == [("BOK-2", "created", D(6))] * 2
    assert plan.created_articles == ["BOK-2"]
    created.to_payload()


def test_create_bills_lines_without_a_usable_sku_as_rows_without_an_article_instead_of_numbering_new_ones(
        ) -> None:
    fortnox = FakeArticles()
    lines = (item("1", "Custom work", None), item("2", "Odd", "HAS SPACE"), item("3", "Fine", "OK-1"))
    plan = resolve_articles(snapshot(*lines), settings(), fortnox)
    assert [(p.article_number, p.source) for p in plan.lines] == [
        (None, "no_article"), (None, "no_article"), ("OK-1", "created")]
    assert [a.article_number for a in fortnox.made("create")] == ["OK-1"]
    messages = [w.message for w in plan.warnings if w.code == "NO_ARTICLE_ROW"]
    assert len(messages) == 2 and "'Custom work' (no SKU)" in messages[0] and "'Odd'" in messages[1]
    assert "Fortnox's predefined sales account" in messages[0]


def test_skip_still_refuses_a_line_without_a_sku() -> None:
    with pytest.raises(UserFixableError) as failure:
        resolve_articles(snapshot(item("1", "Custom work", None)), settings(ArticlePolicy.SKIP), FakeArticles())
    assert failure.value.code == "ARTICLE_MISSING" and "'Custom work' (no SKU)" in failure.value.message


def _customer(vat_type: str | None = None) -> CustomerResolution:
    return CustomerResolution(customer_number="1", customer_name="Acme", action="matched", source="company",
                              source_id="1", customer=FortnoxCustomer(name="Acme", vat_type=vat_type))


def test_a_row_without_an_article_carries_the_lines_name_quantity_price_discount_vat_and_the_default_account(
        ) -> None:
    custom = PortalSettings(articles=ArticleSettings(defaults=ArticleDefaults(sales_account=3041, vat=12)))
    lines = (item("1", "Konsulttimmar, Åsa", None, price="1250", quantity="8", hs_discount_percentage="10",
                  amount="9000.00", hs_tax_rate_group_id="r25"),
             item("2", "Resekostnad", None, price="480"))
    snap = snapshot(*lines, tax_rates={"r25": D(25)})
    plan = resolve_articles(snap, custom, FakeArticles())
    draft = build_document(snap, _customer(), plan, custom, "invoice")
    rows = draft.document.invoice_rows  # type: ignore[union-attr]
    assert [(r.article_number, r.description, r.delivered_quantity, r.price, r.discount, r.vat, r.account_number)
            for r in rows] == [(None, "Konsulttimmar, Åsa", D(8), D(1250), D(10), 25, 3041),
                               (None, "Resekostnad", D(1), D(480), None, 12, 3041)]
    assert "ArticleNumber" not in rows[0].to_payload() and draft.expected_net == D("9480.00")


@pytest.mark.parametrize(("vat_type", "expected"), [
    ("EUREVERSEDVAT", [0, 0]), ("EXPORT", [0, 0]), ("SEVAT", [6, None]), ("EUVAT", [6, None]), (None, [6, None])])
def test_row_vat_follows_the_customers_vat_type(vat_type: str | None, expected: list[int | None]) -> None:
    snap = snapshot(item("1", "Bok", "BOK", hs_tax_rate_group_id="r6"), item("2", "Widget", "W-1"),
                    tax_rates={"r6": D(6)})
    plan = resolve_articles(snap, settings(), FakeArticles(WIDGET, BOOK))
    draft = build_document(snap, _customer(vat_type), plan, PortalSettings(), "invoice")
    assert [r.vat for r in draft.document.invoice_rows] == expected  # type: ignore[union-attr]
    zero = [w.message for w in draft.warnings if w.code == "ZERO_VAT_CUSTOMER"]
    if vat_type in ("EUREVERSEDVAT", "EXPORT"):
        assert len(zero) == 1 and vat_type in zero[0] and "0 % VAT" in zero[0]
    else:
        assert zero == []


def test_a_row_without_an_article_for_an_export_customer_has_0_vat_and_leaves_the_account_to_fortnox() -> None:
    custom = PortalSettings(articles=ArticleSettings(defaults=ArticleDefaults(sales_account=3041)))
    snap = snapshot(item("1", "Frakt", None, price="300"))
    plan = resolve_articles(snap, custom, FakeArticles())
    [row] = build_document(snap, _customer("EXPORT"), plan, custom, "order").document.order_rows  # type: ignore
    assert (row.article_number, row.vat, row.account_number, row.delivered_quantity) == (None, 0, None, D(1))


def test_an_existing_article_whose_number_hubnox_could_not_create_is_still_found() -> None:
    plan = resolve_articles(snapshot(item("1", "Odd", "HAS SPACE")), settings(),
                            FakeArticles(Article(article_number="HAS SPACE", description="Odd")))
    assert plan.lines[0].source == "existing"


def test_a_long_line_name_becomes_an_article_description_cut_to_200() -> None:
    fortnox = FakeArticles()
    plan = resolve_articles(snapshot(item("1", "Lång beskrivning " * 20, "LONG-1")), settings(), fortnox)
    assert len(fortnox.made("create")[0].description) == 200
    assert [w.code for w in plan.warnings] == ["TEXT_CUT"]


def test_a_deal_without_line_items_fails_by_default_with_a_clear_error() -> None:
    with pytest.raises(UserFixableError) as failure:
        resolve_articles(snapshot(amount="5000"), settings(), FakeArticles())
    assert failure.value.code == "NO_LINE_ITEMS" and "line items" in (failure.value.hint or "")


def test_a_deal_without_line_items_can_be_one_placeholder_row_of_the_deal_amount() -> None:
    fortnox = FakeArticles()
    snap = snapshot(amount="5000.50")
    plan = resolve_articles(snap, settings(no_line_items="placeholder_row"), fortnox)
    [planned] = plan.lines
    assert (planned.article_number, planned.source, planned.line.price, planned.line.quantity) == (
        "HUBSPOT", "placeholder", D("5000.50"), D(1))
    assert [w.code for w in plan.warnings] == ["DEAL_AMOUNT_ROW"]
    customer = CustomerResolution(customer_number="1", customer_name="Acme", action="matched", source="company",
                                  source_id="1", customer=FortnoxCustomer(name="Acme"))
    draft = build_document(snap, customer, plan, PortalSettings(), "invoice")
    assert draft.expected_net == D("5000.50")
    assert draft.document.invoice_rows[0].description == "Rollout"  # type: ignore[union-attr]


def test_a_deal_without_line_items_or_amount_cannot_become_a_placeholder_row() -> None:
    with pytest.raises(UserFixableError, match="no amount"):
        resolve_articles(snapshot(), settings(no_line_items="placeholder_row"), FakeArticles())


def test_a_product_maps_to_an_article_with_its_sku_name_and_price() -> None:
    product = Product(id="p1", properties={"name": "Widget Pro", "hs_sku": "WP-1", "price": "1499.00"})
    draft = article_from_product(product, PortalSettings())
    assert (draft.article.article_number, draft.article.description, draft.article.vat, draft.article.unit) == (
        "WP-1", "Widget Pro", D(25), "st")
    assert (draft.price, draft.price_list) == (D("1499.00"), "A")


def test_a_product_without_sku_cannot_become_an_article() -> None:
    with pytest.raises(UserFixableError) as failure:
        article_from_product(Product(id="p1", properties={"name": "Widget"}), PortalSettings())
    assert failure.value.code == "ARTICLE_NUMBER_MISSING" and "Widget" in failure.value.message


def test_a_product_whose_sku_fortnox_would_refuse_says_so_apart_from_one_without_a_sku() -> None:
    with pytest.raises(UserFixableError) as failure:
        article_from_product(Product(id="p1", properties={"name": "Widget", "hs_sku": "W 1"}), PortalSettings())
    assert failure.value.code == "ARTICLE_NUMBER_INVALID" and "SKU W 1" in failure.value.message
    with pytest.raises(UserFixableError) as failure:
        article_from_product(Product(id="p2", properties={"name": "Widget", "hs_sku": "  "}), PortalSettings())
    assert failure.value.code == "ARTICLE_NUMBER_MISSING"


class RacedArticles(FakeArticles):
    """Another run creates the article between this run's look-up and its create (two deals with the
    same new product at the same moment): Fortnox refuses the second create, as it does."""

    def __init__(self, made_meanwhile: Article) -> None:
        super().__init__()
        self.made_meanwhile = made_meanwhile

    def find_articles(self, article_numbers: Any) -> dict[str, Article | None]:
        found = super().find_articles(article_numbers)
        self.articles[self.made_meanwhile.article_number or ""] = self.made_meanwhile
        return found

    def create_article(self, article: Article) -> Article:
        if (article.article_number or "") in self.articles:
            self.calls.append(("refused", article.article_number))
            raise FortnoxError(400, 2000013, f"Artikelnummer {article.article_number} används redan")
        return super().create_article(article)


def test_an_article_another_run_created_meanwhile_is_used_as_found_instead_of_failing_the_deal() -> None:
    theirs = Article(article_number="BOK-2", description="Kurslitteratur", vat=D(6))
    fortnox = RacedArticles(theirs)

    plan = resolve_articles(snapshot(item("1", "Kurslitteratur", "BOK-2", price="349")), settings(), fortnox)

    assert fortnox.made("refused") == ["BOK-2"] and fortnox.made("price") == []
    assert [p.article_number for p in plan.lines] == ["BOK-2"]
    assert plan.created_articles == []  # this run made nothing: the other run's sync report names it


def test_an_article_number_refused_for_another_reason_still_fails_the_deal() -> None:
    class Refusing(FakeArticles):
        def create_article(self, article: Article) -> Article:
            raise FortnoxError(400, 2000588, "Ogiltigt artikelnummer")

    with pytest.raises(FortnoxError):
        resolve_articles(snapshot(item("1", "Kurslitteratur", "BOK-2")), settings(), Refusing())
