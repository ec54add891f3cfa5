"""The Fortnox client, OAuth, error explanations and models, against a recorded-shape fake of API v3.

Every request the client makes is recorded and held to Fortnox's official OpenAPI spec, and the
fake's JSON answers are held to the same spec.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hubnox.api_http import RetryPolicy, build_http_client, encode_json
from hubnox.errors import (
    BadRequestError,
    ConnectionBrokenError,
    NotFoundError,
    TransientError,
    UserFixableError,
)
from hubnox.fortnox.client import FortnoxClient, error_from_response
from hubnox.fortnox.errors import (
    EXPLANATIONS,
    FortnoxError,
    FortnoxNotFoundError,
    explain,
    parse_error_body,
)
from hubnox.fortnox.models import (
    Article,
    DocumentKind,
    FortnoxCustomer,
    Invoice,
    InvoiceRow,
    Limits,
    Order,
    OrderRow,
    fortnox_alias,
    tenant_of_access_token,
)
from hubnox.fortnox.oauth import FortnoxOAuth
from hubnox.rate_budget import LocalRateBudget
from hubnox.tokens import StaticToken
from tests.support.fake_api import FakeApi, RecordingBudget, Responder
from tests.support.openapi import OpenApiSpec, SpecError

API = "https://api.fortnox.se"
AUTH = "https://apps.fortnox.se"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def answer(body: Any = None, status: int = 200, content_type: str = "application/json") -> httpx.Response:
    if body is None:
        return httpx.Response(status)
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, headers={"content-type": content_type})
    return httpx.Response(status, content=encode_json(body), headers={"content-type": content_type})


def fortnox_error(code: int, message: str, status: int = 400) -> httpx.Response:
    return answer({"ErrorInformation": {"error": 1, "message": message, "code": code}}, status)


def meta(total: int, pages: int, page: int) -> dict[str, int]:
    return {"@TotalResources": total, "@TotalPages": pages, "@CurrentPage": page}




class FakeFortnox(FakeApi):
    """Fortnox as the client sees it: canned, spec-shaped answers per route, every exchange kept."""


class Tokens:
    def __init__(self) -> None:
        self.invalidated: list[str] = []

    def token(self) -> str:
        return f"access-{len(self.invalidated) + 1}"

    def invalidate(self, token: str) -> None:
        self.invalidated.append(token)


Budget = RecordingBudget


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content, parse_float=Decimal) if request.content else None


def customer(number: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"@url": f"{API}/3/customers/{number}", "CustomerNumber": number, "Name": name, **fields}


def invoice_answer(payload: dict[str, Any], number: str = "1001") -> dict[str, Any]:
    """An invoice as Fortnox returns it after a create: rows totalled, VAT added, SEK rounded."""
    rows, net, vat = [], Decimal(0), Decimal(0)
    for row_id, row in enumerate(payload.get("InvoiceRows", []), start=1):
        total = (Decimal(row.get("DeliveredQuantity", "0")) * row.get("Price", Decimal(0))).quantize(
            Decimal("0.01")
        )
        net += total
        vat += total * Decimal(row.get("VAT", 25)) / 100
        rows.append({**row, "RowId": row_id, "Total": total, "TotalExcludingVAT": total})
    unrounded = net + vat
    total = unrounded.quantize(Decimal(1))
    return {
        **payload,
        "@url": f"{API}/3/invoices/{number}",
        "DocumentNumber": number,
        "InvoiceRows": rows,
        "Net": net,
        "Gross": net,
        "TotalVAT": vat.quantize(Decimal("0.01")),
        "RoundOff": (total - unrounded).quantize(Decimal("0.01")),
        "Total": total,
        "TotalToPay": total,
        "Balance": total,
        "Booked": False,
        "Cancelled": False,
        "Sent": False,
    }


def install_default_routes(fake: FakeFortnox) -> None:
    def customers(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        wanted = request.url.params.get("customernumber") or request.url.params.get("email") or ""
        pool = [
            customer("1", "Acme AB", Email="Info@Acme.se", OrganisationNumber="556677-8899"),
            customer("10", "Acme Norr AB", Email="norr@acme.se"),
            customer("100", "Acme Syd AB", Email="syd@acme.se"),
            customer("21", "Beta AB", Email="info@acme.se.example"),
        ]
        found = [c for c in pool if wanted.lower() in (c["CustomerNumber"] + c["Email"].lower())]
        half = found[:2] if page == 1 else found[2:]
        return answer({"Customers": half, "MetaInformation": meta(len(found), 2, page)})

    def get_customer(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if match["n"] == "404":
            return fortnox_error(2000433, "Kunde inte hitta kunden", 404)
        return answer({"Customer": customer(match["n"], "Acme AB", Currency="SEK", SalesAccount="3001")})

    def save_customer(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        sent = body_of(request)["Customer"]
        number = match["n"] if match.groupdict().get("n") else "42"
        return answer(
            {"Customer": customer(number, sent.get("Name", "Acme AB"), **sent)},
            201 if request.method == "POST" else 200,
        )

    def get_article(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if match["n"] == "NOPE":
            return fortnox_error(2000428, "Kan inte hitta artikeln", 404)
        return answer(
            {
                "Article": {
                    "@url": f"{API}/3/articles/{match['n']}",
                    "ArticleNumber": match["n"],
                    "Description": "Widget",
                    "VAT": 25,
                    "SalesPrice": 100,
                    "Unit": "st",
                    "Type": "STOCK",
                }
            }
        )

    def create_article(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        sent = body_of(request)["Article"]
        return answer({"Article": {"@url": f"{API}/3/articles/{sent['ArticleNumber']}", **sent}}, 201)

    def update_article(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        sent = body_of(request)["Article"]
        return answer({"Article": {"@url": f"{API}/3/articles/{match['n']}", "ArticleNumber": match["n"],
                                   "Description": "Widget", "VAT": 25, "Unit": "st", **sent}})

    def get_price(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if match["article"] == "NEW-1":
            return fortnox_error(2000430, "Kan inte hitta priset", 404)
        return answer({"Price": {"@url": f"{API}{request.url.path}", "ArticleNumber": match["article"],
                                 "PriceList": match["list"], "FromQuantity": 0, "Price": 100,
                                 "Date": "2026-11-21"}})

    def put_price(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if match["article"] == "NEW-1":
            return fortnox_error(2000430, "Kan inte hitta priset", 404)
        return answer({"Price": body_of(request)["Price"]})

    def post_price(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return answer({"Price": body_of(request)["Price"]}, 201)

    def list_documents(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        kind = match["kind"]
        reference = request.url.params.get("externalinvoicereference1")
        if reference is not None:
            items = [
                {"DocumentNumber": str(n), "CustomerNumber": "1", "ExternalInvoiceReference1": ref}
                for n, ref in ((1001, "123"), (1002, "12"), (1003, "4123"))
                if reference in ref
            ]
        else:
            items = [
                {
                    "DocumentNumber": "1",
                    "CustomerNumber": "1",
                    "Balance": 500,
                    "Total": 500,
                    "Cancelled": False,
                    "Booked": True,
                    "DueDate": "2026-01-31",
                },
                {
                    "DocumentNumber": "2",
                    "CustomerNumber": "1",
                    "Balance": 0,
                    "Total": 800,
                    "Cancelled": False,
                    "Booked": True,
                    "DueDate": "2026-01-31",
                    "FinalPayDate": "2026-01-20",
                },
                {
                    "DocumentNumber": "3",
                    "CustomerNumber": "10",
                    "Balance": 900,
                    "Total": 900,
                    "Cancelled": False,
                    "Booked": True,
                    "DueDate": "2026-01-31",
                },
                {
                    "DocumentNumber": "4",
                    "CustomerNumber": "1",
                    "Balance": 300,
                    "Total": 300,
                    "Cancelled": False,
                    "Booked": False,
                    "DueDate": "2026-12-31",
                    "FinalPayDate": "",
                },
            ]
        key = "Invoices" if kind == "invoices" else "Orders"
        return answer({key: items, "MetaInformation": meta(len(items), 1, 1)})

    def create_invoice(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return answer({"Invoice": invoice_answer(body_of(request)["Invoice"])}, 201)

    def create_order(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        sent = body_of(request)["Order"]
        return answer(
            {"Order": {**sent, "DocumentNumber": "7", "Net": 0, "Total": 0, "Cancelled": False}}, 201
        )

    fake.on("GET", r"/3/customers", customers)
    fake.on("GET", r"/3/customers/(?P<n>[^/]+)", get_customer)
    fake.on("POST", r"/3/customers", save_customer)
    fake.on("PUT", r"/3/customers/(?P<n>[^/]+)", save_customer)
    fake.on("GET", r"/3/articles/(?P<n>[^/]+)", get_article)
    fake.on("POST", r"/3/articles", create_article)
    fake.on("PUT", r"/3/articles/(?P<n>[^/]+)", update_article)
    fake.on("GET", r"/3/prices/(?P<list>[^/]+)/(?P<article>[^/]+)/(?P<qty>[^/]+)", get_price)
    fake.on("PUT", r"/3/prices/(?P<list>[^/]+)/(?P<article>[^/]+)/(?P<qty>[^/]+)", put_price)
    fake.on("POST", r"/3/prices", post_price)
    fake.on("GET", r"/3/(?P<kind>invoices|orders)", list_documents)
    fake.on("POST", r"/3/invoices", create_invoice)
    fake.on("POST", r"/3/orders", create_order)
    fake.on(
        "GET",
        r"/3/invoices/(?P<n>[^/]+)",
        lambda request, match: answer(
            {"Invoice": invoice_answer({"CustomerNumber": "1", "InvoiceRows": []}, match["n"])}
        ),
    )
    fake.on(
        "GET",
        r"/3/orders/(?P<n>[^/]+)",
        answer({"Order": {"DocumentNumber": "7", "CustomerNumber": "1", "OrderRows": [], "Total": 0}}),
    )
    fake.on("GET", r"/3/(invoices|orders)/(?P<n>[^/]+)/preview", answer(PDF, content_type="application/pdf"))
    fake.on(
        "GET",
        r"/3/termsofpayments",
        answer(
            {
                "TermsOfPayments": [
                    {"@url": f"{API}/3/termsofpayments/30", "Code": "30", "Description": "30 dagar"}
                ],
                "MetaInformation": meta(1, 1, 1),
            }
        ),
    )
    fake.on(
        "GET",
        r"/3/currencies",
        answer(
            {
                "Currencies": [
                    {"Code": "EUR", "Description": "Euro", "BuyRate": 11.2, "SellRate": 11.3, "Unit": 1}
                ]
            }
        ),
    )
    fake.on("GET", r"/3/printtemplates", answer({"PrintTemplates": [{"Template": "st", "Name": "Standard"}]}))
    fake.on(
        "GET",
        r"/3/pricelists",
        answer({"PriceLists": [{"Code": "A", "Description": "Standard", "PreSelected": True}]}),
    )
    fake.on(
        "GET",
        r"/3/companyinformation",
        answer(
            {
                "CompanyInformation": {
                    "CompanyName": "Testbolaget AB",
                    "OrganizationNumber": "556000-0000",
                    "DatabaseNumber": 123456,
                    "CountryCode": "SE",
                }
            }
        ),
    )


@pytest.fixture
def fortnox() -> FakeFortnox:
    fake = FakeFortnox()
    install_default_routes(fake)
    return fake


@pytest.fixture
def budget() -> Budget:
    return Budget()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fortnox: FakeFortnox, budget: Budget, sleeps: Sleeps) -> FortnoxClient:
    http = build_http_client(API, transport=httpx.MockTransport(fortnox))
    retry = RetryPolicy(sleep=sleeps, random=lambda: 0.0)
    return FortnoxClient(
        http,
        Tokens(),
        budget,
        FortnoxClient.tenant_key_for("cid", "123456"),
        retry=retry,
        today=lambda: date(2026, 3, 2),
    )


def sample_invoice() -> Invoice:
    return Invoice(
        customer_number="1",
        currency="SEK",
        external_invoice_reference1="1001",
        your_reference="Anna Andersson",
        invoice_rows=[
            InvoiceRow(
                article_number="W-1",
                description="Widget",
                delivered_quantity=Decimal("3"),
                price=Decimal("499.99"),
                vat=25,
            ),
            InvoiceRow(
                article_number="S-1",
                description="Setup",
                delivered_quantity=Decimal("1.5"),
                price=Decimal("100.10"),
                vat=25,
                discount=Decimal("10"),
                discount_type="PERCENT",
            ),
        ],
    )


# -- customers --------------------------------------------------------------------------------------


def test_a_customer_search_keeps_only_exact_matches_across_pages(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    found = client.find_customers(customernumber="1")

    assert [c.customer_number for c in found] == ["1"]
    pages = [r.url.params for r in fortnox.requests("GET", "/3/customers")]
    assert [(p["customernumber"], p["limit"], p["page"]) for p in pages] == [
        ("1", "500", "1"),
        ("1", "500", "2"),
    ]


def test_a_customer_email_matches_whatever_its_case(client: FortnoxClient) -> None:
    assert [c.customer_number for c in client.find_customers(email="info@acme.se")] == ["1"]


def test_an_organisation_number_matches_with_or_without_the_dash(client: FortnoxClient) -> None:
    found = client.find_customers(customernumber="1", organisationnumber="5566778899")
    assert [c.customer_number for c in found] == ["1"]
    assert client.find_customers(customernumber="1", organisationnumber="5566778800") == []


def test_a_customer_search_by_an_unknown_field_is_a_programming_error(client: FortnoxClient) -> None:
    with pytest.raises(ValueError):
        client.find_customers(nickname="acme")


def test_a_missing_customer_is_not_found_with_fortnoxs_words_kept(client: FortnoxClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.get_customer("404")
    assert isinstance(caught.value, FortnoxNotFoundError)
    assert caught.value.fortnox_code == 2000433
    assert "Kunde inte hitta kunden" in caught.value.message


def test_a_customer_is_created_with_only_the_fields_fortnox_lets_us_write(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    created = client.create_customer(
        FortnoxCustomer(
            name="Acme AB",
            type="COMPANY",
            organisation_number="556677-8899",
            email="info@acme.se",
            country_code="SE",
            currency="SEK",
            phone="ignored",
            show_price_vat_included=False,
        )
    )

    assert created.customer_number == "42"
    assert body_of(fortnox.requests("POST", "/3/customers")[0]) == {
        "Customer": {
            "Name": "Acme AB",
            "Type": "COMPANY",
            "OrganisationNumber": "556677-8899",
            "Email": "info@acme.se",
            "CountryCode": "SE",
            "Currency": "SEK",
            "ShowPriceVATIncluded": False,
        }
    }


def test_a_customer_update_sends_only_what_changes(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    client.update_customer("1", FortnoxCustomer(customer_number="1", name="Acme AB", email="new@acme.se"))
    request = fortnox.requests("PUT")[0]
    assert request.url.path == "/3/customers/1"
    assert body_of(request) == {"Customer": {"Name": "Acme AB", "Email": "new@acme.se"}}


# -- articles and prices ----------------------------------------------------------------------------


def test_a_missing_article_is_none(client: FortnoxClient) -> None:
    assert client.get_article("NOPE") is None


def test_an_article_is_read_with_exact_numbers(client: FortnoxClient) -> None:
    article = client.get_article("W-1")
    assert article is not None
    assert (article.article_number, article.vat, article.sales_price) == ("W-1", Decimal(25), Decimal(100))


def article_list(total: int) -> Responder:
    """The article list of a company with `total` articles A-0 .. A-<total-1>, 500 a page."""

    def respond(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        page, limit = int(request.url.params["page"]), int(request.url.params["limit"])
        numbers = [f"A-{i}" for i in range(total)][(page - 1) * limit:page * limit]
        items = [{"ArticleNumber": n, "Description": n, "VAT": 25} for n in numbers]
        return answer({"Articles": items, "MetaInformation": meta(total, max(1, -(-total // limit)), page)})

    return respond


def test_many_skus_are_looked_up_in_the_article_list_when_it_costs_fewer_calls(
        client: FortnoxClient, fortnox: FakeFortnox) -> None:
    fortnox.on("GET", "/3/articles", article_list(700))
    found = client.find_articles(["A-1", "A-650", "MISSING", "A-2", "A-1"])
    assert {number: article is not None for number, article in found.items()} == {
        "A-1": True, "A-650": True, "MISSING": False, "A-2": True}
    assert [r.url.params["page"] for r in fortnox.requests("GET", "/3/articles")] == ["1", "2"]
    assert not [r for r in fortnox.requests("GET") if r.url.path.startswith("/3/articles/")]


def test_a_few_skus_in_a_large_company_are_asked_for_one_by_one(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    fortnox.on("GET", "/3/articles", article_list(5000))
    found = client.find_articles(["W-1", "NOPE", "W-1"])
    # One list page shows the list has 10 pages: more than the 2 numbers left, so each is asked for.
    assert found["W-1"] is not None and found["NOPE"] is None
    assert len(fortnox.requests("GET", "/3/articles/")) == 2
    assert client.find_articles(["W-1"]) and len(fortnox.requests("GET", "/3/articles?")) == 0


def test_a_new_articles_price_is_created_at_once(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    fortnox.on("POST", "/3/prices", lambda request, match: answer(
        {"Price": {**body_of(request)["Price"], "Date": "2026-11-21"}}, 201))
    client.set_price("A", "W-9", Decimal("99.50"), new_article=True)
    assert [r.method for r in fortnox.requests(contains="/3/prices")] == ["POST"]


def test_an_article_is_created_without_a_sales_price(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    client.create_article(
        Article(
            article_number="W-2",
            description="Widget 2",
            type="SERVICE",
            unit="st",
            vat=Decimal(25),
            sales_price=Decimal("10"),
        )
    )
    assert body_of(fortnox.requests("POST", "/3/articles")[0]) == {
        "Article": {
            "ArticleNumber": "W-2",
            "Description": "Widget 2",
            "Type": "SERVICE",
            "Unit": "st",
            "VAT": Decimal(25),
        }
    }


def test_an_article_number_longer_than_fortnox_allows_is_refused_before_sending(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    with pytest.raises(BadRequestError) as caught:
        client.create_article(Article(article_number="X" * (Limits.ARTICLE_NUMBER + 1), description="Long"))
    assert "ArticleNumber" in caught.value.message
    assert fortnox.requests() == []


def test_a_price_is_updated_where_it_exists(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    price = client.set_price("A", "W-1", Decimal("149.50"))
    assert price.price == Decimal("149.50")
    request = fortnox.requests("PUT")[0]
    assert request.url.path == "/3/prices/A/W-1/0"
    assert body_of(request) == {
        "Price": {"ArticleNumber": "W-1", "PriceList": "A", "FromQuantity": 0, "Price": Decimal("149.50")}
    }
    assert fortnox.requests("POST") == []


def test_an_article_is_updated_with_only_the_fields_given_and_never_its_number(
        client: FortnoxClient, fortnox: FakeFortnox) -> None:
    updated = client.update_article("W-1", Article(article_number="W-1", description="Widget, blue", vat=Decimal(12)))
    request = fortnox.requests("PUT")[0]
    assert request.url.path == "/3/articles/W-1"
    assert body_of(request) == {"Article": {"Description": "Widget, blue", "VAT": Decimal(12)}}
    assert (updated.article_number, updated.description, updated.vat) == ("W-1", "Widget, blue", Decimal(12))


def test_an_articles_price_is_read_and_a_missing_one_is_none(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    price = client.get_price("A", "W-1")
    assert price is not None and price.price == Decimal(100)
    assert client.get_price("A", "NEW-1") is None
    assert [r.url.path for r in fortnox.requests("GET")] == ["/3/prices/A/W-1/0", "/3/prices/A/NEW-1/0"]


def test_a_price_that_does_not_exist_yet_is_created(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    client.set_price("A", "NEW-1", Decimal("10"))
    assert [r.method for r in fortnox.requests()] == ["PUT", "POST"]


# -- documents --------------------------------------------------------------------------------------


def test_documents_are_found_by_the_exact_deal_id(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    found = client.find_documents_by_external_reference("invoice", "12")
    assert [doc.document_number for doc in found] == ["1002"]
    assert fortnox.requests("GET")[0].url.params["externalinvoicereference1"] == "12"


def test_orders_are_found_by_the_deal_id_too(client: FortnoxClient) -> None:
    found = client.find_documents_by_external_reference(DocumentKind.ORDER, "123")
    assert [doc.document_number for doc in found] == ["1001"]
    assert isinstance(found[0], Order)


def test_an_invoice_is_created_with_exact_money_and_fortnoxs_totals_come_back(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    created = client.create_invoice(sample_invoice())

    sent = body_of(fortnox.requests("POST", "/3/invoices")[0])["Invoice"]
    assert sent["ExternalInvoiceReference1"] == "1001"
    assert sent["InvoiceRows"][0] == {
        "ArticleNumber": "W-1",
        "Description": "Widget",
        "DeliveredQuantity": "3",
        "Price": Decimal("499.99"),
        "VAT": 25,
    }
    assert sent["InvoiceRows"][1]["DeliveredQuantity"] == "1.5"
    assert b'"Price":499.99' in fortnox.requests("POST", "/3/invoices")[0].content
    assert created.document_number == "1001"
    assert created.totals.net == Decimal("1650.12")
    assert created.totals.total == Decimal("2063")
    assert created.invoice_rows[0].total == Decimal("1499.97")
    assert isinstance(created.totals.total_vat, Decimal)


def test_an_order_carries_ordered_and_delivered_quantities_as_text(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    order = Order(
        customer_number="1",
        order_rows=[
            OrderRow(
                article_number="W-1",
                ordered_quantity=Decimal("2"),
                delivered_quantity=Decimal("2"),
                price=Decimal("10"),
            )
        ],
    )
    assert client.create_order(order).document_number == "7"
    row = body_of(fortnox.requests("POST", "/3/orders")[0])["Order"]["OrderRows"][0]
    assert (row["OrderedQuantity"], row["DeliveredQuantity"]) == ("2", "2")


def test_a_refused_invoice_is_explained_in_plain_english(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    fortnox.on(
        "POST",
        r"/3/invoices",
        answer(
            {
                "ErrorInformation": {
                    "Error": 1,
                    "Message": "Ett konto måste anges när egen momssats används och EasyVat är aktiverat.",
                    "Code": 2004167,
                }
            },
            400,
        ),
    )
    with pytest.raises(FortnoxError) as caught:
        client.create_invoice(sample_invoice())
    error = caught.value
    assert (error.status, error.fortnox_code, error.code) == (400, 2004167, "FORTNOX_2004167")
    assert error.message.startswith("A custom VAT rate needs an account")
    assert "standard VAT rate" in (error.hint or "")


def test_an_invoice_create_is_never_sent_twice_when_fortnox_fails(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    fortnox.on("POST", r"/3/invoices", answer({"message": "Internal error"}, 500))
    with pytest.raises(TransientError):
        client.create_invoice(sample_invoice())
    assert len(fortnox.requests("POST", "/3/invoices")) == 1


def test_the_pdf_comes_from_preview_never_from_print(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    pdf = client.preview_pdf("invoice", "1001")

    assert pdf.startswith(b"%PDF")
    request = fortnox.requests("GET", "/preview")[0]
    assert request.url.path == "/3/invoices/1001/preview"
    assert request.headers["Accept"] == "application/pdf"
    assert fortnox.requests("GET", "/print") == []


def test_a_preview_that_is_not_a_pdf_is_transient(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    fortnox.on("GET", r"/3/orders/7/preview", answer(b"<html>busy</html>", content_type="text/html"))
    with pytest.raises(TransientError):
        client.preview_pdf(DocumentKind.ORDER, "7")


def test_a_customers_unpaid_invoices_are_checked_again_by_us(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    unpaid = client.list_invoices("1", "unpaid")

    assert [invoice.document_number for invoice in unpaid] == ["1"]
    params = fortnox.requests("GET", "/3/invoices")[0].url.params
    assert (params["customernumber"], params["filter"], params["limit"]) == ("1", "unpaid", "500")


def test_overdue_fully_paid_and_unbooked_invoices_are_told_apart(client: FortnoxClient) -> None:
    assert [i.document_number for i in client.list_invoices("1", "unpaidoverdue")] == ["1"]
    assert [i.document_number for i in client.list_invoices("1", "fullypaid")] == ["2"]
    assert [i.document_number for i in client.list_invoices("1", "unbooked")] == ["4"]
    assert [i.document_number for i in client.list_invoices("1")] == ["1", "2", "4"]


def test_an_unknown_invoice_filter_is_a_programming_error(client: FortnoxClient) -> None:
    with pytest.raises(ValueError):
        client.list_invoices("1", "paid")


# -- lookups ----------------------------------------------------------------------------------------


def test_the_lookups_for_the_settings_page(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    assert [t.code for t in client.terms_of_payment()] == ["30"]
    assert client.currencies()[0].sell_rate == Decimal("11.3")
    assert [t.template for t in client.print_templates("order")] == ["st"]
    assert fortnox.requests("GET", "/3/printtemplates")[0].url.params["type"] == "order"
    assert [p.pre_selected for p in client.price_lists()] == [True]
    company = client.company_information()
    assert (company.company_name, company.database_number) == ("Testbolaget AB", 123456)


def test_the_lookups_new_customers_defaults_come_from(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    fortnox.on("GET", r"/3/wayofdeliveries", answer({"WayOfDeliveries": [
        {"@url": f"{API}/3/wayofdeliveries/P", "Code": "P", "Description": "Post", "DescriptionEnglish": "Mail"}]}))
    fortnox.on("GET", r"/3/termsofdeliveries", answer({"TermsOfDeliveries": [
        {"Code": "FVL", "Description": "Fritt vårt lager"}]}))
    fortnox.on("GET", r"/3/accounts", answer({"Accounts": [
        {"Number": 1510, "Description": "Kundfordringar", "Active": True},
        {"Number": 3041, "Description": "Försäljning tjänst", "Active": True},
        {"Number": 3001, "Description": "Försäljning 25 %", "Active": True},
        {"Number": 3099, "Description": "Gammal", "Active": False},
        {"Number": 4010, "Description": "Inköp", "Active": True}], "MetaInformation": meta(1, 1, 5)}))
    fortnox.on("GET", r"/3/costcenters", answer({"CostCenters": [
        {"Code": "SALJ", "Description": "Försäljning", "Active": True},
        {"Code": "OLD", "Description": "Nedlagd", "Active": False}]}))
    fortnox.on("GET", r"/3/projects", answer({"Projects": [
        {"ProjectNumber": "1", "Description": "Allmänt", "Status": "ONGOING"},
        {"ProjectNumber": "2", "Description": "Klart", "Status": "COMPLETED"}], "MetaInformation": meta(1, 1, 2)}))

    assert [(w.code, w.description) for w in client.ways_of_delivery()] == [("P", "Post")]
    assert [t.code for t in client.terms_of_delivery()] == ["FVL"]
    assert [a.number for a in client.sales_accounts()] == [3001, 3041]  # sales only, active, in order
    assert fortnox.requests("GET", "/3/accounts")[0].url.params["sortby"] == "number"
    assert [c.code for c in client.cost_centers()] == ["SALJ"]
    assert [p.project_number for p in client.projects()] == ["1"]


# -- budget, retries, tokens ------------------------------------------------------------------------


def test_every_call_counts_against_the_tenants_budget_a_little_under_the_limit(
    client: FortnoxClient, budget: Budget
) -> None:
    client.company_information()
    assert budget.taken == ["fortnox:cid:123456=23/5"]


def test_a_rate_limited_call_waits_the_five_second_window_and_succeeds(
    client: FortnoxClient, fortnox: FakeFortnox, sleeps: Sleeps
) -> None:
    replies = [
        answer({"message": "Too many requests"}, 429),
        answer({"CompanyInformation": {"CompanyName": "Testbolaget AB"}}),
    ]
    fortnox.on("GET", r"/3/companyinformation", lambda request, match: replies.pop(0))
    assert client.company_information().company_name == "Testbolaget AB"
    assert sleeps.calls == [5.0]


def test_an_expired_token_is_refreshed_once(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    replies = [answer({"message": "unauthorized"}, 401), answer({"CompanyInformation": {"CompanyName": "X"}})]
    fortnox.on("GET", r"/3/companyinformation", lambda request, match: replies.pop(0))
    assert client.company_information().company_name == "X"
    assert [r.headers["Authorization"] for r in fortnox.requests()] == ["Bearer access-1", "Bearer access-2"]


def test_a_token_refused_twice_means_fortnox_must_be_reconnected(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    fortnox.on("GET", r"/3/companyinformation", answer({"message": "unauthorized"}, 401))
    with pytest.raises(ConnectionBrokenError) as caught:
        client.company_information()
    assert caught.value.system == "Fortnox"


def test_a_missing_licence_is_explained(client: FortnoxClient, fortnox: FakeFortnox) -> None:
    fortnox.on(
        "GET",
        r"/3/articles/(?P<n>[^/]+)",
        fortnox_error(2001101, "Det finns ingen aktiv licens för önskat scope", 403),
    )
    with pytest.raises(FortnoxError) as caught:
        client.get_article("W-1")
    assert caught.value.explanation == EXPLANATIONS[2001101]


# -- every request against the official spec --------------------------------------------------------

PAGING = {"limit", "page", "offset", "sortby", "sortorder"}


def check_request(request: httpx.Request) -> None:
    spec = OpenApiSpec.load("fortnox/openapi.json")
    path = request.url.path
    op = spec.operation(request.method, path)
    query = dict(request.url.params)
    declared = {p["name"] for p in op.parameters if p.get("in") == "query"} | PAGING
    assert set(query) <= declared, f"{request.method} {path}: undeclared query {set(query) - declared}"
    spec.validate_request(request.method, path, body_of(request), query)


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    if response.headers.get("content-type", "").startswith("application/json") and response.content:
        # The spec types money as numbers; read them as JSON numbers, not Decimals, for jsonschema.
        body = json.loads(response.content)
        OpenApiSpec.load("fortnox/openapi.json").validate_response(
            request.method, request.url.path, response.status_code, body
        )


def exercise_every_method(client: FortnoxClient) -> None:
    client.find_customers(customernumber="1", email="info@acme.se")
    client.get_customer("1")
    client.create_customer(
        FortnoxCustomer(
            name="Acme AB",
            type="COMPANY",
            country_code="SE",
            zip_code="111 22",
            organisation_number="556677-8899",
            email_invoice="ar@acme.se",
        )
    )
    client.update_customer("1", FortnoxCustomer(name="Acme AB", your_reference="Anna"))
    client.get_article("W-1")
    client.get_article("NOPE")
    client.create_article(
        Article(article_number="W-2", description="Widget", type="STOCK", vat=Decimal(25), sales_account=3001)
    )
    client.update_article("W-1", Article(description="Widget, blue", unit="st", vat=Decimal(12)))
    client.get_price("A", "W-1")
    client.get_price("A", "NEW-1")
    client.set_price("A", "W-1", Decimal("10.50"))
    client.set_price("A", "NEW-1", Decimal("10.50"), from_quantity=Decimal("10"))
    client.find_documents_by_external_reference("invoice", "123")
    client.find_documents_by_external_reference("order", "123")
    client.create_invoice(sample_invoice())
    client.create_order(
        Order(
            customer_number="1",
            external_invoice_reference1="1001",
            order_rows=[
                OrderRow(
                    article_number="W-1",
                    ordered_quantity=Decimal(1),
                    delivered_quantity=Decimal(1),
                    price=Decimal("10"),
                    vat=25,
                )
            ],
        )
    )
    client.get_invoice("1001")
    client.get_order("7")
    client.preview_pdf("invoice", "1001")
    client.preview_pdf("order", "7")
    client.list_invoices("1", "unpaid")
    client.terms_of_payment()
    client.currencies()
    client.print_templates()
    client.price_lists()
    client.company_information()


def test_every_request_the_client_makes_fits_fortnoxs_spec(
    client: FortnoxClient, fortnox: FakeFortnox
) -> None:
    exercise_every_method(client)

    assert len(fortnox.exchanges) >= 24
    for request, response in fortnox.exchanges:
        check_request(request)
        check_response(request, response)


def test_the_spec_check_catches_a_body_that_breaks_the_spec() -> None:
    bad = httpx.Request("POST", f"{API}/3/invoices", content=b'{"Invoice": {"InvoiceRows": []}}')
    with pytest.raises(SpecError):
        check_request(bad)


# -- error shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"ErrorInformation": {"error": 1, "message": "Kan inte hitta kontot.", "code": 2000423}},
            (2000423, "Kan inte hitta kontot."),
        ),
        (
            {"ErrorInformation": {"Error": 1, "Message": "Ogiltig parameter", "Code": "2000588"}},
            (2000588, "Ogiltig parameter"),
        ),
        ({"errorinformation": {"ERROR": 1, "MESSAGE": "x", "CODE": 2000106}}, (2000106, "x")),
        (
            {"error": "invalid_grant", "error_description": "Invalid refresh token"},
            (None, "Invalid refresh token"),
        ),
        ({"error": "invalid_client"}, (None, "invalid_client")),
        ({"message": "unauthorized"}, (None, "unauthorized")),
        ("<html>", (None, None)),
        (None, (None, None)),
    ],
)
def test_every_fortnox_error_shape_is_read(body: Any, expected: tuple[int | None, str | None]) -> None:
    assert parse_error_body(body) == expected


@pytest.mark.parametrize(
    "code",
    [
        2000637,
        2001101,
        2001103,
        2000106,
        2000359,
        2001304,
        2004167,
        2000588,
        1000003,
        1000030,
        1000031,
        2000108,
        2000134,
        2000310,
        2000311,
        2000729,
        2001392,
        2001399,
        2001740,
        2002115,
    ],
)
def test_the_common_codes_have_a_meaning_and_a_fix(code: int) -> None:
    explanation = explain(code)
    assert explanation is not None
    assert explanation.meaning and explanation.fix


def test_statuses_map_to_what_should_happen_next() -> None:
    def response(status: int, body: Any = None) -> httpx.Response:
        return answer(body or {"message": "x"}, status)

    assert isinstance(error_from_response(response(429)), TransientError)
    assert isinstance(error_from_response(response(503)), TransientError)
    assert isinstance(error_from_response(response(401)), ConnectionBrokenError)
    bad_login = response(
        400, {"ErrorInformation": {"error": 1, "message": "Ogiltig inloggning", "code": 2000310}}
    )
    assert isinstance(error_from_response(bad_login), ConnectionBrokenError)
    assert isinstance(error_from_response(response(404)), FortnoxNotFoundError)
    used_number = error_from_response(
        response(
            400, {"ErrorInformation": {"error": 1, "message": "Kundnummer 1 används redan.", "code": 2000637}}
        )
    )
    assert isinstance(used_number, FortnoxError)
    assert isinstance(used_number, UserFixableError)
    assert "already used" in used_number.message


# -- models -----------------------------------------------------------------------------------------


def test_attribute_names_become_fortnoxs_field_names() -> None:
    assert [
        fortnox_alias(n)
        for n in (
            "vat_included",
            "external_invoice_reference1",
            "total_vat",
            "www",
            "email_invoice_cc",
            "organisation_number",
            "eu_account",
        )
    ] == [
        "VATIncluded",
        "ExternalInvoiceReference1",
        "TotalVAT",
        "WWW",
        "EmailInvoiceCC",
        "OrganisationNumber",
        "EUAccount",
    ]


def test_list_answers_with_numbers_as_text_and_blank_dates_are_read() -> None:
    article = Article.model_validate(
        {
            "ArticleNumber": "1",
            "Description": "x",
            "SalesPrice": "100.50",
            "VAT": "25",
            "SalesAccount": "3001",
        }
    )
    assert (article.sales_price, article.vat, article.sales_account) == (Decimal("100.50"), Decimal(25), 3001)
    invoice = Invoice.model_validate(
        {
            "CustomerNumber": 1,
            "FinalPayDate": "",
            "Balance": "0",
            "CurrencyRate": "9.2412",
            "DueDate": "2026-01-31",
        }
    )
    assert (invoice.customer_number, invoice.final_pay_date, invoice.balance) == ("1", None, Decimal(0))
    assert invoice.currency_rate == Decimal("9.2412")
    assert invoice.due_date == date(2026, 1, 31)


def test_read_only_amounts_are_never_sent() -> None:
    invoice = Invoice.model_validate(
        invoice_answer(
            {
                "CustomerNumber": "1",
                "InvoiceRows": [
                    {"ArticleNumber": "W-1", "DeliveredQuantity": "1", "Price": Decimal(10), "VAT": 25}
                ],
            }
        )
    )
    payload = invoice.to_payload()
    assert not {"Total", "TotalVAT", "Net", "Balance", "Booked", "Sent", "@url"} & set(payload)
    assert not {"Total", "TotalExcludingVAT"} & set(payload["InvoiceRows"][0])
    assert payload["InvoiceRows"][0]["RowId"] == 1


def test_a_too_long_external_reference_is_refused() -> None:
    invoice = Invoice(
        customer_number="1", external_invoice_reference1="9" * (Limits.EXTERNAL_INVOICE_REFERENCE + 1)
    )
    with pytest.raises(BadRequestError):
        invoice.to_payload()


def test_the_tenant_is_read_from_the_access_token() -> None:
    claims = (
        base64.urlsafe_b64encode(json.dumps({"tenantId": 123456, "exp": 1}).encode()).decode().rstrip("=")
    )
    assert tenant_of_access_token(f"eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln") == "123456"
    assert tenant_of_access_token("not-a-jwt") is None


# -- OAuth ------------------------------------------------------------------------------------------


def jwt(tenant: int) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"tenantId": tenant}).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{claims}.c2ln"


class FakeAuth:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.next: httpx.Response | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.next is not None:
            return self.next
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if request.url.path == "/oauth-v1/revoke":
            return httpx.Response(200, json={"revoked": True})
        if form.get("refresh_token") == "spent":
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "Invalid refresh token"}
            )
        body = {
            "access_token": jwt(123456),
            "scope": "customer invoice",
            "expires_in": 3600,
            "token_type": "bearer",
        }
        if form["grant_type"] != "client_credentials":
            body["refresh_token"] = "a7302e6b-b1cb-4508-b884-cf9abd9a51de"
        return httpx.Response(200, json=body)

    def form(self, index: int = -1) -> dict[str, list[str]]:
        return parse_qs(self.requests[index].content.decode())


@pytest.fixture
def auth() -> FakeAuth:
    return FakeAuth()


@pytest.fixture
def oauth(auth: FakeAuth) -> FortnoxOAuth:
    http = build_http_client(API, transport=httpx.MockTransport(auth))
    return FortnoxOAuth(http, client_id="cid", client_secret="secret", auth_url=AUTH, clock=lambda: 5000.0)


def test_the_connect_link_asks_for_offline_access(oauth: FortnoxOAuth) -> None:
    url = oauth.authorize_url(["customer", "invoice"], "st", "https://hubnox.example/oauth/fortnox/callback")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("apps.fortnox.se", "/oauth-v1/auth")
    assert "scope=customer%20invoice" in parts.query
    assert parse_qs(parts.query) == {
        "client_id": ["cid"],
        "redirect_uri": ["https://hubnox.example/oauth/fortnox/callback"],
        "scope": ["customer invoice"],
        "state": ["st"],
        "access_type": ["offline"],
        "response_type": ["code"],
    }


def test_a_service_account_is_asked_for_only_when_wanted(oauth: FortnoxOAuth) -> None:
    url = oauth.authorize_url(["customer"], "st", "https://hubnox.example/cb", service_account=True)
    assert parse_qs(urlsplit(url).query)["account_type"] == ["service"]


def test_a_code_is_exchanged_with_basic_auth_and_the_tenant_read_from_the_token(
    oauth: FortnoxOAuth, auth: FakeAuth
) -> None:
    tokens = oauth.exchange_code("code-1", "https://hubnox.example/cb")

    assert (tokens.refresh_token, tokens.expires_at, tokens.tenant_id) == (
        "a7302e6b-b1cb-4508-b884-cf9abd9a51de",
        8600.0,
        "123456",
    )
    assert tokens.scopes == ["customer", "invoice"]
    request = auth.requests[0]
    assert str(request.url) == f"{AUTH}/oauth-v1/token"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:secret").decode()
    assert auth.form() == {
        "grant_type": ["authorization_code"],
        "code": ["code-1"],
        "redirect_uri": ["https://hubnox.example/cb"],
    }


def test_a_spent_refresh_token_breaks_the_connection(oauth: FortnoxOAuth) -> None:
    with pytest.raises(ConnectionBrokenError) as caught:
        oauth.refresh("spent")
    assert caught.value.system == "Fortnox"


def test_a_refresh_whose_answer_is_lost_is_never_repeated(oauth: FortnoxOAuth, auth: FakeAuth) -> None:
    auth.next = httpx.Response(502)
    with pytest.raises(TransientError):
        oauth.refresh("a7302e6b")
    assert len(auth.requests) == 1


def test_client_credentials_name_the_tenant_and_bring_no_refresh_token(
    oauth: FortnoxOAuth, auth: FakeAuth
) -> None:
    tokens = oauth.client_credentials(123456)
    assert tokens.refresh_token is None
    assert auth.requests[0].headers["TenantId"] == "123456"
    assert auth.form() == {"grant_type": ["client_credentials"]}


def test_a_company_that_revoked_its_consent_must_reconnect(oauth: FortnoxOAuth, auth: FakeAuth) -> None:
    auth.next = httpx.Response(400, json={"error": "unauthorized_client", "error_description": "No consent"})
    with pytest.raises(ConnectionBrokenError):
        oauth.client_credentials(123456)


def test_an_integration_without_service_accounts_is_explained(oauth: FortnoxOAuth, auth: FakeAuth) -> None:
    auth.next = httpx.Response(
        400, json={"error": "invalid_request", "error_description": "Client does not allow service account"}
    )
    with pytest.raises(UserFixableError) as caught:
        oauth.client_credentials(123456)
    assert caught.value.code == "FORTNOX_SERVICE_ACCOUNT"


def test_wrong_integration_credentials_point_at_the_deployment_settings(
    oauth: FortnoxOAuth, auth: FakeAuth
) -> None:
    auth.next = httpx.Response(401, json={"error": "invalid_client", "error_description": "Bad client"})
    with pytest.raises(UserFixableError) as caught:
        oauth.exchange_code("code", "https://hubnox.example/cb")
    assert caught.value.code == "FORTNOX_CLIENT"


def test_a_used_code_asks_to_connect_again(oauth: FortnoxOAuth, auth: FakeAuth) -> None:
    auth.next = httpx.Response(400, json={"error": "invalid_grant", "error_description": "Code expired"})
    with pytest.raises(BadRequestError) as caught:
        oauth.exchange_code("old", "https://hubnox.example/cb")
    assert caught.value.code == "FORTNOX_BAD_CODE"


def test_disconnecting_revokes_the_refresh_token(oauth: FortnoxOAuth, auth: FakeAuth) -> None:
    assert oauth.revoke("a7302e6b") is True
    assert str(auth.requests[0].url) == f"{AUTH}/oauth-v1/revoke"
    assert auth.form() == {"token_type_hint": ["refresh_token"], "token": ["a7302e6b"]}


# -- against the Fortnox simulator, in process ------------------------------------------------------



class Company:
    """A simulated Fortnox company that consented to hubnox's service account."""

    def __init__(self) -> None:
        module = pytest.importorskip("sandbox.fortnox")
        self.simulator = module.FortnoxSimulator()
        self.http = build_http_client(API, transport=httpx.WSGITransport(app=self.simulator))
        created = self.http.post(
            "/_sandbox/companies",
            json={"CompanyName": "Testbolaget AB", "serviceConsent": {"clientId": "cid"}},
        ).json()
        self.tenant = str(created["tenantId"])
        self.oauth = FortnoxOAuth(self.http, client_id="cid", client_secret="secret", auth_url=AUTH)
        self.tokens = self.oauth.client_credentials(self.tenant)
        self.client = FortnoxClient(
            self.http,
            StaticToken(self.tokens.access_token),
            LocalRateBudget(),
            FortnoxClient.tenant_key_for("cid", self.tenant),
        )


@pytest.fixture
def company() -> Company:
    return Company()


def test_against_the_simulator_a_deal_becomes_one_draft_invoice_with_fortnoxs_totals(
    company: Company,
) -> None:
    client = company.client
    customer = client.create_customer(FortnoxCustomer(name="Acme AB", type="COMPANY", email="info@acme.se"))
    assert client.get_article("W-1") is None
    client.create_article(Article(article_number="W-1", description="Widget", vat=Decimal(25)))
    default_list = next(p.code for p in client.price_lists() if p.pre_selected)
    client.set_price(default_list, "W-1", Decimal("499.99"))
    assert client.find_documents_by_external_reference("invoice", "1001") == []

    created = client.create_invoice(
        Invoice(
            customer_number=customer.customer_number or "",
            external_invoice_reference1="1001",
            invoice_rows=[
                InvoiceRow(
                    article_number="W-1", delivered_quantity=Decimal(3), price=Decimal("499.99"), vat=25
                )
            ],
        )
    )

    assert company.tokens.tenant_id == company.tenant
    assert client.find_customers(email="INFO@acme.se")[0].customer_number == customer.customer_number
    assert (created.totals.net, created.totals.total_vat, created.totals.total) == (
        Decimal("1499.97"),
        Decimal("374.99"),
        Decimal(1875),
    )
    assert created.booked is False and created.sent is False
    found = client.find_documents_by_external_reference("invoice", "1001")
    assert [doc.document_number for doc in found] == [created.document_number]
    assert client.preview_pdf("invoice", created.document_number or "").startswith(b"%PDF")
    assert client.get_invoice(created.document_number or "").sent is False
    assert [i.document_number for i in client.list_invoices(customer.customer_number or "", "unbooked")] == [
        created.document_number
    ]
    assert client.company_information().database_number == int(company.tenant)


def test_against_the_simulator_a_price_is_created_then_updated(company: Company) -> None:
    client = company.client
    client.create_article(Article(article_number="S-1", description="Setup"))
    client.set_price("A", "S-1", Decimal("100"))
    updated = client.set_price("A", "S-1", Decimal("120.50"))
    assert updated.price == Decimal("120.50")
    article = client.get_article("S-1")
    assert article is not None
    assert article.sales_price == Decimal("120.50")


def test_against_the_simulator_a_revoked_consent_breaks_the_connection(company: Company) -> None:
    company.http.delete(f"/_sandbox/companies/{company.tenant}/consents")
    with pytest.raises(ConnectionBrokenError):
        company.client.company_information()
    with pytest.raises(ConnectionBrokenError):
        company.oauth.client_credentials(company.tenant)


def test_against_the_simulator_a_spent_refresh_token_breaks_the_connection(company: Company) -> None:
    link = company.oauth.authorize_url(["companyinformation"], "st", "https://hubnox.example/cb")
    consent = company.http.get(f"{link}&sandbox_tenant={company.tenant}")
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    first = company.oauth.exchange_code(code, "https://hubnox.example/cb")

    second = company.oauth.refresh(first.refresh_token or "")

    assert second.refresh_token not in (None, first.refresh_token)
    with pytest.raises(ConnectionBrokenError):
        company.oauth.refresh(first.refresh_token or "")


@pytest.mark.parametrize(("stored", "asked"), [
    ("556036-0793", "5560360793"),
    ("5560360793", "556036-0793"),
    ("556036 0793", "556036-0793"),
])
def test_against_the_simulator_an_organisation_number_is_found_whatever_its_format(
        company: Company, stored: str, asked: str) -> None:
    customer = company.client.create_customer(FortnoxCustomer(name="Acme AB", organisation_number=stored))
    company.client.create_customer(FortnoxCustomer(name="Other AB", organisation_number="556606-0793"))
    found = company.client.find_customers(organisationnumber=asked)
    assert [c.customer_number for c in found] == [customer.customer_number]


@pytest.mark.parametrize(("stored", "asked"), [
    ("08-123 45 67", "+46 8 123 45 67"),
    ("+46812345 67", "08-1234567"),
])
def test_against_the_simulator_a_swedish_phone_number_is_found_whatever_its_format(
        company: Company, stored: str, asked: str) -> None:
    customer = company.client.create_customer(FortnoxCustomer(name="Acme AB", phone1=stored))
    company.client.create_customer(FortnoxCustomer(name="Other AB", phone1="08-765 43 67"))
    found = company.client.find_customers(phone=asked)
    assert [c.customer_number for c in found] == [customer.customer_number]


# -- ids that are not Fortnox's never reach a URL ------------------------------------------------------


@pytest.mark.parametrize("number", ["..", ".", "", "%2e%2e", "a/../b", "12 ", "١٢٣"])
def test_a_document_number_that_is_not_fortnoxs_is_refused_before_any_request(client, fortnox, number):
    for read in (client.get_invoice, client.get_order, lambda n: client.preview_pdf("invoice", n)):
        with pytest.raises(BadRequestError):
            read(number)
    assert fortnox.requests() == []


@pytest.mark.parametrize("number", ["..", ".", "", "%2e%2e", "K 1", "1\n"])
def test_a_customer_number_that_is_not_fortnoxs_is_refused_before_any_request(client, fortnox, number):
    with pytest.raises(BadRequestError):
        client.get_customer(number)
    with pytest.raises(BadRequestError):
        client.update_customer(number, FortnoxCustomer(name="Acme AB"))
    assert fortnox.requests() == []


@pytest.mark.parametrize("number", ["..", "."])
def test_no_article_is_numbered_dot_or_dot_dot_so_none_is_asked_for(client, fortnox, number):
    assert client.get_article(number) is None
    with pytest.raises(BadRequestError):
        client.set_price("A", number, Decimal(100))
    with pytest.raises(BadRequestError):
        client.set_price("..", "A100", Decimal(100))
    assert fortnox.requests() == []


def test_an_article_number_with_a_slash_stays_one_path_segment(client, fortnox):
    fortnox.on("GET", r"/3/articles/.+", answer({"Article": {"ArticleNumber": "A/1", "Description": "Bolt"}}))
    client.get_article("A/1")
    [request] = fortnox.requests()
    assert request.url.raw_path == b"/3/articles/A%2F1"
