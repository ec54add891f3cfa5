"""Every API route of the Fortnox simulator, held to the official OpenAPI spec.

Each route in `FortnoxSimulator.api_routes` has one case here (a route without one fails
`test_every_api_route_has_a_conformance_case`). A case sends a request shaped by the spec's request
schema (checked against it first) and checks the answer against the spec's response schema.

What is not checked against the spec, and why (the spec quirks of fortnox.md §1), all in
`conformable` and `response_schema_path`:
  - null values are dropped before validation: Fortnox answers null for unset fields, while the
    spec's types are not nullable;
  - `CurrencyRate` in invoice list items is a string in real responses, a number in the spec;
  - PDF answers (`preview`, `print`) are declared application/pdf with a JSON schema: the bytes are
    checked to be a PDF instead;
  - GET /3/prices is declared as a single Price wrapper but lists prices: it is checked against the
    spec's price list schema (the one of /3/prices/sublist);
  - error bodies carry lower-case `error`/`message`/`code` where the spec models PascalCase
    (all optional there), so their keys are checked here as well;
  - list wrappers for invoices and orders lack MetaInformation in the spec; it is allowed there
    and checked by the list tests;
  - the auth host (/oauth-v1/...) is not in the spec; test_fortnox_oauth covers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.sandbox.test_fortnox_support import ALL_SCOPES, connect
from tests.support.openapi import OpenApiSpec

INVOICE_ROW = {
    "ArticleNumber": "A1",
    "Description": "Bryggare",
    "DeliveredQuantity": "2",
    "Price": 100.5,
    "VAT": 25,
    "Discount": 10,
    "DiscountType": "PERCENT",
    "Unit": "st",
}
ORDER_ROW = {
    "ArticleNumber": "A1",
    "OrderedQuantity": "2",
    "DeliveredQuantity": "2",
    "Price": 100.5,
    "VAT": 25,
}


@dataclass(frozen=True)
class Case:
    path: str
    body: dict[str, Any] | None = None
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/3/customers"): Case("/3/customers", query={"name": "acme", "sortby": "name"}),
    ("POST", "/3/customers"): Case(
        "/3/customers",
        {
            "Customer": {
                "Name": "Ny Kund AB",
                "CustomerNumber": "300",
                "Email": "ny@kund.se",
                "ZipCode": "211 20",
                "City": "Malmö",
                "Type": "COMPANY",
                "VATType": "SEVAT",
                "DefaultDeliveryTypes": {"Invoice": "EMAIL"},
            }
        },
        201,
    ),
    ("GET", "/3/customers/<CustomerNumber>"): Case("/3/customers/100"),
    ("PUT", "/3/customers/<CustomerNumber>"): Case(
        "/3/customers/100", {"Customer": {"Name": "Acme AB", "City": "Lund"}}
    ),
    ("DELETE", "/3/customers/<CustomerNumber>"): Case("/3/customers/200", status=204),
    ("GET", "/3/articles"): Case("/3/articles", query={"description": "bryg"}),
    ("POST", "/3/articles"): Case(
        "/3/articles",
        {
            "Article": {
                "ArticleNumber": "NY-1",
                "Description": "Kvarn",
                "Type": "STOCK",
                "VAT": 25,
                "Unit": "st",
                "PurchasePrice": 40,
                "SalesAccount": 3001,
            }
        },
        201,
    ),
    ("GET", "/3/articles/<ArticleNumber>"): Case("/3/articles/A1"),
    ("PUT", "/3/articles/<ArticleNumber>"): Case(
        "/3/articles/A1", {"Article": {"Description": "Bryggare XL"}}
    ),
    ("DELETE", "/3/articles/<ArticleNumber>"): Case("/3/articles/DEL", status=204),
    ("GET", "/3/pricelists"): Case("/3/pricelists"),
    ("POST", "/3/pricelists"): Case(
        "/3/pricelists", {"PriceList": {"Code": "C", "Description": "Kampanj"}}, 201
    ),
    ("GET", "/3/pricelists/<Code>"): Case("/3/pricelists/B"),
    ("PUT", "/3/pricelists/<Code>"): Case(
        "/3/pricelists/B", {"PriceList": {"Code": "B", "Description": "Partner"}}
    ),
    ("GET", "/3/prices"): Case("/3/prices"),
    ("POST", "/3/prices"): Case(
        "/3/prices", {"Price": {"ArticleNumber": "A1", "PriceList": "B", "Price": 80, "FromQuantity": 0}}, 201
    ),
    ("GET", "/3/prices/sublist/<PriceList>/<ArticleNumber>"): Case("/3/prices/sublist/A/A1"),
    ("GET", "/3/prices/<PriceList>/<ArticleNumber>"): Case("/3/prices/A/A1"),
    ("PUT", "/3/prices/<PriceList>/<ArticleNumber>"): Case(
        "/3/prices/A/A1", {"Price": {"ArticleNumber": "A1", "PriceList": "A", "Price": 110}}
    ),
    ("GET", "/3/prices/<PriceList>/<ArticleNumber>/<FromQuantity>"): Case("/3/prices/A/A1/10"),
    ("PUT", "/3/prices/<PriceList>/<ArticleNumber>/<FromQuantity>"): Case(
        "/3/prices/A/A1/10", {"Price": {"ArticleNumber": "A1", "PriceList": "A", "Price": 85}}
    ),
    ("DELETE", "/3/prices/<PriceList>/<ArticleNumber>/<FromQuantity>"): Case("/3/prices/A/A1/10", status=204),
    ("GET", "/3/invoices"): Case("/3/invoices", query={"filter": "unbooked", "customernumber": "100"}),
    ("POST", "/3/invoices"): Case(
        "/3/invoices",
        {
            "Invoice": {
                "CustomerNumber": "100",
                "InvoiceDate": "2026-03-02",
                "ExternalInvoiceReference1": "deal-1",
                "YourReference": "Anna",
                "Remarks": "Tack",
                "Currency": "SEK",
                "Language": "SV",
                "EmailInformation": {"EmailAddressTo": "a@kund.se"},
                "InvoiceRows": [INVOICE_ROW],
            }
        },
        201,
    ),
    ("GET", "/3/invoices/<DocumentNumber>"): Case("/3/invoices/1"),
    ("PUT", "/3/invoices/<DocumentNumber>"): Case(
        "/3/invoices/1",
        {"Invoice": {"CustomerNumber": "100", "InvoiceRows": [{**INVOICE_ROW, "DeliveredQuantity": "3"}]}},
    ),
    ("PUT", "/3/invoices/<DocumentNumber>/cancel"): Case("/3/invoices/1/cancel"),
    ("PUT", "/3/invoices/<DocumentNumber>/externalprint"): Case("/3/invoices/1/externalprint"),
    ("GET", "/3/invoices/<DocumentNumber>/preview"): Case("/3/invoices/1/preview"),
    ("GET", "/3/invoices/<DocumentNumber>/print"): Case("/3/invoices/1/print"),
    ("GET", "/3/invoices/<DocumentNumber>/email"): Case("/3/invoices/1/email"),
    ("PUT", "/3/invoices/<DocumentNumber>/bookkeep"): Case("/3/invoices/1/bookkeep"),
    ("PUT", "/3/invoices/<DocumentNumber>/credit"): Case("/3/invoices/2/credit"),
    ("GET", "/3/invoicepayments"): Case(
        "/3/invoicepayments", query={"invoicenumber": "2", "sortby": "paymentdate"}
    ),
    ("POST", "/3/invoicepayments"): Case(
        "/3/invoicepayments",
        {"InvoicePayment": {"InvoiceNumber": 2, "Amount": 50, "PaymentDate": "2026-03-02"}},
        201,
    ),
    ("GET", "/3/invoicepayments/<Number>"): Case("/3/invoicepayments/1"),
    ("PUT", "/3/invoicepayments/<Number>"): Case(
        "/3/invoicepayments/1", {"InvoicePayment": {"InvoiceNumber": 2, "Amount": 120, "ModeOfPayment": "BG"}}
    ),
    ("DELETE", "/3/invoicepayments/<Number>"): Case("/3/invoicepayments/1", status=204),
    ("PUT", "/3/invoicepayments/<Number>/bookkeep"): Case(
        "/3/invoicepayments/1/bookkeep", {"InvoicePayment": {"InvoiceNumber": 2}}
    ),
    ("GET", "/3/orders"): Case("/3/orders", query={"filter": "invoicenotcreated"}),
    ("POST", "/3/orders"): Case(
        "/3/orders",
        {
            "Order": {
                "CustomerNumber": "100",
                "OrderDate": "2026-03-02",
                "DeliveryDate": "2026-03-09",
                "ExternalInvoiceReference1": "deal-2",
                "OrderRows": [ORDER_ROW],
            }
        },
        201,
    ),
    ("GET", "/3/orders/<DocumentNumber>"): Case("/3/orders/1"),
    ("PUT", "/3/orders/<DocumentNumber>"): Case(
        "/3/orders/1",
        {"Order": {"CustomerNumber": "100", "OrderRows": [{**ORDER_ROW, "OrderedQuantity": "4"}]}},
    ),
    ("PUT", "/3/orders/<DocumentNumber>/cancel"): Case("/3/orders/1/cancel"),
    ("PUT", "/3/orders/<DocumentNumber>/externalprint"): Case("/3/orders/1/externalprint"),
    ("GET", "/3/orders/<DocumentNumber>/preview"): Case("/3/orders/1/preview"),
    ("GET", "/3/orders/<DocumentNumber>/print"): Case("/3/orders/1/print"),
    ("GET", "/3/orders/<DocumentNumber>/email"): Case("/3/orders/1/email"),
    ("PUT", "/3/orders/<DocumentNumber>/createinvoice"): Case("/3/orders/1/createinvoice"),
    ("GET", "/3/termsofpayments"): Case("/3/termsofpayments"),
    ("POST", "/3/termsofpayments"): Case(
        "/3/termsofpayments", {"TermsOfPayment": {"Code": "60", "Description": "60 dagar"}}, 201
    ),
    ("GET", "/3/termsofpayments/<Code>"): Case("/3/termsofpayments/30"),
    ("PUT", "/3/termsofpayments/<Code>"): Case(
        "/3/termsofpayments/30", {"TermsOfPayment": {"Code": "30", "Description": "30 dagar netto"}}
    ),
    ("DELETE", "/3/termsofpayments/<Code>"): Case("/3/termsofpayments/45", status=204),
    ("GET", "/3/wayofdeliveries/<Code>"): Case("/3/wayofdeliveries/P"),
    ("GET", "/3/currencies"): Case("/3/currencies"),
    ("POST", "/3/currencies"): Case(
        "/3/currencies",
        {"Currency": {"Code": "CHF", "Description": "Schweizisk franc", "SellRate": 12.1, "BuyRate": 11.9}},
        201,
    ),
    ("GET", "/3/currencies/<Code>"): Case("/3/currencies/EUR"),
    ("PUT", "/3/currencies/<Code>"): Case(
        "/3/currencies/EUR", {"Currency": {"Code": "EUR", "Description": "Euro", "SellRate": 11.6}}
    ),
    ("DELETE", "/3/currencies/<Code>"): Case("/3/currencies/GBP", status=204),
    ("GET", "/3/printtemplates"): Case("/3/printtemplates", query={"type": "invoice"}),
    ("GET", "/3/companyinformation"): Case("/3/companyinformation"),
    ("GET", "/3/wayofdeliveries"): Case("/3/wayofdeliveries"),
    ("POST", "/3/wayofdeliveries"): Case(
        "/3/wayofdeliveries", {"WayOfDelivery": {"Code": "DHL", "Description": "DHL Express"}}, 201
    ),
    ("GET", "/3/termsofdeliveries"): Case("/3/termsofdeliveries"),
    ("POST", "/3/termsofdeliveries"): Case(
        "/3/termsofdeliveries", {"TermsOfDelivery": {"Code": "CIF", "Description": "Kostnad, försäkring, frakt"}}, 201
    ),
    ("GET", "/3/accounts"): Case("/3/accounts", query={"sortby": "number"}),
    ("POST", "/3/accounts"): Case(
        "/3/accounts", {"Account": {"Number": 3010, "Description": "Försäljning tjänster"}}, 201
    ),
    ("GET", "/3/costcenters"): Case("/3/costcenters"),
    ("POST", "/3/costcenters"): Case(
        "/3/costcenters", {"CostCenter": {"Code": "NORR", "Description": "Region norr"}}, 201
    ),
    ("GET", "/3/projects"): Case("/3/projects"),
    ("POST", "/3/projects"): Case("/3/projects", {"Project": {"Description": "Lansering 2027"}}, 201),
}

ERROR_CASES = [
    ("GET", Case("/3/customers/404", status=404)),
    ("POST", Case("/3/invoices", {"Invoice": {"CustomerNumber": "999"}}, status=400)),
    (
        "POST",
        Case(
            "/3/orders",
            {"Order": {"CustomerNumber": "100", "OrderRows": [{"ArticleNumber": "NOPE"}]}},
            status=400,
        ),
    ),
    ("GET", Case("/3/articles/NOPE", status=404)),
    ("GET", Case("/3/invoicepayments/404", status=404)),
    ("PUT", Case("/3/invoices/1/credit", status=400)),
]


@pytest.fixture(scope="module")
def spec() -> OpenApiSpec:
    return OpenApiSpec.load("fortnox/openapi.json")


@pytest.fixture
def world():
    """A company with something of everything the cases address: invoice 1 a draft, invoice 2
    booked with payment 1 on it."""
    api = connect(scope=f"{ALL_SCOPES} payment")
    api.control("PUT", "/_sandbox/ratelimit", {"enabled": False})
    api.customer(CustomerNumber="100", Name="Acme AB", Email="ekonomi@acme.se")
    api.customer(CustomerNumber="200", Name="Borttagen AB")
    api.article("A1", "Bryggare", price="100")
    api.created(
        "/3/prices", "Price", {"ArticleNumber": "A1", "PriceList": "A", "FromQuantity": 10, "Price": 90}
    )
    api.article("DEL", "Utgående")
    api.created("/3/pricelists", "PriceList", {"Code": "B", "Description": "Återförsäljare"})
    api.created("/3/termsofpayments", "TermsOfPayment", {"Code": "45", "Description": "45 dagar"})
    api.created("/3/currencies", "Currency", {"Code": "GBP", "Description": "Pund", "SellRate": 13.2})
    api.invoice("100", [INVOICE_ROW, {"Description": "Textrad"}], ExternalInvoiceReference1="deal-0")
    api.order("100", [ORDER_ROW])
    api.invoice("100", [INVOICE_ROW], ExternalInvoiceReference1="deal-9")
    assert api.put("/3/invoices/2/bookkeep").status_code == 200
    api.created("/3/invoicepayments", "InvoicePayment", {"InvoiceNumber": 2, "Amount": 100})
    return api


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def conformable(method: str, rule: str, body: Any) -> Any:
    """The answer with the documented spec quirks taken out (see the module docstring)."""
    body = without_nulls(body)
    if (method, rule) == ("GET", "/3/invoices"):
        for item in body["Invoices"]:
            assert isinstance(item.pop("CurrencyRate"), str)
    return body


def response_schema_path(method: str, rule: str, path: str) -> str:
    return "/3/prices/sublist/A/A1" if (method, rule) == ("GET", "/3/prices") else path


def test_every_api_route_has_a_conformance_case(world):
    assert set(world.sim.api_routes) == set(CASES)


def test_every_api_route_exists_in_the_spec(spec, world):
    for method, rule in world.sim.api_routes:
        spec.operation(method, CASES[(method, rule)].path)


@pytest.mark.parametrize(("method", "rule"), list(CASES), ids=[f"{m} {r}" for m, r in CASES])
def test_the_route_answers_as_the_spec_says(spec, world, method, rule):
    case = CASES[(method, rule)]
    spec.validate_request(method, case.path, case.body, case.query)

    response = world.client.request(
        method, case.path, json=case.body, params=case.query, headers=world.headers
    )

    assert response.status_code == case.status, response.text
    if rule.endswith(("/preview", "/print")):
        assert response.headers["content-type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
        return
    if case.status == 204:
        assert response.content == b""
        return
    body = response.json()
    assert body, "an empty answer proves nothing"
    spec.validate_response(
        method,
        response_schema_path(method, rule, case.path),
        response.status_code,
        conformable(method, rule, body),
    )


@pytest.mark.parametrize(("method", "case"), ERROR_CASES, ids=[c.path for _, c in ERROR_CASES])
def test_errors_answer_error_information_with_lower_case_keys(spec, world, method, case):
    response = world.client.request(method, case.path, json=case.body, headers=world.headers)

    assert response.status_code == case.status
    body = response.json()
    assert set(body["ErrorInformation"]) == {"error", "message", "code"}
    assert isinstance(body["ErrorInformation"]["code"], int)
    spec.validate_response(method, case.path, case.status, body)
