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
  POST   /_sandbox/companies/{tenantId}/invoices/{n}/payments  body {amount?, date?}: register a
                                                               payment (default: the whole balance)
                                                               on a booked invoice
  POST   /_sandbox/companies/{tenantId}/invoices/{n}/overdue   body {days?: 1}: move DueDate that
                                                               many days into the past
  POST   /_sandbox/tokens/expire                  body {tenantId?}: expire access tokens now
  PUT    /_sandbox/clients/{clientId}             body {clientSecret, serviceAccount?: true}: from
                                                  then on only registered clients are accepted

The request log, faults and rate-limit controls every simulator shares come from `sandbox.common`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox import fortnox_money as money
from sandbox.common import SandboxError, json_response
from sandbox.fortnox_catalog import render_article, render_customer, render_price, render_price_list
from sandbox.fortnox_documents import INVOICE, ORDER, render_document
from sandbox.fortnox_fields import VAT_RATES, base_url, natural_key, to_json
from sandbox.fortnox_lookups import render_currency, render_terms, render_way_of_delivery
from sandbox.fortnox_oauth import ROUTE_SCOPES, SCOPES
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
                "/_sandbox/companies/<int:tenant_id>/invoices/<int:number>/payments",
                ("POST",),
                self._control_payment,
            ),
            (
                "/_sandbox/companies/<int:tenant_id>/invoices/<int:number>/overdue",
                ("POST",),
                self._control_overdue,
            ),
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
                "WayOfDeliveries": [render_way_of_delivery(w, base) for w in company.way_of_deliveries.values()],
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

    def _control_payment(self, request: Request, tenant_id: int, number: int) -> Response:
        company, invoice = self._control_invoice(tenant_id, number)
        body = self._control_body(request)
        if invoice["Cancelled"] or not invoice["Booked"]:
            raise SandboxError(
                400,
                f"invoice {number} must be booked and not cancelled to take a payment "
                f"(PUT /3/invoices/{number}/bookkeep first)",
            )
        try:
            amount = (
                money.round_cents(money.to_decimal(body["amount"]))
                if "amount" in body
                else invoice["Balance"]
            )
        except ValueError as exc:
            raise SandboxError(400, "amount must be a number") from exc
        paid_on = str(body.get("date") or self.state.today().isoformat())
        invoice["_paid"] += amount
        invoice["Balance"] = invoice["Total"] - invoice["_paid"]
        invoice["FinalPayDate"] = paid_on if invoice["Balance"] <= 0 else None
        company.payments.append({"InvoiceNumber": number, "Amount": amount, "PaymentDate": paid_on})
        self.state.stamp(invoice)
        return json_response({"Invoice": render_document(INVOICE, invoice, base_url(request))})

    def _control_overdue(self, request: Request, tenant_id: int, number: int) -> Response:
        _, invoice = self._control_invoice(tenant_id, number)
        days = self._control_body(request).get("days", 1)
        if not isinstance(days, int) or days < 1:
            raise SandboxError(400, "days must be a positive whole number")
        due = self.state.today() - timedelta(days=days)
        invoice["DueDate"] = due.isoformat()
        if invoice["InvoiceDate"] > invoice["DueDate"]:
            invoice["InvoiceDate"] = invoice["DueDate"]
        self.state.stamp(invoice)
        return json_response({"Invoice": render_document(INVOICE, invoice, base_url(request))})

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
