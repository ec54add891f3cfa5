"""`CardService`: builds a record's card from the stored connections, runs and deal links and the remote readers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from hubnox.errors import ConnectionBrokenError, NotFoundError, TransientError, UserFixableError
from hubnox.fortnox.health import ConnectionHealth
from hubnox.fortnox.models import DocumentKind, FortnoxCustomer, Invoice, Order
from hubnox.fortnox.statuses import invoice_status, order_status
from hubnox.hubspot import properties
from hubnox.hubspot.models import CrmObject
from hubnox.jobs import DocumentType, trigger_key
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
FORTNOX_WEB_APP_URL = "https://apps.fortnox.se"
DEFAULT_DOCUMENT_TYPE: DocumentType = "invoice"

CardState = Literal["ready", "not_installed", "hubspot_broken", "fortnox_not_connected", "fortnox_broken",
                    "not_found", "no_customer"]

DOCUMENT_TYPES: tuple[DocumentType, ...] = ("invoice", "order")
#: the trigger rules whose deal links the card looks at (stage rules are found through the last run)
_LINK_RULES = ("workflow", "manual")
IN_FLIGHT = ("queued", "running")
NOT_THE_ADMIN = ("Only the HubSpot user who installed hubnox can open its settings. Ask them, or install "
                 "hubnox again yourself as a super admin.")


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
        health = self._health(request.portal_id) if self._health is not None else None
        draft.body["fortnoxWarnings"] = health.warnings() if health is not None else []
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
            found = (kind, number) if kind in DOCUMENT_TYPES and number else None
        if found is not None:
            draft.body["document"] = self._document(request, draft, calls, found, known_status)
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
            customer.update({"outstanding": totals_by_currency(unpaid), "unpaidCount": len(unpaid)})
        if outcomes["overdue"].ok:
            overdue: list[Invoice] = outcomes["overdue"].value
            customer.update({"overdue": totals_by_currency(overdue), "overdueCount": len(overdue)})
        if outcomes["all"].ok:
            today = datetime.fromtimestamp(self._clock(), UTC).date()
            latest = sorted(outcomes["all"].value, key=latest_first, reverse=True)[:LATEST_INVOICES]
            customer["invoices"] = [invoice_row(invoice, today) for invoice in latest]

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
