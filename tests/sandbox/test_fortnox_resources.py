"""Customers, articles, prices, price lists and lookups on the Fortnox simulator, with Fortnox's errors."""

from __future__ import annotations

import pytest

from tests.sandbox.test_fortnox_support import connect, error_code


@pytest.fixture
def api():
    return connect()


# -- customers -------------------------------------------------------------------------------------


def test_a_new_customer_answers_201_wrapped_with_defaults_and_its_url(api):
    response = api.post(
        "/3/customers", {"Customer": {"Name": "Acme AB", "OrganisationNumber": "556036-0793"}}
    )

    assert response.status_code == 201
    customer = response.json()["Customer"]
    assert customer["@url"] == "http://fortnox.test/3/customers/1"
    assert customer["CustomerNumber"] == "1"
    assert (customer["Currency"], customer["Type"], customer["VATType"], customer["Active"]) == (
        "SEK",
        "COMPANY",
        "SEVAT",
        True,
    )
    assert customer["Country"] == "Sverige"


def test_customer_numbers_continue_the_series_past_the_highest_number(api):
    api.customer(CustomerNumber="41")

    assert api.customer()["CustomerNumber"] == "42"


def test_a_customer_number_in_use_gets_error_2000637(api):
    api.customer(CustomerNumber="1001")

    response = api.post("/3/customers", {"Customer": {"Name": "Dubblett AB", "CustomerNumber": "1001"}})

    assert response.status_code == 400
    assert error_code(response) == 2000637
    assert "1001" in response.json()["ErrorInformation"]["message"]


def test_the_number_of_a_deleted_customer_stays_reserved(api):
    api.customer(CustomerNumber="7")
    assert api.delete("/3/customers/7").status_code == 204

    assert (
        error_code(api.post("/3/customers", {"Customer": {"Name": "Ny AB", "CustomerNumber": "7"}}))
        == 2000637
    )
    assert api.customer()["CustomerNumber"] == "8"
    assert api.get("/3/customers/7").status_code == 404


def test_a_customer_number_with_invalid_characters_is_refused(api):
    response = api.post("/3/customers", {"Customer": {"Name": "Acme", "CustomerNumber": "ACME 1"}})

    assert response.status_code == 400
    assert error_code(response) == 2000106


@pytest.mark.parametrize(
    ("field", "limit"), [("Name", 1024), ("ZipCode", 10), ("YourReference", 50), ("OurReference", 50)]
)
def test_customer_fields_longer_than_fortnox_allows_are_refused(api, field, limit):
    fields = {"Name": "Acme AB", field: "x" * (limit + 1)}

    response = api.post("/3/customers", {"Customer": fields})

    assert response.status_code == 400
    assert field in response.json()["ErrorInformation"]["message"]
    assert api.post("/3/customers", {"Customer": {**fields, field: "x" * limit}}).status_code == 201


def test_a_customer_without_name_is_refused(api):
    response = api.post("/3/customers", {"Customer": {"City": "Malmö"}})

    assert response.status_code == 400
    assert "Name" in response.json()["ErrorInformation"]["message"]


def test_an_unknown_field_gets_error_2001399(api):
    response = api.post("/3/customers", {"Customer": {"Name": "Acme", "Nickname": "ACME"}})

    assert response.status_code == 400
    assert error_code(response) == 2001399
    assert "Nickname" in response.json()["ErrorInformation"]["message"]


def test_broken_json_gets_error_2002115(api):
    response = api.client.post(
        "/3/customers",
        content=b'{"Customer": {"Name": "Acme",}',
        headers={**api.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert error_code(response) == 2002115


def test_a_body_without_the_resource_wrapper_is_refused(api):
    assert error_code(api.post("/3/customers", {"Name": "Acme"})) == 2001392


def test_a_wrongly_typed_value_is_refused_with_its_code(api):
    assert error_code(api.post("/3/customers", {"Customer": {"Name": "Acme", "Active": "yes"}})) == 2000134
    assert (
        error_code(api.post("/3/customers", {"Customer": {"Name": "Acme", "InvoiceDiscount": "x"}}))
        == 2000108
    )


def test_read_only_fields_sent_back_are_ignored(api):
    customer = api.customer(Name="Acme AB")
    customer["@url"] = "http://elsewhere/3/customers/999"
    customer["Country"] = "Narnia"
    customer["City"] = "Lund"

    response = api.put("/3/customers/1", {"Customer": customer})

    assert response.status_code == 200
    assert response.json()["Customer"]["City"] == "Lund"
    assert response.json()["Customer"]["Country"] == "Sverige"


def test_put_changes_only_the_fields_sent(api):
    api.customer(Name="Acme AB", City="Malmö", Email="info@acme.se")

    updated = api.put("/3/customers/1", {"Customer": {"City": "Lund"}}).json()["Customer"]

    assert (updated["Name"], updated["City"], updated["Email"]) == ("Acme AB", "Lund", "info@acme.se")


def test_api_blank_clears_a_field_and_null_leaves_it(api):
    api.customer(Name="Acme AB", City="Malmö", Phone1="040-123456")

    updated = api.put("/3/customers/1", {"Customer": {"City": "API_BLANK", "Phone1": None}}).json()[
        "Customer"
    ]

    assert updated["City"] is None
    assert updated["Phone1"] == "040-123456"


def test_a_customer_with_an_invalid_email_or_organisation_number_is_refused(api):
    assert api.post("/3/customers", {"Customer": {"Name": "A", "Email": "not-an-address"}}).status_code == 400
    response = api.post("/3/customers", {"Customer": {"Name": "A", "OrganisationNumber": "556036-0794"}})
    assert response.status_code == 400
    foreign = {"Name": "GmbH", "CountryCode": "DE", "OrganisationNumber": "HRB 12345"}
    assert api.post("/3/customers", {"Customer": foreign}).status_code == 201


def test_a_customer_naming_unknown_codes_is_refused(api):
    for fields in ({"Currency": "XYZ"}, {"TermsOfPayment": "45"}, {"PriceList": "Z"}, {"Type": "ALIEN"}):
        response = api.post("/3/customers", {"Customer": {"Name": "Acme", **fields}})
        assert response.status_code == 400, fields


def test_a_customer_with_documents_cannot_be_deleted(api):
    api.customer()
    api.invoice("1", [])

    assert api.delete("/3/customers/1").status_code == 400


def test_an_unknown_customer_is_404_with_error_information(api):
    response = api.get("/3/customers/404")

    assert response.status_code == 404
    assert set(response.json()["ErrorInformation"]) == {"error", "message", "code"}


# -- articles --------------------------------------------------------------------------------------


def test_a_new_article_has_25_percent_vat_and_its_list_price_as_sales_price(api):
    article = api.article("KAFFE-1", "Kaffebönor 1 kg", price="189.00")

    assert article["VAT"] == 25
    fetched = api.get("/3/articles/KAFFE-1").json()["Article"]
    assert fetched["SalesPrice"] == 189
    assert fetched["Description"] == "Kaffebönor 1 kg"


def test_sales_price_on_an_article_is_read_only(api):
    api.created(
        "/3/articles", "Article", {"ArticleNumber": "A1", "Description": "Bryggare", "SalesPrice": 999}
    )

    assert api.get("/3/articles/A1").json()["Article"]["SalesPrice"] == 0


def test_article_numbers_continue_the_series_when_omitted(api):
    api.created("/3/articles", "Article", {"ArticleNumber": "9", "Description": "Nio"})

    assert api.created("/3/articles", "Article", {"Description": "Tio"})["ArticleNumber"] == "10"


@pytest.mark.parametrize(("field", "limit"), [("Description", 200), ("ArticleNumber", 50)])
def test_article_fields_longer_than_fortnox_allows_are_refused(api, field, limit):
    fields = {"Description": "Bryggare", field: "x" * (limit + 1)}

    assert api.post("/3/articles", {"Article": fields}).status_code == 400
    assert api.post("/3/articles", {"Article": {**fields, field: "y" * limit}}).status_code == 201


def test_an_article_number_cannot_change_and_cannot_repeat(api):
    api.article("A1", "Bryggare")

    assert api.put("/3/articles/A1", {"Article": {"ArticleNumber": "A2"}}).status_code == 400
    assert api.put("/3/articles/A1", {"Article": {"ArticleNumber": "A1", "Unit": "st"}}).status_code == 200
    assert (
        api.post("/3/articles", {"Article": {"ArticleNumber": "A1", "Description": "Igen"}}).status_code
        == 400
    )


def test_an_article_with_an_unknown_vat_rate_is_refused(api):
    response = api.post("/3/articles", {"Article": {"Description": "Bryggare", "VAT": 20}})

    assert response.status_code == 400
    assert "20" in response.json()["ErrorInformation"]["message"]


def test_a_deleted_article_is_gone(api):
    api.article("A1", "Bryggare", price="100")

    assert api.delete("/3/articles/A1").status_code == 204
    assert api.get("/3/articles/A1").status_code == 404


# -- price lists and prices ------------------------------------------------------------------------


def test_a_new_company_has_the_preselected_price_list_a(api):
    price_lists = api.get("/3/pricelists").json()["PriceLists"]

    assert [(p["Code"], p["PreSelected"]) for p in price_lists] == [("A", True)]


def test_price_lists_can_be_added_and_preselected(api):
    api.created("/3/pricelists", "PriceList", {"Code": "B2B", "Description": "Återförsäljare"})

    api.put("/3/pricelists/B2B", {"PriceList": {"PreSelected": True}})

    lists = {p["Code"]: p["PreSelected"] for p in api.get("/3/pricelists").json()["PriceLists"]}
    assert lists == {"A": False, "B2B": True}
    assert api.post("/3/pricelists", {"PriceList": {"Code": "B2B", "Description": "Igen"}}).status_code == 400


def test_prices_by_quantity_live_under_price_list_and_article(api):
    api.article("A1", "Bryggare", price="100")
    api.created(
        "/3/prices", "Price", {"ArticleNumber": "A1", "PriceList": "A", "FromQuantity": 10, "Price": 90}
    )

    first = api.get("/3/prices/A/A1").json()["Price"]
    tier = api.get("/3/prices/A/A1/10").json()["Price"]
    sublist = api.get("/3/prices/sublist/A/A1").json()

    assert (first["FromQuantity"], first["Price"]) == (0, 100)
    assert (tier["FromQuantity"], tier["Price"]) == (10, 90)
    assert [p["Price"] for p in sublist["Prices"]] == [100, 90]
    assert sublist["MetaInformation"]["@TotalResources"] == 2


def test_a_price_is_updated_and_deleted_by_its_path(api):
    api.article("A1", "Bryggare", price="100")

    updated = api.put("/3/prices/A/A1", {"Price": {"Price": 120.005}}).json()["Price"]

    assert updated["Price"] == 120.01
    assert api.delete("/3/prices/A/A1/0").status_code == 204
    assert api.get("/3/prices/A/A1").status_code == 404


def test_a_price_for_an_unknown_article_or_list_or_a_second_time_is_refused(api):
    api.article("A1", "Bryggare", price="100")

    assert (
        api.post("/3/prices", {"Price": {"ArticleNumber": "NOPE", "PriceList": "A", "Price": 1}}).status_code
        == 400
    )
    assert (
        api.post("/3/prices", {"Price": {"ArticleNumber": "A1", "PriceList": "Z", "Price": 1}}).status_code
        == 400
    )
    assert (
        api.post("/3/prices", {"Price": {"ArticleNumber": "A1", "PriceList": "A", "Price": 1}}).status_code
        == 400
    )


def test_get_prices_lists_every_price(api):
    api.article("A1", "Bryggare", price="100")
    api.article("B2", "Kvarn", price="50")

    prices = api.get("/3/prices", params={"articlenumber": "b"}).json()

    assert [p["ArticleNumber"] for p in prices["Prices"]] == ["B2"]


# -- lookups -----------------------------------------------------------------------------------------


def test_a_new_company_has_terms_of_payment_currencies_and_templates(api):
    terms = [t["Code"] for t in api.get("/3/termsofpayments").json()["TermsOfPayments"]]
    currencies = {c["Code"]: c["SellRate"] for c in api.get("/3/currencies").json()["Currencies"]}
    invoice_templates = api.get("/3/printtemplates", params={"type": "invoice"}).json()["PrintTemplates"]
    order_templates = api.get("/3/printtemplates", params={"type": "order"}).json()["PrintTemplates"]

    assert {"0", "10", "30"} <= set(terms)
    assert set(currencies) == {"SEK", "EUR", "USD", "NOK", "DKK"}
    assert currencies["SEK"] == 1
    assert invoice_templates and order_templates and invoice_templates != order_templates


def test_terms_of_payment_and_currencies_can_be_managed(api):
    api.created("/3/termsofpayments", "TermsOfPayment", {"Code": "45", "Description": "45 dagar"})
    api.created("/3/currencies", "Currency", {"Code": "GBP", "Description": "Pund", "SellRate": 13.2})

    assert api.get("/3/termsofpayments/45").json()["TermsOfPayment"]["Description"] == "45 dagar"
    assert (
        api.put("/3/currencies/GBP", {"Currency": {"SellRate": 13.5}}).json()["Currency"]["SellRate"] == 13.5
    )
    assert api.delete("/3/termsofpayments/45").status_code == 204
    assert api.delete("/3/currencies/GBP").status_code == 204
    assert api.get("/3/currencies/GBP").status_code == 404


def test_company_information_names_the_tenant_as_database_number(api):
    info = api.get("/3/companyinformation").json()["CompanyInformation"]

    assert info["DatabaseNumber"] == api.tenant_id
    assert info["CompanyName"]
    assert info["OrganizationNumber"]


def test_a_route_fortnox_does_not_have_answers_404_with_error_information(api):
    response = api.get("/3/nothing-here")

    assert response.status_code == 404
    assert "ErrorInformation" in response.json()
