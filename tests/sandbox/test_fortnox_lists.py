"""Lists on the Fortnox simulator: substring search, paging, sorting, filters and payments."""

from __future__ import annotations

import pytest

from tests.sandbox.test_fortnox_support import connect, error_code


@pytest.fixture
def api():
    return connect()


def numbers(response, wrapper="Customers", key="CustomerNumber"):
    assert response.status_code == 200, response.text
    return [item[key] for item in response.json()[wrapper]]


# -- search ------------------------------------------------------------------------------------------


def test_search_is_a_case_insensitive_substring_match(api):
    for number in ("1", "10", "100", "21", "3"):
        api.customer(CustomerNumber=number, Name=f"Kund {number}")

    assert numbers(api.get("/3/customers", params={"customernumber": "1"})) == ["1", "10", "21", "100"]
    api.customer(CustomerNumber="A100", Name="Kafferosteriet AB")
    assert numbers(api.get("/3/customers", params={"name": "KAFFEROST"})) == ["A100"]


def test_a_list_item_is_the_short_form_of_the_resource(api):
    api.customer(CustomerNumber="1", Name="Acme AB", Phone1="08-123", City="Lund")

    item = api.get("/3/customers").json()["Customers"][0]

    assert item["@url"].endswith("/3/customers/1")
    assert (item["Phone"], item["City"]) == ("08-123", "Lund")
    assert "DefaultTemplates" not in item


def test_invoices_are_found_by_external_invoice_reference_as_a_substring(api):
    api.customer(CustomerNumber="1")
    for reference in ("deal-42", "deal-421", "deal-7"):
        api.invoice("1", [], ExternalInvoiceReference1=reference)

    found = api.get("/3/invoices", params={"externalinvoicereference1": "deal-42"}).json()["Invoices"]

    assert [i["ExternalInvoiceReference1"] for i in found] == ["deal-42", "deal-421"]


def test_invoices_are_found_by_customer_number_and_article_on_their_rows(api):
    api.customer(CustomerNumber="1")
    api.customer(CustomerNumber="11")
    api.article("KAFFE", "Kaffe")
    api.invoice("1", [{"ArticleNumber": "KAFFE", "DeliveredQuantity": "1", "Price": 1}])
    api.invoice("11", [])

    assert numbers(api.get("/3/invoices", params={"customernumber": "1"}), "Invoices") == ["1", "11"]
    assert numbers(api.get("/3/invoices", params={"articlenumber": "kaf"}), "Invoices", "DocumentNumber") == [
        "1"
    ]


# -- paging and sorting ------------------------------------------------------------------------------


def test_paging_by_limit_and_page_with_meta_information(api):
    for _ in range(7):
        api.customer()

    response = api.get("/3/customers", params={"limit": 3, "page": 2})

    assert numbers(response) == ["4", "5", "6"]
    assert response.json()["MetaInformation"] == {"@TotalResources": 7, "@TotalPages": 3, "@CurrentPage": 2}


def test_offset_skips_resources_before_the_page(api):
    for _ in range(5):
        api.customer()

    assert numbers(api.get("/3/customers", params={"limit": 2, "offset": 1})) == ["2", "3"]


def test_the_default_limit_is_100_and_the_highest_500(api):
    api.control("PUT", "/_sandbox/ratelimit", {"enabled": False})
    for _ in range(101):
        api.customer()

    assert len(api.get("/3/customers").json()["Customers"]) == 100
    assert len(api.get("/3/customers", params={"limit": 500}).json()["Customers"]) == 101
    for bad in (0, 501, "x"):
        response = api.get("/3/customers", params={"limit": bad})
        assert response.status_code == 400
        assert error_code(response) == 2000588


def test_customers_sort_by_number_numerically_by_default_and_by_name_on_request(api):
    for number, name in (("10", "Bertil"), ("9", "Cesar"), ("100", "Adam")):
        api.customer(CustomerNumber=number, Name=name)

    assert numbers(api.get("/3/customers")) == ["9", "10", "100"]
    assert numbers(api.get("/3/customers", params={"sortby": "name"})) == ["100", "10", "9"]
    assert numbers(api.get("/3/customers", params={"sortby": "name", "sortorder": "descending"})) == [
        "9",
        "10",
        "100",
    ]
    assert api.get("/3/customers", params={"sortby": "city"}).status_code == 400


def test_lastmodified_lists_what_changed_since(api):
    api.customer(CustomerNumber="1")
    api.sim.wall_clock.advance(1800)
    api.customer(CustomerNumber="2")

    assert numbers(api.get("/3/customers", params={"lastmodified": "2026-03-02 09:15"})) == ["2"]
    assert numbers(api.get("/3/customers", params={"lastmodified": "2026-03-02 09:00"})) == ["1", "2"]


# -- filters -----------------------------------------------------------------------------------------


@pytest.fixture
def ledger(api):
    """Invoices in every state: draft, booked unpaid, partly paid, fully paid, overdue, cancelled."""
    api.customer(CustomerNumber="1", Name="Ett AB")
    api.customer(CustomerNumber="2", Name="Två AB")
    row = [{"Description": "Tjänst", "DeliveredQuantity": "1", "Price": 800}]  # 1000 with VAT
    for customer in ("1", "1", "1", "1", "2", "1"):
        api.invoice(customer, row)
    for number in (2, 3, 4, 5):
        api.put(f"/3/invoices/{number}/bookkeep")
    company = f"/_sandbox/companies/{api.tenant_id}"
    api.control("POST", f"{company}/invoices/3/payments", {"amount": "400"})
    api.control("POST", f"{company}/invoices/4/payments")
    api.control("POST", f"{company}/invoices/5/overdue", {"days": 3})
    api.put("/3/invoices/6/cancel")
    return api


def invoice_numbers(api, **params):
    return numbers(api.get("/3/invoices", params=params), "Invoices", "DocumentNumber")


def test_filter_unbooked_lists_drafts(ledger):
    assert invoice_numbers(ledger, filter="unbooked") == ["1"]


def test_filter_unpaid_lists_booked_invoices_with_a_balance_including_partly_paid(ledger):
    assert invoice_numbers(ledger, filter="unpaid") == ["2", "3", "5"]


def test_filter_unpaidoverdue_lists_unpaid_invoices_past_their_due_date(ledger):
    assert invoice_numbers(ledger, filter="unpaidoverdue") == ["5"]


def test_filter_fullypaid_and_cancelled(ledger):
    assert invoice_numbers(ledger, filter="fullypaid") == ["4"]
    assert invoice_numbers(ledger, filter="cancelled") == ["6"]


def test_a_search_parameter_combines_with_the_filter(ledger):
    assert invoice_numbers(ledger, filter="unpaid", customernumber="2") == ["5"]


def test_payments_reduce_the_balance_and_a_full_payment_sets_the_final_pay_date(ledger):
    listed = {i["DocumentNumber"]: i for i in ledger.get("/3/invoices").json()["Invoices"]}

    assert (listed["2"]["Balance"], listed["2"]["FinalPayDate"]) == (1000, None)
    assert (listed["3"]["Balance"], listed["3"]["FinalPayDate"]) == (600, None)
    assert (listed["4"]["Balance"], listed["4"]["FinalPayDate"]) == (0, "2026-03-02")
    assert listed["5"]["DueDate"] == "2026-02-27"


def test_a_payment_on_a_draft_is_refused_by_the_control_endpoint(ledger):
    response = ledger.control("POST", f"/_sandbox/companies/{ledger.tenant_id}/invoices/1/payments")

    assert response.status_code == 400
    assert "bookkeep" in response.json()["message"]


def test_one_filter_at_a_time_and_only_known_filters(ledger):
    assert (
        ledger.get("/3/invoices", params=[("filter", "unpaid"), ("filter", "cancelled")]).status_code == 400
    )
    assert ledger.get("/3/invoices", params={"filter": "expired"}).status_code == 400


def test_flags_and_date_ranges_narrow_invoice_lists(ledger):
    ledger.get("/3/invoices/2/print")

    assert invoice_numbers(ledger, sent="true") == ["2"]
    assert invoice_numbers(ledger, fromdate="2026-03-03") == []
    assert invoice_numbers(ledger, todate="2026-03-02", filter="cancelled") == ["6"]


def test_order_filters(api):
    api.customer(CustomerNumber="1")
    for _ in range(4):
        api.order("1", [])
    api.put("/3/orders/1/createinvoice")
    api.put("/3/orders/2/cancel")
    api.put("/3/orders/3", {"Order": {"DeliveryDate": "2026-02-01"}})

    def orders(name):
        return numbers(api.get("/3/orders", params={"filter": name}), "Orders", "DocumentNumber")

    assert orders("invoicecreated") == ["1"]
    assert orders("cancelled") == ["2"]
    assert orders("invoicenotcreated") == ["3", "4"]
    assert orders("expired") == ["3"]


def test_customers_filter_active_and_inactive(api):
    api.customer(CustomerNumber="1")
    api.customer(CustomerNumber="2", Active=False)

    assert numbers(api.get("/3/customers", params={"filter": "active"})) == ["1"]
    assert numbers(api.get("/3/customers", params={"filter": "inactive"})) == ["2"]
