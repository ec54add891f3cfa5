"""Settings checked against the connected Fortnox company's registers, on a fake of its lookups."""

from __future__ import annotations

from typing import Any

import pytest

from hubnox.errors import TransientError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import Article, Currency, PriceList, PrintTemplate, TermsOfPayment
from hubnox.services.settings_check import fortnox_field_errors
from hubnox.sync.portal_settings import PortalSettings


class FakeLookups:
    """A Fortnox company's registers; `refuse` names a register Fortnox will not show."""

    def __init__(self, refuse: dict[str, Exception] | None = None) -> None:
        self.refuse = refuse or {}
        self.reads: list[str] = []

    def _read(self, name: str) -> None:
        self.reads.append(name)
        if name in self.refuse:
            raise self.refuse[name]

    def terms_of_payment(self) -> list[TermsOfPayment]:
        self._read("terms")
        return [TermsOfPayment(code="10"), TermsOfPayment(code="30")]

    def currencies(self) -> list[Currency]:
        self._read("currencies")
        return [Currency(code="SEK"), Currency(code="EUR")]

    def price_lists(self) -> list[PriceList]:
        self._read("price_lists")
        return [PriceList(code="A", pre_selected=True), PriceList(code="B")]

    def print_templates(self, document_type: str = "invoice") -> list[PrintTemplate]:
        self._read(f"templates:{document_type}")
        return [PrintTemplate(template="fakt" if document_type == "invoice" else "orderbekr")]

    def get_article(self, article_number: str) -> Article | None:
        self._read(f"article:{article_number}")
        return Article(article_number="HUBSPOT", description="HubSpot") if article_number == "HUBSPOT" else None


def settings(**values: Any) -> PortalSettings:
    return PortalSettings.model_validate(values)


def fields(errors: list[dict[str, str]]) -> list[str]:
    return [error["field"] for error in errors]


def test_the_defaults_need_nothing_from_fortnox_but_the_price_list():
    fortnox = FakeLookups()

    assert fortnox_field_errors(settings(), fortnox) == []
    assert fortnox.reads == ["price_lists"]


def test_values_fortnox_has_pass():
    chosen = settings(customer_defaults={"terms_of_payment": "30", "currency": "EUR", "price_list": "B",
                                         "invoice_print_template": "fakt", "order_print_template": "orderbekr"},
                      articles={"policy": "placeholder", "placeholder_article_number": "HUBSPOT"})

    assert fortnox_field_errors(chosen, FakeLookups()) == []


def test_each_value_fortnox_lacks_is_named_with_what_it_has():
    chosen = settings(customer_defaults={"terms_of_payment": "45", "currency": "USD", "price_list": "Z",
                                         "invoice_print_template": "orderbekr", "order_print_template": "fakt"},
                      articles={"defaults": {"price_list": "C"}})

    errors = fortnox_field_errors(chosen, FakeLookups())

    assert fields(errors) == ["customer_defaults.terms_of_payment", "customer_defaults.currency",
                              "customer_defaults.price_list", "articles.defaults.price_list",
                              "customer_defaults.invoice_print_template", "customer_defaults.order_print_template"]
    assert errors[0]["message"].startswith("Fortnox has no terms of payment '45' (it has: 10, 30)")


def test_each_register_is_read_once():
    fortnox = FakeLookups()

    fortnox_field_errors(settings(customer_defaults={"price_list": "A"}), fortnox)

    assert fortnox.reads == ["price_lists"]


@pytest.mark.parametrize("uses", [{"articles": {"policy": "placeholder"}}, {"no_line_items": "placeholder_row"}])
def test_the_placeholder_article_must_exist_when_a_setting_bills_on_it(uses):
    chosen = settings(**{**uses, "articles": {**uses.get("articles", {}), "placeholder_article_number": "PH"}})

    assert fields(fortnox_field_errors(chosen, FakeLookups())) == ["articles.placeholder_article_number"]


def test_an_unused_placeholder_article_is_not_asked_for():
    fortnox = FakeLookups()

    fortnox_field_errors(settings(articles={"policy": "skip", "placeholder_article_number": "PH"}), fortnox)

    assert not [read for read in fortnox.reads if read.startswith("article:")]


def test_a_register_fortnox_will_not_show_leaves_its_settings_unchecked():
    fortnox = FakeLookups({"terms": FortnoxError(403, 2000663, "Har inte behörighet")})

    assert fortnox_field_errors(settings(customer_defaults={"terms_of_payment": "45"}), fortnox) == []


def test_a_busy_fortnox_is_a_transient_error_not_a_pass():
    fortnox = FakeLookups({"price_lists": TransientError("busy", code="RATE_LIMITED")})

    with pytest.raises(TransientError):
        fortnox_field_errors(settings(), fortnox)
