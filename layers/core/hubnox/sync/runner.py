"""The worker's job runner: a job in, its run carried out and reported, over injected ports.

`JobRunner.run(job, attempt, max_attempts)` marks the run running, loads the portal's settings and
does the job's kind:

- `create_document`: read the deal (`sync.reader`), claim the deal link, and make or find the
  deal's one Fortnox document; attach its PDF (from `preview`, never `print`) to a note on the
  deal, write the deal's Fortnox properties, complete the workflow callback, succeed the run. A
  job's `print_template` (the workflow action's input) becomes the new document's `PrintTemplate`,
  overriding the customer's default template (which, for customers hubnox creates, is the one the
  portal's settings name); a document found already made keeps the template it has;
- `sync_customer`: a company or contact becomes (or updates) its Fortnox customer, the customer
  number is written back, the callback completed;
- `sync_products`: the portal's HubSpot products become Fortnox articles with their prices.

Errors decide what happens next:
- `UserFixableError` (missing company, unknown article under the skip policy, Fortnox
  validation, missing licence, "reconnect Fortnox"): the run fails at once with a note carrying
  the signed Replay link, the deal's sync status and last error, and FAIL_CONTINUE on the callback;
- `TransientError` (429, 5xx, timeouts) and unexpected errors: re-raised so the queue tries again
  later (the worker sets the backoff), except on the last attempt, where the run fails as above
  and the message goes on to the dead-letter queue.

Exactly one document per deal and trigger, whatever retries, replays and concurrent jobs happen:
1. the deal link is claimed first; a link that records a document is reported, never remade;
2. everything from the look-up to recording the document on the link happens under a lease on
   the deal (`DEAL_LEASE_*`), so concurrent runs for one deal take turns and the later ones find
   the document the first one recorded;
3. inside the lease Fortnox is asked for a document whose `ExternalInvoiceReference1` is the deal
   id before anything is created, and a found one is adopted: a create whose answer was lost (a
   timeout after Fortnox acted) is found there on the retry;
4. when a create's outcome is unknown, the lease stays reserved for this run for
   `UNKNOWN_OUTCOME_HOLD_SECONDS`, so no other run can look before Fortnox has finished acting.
The look-up is by deal id, so a deal's second trigger of the same document type adopts the
document the first made rather than making another.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from hubnox.errors import BadRequestError, HubnoxError, TransientError, UserFixableError
from hubnox.fortnox.models import DocumentKind, FortnoxCustomer, Invoice, Order
from hubnox.fortnox.statuses import invoice_status, order_status
from hubnox.hubspot import paths
from hubnox.hubspot import properties as deal_properties
from hubnox.hubspot.models import AssociationInput, Company, Contact, Product
from hubnox.jobs import BACKOFF_BASE_SECONDS, MAX_ATTEMPTS, Job, trigger_key
from hubnox.links import replay_url
from hubnox.observability import logger
from hubnox.records import DealLink, Run
from hubnox.signing import Signer
from hubnox.sync.articles import article_from_product, resolve_articles
from hubnox.sync.customers import resolve_customer, resolve_record_customer
from hubnox.sync.documents import build_document
from hubnox.sync.model import CustomerResolution, DealSnapshot, DocumentDraft, SyncWarning, TotalsDifference
from hubnox.sync.notes import failure_note, success_note
from hubnox.sync.ports import DealLinks, Fortnox, HubSpot, HubSpotReads, Leases, NoteRenderer, RunLog, SettingsSource
from hubnox.sync.reader import properties_to_read, read_deal, snapshot_of
from hubnox.sync.settings import PortalSettings, migrate
from hubnox.sync.totals import check_totals
from hubnox.waiting import wait_until_done

#: the lease that makes one run at a time look up, create and record a deal's document. Its TTL
#: outlives the worker's 120 s timeout, so a worker that dies holding it blocks others at most
#: that long; a run waits `WAIT` seconds for it before going back to the queue.
DEAL_LEASE_TTL_SECONDS = 180.0
DEAL_LEASE_WAIT_SECONDS = 20.0
DEAL_LEASE_POLL_SECONDS = 0.2
#: after a create whose outcome is unknown, only this run's retry may enter for this long
UNKNOWN_OUTCOME_HOLD_SECONDS = 60.0

#: HubSpot file-manager folders for the PDFs (private files)
PDF_FOLDERS = {"invoice": "/hubnox/invoices", "order": "/hubnox/orders"}
#: HubSpot-defined association types from a note to a company and to a contact
NOTE_TO_COMPANY = 190
NOTE_TO_CONTACT = 202


class CallbackOutputs:
    """The output fields hubnox completes workflow callbacks with (the action definitions declare
    the same names)."""

    STATE = "hs_execution_state"
    DOCUMENT_NUMBER = "documentNumber"
    DOCUMENT_TYPE = "documentType"
    CUSTOMER_NUMBER = "customerNumber"
    ERROR_CODE = "errorCode"
    ERROR_MESSAGE = "errorMessage"


# -- values ----------------------------------------------------------------------------------------


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


@dataclass
class _Attempt:
    """One try of one run: the job, the portal's settings and its clients (built when first used)."""

    job: Job
    attempt: int
    max_attempts: int
    hubspot_factory: Callable[[str], HubSpot]
    fortnox_factory: Callable[[str], Fortnox]
    settings: PortalSettings | None = None
    #: reporting steps done by earlier tries of the run (see `JobRunner._once`)
    progress: dict[str, str] = field(default_factory=dict)
    _hubspot: HubSpot | None = None
    _fortnox: Fortnox | None = None

    @property
    def portal_id(self) -> str:
        return self.job.portal_id

    @property
    def hubspot(self) -> HubSpot:
        if self._hubspot is None:
            self._hubspot = self.hubspot_factory(self.portal_id)
        return self._hubspot

    @property
    def fortnox(self) -> Fortnox:
        if self._fortnox is None:
            self._fortnox = self.fortnox_factory(self.portal_id)
        return self._fortnox

    @property
    def last(self) -> bool:
        return self.attempt >= self.max_attempts


class _Lease:
    """The deal lease as one run holds it; `reserve` keeps it for this run after the block."""

    def __init__(self, leases: Leases, name: str, owner: str, run_id: str) -> None:
        self.leases, self.name, self.owner, self.run_id = leases, name, owner, run_id
        self.reserved = False

    def reserve(self, seconds: float) -> None:
        """Hand the lease to this run alone (any try of it) for `seconds` from now."""
        self.leases.release(self.name, self.owner)
        self.reserved = self.leases.acquire(self.name, self.run_id, seconds)


# -- the runner ------------------------------------------------------------------------------------


class JobRunner:
    """Carries out jobs and reports them; every dependency is injected."""

    def __init__(
        self,
        *,
        hubspot: Callable[[str], HubSpot],
        fortnox: Callable[[str], Fortnox],
        runs: RunLog,
        deal_links: DealLinks,
        settings: SettingsSource,
        leases: Leases,
        notes: NoteRenderer,
        signer: Signer,
        public_base: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._hubspot = hubspot
        self._fortnox = fortnox
        self._runs = runs
        self._links = deal_links
        self._settings = settings
        self._leases = leases
        self._render = notes
        self._signer = signer
        self._public_base = public_base.rstrip("/")
        self._clock = clock
        self._sleep = sleep

    def run(self, job: Job, attempt: int = 1, max_attempts: int = MAX_ATTEMPTS) -> Run:
        """Carry out one try of `job` and answer its run as stored afterwards.

        Raises the error of a transient (or unexpected) failure before the last attempt, so the
        queue tries again; every other outcome is recorded on the run and reported.
        """
        run = self._runs.mark_running(job.portal_id, job.run_id)
        if run.status == "succeeded":
            logger.info("run already succeeded; job skipped", extra={"run_id": job.run_id})
            return run
        current = _Attempt(job, attempt, max_attempts, self._hubspot, self._fortnox, progress=dict(run.progress))
        try:
            current.settings = migrate(self._settings.get(job.portal_id)[0])
            result = self._do(current)
        except UserFixableError as error:
            return self._fail(current, error)
        except Exception as error:
            if not current.last:
                raise
            logger.exception("run failed on its last attempt", extra={"run_id": job.run_id, "attempt": attempt})
            return self._fail(current, error)
        return self._runs.succeed(job.portal_id, job.run_id, result)

    def _do(self, current: _Attempt) -> dict[str, Any]:
        kind = current.job.kind
        if kind == "create_document":
            return self._create_document(current)
        if kind == "sync_customer":
            return self._sync_customer(current)
        if kind == "sync_products":
            return self._sync_products(current)
        raise BadRequestError(f"hubnox does not know the job kind {kind!r}.")

    # -- create document ---------------------------------------------------------------------------

    def _create_document(self, current: _Attempt) -> dict[str, Any]:
        job, settings = current.job, _settings(current)
        if job.object_type not in (None, "deal") or not job.object_id:
            raise BadRequestError("A create-document job must name a deal.", code="BAD_JOB")
        kind = DocumentKind(job.document_type or settings.default_document_type)
        reading = read_deal(current.hubspot, job.object_id, properties_to_read(settings))
        snapshot = snapshot_of(current.hubspot, reading)
        made = self._document(current, snapshot, kind, job.trigger_key or trigger_key("manual", kind.value))
        warnings = [*reading.warnings, *made.warnings]
        attachment = self._once(current, "pdf_file_id", lambda: self._pdf(current, made, warnings))
        note = success_note(self._render, document=made.document, customer=made.customer, warnings=warnings,
                            differences=made.differences, pdf_attached=attachment is not None,
                            already_existed=not made.made_by_this_run)
        note_id = self._best_effort(current, "write the note", lambda: self._once(
            current, "note_id", lambda: current.hubspot.create_note(
                snapshot.deal.id, note, [attachment] if attachment else []).id))
        if made.customer.write_back is not None:
            back = made.customer.write_back
            self._best_effort(current, "write the customer number back", lambda: current.hubspot.update(
                back.object_type, back.object_id, back.properties))
        if settings.write_back_deal_properties:
            self._best_effort(current, "write the deal's Fortnox properties", lambda: current.hubspot.update(
                paths.DEALS, snapshot.deal.id, _deal_values(made)))
        self._complete(current, {CallbackOutputs.STATE: "SUCCESS",
                                 CallbackOutputs.DOCUMENT_NUMBER: made.number,
                                 CallbackOutputs.DOCUMENT_TYPE: made.kind.value,
                                 CallbackOutputs.CUSTOMER_NUMBER: made.document.customer_number})
        return {"document_type": made.kind.value, "document_number": made.number, "origin": made.origin,
                "customer_number": made.document.customer_number, "total": _text(made.document.total),
                "currency": made.document.currency, "differences": len(made.differences),
                "warnings": len(warnings), "pdf_file_id": attachment, "note_id": note_id}

    def _document(self, current: _Attempt, snapshot: DealSnapshot, kind: DocumentKind, trigger: str,
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
                     if not document.cancelled]
            # On a retry of the run holding the claim, a found document is the one its earlier try made.
            if found and not (link.claimed_by(run_id) and current.attempt > 1):
                made = self._adopted(current, snapshot, kind, found)
            else:
                made = self._made(current, snapshot, kind, found, lease)
            self._links.set_document(current.portal_id, deal_id, trigger, kind.value, made.number)
        made.warnings.extend(cancelled)
        return made

    def _live(self, current: _Attempt, snapshot: DealSnapshot, link: DealLink, trigger: str,
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

    def _adopted(self, current: _Attempt, snapshot: DealSnapshot, kind: DocumentKind,
                 found: Sequence[Invoice | Order]) -> MadeDocument:
        document = self._fetch(current, kind, _earliest(found))
        return MadeDocument(kind=kind, document=document, origin="adopted", made_by_this_run=False,
                            customer=_customer_of(document, snapshot), warnings=_several(found, kind))

    def _made(self, current: _Attempt, snapshot: DealSnapshot, kind: DocumentKind,
              found: Sequence[Invoice | Order], lease: _Lease) -> MadeDocument:
        """The document this run makes (or made in an earlier try), with its totals checked."""
        settings = _settings(current)
        customer = resolve_customer(snapshot, settings, current.fortnox)
        plan = resolve_articles(snapshot, settings, current.fortnox)
        draft = with_print_template(build_document(snapshot, customer, plan, settings, kind.value),
                                    current.job.print_template)
        if found:
            document, origin = self._fetch(current, kind, _earliest(found)), "adopted"
        else:
            document, origin = self._create(current, draft, lease), "created"
        return MadeDocument(kind=kind, document=document, origin=origin,  # type: ignore[arg-type]
                            made_by_this_run=True, customer=customer, differences=check_totals(draft, document),
                            warnings=[*draft.warnings, *_several(found, kind)])

    def _create(self, current: _Attempt, draft: DocumentDraft, lease: _Lease) -> Invoice | Order:
        try:
            if isinstance(draft.document, Invoice):
                return current.fortnox.create_invoice(draft.document)
            return current.fortnox.create_order(draft.document)
        except TransientError as error:
            # Fortnox may have acted: no other run may look before it is done and this run retried.
            lease.reserve(UNKNOWN_OUTCOME_HOLD_SECONDS)
            error.retry_after = max(error.retry_after or 0.0, UNKNOWN_OUTCOME_HOLD_SECONDS / 2)
            raise

    def _recorded(self, current: _Attempt, snapshot: DealSnapshot, link: DealLink) -> MadeDocument:
        kind = DocumentKind(link.document_type or "invoice")
        document = self._fetch(current, kind, link.document_number or "")
        return MadeDocument(kind=kind, document=document, origin="existing",
                            made_by_this_run=link.claimed_by(current.job.run_id),
                            customer=_customer_of(document, snapshot))

    @staticmethod
    def _fetch(current: _Attempt, kind: DocumentKind, number: str) -> Invoice | Order:
        """The whole document, rows and totals included (search results carry only a summary)."""
        if kind is DocumentKind.INVOICE:
            return current.fortnox.get_invoice(number)
        return current.fortnox.get_order(number)

    @contextmanager
    def _deal_lease(self, current: _Attempt, deal_id: str) -> Iterator[_Lease]:
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

    def _pdf(self, current: _Attempt, made: MadeDocument, warnings: list[SyncWarning]) -> str | None:
        """The id of the document's PDF uploaded to HubSpot (private), or None with a warning."""
        name = f"fortnox-{made.kind.value}-{made.number}.pdf"
        try:
            content = current.fortnox.preview_pdf(made.kind, made.number)
            return current.hubspot.upload_file(content, name, PDF_FOLDERS[made.kind.value], "PRIVATE").id
        except TransientError:
            if not current.last:
                raise  # the retry reports the recorded document, with its PDF
            warnings.append(SyncWarning(code="NO_PDF", message="The PDF could not be fetched from Fortnox or "
                                        "uploaded to HubSpot; open the document in Fortnox instead."))
        except UserFixableError as error:
            warnings.append(SyncWarning(code="NO_PDF", message=f"The PDF could not be attached: {error.message}"))
        return None

    # -- sync customer -----------------------------------------------------------------------------

    def _sync_customer(self, current: _Attempt) -> dict[str, Any]:
        job, settings = current.job, _settings(current)
        if job.object_type not in ("company", "contact") or not job.object_id:
            raise BadRequestError("A sync-customer job must name a company or a contact.", code="BAD_JOB")
        model: type[Company] | type[Contact] = Company if job.object_type == "company" else Contact
        wanted = settings.hubspot_properties()[job.object_type]
        record = current.hubspot.get_object(paths.object_type(job.object_type), job.object_id,
                                            list(dict.fromkeys([*model.PROPERTIES, *wanted])), model=model)
        customer = resolve_record_customer(record, settings, current.fortnox)
        if customer.write_back is not None:
            back = customer.write_back
            self._best_effort(current, "write the customer number back", lambda: current.hubspot.update(
                back.object_type, back.object_id, back.properties))
        self._complete(current, {CallbackOutputs.STATE: "SUCCESS",
                                 CallbackOutputs.CUSTOMER_NUMBER: customer.customer_number})
        return {"customer_number": customer.customer_number, "customer_name": customer.customer_name,
                "action": customer.action, "changed_fields": customer.changed_fields,
                "warnings": [warning.message for warning in customer.warnings]}

    # -- sync products -----------------------------------------------------------------------------

    def _sync_products(self, current: _Attempt) -> dict[str, Any]:
        settings = _settings(current)
        created: list[str] = []
        priced: list[str] = []
        skipped: list[dict[str, str]] = []
        products = list(_all_products(current.hubspot))
        numbers = [number for product in products if (number := product.sku)]
        existing = current.fortnox.find_articles(numbers) if numbers else {}
        for product in products:
            try:
                draft = article_from_product(product, settings)
                number = draft.article.article_number or ""
                new = existing.get(number) is None
                if new:
                    current.fortnox.create_article(draft.article)
                    created.append(number)
                if draft.price is not None:
                    current.fortnox.set_price(draft.price_list, number, draft.price, new_article=new)
                    priced.append(number)
            except UserFixableError as error:
                skipped.append({"product_id": product.id, "name": product.name or "", "reason": error.message})
        logger.info("products synced", extra={"articles_created": len(created), "prices_set": len(priced),
                                              "products_skipped": len(skipped)})
        return {"created": created, "priced": priced, "skipped": skipped}

    # -- reporting ---------------------------------------------------------------------------------

    def _fail(self, current: _Attempt, error: BaseException) -> Run:
        """Record the failure and say so where the user looks: a note with the Replay link, the
        deal's sync status and last error, and FAIL_CONTINUE on the workflow callback."""
        job = current.job
        code = error.code if isinstance(error, HubnoxError) else "INTERNAL"
        message = _message(error, current)
        logger.warning("run failed", extra={"run_id": job.run_id, "code": code, "attempt": current.attempt})
        if job.object_id and job.object_type in ("deal", "company", "contact"):
            link = replay_url(self._signer, self._public_base, job.portal_id, job.run_id)
            body = failure_note(self._render, error=error, replay_url=link, run_id=job.run_id,
                                document_type=(job.document_type or _default_type(current))
                                if job.kind == "create_document" else None,
                                action=_action(job))
            self._best_effort(current, "write the failure note",
                              lambda: self._once(current, f"failure_note:{code}", lambda: self._note(current, body)))
        if job.kind == "create_document" and job.object_id and _writes_deal_properties(current):
            self._best_effort(current, "write the deal's sync status", lambda: current.hubspot.update(
                paths.DEALS, job.object_id or "", {deal_properties.SYNC_STATUS: "failed",
                                                   deal_properties.LAST_ERROR: message[:1000]}))
        self._complete(current, {CallbackOutputs.STATE: "FAIL_CONTINUE", CallbackOutputs.ERROR_CODE: code,
                                 CallbackOutputs.ERROR_MESSAGE: message[:1000]})
        return self._runs.fail(job.portal_id, job.run_id, code, message, {"attempts": current.attempt})

    def _note(self, current: _Attempt, body: str) -> str:
        job = current.job
        if job.object_type == "deal":
            return current.hubspot.create_note(job.object_id or "", body).id
        type_id = NOTE_TO_COMPANY if job.object_type == "company" else NOTE_TO_CONTACT
        when = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self._clock()))
        return current.hubspot.create(paths.NOTES, {"hs_timestamp": when, "hs_note_body": body},
                                      [AssociationInput(job.object_id or "", type_id)]).id

    def _complete(self, current: _Attempt, outputs: Mapping[str, Any]) -> None:
        callback_id = current.job.callback_id
        if callback_id:
            self._best_effort(current, "complete the workflow callback",
                              lambda: current.hubspot.complete_callback(callback_id, outputs))

    def _once(self, current: _Attempt, step: str, action: Callable[[], str | None]) -> str | None:
        """Do a reporting step once per run: an earlier try that did it left its result on the run.

        A retry after a later step failed (a 503 on the callback, say) must not write a second
        note or upload the PDF again.
        """
        if step in current.progress:
            return current.progress[step]
        result = action()
        if result:
            current.progress[step] = str(result)
            self._runs.record_progress(current.job.portal_id, current.job.run_id, current.progress)
        return result

    @staticmethod
    def _best_effort(current: _Attempt, what: str, action: Callable[[], Any]) -> Any:
        """Run one reporting step; a failure is logged, not raised: the run's outcome stands.

        Before the last attempt a transient failure is re-raised, so the queue retries the run:
        the retry finds the document recorded and reports it, and never makes another.
        """
        try:
            return action()
        except TransientError:
            if not current.last:
                raise
            logger.exception(f"could not {what}")
        except Exception:
            logger.exception(f"could not {what}")
        return None


# -- small pieces ------------------------------------------------------------------------------------


def with_print_template(draft: DocumentDraft, template: str | None) -> DocumentDraft:
    """The draft with `template` as its document's `PrintTemplate`; unchanged when None.

    Fortnox checks the template when the document is created: one it does not have for the
    document type is its validation error 2000442, which the failure note explains.
    """
    if not template:
        return draft
    document = draft.document.model_copy(update={"print_template": template})
    return draft.model_copy(update={"document": document})


def _settings(current: _Attempt) -> PortalSettings:
    return current.settings or PortalSettings()


def _default_type(current: _Attempt) -> str:
    return current.settings.default_document_type if current.settings else "invoice"


def _writes_deal_properties(current: _Attempt) -> bool:
    return current.settings.write_back_deal_properties if current.settings else True


def _action(job: Job) -> str | None:
    if job.kind == "sync_customer":
        return f"update this {job.object_type}'s Fortnox customer"
    return None


def _message(error: BaseException, current: _Attempt) -> str:
    if isinstance(error, HubnoxError):
        text = error.message
        if isinstance(error, TransientError):
            text = f"Gave up after {current.attempt} tries: {text}"
        return f"{text} {error.hint}" if error.hint else text
    return "hubnox ran into an unexpected problem; it has been logged."


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


def _customer_of(document: Invoice | Order, snapshot: DealSnapshot) -> CustomerResolution:
    """The customer of a document hubnox did not make in this run, as the note shows it."""
    source: Literal["company", "contact"] = "company" if snapshot.company is not None else "contact"
    record = snapshot.company or (snapshot.contacts[0] if snapshot.contacts else None)
    name = document.customer_name or ""
    return CustomerResolution(customer_number=document.customer_number, customer_name=name, action="matched",
                              source=source, source_id=record.id if record else "",
                              customer=FortnoxCustomer(customer_number=document.customer_number, name=name))


def _deal_values(made: MadeDocument) -> dict[str, Any]:
    """The deal's Fortnox properties after a successful run."""
    status = (invoice_status(made.document) if isinstance(made.document, Invoice)
              else order_status(made.document))
    values: dict[str, Any] = {
        deal_properties.DOCUMENT_NUMBER: made.number,
        deal_properties.DOCUMENT_TYPE: made.kind.value,
        deal_properties.SYNC_STATUS: "succeeded",
        deal_properties.LAST_ERROR: None,
        deal_properties.CUSTOMER_NUMBER: made.document.customer_number,
    }
    if status in DOCUMENT_STATUSES:
        values[deal_properties.DOCUMENT_STATUS] = status
    return values


#: the values of the deal's document-status property (hubnox.hubspot.properties)
DOCUMENT_STATUSES = frozenset({"draft", "booked", "sent", "paid", "cancelled"})


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _all_products(hubspot: HubSpotReads) -> Iterator[Product]:
    """Every product of the portal, oldest first, page by page."""
    after: str | None = None
    while True:
        page = hubspot.search(paths.PRODUCTS, [], Product.PROPERTIES, ["hs_object_id"], 200, after, model=Product)
        yield from page.results  # type: ignore[misc]
        if page.next_after is None:
            return
        after = page.next_after
