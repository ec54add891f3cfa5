"""`CardService`: builds a record's card from the stored connections, runs and deal links and the remote readers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from hubnox.errors import BadRequestError, ConnectionBrokenError, NotFoundError, TransientError, UserFixableError
from hubnox.fortnox.health import ConnectionHealth
from hubnox.fortnox.models import DocumentKind, FortnoxCustomer, Invoice, Order
from hubnox.fortnox.scopes import RECONNECT_FOR_PAYMENTS, lacks_payment_scope
from hubnox.fortnox.statuses import invoice_status, order_status
from hubnox.hubspot import properties
from hubnox.hubspot.models import CrmObject, parse_decimal
from hubnox.jobs import DocumentType, ObjectType, trigger_key
from hubnox.links import replay_url
from hubnox.records import Run
from hubnox.services.card.cache import CARD_TTL_SECONDS, IN_FLIGHT_TTL_SECONDS, PARTIAL_TTL_SECONDS, CacheKey, CardCache
from hubnox.services.card.deadline import REMOTE_BUDGET_SECONDS, Outcome, RemoteCalls
from hubnox.services.card.invoices import invoice_row, latest_first, money, money_text, totals_by_currency
from hubnox.services.card.ports import CrmReader, CustomerMatcher, FortnoxReader
from hubnox.services.card.request import CardRequest
from hubnox.signing import Signer
from hubnox.sync.ports import Connections, DealLinks, RunHistory
from hubnox.web.session import login_link

LATEST_INVOICES = 5
#: HubSpot's type id for a contact's primary company
CONTACT_TO_PRIMARY_COMPANY = 1
_RECORD_PROPERTIES = (properties.CUSTOMER_NUMBER, "name", "email", "firstname", "lastname",
                      *properties.CUSTOMER_AGGREGATE_PROPERTY_NAMES)
#: what the card reads of a deal, in one call: its document and what the status sync keeps of it
_DEAL_PROPERTIES = (properties.DOCUMENT_TYPE, properties.DOCUMENT_NUMBER, properties.CUSTOMER_NUMBER,
                    *properties.STATUS_DEAL_PROPERTY_NAMES)
FORTNOX_WEB_APP_URL = "https://apps.fortnox.se"
DEFAULT_DOCUMENT_TYPE: DocumentType = "invoice"

CardState = Literal["ready", "not_installed", "hubspot_broken", "fortnox_not_connected", "fortnox_broken",
                    "not_found", "no_customer"]

DOCUMENT_TYPES: tuple[DocumentType, ...] = ("invoice", "order")
#: the trigger rules whose deal links the card looks at (stage rules are found through the last run)
_LINK_RULES = ("workflow", "manual")
IN_FLIGHT = ("queued", "running")
NOT_THE_ADMIN = ("Only super admins of this HubSpot account can change hubnox's settings. Ask one of them, "
                 "or ask to be made a super admin.")


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat().replace("+00:00", "Z")


@dataclass
class CardDraft:
    """A card being built: the JSON so far and whether a remote part is missing."""

    body: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: the connection's health, when the card is for a connected portal and it could be checked
    health: ConnectionHealth | None = None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def finish(self) -> dict[str, Any]:
        return {**self.body, "partial": bool(self.notes), "notes": list(self.notes)}


class CardService:
    """Builds app cards (see `hubnox.services.card`) and caches them per container."""

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
        health: Callable[[str], ConnectionHealth | None] | None = None,
        super_admins: Callable[[str, str], bool] | None = None,
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
        self._cache = cache if cache is not None else CardCache(clock)
        self._health = health  # portal id -> what the Fortnox company lets hubnox use (checked, cached)
        self._super_admin = super_admins  # (portal id, user id) -> whether HubSpot says super admin

    # -- public --------------------------------------------------------------------------------

    def card(self, request: CardRequest) -> dict[str, Any]:
        """The card for one record: from the cache while fresh, else built within the time budget.

        Always a card, never an error for what the user can fix: states and notes say what is
        wrong. A settings link (reconnect) is made fresh for each answer, never cached.
        """
        key = self._key(request)
        now = self._clock()
        card = self._cache.get(key)
        if card is None:
            card = self._build(request)
            self._cache.put(key, card, _ttl(card), since=now)
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
        viewer is neither the HubSpot user who installed hubnox nor a super admin of the portal: the
        settings can disconnect Fortnox and change what every invoice looks like, so seeing a
        record is not enough. (The sign-in checks again, live.)"""
        hubspot = self._connections.get_hubspot(request.portal_id)
        if hubspot is None or not request.user_id:
            return None
        installer = str(hubspot.installed_by_user or "")
        if str(request.user_id) != installer and not (
                self._super_admin is not None and self._super_admin(request.portal_id, str(request.user_id))):
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
        health = self._health(request.portal_id) if self._health is not None else None
        draft.body["fortnoxWarnings"] = health.warnings() if health is not None else []
        if lacks_payment_scope(fortnox.scopes) and RECONNECT_FOR_PAYMENTS not in draft.body["fortnoxWarnings"]:
            draft.body["fortnoxWarnings"].append(RECONNECT_FOR_PAYMENTS)
        draft.health = health
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
        """The deal's document: what the status sync keeps on the deal when it has synced it (one
        HubSpot read, no Fortnox call), else Fortnox's answer. The deal is read once, for both its
        document properties and the synced state, whether or not a deal link names the document."""
        run = self._runs.latest_for_object(request.portal_id, "deal", request.object_id)
        draft.body["lastRun"] = self._run_json(run)
        draft.body["document"] = None
        found = self._linked_document(request, run)
        hubspot = self._hubspot(request.portal_id)
        deal = calls.run({"deal": lambda: hubspot.get_object("deals", request.object_id, _DEAL_PROPERTIES)})["deal"]
        if not self._readable(deal, draft, "HubSpot", "the deal's Fortnox document"):
            return
        record: CrmObject | None = deal.value if deal.ok else None
        if found is None:
            if record is None:
                # Whether the deal has a document is unknown: offering to create one could duplicate it.
                self._deal_actions(request, draft, run, has_document=None)
                return
            kind, number = record.prop(properties.DOCUMENT_TYPE), record.prop(properties.DOCUMENT_NUMBER)
            found = (kind, number) if kind in DOCUMENT_TYPES and number else None
        if found is not None:
            synced = _synced_document(record, found)
            if synced is not None:
                draft.body["document"] = synced
            else:
                known = record.prop(properties.DOCUMENT_STATUS) if record is not None else None
                draft.body["document"] = self._document(request, draft, calls, found, known)
        self._deal_actions(request, draft, run, has_document=found is not None)

    def _linked_document(self, request: CardRequest, run: Run | None) -> tuple[str, str] | None:
        """The newest document hubnox recorded for the deal, from its deal links."""
        keys = [run.trigger_key] if run is not None and run.trigger_key else []
        keys += [trigger_key(rule, kind) for rule in _LINK_RULES for kind in DOCUMENT_TYPES]
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
                                    "url": FORTNOX_WEB_APP_URL, "source": "fortnox", "syncedAt": None}

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
            "currency": record.currency, "total": money(record.total),
            "balance": money(record.balance) if isinstance(record, Invoice) else None,
            "totalText": money_text(record.total, record.currency),
            "balanceText": money_text(record.balance, record.currency) if isinstance(record, Invoice) else None,
            "dueDate": record.due_date.isoformat() if isinstance(record, Invoice) and record.due_date else None,
            "invoiceNumber": record.invoice_reference if isinstance(record, Order) else None,
        })
        return document

    def _deal_actions(self, request: CardRequest, draft: CardDraft, run: Run | None, *,
                      has_document: bool | None) -> None:
        """The deal's buttons; "Create invoice now" (or order, the portal's default) only when the
        deal surely has no document and no document run is under way."""
        actions: list[dict[str, Any]] = []
        under_way = run is not None and run.kind == "create_document" and run.status in IN_FLIGHT
        if has_document is False and not under_way:
            document_type = self.default_document_type(request.portal_id)
            action: dict[str, Any] = {"action": "create-document", "label": f"Create {document_type} now",
                                      "documentType": document_type}
            if draft.health is not None and not draft.health.works(document_type):
                problem = draft.health.feature(document_type)
                action.update({"label": f"Create {document_type} now (not available)", "disabled": True,
                               "disabledReason": problem.message if problem else ""})
            actions.append(action)
        actions.append({"action": "open-settings", "label": "hubnox settings"})
        draft.body["actions"] = actions

    # -- companies and contacts ----------------------------------------------------------------

    def _customer(self, request: CardRequest, draft: CardDraft, calls: RemoteCalls) -> None:
        run = self._runs.latest_for_object(request.portal_id, request.object_type, request.object_id)
        draft.body["lastRun"] = self._run_json(run)
        sync_action = {"action": "update-customer", "label": "Update Fortnox customer"}
        draft.body["actions"] = [sync_action, {"action": "open-settings", "label": "hubnox settings"}]
        number, via, holder = self._customer_number(request, draft, calls)
        if number is None:
            if draft.body["state"] == "ready" and not draft.notes:
                _state(draft, "no_customer", f"This {request.object_type} is not matched to a Fortnox customer yet.")
                sync_action["label"] = "Create or match Fortnox customer"
            draft.body["customer"] = None
            return
        customer: dict[str, Any] = {"number": number, "name": None, "url": FORTNOX_WEB_APP_URL}
        if via is not None:
            # The contact is no customer itself: the card shows its company's, and the button makes its own.
            customer["via"] = via
            sync_action["label"] = "Create or match the contact's own Fortnox customer"
        draft.body["customer"] = customer
        fortnox = self._fortnox(request.portal_id)
        # The status sync keeps the customer's totals on the record: then Fortnox is asked for the
        # customer and, only while something is unpaid, its latest invoices (2 calls at most, not 4).
        aggregates = _customer_aggregates(holder)
        reads: dict[str, Callable[[], Any]] = {"customer": lambda: fortnox.get_customer(number)}
        if aggregates is None:
            reads["unpaid"] = lambda: fortnox.list_invoices(number, "unpaid")
            reads["overdue"] = lambda: fortnox.list_invoices(number, "unpaidoverdue")
        if aggregates is None or aggregates["unpaidCount"] > 0:
            reads["all"] = lambda: fortnox.list_invoices(number)
        outcomes = calls.run(reads)
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
        if aggregates is not None:
            customer.update(aggregates)
        if "unpaid" in outcomes and outcomes["unpaid"].ok:
            unpaid: list[Invoice] = outcomes["unpaid"].value
            customer.update({"outstanding": totals_by_currency(unpaid), "unpaidCount": len(unpaid),
                             "source": "fortnox"})
        if "overdue" in outcomes and outcomes["overdue"].ok:
            overdue: list[Invoice] = outcomes["overdue"].value
            customer.update({"overdue": totals_by_currency(overdue), "overdueCount": len(overdue)})
        if "all" in outcomes and outcomes["all"].ok:
            today = datetime.fromtimestamp(self._clock(), UTC).date()
            latest = sorted(outcomes["all"].value, key=latest_first, reverse=True)[:LATEST_INVOICES]
            customer["invoices"] = [invoice_row(invoice, today) for invoice in latest]

    def _customer_number(self, request: CardRequest, draft: CardDraft, calls: RemoteCalls
                         ) -> tuple[str | None, dict[str, Any] | None, CrmObject | None]:
        """The record's Fortnox customer number: its property, else the portal's match rule; for a
        contact that is no customer itself, its company's (with the company, as `via`). Also the
        record read that holds the customer's totals (the company's, for such a contact)."""
        hubspot = self._hubspot(request.portal_id)
        linked = ("companies",) if request.object_type == "contact" else ()
        record = calls.run({"record": lambda: hubspot.get_object(request.object_type, request.object_id,
                                                                 _RECORD_PROPERTIES, linked)})["record"]
        if not self._readable(record, draft, "HubSpot", f"the {request.object_type}") or record.late:
            return None, None, None
        found: CrmObject = record.value
        number = self._number_of(request, "company" if request.object_type == "company" else "contact", found,
                                 draft, calls)
        if number is not None or request.object_type != "contact":
            # A number found by the match rule is not on the record yet, and neither are its totals.
            holder = found if number is not None and found.prop(properties.CUSTOMER_NUMBER) == number else None
            return number, None, holder
        return self._company_customer(request, found, draft, calls)

    def _number_of(self, request: CardRequest, object_type: ObjectType, found: CrmObject, draft: CardDraft,
                   calls: RemoteCalls) -> str | None:
        number = found.prop(properties.CUSTOMER_NUMBER)
        if number or self._match is None:
            return number
        match = self._match
        matched = calls.run({"match": lambda: match(request.portal_id, object_type, found)})["match"]
        if not self._readable(matched, draft, "Fortnox", "the matching customer"):
            return None
        return str(matched.value) if matched.ok and matched.value else None

    def _company_customer(self, request: CardRequest, contact: CrmObject, draft: CardDraft, calls: RemoteCalls
                          ) -> tuple[str | None, dict[str, Any] | None, CrmObject | None]:
        """The customer of the contact's company: its primary company (HubSpot's type 1), else the first."""
        company_ids = contact.associated("companies")
        if not company_ids:
            return None, None, None
        hubspot = self._hubspot(request.portal_id)
        company_id = company_ids[0]
        if len(company_ids) > 1:
            primary = calls.run({"primary": lambda: hubspot.associations("contacts", contact.id, "companies")})
            if primary["primary"].ok:
                company_id = next((linked.id for linked in primary["primary"].value
                                   if CONTACT_TO_PRIMARY_COMPANY in linked.type_ids), company_id)
        outcome = calls.run({"company": lambda: hubspot.get_object("company", company_id, _RECORD_PROPERTIES)})
        read = outcome["company"]
        if not read.ok:
            if not isinstance(read.error, NotFoundError):
                self._readable(read, draft, "HubSpot", "the contact's company")
            return None, None, None
        company: CrmObject = read.value
        number = self._number_of(request, "company", company, draft, calls)
        if number is None:
            return None, None, None
        holder = company if company.prop(properties.CUSTOMER_NUMBER) == number else None
        return number, {"objectType": "company", "objectId": company.id, "name": company.prop("name")}, holder

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


def _synced_document(deal: CrmObject | None, found: tuple[str, str]) -> dict[str, Any] | None:
    """The document as the status sync keeps it on the deal, or None when the sync has not written
    it (no `fortnox_status_synced_at`) or the deal's properties name another document than `found`
    (a newer one the sync has not seen yet): then Fortnox is asked."""
    if deal is None or not deal.prop(properties.STATUS_SYNCED_AT):
        return None
    kind, number = found
    if deal.prop(properties.DOCUMENT_TYPE) != kind or deal.prop(properties.DOCUMENT_NUMBER) != number:
        return None
    currency = deal.prop(properties.DOCUMENT_CURRENCY)
    total = _decimal(deal, properties.DOCUMENT_TOTAL)
    balance = _decimal(deal, properties.DOCUMENT_BALANCE) if kind == "invoice" else None
    return {
        "type": kind, "number": number, "status": deal.prop(properties.DOCUMENT_STATUS),
        "url": FORTNOX_WEB_APP_URL, "source": "hubspot",
        "syncedAt": _hubspot_datetime(deal.prop(properties.STATUS_SYNCED_AT)),
        "customerNumber": deal.prop(properties.CUSTOMER_NUMBER), "customerName": None,
        "currency": currency, "total": money(total), "balance": money(balance),
        "totalText": money_text(total, currency), "balanceText": money_text(balance, currency),
        "dueDate": _hubspot_date(deal.prop(properties.DOCUMENT_DUE_DATE)),
        "finalPayDate": _hubspot_date(deal.prop(properties.DOCUMENT_FINAL_PAY_DATE)),
        "creditInvoiceNumber": deal.prop(properties.CREDIT_INVOICE_NUMBER),
        "invoiceNumber": None,
    }


def _customer_aggregates(record: CrmObject | None) -> dict[str, Any] | None:
    """The customer's totals as the status sync keeps them on the company or contact (in SEK), in
    the card's shapes; None when the sync has not written them yet."""
    if record is None:
        return None
    unpaid = _decimal(record, properties.UNPAID_INVOICES)
    if unpaid is None:
        return None
    outstanding = _decimal(record, properties.OUTSTANDING_BALANCE) or Decimal(0)
    overdue = _decimal(record, properties.OVERDUE_AMOUNT) or Decimal(0)
    overdue_count = _decimal(record, properties.OVERDUE_INVOICES) or Decimal(0)
    return {
        "outstanding": _sek(outstanding) if unpaid else [], "unpaidCount": int(unpaid),
        "overdue": _sek(overdue) if overdue_count else [], "overdueCount": int(overdue_count),
        "lastPaymentDate": _hubspot_date(record.prop(properties.LAST_PAYMENT_DATE)),
        "source": "hubspot",
    }


def _sek(amount: Decimal) -> list[dict[str, str]]:
    return [{"currency": "SEK", "amount": format(amount, "f"), "text": money_text(amount, "SEK") or ""}]


def _decimal(record: CrmObject, name: str) -> Decimal | None:
    """A number property, or None when it is empty or not a number (an admin may have typed in it)."""
    try:
        return parse_decimal(record.prop(name), name=name)
    except BadRequestError:
        return None


def _hubspot_date(value: str | None) -> str | None:
    """A HubSpot date property as `YYYY-MM-DD` (HubSpot answers dates so, or as midnight UTC)."""
    if not value:
        return None
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC).date().isoformat()
    return value[:10]


def _hubspot_datetime(value: str | None) -> str | None:
    """A HubSpot datetime property as ISO 8601 in UTC (HubSpot answers ISO text or epoch milliseconds)."""
    if not value:
        return None
    return _iso(int(value) / 1000) if value.isdigit() else value


def _ttl(card: Mapping[str, Any]) -> float:
    """How long a card may be served from the cache (see `hubnox.services.card`)."""
    last_run = card.get("lastRun") or {}
    if last_run.get("status") in IN_FLIGHT:
        return IN_FLIGHT_TTL_SECONDS
    if card["partial"] or card["state"] != "ready":
        return PARTIAL_TTL_SECONDS
    return CARD_TTL_SECONDS


def _state(draft: CardDraft, state: CardState, message: str, **extra: Any) -> bool:
    draft.body.update({"state": state, "message": message, **extra})
    return False
