"""The ports the sync talks to the outside through, each declared once.

The sync logic (`hubnox.sync`) takes these and nothing concrete: `hubnox.wiring` passes the
DynamoDB stores (`hubnox.store`), the HTTP clients (`hubnox.hubspot.client`,
`hubnox.fortnox.client`) and the jinja2 note renderer (`hubnox.web.render`); tests pass fakes.
The layer's services (the card, the workflow actions, the Replay pages) take the same ports.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from hubnox.fortnox.models import Article, Currency, DocumentKind, FortnoxCustomer, Invoice, InvoicePayment, Order
from hubnox.hubspot.models import (
    AccountDetails,
    AssociatedRecord,
    AssociationInput,
    BatchReadResult,
    BatchUpdateResult,
    CrmObject,
    Owner,
    SearchPage,
    TaxRate,
    UploadedFile,
)
from hubnox.records import DealLink, DeliveryState, FortnoxConnection, HubSpotConnection, HubSpotStatus, Run, RunRequest

if TYPE_CHECKING:
    from hubnox.jobs import Job
    from hubnox.sync.status_model import CustomerSnapshot, DocumentKey, DocumentSnapshot

# -- what hubnox keeps -------------------------------------------------------------------------------


class RunLog(Protocol):
    """The runs hubnox records and carries to their outcome (`hubnox.store.runs.RunStore`)."""

    def create(self, request: RunRequest, *, replay_of: str | None = None, run_id: str | None = None) -> Run: ...

    def mark_running(self, portal_id: str, run_id: str) -> Run: ...

    def record_progress(self, portal_id: str, run_id: str, progress: dict[str, str]) -> None: ...

    def record_delivery(self, portal_id: str, run_id: str, progress: dict[str, str],
                        delivery: DeliveryState) -> Run: ...

    def succeed(self, portal_id: str, run_id: str, result: dict[str, Any] | None = None,
                outcome: dict[str, Any] | None = None) -> Run: ...

    def fail(self, portal_id: str, run_id: str, error_code: str, error_message: str,
             result: dict[str, Any] | None = None, outcome: dict[str, Any] | None = None) -> Run: ...

    def get(self, portal_id: str, run_id: str) -> Run | None: ...


class RunOutcomes(Protocol):
    """Where a run is counted once its outcome is final (`hubnox.signals.RunSignals`: the operator's
    metrics)."""

    def finished(self, run: Run) -> None: ...


class FollowUps(Protocol):
    """The jobs queue, for a follow-up of a run (`hubnox.jobs.JobQueue`)."""

    def send(self, job: Job, *, delay_seconds: int = 0) -> None: ...


class RunHistory(Protocol):
    """Runs as recorded: one by id, and the newest for a CRM object (`hubnox.store.runs.RunStore`)."""

    def get(self, portal_id: str, run_id: str) -> Run | None: ...

    def latest_for_object(self, portal_id: str, object_type: str, object_id: str) -> Run | None: ...


class DealLinks(Protocol):
    """A deal's one document per trigger: claimed, recorded, read (`hubnox.store.deal_links.DealLinkStore`)."""

    def get(self, portal_id: str, deal_id: str, trigger_key: str) -> DealLink | None: ...

    def claim(self, portal_id: str, deal_id: str, trigger_key: str, run_id: str) -> DealLink: ...

    def set_document(self, portal_id: str, deal_id: str, trigger_key: str, document_type: str,
                     document_number: str) -> DealLink: ...

    def forget_document(self, portal_id: str, deal_id: str, trigger_key: str, document_number: str) -> bool: ...

    def mark_creating(self, portal_id: str, deal_id: str, trigger_key: str, run_id: str) -> bool: ...

    def for_deal(self, portal_id: str, deal_id: str) -> list[DealLink]: ...


class DealLinkReads(Protocol):
    """A portal's deal links as the status sync reads them (`hubnox.store.deal_links.DealLinkStore`)."""

    def for_deal(self, portal_id: str, deal_id: str) -> list[DealLink]: ...

    def documents_by_deal(self, portal_id: str) -> dict[str, set[tuple[str, str]]]: ...

    def oldest_documented_at(self, portal_id: str) -> float | None: ...


class DocumentStates(Protocol):
    """What hubnox last wrote of each Fortnox document and customer
    (`hubnox.store.document_states.DocumentStateStore`)."""

    def get_many(self, portal_id: str, keys: Iterable[DocumentKey]) -> dict[DocumentKey, DocumentSnapshot]: ...

    def put(self, portal_id: str, kind: str, number: str, snapshot: DocumentSnapshot) -> None: ...

    def customer(self, portal_id: str, customer_number: str) -> CustomerSnapshot | None: ...

    def put_customer(self, portal_id: str, customer_number: str, snapshot: CustomerSnapshot) -> None: ...


class Leases(Protocol):
    """Named, expiring locks shared by every container (`hubnox.store.leases.LeaseStore`)."""

    def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool: ...

    def release(self, name: str, owner: str) -> bool: ...


class MadeCustomers(Protocol):
    """The Fortnox customer hubnox made for each HubSpot record, per Fortnox company
    (`hubnox.store.made_customers.MadeCustomerStore`)."""

    def get(self, portal_id: str, tenant: str, kind: str, record_id: str) -> str | None: ...

    def put(self, portal_id: str, tenant: str, kind: str, record_id: str, customer_number: str) -> None: ...


class CustomerCreations(Protocol):
    """At most one Fortnox customer made per HubSpot record, however many runs of it overlap
    (`hubnox.sync.customer_guard`): customer resolution calls it when its rules found no customer."""

    def create_once(self, kind: str, record_id: str, *, find: Callable[[str], FortnoxCustomer | None],
                    create: Callable[[], FortnoxCustomer]) -> tuple[FortnoxCustomer, bool]:
        """The customer made for the record earlier when `find` still finds it by its number (False),
        else the one `create` makes now (True)."""
        ...


class NonceClaims(Protocol):
    """Values claimed once until they expire, and given back (`hubnox.store.nonces.NonceStore`)."""

    def claim(self, kind: str, value: str, ttl_seconds: float) -> bool: ...

    def release(self, kind: str, value: str) -> None: ...


class Cursors(Protocol):
    """A portal's named positions, such as how far the poller has searched (`hubnox.store.cursors.CursorStore`)."""

    def get(self, portal_id: str, name: str) -> str | None: ...

    def put(self, portal_id: str, name: str, value: str) -> None: ...


class SettingsSource(Protocol):
    """A portal's saved settings payload and its version (`hubnox.store.portal_settings.SettingsStore`)."""

    def get(self, portal_id: str) -> tuple[dict[str, Any] | None, int]: ...


class Connections(Protocol):
    """A portal's HubSpot installation and Fortnox connection (`hubnox.store.connections.ConnectionStore`)."""

    def get_hubspot(self, portal_id: str) -> HubSpotConnection | None: ...

    def hubspot_status(self, portal_id: str) -> HubSpotStatus | None: ...

    def get_fortnox(self, portal_id: str) -> FortnoxConnection | None: ...


class InstallStatus(Protocol):
    """Whether hubnox is still installed in a portal, read without opening tokens
    (`hubnox.store.connections.ConnectionStore`): the worker asks before a job of the portal runs."""

    def hubspot_status(self, portal_id: str) -> HubSpotStatus | None: ...


class Uninstalls(Protocol):
    """The one place an uninstall is handled (`hubnox.services.install.UninstallService`): HubSpot's
    uninstall event and a refused HubSpot refresh token both end here."""

    def uninstalled(self, portal_id: str, reason: str) -> None: ...


# -- what hubnox says ----------------------------------------------------------------------------------


class NoteRenderer(Protocol):
    """Renders a note body from its named template (`hubnox.web.render.render`), autoescaped."""

    def __call__(self, template: str, **context: Any) -> str: ...


# -- HubSpot -------------------------------------------------------------------------------------------


class HubSpotReads(Protocol):
    """What the sync reads from a portal's HubSpot (`hubnox.hubspot.client.HubSpotClient`)."""

    def get_object(self, object_type: str, object_id: str, properties: Sequence[str] = (),
                   associations: Sequence[str] = (), *, model: Any = ...) -> Any: ...

    def batch_read(self, object_type: str, ids: Sequence[str], properties: Sequence[str], *,
                   model: type[CrmObject] = ...) -> BatchReadResult: ...

    def search(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]], properties: Sequence[str],
               sorts: Sequence[Mapping[str, str] | str] = (), limit: int = 100, after: str | None = None, *,
               model: type[CrmObject] = ...) -> SearchPage: ...

    def iter_search(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]],
                    properties: Sequence[str], sorts: Sequence[Mapping[str, str] | str] = (), *,
                    page_size: int = ..., model: type[CrmObject] = ...) -> Iterator[CrmObject]: ...

    def account_details(self) -> AccountDetails: ...

    def tax_rates(self) -> list[TaxRate]: ...

    def owner(self, owner_id: str, *, archived: bool = False) -> Owner: ...

    def associations(self, from_type: str, object_id: str, to_type: str) -> list[AssociatedRecord]: ...


class HubSpotWrites(Protocol):
    """What the sync writes to a portal's HubSpot (`hubnox.hubspot.client.HubSpotClient`)."""

    def update(self, object_type: str, object_id: str, properties: Mapping[str, Any]) -> CrmObject: ...

    def create(self, object_type: str, properties: Mapping[str, Any],
               associations: Sequence[AssociationInput] = ()) -> CrmObject: ...

    def create_note(self, deal_id: str, body_html: str, attachment_ids: Sequence[str] = ()) -> CrmObject: ...

    def upload_file(self, content: bytes, file_name: str, folder_path: str, access: str = "PRIVATE",
                    ) -> UploadedFile: ...

    def complete_callback(self, callback_id: str, output_fields: Mapping[str, Any]) -> None: ...


class HubSpotBatchWrites(Protocol):
    """Many records' properties in one call (`hubnox.hubspot.client.HubSpotClient.batch_update`): at most
    100 inputs a POST to `batch/update`; a 207 partial answer is a result, not an error."""

    def batch_update(self, object_type: str, updates: Mapping[str, Mapping[str, Any]]) -> BatchUpdateResult: ...


class HubSpotStatusWrites(HubSpotBatchWrites, Protocol):
    """What the status sync does in a portal's HubSpot: find the companies and contacts of a Fortnox
    customer, write deals', companies' and contacts' properties in batches, and add timeline notes."""

    def iter_search(self, object_type: str, filter_groups: Sequence[Mapping[str, Any]],
                    properties: Sequence[str], sorts: Sequence[Mapping[str, str] | str] = (), *,
                    page_size: int = ..., model: type[CrmObject] = ...) -> Iterator[CrmObject]: ...

    def create_note(self, deal_id: str, body_html: str, attachment_ids: Sequence[str] = ()) -> CrmObject: ...


@dataclass(frozen=True)
class CatalogState:
    """Where a tenant's copy of its article list stands: complete (a full list was read) and when its
    changes were last read (`cursor` in Fortnox time, `refreshed_at` in epoch seconds)."""

    cursor: str
    refreshed_at: float
    complete: bool


class ArticleCatalog(Protocol):
    """Each Fortnox company's copy of its article list (`hubnox.store.article_cache.ArticleCacheStore`)."""

    def state(self, tenant: str) -> CatalogState | None: ...

    def find(self, tenant: str, numbers: Iterable[str]) -> dict[str, Article]: ...

    def remember(self, tenant: str, articles: Iterable[Article]) -> None: ...

    def refreshed(self, tenant: str, cursor: str) -> None: ...

    def replace(self, tenant: str, articles: Iterable[Article], cursor: str) -> None: ...

    def stale(self, tenant: str) -> None: ...


class PortalLookups(Protocol):
    """A portal's cached HubSpot data, JSON values by name (`hubnox.store.portal_cache.PortalCacheStore`)."""

    def get(self, portal_id: str, name: str) -> Any | None: ...

    def get_many(self, portal_id: str, names: Sequence[str]) -> dict[str, Any]: ...

    def put(self, portal_id: str, name: str, value: Any, *, seconds: float | None = None) -> None: ...


class HubSpot(HubSpotReads, HubSpotWrites, Protocol):
    """A portal's HubSpot, read and written."""


# -- Fortnox -------------------------------------------------------------------------------------------


class FortnoxCustomers(Protocol):
    """The Fortnox customer calls customer resolution makes (`hubnox.fortnox.client.FortnoxClient`)."""

    def find_customers(self, **search: str) -> list[FortnoxCustomer]: ...

    def get_customer(self, customer_number: str) -> FortnoxCustomer: ...

    def create_customer(self, customer: FortnoxCustomer) -> FortnoxCustomer: ...

    def update_customer(self, customer_number: str, customer: FortnoxCustomer) -> FortnoxCustomer: ...


class FortnoxArticles(Protocol):
    """The Fortnox article calls article resolution makes (`hubnox.fortnox.client.FortnoxClient`)."""

    def get_article(self, article_number: str) -> Article | None: ...

    def find_articles(self, article_numbers: Collection[str]) -> dict[str, Article | None]: ...

    def create_article(self, article: Article) -> Article: ...

    def update_article(self, article_number: str, article: Article) -> Article: ...

    def list_articles(self) -> list[Article]: ...

    def list_articles_changed(self, since: str) -> list[Article]: ...

    def get_price(self, price_list: str, article_number: str, from_quantity: Decimal = ...) -> Any: ...

    def set_price(self, price_list: str, article_number: str, price: Decimal,
                  from_quantity: Decimal = ..., *, new_article: bool = ...) -> Any: ...


class FortnoxDocuments(Protocol):
    """The Fortnox invoice and order calls (`hubnox.fortnox.client.FortnoxClient`)."""

    def find_documents_by_external_reference(self, kind: DocumentKind | str, deal_id: str) -> Any: ...

    def create_invoice(self, invoice: Invoice) -> Invoice: ...

    def create_order(self, order: Order) -> Order: ...

    def get_invoice(self, document_number: str) -> Invoice: ...

    def get_order(self, document_number: str) -> Order: ...

    def preview_pdf(self, kind: DocumentKind | str, document_number: str) -> bytes: ...


class FortnoxCurrencies(Protocol):
    """The Fortnox company's currency register (`/3/currencies`)."""

    def currencies(self) -> list[Currency]: ...


class FortnoxStatusReads(Protocol):
    """What the status sync reads from Fortnox (`hubnox.fortnox.client.FortnoxClient`), every call inside
    the company's shared rate budget. `since` is "YYYY-MM-DD HH:MM", Swedish time."""

    def list_invoices_changed(self, since: str) -> list[Invoice]: ...

    def list_orders_changed(self, since: str) -> list[Order]: ...

    def list_payments_changed(self, since: str) -> list[InvoicePayment]: ...

    def list_invoices_filtered(self, filter: str) -> list[Invoice]: ...

    def list_invoices(self, customer_number: str, filter: str | None = None) -> list[Invoice]: ...

    def get_invoice(self, document_number: str) -> Invoice: ...

    def get_order(self, document_number: str) -> Order: ...


class Fortnox(FortnoxCustomers, FortnoxArticles, FortnoxDocuments, FortnoxCurrencies, Protocol):
    """A portal's connected Fortnox company, as the sync uses it."""

    @property
    def tenant_key(self) -> str:
        """Which Fortnox company the calls reach: `<client id>:<tenant id>` (`FortnoxClient.tenant_key_for`)."""
        ...
