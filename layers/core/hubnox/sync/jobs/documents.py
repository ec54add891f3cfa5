"""The `create_document` job: a deal becomes its one draft Fortnox invoice or order, reported.

Read the deal (`sync.reader`), claim the deal link, and make or find the deal's one Fortnox
document; upload its PDF (from `preview`, never `print`) and describe the outcome the run tells
(`hubnox.sync.delivery`): the PDF on a note on the deal, the deal's Fortnox properties, SUCCESS on
the workflow callback. A failed run's outcome is checked first (`verify`): when Fortnox has the
deal's document after all, the run tells that success, never a failure beside a document.

A job's `print_template` (the workflow action's input) becomes the new document's `PrintTemplate`,
overriding the customer's default template (which, for customers hubnox creates, is the one the
portal's settings name); a document found already made keeps the template it has.

Exactly one document per deal and trigger, whatever retries, replays and concurrent jobs happen:
1. the deal link is claimed first; a link that records a document is reported, never remade;
2. everything from the look-up to recording the document on the link happens under a lease on
   the deal (`DEAL_LEASE_*`), so concurrent runs for one deal take turns and the later ones find
   the document the first one recorded;
3. every create is preceded by a conditional mark on the deal link (`mark_creating`); inside the
   lease Fortnox is asked for a document whose `ExternalInvoiceReference1` is the deal id before
   creating whenever one may exist (a retry, a link another run claimed, the mark without a
   document, another trigger's document for the deal), and a found one is adopted: a create whose
   answer was lost (a timeout after Fortnox acted) is found there on the retry. A first try on a
   link it just claimed skips the look-up: no create can have happened without the mark;
4. when a create's outcome is unknown, the lease stays reserved for this run for
   `UNKNOWN_OUTCOME_HOLD_SECONDS`, so no other run can look before Fortnox has finished acting.
The look-up is by deal id, so a deal's second trigger of the same document type adopts the
document the first made rather than making another (its link carries the mark or the number).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from hubnox.errors import BadRequestError, TransientError
from hubnox.fortnox.errors import FortnoxError
from hubnox.fortnox.models import DocumentKind, FortnoxCustomer, Invoice, Order
from hubnox.jobs import BACKOFF_BASE_SECONDS, trigger_key
from hubnox.observability import logger
from hubnox.records import DealLink
from hubnox.sync.article_catalog import CachedArticles
from hubnox.sync.articles import resolve_articles
from hubnox.sync.attempt import Attempt
from hubnox.sync.customer_guard import CustomerGuard
from hubnox.sync.customers import resolve_customer
from hubnox.sync.delivery import NoteStep, Outcome, VerifyStep
from hubnox.sync.documents import build_document, check_currency
from hubnox.sync.model import CustomerResolution, DealSnapshot, DocumentDraft, SyncWarning, TotalsDifference
from hubnox.sync.notes import success_note
from hubnox.sync.ports import DealLinks, Leases, NoteRenderer
from hubnox.sync.reader import properties_to_read, read_deal, snapshot_of
from hubnox.sync.reporting import CallbackOutputs, Reporter, callback, deal_update, write_back
from hubnox.sync.totals import check_totals
from hubnox.waiting import wait_until_done

#: the lease that makes one run at a time look up, create and record a deal's document. Its TTL
#: outlives the worker's 120 s timeout, so a worker that dies holding it blocks others at most
#: that long; a run waits `WAIT` seconds for it before going back to the queue.
DEAL_LEASE_TTL_SECONDS = 180.0
DEAL_LEASE_WAIT_SECONDS = 20.0
DEAL_LEASE_POLL_SECONDS = 0.2
#: Fortnox's code for a row whose article it does not have
ARTICLE_NOT_FOUND = 2000428
#: after a create whose outcome is unknown, only this run's retry may enter for this long
UNKNOWN_OUTCOME_HOLD_SECONDS = 60.0


Origin = Literal["created", "adopted", "existing"]


@dataclass(frozen=True)
class MadeDocument:
    """The deal's document and how this run came by it: `created` now, `adopted` (found in Fortnox
    by the deal id, e.g. made by an earlier try whose answer was lost) or `existing` (already
    recorded on the deal link)."""

    kind: DocumentKind
    document: Invoice | Order
    origin: Origin
    customer: CustomerResolution
    #: True when this run made it (now, or in an earlier try of the same run)
    made_by_this_run: bool
    differences: list[TotalsDifference] = field(default_factory=list)
    warnings: list[SyncWarning] = field(default_factory=list)

    @property
    def number(self) -> str:
        return self.document.document_number or ""


class _Lease:
    """The deal lease as one run holds it; `reserve` keeps it for this run after the block."""

    def __init__(self, leases: Leases, name: str, owner: str, run_id: str) -> None:
        self.leases, self.name, self.owner, self.run_id = leases, name, owner, run_id
        self.reserved = False

    def reserve(self, seconds: float) -> None:
        """Hand the lease to this run alone (any try of it) for `seconds` from now."""
        self.leases.release(self.name, self.owner)
        self.reserved = self.leases.acquire(self.name, self.run_id, seconds)


class CreateDocument:
    """Carries out `create_document` jobs; every dependency is injected."""

    def __init__(self, *, deal_links: DealLinks, leases: Leases, notes: NoteRenderer, report: Reporter,
                 clock: Callable[[], float], sleep: Callable[[float], None],
                 customer_guard: CustomerGuard | None = None) -> None:
        self._links = deal_links
        #: keeps overlapping deals of one company from creating its customer twice (None: no guard)
        self._customer_guard = customer_guard
        self._leases = leases
        self._render = notes
        self._report = report
        self._clock = clock
        self._sleep = sleep

    def __call__(self, current: Attempt) -> tuple[dict[str, Any], Outcome]:
        """Make or find the deal's document; answers the run's result and the outcome to tell."""
        job, settings = current.job, current.portal_settings
        if job.object_type not in (None, "deal") or not job.object_id:
            raise BadRequestError("A create-document job must name a deal.", code="BAD_JOB")
        kind = DocumentKind(job.document_type or settings.default_document_type)
        reading = read_deal(current.hubspot, job.object_id, properties_to_read(settings))
        if reading.deal.name:
            current.learned["record_name"] = reading.deal.name
        snapshot = snapshot_of(current.hubspot, reading)
        made = self._document(current, snapshot, kind, job.trigger_key or trigger_key("manual", kind.value))
        return self._success(current, snapshot.deal.id, made, [*reading.warnings, *made.warnings])

    def verify(self, current: Attempt, step: VerifyStep) -> tuple[dict[str, Any], Outcome] | None:
        """The success a failed run really had: the deal's document when Fortnox has one after all
        (a create whose answer was lost, another trigger's document), recorded on the deal link;
        None when Fortnox has none. Nothing is created here."""
        kind = DocumentKind(step.document_type)
        found = [document for document in current.fortnox.find_documents_by_external_reference(kind, step.deal_id)
                 if not document.cancelled]
        if not found:
            return None
        link = self._links.claim(current.portal_id, step.deal_id, step.trigger_key, current.job.run_id)
        number = link.document_number if link.document_number and link.document_type == kind.value else None
        document = self._fetch(current, kind, number or _earliest(found))
        if number is None:
            self._links.set_document(current.portal_id, step.deal_id, step.trigger_key, kind.value,
                                     document.document_number or "")
        logger.info("a failed run's document exists in Fortnox: its success is told",
                    extra={"run_id": current.job.run_id, "document_number": document.document_number})
        made = MadeDocument(kind=kind, document=document, origin="adopted", customer=_customer_of(document, None),
                            made_by_this_run=link.claimed_by(current.job.run_id), warnings=_several(found, kind))
        return self._success(current, step.deal_id, made, list(made.warnings))

    def _success(self, current: Attempt, deal_id: str, made: MadeDocument, warnings: list[SyncWarning],
                 ) -> tuple[dict[str, Any], Outcome]:
        """The run's result and outcome for the deal's document: its PDF on a note (one per document),
        the deal's Fortnox properties, the customer number written back, SUCCESS on the callback."""
        attachment = self._report.pdf(current, made.kind, made.number, warnings)
        note = success_note(self._render, document=made.document, customer=made.customer, warnings=warnings,
                            differences=made.differences, pdf_attached=attachment is not None,
                            already_existed=not made.made_by_this_run)
        outcome = Outcome(
            note=NoteStep(object_type="deal", object_id=deal_id, body=note,
                          attachments=[attachment] if attachment else [], document=f"{made.kind.value}:{made.number}"),
            updates=[*write_back(made.customer), *deal_update(current, deal_id, made.kind, made.document)],
            callback=callback(current.job, {CallbackOutputs.STATE: "SUCCESS",
                                            CallbackOutputs.DOCUMENT_NUMBER: made.number,
                                            CallbackOutputs.DOCUMENT_TYPE: made.kind.value,
                                            CallbackOutputs.CUSTOMER_NUMBER: made.document.customer_number}))
        result = {**current.learned, "document_type": made.kind.value, "document_number": made.number,
                  "origin": made.origin,
                  "customer_number": made.document.customer_number, "total": _text(made.document.total),
                  "currency": made.document.currency, "differences": len(made.differences),
                  "warnings": len(warnings), "pdf_file_id": attachment,
                  "warning_messages": [warning.message for warning in warnings],
                  "customer_name": made.customer.customer_name}
        return result, outcome

    def _document(self, current: Attempt, snapshot: DealSnapshot, kind: DocumentKind, trigger: str,
                  ) -> MadeDocument:
        """The deal's one document for `trigger`: reported when recorded, else adopted or created."""
        deal_id, run_id = snapshot.deal.id, current.job.run_id
        link = self._links.claim(current.portal_id, deal_id, trigger, run_id)
        cancelled: list[SyncWarning] = []
        if link.document_number and (recorded := self._live(current, snapshot, link, trigger, cancelled)):
            return recorded
        with self._deal_lease(current, deal_id) as lease:
            link = self._links.get(current.portal_id, deal_id, trigger) or link
            if link.document_number and (recorded := self._live(current, snapshot, link, trigger, cancelled)):
                return recorded
            # A document cancelled in Fortnox no longer stands for the deal: a new one may be made.
            found = [document for document in current.fortnox.find_documents_by_external_reference(kind, deal_id)
                     if not document.cancelled] if self._may_exist(current, link, kind) else []
            # On a retry of the run holding the claim, a found document is the one its earlier try made.
            if found and not (link.claimed_by(run_id) and current.attempt > 1):
                made = self._adopted(current, snapshot, kind, found)
            else:
                made = self._made(current, snapshot, kind, found, lease, trigger)
            self._links.set_document(current.portal_id, deal_id, trigger, kind.value, made.number)
        made.warnings.extend(cancelled)
        return made

    def _may_exist(self, current: Attempt, link: DealLink, kind: DocumentKind) -> bool:
        """Whether Fortnox may hold a document for the deal that no link records, so it must be asked
        by the deal id before anything is created: on any retry (an earlier try's create may have
        acted), when the link was claimed by another run (a replay, or a run that died), when a create
        was started on it (`mark_creating`, written before every create), or when another trigger's
        link of the deal made or started a document (its document is adopted, never doubled). A
        first try on a link it just claimed, with no mark anywhere on the deal, cannot have a
        document: every create in Fortnox is preceded by the mark. Called under the deal lease."""
        if current.attempt > 1 or not link.claimed_by(current.job.run_id) or link.create_started_at is not None:
            return True
        for other in self._links.for_deal(current.portal_id, link.deal_id):
            if other.trigger_key == link.trigger_key:
                continue
            if other.create_started_at is not None or (other.document_number and other.document_type == kind.value):
                return True
        return False

    def _live(self, current: Attempt, snapshot: DealSnapshot, link: DealLink, trigger: str,
              cancelled: list[SyncWarning]) -> MadeDocument | None:
        """The recorded document, or None when it was cancelled in Fortnox (then forgotten, with a warning)."""
        recorded = self._recorded(current, snapshot, link)
        if not recorded.document.cancelled:
            return recorded
        self._links.forget_document(current.portal_id, snapshot.deal.id, trigger, recorded.number)
        cancelled.append(SyncWarning(code="EARLIER_DOCUMENT_CANCELLED", message=(
            f"{recorded.kind.value.capitalize()} {recorded.number}, made earlier for this deal, was cancelled in "
            f"Fortnox, so hubnox made a new {recorded.kind.value}.")))
        return None

    def _adopted(self, current: Attempt, snapshot: DealSnapshot, kind: DocumentKind,
                 found: Sequence[Invoice | Order]) -> MadeDocument:
        document = self._fetch(current, kind, _earliest(found))
        return MadeDocument(kind=kind, document=document, origin="adopted", made_by_this_run=False,
                            customer=_customer_of(document, snapshot), warnings=_several(found, kind))

    def _made(self, current: Attempt, snapshot: DealSnapshot, kind: DocumentKind,
              found: Sequence[Invoice | Order], lease: _Lease, trigger: str) -> MadeDocument:
        """The document this run makes (or made in an earlier try), with its totals checked."""
        settings = current.portal_settings
        check_currency(snapshot.currency, current.fortnox)
        guard = self._customer_guard.for_attempt(current) if self._customer_guard is not None else None
        customer = resolve_customer(snapshot, settings, current.fortnox, customers_made=guard)
        current.learned.update(customer_number=customer.customer_number, customer_name=customer.customer_name)
        for last_try in (False, True):
            plan = resolve_articles(snapshot, settings, current.fortnox)
            draft = with_print_template(build_document(snapshot, customer, plan, settings, kind.value),
                                        current.job.print_template)
            if found:
                document, origin = self._fetch(current, kind, _earliest(found)), "adopted"
                break
            try:
                document, origin = self._create(current, draft, lease, trigger), "created"
                break
            except FortnoxError as refused:
                # An article deleted in Fortnox since the tenant's copy of the list read it (the list
                # never shows deletions): the copy is read again and the articles resolved once more.
                if last_try or refused.fortnox_code != ARTICLE_NOT_FOUND or not isinstance(
                        current.fortnox, CachedArticles):
                    raise
                current.fortnox.stale()
        return MadeDocument(kind=kind, document=document, origin=origin,  # type: ignore[arg-type]
                            made_by_this_run=True, customer=customer, differences=check_totals(draft, document),
                            warnings=[*draft.warnings, *_several(found, kind)])

    def _create(self, current: Attempt, draft: DocumentDraft, lease: _Lease, trigger: str) -> Invoice | Order:
        deal_id = draft.document.external_invoice_reference1 or ""
        # Before Fortnox is asked: from here on, a later run looks the deal up before creating.
        if not self._links.mark_creating(current.portal_id, deal_id, trigger, current.job.run_id):
            raise TransientError("Another run recorded this deal's Fortnox document meanwhile.", code="DEAL_BUSY",
                                 retry_after=BACKOFF_BASE_SECONDS)
        try:
            if isinstance(draft.document, Invoice):
                return current.fortnox.create_invoice(draft.document)
            return current.fortnox.create_order(draft.document)
        except TransientError as error:
            # Fortnox may have acted: no other run may look before it is done and this run retried.
            lease.reserve(UNKNOWN_OUTCOME_HOLD_SECONDS)
            error.retry_after = max(error.retry_after or 0.0, UNKNOWN_OUTCOME_HOLD_SECONDS / 2)
            raise

    def _recorded(self, current: Attempt, snapshot: DealSnapshot, link: DealLink) -> MadeDocument:
        kind = DocumentKind(link.document_type or "invoice")
        document = self._fetch(current, kind, link.document_number or "")
        return MadeDocument(kind=kind, document=document, origin="existing",
                            made_by_this_run=link.claimed_by(current.job.run_id),
                            customer=_customer_of(document, snapshot))

    @staticmethod
    def _fetch(current: Attempt, kind: DocumentKind, number: str) -> Invoice | Order:
        """The whole document, rows and totals included (search results carry only a summary)."""
        if kind is DocumentKind.INVOICE:
            return current.fortnox.get_invoice(number)
        return current.fortnox.get_order(number)

    @contextmanager
    def _deal_lease(self, current: Attempt, deal_id: str) -> Iterator[_Lease]:
        """Hold the deal's lease: one run at a time looks up, creates and records its document."""
        name = f"deal#{current.portal_id}#{deal_id}"
        run_id = current.job.run_id
        owner = f"{run_id}#{secrets.token_hex(4)}"
        # A lease reserved for this run (after a create with an unknown outcome) is its to take.
        if not self._leases.acquire(name, owner, DEAL_LEASE_TTL_SECONDS):
            if self._leases.acquire(name, run_id, DEAL_LEASE_TTL_SECONDS):
                owner = run_id
            else:
                wait_until_done(
                    lambda: None if self._leases.acquire(name, owner, DEAL_LEASE_TTL_SECONDS) else 0.0,
                    max_wait=DEAL_LEASE_WAIT_SECONDS, poll=DEAL_LEASE_POLL_SECONDS,
                    clock=self._clock, sleep=self._sleep,
                    busy=lambda _: TransientError("Another run is making this deal's Fortnox document right now.",
                                                  code="DEAL_BUSY", retry_after=BACKOFF_BASE_SECONDS))
        lease = _Lease(self._leases, name, owner, run_id)
        try:
            yield lease
        finally:
            if not lease.reserved:
                self._leases.release(name, owner)



def with_print_template(draft: DocumentDraft, template: str | None) -> DocumentDraft:
    """The draft with `template` as its document's `PrintTemplate`; unchanged when None.

    Fortnox checks the template when the document is created: one it does not have for the
    document type is its validation error 2000442, which the failure note explains.
    """
    if not template:
        return draft
    document = draft.document.model_copy(update={"print_template": template})
    return draft.model_copy(update={"document": document})


def _earliest(found: Sequence[Invoice | Order]) -> str:
    """The number of the first document made (Fortnox numbers them in series)."""
    numbers = [doc.document_number or "" for doc in found]
    return min(numbers, key=lambda number: (len(number), number))


def _several(found: Sequence[Invoice | Order], kind: DocumentKind) -> list[SyncWarning]:
    if len(found) < 2:
        return []
    numbers = ", ".join(sorted(doc.document_number or "" for doc in found))
    return [SyncWarning(code="SEVERAL_DOCUMENTS",
                        message=f"Fortnox has several {kind.value}s for this deal ({numbers}); hubnox reports the "
                        "first. Cancel the extra ones in Fortnox if they are duplicates.")]


def _customer_of(document: Invoice | Order, snapshot: DealSnapshot | None) -> CustomerResolution:
    """The customer of a document hubnox did not make in this run, as the note shows it."""
    record = None if snapshot is None else snapshot.company or (snapshot.contacts[0] if snapshot.contacts else None)
    source: Literal["company", "contact"] = "company"
    if snapshot is not None and snapshot.company is None:
        source = "contact"
    name = document.customer_name or ""
    return CustomerResolution(customer_number=document.customer_number, customer_name=name, action="matched",
                              source=source, source_id=record.id if record else "",
                              customer=FortnoxCustomer(customer_number=document.customer_number, name=name))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
