"""After the create, Fortnox's amounts are held against the deal's line items and explained."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hubnox.fortnox.models import FortnoxCustomer, Invoice, Order
from hubnox.hubspot.models import Deal, LineItem
from hubnox.sync.documents import build_document
from hubnox.sync.model import ArticlePlan, CustomerResolution, DealSnapshot, DocumentDraft, PlannedLine
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.totals import check_totals
from sandbox import fortnox_money

D = Decimal
ZERO = Decimal(0)


def draft_for(*lines: tuple[str, str, str], currency: str = "SEK", vat: int = 25,
              document_type: str = "invoice") -> DocumentDraft:
    items = [LineItem(id=str(n), properties={"name": name, "quantity": quantity, "price": price,
                                             "amount": str((D(quantity) * D(price)).quantize(D("0.01")))})
             for n, (name, quantity, price) in enumerate(lines, 1)]
    snap = DealSnapshot(deal=Deal(id="9001", properties={"deal_currency_code": currency}), line_items=items)
    plan = ArticlePlan(lines=[PlannedLine(line=i, article_number="W-1", source="existing", article_vat=D(vat))
                              for i in items])
    customer = CustomerResolution(customer_number="1", customer_name="Acme", action="matched", source="company",
                                  source_id="1", customer=FortnoxCustomer(name="Acme"))
    return build_document(snap, customer, plan, PortalSettings(), document_type)


def as_created(draft: DocumentDraft, freight: Decimal = ZERO, article_vat: int = 25, **overrides: Any,
               ) -> Invoice | Order:
    """The document as Fortnox answers the create: rows (VAT from the article where the row names
    none) and header totals by the simulator's money rules."""
    document = draft.document
    sent = document.invoice_rows if isinstance(document, Invoice) else document.order_rows
    rows = [r.model_copy(update={"vat": article_vat if r.vat is None else r.vat}) for r in sent]
    inputs = [fortnox_money.RowInput(r.delivered_quantity, r.price, D(r.vat or 0), r.discount or D(0),
                                     r.discount_type or "PERCENT") for r in rows]
    totals = fortnox_money.document_totals(inputs, currency=draft.currency, freight=freight)
    created_rows = [r.model_copy(update={"total": fortnox_money.row_amounts(i).total}) for r, i in zip(rows, inputs,
                                                                                                        strict=True)]
    key = "invoice_rows" if isinstance(document, Invoice) else "order_rows"
    return document.model_copy(update={
        "document_number": "1001", key: created_rows, "net": totals.net, "total_vat": totals.total_vat,
        "round_off": totals.round_off, "total": totals.total, "gross": totals.gross, "freight": freight,
        "freight_vat": totals.freight_vat, **overrides})


def test_a_document_that_matches_the_line_items_has_nothing_to_report() -> None:
    draft = draft_for(("Workshop", "1", "1234.56"), ("Travel", "2", "50.25"), currency="EUR")
    assert check_totals(draft, as_created(draft)) == []


def test_a_row_that_fortnox_totals_differently_is_reported_with_both_amounts() -> None:
    draft = draft_for(("Kaffe", "1", "10.11"), ("Bulle", "2", "25"), currency="EUR")
    created = as_created(draft)
    rows = [created.invoice_rows[0].model_copy(update={"total": D("10.12")}), created.invoice_rows[1]]  # type: ignore[union-attr]
    differences = check_totals(draft, created.model_copy(update={"invoice_rows": rows, "net": D("60.12")}))
    assert [(d.kind, d.subject, d.expected, d.actual, d.difference) for d in differences] == [
        ("row", "Kaffe", D("10.11"), D("10.12"), D("0.01")), ("net", "Net", D("60.11"), D("60.12"), D("0.01"))]
    assert "10,12\u00a0EUR" in differences[0].explanation and "+0,01\u00a0EUR" in differences[0].explanation


def test_per_rate_vat_that_differs_from_line_by_line_rounding_is_explained() -> None:
    draft = draft_for(("Skruv", "1", "0.02"), ("Mutter", "1", "0.02"), currency="EUR")
    created = as_created(draft)
    assert created.total_vat == D("0.01")  # 0.04 × 25 %, rounded once
    [difference] = check_totals(draft, created)
    assert (difference.kind, difference.expected, difference.actual) == ("vat", D("0.02"), D("0.01"))
    assert "each VAT rate" in difference.explanation


def test_sek_rounding_to_whole_kronor_is_explained_as_oresavrundning() -> None:
    draft = draft_for(("Licence", "3", "499.99"))
    [difference] = check_totals(draft, as_created(draft))
    assert (difference.kind, difference.actual) == ("rounding", D("0.04"))
    assert "öresavrundning" in difference.explanation and "1\u00a0875,00\u00a0kr" in difference.explanation


def test_a_freight_fortnox_added_from_the_customer_is_reported() -> None:
    draft = draft_for(("Licence", "1", "100"), currency="EUR")
    differences = check_totals(draft, as_created(draft, freight=D(95)))
    assert [(d.kind, d.actual) for d in differences] == [("fees", D(95))]


def test_a_document_in_another_currency_or_with_other_rows_is_reported() -> None:
    draft = draft_for(("Licence", "1", "100"), ("Support", "1", "50"), currency="EUR")
    created = as_created(draft)
    short = created.model_copy(update={"invoice_rows": created.invoice_rows[:1], "currency": "SEK"})  # type: ignore[union-attr]
    kinds = [d.kind for d in check_totals(draft, short)]
    assert kinds[:2] == ["currency", "rows"]


def test_an_orders_totals_are_checked_the_same_way() -> None:
    draft = draft_for(("Licence", "2", "100"), document_type="order", currency="EUR")
    created = as_created(draft)
    assert isinstance(created, Order) and check_totals(draft, created) == []
    rows = [created.order_rows[0].model_copy(update={"total": D(0)})]
    assert [d.kind for d in check_totals(draft, created.model_copy(update={"order_rows": rows}))] == ["row"]
