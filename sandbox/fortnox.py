"""A Fortnox API v3 simulator: OAuth, customers, articles, prices, invoices and orders.

One WSGI app serves both Fortnox hosts, so `FORTNOX_AUTH_URL` and `FORTNOX_API_URL` may both
point at it: the auth host's `/oauth-v1/...` paths and the API's `/3/...` paths. Everything a
client sees there (paths, JSON, status codes, error shapes and codes) is Fortnox's, as
../shared/reference/fortnox.md and the official OpenAPI spec describe it; totals follow
`sandbox.fortnox_money`.

API (/3/..., `Authorization: Bearer <access token>`)
  customers, articles, pricelists, prices (with sublist), invoices (+ cancel, bookkeep, credit,
  externalprint, preview, print, email), invoicepayments (+ bookkeep), orders (+ cancel, createinvoice, externalprint,
  preview, print, email), termsofpayments, currencies, printtemplates, companyinformation.
  `api_routes` lists them. Each needs its scope (`ROUTE_SCOPES`) and, for the company, a licence
  covering that scope (`SCOPE_LICENCES`).

The pieces, each route module taking the `FortnoxState` rather than the whole simulator:
`fortnox_oauth` (the auth host and bearer tokens), `fortnox_catalog` (customers, articles, price
lists, prices), `fortnox_documents` (building, totals, renderings and PDF of invoices and orders)
and `fortnox_document_routes` (their endpoints), `fortnox_lifecycle` (bookkeep, send, payments,
credit, cancel, overdue: the states a document moves through) and `fortnox_payment_routes`
(/3/invoicepayments), `fortnox_lookups` (terms of payment, currencies,
print templates, company information), `fortnox_registers` (ways and terms of delivery, accounts,
cost centers, projects), `fortnox_control` (the `/_sandbox/` surface),
`fortnox_state` (companies, clients, consents, tokens, clocks), `fortnox_lists` (search, filters,
sorting, paging), `fortnox_fields` (field tables, body checks, value rules) and `fortnox_errors`.
This module builds the simulator from them and still offers every name it always did (`__all__`).

Decisions on points Fortnox leaves open (each kept in one named place):
  - Reusing a spent refresh token fails with 400 invalid_grant "Invalid refresh token" and also
    revokes the refresh token issued in its place, so the integration must be authorised again
    (Fortnox: "a user must reactivate the integration"). Access tokens already issued keep working
    until they expire, as Fortnox cannot revoke access tokens. See
    `fortnox_oauth.OAuthRoutes._refresh_grant`.
  - `/oauth-v1/revoke` ends that authorisation's refresh chain, not the consent: the customer's
    consent (and so client credentials) ends only through the consents control endpoint.
  - The rate limit is 25 requests per sliding 5 s per (client id, tenant), whatever the token; the
    request log's `tenant` field is "<DatabaseNumber>/<clientId>". A 429 carries
    {"message": "Too Many Requests"} and no Retry-After header (Fortnox documents none).
    See `tenant_of` and `rate_limited`.
  - A search parameter combines with `filter` (both must match); one `filter` at a time.
    Searches are case-insensitive substring matches. See `fortnox_lists.list_response`.
  - `unpaid` and `unpaidoverdue` cover booked invoices with a balance (partly paid included);
    drafts are `unbooked`. See `fortnox_lists.INVOICE_FILTERS`.
  - `Article.SalesPrice` is read-only: it shows the article's price in the preselected price
    list; prices are written through /3/prices. A new article gets no price rows.
  - Terms of payment carry their days internally (a numeric code means that many days) because
    the API schema has only Code and Description; DueDate = InvoiceDate + days.
  - `null` in a request means "not sent"; the string "API_BLANK" clears a field, as in Fortnox.
  - `PUT /3/orders/{n}/createinvoice` answers the order (with InvoiceReference), as the spec says.
  - Payments, credit and the other state changes: see `fortnox_lifecycle`'s docstring.
  - GET /3/prices lists every price as {"Prices": [...], "MetaInformation": ...}.
  - Error statuses, codes and messages come from `fortnox_errors.ERRORS`; its `confirmed` flag says
    which codes Fortnox documents and which are plausible stand-ins to correct when real responses
    are seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.common import Clock, Route, SandboxError, SimulatorApp, json_response
from sandbox.fortnox_catalog import CatalogRoutes
from sandbox.fortnox_control import ControlRoutes
from sandbox.fortnox_document_routes import DocumentRoutes
from sandbox.fortnox_documents import (
    INVOICE,
    ORDER,
    SALES_ACCOUNTS,
    ZERO_VAT_TYPES,
    DocumentKind,
    document_pdf,
)
from sandbox.fortnox_errors import ERRORS, ErrorCode, FortnoxError, OAuthError, Unauthorized, error_information
from sandbox.fortnox_fields import (
    ARTICLE_FIELDS,
    ARTICLE_IGNORED,
    COUNTRIES,
    CURRENCY_FIELDS,
    CUSTOMER_FIELDS,
    CUSTOMER_IGNORED,
    CUSTOMER_LIST_FIELDS,
    CUSTOMER_NUMBER_PATTERN,
    DELIVERY_TYPES,
    EDI_FIELDS,
    EMAIL_FIELDS,
    EMAIL_PATTERN,
    INVOICE_FIELDS,
    INVOICE_READ_ONLY,
    INVOICE_ROW_FIELDS,
    INVOICE_ROW_READ_ONLY,
    ORDER_FIELDS,
    ORDER_READ_ONLY,
    ORDER_ROW_FIELDS,
    ORDER_ROW_READ_ONLY,
    PRICE_FIELDS,
    PRICE_LIST_FIELDS,
    TERMS_FIELDS,
    URL_ONLY,
    VAT_RATES,
    FieldRule,
    ocr_number,
    valid_organisation_number,
)
from sandbox.fortnox_lists import (
    ACTIVE_FILTERS,
    ARTICLE_LIST,
    CUSTOMER_LIST,
    INVOICE_FILTERS,
    INVOICE_LIST,
    ORDER_FILTERS,
    ORDER_LIST,
    PRICE_LIST_SPEC,
    ListSpec,
)
from sandbox.fortnox_lookups import LookupRoutes
from sandbox.fortnox_oauth import (
    AUTH_CODE_TTL,
    REFRESH_TOKEN_TTL,
    ROUTE_SCOPES,
    SCOPE_LICENCES,
    SCOPES,
    OAuthRoutes,
)
from sandbox.fortnox_payment_routes import PaymentRoutes
from sandbox.fortnox_registers import RegisterRoutes
from sandbox.fortnox_state import (
    DEFAULT_CURRENCIES,
    DEFAULT_TERMS,
    DEFAULT_TERMS_CODE,
    LICENCES,
    PRINT_TEMPLATES,
    STOCKHOLM,
    AccessToken,
    AuthCode,
    Client,
    Company,
    Consent,
    FortnoxState,
    Grant,
    RefreshToken,
)

#: what `sandbox.fortnox` has always offered; most of it now lives in the modules above
__all__ = [
    "ACTIVE_FILTERS",
    "ARTICLE_FIELDS",
    "ARTICLE_IGNORED",
    "ARTICLE_LIST",
    "AUTH_CODE_TTL",
    "COUNTRIES",
    "CURRENCY_FIELDS",
    "CUSTOMER_FIELDS",
    "CUSTOMER_IGNORED",
    "CUSTOMER_LIST",
    "CUSTOMER_LIST_FIELDS",
    "CUSTOMER_NUMBER_PATTERN",
    "DEFAULT_CURRENCIES",
    "DEFAULT_TERMS",
    "DEFAULT_TERMS_CODE",
    "DELIVERY_TYPES",
    "EDI_FIELDS",
    "EMAIL_FIELDS",
    "EMAIL_PATTERN",
    "ERRORS",
    "INVOICE",
    "INVOICE_FIELDS",
    "INVOICE_FILTERS",
    "INVOICE_LIST",
    "INVOICE_READ_ONLY",
    "INVOICE_ROW_FIELDS",
    "INVOICE_ROW_READ_ONLY",
    "LICENCES",
    "ORDER",
    "ORDER_FIELDS",
    "ORDER_FILTERS",
    "ORDER_LIST",
    "ORDER_READ_ONLY",
    "ORDER_ROW_FIELDS",
    "ORDER_ROW_READ_ONLY",
    "PRICE_FIELDS",
    "PRICE_LIST_FIELDS",
    "PRICE_LIST_SPEC",
    "PRINT_TEMPLATES",
    "REFRESH_TOKEN_TTL",
    "ROUTE_SCOPES",
    "SALES_ACCOUNTS",
    "SCOPES",
    "SCOPE_LICENCES",
    "STOCKHOLM",
    "TERMS_FIELDS",
    "URL_ONLY",
    "VAT_RATES",
    "ZERO_VAT_TYPES",
    "AccessToken",
    "AuthCode",
    "Client",
    "Company",
    "Consent",
    "DocumentKind",
    "ErrorCode",
    "FieldRule",
    "FortnoxError",
    "FortnoxSimulator",
    "Grant",
    "ListSpec",
    "OAuthError",
    "RefreshToken",
    "Unauthorized",
    "error_information",
    "ocr_number",
    "valid_organisation_number",
]


def _state_attribute(name: str) -> Any:
    """A simulator attribute that reads and writes the state's."""
    return property(lambda sim: getattr(sim.state, name), lambda sim, value: setattr(sim.state, name, value))


class FortnoxSimulator(SimulatorApp):
    """Fortnox's auth host and API v3 in one WSGI app (see the module docstring)."""

    name = "fortnox"

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        token_ttl: int = 3600,
        rate_limit: int = 25,
        rate_window: float = 5.0,
    ) -> None:
        super().__init__(limit=rate_limit, window=rate_window, clock=clock)
        self.state = FortnoxState(lock=self.lock, clock=clock, wall_clock=wall_clock, token_ttl=token_ttl)
        self.oauth = OAuthRoutes(self.state)
        self.catalog = CatalogRoutes(self.state)
        self.documents = DocumentRoutes(self.state)
        self.payments = PaymentRoutes(self.state)
        self.lookups = LookupRoutes(self.state)
        self.registers = RegisterRoutes(self.state)
        self.control = ControlRoutes(self.state)
        self.api_routes: list[tuple[str, str]] = []
        self._register_oauth()
        self._register_api()
        self._register_control()

    # -- the state, as the simulator has always offered it ---------------------------------------

    companies = _state_attribute("companies")
    clients = _state_attribute("clients")
    consents = _state_attribute("consents")
    grants = _state_attribute("grants")
    codes = _state_attribute("codes")
    access_tokens = _state_attribute("access_tokens")
    refresh_tokens = _state_attribute("refresh_tokens")
    wall_clock = _state_attribute("wall_clock")
    token_ttl = _state_attribute("token_ttl")

    def today(self) -> date:
        """Today in Sweden, by the injected wall clock."""
        return self.state.today()

    def create_company(
        self,
        *,
        name: str | None = None,
        organization_number: str | None = None,
        licences: Iterable[str] | None = None,
        grantable_scopes: Iterable[str] | None = None,
    ) -> Company:
        """A fresh company with Fortnox's usual defaults (terms, currencies, price list A, templates)."""
        return self.state.create_company(name=name, organization_number=organization_number, licences=licences,
                                         grantable_scopes=grantable_scopes)

    def document_pdf(self, company: Company, kind: DocumentKind, document: dict[str, Any]) -> bytes:
        """The document as the customer would get it on paper: a real PDF."""
        return document_pdf(company, kind, document)

    # -- registration --------------------------------------------------------------------------

    def _locked(self, handler: Callable[..., Response]) -> Callable[..., Response]:
        def run(request: Request, **args: Any) -> Response:
            with self.lock:
                return handler(request, **args)

        return run

    def _api(self, rule: str, methods: Iterable[str], handler: Callable[..., Response]) -> None:
        scope = ROUTE_SCOPES[rule.split("/")[2]]

        def guarded(request: Request, **args: Any) -> Response:
            with self.lock:
                company = self.oauth.authorise(request, scope)
                return handler(request, company, **args)

        for method in methods:
            self.api_routes.append((method, rule))
        self.add(rule, methods, guarded)

    def _register_oauth(self) -> None:
        for rule, methods, handler in self.oauth.routes():
            self.add(rule, methods, self._locked(handler))

    def _register_api(self) -> None:
        api = self._api
        for rule, methods, handler in self.catalog.routes():
            api(rule, methods, handler)
        for rule, methods, handler in self.documents.routes():
            api(rule, methods, handler)
        for rule, methods, handler in self.payments.routes():
            api(rule, methods, handler)
        for rule, methods, handler in self.lookups.routes():
            api(rule, methods, handler)
        for rule, methods, handler in self.registers.routes():
            api(rule, methods, handler)

    def _register_control(self) -> None:
        for rule, methods, handler in self.control.routes():
            self.add(rule, methods, self._locked(handler), control=True)

    # -- hooks of SimulatorApp -----------------------------------------------------------------

    def tenant_of(self, request: Request) -> str | None:
        """The rate-limit key: "<tenant>/<client id>" of a valid access token (Fortnox limits per both)."""
        record = self.oauth.access_token(request)
        if record is None:
            return None
        return f"{record.tenant_id}/{record.client_id}"

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        """429 with {"message": "Too Many Requests"} and no Retry-After: Fortnox documents none."""
        return json_response({"message": "Too Many Requests"}, status=429)

    def error_body(self, status: int, message: str, request: Request) -> Any:
        """Errors the base app answers (no route, faults) in the shape of the host they hit."""
        path = request.path
        if path.startswith("/oauth-v1"):
            return {
                "error": "server_error" if status >= 500 else "invalid_request",
                "error_description": message,
            }
        if path.startswith("/_sandbox"):
            return {"message": message}
        if status == 401:
            return {"message": "unauthorized"}
        if status == 429:
            return {"message": "Too Many Requests"}
        key = {404: "NO_VALID_IDENTIFIER", 405: "METHOD_NOT_ALLOWED"}.get(
            status, "SYSTEM_EXCEPTION" if status >= 500 else "EMPTY_BODY"
        )
        return error_information(message, ERRORS[key].code)

    def _call(self, route: Route, request: Request, args: dict[str, Any]) -> Response:
        try:
            return route.handler(request, **args)
        except FortnoxError as exc:
            return json_response(error_information(exc.message, exc.code), status=exc.status)
        except OAuthError as exc:
            return json_response(
                {"error": exc.error, "error_description": exc.message},
                status=exc.status,
                headers={"Cache-Control": "no-store"},
            )
        except SandboxError as exc:
            return self.error(request, exc.status, exc.message)
