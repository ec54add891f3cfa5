"""The Fortnox simulator's control surface (sandbox only; errors as {"message": ...}).

  POST   /_sandbox/companies                      body {CompanyName?, OrganizationNumber?,
                                                   licences?, grantableScopes?,
                                                   serviceConsent?: {clientId, scope}}
                                                   -> 201 {tenantId, DatabaseNumber, CompanyName,
                                                   OrganizationNumber}
  GET    /_sandbox/companies/{tenantId}           everything the company holds
  PUT    /_sandbox/companies/{tenantId}/licences/{licence}     restore a licence
  DELETE /_sandbox/companies/{tenantId}/licences/{licence}     remove one (kundfaktura, order,
                                                               bokforing)
  DELETE /_sandbox/companies/{tenantId}/consents[?clientId=]   the customer revokes the consent:
                                                               every token of it fails from now on
  POST   /_sandbox/companies/{tenantId}/invoices/{n}/{action}  move an invoice through its states
                                                   as Fortnox does (`sandbox.fortnox_lifecycle`),
                                                   with no token; action is one of
           bookkeep                                book it (as PUT /3/invoices/{n}/bookkeep)
           send                                    mark it sent (as PUT …/externalprint)
           pay      body {amount?, date?}          register a booked payment (default: the whole
                                                   balance, today) -> {Invoice, InvoicePayment}
           credit                                  credit it -> {Invoice, CreditInvoice}
           cancel                                  cancel an unbooked invoice
           overdue  body {days?: 1}                move DueDate that many days into the past
                                                   Answers {Invoice} unless said otherwise; an
                                                   unknown action is 404, a transition Fortnox
                                                   refuses 409 with its message and code
  POST   /_sandbox/companies/{tenantId}/invoices/{n}/payments  the older name of `pay` (kept; a
                                                               refusal answers 400 as it always did)
  GET    /_sandbox/companies/{tenantId}/payments  {payments: [...]}, each as GET
                                                  /3/invoicepayments/{Number} shows it
  POST   /_sandbox/tokens/expire                  body {tenantId?}: expire access tokens now
  PUT    /_sandbox/clients/{clientId}             body {clientSecret, serviceAccount?: true}: from
                                                  then on only registered clients are accepted

The request log, faults and rate-limit controls every simulator shares come from `sandbox.common`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox import fortnox_lifecycle as lifecycle
from sandbox import fortnox_money as money
from sandbox.common import SandboxError, json_response
from sandbox.fortnox_catalog import render_article, render_customer, render_price, render_price_list
from sandbox.fortnox_documents import INVOICE, ORDER, render_document
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_fields import VAT_RATES, base_url, natural_key, to_json
from sandbox.fortnox_lookups import render_currency, render_terms
from sandbox.fortnox_oauth import ROUTE_SCOPES, SCOPES
from sandbox.fortnox_payment_routes import render_payment
from sandbox.fortnox_registers import register_items
from sandbox.fortnox_state import LICENCES, PRINT_TEMPLATES, Client, Company, Consent, FortnoxState


class ControlRoutes:
    """The `/_sandbox/` endpoints that seed and inspect companies, consents, clients and tokens."""

    def __init__(self, state: FortnoxState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, tuple[str, ...], Callable[..., Response]]]:
        return [
            ("/_sandbox/companies", ("POST",), self._control_create_company),
            ("/_sandbox/companies/<int:tenant_id>", ("GET",), self._control_dump_company),
            (
                "/_sandbox/companies/<int:tenant_id>/licences/<licence>",
                ("PUT", "DELETE"),
                self._control_licence,
            ),
            ("/_sandbox/companies/<int:tenant_id>/consents", ("DELETE",), self._control_revoke_consents),
            (
                "/_sandbox/companies/<int:tenant_id>/invoices/<int:number>/<action>",
                ("POST",),
                self._control_invoice_action,
            ),
            ("/_sandbox/companies/<int:tenant_id>/payments", ("GET",), self._control_payments),
            ("/_sandbox/tokens/expire", ("POST",), self._control_expire_tokens),
            ("/_sandbox/clients/<client_id>", ("PUT",), self._control_register_client),
        ]

    def _control_body(self, request: Request) -> dict[str, Any]:
        data = request.get_data(cache=True)
        if not data.strip():
            return {}
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise SandboxError(400, f"Malformed JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise SandboxError(400, "the body must be a JSON object")
        return body

    def _control_create_company(self, request: Request) -> Response:
        body = self._control_body(request)
        licences = body.get("licences")
        if licences is not None and (not isinstance(licences, list) or set(licences) - set(LICENCES)):
            raise SandboxError(400, f"licences must be a list of {', '.join(LICENCES)}")
        grantable = body.get("grantableScopes")
        if grantable is not None and (not isinstance(grantable, list) or set(grantable) - set(SCOPES)):
            raise SandboxError(400, "grantableScopes must be a list of Fortnox scopes")
        company = self.state.create_company(
            name=body.get("CompanyName"),
            organization_number=body.get("OrganizationNumber"),
            licences=licences,
            grantable_scopes=grantable,
        )
        consent = body.get("serviceConsent")
        if consent is not None:
            if not isinstance(consent, dict) or not consent.get("clientId"):
                raise SandboxError(400, "serviceConsent needs clientId (and scope, space-separated)")
            scopes = tuple(str(consent.get("scope") or " ".join(sorted(ROUTE_SCOPES.values()))).split())
            unknown = [scope for scope in scopes if scope not in SCOPES]
            if unknown:
                raise SandboxError(400, f"unknown scopes: {' '.join(unknown)}")
            self.state.consents[(consent["clientId"], company.tenant_id)] = Consent(
                consent["clientId"], company.tenant_id, scopes, service=True
            )
        return json_response(
            {
                "tenantId": company.tenant_id,
                "DatabaseNumber": company.tenant_id,
                "CompanyName": company.info["CompanyName"],
                "OrganizationNumber": company.info["OrganizationNumber"],
            },
            status=201,
        )

    def _control_dump_company(self, request: Request, tenant_id: int) -> Response:
        company = self.state.company(tenant_id)
        base = base_url(request)
        return json_response(
            {
                "tenantId": tenant_id,
                "CompanyInformation": company.info,
                "licences": sorted(company.licences),
                "grantableScopes": (
                    sorted(company.grantable_scopes) if company.grantable_scopes is not None else None
                ),
                "Customers": [render_customer(c, base) for c in company.customers.values()],
                "deletedCustomerNumbers": sorted(company.deleted_customer_numbers, key=natural_key),
                "Articles": [render_article(company, a, base) for a in company.articles.values()],
                "PriceLists": [render_price_list(p, base) for p in company.price_lists.values()],
                "Prices": [render_price(p, base) for p in company.prices.values()],
                "Invoices": [render_document(INVOICE, d, base) for d in company.invoices.values()],
                "Orders": [render_document(ORDER, d, base) for d in company.orders.values()],
                "TermsOfPayments": [
                    {**render_terms(t, base), "days": t["_days"]}
                    for t in company.terms_of_payments.values()
                ],
                "Currencies": [render_currency(c, base) for c in company.currencies.values()],
                "WayOfDeliveries": list(register_items(company, "wayofdeliveries").values()),
                "PrintTemplates": {
                    kind: [{"Template": c, "Name": n} for c, n in items]
                    for kind, items in PRINT_TEMPLATES.items()
                },
                "VATRates": [int(rate) for rate in VAT_RATES],
                "payments": to_json(company.payments),
                "emails": to_json(company.emails),
                "consents": [
                    {
                        "clientId": c.client_id,
                        "scopes": list(c.scopes),
                        "service": c.service,
                        "revoked": c.revoked,
                    }
                    for c in self.state.consents.values()
                    if c.tenant_id == tenant_id
                ],
            }
        )

    def _control_licence(self, request: Request, tenant_id: int, licence: str) -> Response:
        company = self.state.company(tenant_id)
        if licence not in LICENCES:
            raise SandboxError(400, f"licence must be one of {', '.join(LICENCES)}")
        if request.method == "DELETE":
            company.licences.discard(licence)
        else:
            company.licences.add(licence)
        return json_response({"licences": sorted(company.licences)})

    def _control_revoke_consents(self, request: Request, tenant_id: int) -> Response:
        self.state.company(tenant_id)
        client_id = request.args.get("clientId")
        revoked = 0
        for consent in self.state.consents.values():
            if (
                consent.tenant_id == tenant_id
                and client_id in (None, consent.client_id)
                and not consent.revoked
            ):
                consent.revoked = True
                consent.generation += 1
                revoked += 1
        for grant in self.state.grants.values():
            if grant.tenant_id == tenant_id and client_id in (None, grant.client_id):
                grant.revoked = True
        return json_response({"revoked": revoked})

    def _control_invoice(self, tenant_id: int, number: int) -> tuple[Company, dict[str, Any]]:
        company = self.state.company(tenant_id)
        invoice = company.invoices.get(number)
        if invoice is None:
            raise SandboxError(404, f"no invoice {number} in company {tenant_id}")
        return company, invoice

    def _control_invoice_action(self, request: Request, tenant_id: int, number: int, action: str) -> Response:
        """One lifecycle step on an invoice, token-free; Fortnox's refusals answer 409 (400 on the
        older `/payments` name, as it always did) with Fortnox's message and code."""
        handler = self._invoice_actions().get(action)
        if handler is None:
            raise SandboxError(
                404,
                f"unknown invoice action {action!r}: use one of "
                f"{', '.join(sorted(a for a in self._invoice_actions() if a != 'payments'))}",
            )
        company, invoice = self._control_invoice(tenant_id, number)
        body = self._control_body(request)
        try:
            answer = handler(company, invoice, body)
        except FortnoxError as exc:
            status = 400 if action == "payments" else 409
            hint = ""
            if exc.key == "PAYMENT_NEEDS_BOOKED_INVOICE":
                hint = f" (bookkeep it first: the bookkeep action or PUT /3/invoices/{number}/bookkeep)"
            raise SandboxError(
                status, f"Fortnox refuses to {action} invoice {number}: {exc.message} (code {exc.code}){hint}"
            ) from exc
        base = base_url(request)
        out: dict[str, Any] = {"Invoice": render_document(INVOICE, invoice, base)}
        if "payment" in answer:
            out["InvoicePayment"] = render_payment(company, answer["payment"], base)
        if "credit" in answer:
            out["CreditInvoice"] = render_document(INVOICE, answer["credit"], base)
        return json_response(out)

    def _invoice_actions(
        self,
    ) -> dict[str, Callable[[Company, dict[str, Any], dict[str, Any]], dict[str, Any]]]:
        state = self.state

        def bookkeep(company: Company, invoice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
            lifecycle.bookkeep(company, invoice, state)
            return {}

        def send(company: Company, invoice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
            lifecycle.mark_sent(invoice, state)
            return {}

        def pay(company: Company, invoice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
            amount = None
            if body.get("amount") is not None:
                try:
                    amount = money.to_decimal(body["amount"])
                except ValueError as exc:
                    raise SandboxError(400, "amount must be a number") from exc
            paid_on = body.get("date")
            if paid_on is not None:
                try:
                    valid = isinstance(paid_on, str) and len(paid_on) == 10 and bool(date.fromisoformat(paid_on))
                except ValueError:
                    valid = False
                if not valid:
                    raise SandboxError(400, "date must be YYYY-MM-DD")
            payment = lifecycle.register_payment(company, invoice, amount, paid_on, state, booked=True)
            return {"payment": payment}

        def credit(company: Company, invoice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
            return {"credit": lifecycle.credit(company, invoice, state)}

        def cancel(company: Company, invoice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
            lifecycle.cancel(company, INVOICE, invoice, state)
            return {}

        def overdue(company: Company, invoice: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
            days = body.get("days", 1)
            if not isinstance(days, int) or isinstance(days, bool) or days < 1:
                raise SandboxError(400, "days must be a positive whole number")
            lifecycle.make_overdue(invoice, days, state)
            return {}

        return {
            "bookkeep": bookkeep,
            "send": send,
            "pay": pay,
            "payments": pay,
            "credit": credit,
            "cancel": cancel,
            "overdue": overdue,
        }

    def _control_payments(self, request: Request, tenant_id: int) -> Response:
        company = self.state.company(tenant_id)
        base = base_url(request)
        return json_response({"payments": [render_payment(company, p, base) for p in company.payments]})

    def _control_expire_tokens(self, request: Request) -> Response:
        tenant = self._control_body(request).get("tenantId")
        expired = 0
        for record in self.state.access_tokens.values():
            if (tenant is None or str(tenant) == str(record.tenant_id)) and not record.expired:
                record.expired = True
                expired += 1
        return json_response({"expired": expired})

    def _control_register_client(self, request: Request, client_id: str) -> Response:
        body = self._control_body(request)
        secret = body.get("clientSecret")
        if not isinstance(secret, str) or not secret:
            raise SandboxError(400, "clientSecret is required")
        self.state.clients[client_id] = Client(client_id, secret, bool(body.get("serviceAccount", True)))
        return json_response(
            {"clientId": client_id, "serviceAccount": self.state.clients[client_id].service_account}
        )
