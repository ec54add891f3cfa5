"""Totals, VAT and rounding of Fortnox documents, by the rules and recorded facts of money.md."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox import fortnox_money as money
from tests.sandbox.test_fortnox_support import connect


@pytest.fixture
def api():
    connected = connect()
    connected.customer(CustomerNumber="100", Name="Kafferosteriet AB")
    return connected


def D(text: str) -> Decimal:
    return Decimal(text)


# -- the rules, one by one ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"), [("1.123", "1.12"), ("1.125", "1.13"), ("-1.125", "-1.13"), ("2", "2.00")]
)
def test_prices_and_quantities_are_kept_with_two_decimals_half_up(raw, stored):
    assert money.round_cents(money.to_decimal(raw)) == D(stored)


def test_a_row_total_is_delivered_quantity_times_price():
    amounts = money.row_amounts(money.RowInput(quantity=D("3.00"), price=D("499.90"), vat=D(25)))

    assert amounts.total == D("1499.70")
    assert amounts.total_excluding_vat == amounts.total


def test_a_row_without_delivered_quantity_totals_zero():
    assert money.row_amounts(money.RowInput(quantity=None, price=D("100"), vat=D(25))).total == 0


def test_a_sek_total_is_rounded_to_whole_kronor_with_the_difference_in_round_off():
    totals = money.document_totals([money.RowInput(quantity=D(1), price=D("1358.58"), vat=D(25))])

    assert totals.net == D("1358.58")
    assert totals.total_vat == D("339.65")
    assert totals.total == D("1698")
    assert totals.round_off == D("-0.23")
    assert totals.total_to_pay == totals.total


def test_half_an_ore_krona_rounds_up():
    totals = money.document_totals([money.RowInput(quantity=D(1), price=D("100.40"), vat=D(25))])

    assert totals.total == D("126")
    assert totals.round_off == D("0.50")


def test_vat_is_summed_per_rate_and_rounded_once_per_rate():
    rows = [money.RowInput(quantity=D(1), price=D("0.10"), vat=D(6)) for _ in range(3)]

    totals = money.document_totals(rows)

    assert totals.total_vat == D("0.02")  # 0.30 x 6 % = 0.018; per row it would be 3 x 0.01
    assert totals.vat_by_rate == {D(6): D("0.02")}


def test_a_percent_discount_rounds_the_discounted_row_once():
    amounts = money.row_amounts(
        money.RowInput(quantity=D(1), price=D("11.90"), vat=D(25), discount=D(15), discount_type="PERCENT")
    )

    assert amounts.total == D("10.12")
    assert amounts.gross_excluding_vat == D("11.90")


def test_an_amount_discount_comes_off_the_whole_row():
    amounts = money.row_amounts(
        money.RowInput(quantity=D(3), price=D("199.90"), vat=D(25), discount=D(50), discount_type="AMOUNT")
    )

    assert amounts.total == D("549.70")


def test_the_rules_are_one_switch_away_from_the_other_readings():
    per_unit = money.MoneyRules(amount_discount_per_row=False, percent_discount_rounding="discount_first")
    row = money.RowInput(quantity=D(3), price=D("199.90"), vat=D(25), discount=D(50), discount_type="AMOUNT")
    percent = money.RowInput(quantity=D(1), price=D("11.90"), vat=D(25), discount=D(15))

    assert money.row_amounts(row, rules=per_unit).total == D("449.70")
    assert money.row_amounts(percent, rules=per_unit).total == D("10.11")


def test_other_currencies_keep_their_cents():
    totals = money.document_totals(
        [money.RowInput(quantity=D(2), price=D("450.25"), vat=D(25))], currency="EUR"
    )

    assert totals.total == D("1125.63")
    assert totals.round_off == 0


def test_prices_including_vat_split_into_net_and_vat_per_rate():
    totals = money.document_totals(
        [money.RowInput(quantity=D(1), price=D("956"), vat=D(25))], vat_included=True
    )

    assert (totals.net, totals.total_vat, totals.total) == (D("764.80"), D("191.20"), D("956"))


def test_freight_carries_25_percent_vat_into_the_total_but_not_into_net():
    totals = money.document_totals([money.RowInput(quantity=D(1), price=D("100"), vat=D(25))], freight=D(95))

    assert totals.freight_vat == D("23.75")
    assert totals.net == D("100")
    assert totals.total_vat == D("48.75")
    assert totals.total == D("244")


# -- realistic documents through the API -------------------------------------------------------------


def test_an_invoice_of_1698_23_shows_total_1698_and_round_off_minus_0_23(api):
    invoice = api.invoice("100", [{"Description": "Årslicens", "DeliveredQuantity": "1", "Price": 1358.58}])

    assert invoice["Net"] == 1358.58
    assert invoice["TotalVAT"] == 339.65
    assert invoice["Total"] == 1698
    assert invoice["RoundOff"] == -0.23
    assert invoice["TotalToPay"] == 1698
    assert invoice["Balance"] == 1698
    assert invoice["Gross"] == invoice["Net"]


def test_an_invoice_with_three_vat_rates_and_a_text_row(api):
    invoice = api.invoice(
        "100",
        [
            {"Description": "Espressomaskin", "DeliveredQuantity": "3", "Price": 499, "VAT": 25},
            {"Description": "Kaffebönor 1 kg", "DeliveredQuantity": "2", "Price": 89.5, "VAT": 12},
            {"Description": "Tidskrift", "DeliveredQuantity": "1", "Price": 249.9, "VAT": 6},
            {"Description": "Levereras vecka 12"},
        ],
    )

    assert [row["Total"] for row in invoice["InvoiceRows"]] == [1497, 179, 249.9, 0]
    assert [row["VAT"] for row in invoice["InvoiceRows"]] == [25, 12, 6, 25]
    assert invoice["Net"] == 1925.9
    assert invoice["TotalVAT"] == 410.72  # 374.25 + 21.48 + 14.99
    assert invoice["Total"] == 2337
    assert invoice["RoundOff"] == 0.38


def test_an_invoice_with_percent_and_amount_discounts(api):
    invoice = api.invoice(
        "100",
        [
            {
                "Description": "Konsulttimme",
                "DeliveredQuantity": "4",
                "Price": 1250,
                "Discount": 10,
                "DiscountType": "PERCENT",
            },
            {
                "Description": "Kurslitteratur",
                "DeliveredQuantity": "3",
                "Price": 199.9,
                "Discount": 50,
                "DiscountType": "AMOUNT",
            },
        ],
    )

    assert [row["Total"] for row in invoice["InvoiceRows"]] == [4500, 549.7]
    assert invoice["Gross"] == 5599.7
    assert invoice["Net"] == 5049.7
    assert invoice["TotalVAT"] == 1262.43
    assert invoice["Total"] == 6312
    assert invoice["RoundOff"] == -0.13


def test_a_discount_without_type_is_a_percentage(api):
    invoice = api.invoice(
        "100", [{"Description": "Rad", "DeliveredQuantity": "2", "Price": 100, "Discount": 25}]
    )

    assert invoice["InvoiceRows"][0]["DiscountType"] == "PERCENT"
    assert invoice["InvoiceRows"][0]["Total"] == 150


def test_quantities_and_prices_are_stored_rounded_and_quantities_read_as_strings(api):
    invoice = api.invoice("100", [{"Description": "Rad", "DeliveredQuantity": "1.125", "Price": "10.005"}])

    row = invoice["InvoiceRows"][0]
    assert row["DeliveredQuantity"] == "1.13"
    assert row["Price"] == 10.01
    assert row["Total"] == 11.31


def test_a_eur_invoice_is_in_euro_with_cents_and_the_rate_of_the_day(api):
    invoice = api.invoice(
        "100", [{"Description": "Workshop", "DeliveredQuantity": "2", "Price": 450.25}], Currency="EUR"
    )

    assert invoice["Currency"] == "EUR"
    assert invoice["CurrencyRate"] == 11.5212
    assert invoice["Total"] == 1125.63
    assert invoice["RoundOff"] == 0
    listed = api.get("/3/invoices").json()["Invoices"][0]
    assert listed["CurrencyRate"] == "11.5212"
    assert listed["Total"] == 1125.63


def test_a_customer_in_eur_gets_eur_invoices(api):
    api.customer(
        CustomerNumber="200", Name="Rösterei GmbH", Currency="EUR", CountryCode="DE", VATType="EUVAT"
    )

    invoice = api.invoice("200", [{"Description": "Workshop", "DeliveredQuantity": "1", "Price": 100}])

    assert (invoice["Currency"], invoice["Total"]) == ("EUR", 125)


def test_prices_including_vat_on_an_invoice(api):
    invoice = api.invoice(
        "100", [{"Description": "Presentkort", "DeliveredQuantity": "1", "Price": 956}], VATIncluded=True
    )

    row = invoice["InvoiceRows"][0]
    assert (row["Total"], row["TotalExcludingVAT"], row["PriceExcludingVAT"]) == (956, 764.8, 764.8)
    assert (invoice["Net"], invoice["TotalVAT"], invoice["Total"]) == (764.8, 191.2, 956)


def test_freight_and_administration_fee_count_in_vat_and_total(api):
    invoice = api.invoice(
        "100",
        [{"Description": "Bryggare", "DeliveredQuantity": "1", "Price": 1000}],
        Freight=95,
        AdministrationFee=29,
    )

    assert invoice["FreightVAT"] == 23.75
    assert invoice["AdministrationFeeVAT"] == 7.25
    assert invoice["Net"] == 1000
    assert invoice["TotalVAT"] == 281
    assert invoice["Total"] == 1405


def test_an_order_row_with_only_ordered_quantity_totals_zero(api):
    order = api.order(
        "100",
        [
            {"Description": "Beställt", "OrderedQuantity": "5", "Price": 100},
            {"Description": "Levererat", "OrderedQuantity": "2", "DeliveredQuantity": "2", "Price": 100},
        ],
    )

    assert [row["Total"] for row in order["OrderRows"]] == [0, 200]
    assert [row["OrderedQuantity"] for row in order["OrderRows"]] == ["5.00", "2.00"]
    assert order["Net"] == 200
    assert order["Total"] == 250


def test_an_export_customer_gets_zero_vat_rows_unless_a_rate_is_sent(api):
    api.customer(CustomerNumber="300", Name="Coffee Inc", CountryCode="US", VATType="EXPORT", Currency="USD")

    invoice = api.invoice("300", [{"Description": "Beans", "DeliveredQuantity": "1", "Price": 100}])

    assert invoice["InvoiceRows"][0]["VAT"] == 0
    assert invoice["TotalVAT"] == 0
    assert invoice["Total"] == 100


def test_reverse_charge_and_export_rows_without_a_vat_get_zero_even_on_a_25_percent_article(api):
    api.article("KONS", "Konsulttimme", VAT=25)
    api.customer(CustomerNumber="301", Name="Kaffee GmbH", CountryCode="DE", VATType="EUREVERSEDVAT")

    invoice = api.invoice("301", [{"ArticleNumber": "KONS", "DeliveredQuantity": "2", "Price": 1000},
                                  {"Description": "Resa", "DeliveredQuantity": "1", "Price": 500, "VAT": 0}])

    assert [row["VAT"] for row in invoice["InvoiceRows"]] == [0, 0]
    assert (invoice["Net"], invoice["TotalVAT"], invoice["Total"]) == (2500, 0, 2500)


def test_a_row_sent_with_a_vat_keeps_it_whatever_the_customers_vat_type(api):
    api.customer(CustomerNumber="302", Name="EU-konsument", CountryCode="FI", VATType="EUVAT")

    invoice = api.invoice("302", [{"Description": "Bok", "DeliveredQuantity": "1", "Price": 200, "VAT": 6}])

    assert invoice["InvoiceRows"][0]["VAT"] == 6 and invoice["TotalVAT"] == 12


def test_a_row_without_an_article_totals_by_the_same_rules_and_books_on_the_sent_or_predefined_account(api):
    invoice = api.invoice("100", [
        {"Description": "Konsulttimmar", "DeliveredQuantity": "8", "Price": "1250", "Discount": 10,
         "DiscountType": "PERCENT", "VAT": 25, "AccountNumber": 3041},
        {"Description": "Kurslitteratur", "DeliveredQuantity": "3", "Price": "99.995", "VAT": 6},
        {"Description": "Utan moms angiven", "DeliveredQuantity": "1", "Price": "100"},
    ])

    rows = invoice["InvoiceRows"]
    assert [(row["ArticleNumber"], row["Total"], row["VAT"], row["AccountNumber"]) for row in rows] == [
        (None, 9000, 25, 3041), (None, 300, 6, 3003), (None, 100, 25, 3001)]
    assert invoice["Net"] == 9400 and invoice["TotalVAT"] == 2250 + 18 + 25
    assert invoice["Total"] == 11693
