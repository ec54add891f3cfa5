"""Invoices moving through Fortnox's states on the simulator: bookkeep, send, pay, credit, cancel and
overdue, through the `/3/` routes and the token-free `/_sandbox/` actions, and what each refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox import admin
from tests.sandbox.test_fortnox_support import ALL_SCOPES, connect, error_code

ROW = [{"Description": "Tjänst", "DeliveredQuantity": "2", "Price": 400}]  # 1000 with VAT


@pytest.fixture
def api():
    api = connect(scope=f"{ALL_SCOPES} payment")
    api.customer(CustomerNumber="1", Name="Ett AB")
    return api


def act(api, number: int | str, action: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return api.control("POST", f"/_sandbox/companies/{api.tenant_id}/invoices/{number}/{action}", body)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def invoice(api, number: int | str) -> dict[str, Any]:
    return ok(api.get(f"/3/invoices/{number}"))["Invoice"]


def changed_since(api, since: str) -> list[str]:
    body = ok(api.get("/3/invoices", params={"lastmodified": since}))
    return [item["DocumentNumber"] for item in body["Invoices"]]


# -- the happy path ------------------------------------------------------------------------------------


def test_an_invoice_is_booked_sent_paid_in_part_then_in_full(api):
    api.invoice("1", ROW, ExternalInvoiceReference1="deal-7")

    booked = ok(act(api, 1, "bookkeep"))["Invoice"]
    sent = ok(act(api, 1, "send"))["Invoice"]
    part = ok(act(api, 1, "pay", {"amount": 400, "date": "2026-03-05"}))
    rest = ok(act(api, 1, "pay"))

    assert (booked["Booked"], booked["VoucherSeries"], booked["Sent"]) == (True, "B", False)
    assert sent["Sent"] is True
    assert (part["Invoice"]["Balance"], part["Invoice"]["FinalPayDate"]) == (600, None)
    assert part["InvoicePayment"]["Amount"] == 400
    assert part["InvoicePayment"]["PaymentDate"] == "2026-03-05"
    assert (rest["Invoice"]["Balance"], rest["Invoice"]["FinalPayDate"]) == (0, "2026-03-02")
    assert rest["InvoicePayment"]["Amount"] == 600
    assert rest["InvoicePayment"]["Booked"] is True
    assert rest["InvoicePayment"]["ExternalInvoiceReference1"] == "deal-7"
    assert [p["Number"] for p in ok(api.control("GET", f"/_sandbox/companies/{api.tenant_id}/payments"))[
        "payments"
    ]] == ["1", "2"]
    assert invoice(api, 1)["Balance"] == 0


def test_each_step_stamps_the_invoice_so_lastmodified_lists_it(api):
    api.invoice("1", ROW)
    api.invoice("1", ROW)
    steps = [("bookkeep", None), ("send", None), ("pay", {"amount": 100}), ("overdue", {"days": 2})]
    for minute, (action, body) in enumerate(steps, start=1):
        api.sim.wall_clock.advance(60)
        ok(act(api, 2, action, body))
        assert changed_since(api, f"2026-03-02 09:{minute:02d}") == ["2"], action

    api.sim.wall_clock.advance(60)
    assert changed_since(api, "2026-03-02 09:05") == []


def test_overdue_moves_the_due_date_into_the_past_and_unpaidoverdue_lists_it(api):
    api.invoice("1", ROW)
    ok(act(api, 1, "bookkeep"))

    moved = ok(act(api, 1, "overdue", {"days": 5}))["Invoice"]

    assert moved["DueDate"] == "2026-02-25"
    assert moved["InvoiceDate"] <= moved["DueDate"]
    overdue = ok(api.get("/3/invoices", params={"filter": "unpaidoverdue"}))["Invoices"]
    assert [i["DocumentNumber"] for i in overdue] == ["1"]


def test_cancel_through_the_control_and_the_api_agree(api):
    api.invoice("1", ROW)
    api.invoice("1", ROW)

    assert ok(act(api, 1, "cancel"))["Invoice"]["Cancelled"] is True
    assert ok(api.put("/3/invoices/2/cancel"))["Invoice"]["Cancelled"] is True


# -- credit ----------------------------------------------------------------------------------------------


def test_credit_makes_an_unbooked_credit_invoice_that_mirrors_the_original(api):
    api.invoice("1", ROW, ExternalInvoiceReference1="deal-7", YourReference="Anna")
    ok(act(api, 1, "bookkeep"))

    answer = ok(act(api, 1, "credit"))
    original, note = answer["Invoice"], answer["CreditInvoice"]

    assert original["CreditInvoiceReference"] == note["DocumentNumber"] == "2"
    assert (note["Credit"], note["CreditInvoiceReference"], note["Booked"]) == ("true", "1", False)
    assert (note["ExternalInvoiceReference1"], note["YourReference"]) == ("deal-7", "Anna")
    assert note["Total"] == -1000
    assert [row["DeliveredQuantity"] for row in note["InvoiceRows"]] == ["-2.00"]
    assert original["Balance"] == 1000, "the original's balance moves only when the credit is booked"
    listed = ok(api.get("/3/invoices", params={"credit": "true"}))["Invoices"]
    assert [(i["DocumentNumber"], i["CreditInvoiceReference"]) for i in listed] == [("2", "1")]


def test_booking_the_credit_invoice_settles_both_balances(api):
    api.invoice("1", ROW)
    ok(act(api, 1, "bookkeep"))
    ok(act(api, 1, "pay", {"amount": 300}))
    ok(act(api, 1, "credit"))
    api.sim.wall_clock.advance(120)

    ok(act(api, 2, "bookkeep"))

    assert (invoice(api, 1)["Balance"], invoice(api, 2)["Balance"]) == (0, 0)
    assert changed_since(api, "2026-03-02 09:02") == ["1", "2"]


def test_the_api_credit_route_answers_the_original_with_its_reference(api):
    api.invoice("1", ROW)
    ok(api.put("/3/invoices/1/bookkeep"))

    original = ok(api.put("/3/invoices/1/credit"))["Invoice"]

    assert (original["DocumentNumber"], original["CreditInvoiceReference"]) == ("1", "2")
    assert invoice(api, 2)["Credit"] == "true"


def test_cancelling_an_unbooked_credit_invoice_lets_the_original_be_credited_again(api):
    api.invoice("1", ROW)
    ok(act(api, 1, "bookkeep"))
    ok(act(api, 1, "credit"))

    ok(act(api, 2, "cancel"))

    assert invoice(api, 1)["CreditInvoiceReference"] is None
    assert ok(act(api, 1, "credit"))["CreditInvoice"]["DocumentNumber"] == "3"


# -- refusals --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "action", "code"),
    [
        ((), "pay", 2000375),
        (("bookkeep",), "bookkeep", 2000367),
        (("bookkeep",), "cancel", 2000369),
        ((), "credit", 2000379),
        (("bookkeep", "credit"), "credit", 2000381),
        (("cancel",), "send", 2000368),
        (("cancel",), "bookkeep", 2000368),
        (("bookkeep", "pay"), "pay", 2000360),
    ],
    ids=[
        "pay a draft",
        "book twice",
        "cancel a booked invoice",
        "credit a draft",
        "credit twice",
        "send a cancelled invoice",
        "book a cancelled invoice",
        "pay a paid invoice",
    ],
)
def test_a_transition_fortnox_refuses_answers_409_with_its_message_and_code(api, setup, action, code):
    api.invoice("1", ROW)
    for step in setup:
        ok(act(api, 1, step))

    response = act(api, 1, action)

    assert response.status_code == 409, response.text
    assert f"code {code}" in response.json()["message"]


def test_a_credit_invoice_cannot_be_credited(api):
    api.invoice("1", ROW)
    ok(act(api, 1, "bookkeep"))
    ok(act(api, 1, "credit"))
    ok(act(api, 2, "bookkeep"))

    response = act(api, 2, "credit")

    assert response.status_code == 409
    assert "code 2000380" in response.json()["message"]


def test_the_api_answers_refusals_as_error_information(api):
    api.invoice("1", ROW)
    ok(api.put("/3/invoices/1/bookkeep"))

    twice = api.put("/3/invoices/1/bookkeep")
    cancel = api.put("/3/invoices/1/cancel")

    assert (twice.status_code, error_code(twice)) == (400, 2000367)
    assert (cancel.status_code, error_code(cancel)) == (400, 2000369)


def test_unknown_actions_and_invoices_answer_404_with_a_reason(api):
    api.invoice("1", ROW)

    unknown = act(api, 1, "refund")
    missing = act(api, 99, "bookkeep")

    assert unknown.status_code == 404
    assert "bookkeep" in unknown.json()["message"] and "refund" in unknown.json()["message"]
    assert missing.status_code == 404
    assert "99" in missing.json()["message"]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("pay", {"amount": "lots"}),
        ("pay", {"date": "05/03/2026"}),
        ("overdue", {"days": 0}),
        ("overdue", {"days": "2"}),
    ],
)
def test_bad_control_bodies_answer_400_with_a_reason(api, action, body):
    api.invoice("1", ROW)
    ok(act(api, 1, "bookkeep"))

    response = act(api, 1, action, body)

    assert response.status_code == 400
    assert response.json()["message"]


def test_the_older_payments_control_still_answers_as_before(api):
    api.invoice("1", ROW)

    refused = act(api, 1, "payments")
    ok(act(api, 1, "bookkeep"))
    paid = ok(act(api, 1, "payments", {"amount": "250"}))

    assert refused.status_code == 400
    assert "bookkeep" in refused.json()["message"]
    assert paid["Invoice"]["Balance"] == 750


# -- the admin helpers -----------------------------------------------------------------------------------


def test_the_admin_helpers_drive_the_controls(api, monkeypatch):
    """The helpers send what the controls expect (through the simulator, no server needed)."""

    def request(method: str, url: str, json: Any = None, timeout: float = 0) -> httpx.Response:
        return api.client.request(method, url.removeprefix("http://fortnox.test"), json=json)

    def get(url: str, timeout: float = 0) -> httpx.Response:
        return api.client.get(url.removeprefix("http://fortnox.test"))

    monkeypatch.setattr(admin.httpx, "request", request)
    monkeypatch.setattr(admin.httpx, "get", get)
    url, tenant = "http://fortnox.test", api.tenant_id
    api.invoice("1", ROW)
    api.invoice("1", ROW)
    api.invoice("1", ROW)

    admin.bookkeep_invoice(url, tenant, 1)
    admin.send_invoice(url, tenant, 1)
    paid = admin.pay_invoice(url, tenant, 1, amount=250, date="2026-03-04")
    admin.bookkeep_invoice(url, tenant, 2)
    credited = admin.credit_invoice(url, tenant, 2)
    cancelled = admin.cancel_invoice(url, tenant, 3)
    overdue = admin.make_overdue(url, tenant, 1, days=3)

    assert (paid["Invoice"]["Balance"], paid["InvoicePayment"]["PaymentDate"]) == (750, "2026-03-04")
    assert credited["CreditInvoice"]["CreditInvoiceReference"] == "2"
    assert cancelled["Invoice"]["Cancelled"] is True
    assert overdue["Invoice"]["DueDate"] == "2026-02-27"
    assert [p["InvoiceNumber"] for p in admin.fortnox_payments(url, tenant)] == [1]
    with pytest.raises(admin.AdminError, match="2000367"):
        admin.bookkeep_invoice(url, tenant, 1)
    assert admin.FORTNOX_INVOICE_ACTIONS == ("bookkeep", "send", "pay", "credit", "cancel", "overdue")
