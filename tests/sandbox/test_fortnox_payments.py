"""Invoice payments on the Fortnox simulator (/3/invoicepayments): what registering, changing,
deleting and booking a payment does to its invoice, the list's filters and paging, the `payment`
scope, and the answers held to the official spec."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox.test_fortnox_support import ALL_SCOPES, connect, error_code
from tests.support.openapi import OpenApiSpec

ROW = [{"Description": "Tjänst", "DeliveredQuantity": "1", "Price": 800}]  # 1000 with VAT


@pytest.fixture(scope="module")
def spec() -> OpenApiSpec:
    return OpenApiSpec.load("fortnox/openapi.json")


@pytest.fixture
def api():
    """Invoices 1 and 2 booked, 3 a draft, for customer 1."""
    api = connect(scope=f"{ALL_SCOPES} payment")
    api.control("PUT", "/_sandbox/ratelimit", {"enabled": False})
    api.customer(CustomerNumber="1", Name="Ett AB")
    for reference in ("deal-1", "deal-2", "deal-3"):
        api.invoice("1", ROW, ExternalInvoiceReference1=reference)
    for number in (1, 2):
        assert api.put(f"/3/invoices/{number}/bookkeep").status_code == 200
    return api


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def pay(api, invoice: int, amount: Any, **fields: Any) -> dict[str, Any]:
    body = {"InvoicePayment": {"InvoiceNumber": invoice, "Amount": amount, **fields}}
    return ok(api.post("/3/invoicepayments", body), 201)["InvoicePayment"]


def invoice(api, number: int) -> dict[str, Any]:
    return ok(api.get(f"/3/invoices/{number}"))["Invoice"]


def listed(api, **params: Any) -> list[str]:
    return [p["Number"] for p in ok(api.get("/3/invoicepayments", params=params))["InvoicePayments"]]


# -- registering a payment ---------------------------------------------------------------------------------


def test_a_payment_lowers_the_balance_at_once_and_is_created_unbooked(api):
    payment = pay(api, 1, 400, PaymentDate="2026-03-04")

    assert (payment["Number"], payment["InvoiceNumber"], payment["Booked"]) == ("1", 1, False)
    assert (payment["Amount"], payment["AmountCurrency"], payment["Currency"]) == (400, 400, "SEK")
    assert (payment["InvoiceCustomerNumber"], payment["InvoiceTotal"]) == ("1", "1000.00")
    assert payment["ExternalInvoiceReference1"] == "deal-1"
    assert (invoice(api, 1)["Balance"], invoice(api, 1)["FinalPayDate"]) == (600, None)


def test_the_payment_that_clears_the_balance_sets_the_final_pay_date(api):
    pay(api, 1, 400, PaymentDate="2026-03-04")
    pay(api, 1, 600, PaymentDate="2026-03-06")

    assert (invoice(api, 1)["Balance"], invoice(api, 1)["FinalPayDate"]) == (0, "2026-03-06")
    assert [i["DocumentNumber"] for i in ok(api.get("/3/invoices", params={"filter": "fullypaid"}))[
        "Invoices"
    ]] == ["1"]


def test_a_payment_bumps_its_invoice_so_lastmodified_lists_the_invoice(api):
    api.sim.wall_clock.advance(600)

    pay(api, 2, 100)

    since = ok(api.get("/3/invoices", params={"lastmodified": "2026-03-02 09:10"}))["Invoices"]
    assert [i["DocumentNumber"] for i in since] == ["2"]


def test_a_foreign_currency_payment_keeps_the_invoice_currency_amount_and_the_sek_value(api):
    api.invoice("1", ROW, Currency="EUR")
    assert api.put("/3/invoices/4/bookkeep").status_code == 200

    payment = pay(api, 4, None, AmountCurrency=100)

    assert (payment["AmountCurrency"], payment["Currency"]) == (100, "EUR")
    assert payment["Amount"] == pytest.approx(100 * payment["CurrencyRate"], abs=0.01)
    assert invoice(api, 4)["Balance"] == 900


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"InvoiceNumber": 3, "Amount": 100}, 400, 2000375),
        ({"InvoiceNumber": 1}, 400, 2000313),
        ({"Amount": 100}, 400, 2000313),
        ({"InvoiceNumber": 99, "Amount": 100}, 400, 2000434),
        ({"InvoiceNumber": 1, "Amount": 100, "Colour": "red"}, 400, 2001399),
        ({"InvoiceNumber": 1, "Amount": 100, "PaymentDate": "4 mars"}, 400, 2000361),
        ({"InvoiceNumber": 1, "Amount": 0}, 400, 2000360),
    ],
    ids=["draft invoice", "no amount", "no invoice", "unknown invoice", "unknown field", "bad date", "zero"],
)
def test_a_payment_fortnox_refuses_answers_error_information(api, body, status, code):
    response = api.post("/3/invoicepayments", {"InvoicePayment": body})

    assert (response.status_code, error_code(response)) == (status, code)
    assert invoice(api, 1)["Balance"] == 1000


# -- changing, deleting and booking ------------------------------------------------------------------------


def test_changing_an_unbooked_payment_moves_the_balance_by_the_difference(api):
    pay(api, 1, 400)

    changed = ok(api.put("/3/invoicepayments/1", {"InvoicePayment": {"Amount": 1000, "PaymentDate": "2026-03-03"}}))

    assert (changed["InvoicePayment"]["Amount"], changed["InvoicePayment"]["PaymentDate"]) == (1000, "2026-03-03")
    assert (invoice(api, 1)["Balance"], invoice(api, 1)["FinalPayDate"]) == (0, "2026-03-03")


def test_deleting_a_payment_gives_the_amount_back_and_clears_the_final_pay_date(api):
    pay(api, 1, 1000)

    assert api.delete("/3/invoicepayments/1").status_code == 204

    assert (invoice(api, 1)["Balance"], invoice(api, 1)["FinalPayDate"]) == (1000, None)
    assert api.get("/3/invoicepayments/1").status_code == 404


def test_booking_a_payment_sets_booked_and_its_voucher_and_then_it_is_locked(api):
    pay(api, 1, 400)

    booked = ok(api.put("/3/invoicepayments/1/bookkeep"))["InvoicePayment"]

    assert (booked["Booked"], booked["VoucherSeries"], booked["VoucherYear"]) == (True, "C", 2026)
    assert invoice(api, 1)["Balance"] == 600, "booking does not move the balance again"
    for response in (
        api.put("/3/invoicepayments/1/bookkeep"),
        api.put("/3/invoicepayments/1", {"InvoicePayment": {"Amount": 500}}),
        api.delete("/3/invoicepayments/1"),
    ):
        assert response.status_code == 400
        assert error_code(response) in (2000377, 2000378)


def test_an_unknown_payment_answers_404(api):
    response = api.get("/3/invoicepayments/77")

    assert (response.status_code, error_code(response)) == (404, 2000376)


# -- the list ---------------------------------------------------------------------------------------------


def test_invoicenumber_is_an_exact_match(api):
    for number in range(4, 12):
        api.invoice("1", ROW)
        assert api.put(f"/3/invoices/{number}/bookkeep").status_code == 200
    pay(api, 1, 100)
    pay(api, 11, 100)
    pay(api, 1, 100)

    assert listed(api, invoicenumber="1") == ["1", "3"]
    assert listed(api, invoicenumber="11") == ["2"]
    assert api.get("/3/invoicepayments", params={"invoicenumber": "x"}).status_code == 400


def test_the_list_pages_with_meta_information_and_sorts_by_payment_date(api):
    for day in ("05", "03", "04", "01", "02"):
        pay(api, 1, 100, PaymentDate=f"2026-03-{day}")

    page = ok(api.get("/3/invoicepayments", params={"limit": 2, "page": 2, "sortby": "paymentdate"}))

    assert [p["PaymentDate"] for p in page["InvoicePayments"]] == ["2026-03-03", "2026-03-04"]
    assert page["MetaInformation"] == {"@TotalResources": 5, "@TotalPages": 3, "@CurrentPage": 2}


def test_lastmodified_lists_the_payments_changed_since_and_pages_them(api):
    pay(api, 1, 100)
    api.sim.wall_clock.advance(900)
    for _ in range(3):
        pay(api, 2, 100)
    api.sim.wall_clock.advance(900)
    ok(api.put("/3/invoicepayments/1", {"InvoicePayment": {"Amount": 150}}))

    assert listed(api, lastmodified="2026-03-02 09:10") == ["1", "2", "3", "4"]
    assert listed(api, lastmodified="2026-03-02 09:20") == ["1"]
    first = ok(api.get("/3/invoicepayments", params={"lastmodified": "2026-03-02 09:10", "limit": 3}))
    assert first["MetaInformation"]["@TotalPages"] == 2


def test_the_control_lists_the_same_payments_the_api_shows(api):
    pay(api, 1, 100)
    control = api.control("POST", f"/_sandbox/companies/{api.tenant_id}/invoices/2/pay", {"amount": 50})
    assert control.status_code == 200

    payments = ok(api.control("GET", f"/_sandbox/companies/{api.tenant_id}/payments"))["payments"]

    assert payments == [
        ok(api.get("/3/invoicepayments/1"))["InvoicePayment"],
        ok(api.get("/3/invoicepayments/2"))["InvoicePayment"],
    ]
    assert [p["Booked"] for p in payments] == [False, True]


# -- scope and spec ----------------------------------------------------------------------------------------


def test_a_token_without_the_payment_scope_gets_403(api):
    other = connect(api.sim)

    response = other.get("/3/invoicepayments")

    assert (response.status_code, error_code(response)) == (403, 2000663)
    assert "payment" in response.json()["ErrorInformation"]["message"]


def test_payments_answer_as_the_spec_says(api, spec):
    api.invoice("1", ROW, Currency="EUR")
    assert api.put("/3/invoices/4/bookkeep").status_code == 200
    pay(api, 4, None, AmountCurrency=100, ModeOfPayment="BG", ModeOfPaymentAccount=1930)
    ok(api.put("/3/invoicepayments/1/bookkeep"))
    control = ok(api.control("POST", f"/_sandbox/companies/{api.tenant_id}/invoices/1/pay"))

    def valid(method: str, path: str, status: int, body: Any) -> None:
        cleaned = {k: _without_nulls(v) for k, v in body.items()}
        spec.validate_response(method, path, status, cleaned)

    valid("GET", "/3/invoicepayments", 200, ok(api.get("/3/invoicepayments")))
    valid("GET", "/3/invoicepayments/1", 200, ok(api.get("/3/invoicepayments/1")))
    valid("GET", "/3/invoicepayments/2", 200, {"InvoicePayment": control["InvoicePayment"]})
    one = ok(api.get("/3/invoicepayments/1"))["InvoicePayment"]
    item = ok(api.get("/3/invoicepayments"))["InvoicePayments"][0]
    assert (one["InvoiceTotal"], item["InvoiceTotal"]) == ("1000.00", 1000)
    assert (one["ModeOfPaymentAccount"], item["ModeOfPaymentAccount"]) == (1930, "1930")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
