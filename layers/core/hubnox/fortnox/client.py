"""The Fortnox API v3 client hubnox uses: customers, articles, prices, invoices, orders, lookups.

One client serves one Fortnox company (tenant). Fortnox allows 25 requests per 5 seconds per
client id and tenant over a sliding window, whichever token is used, so the rate budget key is
`fortnox:<client_id>:<tenant>` and the client stays a little under the limit. Fortnox search is
case-insensitive *substring* matching, so every look-up here checks for the exact value itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from hubnox.api_http import (
    ApiCaller,
    ApiProfile,
    RateLimit,
    RetryPolicy,
    TokenSource,
    json_or_none,
    retry_after_seconds,
)
from hubnox.errors import ConnectionBrokenError, HubnoxError, TransientError
from hubnox.fortnox.errors import (
    BROKEN_CONNECTION_CODES,
    FortnoxError,
    FortnoxNotFoundError,
    parse_error_body,
)
from hubnox.fortnox.models import (
    Account,
    Article,
    CompanyInformation,
    CostCenter,
    Currency,
    DocumentKind,
    FortnoxCustomer,
    FortnoxModel,
    Invoice,
    InvoicePayment,
    Order,
    Price,
    PriceList,
    PrintTemplate,
    Project,
    TermsOfDelivery,
    TermsOfPayment,
    WayOfDelivery,
)
from hubnox.ids import fortnox_customer_number, fortnox_document_number, path_segment_text
from hubnox.rate_budget import RateBudget

SYSTEM = "Fortnox"

#: Fortnox allows 25 per 5 s. Paced one call every 5/23 s (4.6/s, 92 % of the limit): a call may then
#: reach Fortnox up to about 0.4 s after its slot (a slow connect, a busy container) and still never
#: make 26 in Fortnox's window; at 24 (4.8/s) late arrivals on a busy machine drew 429s.
REQUESTS_PER_WINDOW = 23
WINDOW_SECONDS = 5.0
MAX_BUDGET_WAIT_SECONDS = 10.0
#: Fortnox documents no Retry-After; its window is 5 s
DEFAULT_RETRY_AFTER_SECONDS = 5.0
PAGE_SIZE = 500

CUSTOMERS = "/3/customers"
ARTICLES = "/3/articles"
PRICES = "/3/prices"
PRICE_LISTS = "/3/pricelists"
TERMS_OF_PAYMENTS = "/3/termsofpayments"
CURRENCIES = "/3/currencies"
PRINT_TEMPLATES = "/3/printtemplates"
COMPANY_INFORMATION = "/3/companyinformation"
WAY_OF_DELIVERIES = "/3/wayofdeliveries"
#: the list resources `probe` may read (the health check's licence probes)
PROBE_PATHS = frozenset({"/3/invoices", "/3/orders", CUSTOMERS, ARTICLES, PRINT_TEMPLATES})
TERMS_OF_DELIVERIES = "/3/termsofdeliveries"
ACCOUNTS = "/3/accounts"
COST_CENTERS = "/3/costcenters"
PROJECTS = "/3/projects"
INVOICES = "/3/invoices"
ORDERS = "/3/orders"
INVOICE_PAYMENTS = "/3/invoicepayments"
#: the accounts Fortnox's chart (BAS) keeps for sales
SALES_ACCOUNTS = range(3000, 4000)

#: search parameter -> (customer attribute, how values compare)
_CUSTOMER_SEARCH: dict[str, tuple[str, Callable[[str], str]]] = {
    "customernumber": ("customer_number", str.strip),
    "name": ("name", lambda value: " ".join(value.split()).casefold()),
    "email": ("email", lambda value: value.strip().casefold()),
    "organisationnumber": ("organisation_number", lambda value: "".join(ch for ch in value if ch.isalnum())),
    "phone": ("phone1", lambda value: _swedish_phone(value)),
    "zipcode": ("zip_code", lambda value: value.replace(" ", "")),
    "city": ("city", lambda value: value.strip().casefold()),
    "gln": ("gln", str.strip),
}

#: What hubnox asks Fortnox for, when the value's formatting varies: a part that every common format
#: of it contains (Fortnox matches substrings), so "556036-0793" finds "5560360793" and back.
_SEARCH_FRAGMENT: dict[str, Callable[[str], str]] = {
    "organisationnumber": lambda value: "".join(ch for ch in value if ch.isalnum())[-4:],
    "phone": lambda value: "".join(ch for ch in value if ch.isdigit())[-2:],
    # a name's longest word: "Acme AB" finds "ACME  ab" too, and the exact comparison decides
    "name": lambda value: max(value.split(), key=len, default=value),
}

M = TypeVar("M", bound=FortnoxModel)


def _swedish_phone(value: str) -> str:
    """A phone number as digits, with Sweden's +46 or 0046 written as the national 0."""
    digits = "".join(ch for ch in value if ch.isdigit() or ch == "+")
    for prefix in ("+46", "0046"):
        if digits.startswith(prefix):
            return "0" + digits[len(prefix):].lstrip("0")
    return digits.lstrip("+")


def _seg(value: str | int | Decimal) -> str:
    """One path segment, percent-quoted; never empty, `.` or `..` (`BadRequestError`)."""
    return quote(path_segment_text(value), safe="")


def _number_text(value: Decimal) -> str:
    """A quantity for a path: "0", "10", "2.5" (no exponent, no trailing zeros)."""
    normal = value.normalize()
    return format(normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal, "f")


def error_from_response(response: httpx.Response) -> HubnoxError:
    """The domain error for a Fortnox error answer.

    429 and 5xx are transient; a 401 or a broken-login code means the connection must be
    reconnected (the clients first retry a 401 with a fresh token); 404 is `FortnoxNotFoundError`;
    everything else is a `FortnoxError` with the plain-English explanation.
    """
    status = response.status_code
    code, message = parse_error_body(json_or_none(response))
    if status == 429 or status >= 500:
        return TransientError(f"Fortnox answered {status}; try again later.",
                              code="RATE_LIMITED" if status == 429 else "UPSTREAM_UNAVAILABLE",
                              retry_after=retry_after_seconds(response.headers))
    if status == 401 or code in BROKEN_CONNECTION_CODES:
        return ConnectionBrokenError(SYSTEM, f"Fortnox did not accept hubnox's access: {message or status}")
    if status == 404:
        return FortnoxNotFoundError(status, code, message)
    return FortnoxError(status, code, message)


class FortnoxClient:
    """Typed calls to one Fortnox company, budgeted under `fortnox:<tenant_key>`.

    `tenant_key` is `<client_id>:<tenant id>` (see `tenant_key_for`), because Fortnox counts
    requests per integration and company.
    """

    def __init__(
        self,
        http: httpx.Client,
        tokens: TokenSource,
        budget: RateBudget,
        tenant_key: str,
        *,
        retry: RetryPolicy | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.tenant_key = tenant_key
        self._today = today
        profile = ApiProfile(
            system=SYSTEM,
            translate=error_from_response,
            default_retry_after=DEFAULT_RETRY_AFTER_SECONDS,
            limits=(RateLimit(f"fortnox:{tenant_key}", REQUESTS_PER_WINDOW, WINDOW_SECONDS,
                              MAX_BUDGET_WAIT_SECONDS),),
        )
        self._api = ApiCaller(http, tokens, budget, profile, retry=retry)

    @staticmethod
    def tenant_key_for(client_id: str, tenant_id: str | int) -> str:
        """The `tenant_key` for an integration (client id) and a Fortnox company (tenant id)."""
        return f"{client_id}:{tenant_id}"

    # -- customers -----------------------------------------------------------------------------

    def find_customers(self, **search: str) -> list[FortnoxCustomer]:
        """Customers whose fields equal every given search value exactly.

        Keys are Fortnox's search parameters (`customernumber`, `name`, `email`,
        `organisationnumber`, `phone`, `zipcode`, `city`, `gln`). Fortnox matches substrings
        case-insensitively; hubnox keeps only exact matches: emails, cities and names ignore case (names
also runs of spaces),
        organisation and phone numbers ignore punctuation (and +46 is 0), everything else must be
        equal. Organisation and phone numbers are searched by a part every format contains.
        """
        unknown = set(search) - set(_CUSTOMER_SEARCH)
        if unknown:
            raise ValueError(f"unknown customer search parameters: {', '.join(sorted(unknown))}")
        wanted = {key: value for key, value in search.items() if value is not None and str(value).strip()}
        if not wanted:
            raise ValueError("a customer search needs at least one value")
        query = {key: _SEARCH_FRAGMENT.get(key, str)(str(value)) or str(value) for key, value in wanted.items()}
        found = self._list(CUSTOMERS, "Customers", FortnoxCustomer, params=query)
        return [customer for customer in found if _customer_matches(customer, wanted)]

    def get_customer(self, customer_number: str) -> FortnoxCustomer:
        """One customer; raises `FortnoxNotFoundError` when the number is unknown."""
        reply = self._api.call("GET", f"{CUSTOMERS}/{_seg(fortnox_customer_number(customer_number))}")
        return FortnoxCustomer.model_validate(reply.data["Customer"])

    def create_customer(self, customer: FortnoxCustomer) -> FortnoxCustomer:
        """Create a customer (Fortnox numbers it unless `customer_number` is set)."""
        reply = self._api.call("POST", CUSTOMERS, json_body={"Customer": customer.to_payload()})
        return FortnoxCustomer.model_validate(reply.data["Customer"])

    def update_customer(self, customer_number: str, customer: FortnoxCustomer) -> FortnoxCustomer:
        """Change a customer; only the fields set on `customer` are sent (PUT is partial)."""
        payload = customer.to_payload()
        payload.pop("CustomerNumber", None)
        reply = self._api.call("PUT", f"{CUSTOMERS}/{_seg(fortnox_customer_number(customer_number))}",
                                   json_body={"Customer": payload})
        return FortnoxCustomer.model_validate(reply.data["Customer"])

    # -- articles and prices -------------------------------------------------------------------

    def get_article(self, article_number: str) -> Article | None:
        """The article with exactly this number, or None when Fortnox has none."""
        if not str(article_number).strip("."):
            return None  # no article is numbered `.` or `..`, and the path would name another resource
        reply = self._api.call("GET", f"{ARTICLES}/{_seg(article_number)}", accept=(404,))
        if reply.status == 404:
            return None
        return Article.model_validate(reply.data["Article"])

    def find_articles(self, article_numbers: Collection[str]) -> dict[str, Article | None]:
        """Each article number mapped to its article, or None when Fortnox has none, in as few calls as
        possible: one GET per number, or the article list 500 at a time when that takes fewer calls
        (a deal with many SKUs in a company with few articles)."""
        wanted = list(dict.fromkeys(article_numbers))
        found: dict[str, Article | None] = {}
        if len(wanted) > 2:
            page, total_pages = 1, None
            while (total_pages is None or page <= total_pages) and len(found) < len(wanted):
                if total_pages is not None and total_pages - page + 1 >= len(wanted) - len(found):
                    break  # the pages left cost more than asking for each article left
                reply = self._api.call("GET", ARTICLES, params={"limit": PAGE_SIZE, "page": page})
                data = reply.data or {}
                for item in data.get("Articles") or []:
                    number = str(item.get("ArticleNumber", ""))
                    if number in wanted:
                        found[number] = Article.model_validate(item)
                total_pages = int((data.get("MetaInformation") or {}).get("@TotalPages") or page)
                page += 1
            if total_pages is not None and page > total_pages:
                return {number: found.get(number) for number in wanted}  # the whole list was read
        return {number: found[number] if number in found else self.get_article(number) for number in wanted}

    def list_articles(self) -> list[Article]:
        """The company's whole article list, 500 a page (list items: number, description, VAT,
        unit, type, sales price, active)."""
        return self._list(ARTICLES, "Articles", Article)

    def list_articles_changed(self, since: str) -> list[Article]:
        """Every article Fortnox modified at or after `since` ("YYYY-MM-DD HH:MM", Swedish time), 500 a
        page. Deleted articles are not listed; callers overlap their cursor (see `list_invoices_changed`)."""
        return self._list(ARTICLES, "Articles", Article, params={"lastmodified": since})

    def create_article(self, article: Article) -> Article:
        """Create an article; its number is fixed for good once created."""
        reply = self._api.call("POST", ARTICLES, json_body={"Article": article.to_payload()})
        return Article.model_validate(reply.data["Article"])

    def update_article(self, article_number: str, article: Article) -> Article:
        """Change an existing article; only the fields set on `article` are sent (PUT is partial),
        and never its number, which Fortnox does not let change."""
        payload = article.to_payload()
        payload.pop("ArticleNumber", None)
        reply = self._api.call("PUT", f"{ARTICLES}/{_seg(article_number)}", json_body={"Article": payload})
        return Article.model_validate(reply.data["Article"])

    def get_price(self, price_list: str, article_number: str, from_quantity: Decimal = Decimal(0)) -> Price | None:
        """An article's price in a price list from a quantity on, or None when it has none there."""
        path = f"{PRICES}/{_seg(price_list)}/{_seg(article_number)}/{_number_text(from_quantity)}"
        reply = self._api.call("GET", path, accept=(404,))
        if reply.status == 404:
            return None
        return Price.model_validate(reply.data["Price"])

    def set_price(self, price_list: str, article_number: str, price: Decimal,
                  from_quantity: Decimal = Decimal(0), *, new_article: bool = False) -> Price:
        """Set an article's price in a price list: update it when it exists, else create it.

        A just-created article has no prices yet, so `new_article` creates the price at once.
        """
        body = {"Price": Price(article_number=article_number, price_list=price_list,
                               from_quantity=from_quantity, price=price).to_payload()}
        path = f"{PRICES}/{_seg(price_list)}/{_seg(article_number)}/{_number_text(from_quantity)}"
        reply = None if new_article else self._api.call("PUT", path, json_body=body, accept=(404,))
        if reply is None or reply.status == 404:
            reply = self._api.call("POST", PRICES, json_body=body)
        return Price.model_validate(reply.data["Price"])

    def price_lists(self) -> list[PriceList]:
        """The company's price lists (`pre_selected` marks the default)."""
        return self._list(PRICE_LISTS, "PriceLists", PriceList)

    # -- invoices and orders -------------------------------------------------------------------

    def find_documents_by_external_reference(self, kind: DocumentKind | str, deal_id: str,
                                             ) -> list[Invoice] | list[Order]:
        """Invoices or orders whose `ExternalInvoiceReference1` is exactly `deal_id`.

        hubnox stores the HubSpot deal id there, so this is the look-up before every create.
        """
        kind = DocumentKind(kind)
        found = self._list(f"/3/{kind.resource}", kind.list_key, kind.model,
                           params={"externalinvoicereference1": deal_id})
        wanted = str(deal_id).strip()
        return [doc for doc in found if (doc.external_invoice_reference1 or "").strip() == wanted]  # type: ignore[return-value]

    def create_invoice(self, invoice: Invoice) -> Invoice:
        """Create a draft invoice. Never retried when the outcome is unknown: look it up instead."""
        reply = self._api.call("POST", "/3/invoices", json_body={"Invoice": invoice.to_payload()})
        return Invoice.model_validate(reply.data["Invoice"])

    def create_order(self, order: Order) -> Order:
        """Create an order. Never retried when the outcome is unknown: look it up instead."""
        reply = self._api.call("POST", "/3/orders", json_body={"Order": order.to_payload()})
        return Order.model_validate(reply.data["Order"])

    def get_invoice(self, document_number: str) -> Invoice:
        """One invoice with rows and totals; raises `FortnoxNotFoundError` when unknown."""
        reply = self._api.call("GET", f"/3/invoices/{_seg(fortnox_document_number(document_number))}")
        return Invoice.model_validate(reply.data["Invoice"])

    def get_order(self, document_number: str) -> Order:
        """One order with rows and totals; raises `FortnoxNotFoundError` when unknown."""
        reply = self._api.call("GET", f"/3/orders/{_seg(fortnox_document_number(document_number))}")
        return Order.model_validate(reply.data["Order"])

    def preview_pdf(self, kind: DocumentKind | str, document_number: str) -> bytes:
        """The document as PDF from `/preview`, which (unlike `/print`) does not mark it sent."""
        kind = DocumentKind(kind)
        number = fortnox_document_number(document_number)
        reply = self._api.call("GET", f"/3/{kind.resource}/{_seg(number)}/preview",
                                   headers={"Accept": "application/pdf"}, expect_json=False)
        if not reply.content.startswith(b"%PDF"):
            raise TransientError(f"Fortnox sent no PDF for {kind.value} {document_number}.", code="NO_PDF")
        return reply.content

    def list_invoices(self, customer_number: str, filter: str | None = None) -> list[Invoice]:
        """A customer's invoices, optionally only `unpaid`, `unpaidoverdue`, `fullypaid`,
        `cancelled` or `unbooked` ones.

        Whether Fortnox combines `customernumber` with `filter` is not documented, and its
        customer number search matches substrings, so both are sent and both are checked again
        here: the customer number exactly, the filter by each invoice's balance, due date,
        booking and cancellation (`unpaid` means booked with a balance left; drafts are
        `unbooked`).
        """
        if filter is not None and filter not in _INVOICE_FILTERS:
            raise ValueError(f"unknown invoice filter {filter!r}")
        found = self._list("/3/invoices", "Invoices", Invoice,
                           params={"customernumber": customer_number, "filter": filter})
        wanted = customer_number.strip()
        keep = _INVOICE_FILTERS[filter] if filter else (lambda invoice, today: True)
        today = self._today()
        return [invoice for invoice in found
                if invoice.customer_number.strip() == wanted and keep(invoice, today)]

    # -- what changed (the status sync) --------------------------------------------------------

    def list_invoices_changed(self, since: str) -> list[Invoice]:
        """Every invoice Fortnox modified at or after `since` ("YYYY-MM-DD HH:MM", Swedish time),
        500 a page. Fortnox documents neither the time zone nor the granularity of `lastmodified`, so
        callers overlap their cursor."""
        return self._list(INVOICES, "Invoices", Invoice, params={"lastmodified": since})

    def list_orders_changed(self, since: str) -> list[Order]:
        """Every order Fortnox modified at or after `since` (see `list_invoices_changed`)."""
        return self._list(ORDERS, "Orders", Order, params={"lastmodified": since})

    def list_payments_changed(self, since: str) -> list[InvoicePayment]:
        """Every invoice payment modified at or after `since`. Needs the `payment` scope: without it
        Fortnox answers 403, raised as `FortnoxError` with `status` 403 for the caller to decide."""
        return self._list(INVOICE_PAYMENTS, "InvoicePayments", InvoicePayment, params={"lastmodified": since})

    def list_invoices_filtered(self, filter: str) -> list[Invoice]:
        """Every invoice of the company in one of Fortnox's invoice filters (`unpaidoverdue` across all
        customers for the hourly overdue sweep), each checked again here as `list_invoices` does."""
        if filter not in _INVOICE_FILTERS:
            raise ValueError(f"unknown invoice filter {filter!r}")
        keep = _INVOICE_FILTERS[filter]
        today = self._today()
        return [invoice for invoice in self._list(INVOICES, "Invoices", Invoice, params={"filter": filter})
                if keep(invoice, today)]

    # -- lookups -------------------------------------------------------------------------------

    def terms_of_payment(self) -> list[TermsOfPayment]:
        return self._list(TERMS_OF_PAYMENTS, "TermsOfPayments", TermsOfPayment)

    def currencies(self) -> list[Currency]:
        return self._list(CURRENCIES, "Currencies", Currency)

    def print_templates(self, document_type: str = "invoice") -> list[PrintTemplate]:
        """Print templates for one document type (`invoice`, `order`, `offer`, `cashinvoice`)."""
        return self._list(PRINT_TEMPLATES, "PrintTemplates", PrintTemplate, params={"type": document_type})

    def probe(self, path: str, params: Mapping[str, str] | None = None) -> None:
        """Read one item of a list resource (`PROBE_PATHS`), for what the answer says: nothing when the
        company may read it, else the `FortnoxError` (e.g. 2001101, no licence) or other domain error."""
        if path not in PROBE_PATHS:
            raise ValueError(f"{path} is not a resource hubnox probes")
        self._api.call("GET", path, params={**(params or {}), "limit": 1})

    def company_information(self) -> CompanyInformation:
        """The connected company; its `database_number` is the tenant id."""
        reply = self._api.call("GET", COMPANY_INFORMATION)
        return CompanyInformation.model_validate(reply.data["CompanyInformation"])

    # -- lookups for new customers' defaults ---------------------------------------------------

    def ways_of_delivery(self) -> list[WayOfDelivery]:
        return self._list(WAY_OF_DELIVERIES, "WayOfDeliveries", WayOfDelivery)

    def terms_of_delivery(self) -> list[TermsOfDelivery]:
        return self._list(TERMS_OF_DELIVERIES, "TermsOfDeliveries", TermsOfDelivery)

    def sales_accounts(self) -> list[Account]:
        """The active accounts numbered 3000-3999 (sales), in number order."""
        found = self._list(ACCOUNTS, "Accounts", Account, params={"sortby": "number"})
        return sorted((account for account in found
                       if account.number in SALES_ACCOUNTS and account.active is not False),
                      key=lambda account: account.number)

    def cost_centers(self) -> list[CostCenter]:
        """The active cost centers."""
        return [center for center in self._list(COST_CENTERS, "CostCenters", CostCenter)
                if center.active is not False]

    def projects(self) -> list[Project]:
        """The projects that are not completed."""
        return [project for project in self._list(PROJECTS, "Projects", Project)
                if project.status != "COMPLETED"]

    # -- paging --------------------------------------------------------------------------------

    def _list(self, path: str, key: str, model: type[M], *, params: Mapping[str, Any] | None = None,
              ) -> list[M]:
        return list(self._pages(path, key, model, params or {}))

    def _pages(self, path: str, key: str, model: type[M], params: Mapping[str, Any]) -> Iterator[M]:
        """Every item of a list resource, 500 per page, following `MetaInformation`."""
        page = 1
        while True:
            reply = self._api.call("GET", path, params={**params, "limit": PAGE_SIZE, "page": page})
            data = reply.data or {}
            items = data.get(key) or []
            yield from (model.model_validate(item) for item in items)
            meta = data.get("MetaInformation") or {}
            total_pages = meta.get("@TotalPages")
            if total_pages is None:
                if len(items) < PAGE_SIZE:
                    return
            elif page >= int(total_pages):
                return
            page += 1


def _customer_matches(customer: FortnoxCustomer, wanted: Mapping[str, str]) -> bool:
    for key, value in wanted.items():
        attribute, normal = _CUSTOMER_SEARCH[key]
        # Fortnox's phone search covers both phone fields (and the list's `Phone`).
        candidates = ([customer.phone1, customer.phone2, customer.phone] if key == "phone"
                      else [getattr(customer, attribute, None)])
        target = normal(str(value))
        if not any(candidate is not None and normal(candidate) == target for candidate in candidates):
            return False
    return True


def _unpaid(invoice: Invoice) -> bool:
    # A draft (unbooked) invoice is not owed yet: it counts as `unbooked`, not as unpaid.
    owed = invoice.balance is not None and invoice.balance != 0
    return bool(invoice.booked) and not invoice.cancelled and owed


#: Fortnox's invoice filters, as checks on an invoice and today's date
_INVOICE_FILTERS: dict[str, Callable[[Invoice, date], bool]] = {
    "unpaid": lambda invoice, today: _unpaid(invoice),
    "unpaidoverdue": lambda invoice, today: _unpaid(invoice) and invoice.due_date is not None
    and invoice.due_date < today,
    "fullypaid": lambda invoice, today: not invoice.cancelled and invoice.balance == 0,
    "cancelled": lambda invoice, today: bool(invoice.cancelled),
    "unbooked": lambda invoice, today: not invoice.booked and not invoice.cancelled,
}
