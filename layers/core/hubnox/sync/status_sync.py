"""Back from Fortnox: what became of each document hubnox made, on its deal, and each customer's totals.

One status message (`hubnox.sync.status_fanout.StatusMessage`) syncs one portal, under the lease
`status:<portal>` so two messages for a portal never run at once. A cycle:

1. upgrades hubnox's HubSpot properties when the install predates them (`upgrade`, injected);
2. reads from the cursor minus two minutes (Fortnox does not document the time zone or granularity of
   `lastmodified`, so the overlap covers both); a portal's first cycle starts at its oldest recorded
   document, at most 30 days back;
3. reads the invoices, orders and invoice payments changed since then, three calls when little changed
   (500 a page). Without the `payment` scope Fortnox answers 403: payments are skipped, each invoice's
   own `Balance` and `FinalPayDate` still tell paid from unpaid, and the outcome carries the warning;
4. at most once an hour reads every unpaid overdue invoice (`filter=unpaidoverdue`), because an invoice
   falls overdue without being modified;
5. maps each document to its deal by `ExternalInvoiceReference1` (where hubnox writes the deal id) and
   follows it only when hubnox already tracks it (a snapshot) or the deal's links name it, so documents
   hubnox did not make never touch a deal. An order that became an invoice hands its deal to the invoice;
6. compares the deal values with the snapshot of what was last written and sends only the changed ones,
   100 deals a batch update, each stamped `fortnox_status_synced_at`;
7. for each customer with a change (an invoice of theirs changed, a payment of theirs, or a different
   overdue count in the sweep) reads their unpaid invoices once, computes the totals in SEK, and writes
   the changed totals to the companies and contacts with that `fortnox_customer_number` (one search per
   object type and 100 customers, batch updates of 100);
8. with `status_timeline_notes` on, adds a short note to each deal whose document changed state;
9. saves the snapshots, then the cursor. A deal HubSpot refused keeps its old snapshot and holds the
   cursor, so the next cycle tries it again; one short of time saves what it wrote and continues in a
   new message, which re-reads from the same cursor and finds the written deals unchanged.

A quiet cycle thus costs three Fortnox calls (four in the hour's sweep) and no HubSpot call.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from hubnox.errors import ConnectionBrokenError, HubnoxError
from hubnox.fortnox.errors import FortnoxError, FortnoxNotFoundError
from hubnox.fortnox.health import NO_LICENCE_CODES, NO_SCOPE_CODES
from hubnox.fortnox.models import Invoice, InvoicePayment, Order
from hubnox.hubspot import paths
from hubnox.observability import logger
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.ports import Cursors, DealLinkReads, DocumentStates, FortnoxStatusReads, HubSpotStatusWrites, Leases
from hubnox.sync.status_fanout import StatusMessage
from hubnox.sync.status_model import (
    CUSTOMER_NUMBER_PROPERTY,
    LAST_PAYMENT_DATE,
    OVERDUE_INVOICES,
    SYNCED_AT,
    CustomerSnapshot,
    DocumentKey,
    DocumentSnapshot,
    changed_values,
    customer_aggregate,
    deal_values,
    document_state,
    stockholm_minute,
    stockholm_today,
)

CURSOR_NAME = "fortnox_status"
#: a cycle's lease outlives the poller's 60 s timeout, so a crashed cycle frees its portal soon after
LEASE_SECONDS = 90.0
#: how far before the cursor each read starts
OVERLAP = timedelta(minutes=2)
#: how far back a portal's first cycle reads at most
FIRST_LOOKBACK_SECONDS = 30 * 86_400
#: how often the overdue sweep runs
SWEEP_EVERY_SECONDS = 3_600.0
#: HubSpot's batch update and search `IN` take at most 100 inputs
BATCH_SIZE = 100
#: more documents than this to check against their deals' links: read all of the portal's links at once
LINKS_READ_AT_ONCE = 20
#: time kept back from the Lambda timeout for the snapshots, the cursor and the continuation message
RESERVE_SECONDS = 10.0
#: the objects a Fortnox customer's totals are written to
CUSTOMER_OBJECTS = (paths.COMPANIES, paths.CONTACTS)
#: the warning a cycle without the `payment` scope records
PAYMENTS_NOT_GRANTED = "PAYMENTS_NOT_GRANTED"
#: the company has no licence (or the connection no scope) for orders or invoices: that kind is skipped
ORDERS_NOT_AVAILABLE = "ORDERS_NOT_AVAILABLE"
INVOICES_NOT_AVAILABLE = "INVOICES_NOT_AVAILABLE"
#: Fortnox's codes for "no licence for this" and "the token lacks the scope" (`hubnox.fortnox.health`)
REFUSED_FOR_ACCESS = NO_LICENCE_CODES | NO_SCOPE_CODES

_T = TypeVar("_T")
#: the most fingerprints the cursor keeps; past that the next cycle recomputes what it reads again
MAX_SEEN = 2_000
_CURSOR_FORMAT = "%Y-%m-%d %H:%M"


@dataclass
class StatusOutcome:
    """What one status message did."""

    portal_id: str
    #: another cycle of the portal held its lease: this message did nothing
    busy: bool = False
    #: why the portal was not synced (no working Fortnox connection), else None
    skipped: str | None = None
    continuation: StatusMessage | None = None
    since: str | None = None
    #: the cursor stored at the end, None when it stayed
    cursor: str | None = None
    documents_read: int = 0
    documents_tracked: int = 0
    deals_updated: int = 0
    deals_missing: int = 0
    deals_failed: int = 0
    customers_changed: int = 0
    records_updated: int = 0
    notes: int = 0
    swept: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Tracked:
    kind: str
    number: str
    document: Invoice | Order
    deal_id: str
    snapshot: DocumentSnapshot | None


@dataclass(frozen=True)
class _Cursor:
    since: str | None = None
    overdue_swept_at: float = 0.0
    #: what the last cycle read: invoice ("i<number>") and payment ("p<number>") fingerprints, so the
    #: next cycle's overlap tells a document read again from one that changed again
    seen: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, stored: str | None) -> _Cursor:
        if not stored:
            return cls()
        try:
            data = json.loads(stored)
            since = data.get("since")
            datetime.strptime(since, _CURSOR_FORMAT)
            seen = data.get("seen") or {}
            return cls(since, float(data.get("overdue_swept_at") or 0),
                       {str(k): str(v) for k, v in seen.items()} if isinstance(seen, dict) else {})
        except (ValueError, TypeError, AttributeError):
            logger.warning("unreadable status cursor: the sync starts over", extra={"cursor": stored[:100]})
            return cls()

    def text(self) -> str:
        body: dict[str, object] = {"since": self.since, "overdue_swept_at": self.overdue_swept_at}
        if self.seen:
            body["seen"] = dict(self.seen)
        return json.dumps(body, separators=(",", ":"))


class StatusSync:
    """Brings one portal's Fortnox document states and customer totals to HubSpot for one status message."""

    def __init__(self, *, fortnox_for: Callable[[str], FortnoxStatusReads],
                 hubspot_for: Callable[[str], HubSpotStatusWrites], documents: DocumentStates,
                 deal_links: DealLinkReads, cursors: Cursors, leases: Leases,
                 settings_for: Callable[[str], PortalSettings], upgrade: Callable[[str], object],
                 clock: Callable[[], float], reserve_seconds: float = RESERVE_SECONDS) -> None:
        self._fortnox_for = fortnox_for
        self._hubspot_for = hubspot_for
        self._documents = documents
        self._links = deal_links
        self._cursors = cursors
        self._leases = leases
        self._settings_for = settings_for
        self._upgrade = upgrade
        self._clock = clock
        self._reserve = reserve_seconds

    def run(self, message: StatusMessage, owner: str,
            time_left: Callable[[], float] = lambda: float("inf")) -> StatusOutcome:
        """Sync `message`'s portal under its lease (held by `owner`, e.g. the SQS message id)."""
        lease = f"status:{message.portal_id}"
        if not self._leases.acquire(lease, owner, LEASE_SECONDS):
            logger.info("another status sync of the portal is running", extra={"portal_id": message.portal_id})
            return StatusOutcome(message.portal_id, busy=True)
        try:
            return _Cycle(self, message, time_left).run()
        finally:
            # Freed before the handler sends a continuation, so the continuation finds it free.
            self._leases.release(lease, owner)


class _Cycle:
    """One portal's cycle: the state shared by its steps."""

    def __init__(self, sync: StatusSync, message: StatusMessage, time_left: Callable[[], float]) -> None:
        self.sync = sync
        self.message = message
        self.portal_id = message.portal_id
        self.time_left = time_left
        self.now = sync._clock()
        self.today = stockholm_today(self.now)
        self.outcome = StatusOutcome(self.portal_id)
        self.invoices: dict[str, Invoice] = {}
        self.orders: dict[str, Order] = {}
        self.payments: list[InvoicePayment] = []
        self.customers: set[str] = set()
        self.links: dict[str, set[tuple[str, str]]] = {}
        self.all_links = False  # `links` holds every deal of the portal (read at once)
        self.hold_cursor = False
        self.seen_before: Mapping[str, str] = {}
        self.seen: dict[str, str] = {}

    def short_of_time(self) -> bool:
        if self.time_left() >= self.sync._reserve:
            return False
        self.outcome.continuation = StatusMessage(self.portal_id, self.message.hint)
        logger.info("status sync continues in the next message", extra={"portal_id": self.portal_id})
        return True

    def run(self) -> StatusOutcome:
        try:
            self.fortnox = self.sync._fortnox_for(self.portal_id)
        except ConnectionBrokenError as exc:
            self.outcome.skipped = str(exc)
            return self.outcome
        self.hubspot = self.sync._hubspot_for(self.portal_id)
        self.sync._upgrade(self.portal_id)
        cursor = _Cursor.read(self.sync._cursors.get(self.portal_id, CURSOR_NAME))
        self.seen_before = cursor.seen
        since = self.outcome.since = self._since(cursor)
        try:
            swept_at = self._read(since, cursor)
        except ConnectionBrokenError as exc:
            self.outcome.skipped = str(exc)
            return self.outcome
        tracked = self._track()
        self.outcome.documents_tracked = len(tracked)
        if self._deals(tracked) and self._customers():
            if self.hold_cursor:
                # Read it all again next cycle, as if for the first time: the refused writes are retried.
                next_cursor = _Cursor(cursor.since or since, swept_at, cursor.seen)
            else:
                seen = self.seen if len(self.seen) <= MAX_SEEN else {}
                next_cursor = _Cursor(stockholm_minute(self.now), swept_at, seen)
            self.sync._cursors.put(self.portal_id, CURSOR_NAME, next_cursor.text())
            self.outcome.cursor = next_cursor.text()
        logger.info("status sync done", extra={
            "portal_id": self.portal_id, "since": since, "documents": self.outcome.documents_read,
            "tracked": self.outcome.documents_tracked, "deals_updated": self.outcome.deals_updated,
            "customers_changed": self.outcome.customers_changed, "records_updated": self.outcome.records_updated,
            "continues": self.outcome.continuation is not None, "warnings": self.outcome.warnings})
        return self.outcome

    # -- steps 2 to 4: what changed in Fortnox ---------------------------------------------------

    def _since(self, cursor: _Cursor) -> str:
        if cursor.since is not None:
            start = datetime.strptime(cursor.since, _CURSOR_FORMAT) - OVERLAP
            return start.strftime(_CURSOR_FORMAT)
        oldest = self.sync._links.oldest_documented_at(self.portal_id)
        first = self.now if oldest is None else oldest
        return stockholm_minute(max(first, self.now - FIRST_LOOKBACK_SECONDS) - OVERLAP.total_seconds())

    def _read(self, since: str, cursor: _Cursor) -> float:
        """Read what changed; answers when the overdue sweep last ran."""
        fortnox = self.fortnox
        for invoice in self._unless_refused(fortnox.list_invoices_changed, since, INVOICES_NOT_AVAILABLE):
            self._changed_invoice(invoice)
        self.orders = {order.document_number: order
                       for order in self._unless_refused(fortnox.list_orders_changed, since, ORDERS_NOT_AVAILABLE)
                       if order.document_number}
        # Connected before hubnox asked for the `payment` scope: reconnecting grants it; until then paid
        # states come from each invoice's balance and final pay date.
        self.payments = self._unless_refused(fortnox.list_payments_changed, since, PAYMENTS_NOT_GRANTED)
        for payment in self.payments:
            key = f"p{payment.number}"
            self.seen[key] = f"{payment.invoice_number}|{payment.amount}|{payment.payment_date}"
            if payment.invoice_customer_number and self.seen_before.get(key) != self.seen[key]:
                self.customers.add(payment.invoice_customer_number.strip())
        for kind, number in self.message.hint:
            self._hinted(kind, number)
        self.outcome.documents_read = len(self.invoices) + len(self.orders)
        if self.now - cursor.overdue_swept_at < SWEEP_EVERY_SECONDS:
            return cursor.overdue_swept_at
        self._sweep(fortnox.list_invoices_filtered("unpaidoverdue"))
        self.outcome.swept = True
        return self.now

    def _unless_refused(self, read: Callable[[str], list[_T]], since: str, warning: str) -> list[_T]:
        """What `read` answers, or nothing (and `warning`) when the Fortnox company lacks the licence or
        the connection the scope for it: a company without the Order licence still has its invoices
        followed, and its status message does not fail again and again."""
        try:
            return read(since)
        except FortnoxError as exc:
            if exc.status != 403 and exc.fortnox_code not in REFUSED_FOR_ACCESS:
                raise
        self.outcome.warnings.append(warning)
        logger.warning("Fortnox refused a read of the status sync (no licence or scope): it is skipped",
                       extra={"portal_id": self.portal_id, "warning": warning})
        return []

    def _changed_invoice(self, invoice: Invoice) -> None:
        """Take a changed invoice; its customer's totals are due again unless the last cycle read it as it
        is now (the overlap reads the cursor's last two minutes twice)."""
        if invoice.document_number:
            self.invoices[invoice.document_number] = invoice
            key = f"i{invoice.document_number}"
            self.seen[key] = _fingerprint(invoice)
            if self.seen_before.get(key) != self.seen[key]:
                self.customers.add(invoice.customer_number.strip())

    def _hinted(self, kind: str, number: str) -> None:
        try:
            if kind == "invoice" and number not in self.invoices:
                self._changed_invoice(self.fortnox.get_invoice(number))
            elif kind == "order" and number not in self.orders:
                self.orders[number] = self.fortnox.get_order(number)
        except FortnoxNotFoundError:
            logger.info("a hinted document is gone", extra={"kind": kind, "number": number})

    def _sweep(self, overdue: list[Invoice]) -> None:
        """Add the invoices that are overdue now, and their customers whose overdue count moved."""
        counts: dict[str, int] = {}
        for invoice in overdue:
            if invoice.document_number:
                self.invoices.setdefault(invoice.document_number, invoice)
                number = invoice.customer_number.strip()
                counts[number] = counts.get(number, 0) + 1
        for number, count in counts.items():
            if number in self.customers:
                continue
            stored = self.sync._documents.customer(self.portal_id, number)
            if stored is None or stored.written.get(OVERDUE_INVOICES) != str(count):
                self.customers.add(number)

    # -- step 5: which documents are hubnox's, and their deals --------------------------------------

    def _named_by_links(self, deal_id: str, kind: str, number: str) -> bool:
        if self.all_links:
            return (kind, number) in self.links.get(deal_id, set())
        if deal_id not in self.links:
            self.links[deal_id] = {(link.document_type or "", link.document_number or "")
                                   for link in self.sync._links.for_deal(self.portal_id, deal_id)}
        return (kind, number) in self.links[deal_id]

    def _track(self) -> list[_Tracked]:
        keys: list[DocumentKey] = [("order", number) for number in self.orders]
        keys += [("invoice", number) for number in self.invoices]
        keys += [("invoice", p.invoice_number) for p in self.payments if p.invoice_number]
        snapshots = self.sync._documents.get_many(self.portal_id, keys)
        # A first cycle (or a bulk change) checks many documents: one query per deal would use the
        # invocation up before any deal is written, and every continuation would start over.
        unchecked = sum(1 for key in keys if key not in snapshots)
        if unchecked > LINKS_READ_AT_ONCE:
            self.links = self.sync._links.documents_by_deal(self.portal_id)
            self.all_links = True
        # A payment need not touch its invoice's lastmodified: read each tracked one it paid.
        for payment in self.payments:
            number = payment.invoice_number
            if number and number not in self.invoices and ("invoice", number) in snapshots:
                self._changed_invoice(self.fortnox.get_invoice(number))
        tracked: list[_Tracked] = []
        invoice_deals: dict[str, str] = {}
        deal_id: str | None
        for number, order in self.orders.items():
            snapshot = snapshots.get(("order", number))
            deal_id = snapshot.deal_id if snapshot else _deal_of(order)
            if deal_id is None or (snapshot is None and not self._named_by_links(deal_id, "order", number)):
                continue
            if not order.cancelled and not (order.invoice_reference or "").strip():
                # Fortnox's order list leaves out InvoiceReference: only the order itself tells
                # whether it became an invoice (one read per changed order hubnox tracks).
                order = self.orders[number] = self.fortnox.get_order(number)
            tracked.append(_Tracked("order", number, order, deal_id, snapshot))
            if document_state(order, self.today) == "invoiced":
                invoice_deals[str(order.invoice_reference).strip()] = deal_id
        for number in invoice_deals:
            if number not in self.invoices and ("invoice", number) not in snapshots:
                self._changed_invoice(self.fortnox.get_invoice(number))
        for number, invoice in self.invoices.items():
            snapshot = snapshots.get(("invoice", number))
            if snapshot is not None:
                deal_id = snapshot.deal_id
            elif number in invoice_deals:
                deal_id = invoice_deals[number]
            else:
                deal_id = _deal_of(invoice)
                if deal_id is None or not self._named_by_links(deal_id, "invoice", number):
                    continue
            assert deal_id is not None
            tracked.append(_Tracked("invoice", number, invoice, deal_id, snapshot))
        return tracked

    # -- steps 6 and 8: the deals ------------------------------------------------------------------

    def _deals(self, tracked: list[_Tracked]) -> bool:
        """Write the deals' changed values; False when time ran short (a continuation is set)."""
        updates: dict[str, dict[str, str]] = {}
        saves: dict[str, list[tuple[str, str, DocumentSnapshot]]] = {}
        quiet: list[tuple[str, str, DocumentSnapshot]] = []
        moved: list[tuple[_Tracked, str]] = []
        for item in tracked:
            state = document_state(item.document, self.today)
            invoiced_order = item.kind == "order" and state == "invoiced"
            values = {} if invoiced_order else deal_values(item.kind, item.document, self.today)
            written = dict(item.snapshot.written) if item.snapshot else {}
            changes = changed_values(values, written)
            snapshot = DocumentSnapshot(deal_id=item.deal_id, customer_number=item.document.customer_number.strip(),
                                        state=state, written={**written, **values}, checked_at=self.now)
            if changes:
                updates.setdefault(item.deal_id, {}).update(changes)
                saves.setdefault(item.deal_id, []).append((item.kind, item.number, snapshot))
            elif item.snapshot is None or item.snapshot.state != state:
                quiet.append((item.kind, item.number, snapshot))
            if item.snapshot is not None and item.snapshot.state != state and not invoiced_order:
                moved.append((item, state))
        for kind, number, snapshot in quiet:
            self.sync._documents.put(self.portal_id, kind, number, snapshot)
        done: set[str] = set()
        deal_ids = list(updates)
        for start in range(0, len(deal_ids), BATCH_SIZE):
            if self.short_of_time():
                break
            chunk = deal_ids[start:start + BATCH_SIZE]
            stamp = str(int(self.now * 1000))
            result = self.hubspot.batch_update(paths.DEALS, {deal: {**updates[deal], SYNCED_AT: stamp}
                                                             for deal in chunk})
            failed = set(chunk) - set(result.updated) - set(result.missing)
            self.outcome.deals_updated += len(result.updated)
            self.outcome.deals_missing += len(result.missing)
            self.outcome.deals_failed += len(failed)
            if failed:
                self.hold_cursor = True
                logger.warning("HubSpot refused some deals' status: they are tried again next cycle",
                               extra={"portal_id": self.portal_id, "deals": sorted(failed)[:20],
                                      "errors": result.errors[:5]})
            done.update(deal for deal in chunk if deal not in failed)
        self._notes([(item, state) for item, state in moved if item.deal_id in done])
        for deal_id in done:
            for kind, number, snapshot in saves[deal_id]:
                self.sync._documents.put(self.portal_id, kind, number, snapshot)
        return self.outcome.continuation is None

    def _notes(self, moved: list[tuple[_Tracked, str]]) -> None:
        if not moved or not self.sync._settings_for(self.portal_id).status_timeline_notes:
            return
        for item, state in moved:
            try:
                self.hubspot.create_note(item.deal_id, status_note(item.kind, item.document, state, self.today))
                self.outcome.notes += 1
            except HubnoxError as exc:  # the note is a courtesy: the properties are written already
                logger.warning("could not add the status note to the deal",
                               extra={"deal_id": item.deal_id, "error": str(exc)[:200]})

    # -- step 7: the customers ---------------------------------------------------------------------

    def _customers(self) -> bool:
        """Write the changed customers' totals; False when time ran short (a continuation is set)."""
        payments_of: dict[str, list[InvoicePayment]] = {}
        for payment in self.payments:
            payments_of.setdefault((payment.invoice_customer_number or "").strip(), []).append(payment)
        final_pay: dict[str, date] = {}
        for invoice in self.invoices.values():
            number = invoice.customer_number.strip()
            if invoice.final_pay_date is not None and (number not in final_pay
                                                       or invoice.final_pay_date > final_pay[number]):
                final_pay[number] = invoice.final_pay_date
        changes: dict[str, dict[str, str]] = {}
        snapshots: dict[str, CustomerSnapshot] = {}
        for number in sorted(customer for customer in self.customers if customer):
            if self.short_of_time():
                return False
            stored = self.sync._documents.customer(self.portal_id, number) or CustomerSnapshot()
            last = max((day for day in (stored.last_payment_date, final_pay.get(number)) if day), default=None)
            values = customer_aggregate(self.fortnox.list_invoices(number, "unpaid"), payments_of.get(number, []),
                                        last, self.today)
            changed = changed_values(values, stored.written)
            paid_on = values[LAST_PAYMENT_DATE]
            snapshots[number] = CustomerSnapshot({**stored.written, **values},
                                                 date.fromisoformat(paid_on) if paid_on else None)
            if changed:
                changes[number] = changed
            elif snapshots[number] != stored:
                self.sync._documents.put_customer(self.portal_id, number, snapshots[number])
        self.outcome.customers_changed = len(changes)
        failed_customers: set[str] = set()
        for object_type in CUSTOMER_OBJECTS:
            failed_customers |= self._write_customers(object_type, changes)
        if failed_customers:
            self.hold_cursor = True
        for number in changes:
            if number not in failed_customers:
                self.sync._documents.put_customer(self.portal_id, number, snapshots[number])
        return True

    def _write_customers(self, object_type: str, changes: Mapping[str, Mapping[str, str]]) -> set[str]:
        """Write the totals to the `object_type` records of each customer; answers the customers HubSpot
        refused a record of."""
        numbers = sorted(changes)
        owner: dict[str, str] = {}
        for start in range(0, len(numbers), BATCH_SIZE):
            chunk = numbers[start:start + BATCH_SIZE]
            groups = [{"filters": [{"propertyName": CUSTOMER_NUMBER_PROPERTY, "operator": "IN", "values": chunk}]}]
            for record in self.hubspot.iter_search(object_type, groups, [CUSTOMER_NUMBER_PROPERTY],
                                                   page_size=BATCH_SIZE):
                number = (record.prop(CUSTOMER_NUMBER_PROPERTY) or "").strip()
                if number in changes:
                    owner[record.id] = number
        failed: set[str] = set()
        ids = sorted(owner)
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start:start + BATCH_SIZE]
            result = self.hubspot.batch_update(object_type, {record: dict(changes[owner[record]]) for record in chunk})
            self.outcome.records_updated += len(result.updated)
            refused = set(chunk) - set(result.updated) - set(result.missing)
            if refused:
                logger.warning("HubSpot refused some customers' totals: they are tried again next cycle",
                               extra={"object_type": object_type, "ids": sorted(refused)[:20],
                                      "errors": result.errors[:5]})
            failed |= {owner[record] for record in refused}
        return failed


def _fingerprint(invoice: Invoice) -> str:
    """What of an invoice counts towards its customer's totals, short enough to keep per invoice read."""
    facts = (invoice.customer_number, invoice.balance, invoice.total, invoice.booked, invoice.cancelled,
             invoice.due_date, invoice.final_pay_date, invoice.currency_rate, invoice.credit_invoice_reference)
    return hashlib.sha256(repr(facts).encode()).hexdigest()[:12]


def _deal_of(document: Invoice | Order) -> str | None:
    """The deal hubnox wrote into the document's `ExternalInvoiceReference1`, if any."""
    reference = (document.external_invoice_reference1 or "").strip()
    return reference or None


def swedish_money(amount: Decimal | None, currency: str | None) -> str:
    """An amount as a Swedish reader writes it: "12 500,00 kr" (other currencies by their code)."""
    if amount is None:
        return ""
    whole, _, cents = format(abs(amount).quantize(Decimal("0.01")), "f").partition(".")
    grouped = f"{int(whole):,}".replace(",", "\u00a0")
    unit = "kr" if (currency or "SEK").upper() == "SEK" else currency or ""
    return f"{'-' if amount < 0 else ''}{grouped},{cents} {unit}"


_STATE_WORDS = {"partly_paid": "partly paid"}


def status_note(kind: str, document: Invoice | Order, state: str, today: date) -> str:
    """The timeline note for a document's new state, e.g. "Fortnox: invoice 1001 is now paid
    (12 500,00 kr, 2026-12-07)": the amount left when money is owed, the day it happened when known."""
    balance = document.balance if isinstance(document, Invoice) else None
    owed = state in ("partly_paid", "overdue")
    amount = balance if owed else document.total
    when: date | None = today
    if isinstance(document, Invoice):
        if state == "paid" and document.final_pay_date:
            when = document.final_pay_date
        elif state == "overdue" and document.due_date:
            when = document.due_date
    details = ", ".join(part for part in (swedish_money(amount, document.currency),
                                          when.isoformat() if when else "") if part)
    text = f"Fortnox: {kind} {document.document_number} is now {_STATE_WORDS.get(state, state)}"
    if details:
        text += f" ({'left to pay ' if owed else ''}{details})"
    return f"<p>{html.escape(text)}</p>"
