"""The Fortnox reads of the status sync: what changed since a Swedish minute, 500 a page, every call
inside the company's shared rate budget; payments without the `payment` scope fail as a 403 to decide on."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from hubnox.fortnox.client import FortnoxClient
from hubnox.fortnox.errors import FortnoxError
from hubnox.tokens import StaticToken
from tests.support.fake_api import FakeApi, RecordingBudget


def client(api: FakeApi, budget: RecordingBudget) -> FortnoxClient:
    http = httpx.Client(base_url="https://api.fortnox.example", transport=httpx.MockTransport(api))
    return FortnoxClient(http, StaticToken("token"), budget, "client:7001", today=lambda: date(2027, 1, 15))


def page(key: str, items: list[dict], number: int, pages: int) -> httpx.Response:
    return httpx.Response(200, json={key: items, "MetaInformation": {"@TotalPages": pages, "@CurrentPage": number,
                                                                     "@TotalResources": 0}})


def test_changed_invoices_are_read_by_lastmodified_500_a_page_within_the_shared_budget():
    api, budget = FakeApi(), RecordingBudget()
    api.on("GET", "/3/invoices", lambda request, match: page("Invoices", [{
        "DocumentNumber": request.url.params["page"] + "00", "CustomerNumber": "C1", "Balance": "0",
        "Credit": "false", "CreditInvoiceReference": "0", "FinalPayDate": "2027-01-15", "Booked": True,
    }], int(request.url.params["page"]), 2))

    invoices = client(api, budget).list_invoices_changed("2027-01-15 09:58")

    assert [invoice.document_number for invoice in invoices] == ["100", "200"]
    assert invoices[0].credit is False and invoices[0].credit_invoice_reference == "0"
    assert invoices[0].final_pay_date == date(2027, 1, 15)
    assert [dict(r.url.params) for r in api.requests()] == [
        {"lastmodified": "2027-01-15 09:58", "limit": "500", "page": "1"},
        {"lastmodified": "2027-01-15 09:58", "limit": "500", "page": "2"},
    ]
    assert budget.taken == ["fortnox:client:7001=23/5"] * 2


def test_changed_orders_and_payments_are_read_by_lastmodified():
    api, budget = FakeApi(), RecordingBudget()
    api.on("GET", "/3/orders", page("Orders", [{"DocumentNumber": "5", "CustomerNumber": "C1",
                                                "InvoiceReference": "1500"}], 1, 1))
    api.on("GET", "/3/invoicepayments", page("InvoicePayments", [{
        "Number": 12, "InvoiceNumber": 1001, "Amount": 250.5, "PaymentDate": "2027-01-14",
        "InvoiceCustomerNumber": "C1", "Booked": False}], 1, 1))
    fortnox = client(api, budget)

    [order] = fortnox.list_orders_changed("2027-01-15 09:58")
    [payment] = fortnox.list_payments_changed("2027-01-15 09:58")

    assert order.invoice_reference == "1500"
    assert (payment.number, payment.invoice_number, str(payment.amount), payment.payment_date) == (
        "12", "1001", "250.5", date(2027, 1, 14))
    assert all(r.url.params["lastmodified"] == "2027-01-15 09:58" for r in api.requests())


def test_payments_without_the_payment_scope_raise_a_403_for_the_sync_to_decide_on():
    api = FakeApi()
    api.on("GET", "/3/invoicepayments", httpx.Response(403, json={"message": "Missing scope payment"}))

    with pytest.raises(FortnoxError) as raised:
        client(api, RecordingBudget()).list_payments_changed("2027-01-15 09:58")

    assert raised.value.status == 403


def test_a_filtered_list_keeps_only_invoices_that_really_are_in_the_filter():
    api = FakeApi()
    api.on("GET", "/3/invoices", page("Invoices", [
        {"DocumentNumber": "1", "CustomerNumber": "C1", "Booked": True, "Balance": 10, "DueDate": "2027-01-14"},
        {"DocumentNumber": "2", "CustomerNumber": "C2", "Booked": True, "Balance": 10, "DueDate": "2027-01-15"},
        {"DocumentNumber": "3", "CustomerNumber": "C3", "Booked": True, "Balance": 0, "DueDate": "2027-01-01"},
    ], 1, 1))

    overdue = client(api, RecordingBudget()).list_invoices_filtered("unpaidoverdue")

    assert [invoice.document_number for invoice in overdue] == ["1"]
    assert api.requests()[0].url.params["filter"] == "unpaidoverdue"
    with pytest.raises(ValueError):
        client(api, RecordingBudget()).list_invoices_filtered("everything")
