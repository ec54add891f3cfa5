"""The Fortnox simulator's catalogue: customers, articles, price lists and prices (/3/customers,
/3/articles, /3/pricelists, /3/prices with its sublist).

`Article.SalesPrice` is read-only: it shows the article's price in the preselected price list;
prices are written through /3/prices. A new article gets no price rows. GET /3/prices lists every
price as {"Prices": [...], "MetaInformation": ...}.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox import fortnox_money as money
from sandbox.common import json_response
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_fields import (
    ARTICLE_FIELDS,
    ARTICLE_IGNORED,
    COUNTRIES,
    CUSTOMER_FIELDS,
    CUSTOMER_IGNORED,
    CUSTOMER_LIST_FIELDS,
    CUSTOMER_NUMBER_PATTERN,
    EMAIL_PATTERN,
    PRICE_FIELDS,
    PRICE_LIST_FIELDS,
    URL_ONLY,
    base_url,
    check_vat,
    coerce,
    plain,
    read_payload,
    require,
    to_json,
    valid_organisation_number,
)
from sandbox.fortnox_lists import ARTICLE_LIST, CUSTOMER_LIST, PRICE_LIST_SPEC, ListSpec, code_list, list_response
from sandbox.fortnox_registers import check_customer_codes
from sandbox.fortnox_state import PRINT_TEMPLATES, Company, FortnoxState


def render_customer(customer: dict[str, Any], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"@url": f"{base}/3/customers/{customer['CustomerNumber']}"}
    for name in sorted(CUSTOMER_FIELDS):
        out[name] = customer.get(name)
    out["Country"] = COUNTRIES.get(customer.get("CountryCode") or "", customer.get("CountryCode"))
    out["DefaultDeliveryTypes"] = dict(customer["DefaultDeliveryTypes"])
    out["DefaultTemplates"] = dict(customer["DefaultTemplates"])
    return to_json(out)


def render_customer_item(customer: dict[str, Any], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"@url": f"{base}/3/customers/{customer['CustomerNumber']}"}
    for name in CUSTOMER_LIST_FIELDS:
        out[name] = customer.get("Phone1") if name == "Phone" else customer.get(name)
    return to_json(out)


def find_customer(company: Company, number: str) -> dict[str, Any]:
    customer = company.customers.get(number)
    if customer is None:
        raise FortnoxError("CUSTOMER_NOT_FOUND", number=number)
    return customer


def _check_customer_fields(company: Company, fields: dict[str, Any], merged: dict[str, Any]) -> None:
    if not merged.get("Name"):
        raise FortnoxError("FIELD_REQUIRED", field="Name")
    for code_field, store, key in (
        ("Currency", company.currencies, "CURRENCY_NOT_FOUND"),
        ("TermsOfPayment", company.terms_of_payments, "TERMS_NOT_FOUND"),
        ("PriceList", company.price_lists, "PRICE_LIST_NOT_FOUND"),
    ):
        value = fields.get(code_field)
        if value and value not in store:
            raise FortnoxError(key, status=400, code=value)
    check_customer_codes(company, fields)
    for name in ("CountryCode", "DeliveryCountryCode", "VisitingCountryCode"):
        value = fields.get(name)
        if value and not (len(value) == 2 and value.isalpha() and value.isupper()):
            raise FortnoxError("INVALID_VALUE", field=name)
    for name in ("Email", "EmailInvoice", "EmailOrder", "EmailOffer"):
        value = fields.get(name)
        if value and not EMAIL_PATTERN.match(value):
            raise FortnoxError("INVALID_EMAIL", field=name)
    org = fields.get("OrganisationNumber")
    if org and (merged.get("CountryCode") or "SE") == "SE" and not valid_organisation_number(org):
        raise FortnoxError("INVALID_ORGANISATION_NUMBER")


def _merge_customer(customer: dict[str, Any], fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name in ("DefaultDeliveryTypes", "DefaultTemplates"):
            customer[name] = {**customer.get(name, {}), **(value or {})}
        else:
            customer[name] = value


def customer_or_400(company: Company, number: str) -> dict[str, Any]:
    customer = company.customers.get(number)
    if customer is None:
        raise FortnoxError("CUSTOMER_NOT_FOUND", status=400, number=number)
    return customer


def article_price(company: Company, article_number: str) -> Decimal:
    price = company.prices.get((company.preselected_price_list(), article_number, Decimal(0)))
    return price["Price"] if price else Decimal(0)


def render_article(company: Company, article: dict[str, Any], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"@url": f"{base}/3/articles/{article['ArticleNumber']}"}
    for name in sorted(ARTICLE_FIELDS):
        out[name] = article.get(name)
    stock = article.get("QuantityInStock") or Decimal(0)
    out.update(
        {
            "CommodityCode": None,
            "SalesPrice": article_price(company, article["ArticleNumber"]),
            "DisposableQuantity": stock,
            "ReservedQuantity": Decimal(0),
            "StockValue": stock * (article.get("PurchasePrice") or Decimal(0)),
        }
    )
    return to_json(out)


def render_article_item(company: Company, article: dict[str, Any], base: str) -> dict[str, Any]:
    stock = article.get("QuantityInStock") or Decimal(0)
    purchase = article.get("PurchasePrice") or Decimal(0)
    return to_json(
        {
            "@url": f"{base}/3/articles/{article['ArticleNumber']}",
            "ArticleNumber": article["ArticleNumber"],
            "Description": article["Description"],
            "DisposableQuantity": plain(stock),
            "EAN": article.get("EAN"),
            "Housework": article.get("Housework"),
            "PurchasePrice": plain(purchase),
            "SalesPrice": plain(article_price(company, article["ArticleNumber"])),
            "QuantityInStock": stock,
            "ReservedQuantity": "0",
            "StockPlace": article.get("StockPlace"),
            "StockValue": plain(stock * purchase),
            "Unit": article.get("Unit"),
            "VAT": plain(article["VAT"]),
            "WebshopArticle": article.get("WebshopArticle"),
            "Active": article.get("Active"),
        }
    )


def find_article(company: Company, number: str, *, status: int | None = None) -> dict[str, Any]:
    article = company.articles.get(number)
    if article is None:
        raise FortnoxError("ARTICLE_NOT_FOUND", status=status, number=number)
    return article


def render_price_list(price_list: dict[str, Any], base: str) -> dict[str, Any]:
    return to_json({"@url": f"{base}/3/pricelists/{price_list['Code']}", **price_list})


def find_price_list(company: Company, code: str, *, status: int | None = None) -> dict[str, Any]:
    price_list = company.price_lists.get(code)
    if price_list is None:
        raise FortnoxError("PRICE_LIST_NOT_FOUND", status=status, code=code)
    return price_list


def _apply_preselected(company: Company, code: str, fields: dict[str, Any]) -> None:
    if fields.get("PreSelected"):
        for other in company.price_lists.values():
            other["PreSelected"] = other["Code"] == code


def render_price(price: dict[str, Any], base: str) -> dict[str, Any]:
    from_quantity = plain(price["FromQuantity"])
    url = f"{base}/3/prices/{price['PriceList']}/{price['ArticleNumber']}/{from_quantity}"
    return to_json(
        {
            "@url": url,
            "ArticleNumber": price["ArticleNumber"],
            "Date": price["Date"],
            "FromQuantity": price["FromQuantity"],
            "Percent": price["Percent"],
            "Price": price["Price"],
            "PriceList": price["PriceList"],
        }
    )


def parse_from_quantity(raw: str | None) -> Decimal:
    if raw is None:
        return Decimal(0)
    try:
        value = money.to_decimal(raw)
    except ValueError as exc:
        raise FortnoxError("INVALID_PARAMETER", parameter=f"FromQuantity={raw}") from exc
    return value.normalize() if value else Decimal(0)


def find_price(
    company: Company, price_list: str, article: str, from_quantity: Decimal
) -> dict[str, Any]:
    price = company.prices.get((price_list, article, from_quantity))
    if price is None:
        raise FortnoxError("PRICE_NOT_FOUND")
    return price


def list_price(
    company: Company, price_list: str, article: str, quantity: Decimal
) -> Decimal | None:
    """The article's price in a price list for a quantity: the highest FromQuantity not above it."""
    candidates = [
        p
        for key, p in company.prices.items()
        if key[0] == price_list and key[1] == article and key[2] <= max(quantity, Decimal(0))
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: p["FromQuantity"])["Price"]


class CatalogRoutes:
    """The customer, article, price-list and price endpoints."""

    def __init__(self, state: FortnoxState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, tuple[str, ...], Callable[..., Response]]]:
        return [
            ("/3/customers", ("GET",), self._customers_list),
            ("/3/customers", ("POST",), self._customers_create),
            ("/3/customers/<CustomerNumber>", ("GET",), self._customers_get),
            ("/3/customers/<CustomerNumber>", ("PUT",), self._customers_update),
            ("/3/customers/<CustomerNumber>", ("DELETE",), self._customers_delete),
            ("/3/articles", ("GET",), self._articles_list),
            ("/3/articles", ("POST",), self._articles_create),
            ("/3/articles/<ArticleNumber>", ("GET",), self._articles_get),
            ("/3/articles/<ArticleNumber>", ("PUT",), self._articles_update),
            ("/3/articles/<ArticleNumber>", ("DELETE",), self._articles_delete),
            ("/3/pricelists", ("GET",), self._price_lists_list),
            ("/3/pricelists", ("POST",), self._price_lists_create),
            ("/3/pricelists/<Code>", ("GET",), self._price_lists_get),
            ("/3/pricelists/<Code>", ("PUT",), self._price_lists_update),
            ("/3/prices", ("GET",), self._prices_list),
            ("/3/prices", ("POST",), self._prices_create),
            ("/3/prices/sublist/<PriceList>/<ArticleNumber>", ("GET",), self._prices_sublist),
            ("/3/prices/<PriceList>/<ArticleNumber>", ("GET",), self._prices_get),
            ("/3/prices/<PriceList>/<ArticleNumber>", ("PUT",), self._prices_update),
            ("/3/prices/<PriceList>/<ArticleNumber>/<FromQuantity>", ("GET",), self._prices_get),
            ("/3/prices/<PriceList>/<ArticleNumber>/<FromQuantity>", ("PUT",), self._prices_update),
            ("/3/prices/<PriceList>/<ArticleNumber>/<FromQuantity>", ("DELETE",), self._prices_delete),
        ]

    def _customers_list(self, request: Request, company: Company) -> Response:
        base = base_url(request)
        return list_response(
            request,
            self.state.today,
            company.customers.values(),
            CUSTOMER_LIST,
            lambda c: render_customer_item(c, base),
        )

    def _customers_create(self, request: Request, company: Company) -> Response:
        fields = coerce(read_payload(request, "Customer"), CUSTOMER_FIELDS, CUSTOMER_IGNORED)
        number = fields.get("CustomerNumber")
        if number:
            if not CUSTOMER_NUMBER_PATTERN.match(number):
                raise FortnoxError("MUST_BE_ALPHANUMERIC", field="CustomerNumber")
            if number in company.customers or number in company.deleted_customer_numbers:
                raise FortnoxError("CUSTOMER_NUMBER_IN_USE", number=number)
        else:
            used = [int(n) for n in (*company.customers, *company.deleted_customer_numbers) if n.isdigit()]
            number = str(max(used, default=0) + 1)
        customer: dict[str, Any] = {
            "Active": True,
            "Currency": "SEK",
            "CountryCode": "SE",
            "Type": "COMPANY",
            "VATType": "SEVAT",
            "ShowPriceVATIncluded": False,
            "DefaultDeliveryTypes": {"Invoice": "PRINT", "Order": "PRINT", "Offer": "PRINT"},
            "DefaultTemplates": {
                "Invoice": PRINT_TEMPLATES["invoice"][0][0],
                "Order": PRINT_TEMPLATES["order"][0][0],
                "Offer": PRINT_TEMPLATES["offer"][0][0],
                "CashInvoice": PRINT_TEMPLATES["cashinvoice"][0][0],
            },
        }
        _merge_customer(customer, fields)
        customer["CustomerNumber"] = number
        _check_customer_fields(company, fields, customer)
        self.state.stamp(customer)
        company.customers[number] = customer
        return json_response({"Customer": render_customer(customer, base_url(request))}, status=201)

    def _customers_get(self, request: Request, company: Company, CustomerNumber: str) -> Response:
        customer = find_customer(company, CustomerNumber)
        return json_response({"Customer": render_customer(customer, base_url(request))})

    def _customers_update(self, request: Request, company: Company, CustomerNumber: str) -> Response:
        customer = find_customer(company, CustomerNumber)
        fields = coerce(
            read_payload(request, "Customer"), CUSTOMER_FIELDS, CUSTOMER_IGNORED, skip=("CustomerNumber",)
        )
        updated = {**customer}
        _merge_customer(updated, fields)
        _check_customer_fields(company, fields, updated)
        customer.update(updated)
        self.state.stamp(customer)
        return json_response({"Customer": render_customer(customer, base_url(request))})

    def _customers_delete(self, request: Request, company: Company, CustomerNumber: str) -> Response:
        find_customer(company, CustomerNumber)
        documents = [*company.invoices.values(), *company.orders.values()]
        if any(doc["CustomerNumber"] == CustomerNumber for doc in documents):
            raise FortnoxError("CUSTOMER_IN_USE", number=CustomerNumber)
        del company.customers[CustomerNumber]
        company.deleted_customer_numbers.add(CustomerNumber)
        return Response(status=204)

    def _articles_list(self, request: Request, company: Company) -> Response:
        base = base_url(request)
        return list_response(
            request,
            self.state.today,
            company.articles.values(),
            ARTICLE_LIST,
            lambda a: render_article_item(company, a, base),
        )

    def _articles_create(self, request: Request, company: Company) -> Response:
        fields = coerce(read_payload(request, "Article"), ARTICLE_FIELDS, ARTICLE_IGNORED)
        require(fields, "Description")
        number = fields.get("ArticleNumber")
        if number:
            if number in company.articles:
                raise FortnoxError("ARTICLE_NUMBER_IN_USE", number=number)
        else:
            used = [int(n) for n in company.articles if n.isdigit()]
            number = str(max(used, default=0) + 1)
        check_vat(fields.get("VAT"))
        article: dict[str, Any] = {
            "Active": True,
            "Type": "STOCK",
            "VAT": Decimal(25),
            "StockGoods": False,
            "WebshopArticle": False,
            "Housework": False,
            "Expired": False,
            "Bulky": False,
            "QuantityInStock": Decimal(0),
            "PurchasePrice": Decimal(0),
        }
        article.update(fields)
        article["ArticleNumber"] = number
        self.state.stamp(article)
        company.articles[number] = article
        return json_response(
            {"Article": render_article(company, article, base_url(request))}, status=201
        )

    def _articles_get(self, request: Request, company: Company, ArticleNumber: str) -> Response:
        article = find_article(company, ArticleNumber)
        return json_response({"Article": render_article(company, article, base_url(request))})

    def _articles_update(self, request: Request, company: Company, ArticleNumber: str) -> Response:
        article = find_article(company, ArticleNumber)
        fields = coerce(read_payload(request, "Article"), ARTICLE_FIELDS, ARTICLE_IGNORED)
        if fields.get("ArticleNumber", ArticleNumber) != ArticleNumber:
            raise FortnoxError("ARTICLE_NUMBER_IMMUTABLE")
        if "Description" in fields and not fields["Description"]:
            raise FortnoxError("FIELD_REQUIRED", field="Description")
        check_vat(fields.get("VAT"))
        article.update(fields)
        self.state.stamp(article)
        return json_response({"Article": render_article(company, article, base_url(request))})

    def _articles_delete(self, request: Request, company: Company, ArticleNumber: str) -> Response:
        find_article(company, ArticleNumber)
        del company.articles[ArticleNumber]
        for key in [key for key in company.prices if key[1] == ArticleNumber]:
            del company.prices[key]
        return Response(status=204)

    def _price_lists_list(self, request: Request, company: Company) -> Response:
        base = base_url(request)
        return list_response(
            request,
            self.state.today,
            company.price_lists.values(),
            code_list("PriceLists"),
            lambda p: render_price_list(p, base),
        )

    def _price_lists_create(self, request: Request, company: Company) -> Response:
        fields = coerce(read_payload(request, "PriceList"), PRICE_LIST_FIELDS, URL_ONLY)
        require(fields, "Code", "Description")
        code = fields["Code"]
        if code in company.price_lists:
            raise FortnoxError("ALREADY_EXISTS", what="Prislistan", code=code)
        company.price_lists[code] = {
            "Code": code,
            "Description": fields["Description"],
            "Comments": fields.get("Comments"),
            "PreSelected": False,
        }
        _apply_preselected(company, code, fields)
        return json_response(
            {"PriceList": render_price_list(company.price_lists[code], base_url(request))}, status=201
        )

    def _price_lists_get(self, request: Request, company: Company, Code: str) -> Response:
        return json_response(
            {"PriceList": render_price_list(find_price_list(company, Code), base_url(request))}
        )

    def _price_lists_update(self, request: Request, company: Company, Code: str) -> Response:
        price_list = find_price_list(company, Code)
        fields = coerce(
            read_payload(request, "PriceList"), PRICE_LIST_FIELDS, URL_ONLY, skip=("Code",)
        )
        if "Description" in fields and not fields["Description"]:
            raise FortnoxError("FIELD_REQUIRED", field="Description")
        price_list.update({k: v for k, v in fields.items() if k != "PreSelected"})
        _apply_preselected(company, Code, fields)
        return json_response({"PriceList": render_price_list(price_list, base_url(request))})

    def _prices_list(self, request: Request, company: Company) -> Response:
        base = base_url(request)
        items = list(company.prices.values())
        if request.args.get("fromquantity"):
            wanted = parse_from_quantity(request.args["fromquantity"])
            items = [p for p in items if p["FromQuantity"] == wanted]
        return list_response(request, self.state.today, items, PRICE_LIST_SPEC, lambda p: render_price(p, base))

    def _prices_sublist(
        self, request: Request, company: Company, PriceList: str, ArticleNumber: str
    ) -> Response:
        find_price_list(company, PriceList)
        find_article(company, ArticleNumber)
        base = base_url(request)
        items = [p for key, p in company.prices.items() if key[:2] == (PriceList, ArticleNumber)]
        if request.args.get("fromquantity"):
            wanted = parse_from_quantity(request.args["fromquantity"])
            items = [p for p in items if p["FromQuantity"] == wanted]
        spec = ListSpec(
            "Prices",
            search={},
            sorts={"fromquantity": lambda p: p["FromQuantity"]},
            default_sort="fromquantity",
        )
        return list_response(request, self.state.today, items, spec, lambda p: render_price(p, base))

    def _prices_create(self, request: Request, company: Company) -> Response:
        fields = coerce(read_payload(request, "Price"), PRICE_FIELDS, URL_ONLY)
        require(fields, "ArticleNumber", "PriceList")
        find_price_list(company, fields["PriceList"], status=400)
        find_article(company, fields["ArticleNumber"], status=400)
        from_quantity = parse_from_quantity(plain(fields.get("FromQuantity") or Decimal(0)))
        key = (fields["PriceList"], fields["ArticleNumber"], from_quantity)
        if key in company.prices:
            raise FortnoxError("ALREADY_EXISTS", what="Priset för", code=f"{key[1]} i prislista {key[0]}")
        company.prices[key] = {
            "ArticleNumber": key[1],
            "PriceList": key[0],
            "FromQuantity": from_quantity,
            "Price": money.round_cents(fields.get("Price") or Decimal(0)),
            "Percent": fields.get("Percent") or Decimal(0),
            "Date": fields.get("Date") or self.state.now().strftime("%Y-%m-%dT%H:%M:%S"),
        }
        return json_response(
            {"Price": render_price(company.prices[key], base_url(request))}, status=201
        )

    def _prices_get(
        self,
        request: Request,
        company: Company,
        PriceList: str,
        ArticleNumber: str,
        FromQuantity: str | None = None,
    ) -> Response:
        price = find_price(company, PriceList, ArticleNumber, parse_from_quantity(FromQuantity))
        return json_response({"Price": render_price(price, base_url(request))})

    def _prices_update(
        self,
        request: Request,
        company: Company,
        PriceList: str,
        ArticleNumber: str,
        FromQuantity: str | None = None,
    ) -> Response:
        price = find_price(company, PriceList, ArticleNumber, parse_from_quantity(FromQuantity))
        fields = coerce(
            read_payload(request, "Price"),
            PRICE_FIELDS,
            URL_ONLY,
            skip=("ArticleNumber", "PriceList", "FromQuantity"),
        )
        if "Price" in fields:
            price["Price"] = money.round_cents(fields["Price"] or Decimal(0))
        if "Percent" in fields:
            price["Percent"] = fields["Percent"] or Decimal(0)
        price["Date"] = fields.get("Date") or self.state.now().strftime("%Y-%m-%dT%H:%M:%S")
        return json_response({"Price": render_price(price, base_url(request))})

    def _prices_delete(
        self, request: Request, company: Company, PriceList: str, ArticleNumber: str, FromQuantity: str
    ) -> Response:
        key = (PriceList, ArticleNumber, parse_from_quantity(FromQuantity))
        find_price(company, *key)
        del company.prices[key]
        return Response(status=204)
