"""Invoices and orders on the Fortnox simulator: create, defaults, rows, actions and PDFs."""

from __future__ import annotations

import re

import pytest

from sandbox.pdf import extract_text
from tests.sandbox.test_fortnox_support import connect, error_code


@pytest.fixture
def api():
    connected = connect()
    connected.customer(
        CustomerNumber="100",
        Name="Kafferosteriet AB",
        Email="ekonomi@kafferosteriet.se",
        YourReference="Anna Berg",
    )
    connected.article("ESP-1", "Espressomaskin", price="4990.00", Unit="st")
    connected.article("BONA", "Kaffebönor 1 kg", price="189.00", VAT=12)
    return connected


def rows(document, key="InvoiceRows"):
    return [
        (row["ArticleNumber"], row["Description"], row["DeliveredQuantity"], row["Price"])
        for row in document[key]
    ]


# -- create ------------------------------------------------------------------------------------------


def test_a_new_invoice_answers_201_as_an_unbooked_unsent_draft_with_balance_equal_to_total(api):
    response = api.post(
        "/3/invoices",
        {
            "Invoice": {
                "CustomerNumber": "100",
                "InvoiceRows": [{"ArticleNumber": "ESP-1", "DeliveredQuantity": "1"}],
            }
        },
    )

    assert response.status_code == 201
    invoice = response.json()["Invoice"]
    assert invoice["@url"] == "http://fortnox.test/3/invoices/1"
    assert (invoice["DocumentNumber"], invoice["Booked"], invoice["Sent"], invoice["Cancelled"]) == (
        "1",
        False,
        False,
        False,
    )
    assert invoice["Balance"] == invoice["Total"] == 6238
    assert invoice["OCR"] == "133"


def test_a_new_invoice_takes_the_customers_details_and_is_due_by_its_terms(api):
    invoice = api.invoice("100", [])

    assert invoice["CustomerName"] == "Kafferosteriet AB"
    assert invoice["YourReference"] == "Anna Berg"
    assert invoice["EmailInformation"]["EmailAddressTo"] == "ekonomi@kafferosteriet.se"
    assert (invoice["InvoiceDate"], invoice["TermsOfPayment"], invoice["DueDate"]) == (
        "2026-03-02",
        "30",
        "2026-04-01",
    )
    assert (invoice["Currency"], invoice["PriceList"], invoice["PrintTemplate"]) == ("SEK", "A", "fakt")


@pytest.mark.parametrize(("terms", "due"), [("0", "2026-03-02"), ("10", "2026-03-12"), ("15", "2026-03-17")])
def test_the_due_date_follows_the_terms_of_payment(api, terms, due):
    assert api.invoice("100", [], TermsOfPayment=terms)["DueDate"] == due


def test_a_row_with_an_article_takes_its_price_description_unit_and_vat(api):
    invoice = api.invoice("100", [{"ArticleNumber": "BONA", "DeliveredQuantity": "10"}])

    row = invoice["InvoiceRows"][0]
    assert (row["Description"], row["Price"], row["VAT"], row["Total"]) == ("Kaffebönor 1 kg", 189, 12, 1890)
    assert row["AccountNumber"] == 3002


def test_a_row_takes_the_quantity_price_from_the_documents_price_list(api):
    api.created("/3/pricelists", "PriceList", {"Code": "B2B", "Description": "Återförsäljare"})
    api.created("/3/prices", "Price", {"ArticleNumber": "BONA", "PriceList": "B2B", "Price": 150})
    api.created(
        "/3/prices", "Price", {"ArticleNumber": "BONA", "PriceList": "B2B", "FromQuantity": 20, "Price": 140}
    )

    invoice = api.invoice(
        "100",
        [
            {"ArticleNumber": "BONA", "DeliveredQuantity": "5"},
            {"ArticleNumber": "BONA", "DeliveredQuantity": "25"},
        ],
        PriceList="B2B",
    )

    assert [row["Price"] for row in invoice["InvoiceRows"]] == [150, 140]


def test_values_sent_override_the_articles(api):
    invoice = api.invoice(
        "100",
        [
            {
                "ArticleNumber": "ESP-1",
                "DeliveredQuantity": "1",
                "Price": 3990,
                "Description": "Demoexemplar",
                "VAT": 25,
            }
        ],
    )

    assert rows(invoice) == [("ESP-1", "Demoexemplar", "1.00", 3990)]


def test_an_invoice_for_a_customer_that_does_not_exist_is_refused(api):
    response = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "999", "InvoiceRows": []}})

    assert response.status_code == 400
    assert error_code(response) == 2000433
    assert api.get("/3/invoices").json()["Invoices"] == []


def test_an_invoice_without_customer_number_is_refused(api):
    response = api.post("/3/invoices", {"Invoice": {"InvoiceRows": []}})

    assert response.status_code == 400
    assert "CustomerNumber" in response.json()["ErrorInformation"]["message"]


def test_a_row_with_an_unknown_article_fails_the_whole_invoice(api):
    response = api.post(
        "/3/invoices",
        {
            "Invoice": {
                "CustomerNumber": "100",
                "InvoiceRows": [
                    {"ArticleNumber": "ESP-1", "DeliveredQuantity": "1"},
                    {"ArticleNumber": "SKU-404", "DeliveredQuantity": "1"},
                ],
            }
        },
    )

    assert response.status_code == 400
    assert error_code(response) == 2000428
    assert "SKU-404" in response.json()["ErrorInformation"]["message"]
    assert api.get("/3/invoices").json()["Invoices"] == []


@pytest.mark.parametrize(
    "fields",
    [
        {"Currency": "XYZ"},
        {"TermsOfPayment": "99"},
        {"PriceList": "Z"},
        {"PrintTemplate": "nope"},
        {"Language": "DE"},
        {"InvoiceDate": "2026-02-30"},
    ],
)
def test_an_invoice_naming_something_unknown_is_refused(api, fields):
    response = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "100", **fields}})

    assert response.status_code == 400
    assert "ErrorInformation" in response.json()


def test_a_row_with_a_vat_rate_sweden_does_not_have_is_refused(api):
    response = api.post(
        "/3/invoices",
        {
            "Invoice": {
                "CustomerNumber": "100",
                "InvoiceRows": [{"Description": "Rad", "DeliveredQuantity": "1", "Price": 100, "VAT": 20}],
            }
        },
    )

    assert response.status_code == 400
    assert "20" in response.json()["ErrorInformation"]["message"]


@pytest.mark.parametrize(
    ("field", "limit", "row"),
    [
        ("Description", 255, True),
        ("YourReference", 50, False),
        ("OurReference", 50, False),
        ("ExternalInvoiceReference1", 80, False),
        ("Remarks", 1024, False),
    ],
)
def test_document_fields_longer_than_fortnox_allows_are_refused(api, field, limit, row):
    def body(length):
        value = "x" * length
        if row:
            return {"CustomerNumber": "100", "InvoiceRows": [{field: value}]}
        return {"CustomerNumber": "100", field: value}

    too_long = api.post("/3/invoices", {"Invoice": body(limit + 1)})

    assert too_long.status_code == 400
    assert field in too_long.json()["ErrorInformation"]["message"]
    assert api.post("/3/invoices", {"Invoice": body(limit)}).status_code == 201


def test_an_unknown_row_field_gets_error_2001399(api):
    response = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "100", "InvoiceRows": [{"Amount": 5}]}})

    assert error_code(response) == 2001399


def test_document_numbers_are_a_series_and_a_chosen_free_number_is_kept(api):
    assert api.invoice("100", [])["DocumentNumber"] == "1"
    assert api.invoice("100", [], DocumentNumber="500")["DocumentNumber"] == "500"
    assert api.invoice("100", [])["DocumentNumber"] == "501"
    assert (
        api.post("/3/invoices", {"Invoice": {"CustomerNumber": "100", "DocumentNumber": "500"}}).status_code
        == 400
    )


# -- update and RowId --------------------------------------------------------------------------------


def invoice_with_three_rows(api):
    return api.invoice(
        "100",
        [
            {"ArticleNumber": "ESP-1", "DeliveredQuantity": "1"},
            {"ArticleNumber": "BONA", "DeliveredQuantity": "10"},
            {"Description": "Frakt ingår"},
        ],
    )


def test_rows_sent_with_row_ids_are_updated_new_rows_added_and_omitted_rows_deleted(api):
    invoice = invoice_with_three_rows(api)
    first, second, _ = (row["RowId"] for row in invoice["InvoiceRows"])

    updated = api.put(
        "/3/invoices/1",
        {
            "Invoice": {
                "InvoiceRows": [
                    {"RowId": first},
                    {"RowId": second, "DeliveredQuantity": "20"},
                    {"Description": "Ny rad", "DeliveredQuantity": "1", "Price": 50},
                ]
            }
        },
    ).json()["Invoice"]

    assert rows(updated) == [
        ("ESP-1", "Espressomaskin", "1.00", 4990),
        ("BONA", "Kaffebönor 1 kg", "20.00", 189),
        (None, "Ny rad", "1.00", 50),
    ]
    assert updated["Net"] == 4990 + 3780 + 50


def test_every_update_gives_the_rows_new_row_ids(api):
    invoice = invoice_with_three_rows(api)
    before = [row["RowId"] for row in invoice["InvoiceRows"]]

    updated = api.put("/3/invoices/1", {"Invoice": {"InvoiceRows": [{"RowId": rid} for rid in before]}})

    after = [row["RowId"] for row in updated.json()["Invoice"]["InvoiceRows"]]
    assert len(after) == 3
    assert not set(after) & set(before)


def test_rows_without_row_ids_map_by_position_and_rows_not_sent_are_dropped(api):
    invoice_with_three_rows(api)

    updated = api.put("/3/invoices/1", {"Invoice": {"InvoiceRows": [{"DeliveredQuantity": "2"}, {}]}}).json()

    assert rows(updated["Invoice"]) == [
        ("ESP-1", "Espressomaskin", "2.00", 4990),
        ("BONA", "Kaffebönor 1 kg", "10.00", 189),
    ]


def test_a_row_id_the_document_does_not_have_is_refused(api):
    invoice_with_three_rows(api)

    response = api.put("/3/invoices/1", {"Invoice": {"InvoiceRows": [{"RowId": 99999}]}})

    assert response.status_code == 400
    assert len(api.get("/3/invoices/1").json()["Invoice"]["InvoiceRows"]) == 3


def test_an_update_without_rows_keeps_them_and_recomputes_nothing_else(api):
    invoice = invoice_with_three_rows(api)

    updated = api.put("/3/invoices/1", {"Invoice": {"YourReference": "Bo Ek", "Total": 1}}).json()["Invoice"]

    assert updated["YourReference"] == "Bo Ek"
    assert updated["InvoiceRows"] == invoice["InvoiceRows"]
    assert updated["Total"] == invoice["Total"]


def test_a_failed_update_leaves_the_invoice_as_it_was(api):
    invoice = invoice_with_three_rows(api)

    response = api.put(
        "/3/invoices/1",
        {"Invoice": {"YourReference": "Bo Ek", "InvoiceRows": [{"ArticleNumber": "SKU-404"}]}},
    )

    assert response.status_code == 400
    assert api.get("/3/invoices/1").json()["Invoice"] == invoice


def test_changing_the_terms_moves_the_due_date(api):
    api.invoice("100", [])

    updated = api.put("/3/invoices/1", {"Invoice": {"TermsOfPayment": "10"}}).json()["Invoice"]

    assert updated["DueDate"] == "2026-03-12"


# -- actions -----------------------------------------------------------------------------------------


def test_bookkeep_books_the_invoice_and_then_it_cannot_be_edited_or_cancelled(api):
    invoice_with_three_rows(api)

    booked = api.put("/3/invoices/1/bookkeep").json()["Invoice"]

    assert booked["Booked"] is True
    assert booked["VoucherSeries"] == "B"
    assert api.put("/3/invoices/1", {"Invoice": {"YourReference": "x"}}).status_code == 400
    assert api.put("/3/invoices/1/cancel").status_code == 400
    assert api.put("/3/invoices/1/bookkeep").status_code == 400


def test_cancel_marks_a_draft_invoice_cancelled_for_good(api):
    invoice_with_three_rows(api)

    cancelled = api.put("/3/invoices/1/cancel").json()["Invoice"]

    assert cancelled["Cancelled"] is True
    assert api.put("/3/invoices/1", {"Invoice": {"YourReference": "x"}}).status_code == 400
    assert api.put("/3/invoices/1/bookkeep").status_code == 400


def test_preview_returns_the_pdf_without_marking_the_invoice_sent(api):
    invoice_with_three_rows(api)

    response = api.get("/3/invoices/1/preview")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert api.get("/3/invoices/1").json()["Invoice"]["Sent"] is False


def test_print_returns_the_pdf_and_marks_the_invoice_sent(api):
    invoice_with_three_rows(api)

    response = api.get("/3/invoices/1/print")

    assert response.content.startswith(b"%PDF-")
    assert api.get("/3/invoices/1").json()["Invoice"]["Sent"] is True


def test_externalprint_marks_sent_without_a_document(api):
    invoice_with_three_rows(api)

    response = api.put("/3/invoices/1/externalprint")

    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["Invoice"]["Sent"] is True


def test_email_sends_to_the_invoice_address_and_marks_sent(api):
    invoice_with_three_rows(api)

    response = api.get("/3/invoices/1/email")

    assert response.json()["Invoice"]["Sent"] is True
    emails = api.control("GET", f"/_sandbox/companies/{api.tenant_id}").json()["emails"]
    assert [e["EmailAddressTo"] for e in emails] == ["ekonomi@kafferosteriet.se"]


def test_email_without_an_address_is_refused(api):
    api.customer(CustomerNumber="200", Name="Utan e-post AB")
    api.invoice("200", [])

    assert api.get("/3/invoices/1/email").status_code == 400
    assert api.get("/3/invoices/1").json()["Invoice"]["Sent"] is False


def test_actions_on_a_missing_invoice_are_404(api):
    for response in (
        api.get("/3/invoices/77/preview"),
        api.put("/3/invoices/77/bookkeep"),
        api.get("/3/invoices/abc"),
    ):
        assert response.status_code == 404
        assert error_code(response) == 2000434


# -- the PDF -----------------------------------------------------------------------------------------


def test_the_preview_is_a_real_pdf_with_a_cross_reference_table_that_points_at_its_objects(api):
    invoice_with_three_rows(api)
    data = api.get("/3/invoices/1/preview").content

    assert data.startswith(b"%PDF-1.4")
    assert data.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\s+(\d+)\s+%%EOF", data).group(1))
    assert data[startxref:].startswith(b"xref")
    count = int(re.match(rb"xref\s+0 (\d+)", data[startxref:]).group(1))
    offsets = re.findall(rb"(\d{10}) 00000 n", data[startxref:])
    assert len(offsets) == count - 1
    for number, offset in enumerate(offsets, start=1):
        assert data[int(offset) :].startswith(b"%d 0 obj" % number)
    assert b"/Type /Catalog" in data
    assert re.search(rb"/Root 1 0 R", data)


def test_the_preview_shows_the_invoice_number_rows_and_amount_to_pay(api):
    invoice = invoice_with_three_rows(api)

    text = extract_text(api.get("/3/invoices/1/preview").content)

    assert text[0] == "Faktura 1"
    assert any("Kafferosteriet AB" in line for line in text)
    assert any("Espressomaskin" in line and "4990.00" in line for line in text)
    assert f"Att betala: {invoice['Total']:.2f} SEK" in text
    assert "OCR: 133" in text


# -- orders ------------------------------------------------------------------------------------------


def test_a_new_order_answers_201_with_its_rows_and_totals(api):
    response = api.post(
        "/3/orders",
        {
            "Order": {
                "CustomerNumber": "100",
                "OrderRows": [{"ArticleNumber": "BONA", "OrderedQuantity": "10", "DeliveredQuantity": "10"}],
            }
        },
    )

    assert response.status_code == 201
    order = response.json()["Order"]
    assert (order["DocumentNumber"], order["OrderDate"], order["Total"]) == ("1", "2026-03-02", 2117)
    assert order["OrderRows"][0]["OrderedQuantity"] == "10.00"
    assert order["PrintTemplate"] == "orderbekr"


def test_createinvoice_turns_the_order_into_an_invoice_and_links_both_ways(api):
    api.order(
        "100",
        [
            {"ArticleNumber": "BONA", "OrderedQuantity": "10", "DeliveredQuantity": "10"},
            {"ArticleNumber": "ESP-1", "OrderedQuantity": "1", "DeliveredQuantity": "1", "Price": 4500},
        ],
        ExternalInvoiceReference1="deal-42",
        Remarks="Tack!",
        CopyRemarks=True,
    )

    order = api.put("/3/orders/1/createinvoice").json()["Order"]

    assert order["InvoiceReference"] == "1"
    invoice = api.get("/3/invoices/1").json()["Invoice"]
    assert invoice["OrderReference"] == "1"
    assert invoice["ExternalInvoiceReference1"] == "deal-42"
    assert invoice["Remarks"] == "Tack!"
    assert rows(invoice) == [
        ("BONA", "Kaffebönor 1 kg", "10.00", 189),
        ("ESP-1", "Espressomaskin", "1.00", 4500),
    ]
    assert invoice["Total"] == order["Total"]
    assert api.put("/3/orders/1/createinvoice").status_code == 400
    assert api.put("/3/orders/1/cancel").status_code == 400


def test_an_order_preview_does_not_set_sent_but_print_does(api):
    api.order("100", [{"ArticleNumber": "BONA", "OrderedQuantity": "1", "DeliveredQuantity": "1"}])

    assert extract_text(api.get("/3/orders/1/preview").content)[0] == "Orderbekräftelse 1"
    assert api.get("/3/orders/1").json()["Order"]["Sent"] is False
    assert api.get("/3/orders/1/print").status_code == 200
    assert api.get("/3/orders/1").json()["Order"]["Sent"] is True


def test_a_cancelled_order_cannot_be_invoiced(api):
    api.order("100", [])

    assert api.put("/3/orders/1/cancel").json()["Order"]["Cancelled"] is True
    assert api.put("/3/orders/1/createinvoice").status_code == 400


def test_order_rows_follow_the_row_id_rules_too(api):
    order = api.order(
        "100",
        [
            {"ArticleNumber": "BONA", "OrderedQuantity": "1", "DeliveredQuantity": "1"},
            {"ArticleNumber": "ESP-1", "OrderedQuantity": "1", "DeliveredQuantity": "1"},
        ],
    )
    keep = order["OrderRows"][1]["RowId"]

    updated = api.put("/3/orders/1", {"Order": {"OrderRows": [{"RowId": keep}]}}).json()["Order"]

    assert [row["ArticleNumber"] for row in updated["OrderRows"]] == ["ESP-1"]
