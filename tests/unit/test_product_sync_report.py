"""The product sync's report, and how the settings page shows the latest one."""

from __future__ import annotations

from decimal import Decimal as D

from hubnox.hubspot.models import Product
from hubnox.money import format_money
from hubnox.records import Run
from hubnox.services.settings_page import PRODUCT_SYNC_DETAILS, product_sync_summary, run_summary
from hubnox.sync.jobs.products import ProductSyncReport


def report() -> ProductSyncReport:
    done = ProductSyncReport(created=["SEAT-1"], unchanged=["BOOK-1", "BOOK-2"])
    done.updated.append({"article_number": "HOUR-1", "changes": [
        f"price {format_money(D('1200'), 'SEK')} → {format_money(D('1250.5'), 'SEK')}"]})
    done.skip(Product(id="7", properties={"name": "Gift card"}), "no_sku", "Product 'Gift card' has no SKU.")
    done.skip(Product(id="8", properties={"name": "Odd", "hs_sku": "A B"}), "invalid_sku", "Not a number.")
    done.skip(Product(id="9", properties={"name": "Kit", "hs_sku": "KIT"}), "refused", "Fortnox: Ogiltigt värde")
    return done


def test_the_report_counts_every_outcome_and_each_reason_for_skipping() -> None:
    result = report().as_result()
    assert result["counts"] == {"created": 1, "updated": 1, "unchanged": 2, "skipped": 3}
    assert result["skipped_by_reason"] == {"no_sku": 1, "invalid_sku": 1, "refused": 1}
    assert result["summary"] == ("1 created, 1 updated, 2 unchanged, 3 skipped (1 without a SKU, 1 with a SKU "
                                 "Fortnox does not accept as an article number, 1 refused by Fortnox)")
    assert result["skipped"][1] == {"product_id": "8", "name": "Odd", "sku": "A B", "reason": "invalid_sku",
                                    "message": "Not a number."}


def run(result: dict[str, object], kind: str = "sync_products") -> Run:
    return Run(run_id="01KRUN", portal_id="42", kind=kind, trigger="settings",  # type: ignore[arg-type]
               status="succeeded", created_at=1.0, result=result)


def test_the_settings_page_shows_a_product_syncs_summary_and_what_it_updated_or_skipped() -> None:
    shown = run_summary(run(report().as_result()))["productSync"]
    assert shown["summary"].startswith("1 created, 1 updated, 2 unchanged, 3 skipped")
    assert shown["details"] == [
        "HOUR-1: price 1\u00a0200,00\u00a0kr → 1\u00a0250,50\u00a0kr",  # the one money format
        "Gift card: skipped, Product 'Gift card' has no SKU.", "Odd: skipped, Not a number.",
        "Kit: skipped, Fortnox: Ogiltigt värde"]
    assert shown["moreDetails"] == 0


def test_a_long_product_sync_lists_its_first_products_and_counts_the_rest() -> None:
    many = ProductSyncReport()
    for i in range(PRODUCT_SYNC_DETAILS + 3):
        many.skip(Product(id=str(i), properties={"name": f"Item {i}"}), "no_sku", "no SKU")
    shown = product_sync_summary(run(many.as_result()))
    assert shown is not None and len(shown["details"]) == PRODUCT_SYNC_DETAILS and shown["moreDetails"] == 3


def test_other_runs_and_product_syncs_without_a_report_show_no_product_summary() -> None:
    assert run_summary(run({}, "create_document"))["productSync"] is None
    assert run_summary(run({"created": ["SEAT-1"]}))["productSync"] is None  # recorded before reports had a summary
