"""The Fortnox simulator's lookups: terms of payment, currencies, ways of delivery, print templates
and company information (/3/termsofpayments, /3/currencies, /3/wayofdeliveries, /3/printtemplates,
/3/companyinformation). A fresh company has no ways of delivery until some are created.

Terms of payment carry their days internally (a numeric code means that many days) because the API
schema has only Code and Description; an invoice's DueDate is its InvoiceDate plus those days.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.common import json_response
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_fields import (
    CURRENCY_FIELDS,
    TERMS_FIELDS,
    URL_ONLY,
    WAY_OF_DELIVERY_FIELDS,
    base_url,
    coerce,
    read_payload,
    require,
    to_json,
)
from sandbox.fortnox_lists import code_list, list_response
from sandbox.fortnox_state import PRINT_TEMPLATES, Company, FortnoxState


def render_terms(terms: dict[str, Any], base: str) -> dict[str, Any]:
    return {
        "@url": f"{base}/3/termsofpayments/{terms['Code']}",
        "Code": terms["Code"],
        "Description": terms["Description"],
    }


def find_terms(company: Company, code: str) -> dict[str, Any]:
    terms = company.terms_of_payments.get(code)
    if terms is None:
        raise FortnoxError("TERMS_NOT_FOUND", code=code)
    return terms


def render_currency(currency: dict[str, Any], base: str) -> dict[str, Any]:
    return to_json({"@url": f"{base}/3/currencies/{currency['Code']}", **currency})


def find_currency(company: Company, code: str) -> dict[str, Any]:
    currency = company.currencies.get(code.upper())
    if currency is None:
        raise FortnoxError("CURRENCY_NOT_FOUND", code=code)
    return currency


def render_way_of_delivery(way: dict[str, Any], base: str) -> dict[str, Any]:
    return {"@url": f"{base}/3/wayofdeliveries/{way['Code']}", **way}


def find_way_of_delivery(company: Company, code: str) -> dict[str, Any]:
    way = company.way_of_deliveries.get(code)
    if way is None:
        raise FortnoxError("WAY_OF_DELIVERY_NOT_FOUND", code=code)
    return way


class LookupRoutes:
    """The terms-of-payment, currency, print-template and company-information endpoints."""

    def __init__(self, state: FortnoxState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, tuple[str, ...], Callable[..., Response]]]:
        return [
            ("/3/termsofpayments", ("GET",), self._terms_list),
            ("/3/termsofpayments", ("POST",), self._terms_create),
            ("/3/termsofpayments/<Code>", ("GET",), self._terms_get),
            ("/3/termsofpayments/<Code>", ("PUT",), self._terms_update),
            ("/3/termsofpayments/<Code>", ("DELETE",), self._terms_delete),
            ("/3/currencies", ("GET",), self._currencies_list),
            ("/3/currencies", ("POST",), self._currencies_create),
            ("/3/currencies/<Code>", ("GET",), self._currencies_get),
            ("/3/currencies/<Code>", ("PUT",), self._currencies_update),
            ("/3/currencies/<Code>", ("DELETE",), self._currencies_delete),
            ("/3/wayofdeliveries", ("GET",), self._ways_list),
            ("/3/wayofdeliveries", ("POST",), self._ways_create),
            ("/3/wayofdeliveries/<Code>", ("GET",), self._ways_get),
            ("/3/printtemplates", ("GET",), self._print_templates_list),
            ("/3/companyinformation", ("GET",), self._company_information),
        ]

    def _terms_list(self, request: Request, company: Company) -> Response:
        base = base_url(request)
        return list_response(
            request,
            self.state.today,
            company.terms_of_payments.values(),
            code_list("TermsOfPayments"),
            lambda t: render_terms(t, base),
        )

    def _terms_create(self, request: Request, company: Company) -> Response:
        fields = coerce(read_payload(request, "TermsOfPayment"), TERMS_FIELDS, URL_ONLY)
        require(fields, "Code", "Description")
        code = fields["Code"]
        if code in company.terms_of_payments:
            raise FortnoxError("ALREADY_EXISTS", what="Betalningsvillkoret", code=code)
        days = int(code) if code.isdigit() else 0
        company.terms_of_payments[code] = {"Code": code, "Description": fields["Description"], "_days": days}
        return json_response(
            {"TermsOfPayment": render_terms(company.terms_of_payments[code], base_url(request))},
            status=201,
        )

    def _terms_get(self, request: Request, company: Company, Code: str) -> Response:
        return json_response(
            {"TermsOfPayment": render_terms(find_terms(company, Code), base_url(request))}
        )

    def _terms_update(self, request: Request, company: Company, Code: str) -> Response:
        terms = find_terms(company, Code)
        fields = coerce(
            read_payload(request, "TermsOfPayment"), TERMS_FIELDS, URL_ONLY, skip=("Code",)
        )
        if fields.get("Description"):
            terms["Description"] = fields["Description"]
        return json_response({"TermsOfPayment": render_terms(terms, base_url(request))})

    def _terms_delete(self, request: Request, company: Company, Code: str) -> Response:
        find_terms(company, Code)
        del company.terms_of_payments[Code]
        return Response(status=204)

    def _currencies_list(self, request: Request, company: Company) -> Response:
        base = base_url(request)
        return list_response(
            request,
            self.state.today,
            company.currencies.values(),
            code_list("Currencies"),
            lambda c: render_currency(c, base),
        )

    def _currencies_create(self, request: Request, company: Company) -> Response:
        fields = coerce(read_payload(request, "Currency"), CURRENCY_FIELDS, URL_ONLY)
        require(fields, "Code", "Description")
        code = fields["Code"].upper()
        if len(code) != 3 or not code.isalpha():
            raise FortnoxError("INVALID_VALUE", field="Code")
        if code in company.currencies:
            raise FortnoxError("ALREADY_EXISTS", what="Valutan", code=code)
        company.currencies[code] = {
            "Code": code,
            "Description": fields["Description"],
            "BuyRate": fields.get("BuyRate") or Decimal(1),
            "SellRate": fields.get("SellRate") or Decimal(1),
            "Unit": fields.get("Unit") or Decimal(1),
            "Date": fields.get("Date") or self.state.today().isoformat(),
            "IsAutomatic": bool(fields.get("IsAutomatic")),
        }
        return json_response(
            {"Currency": render_currency(company.currencies[code], base_url(request))}, status=201
        )

    def _currencies_get(self, request: Request, company: Company, Code: str) -> Response:
        return json_response(
            {"Currency": render_currency(find_currency(company, Code), base_url(request))}
        )

    def _currencies_update(self, request: Request, company: Company, Code: str) -> Response:
        currency = find_currency(company, Code)
        fields = coerce(read_payload(request, "Currency"), CURRENCY_FIELDS, URL_ONLY, skip=("Code",))
        currency.update({k: v for k, v in fields.items() if v is not None})
        return json_response({"Currency": render_currency(currency, base_url(request))})

    def _currencies_delete(self, request: Request, company: Company, Code: str) -> Response:
        currency = find_currency(company, Code)
        if currency["Code"] == "SEK":
            raise FortnoxError("INVALID_VALUE", field="Code")
        del company.currencies[currency["Code"]]
        return Response(status=204)

    def _ways_list(self, request: Request, company: Company) -> Response:
        base = base_url(request)
        return list_response(
            request,
            self.state.today,
            company.way_of_deliveries.values(),
            code_list("WayOfDeliveries"),
            lambda w: render_way_of_delivery(w, base),
        )

    def _ways_create(self, request: Request, company: Company) -> Response:
        fields = coerce(read_payload(request, "WayOfDelivery"), WAY_OF_DELIVERY_FIELDS, URL_ONLY)
        require(fields, "Code")
        code = fields["Code"]
        if code in company.way_of_deliveries:
            raise FortnoxError("ALREADY_EXISTS", what="Leveranssättet", code=code)
        company.way_of_deliveries[code] = {
            "Code": code,
            "Description": fields.get("Description") or "",
            "DescriptionEnglish": fields.get("DescriptionEnglish") or "",
        }
        return json_response(
            {"WayOfDelivery": render_way_of_delivery(company.way_of_deliveries[code], base_url(request))},
            status=201,
        )

    def _ways_get(self, request: Request, company: Company, Code: str) -> Response:
        return json_response(
            {"WayOfDelivery": render_way_of_delivery(find_way_of_delivery(company, Code), base_url(request))}
        )

    def _print_templates_list(self, request: Request, company: Company) -> Response:
        wanted = request.args.get("type")
        types = [wanted.lower()] if wanted else list(PRINT_TEMPLATES)
        templates = [
            {"Template": code, "Name": name} for kind in types for code, name in PRINT_TEMPLATES.get(kind, ())
        ]
        return json_response({"PrintTemplates": templates})

    def _company_information(self, request: Request, company: Company) -> Response:
        return json_response({"CompanyInformation": dict(company.info)})
