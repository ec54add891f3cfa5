"""The app card: what a HubSpot record page shows of Fortnox, and the card's actions.

`CardService.card` builds the JSON the React card (`hubspot-app/src/app/cards/`) renders, over
ports only: the stored connections, runs and deal links, a CRM reader for the portal and a
Fortnox reader for its connected company.

- A **company or contact** shows its Fortnox customer (number, name, a link to Fortnox), what it
  owes (outstanding and overdue, per currency), how many invoices are unpaid and overdue, and its
  latest invoices with their status. The customer is the one named by the record's Fortnox
  customer number property, else the one the portal's match rule finds, when a matcher is given.
- A **deal** shows its Fortnox document (type, number, status, total, balance), found through the
  deal links hubnox recorded or the deal's Fortnox properties, the deal's last run with its error
  and a Replay link, and the "Create invoice now" action while the deal has no document.
- Clear **states** instead of errors: `not_installed`, `hubspot_broken`, `fortnox_not_connected`,
  `fortnox_broken` (both with a signed settings link to reconnect), `not_found`, `no_customer`,
  and `ready`.

Decisions, kept here:

- **Time budget.** HubSpot gives a card 15 seconds. Every remote call (HubSpot and Fortnox) runs
  in a thread against one deadline, `REMOTE_BUDGET_SECONDS` (8 s) after the card's building
  starts; whatever has not answered by then is left out and the card says so (`partial`,
  `notes`). A call still running is abandoned, bounded by its own HTTP timeout.
- **Cache.** Cards are cached in process, per container, for `CARD_TTL_SECONDS` (60 s) keyed by
  portal, object type and id; a partial card or a state only for `PARTIAL_TTL_SECONDS`, and a
  card whose last run is queued or running for `IN_FLIGHT_TTL_SECONDS`, so the result shows as
  soon as the worker is done. A card action drops the entry for its record in the container that
  ran it; another container may show the card as it was for up to a minute, and a second click
  there answers the run already under way. DynamoDB does not back the cache: Fortnox's limit is
  already guarded across containers by the shared rate budget (`hubnox.store.ratelimit`), a
  DynamoDB cache would add a read and a write to every view and keep customers' balances at rest
  in the table, and the views it would save (a record opened in another container within a
  minute) are few.
- **Fortnox link.** Fortnox's web app has no public deep links (its URLs carry a per-company id
  the API does not expose), so the card links to the web app itself (`FORTNOX_WEB_APP_URL`)
  next to the customer or document number.
- **Statuses.** A document's status is Fortnox's state in hubnox's words
  (`hubnox.fortnox.statuses`): an invoice is `cancelled`, `paid`, `sent`, `booked` or `draft`, an
  order `cancelled`, `invoiced`, `sent` or `draft`; a customer's invoice list speaks of payment.
- **Replay.** The last run carries a signed Replay link when it failed; a queued, running or
  succeeded run needs none.
- **Manual documents.** "Create invoice now" makes the document type the request names, else
  the portal's default (an invoice unless the settings say order, and the button says which);
  its trigger key is `manual:<type>`, so a deal gets at most one card-made document of each
  type. The action refuses while the deal has one, and answers the run already under way
  instead of starting a second.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from hubnox.errors import (
    BadRequestError,
    ConnectionBrokenError,
    HubnoxError,
    NotFoundError,
    TransientError,
    UserFixableError,
)
from hubnox.fortnox.models import DocumentKind, FortnoxCustomer, Invoice, Order
from hubnox.fortnox.statuses import invoice_status, order_status, payment_status
from hubnox.hubspot import properties
from hubnox.hubspot.models import CrmObject
from hubnox.ids import bounded_text, hubspot_id, hubspot_id_or_none
from hubnox.jobs import DocumentType, ObjectType, Submit, trigger_key
from hubnox.links import replay_url
from hubnox.observability import logger
from hubnox.records import Run, RunRequest
from hubnox.signing import Signer
from hubnox.sync.ports import Connections, DealLinks, RunHistory
from hubnox.web.session import login_link

CARD_TTL_SECONDS = 60.0
PARTIAL_TTL_SECONDS = 15.0
IN_FLIGHT_TTL_SECONDS = 5.0
CACHE_MAX_ENTRIES = 1000
REMOTE_BUDGET_SECONDS = 8.0
REMOTE_WORKERS = 4
LATEST_INVOICES = 5
FORTNOX_WEB_APP_URL = "https://apps.fortnox.se"
DEFAULT_DOCUMENT_TYPE: DocumentType = "invoice"

CardState = Literal["ready", "not_installed", "hubspot_broken", "fortnox_not_connected", "fortnox_broken",
                    "not_found", "no_customer"]

#: how the card and HubSpot name object types, to hubnox's names
_OBJECT_TYPES: dict[str, ObjectType] = {
    "deal": "deal", "deals": "deal", "0-3": "deal",
    "company": "company", "companies": "company", "0-2": "company",
    "contact": "contact", "contacts": "contact", "0-1": "contact",
}
_DOCUMENT_TYPES: tuple[DocumentType, ...] = ("invoice", "order")
#: the trigger rules whose deal links the card looks at (stage rules are found through the last run)
_LINK_RULES = ("workflow", "manual")
_IN_FLIGHT = ("queued", "running")


def object_type_of(value: str | None) -> ObjectType:
    """hubnox's object type for a card's `objectType` ("0-3", "deals", "DEAL" ...); BadRequestError else."""
    found = _OBJECT_TYPES.get((value or "").strip().lower())
    if found is None:
        raise BadRequestError(f"The app card does not support the object type {value!r}.", code="BAD_OBJECT_TYPE",
                              hint="Use the card on deals, companies or contacts.")
    return found


class CardRequest(BaseModel):
    """Whose card for which record: what the signed `hubspot.fetch` query names."""

    model_config = ConfigDict(frozen=True)

    portal_id: str
    object_type: ObjectType
    object_id: str
    user_id: str | None = None
    user_email: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], body: Mapping[str, Any] | None = None) -> CardRequest:
        """Read `portalId`, `userId`, `userEmail` (appended by HubSpot) and `objectType`, `objectId`
        (from the card, in the query or the JSON body); BadRequestError names what is missing.

        Who is asking comes from the query only: HubSpot appends it there, the card cannot.
        """
        record = {name: (body or {}).get(name) for name in ("objectType", "objectId")}
        merged = {**{k: v for k, v in record.items() if isinstance(v, str | int)}, **query}
        portal_id = hubspot_id_or_none(query.get("portalId"))
        object_id = hubspot_id_or_none(merged.get("objectId"))
        if portal_id is None:
            raise BadRequestError("The request names no HubSpot portal (portalId).", code="MISSING_PORTAL")
        if object_id is None:
            raise BadRequestError("The request names no record (objectId).", code="MISSING_OBJECT")
        user_id = query.get("userId")
        return cls(portal_id=portal_id, object_type=object_type_of(str(merged.get("objectType") or "")),
                   object_id=object_id, user_id=None if user_id in (None, "") else hubspot_id(user_id, "userId"),
                   user_email=bounded_text(query.get("userEmail"), "userEmail"))

    @property
    def user(self) -> str:
        """Who is looking, for the settings session: the e-mail, else the user id."""
        return self.user_email or self.user_id or ""


# -- ports -------------------------------------------------------------------------------------------


class CrmReader(Protocol):
    """What the card reads from HubSpot (`HubSpotClient`)."""

    def get_object(self, object_type: str, object_id: str, properties: Sequence[str] = (),
                   associations: Sequence[str] = ()) -> CrmObject: ...


class FortnoxReader(Protocol):
    """What the card reads from Fortnox (`FortnoxClient`)."""

    def get_customer(self, customer_number: str) -> FortnoxCustomer: ...

    def list_invoices(self, customer_number: str, filter: str | None = None) -> list[Invoice]: ...

    def get_invoice(self, document_number: str) -> Invoice: ...

    def get_order(self, document_number: str) -> Order: ...


class CustomerMatcher(Protocol):
    """The portal's match rule: the Fortnox customer number for a company or contact, or None."""

    def __call__(self, portal_id: str, object_type: ObjectType, record: CrmObject) -> str | None: ...


# -- the cache ---------------------------------------------------------------------------------------

CacheKey = tuple[str, str, str]


class CardCache:
    """Cards by (portal, object type, object id), each until its own expiry; the oldest go first
    when full. Owned by one `CardService`; safe to share between threads."""

    def __init__(self, max_entries: int = CACHE_MAX_ENTRIES) -> None:
        self._entries: OrderedDict[CacheKey, tuple[float, dict[str, Any]]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: CacheKey, now: float) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= now:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: CacheKey, card: dict[str, Any], ttl: float, now: float) -> None:
        with self._lock:
            self._entries[key] = (now + ttl, card)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def drop(self, key: CacheKey) -> None:
        with self._lock:
            self._entries.pop(key, None)


# -- the time budget ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a budgeted call came to: its value, the error it raised, or late (no answer in time)."""

    value: Any = None
    error: HubnoxError | None = None
    late: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.late


@dataclass
class RemoteCalls:
    """Runs remote calls in threads and waits for them until one shared deadline."""

    deadline: float
    monotonic: Callable[[], float]
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(
        max_workers=REMOTE_WORKERS, thread_name_prefix="hubnox-card"))

    def run(self, calls: Mapping[str, Callable[[], Any]]) -> dict[str, Outcome]:
        """Start every call, wait until all answered or the deadline passed, and say how each went."""
        futures: dict[str, Future[Any]] = {name: self._pool.submit(call) for name, call in calls.items()}
        wait_for(futures.values(), timeout=max(0.0, self.deadline - self.monotonic()))
        return {name: _outcome(future) for name, future in futures.items()}

    def close(self) -> None:
        # Late calls are abandoned, not awaited: each ends by its own HTTP timeout.
        self._pool.shutdown(wait=False, cancel_futures=True)


def _outcome(future: Future[Any]) -> Outcome:
    if not future.done():
        future.cancel()
        return Outcome(late=True)
    error = future.exception()
    if error is None:
        return Outcome(value=future.result())
    if isinstance(error, HubnoxError):
        return Outcome(error=error)
    logger.exception("card call failed", exc_info=error)
    return Outcome(error=HubnoxError("Something went wrong inside hubnox; it has been logged.", code="INTERNAL"))


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _totals_by_currency(invoices: list[Invoice]) -> list[dict[str, str]]:
    """The balances of `invoices` summed per currency (Fortnox amounts are in each invoice's currency)."""
    sums: dict[str, Decimal] = {}
    for invoice in invoices:
        currency = (invoice.currency or "SEK").upper()
        sums[currency] = sums.get(currency, Decimal(0)) + (invoice.balance or Decimal(0))
    return [{"currency": currency, "amount": format(amount, "f")} for currency, amount in sorted(sums.items())]


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat().replace("+00:00", "Z")


def _latest_first(invoice: Invoice) -> tuple[date, int, str]:
    number = invoice.document_number or ""
    return (invoice.invoice_date or date.min, int(number) if number.isdigit() else -1, number)


# -- the card ----------------------------------------------------------------------------------------


@dataclass
class CardDraft:
    """A card being built: the JSON so far and whether a remote part is missing."""

    body: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def finish(self) -> dict[str, Any]:
        return {**self.body, "partial": bool(self.notes), "notes": list(self.notes)}


class CardService:
    """Builds app cards (see the module docstring) and caches them per container."""

    def __init__(
        self,
        *,
        connections: Connections,
        runs: RunHistory,
        deal_links: DealLinks,
        hubspot: Callable[[str], CrmReader],
        fortnox: Callable[[str], FortnoxReader],
        signer: Signer,
        public_base: str,
        customer_matcher: CustomerMatcher | None = None,
        default_document_type: Callable[[str], DocumentType] = lambda portal_id: DEFAULT_DOCUMENT_TYPE,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        budget_seconds: float = REMOTE_BUDGET_SECONDS,
        cache: CardCache | None = None,
    ) -> None:
        self._connections = connections
        self._runs = runs
        self._deal_links = deal_links
        self._hubspot = hubspot
        self._fortnox = fortnox
        self._signer = signer
        self._public_base = public_base.rstrip("/")
        self._match = customer_matcher
        self.default_document_type = default_document_type
        self._clock = clock
        self._monotonic = monotonic
        self._budget = budget_seconds
        self._cache = cache or CardCache()

    # -- public --------------------------------------------------------------------------------

    def card(self, request: CardRequest) -> dict[str, Any]:
        """The card for one record: from the cache while fresh, else built within the time budget.

        Always a card, never an error for what the user can fix: states and notes say what is
        wrong. A settings link (reconnect) is made fresh for each answer, never cached.
        """
        key = self._key(request)
        now = self._clock()
        card = self._cache.get(key, now)
        if card is None:
            card = self._build(request)
            self._cache.put(key, card, _ttl(card), now)
            card = {**card, "cached": False}
        else:
            card = {**card, "cached": True}
        if card["state"] in ("fortnox_not_connected", "fortnox_broken"):
            link = self.settings_link(request)
            card = {**card, "settingsUrl": link} if link else {**card, "settingsNote": NOT_THE_ADMIN}
        return card

    def forget(self, request: CardRequest) -> None:
        """Drop the cached card of the request's record (after an action changed it)."""
        self._cache.drop(self._key(request))

    def settings_link(self, request: CardRequest) -> str | None:
        """A signed, single-use link that opens hubnox's settings for the portal, or None when the
        viewer is not the HubSpot user who installed hubnox: the settings can disconnect Fortnox
        and change what every invoice looks like, so seeing a record is not enough."""
        hubspot = self._connections.get_hubspot(request.portal_id)
        admin = hubspot.installed_by_user if hubspot is not None else None
        if not admin or not request.user_id or str(request.user_id) != str(admin):
            return None
        return login_link(self._signer, self._public_base, request.portal_id, request.user, str(request.user_id))

    # -- building ------------------------------------------------------------------------------

    @staticmethod
    def _key(request: CardRequest) -> CacheKey:
        return (request.portal_id, request.object_type, request.object_id)

    def _build(self, request: CardRequest) -> dict[str, Any]:
        draft = CardDraft({"state": "ready", "objectType": request.object_type, "objectId": request.object_id,
                           "message": None, "generatedAt": _iso(self._clock())})
        if not self._connected(request, draft):
            return draft.finish()
        calls = RemoteCalls(deadline=self._monotonic() + self._budget, monotonic=self._monotonic)
        try:
            if request.object_type == "deal":
                self._deal(request, draft, calls)
            else:
                self._customer(request, draft, calls)
        finally:
            calls.close()
        return draft.finish()

    def _connected(self, request: CardRequest, draft: CardDraft) -> bool:
        hubspot = self._connections.get_hubspot(request.portal_id)
        if hubspot is None or hubspot.status == "uninstalled":
            return _state(draft, "not_installed", "hubnox is not installed in this HubSpot portal.",
                          installUrl=f"{self._public_base}/oauth/hubspot/install")
        if hubspot.status != "active":
            return _state(draft, "hubspot_broken", "hubnox's access to HubSpot stopped working: "
                          f"{hubspot.broken_reason or 'unknown reason'}. Install hubnox again.",
                          installUrl=f"{self._public_base}/oauth/hubspot/install")
        fortnox = self._connections.get_fortnox(request.portal_id)
        if fortnox is None:
            return _state(draft, "fortnox_not_connected", "This HubSpot portal is not connected to Fortnox yet. "
                          "Connect Fortnox in the hubnox settings.")
        if fortnox.status != "active":
            return _state(draft, "fortnox_broken", "The Fortnox connection stopped working: "
                          f"{fortnox.broken_reason or 'unknown reason'}. Reconnect Fortnox in the hubnox settings.")
        draft.body["fortnoxCompany"] = fortnox.company_name or None
        return True

    def _run_json(self, run: Run | None) -> dict[str, Any] | None:
        if run is None:
            return None
        return {
            "id": run.run_id, "kind": run.kind, "trigger": run.trigger, "status": run.status,
            "documentType": run.document_type, "createdAt": _iso(run.created_at),
            "finishedAt": _iso(run.finished_at), "errorCode": run.error_code, "errorMessage": run.error_message,
            "replayUrl": (replay_url(self._signer, self._public_base, run.portal_id, run.run_id)
                          if run.status == "failed" else None),
        }

    # -- deals ---------------------------------------------------------------------------------

    def _deal(self, request: CardRequest, draft: CardDraft, calls: RemoteCalls) -> None:
        run = self._runs.latest_for_object(request.portal_id, "deal", request.object_id)
        draft.body["lastRun"] = self._run_json(run)
        draft.body["document"] = None
        found = self._linked_document(request, run)
        known_status: str | None = None
        if found is None:
            hubspot = self._hubspot(request.portal_id)
            deal = calls.run({"deal": lambda: hubspot.get_object(
                "deals", request.object_id,
                [properties.DOCUMENT_TYPE, properties.DOCUMENT_NUMBER, properties.DOCUMENT_STATUS])})["deal"]
            if not self._readable(deal, draft, "HubSpot", "the deal's Fortnox document"):
                return
            if not deal.ok:
                # Whether the deal has a document is unknown: offering to create one could duplicate it.
                self._deal_actions(request, draft, run, has_document=None)
                return
            record: CrmObject = deal.value
            kind, number = record.prop(properties.DOCUMENT_TYPE), record.prop(properties.DOCUMENT_NUMBER)
            known_status = record.prop(properties.DOCUMENT_STATUS)
            found = (kind, number) if kind in _DOCUMENT_TYPES and number else None
        if found is not None:
            draft.body["document"] = self._document(request, draft, calls, found, known_status)
        self._deal_actions(request, draft, run, has_document=found is not None)

    def _linked_document(self, request: CardRequest, run: Run | None) -> tuple[str, str] | None:
        """The newest document hubnox recorded for the deal, from its deal links."""
        keys = [run.trigger_key] if run is not None and run.trigger_key else []
        keys += [trigger_key(rule, kind) for rule in _LINK_RULES for kind in _DOCUMENT_TYPES]
        links = [self._deal_links.get(request.portal_id, request.object_id, key) for key in dict.fromkeys(keys)]
        documented = [link for link in links if link is not None and link.document_number and link.document_type]
        if not documented:
            return None
        newest = max(documented, key=lambda link: link.documented_at or 0)
        return str(newest.document_type), str(newest.document_number)

    def _document(self, request: CardRequest, draft: CardDraft, calls: RemoteCalls, found: tuple[str, str],
                  known_status: str | None) -> dict[str, Any]:
        kind, number = DocumentKind(found[0]), found[1]
        document: dict[str, Any] = {"type": kind.value, "number": number, "status": known_status,
                                    "url": FORTNOX_WEB_APP_URL}

        client = self._fortnox(request.portal_id)

        def read() -> Invoice | Order:
            return client.get_invoice(number) if kind is DocumentKind.INVOICE else client.get_order(number)

        outcome = calls.run({"document": read})["document"]
        if isinstance(outcome.error, NotFoundError):
            draft.note(f"Fortnox has no {kind.value} {number} any more.")
            document["status"] = "missing"
            return document
        if not self._readable(outcome, draft, "Fortnox", f"the {kind.value}"):
            return document
        if outcome.late:
            return document
        record: Invoice | Order = outcome.value
        document.update({
            "status": invoice_status(record) if isinstance(record, Invoice) else order_status(record),
            "customerNumber": record.customer_number, "customerName": record.customer_name,
            "currency": record.currency, "total": _money(record.total),
            "balance": _money(record.balance) if isinstance(record, Invoice) else None,
            "dueDate": record.due_date.isoformat() if isinstance(record, Invoice) and record.due_date else None,
            "invoiceNumber": record.invoice_reference if isinstance(record, Order) else None,
        })
        return document

    def _deal_actions(self, request: CardRequest, draft: CardDraft, run: Run | None, *,
                      has_document: bool | None) -> None:
        """The deal's buttons; "Create invoice now" (or order, the portal's default) only when the
        deal surely has no document and no document run is under way."""
        actions: list[dict[str, Any]] = []
        under_way = run is not None and run.kind == "create_document" and run.status in _IN_FLIGHT
        if has_document is False and not under_way:
            document_type = self.default_document_type(request.portal_id)
            actions.append({"action": "create-document", "label": f"Create {document_type} now",
                            "documentType": document_type})
        actions.append({"action": "open-settings", "label": "hubnox settings"})
        draft.body["actions"] = actions

    # -- companies and contacts ----------------------------------------------------------------

    def _customer(self, request: CardRequest, draft: CardDraft, calls: RemoteCalls) -> None:
        run = self._runs.latest_for_object(request.portal_id, request.object_type, request.object_id)
        draft.body["lastRun"] = self._run_json(run)
        sync_action = {"action": "update-customer", "label": "Update Fortnox customer"}
        draft.body["actions"] = [sync_action, {"action": "open-settings", "label": "hubnox settings"}]
        number = self._customer_number(request, draft, calls)
        if number is None:
            if draft.body["state"] == "ready" and not draft.notes:
                _state(draft, "no_customer", f"This {request.object_type} is not matched to a Fortnox customer yet.")
                sync_action["label"] = "Create or match Fortnox customer"
            draft.body["customer"] = None
            return
        customer: dict[str, Any] = {"number": number, "name": None, "url": FORTNOX_WEB_APP_URL}
        draft.body["customer"] = customer
        fortnox = self._fortnox(request.portal_id)
        outcomes = calls.run({
            "customer": lambda: fortnox.get_customer(number),
            "unpaid": lambda: fortnox.list_invoices(number, "unpaid"),
            "overdue": lambda: fortnox.list_invoices(number, "unpaidoverdue"),
            "all": lambda: fortnox.list_invoices(number),
        })
        if isinstance(outcomes["customer"].error, NotFoundError):
            draft.body["customer"] = None
            _state(draft, "no_customer", f"Fortnox has no customer {number}, the number this {request.object_type} "
                                         "names. Update the Fortnox customer to match it again.")
            return
        if not all(self._readable(outcome, draft, "Fortnox", "the customer") for outcome in outcomes.values()):
            return
        if outcomes["customer"].ok:
            found: FortnoxCustomer = outcomes["customer"].value
            customer.update({"name": found.name, "email": found.email, "organisationNumber": found.organisation_number,
                             "currency": found.currency})
        if outcomes["unpaid"].ok:
            unpaid: list[Invoice] = outcomes["unpaid"].value
            customer.update({"outstanding": _totals_by_currency(unpaid), "unpaidCount": len(unpaid)})
        if outcomes["overdue"].ok:
            overdue: list[Invoice] = outcomes["overdue"].value
            customer.update({"overdue": _totals_by_currency(overdue), "overdueCount": len(overdue)})
        if outcomes["all"].ok:
            today = datetime.fromtimestamp(self._clock(), UTC).date()
            latest = sorted(outcomes["all"].value, key=_latest_first, reverse=True)[:LATEST_INVOICES]
            customer["invoices"] = [_invoice_row(invoice, today) for invoice in latest]

    def _customer_number(self, request: CardRequest, draft: CardDraft, calls: RemoteCalls) -> str | None:
        """The record's Fortnox customer number: its property, else the portal's match rule."""
        names = [properties.CUSTOMER_NUMBER, "name", "email", "firstname", "lastname"]
        hubspot = self._hubspot(request.portal_id)
        record = calls.run({"record": lambda: hubspot.get_object(request.object_type, request.object_id,
                                                                 names)})["record"]
        if not self._readable(record, draft, "HubSpot", f"the {request.object_type}") or record.late:
            return None
        found: CrmObject = record.value
        number = found.prop(properties.CUSTOMER_NUMBER)
        if number or self._match is None:
            return number
        match = self._match
        matched = calls.run({"match": lambda: match(request.portal_id, request.object_type, found)})["match"]
        if not self._readable(matched, draft, "Fortnox", "the matching customer"):
            return None
        return str(matched.value) if matched.ok and matched.value else None

    # -- outcomes ------------------------------------------------------------------------------

    def _readable(self, outcome: Outcome, draft: CardDraft, system: str, what: str) -> bool:
        """Whether the card can go on after `outcome`; sets the state or a note when it cannot use it.

        Late and passing failures become notes (a partial card); a broken connection or a missing
        record becomes the card's state and stops the building (False).
        """
        if outcome.late:
            draft.note(f"{system} did not answer within {self._budget:g} seconds, so {what} is not shown. "
                       "Reload the card in a minute.")
            return True
        error = outcome.error
        if error is None:
            return True
        if isinstance(error, ConnectionBrokenError):
            state: CardState = "fortnox_broken" if error.system == "Fortnox" else "hubspot_broken"
            _state(draft, state, error.message + (f" {error.hint}" if error.hint else ""))
            return False
        if isinstance(error, NotFoundError) and system == "HubSpot":
            _state(draft, "not_found", f"HubSpot has no {draft.body['objectType']} {draft.body['objectId']}.")
            return False
        if isinstance(error, TransientError):
            draft.note(f"{system} is busy ({error.message}), so {what} is not shown. Reload the card in a minute.")
            return True
        if isinstance(error, UserFixableError):
            draft.note(f"{system} refused to show {what}: {error.message}" + (f" {error.hint}" if error.hint else ""))
            return True
        draft.note(f"{what[:1].upper()}{what[1:]} could not be shown: {error.message}")
        return True


def _ttl(card: Mapping[str, Any]) -> float:
    """How long a card may be served from the cache (see the module docstring)."""
    last_run = card.get("lastRun") or {}
    if last_run.get("status") in _IN_FLIGHT:
        return IN_FLIGHT_TTL_SECONDS
    if card["partial"] or card["state"] != "ready":
        return PARTIAL_TTL_SECONDS
    return CARD_TTL_SECONDS


def _state(draft: CardDraft, state: CardState, message: str, **extra: Any) -> bool:
    draft.body.update({"state": state, "message": message, **extra})
    return False


def _invoice_row(invoice: Invoice, today: date) -> dict[str, Any]:
    return {
        "number": invoice.document_number, "status": payment_status(invoice, today),
        "invoiceDate": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
        "dueDate": invoice.due_date.isoformat() if invoice.due_date else None,
        "total": _money(invoice.total), "balance": _money(invoice.balance), "currency": invoice.currency,
    }


# -- actions -----------------------------------------------------------------------------------------

NOT_THE_ADMIN = ("Only the HubSpot user who installed hubnox can open its settings. Ask them, or install "
                 "hubnox again yourself as a super admin.")

CardAction = Literal["update-customer", "create-document", "open-settings"]
CARD_ACTIONS: tuple[CardAction, ...] = ("update-customer", "create-document", "open-settings")


class CardActions:
    """The card's buttons: enqueue a customer sync or a document, or hand out a settings link."""

    def __init__(self, *, cards: CardService, connections: Connections, runs: RunHistory, deal_links: DealLinks,
                 submit: Submit) -> None:
        self._cards = cards
        self._connections = connections
        self._runs = runs
        self._deal_links = deal_links
        self._submit = submit

    def perform(self, action: str, request: CardRequest, body: Mapping[str, Any]) -> dict[str, Any]:
        """Carry out one card action and answer JSON the card shows (`ok`, `message`, and `runId` or `url`).

        Raises `NotFoundError` for an unknown action, `BadRequestError` for an action on the wrong
        kind of record, and `ConnectionBrokenError` when hubnox or Fortnox is not connected.
        """
        if action == "open-settings":
            link = self._cards.settings_link(request)
            if link is None:
                return {"ok": False, "message": NOT_THE_ADMIN}
            return {"ok": True, "message": "Opening the hubnox settings.", "url": link}
        if action not in CARD_ACTIONS:
            raise NotFoundError(f"The app card has no action {action!r}.", code="UNKNOWN_ACTION")
        self._require_connections(request.portal_id)
        answer = (self._create_document(request, body) if action == "create-document"
                  else self._update_customer(request))
        self._cards.forget(request)
        return answer

    def _require_connections(self, portal_id: str) -> None:
        hubspot = self._connections.get_hubspot(portal_id)
        if hubspot is None or hubspot.status != "active":
            raise ConnectionBrokenError("HubSpot", "hubnox is not installed in this HubSpot portal.")
        fortnox = self._connections.get_fortnox(portal_id)
        if fortnox is None or fortnox.status != "active":
            raise ConnectionBrokenError("Fortnox", "This HubSpot portal has no working Fortnox connection.")

    def _create_document(self, request: CardRequest, body: Mapping[str, Any]) -> dict[str, Any]:
        if request.object_type != "deal":
            raise BadRequestError("Documents are made from deals; open the card on a deal.", code="NOT_A_DEAL")
        document_type = str(body.get("documentType") or self._cards.default_document_type(request.portal_id))
        document_type = document_type.strip().lower()
        if document_type not in _DOCUMENT_TYPES:
            raise BadRequestError(f"A document is an invoice or an order, not {document_type!r}.",
                                  code="BAD_DOCUMENT_TYPE")
        key = trigger_key("manual", document_type)
        existing = self._deal_links.get(request.portal_id, request.object_id, key)
        if existing is not None and existing.document_number:
            raise UserFixableError(f"This deal already has Fortnox {existing.document_type} "
                                   f"{existing.document_number}.", code="ALREADY_EXISTS")
        latest = self._runs.latest_for_object(request.portal_id, "deal", request.object_id)
        if latest is not None and latest.kind == "create_document" and latest.status in _IN_FLIGHT:
            return {"ok": True, "runId": latest.run_id, "status": latest.status,
                    "message": f"A Fortnox {latest.document_type or 'document'} for this deal is already on its way."}
        run = self._submit(RunRequest(portal_id=request.portal_id, kind="create_document", trigger="card",
                                      object_type="deal", object_id=request.object_id,
                                      document_type=document_type, trigger_key=key))
        return {"ok": True, "runId": run.run_id, "status": run.status,
                "message": f"The Fortnox {document_type} is being created; it shows here in a minute."}

    def _update_customer(self, request: CardRequest) -> dict[str, Any]:
        if request.object_type == "deal":
            raise BadRequestError("Customers are synced from companies and contacts; open the card on one.",
                                  code="NOT_A_CUSTOMER")
        run = self._submit(RunRequest(portal_id=request.portal_id, kind="sync_customer", trigger="card",
                                      object_type=request.object_type, object_id=request.object_id))
        return {"ok": True, "runId": run.run_id, "status": run.status,
                "message": "The Fortnox customer is being updated; it shows here in a minute."}
