"""The Fortnox simulator's invoice and order endpoints (/3/invoices, /3/orders and their actions).

Both kinds: list, create, get, update, cancel, externalprint, preview, print and email; invoices also
bookkeep and credit (which answers the original invoice with its CreditInvoiceReference, as the spec
says), orders createinvoice (which answers the order with its InvoiceReference, as the spec says).
"Send" actions are GETs, as in Fortnox. The state changes (bookkeep, send, credit, cancel) are
`sandbox.fortnox_lifecycle`'s, shared with the `/_sandbox/` controls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox import fortnox_lifecycle as lifecycle
from sandbox.common import json_response
from sandbox.fortnox_documents import (
    INVOICE,
    ORDER,
    DocumentKind,
    apply_header,
    apply_rows,
    check_editable,
    document_pdf,
    document_store,
    find_document,
    new_document,
    recompute,
    render_document,
    render_invoice_item,
    render_order_item,
)
from sandbox.fortnox_errors import FortnoxError
from sandbox.fortnox_fields import base_url, coerce, read_payload
from sandbox.fortnox_lists import INVOICE_LIST, ORDER_LIST, list_response
from sandbox.fortnox_state import Company, FortnoxState


class DocumentRoutes:
    """The invoice and order endpoints."""

    def __init__(self, state: FortnoxState) -> None:
        self.state = state

    def routes(self) -> list[tuple[str, tuple[str, ...], Callable[..., Response]]]:
        routes: list[tuple[str, tuple[str, ...], Callable[..., Response]]] = []
        for kind in (INVOICE, ORDER):
            base = f"/3/{kind.path}"
            one = f"{base}/<DocumentNumber>"
            routes += [
                (base, ("GET",), self._documents_list(kind)),
                (base, ("POST",), self._documents_create(kind)),
                (one, ("GET",), self._documents_get(kind)),
                (one, ("PUT",), self._documents_update(kind)),
                (f"{one}/cancel", ("PUT",), self._documents_cancel(kind)),
                (f"{one}/externalprint", ("PUT",), self._documents_externalprint(kind)),
                (f"{one}/preview", ("GET",), self._documents_pdf(kind, mark_sent=False)),
                (f"{one}/print", ("GET",), self._documents_pdf(kind, mark_sent=True)),
                (f"{one}/email", ("GET",), self._documents_email(kind)),
            ]
        routes += [
            ("/3/invoices/<DocumentNumber>/bookkeep", ("PUT",), self._invoices_bookkeep),
            ("/3/invoices/<DocumentNumber>/credit", ("PUT",), self._invoices_credit),
            ("/3/orders/<DocumentNumber>/createinvoice", ("PUT",), self._orders_createinvoice),
        ]
        return routes

    def _documents_list(self, kind: DocumentKind) -> Callable[..., Response]:
        def handler(request: Request, company: Company) -> Response:
            base = base_url(request)
            if kind is INVOICE:
                return list_response(
                    request,
                    self.state.today,
                    company.invoices.values(),
                    INVOICE_LIST,
                    lambda d: render_invoice_item(d, base),
                )
            return list_response(
                request,
                self.state.today,
                company.orders.values(),
                ORDER_LIST,
                lambda d: render_order_item(d, base),
            )

        return handler

    def _create_document(
        self, company: Company, kind: DocumentKind, payload: dict[str, Any]
    ) -> dict[str, Any]:
        rows = payload.get(kind.rows_key, [])
        fields = coerce(
            {k: v for k, v in payload.items() if k != kind.rows_key}, kind.fields, kind.read_only
        )
        store = document_store(company, kind)
        requested = fields.get("DocumentNumber")
        if requested:
            if not requested.isdigit():
                raise FortnoxError("MUST_BE_NUMERIC", field="DocumentNumber")
            if int(requested) in store:
                raise FortnoxError("DOCUMENT_NUMBER_IN_USE", number=requested)
            number = int(requested)
        else:
            number = max(store, default=0) + 1
        document = new_document(kind, number, self.state.today().isoformat())
        apply_header(company, kind, document, fields, creating=True)
        apply_rows(company, kind, document, rows if rows is not None else [])
        recompute(kind, document)
        self.state.stamp(document)
        store[number] = document
        return document

    def _documents_create(self, kind: DocumentKind) -> Callable[..., Response]:
        def handler(request: Request, company: Company) -> Response:
            document = self._create_document(company, kind, read_payload(request, kind.wrapper))
            return json_response(
                {kind.wrapper: render_document(kind, document, base_url(request))}, status=201
            )

        return handler

    def _documents_get(self, kind: DocumentKind) -> Callable[..., Response]:
        def handler(request: Request, company: Company, DocumentNumber: str) -> Response:
            document = find_document(company, kind, DocumentNumber)
            return json_response({kind.wrapper: render_document(kind, document, base_url(request))})

        return handler

    def _documents_update(self, kind: DocumentKind) -> Callable[..., Response]:
        def handler(request: Request, company: Company, DocumentNumber: str) -> Response:
            document = find_document(company, kind, DocumentNumber)
            payload = read_payload(request, kind.wrapper)
            fields = coerce(
                {k: v for k, v in payload.items() if k != kind.rows_key}, kind.fields, kind.read_only
            )
            check_editable(kind, document)
            # Work on a copy so a rejected update leaves the document as it was.
            updated = dict(document)
            updated[kind.rows_key] = [dict(row) for row in document[kind.rows_key]]
            for name in ("EmailInformation", "EDIInformation"):
                if isinstance(updated.get(name), dict):
                    updated[name] = dict(updated[name])
            apply_header(company, kind, updated, fields, creating=False)
            if kind.rows_key in payload and payload[kind.rows_key] is not None:
                apply_rows(company, kind, updated, payload[kind.rows_key])
            recompute(kind, updated)
            self.state.stamp(updated)
            document.clear()
            document.update(updated)
            return json_response({kind.wrapper: render_document(kind, document, base_url(request))})

        return handler

    def _documents_cancel(self, kind: DocumentKind) -> Callable[..., Response]:
        def handler(request: Request, company: Company, DocumentNumber: str) -> Response:
            document = find_document(company, kind, DocumentNumber)
            lifecycle.cancel(company, kind, document, self.state)
            return json_response({kind.wrapper: render_document(kind, document, base_url(request))})

        return handler

    def _documents_externalprint(self, kind: DocumentKind) -> Callable[..., Response]:
        def handler(request: Request, company: Company, DocumentNumber: str) -> Response:
            document = find_document(company, kind, DocumentNumber)
            lifecycle.mark_sent(document, self.state)
            return json_response({kind.wrapper: render_document(kind, document, base_url(request))})

        return handler

    def _documents_pdf(self, kind: DocumentKind, *, mark_sent: bool) -> Callable[..., Response]:
        def handler(request: Request, company: Company, DocumentNumber: str) -> Response:
            document = find_document(company, kind, DocumentNumber)
            if mark_sent:
                lifecycle.mark_sent(document, self.state)
            data = document_pdf(company, kind, document)
            filename = f"{kind.name}-{document['DocumentNumber']}.pdf"
            return Response(
                data,
                status=200,
                content_type="application/pdf",
                headers={"Content-Disposition": f'inline; filename="{filename}"'},
            )

        return handler

    def _documents_email(self, kind: DocumentKind) -> Callable[..., Response]:
        def handler(request: Request, company: Company, DocumentNumber: str) -> Response:
            document = find_document(company, kind, DocumentNumber)
            if document["Cancelled"]:
                raise FortnoxError("DOCUMENT_CANCELLED")
            email = document.get("EmailInformation") or {}
            if not email.get("EmailAddressTo"):
                raise FortnoxError("NO_EMAIL_ADDRESS")
            company.emails.append(
                {
                    "kind": kind.name,
                    "DocumentNumber": document["DocumentNumber"],
                    **email,
                    "pdfBytes": len(document_pdf(company, kind, document)),
                }
            )
            lifecycle.mark_sent(document, self.state)
            return json_response({kind.wrapper: render_document(kind, document, base_url(request))})

        return handler

    def _invoices_bookkeep(self, request: Request, company: Company, DocumentNumber: str) -> Response:
        invoice = find_document(company, INVOICE, DocumentNumber)
        lifecycle.bookkeep(company, invoice, self.state)
        return json_response({"Invoice": render_document(INVOICE, invoice, base_url(request))})

    def _invoices_credit(self, request: Request, company: Company, DocumentNumber: str) -> Response:
        """Credit a booked invoice; the answer is the original, its CreditInvoiceReference naming
        the new credit invoice (the spec's body, an invoice payload, is accepted and not used)."""
        invoice = find_document(company, INVOICE, DocumentNumber)
        lifecycle.credit(company, invoice, self.state)
        return json_response({"Invoice": render_document(INVOICE, invoice, base_url(request))})

    def _orders_createinvoice(self, request: Request, company: Company, DocumentNumber: str) -> Response:
        order = find_document(company, ORDER, DocumentNumber)
        if order["Cancelled"]:
            raise FortnoxError("DOCUMENT_CANCELLED")
        if order["InvoiceReference"]:
            raise FortnoxError("ORDER_INVOICED")
        header = (
            "CustomerNumber",
            "CustomerName",
            "Address1",
            "Address2",
            "ZipCode",
            "City",
            "Country",
            "Phone1",
            "Phone2",
            "DeliveryName",
            "DeliveryAddress1",
            "DeliveryAddress2",
            "DeliveryZipCode",
            "DeliveryCity",
            "DeliveryCountry",
            "Currency",
            "CurrencyRate",
            "CurrencyUnit",
            "PriceList",
            "TermsOfPayment",
            "TermsOfDelivery",
            "WayOfDelivery",
            "YourReference",
            "OurReference",
            "YourOrderNumber",
            "ExternalInvoiceReference1",
            "ExternalInvoiceReference2",
            "Project",
            "CostCenter",
            "Freight",
            "AdministrationFee",
            "VATIncluded",
            "Language",
            "Comments",
            "DeliveryDate",
        )
        payload: dict[str, Any] = {name: order[name] for name in header if order.get(name) is not None}
        if order.get("CopyRemarks") and order.get("Remarks"):
            payload["Remarks"] = order["Remarks"]
        if order.get("EmailInformation"):
            payload["EmailInformation"] = {
                k: v for k, v in order["EmailInformation"].items() if v is not None
            }
        row_fields = (
            "ArticleNumber",
            "Description",
            "DeliveredQuantity",
            "Price",
            "Discount",
            "DiscountType",
            "VAT",
            "Unit",
            "AccountNumber",
            "CostCenter",
            "Project",
        )
        payload["InvoiceRows"] = [
            {name: row[name] for name in row_fields if row.get(name) is not None}
            for row in order["OrderRows"]
        ]
        invoice = self._create_document(company, INVOICE, payload)
        invoice["OrderReference"] = order["DocumentNumber"]
        order["InvoiceReference"] = invoice["DocumentNumber"]
        self.state.stamp(order)
        return json_response({"Order": render_document(ORDER, order, base_url(request))})
