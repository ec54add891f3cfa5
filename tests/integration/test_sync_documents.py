"""Deals become Fortnox invoices and orders whose rows come to HubSpot's amounts, to the öre.

"What Fortnox will compute" is not restated here: each built document is run through the Fortnox
simulator's own money rules (`sandbox.fortnox_money`) and, in the last tests, created in the
simulator through the real client, then checked with `check_totals`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hubnox.errors import UserFixableError
from hubnox.fortnox.models import Article, FortnoxCustomer, Invoice, InvoiceRow, Order, OrderRow
from hubnox.hubspot.models import Contact, Deal, LineItem
from hubnox.sync.documents import FortnoxRows, build_document, hubspot_amount
from hubnox.sync.model import ArticlePlan, CustomerResolution, DealSnapshot, DocumentDraft, PlannedLine, SyncWarning
from hubnox.sync.portal_settings import DealMappings, PortalSettings
from hubnox.sync.totals import check_totals
from sandbox import fortnox_money
from tests.support.openapi import OpenApiSpec

D = Decimal


# -- building blocks -------------------------------------------------------------------------------

def line(line_id: str, name: str, quantity: str, price: str, **extra: str | None) -> LineItem:
    """A line item as HubSpot returns it: strings, `amount` computed by HubSpot's rule unless given."""
    props: dict[str, str | None] = {"name": name, "quantity": quantity, "price": price, **extra}
    if "amount" not in extra:
        base = D(price) * D(quantity)
        if extra.get("hs_discount_percentage"):
            off = (base * D(extra["hs_discount_percentage"] or "0") / 100).quantize(D("0.01"), "ROUND_HALF_UP")
        elif extra.get("discount"):
            off = (D(extra["discount"] or "0") * D(quantity)).quantize(D("0.01"), "ROUND_HALF_UP")
        else:
            off = D(0)
        props["amount"] = str(base.quantize(D("0.01"), "ROUND_HALF_UP") - off)
    return LineItem(id=line_id, properties=props)


def snapshot(*lines: LineItem, currency: str | None = "SEK", deal: dict[str, str] | None = None,
             **options: Any) -> DealSnapshot:
    properties = {"dealname": "Acme AB – rollout", "deal_currency_code": currency, **(deal or {})}
    contacts = [Contact(id="51", properties={"firstname": "Åsa", "lastname": "Öberg", "email": "asa@acme.se"})]
    return DealSnapshot(deal=Deal(id="9001", properties=properties), line_items=list(lines), contacts=contacts,
                        owner_name="Sam Seller", **options)


def customer(number: str = "17") -> CustomerResolution:
    return CustomerResolution(customer_number=number, customer_name="Acme AB", action="matched", source="company",
                              source_id="301", customer=FortnoxCustomer(customer_number=number, name="Acme AB"))


def plan(snap: DealSnapshot, vat: int | None = 25) -> ArticlePlan:
    return ArticlePlan(lines=[PlannedLine(line=item, article_number=item.sku or "W-1", source="existing",
                                          article_vat=None if vat is None else D(vat), sku=item.sku)
                              for item in snap.line_items])


def build(snap: DealSnapshot, settings: PortalSettings | None = None, document_type: str = "invoice",
          vat: int | None = 25) -> DocumentDraft:
    return build_document(snap, customer(), plan(snap, vat), settings or PortalSettings(), document_type)


def rows_of(draft: DocumentDraft) -> list[InvoiceRow] | list[OrderRow]:
    document = draft.document
    return document.invoice_rows if isinstance(document, Invoice) else document.order_rows


def fortnox_computes(draft: DocumentDraft, article_vat: int = 25,
                     ) -> tuple[list[Decimal], fortnox_money.DocumentTotals]:
    """Row totals and document totals as the Fortnox simulator computes them for the draft (a row
    without VAT takes its article's, `article_vat`)."""
    inputs = [fortnox_money.RowInput(quantity=row.delivered_quantity, price=row.price,
                                     vat=D(article_vat if row.vat is None else row.vat),
                                     discount=row.discount or D(0), discount_type=row.discount_type or "PERCENT")
              for row in rows_of(draft)]
    totals = fortnox_money.document_totals(inputs, currency=draft.currency)
    return [fortnox_money.row_amounts(row).total for row in inputs], totals


def assert_fortnox_agrees_with_hubspot(draft: DocumentDraft, article_vat: int = 25) -> fortnox_money.DocumentTotals:
    row_totals, totals = fortnox_computes(draft, article_vat)
    for expected in draft.expected_lines:
        assert sum(row_totals[i] for i in expected.row_indexes) == expected.amount, expected.name
    assert totals.net == draft.expected_net
    return totals


def codes(draft: DocumentDraft) -> list[str]:
    return [warning.code for warning in draft.warnings]


# -- the amounts of a line -------------------------------------------------------------------------

def test_hubspots_amount_rounds_the_discount_first_11_90_at_15_percent_is_10_11() -> None:
    without_amount = LineItem(id="1", properties={"quantity": "1", "price": "11.90", "hs_discount_percentage": "15"})
    assert hubspot_amount(without_amount) == D("10.11")


def test_hubspots_own_amount_wins_over_recomputing_it() -> None:
    item = LineItem(id="1", properties={"quantity": "2", "price": "100", "amount": "150.00"})
    assert hubspot_amount(item) == D("150.00")


def test_a_per_unit_discount_is_money_off_each_unit() -> None:
    item = LineItem(id="1", properties={"quantity": "3", "price": "100", "discount": "10"})
    assert hubspot_amount(item) == D("270.00")


def test_fortnox_rounds_the_discounted_row_not_the_discount() -> None:
    assert FortnoxRows.total(D(1), D("11.90"), D(15)) == D("10.12")
    assert fortnox_money.row_amounts(fortnox_money.RowInput(D(1), D("11.90"), D(25), D(15))).total == D("10.12")


# -- rows ------------------------------------------------------------------------------------------

def test_a_plain_sek_deal_becomes_invoice_rows_with_quantity_price_and_vat() -> None:
    snap = snapshot(line("1", "Consulting hours", "10", "1250", hs_sku="CONS"),
                    line("2", "Licence", "3", "499.99", hs_sku="LIC"))
    draft = build(snap)
    rows = rows_of(draft)
    assert [(r.article_number, r.description, r.delivered_quantity, r.price, r.vat) for r in rows] == [
        ("CONS", "Consulting hours", D(10), D(1250), None), ("LIC", "Licence", D(3), D("499.99"), None)]
    assert all(r.discount is None for r in rows)
    totals = assert_fortnox_agrees_with_hubspot(draft)
    assert (totals.net, totals.total_vat, totals.total, totals.round_off) == (
        D("13999.97"), D("3499.99"), D(17500), D("0.04"))
    assert draft.warnings == []


def test_the_header_carries_customer_currency_references_and_the_deal_id() -> None:
    settings = PortalSettings(deal_fields=DealMappings(your_order_number="po_number", remarks="invoice_text"))
    snap = snapshot(line("1", "Widget", "1", "100", hs_sku="W-1"),
                    deal={"po_number": "PO-77", "invoice_text": "Thank you for your order!"})
    document = build(snap, settings).document
    assert isinstance(document, Invoice)
    assert (document.customer_number, document.currency, document.vat_included) == ("17", "SEK", False)
    assert document.external_invoice_reference1 == "9001"
    assert (document.your_reference, document.our_reference) == ("Åsa Öberg", "Sam Seller")
    assert (document.your_order_number, document.remarks) == ("PO-77", "Thank you for your order!")


def test_mapped_deal_properties_replace_the_contact_and_owner_references() -> None:
    settings = PortalSettings(deal_fields=DealMappings(your_reference="buyer", our_reference="seller"))
    snap = snapshot(line("1", "Widget", "1", "100"), deal={"buyer": "Inköp", "seller": "Kim"})
    document = build(snap, settings).document
    assert (document.your_reference, document.our_reference) == ("Inköp", "Kim")


def test_an_order_fills_both_ordered_and_delivered_quantity_so_its_rows_count() -> None:
    snap = snapshot(line("1", "Widget", "4", "250", hs_sku="W-1"))
    draft = build(snap, document_type="order")
    assert isinstance(draft.document, Order)
    row = draft.document.order_rows[0]
    assert (row.ordered_quantity, row.delivered_quantity, row.price) == (D(4), D(4), D(250))
    assert_fortnox_agrees_with_hubspot(draft)
    payload = draft.document.to_payload()
    assert payload["OrderRows"][0]["OrderedQuantity"] == "4"
    OpenApiSpec.load("fortnox/openapi.json").validate_request("POST", "/3/orders", {"Order": payload}, {})


def test_the_invoice_payload_is_what_fortnoxs_spec_accepts() -> None:
    snap = snapshot(line("1", "Konsult", "1.5", "11.90", hs_discount_percentage="15", hs_sku="K"))
    payload = build(snap).document.to_payload()
    OpenApiSpec.load("fortnox/openapi.json").validate_request("POST", "/3/invoices", {"Invoice": payload}, {})
    assert payload["ExternalInvoiceReference1"] == "9001"


# -- discounts -------------------------------------------------------------------------------------

def test_a_percentage_discount_is_sent_as_percent_where_fortnox_gives_hubspots_amount() -> None:
    snap = snapshot(line("1", "Support plan", "4", "1000", hs_discount_percentage="10"))
    draft = build(snap)
    [row] = rows_of(draft)
    assert (row.price, row.discount, row.discount_type) == (D(1000), D(10), "PERCENT")
    assert_fortnox_agrees_with_hubspot(draft)
    assert "DISCOUNT_IN_PRICE" not in codes(draft)


def test_11_90_at_15_percent_folds_the_discount_into_the_price_because_fortnox_would_say_10_12() -> None:
    snap = snapshot(line("1", "Kaffe", "1", "11.90", hs_discount_percentage="15"))
    assert snap.line_items[0].amount == D("10.11")
    draft = build(snap)
    [row] = rows_of(draft)
    assert (row.price, row.discount, row.delivered_quantity) == (D("10.11"), None, D(1))
    assert_fortnox_agrees_with_hubspot(draft)
    [warning] = [w for w in draft.warnings if w.code == "DISCOUNT_IN_PRICE"]
    assert "10.12" in warning.message and "10.11" in warning.message and "15 %" in warning.message


def test_a_percentage_that_neither_sends_nor_folds_exactly_becomes_a_discount_row() -> None:
    # 3 × 11.90 = 35.70; HubSpot: discount 5.355 -> 5.36, amount 30.34; Fortnox PERCENT -> 30.35;
    # 30.34 / 3 is no whole öre price.
    snap = snapshot(line("1", "Kaffe", "3", "11.90", hs_discount_percentage="15", hs_sku="KAFFE"))
    draft = build(snap, vat=12)
    rows = rows_of(draft)
    assert [(r.article_number, r.description, r.delivered_quantity, r.price) for r in rows] == [
        ("KAFFE", "Kaffe", D(3), D("11.90")), ("KAFFE", "Discount: Kaffe", D(1), D("-5.36"))]
    assert draft.expected_lines[0].row_indexes == [0, 1]
    assert_fortnox_agrees_with_hubspot(draft, article_vat=12)
    assert "DISCOUNT_ROW" in codes(draft)


def test_an_amount_discount_per_unit_is_folded_into_the_price_and_never_sent_as_amount() -> None:
    snap = snapshot(line("1", "Licence", "3", "100", discount="10"))
    draft = build(snap)
    [row] = rows_of(draft)
    assert (row.price, row.discount_type) == (D(90), None)
    assert_fortnox_agrees_with_hubspot(draft)
    assert "DISCOUNT_IN_PRICE" in codes(draft)


def test_an_amount_discount_that_leaves_no_whole_ore_price_becomes_a_discount_row() -> None:
    snap = snapshot(line("1", "Licence", "3", "100", discount="0.005"))  # 0.015 off -> 0.02
    draft = build(snap)
    rows = rows_of(draft)
    assert [(r.price, r.delivered_quantity) for r in rows] == [(D(100), D(3)), (D("-0.02"), D(1))]
    assert all(r.discount_type is None for r in rows)
    assert_fortnox_agrees_with_hubspot(draft)


# -- VAT, currency, rounding -----------------------------------------------------------------------

def test_each_line_takes_its_tax_rate_from_hubspot_and_fortnox_computes_vat_per_rate() -> None:
    rates = {"r25": D("25"), "r12": D("12.0"), "r6": D(6), "r0": D(0)}
    snap = snapshot(line("1", "Konsult", "2", "1000", hs_tax_rate_group_id="r25"),
                    line("2", "Hotellnatt", "1", "1499", hs_tax_rate_group_id="r12"),
                    line("3", "Bok", "3", "199.90", hs_tax_rate_group_id="r6"),
                    line("4", "Export", "1", "500", hs_tax_rate_group_id="r0"),
                    line("5", "Artikelns moms", "1", "100"), tax_rates=rates)
    draft = build(snap, vat=25)
    assert [r.vat for r in rows_of(draft)] == [25, 12, 6, 0, None]
    totals = assert_fortnox_agrees_with_hubspot(draft)
    assert totals.vat_by_rate == {D(25): D("525.00"), D(12): D("179.88"), D(6): D("35.98")}
    assert totals.total == D(5440)


def test_an_unknown_tax_rate_leaves_the_vat_to_the_article_with_a_warning() -> None:
    draft = build(snapshot(line("1", "Bok", "1", "100", hs_tax_rate_group_id="gone")), vat=6)
    assert rows_of(draft)[0].vat is None
    assert "UNKNOWN_TAX_RATE" in codes(draft)


def test_vat_from_hubspot_on_a_customer_fortnox_bills_without_vat_becomes_0_and_is_pointed_out() -> None:
    snap = snapshot(line("1", "Konsult", "1", "100", hs_tax_rate_group_id="r25"), tax_rates={"r25": D(25)})
    export = customer().model_copy(update={"customer": FortnoxCustomer(name="Acme Inc", vat_type="EXPORT")})
    draft = build_document(snap, export, plan(snap), PortalSettings(), "invoice")
    assert "ZERO_VAT_CUSTOMER" in codes(draft) and rows_of(draft)[0].vat == 0
    assert "ZERO_VAT_CUSTOMER" not in codes(build(snap)) and rows_of(build(snap))[0].vat == 25


def test_a_tax_rate_fortnox_does_not_have_is_the_users_to_fix() -> None:
    snap = snapshot(line("1", "Bok", "1", "100", hs_tax_rate_group_id="r24"), tax_rates={"r24": D(24)})
    with pytest.raises(UserFixableError) as failure:
        build(snap)
    assert failure.value.code == "UNSUPPORTED_VAT_RATE" and "24" in failure.value.message


def test_a_eur_deal_keeps_its_cents_and_its_currency() -> None:
    snap = snapshot(line("1", "Workshop", "1", "1234.56", hs_line_item_currency_code="EUR"),
                    line("2", "Travel", "1", "99.99"), currency="EUR")
    draft = build(snap)
    assert draft.currency == "EUR" and draft.document.currency == "EUR"
    totals = assert_fortnox_agrees_with_hubspot(draft)
    assert (totals.total, totals.round_off) == (D("1668.19"), D(0))


def test_line_items_in_another_currency_than_the_deal_are_refused() -> None:
    snap = snapshot(line("1", "Workshop", "1", "100", hs_line_item_currency_code="USD"), currency="EUR")
    with pytest.raises(UserFixableError, match="USD"):
        build(snap)


def test_a_deal_without_currency_is_in_the_portals_currency() -> None:
    draft = build(snapshot(line("1", "Widget", "1", "100"), currency=None, portal_currency="NOK"))
    assert draft.currency == "NOK"


def test_a_price_with_more_decimals_than_fortnox_keeps_is_made_up_by_an_adjustment_row() -> None:
    snap = snapshot(line("1", "API calls", "1000", "0.125", hs_sku="API"))  # HubSpot: 125.00; Fortnox: 0.13 × 1000
    draft = build(snap)
    rows = rows_of(draft)
    assert [(r.description, r.price, r.delivered_quantity) for r in rows] == [
        ("API calls", D("0.13"), D(1000)), ("Price adjustment: API calls", D("-5.00"), D(1))]
    assert_fortnox_agrees_with_hubspot(draft)
    assert "ADJUSTMENT_ROW" in codes(draft)


def test_a_quantity_with_three_decimals_is_rounded_and_the_amount_still_holds() -> None:
    snap = snapshot(line("1", "Timmar", "1.333", "900"))  # HubSpot 1199.70; Fortnox keeps 1.33
    draft = build(snap)
    assert rows_of(draft)[0].delivered_quantity == D("1.33")
    assert_fortnox_agrees_with_hubspot(draft)
    assert "QUANTITY_ROUNDED" in codes(draft)


def test_zero_quantity_and_free_rows_are_kept_at_zero() -> None:
    snap = snapshot(line("1", "Optional extra", "0", "500"), line("2", "Onboarding (free)", "1", "0"),
                    line("3", "Licence", "2", "100"))
    draft = build(snap)
    rows = rows_of(draft)
    assert [(r.delivered_quantity, r.price) for r in rows] == [(D(0), D(500)), (D(1), D(0)), (D(2), D(100))]
    assert [line.amount for line in draft.expected_lines] == [D(0), D(0), D(200)]
    assert_fortnox_agrees_with_hubspot(draft)
    assert draft.warnings == []


def test_the_deals_amount_is_never_what_is_invoiced() -> None:
    snap = snapshot(line("1", "Licence", "2", "100"), deal={"amount": "999999"})
    draft = build(snap)
    assert draft.expected_net == D(200)
    assert fortnox_computes(draft)[1].net == D(200)


# -- texts -----------------------------------------------------------------------------------------

def test_a_long_line_name_is_cut_to_255_characters_with_a_warning() -> None:
    name = "Implementation " * 30
    draft = build(snapshot(line("1", name, "1", "100")))
    description = rows_of(draft)[0].description or ""
    assert len(description) == 255 and description.endswith("…")
    assert "TEXT_CUT" in codes(draft)
    draft.document.to_payload()  # within every Fortnox limit now


def test_unicode_names_keep_swedish_letters_and_lose_emoji_with_a_warning() -> None:
    draft = build(snapshot(line("1", "Smörgåstårta 🎉 för 10 € – “deluxe”", "1", "100")))
    assert rows_of(draft)[0].description == "Smörgåstårta för 10 € – “deluxe”"
    assert "TEXT_CHARACTERS_REMOVED" in codes(draft)


def test_over_long_references_are_cut_to_fortnoxs_limits_not_refused() -> None:
    settings = PortalSettings(deal_fields=DealMappings(your_order_number="po_number"))
    snap = snapshot(line("1", "Widget", "1", "100"), deal={"po_number": "PO-" + "9" * 40})
    document = build(snap, settings).document
    assert len(document.your_order_number or "") == 30
    assert "TEXT_CUT" in codes(build(snap, settings))


def test_warnings_of_the_customer_and_article_steps_travel_with_the_draft() -> None:
    snap = snapshot(line("1", "Widget", "1", "100"))
    step = SyncWarning(code="PLACEHOLDER_ARTICLE", message="placeholder")
    planned = plan(snap).model_copy(update={"warnings": [step]})
    draft = build_document(snap, customer(), planned, PortalSettings(), "invoice")
    assert draft.warnings[0] == step


def test_a_missing_quantity_bills_one_with_a_warning() -> None:
    item = LineItem(id="1", properties={"name": "Setup", "price": "500", "amount": "500.00"})
    draft = build(snapshot(item))
    assert rows_of(draft)[0].delivered_quantity == D(1)
    assert "QUANTITY_MISSING" in codes(draft)


# -- through the Fortnox simulator -----------------------------------------------------------------

REALISTIC = [
    line("1", "Konsulttimmar", "12.5", "1150", hs_discount_percentage="7.5", hs_sku="KONS",
         hs_tax_rate_group_id="r25"),
    line("2", "Kaffe", "3", "11.90", hs_discount_percentage="15", hs_sku="KAFFE", hs_tax_rate_group_id="r12"),
    line("3", "Kurslitteratur", "4", "349", discount="24.50", hs_sku="BOK", hs_tax_rate_group_id="r6"),
    line("4", "Onboarding", "1", "0", hs_sku="KONS", hs_tax_rate_group_id="r25"),
    line("5", "Tillval", "0", "990", hs_sku="BOK", hs_tax_rate_group_id="r6"),
]
RATES = {"r25": D(25), "r12": D(12), "r6": D(6)}


@pytest.mark.parametrize("document_type", ["invoice", "order"])
def test_a_realistic_deal_created_in_the_simulator_has_no_totals_differences(
    fortnox_company: Any, document_type: str,
) -> None:
    client = fortnox_company
    number = client.create_customer(FortnoxCustomer(name="Acme AB")).customer_number
    for sku, vat in (("KONS", 25), ("KAFFE", 12), ("BOK", 6)):
        client.create_article(Article(article_number=sku, description=sku, vat=D(vat)))
    snap = snapshot(*REALISTIC, tax_rates=RATES)
    draft = build_document(snap, customer(number), plan(snap), PortalSettings(), document_type)
    created = client.create_invoice(draft.document) if document_type == "invoice" else client.create_order(
        draft.document)
    differences = check_totals(draft, created)
    assert [d.kind for d in differences] == ["rounding"]
    assert created.net == draft.expected_net == D("14625.21")
    assert "öresavrundning" in differences[0].explanation


def test_a_percentage_sent_as_is_would_have_been_reported_one_ore_off(fortnox_company: Any) -> None:
    client = fortnox_company
    number = client.create_customer(FortnoxCustomer(name="Acme AB")).customer_number
    client.create_article(Article(article_number="KAFFE", description="Kaffe", vat=D(12)))
    snap = snapshot(line("1", "Kaffe", "1", "11.90", hs_discount_percentage="15", hs_sku="KAFFE"))
    draft = build_document(snap, customer(number), plan(snap, 12), PortalSettings(), "invoice")
    naive = draft.document.model_copy(update={"invoice_rows": [InvoiceRow(
        article_number="KAFFE", description="Kaffe", delivered_quantity=D(1), price=D("11.90"), vat=12,
        discount=D(15), discount_type="PERCENT")]})
    differences = check_totals(draft, client.create_invoice(naive))
    assert [(d.kind, d.expected, d.actual) for d in differences[:2]] == [
        ("row", D("10.11"), D("10.12")), ("net", D("10.11"), D("10.12"))]
    assert check_totals(draft, client.create_invoice(draft.document))[0].kind == "rounding"


@pytest.fixture
def fortnox_company() -> Any:
    """The real Fortnox client on a fresh company of the Fortnox simulator, on a hand-moved clock."""
    import httpx

    from hubnox.api_http import build_http_client
    from hubnox.fortnox.client import FortnoxClient
    from hubnox.fortnox.oauth import FortnoxOAuth
    from hubnox.rate_budget import LocalRateBudget
    from sandbox.fortnox import FortnoxSimulator
    from tests.support.clock import FakeClock

    clock = FakeClock()
    simulator = FortnoxSimulator(clock=clock, wall_clock=clock)
    http = build_http_client("https://api.fortnox.se", transport=httpx.WSGITransport(app=simulator))
    created = http.post("/_sandbox/companies", json={"serviceConsent": {"clientId": "cid"}}).json()
    tenant = str(created["tenantId"])
    tokens = FortnoxOAuth(http, client_id="cid", client_secret="s", auth_url="https://apps.fortnox.se"
                          ).client_credentials(tenant)

    class Token:
        def token(self) -> str:
            return tokens.access_token

        def invalidate(self, token: str) -> None:
            pass

    return FortnoxClient(http, Token(), LocalRateBudget(clock=clock, sleep=clock.sleep),
                         FortnoxClient.tenant_key_for("cid", tenant))
