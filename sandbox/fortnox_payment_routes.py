"""The Fortnox simulator's invoice payments (/3/invoicepayments, scope `payment`).

  GET    /3/invoicepayments                 list: `invoicenumber`, `lastmodified`, sortby=paymentdate,
                                            limit/page/offset, MetaInformation
  POST   /3/invoicepayments                 register a payment: lowers the invoice's Balance at once
  GET    /3/invoicepayments/{Number}
  PUT    /3/invoicepayments/{Number}        change an unbooked payment (Amount, PaymentDate, mode)
  DELETE /3/invoicepayments/{Number}        delete an unbooked payment (the Balance goes back up)
  PUT    /3/invoicepayments/{Number}/bookkeep   apply the body's changes, then book the payment

Field names and types are the spec's (`fortnox_Kf_InvoicePaymentListItem` and `…SingleItem`,
which differ: InvoiceTotal is a number in lists and a string on one payment, ModeOfPaymentAccount
a string in lists and an integer on one). The invoice fields (InvoiceCustomerNumber, InvoiceTotal,
ExternalInvoiceReference1, …) are read from the invoice when the payment is shown. The state
changes are `sandbox.fortnox_lifecycle`'s, whose docstring holds the decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox import fortnox_lifecycle as lifecycle
from sandbox import fortnox_money as money
from sandbox.common import json_response
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_fields import base_url, read_payload, to_json
from sandbox.fortnox_lists import ListSpec, list_response
from sandbox.fortnox_state import Company, FortnoxState

PAYMENT_LIST = ListSpec(
    "InvoicePayments",
    # `invoicenumber` is an exact match (an integer in the spec), applied before the list
    search={},
    sorts={
        "paymentdate": lambda p: (p["PaymentDate"], int(p["Number"])),
        "number": lambda p: int(p["Number"]),
    },
    default_sort="number",
)

#: what a client may send for a payment; the rest of the spec's payload fields are read-only
#: copies of the invoice's, ignored when sent
_WRITABLE = frozenset(
    {"InvoiceNumber", "Amount", "AmountCurrency", "PaymentDate", "ModeOfPayment", "ModeOfPaymentAccount"}
)
_IGNORED = frozenset(
    {
        "@url",
        "Number",
        "Booked",
        "Currency",
        "CurrencyRate",
        "CurrencyUnit",
        "ExternalInvoiceReference1",
        "ExternalInvoiceReference2",
        "InvoiceCustomerName",
        "InvoiceCustomerNumber",
        "InvoiceDueDate",
        "InvoiceOCR",
        "InvoiceTotal",
        "Source",
        "VoucherNumber",
        "VoucherSeries",
        "VoucherYear",
        "WriteOffs",
        "WriteOffExist",
    }
)


def _invoice_fields(company: Company, payment: dict[str, Any]) -> dict[str, Any]:
    invoice = company.invoices.get(payment["InvoiceNumber"]) or {}
    return {
        "InvoiceCustomerName": invoice.get("CustomerName"),
        "InvoiceCustomerNumber": invoice.get("CustomerNumber"),
        "InvoiceDueDate": invoice.get("DueDate"),
        "InvoiceOCR": invoice.get("OCR"),
        "ExternalInvoiceReference1": invoice.get("ExternalInvoiceReference1"),
        "ExternalInvoiceReference2": invoice.get("ExternalInvoiceReference2"),
        "_total": invoice.get("Total", Decimal(0)),
    }


def render_payment(company: Company, payment: dict[str, Any], base: str) -> dict[str, Any]:
    """One payment as GET /3/invoicepayments/{Number} answers it (`…SingleItem`)."""
    fields = _invoice_fields(company, payment)
    out = to_json({"@url": f"{base}/3/invoicepayments/{payment['Number']}", **payment, **fields})
    out["InvoiceTotal"] = f"{fields['_total']:.2f}"
    out["CurrencyRate"] = float(payment["CurrencyRate"])
    return out


def render_payment_item(company: Company, payment: dict[str, Any], base: str) -> dict[str, Any]:
    """One payment as the list answers it (`…ListItem`)."""
    fields = _invoice_fields(company, payment)
    out = to_json({"@url": f"{base}/3/invoicepayments/{payment['Number']}", **payment, **fields})
    out["InvoiceTotal"] = float(fields["_total"])
    out["ModeOfPaymentAccount"] = str(payment["ModeOfPaymentAccount"])
    out["CurrencyRate"] = float(payment["CurrencyRate"])
    out["WriteOffExist"] = bool(payment["WriteOffs"])
    return out


def _amount(fields: dict[str, Any], invoice: dict[str, Any]) -> Decimal | None:
    """The amount in the invoice's currency: AmountCurrency, else Amount (SEK) / CurrencyRate."""
    for name in ("AmountCurrency", "Amount"):
        if fields.get(name) is None:
            continue
        try:
            value = money.to_decimal(fields[name])
        except ValueError as exc:
            raise FortnoxError("MUST_BE_NUMERIC", field=name) from exc
        if name == "Amount":
            value = value / Decimal(str(invoice["CurrencyRate"]))
        return money.round_cents(value)
    return None


def _payment_fields(payload: dict[str, Any]) -> dict[str, Any]:
    for name in payload:
        if name not in _WRITABLE and name not in _IGNORED:
            raise FortnoxError("INVALID_FIELD", field=name)
    fields = {k: v for k, v in payload.items() if k in _WRITABLE and v is not None}
    day = fields.get("PaymentDate")
    if day is not None:
        try:
            ok = isinstance(day, str) and len(day) == 10 and bool(date.fromisoformat(day))
        except ValueError:
            ok = False
        if not ok:
            raise FortnoxError("INVALID_DATE", field="PaymentDate")
    account = fields.get("ModeOfPaymentAccount")
    if account is not None:
        if not str(account).isdigit() or not 1000 <= int(str(account)) <= 9999:
            raise FortnoxError("INVALID_VALUE", field="ModeOfPaymentAccount")
        fields["ModeOfPaymentAccount"] = int(str(account))
    if "ModeOfPayment" in fields and not isinstance(fields["ModeOfPayment"], str):
        raise FortnoxError("INVALID_VALUE", field="ModeOfPayment")
    return fields


class PaymentRoutes:
    """The /3/invoicepayments endpoints."""

    def __init__(self, state: FortnoxState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, tuple[str, ...], Callable[..., Response]]]:
        one = "/3/invoicepayments/<Number>"
        return [
            ("/3/invoicepayments", ("GET",), self._list),
            ("/3/invoicepayments", ("POST",), self._create),
            (one, ("GET",), self._get),
            (one, ("PUT",), self._update),
            (one, ("DELETE",), self._delete),
            (f"{one}/bookkeep", ("PUT",), self._bookkeep),
        ]

    def _list(self, request: Request, company: Company) -> Response:
        number = request.args.get("invoicenumber")
        if number is not None and not number.isdigit():
            raise FortnoxError("INVALID_PARAMETER", parameter=f"invoicenumber={number}")
        items = [p for p in company.payments if number is None or p["InvoiceNumber"] == int(number)]
        base = base_url(request)
        return list_response(
            request, self.state.today, items, PAYMENT_LIST, lambda p: render_payment_item(company, p, base)
        )

    def _create(self, request: Request, company: Company) -> Response:
        fields = _payment_fields(read_payload(request, "InvoicePayment"))
        number = fields.get("InvoiceNumber")
        if number is None:
            raise FortnoxError("FIELD_REQUIRED", field="InvoiceNumber")
        if not str(number).isdigit():
            raise FortnoxError("MUST_BE_NUMERIC", field="InvoiceNumber")
        invoice = company.invoices.get(int(str(number)))
        if invoice is None:
            raise FortnoxError("INVOICE_NOT_FOUND", status=400, number=number)
        amount = _amount(fields, invoice)
        if amount is None:
            raise FortnoxError("FIELD_REQUIRED", field="Amount")
        payment = lifecycle.register_payment(
            company,
            invoice,
            amount,
            fields.get("PaymentDate"),
            self.state,
            mode_of_payment=fields.get("ModeOfPayment"),
            mode_of_payment_account=fields.get("ModeOfPaymentAccount"),
            source="direct",
        )
        return json_response(
            {"InvoicePayment": render_payment(company, payment, base_url(request))}, status=201
        )

    def _get(self, request: Request, company: Company, Number: str) -> Response:
        payment = lifecycle.find_payment(company, Number)
        return json_response({"InvoicePayment": render_payment(company, payment, base_url(request))})

    def _apply(self, request: Request, company: Company, payment: dict[str, Any], *, body_required: bool) -> None:
        if not body_required and not request.get_data(cache=True).strip():
            return
        fields = _payment_fields(read_payload(request, "InvoicePayment"))
        sent_number = fields.get("InvoiceNumber")
        if sent_number is not None and str(sent_number) != str(payment["InvoiceNumber"]):
            raise FortnoxError("INVALID_VALUE", field="InvoiceNumber")
        amount = _amount(fields, company.invoices[payment["InvoiceNumber"]])
        if amount is not None or set(fields) - {"InvoiceNumber", "Amount", "AmountCurrency"}:
            lifecycle.update_payment(
                company,
                payment,
                self.state,
                amount=amount,
                paid_on=fields.get("PaymentDate"),
                mode_of_payment=fields.get("ModeOfPayment"),
                mode_of_payment_account=fields.get("ModeOfPaymentAccount"),
            )

    def _update(self, request: Request, company: Company, Number: str) -> Response:
        payment = lifecycle.find_payment(company, Number)
        self._apply(request, company, payment, body_required=True)
        return json_response({"InvoicePayment": render_payment(company, payment, base_url(request))})

    def _delete(self, request: Request, company: Company, Number: str) -> Response:
        payment = lifecycle.find_payment(company, Number)
        lifecycle.delete_payment(company, payment, self.state)
        return Response(status=204)

    def _bookkeep(self, request: Request, company: Company, Number: str) -> Response:
        payment = lifecycle.find_payment(company, Number)
        if payment["Booked"]:
            raise FortnoxError("PAYMENT_ALREADY_BOOKED", number=Number)
        self._apply(request, company, payment, body_required=False)
        lifecycle.bookkeep_payment(company, payment, self.state)
        return json_response({"InvoicePayment": render_payment(company, payment, base_url(request))})
