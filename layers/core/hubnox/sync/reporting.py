"""Reporting a run where the user looks: what its outcome tells (a note on the CRM record with the
PDF, the deal's Fortnox properties, a customer number written back, the workflow callback) and the
PDF upload that comes before it.

The outcome is only described here (`hubnox.sync.delivery.Outcome`); `hubnox.sync.delivery`
tells it, durably. The PDF upload is part of the run: a transient failure before the last attempt
is re-raised so the queue retries the run (the retry finds the document recorded and reports it,
never making another), and the uploaded file's id is kept on the run's progress, so it is uploaded
once per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hubnox.errors import ConnectionBrokenError, HubnoxError, TransientError, UserFixableError
from hubnox.fortnox.models import DocumentKind, Invoice, Order
from hubnox.fortnox.statuses import invoice_status, order_status
from hubnox.hubspot import paths
from hubnox.hubspot import properties as deal_properties
from hubnox.jobs import Job, trigger_key
from hubnox.links import replay_url
from hubnox.observability import logger
from hubnox.signing import Signer
from hubnox.sync.attempt import Attempt
from hubnox.sync.delivery import CallbackStep, NoteStep, Outcome, UpdateStep, VerifyStep
from hubnox.sync.model import CustomerResolution, SyncWarning
from hubnox.sync.notes import failure_note
from hubnox.sync.ports import NoteRenderer, RunLog

#: HubSpot file-manager folders for the PDFs (private files)
PDF_FOLDERS = {"invoice": "/hubnox/invoices", "order": "/hubnox/orders"}
#: the values of the deal's document-status property (hubnox.hubspot.properties), the status sync's
#: states; a run writes the status its new document has, which is one of the first version's
#: (draft, booked, sent, paid, cancelled) as a new order is never invoiced yet
DOCUMENT_STATUSES = frozenset(value for value, _ in deal_properties.DOCUMENT_STATES)


class CallbackOutputs:
    """The output fields hubnox completes workflow callbacks with (the action definitions declare
    the same names)."""

    STATE = "hs_execution_state"
    DOCUMENT_NUMBER = "documentNumber"
    DOCUMENT_TYPE = "documentType"
    CUSTOMER_NUMBER = "customerNumber"
    ERROR_CODE = "errorCode"
    ERROR_MESSAGE = "errorMessage"


class Failure:
    """A run's failure as it is recorded and told."""

    def __init__(self, code: str, message: str, outcome: Outcome) -> None:
        self.code, self.message, self.outcome = code, message, outcome


class Reporter:
    """Describes runs' outcomes and uploads their PDFs; every dependency is injected."""

    def __init__(self, *, runs: RunLog, notes: NoteRenderer, signer: Signer, public_base: str) -> None:
        self._runs = runs
        self._render = notes
        self._signer = signer
        self._public_base = public_base.rstrip("/")

    def failure(self, current: Attempt, error: BaseException) -> Failure:
        """The failure's code, message and outcome: a note with the Replay link, the deal's sync status
        and last error, FAIL_CONTINUE on the workflow callback; a document run's outcome waits for
        Fortnox to confirm there is no document (`VerifyStep`)."""
        job = current.job
        code = error.code if isinstance(error, HubnoxError) else "INTERNAL"
        message = _message(error, current)
        logger.warning("run failed", extra={"run_id": job.run_id, "code": code, "attempt": current.attempt})
        document_type = (job.document_type or _default_type(current)) if job.kind == "create_document" else None
        note = None
        if job.object_id and job.object_type in ("deal", "company", "contact"):
            link = replay_url(self._signer, self._public_base, job.portal_id, job.run_id)
            body = failure_note(self._render, error=error, replay_url=link, run_id=job.run_id,
                                document_type=document_type, action=_action(job))
            note = NoteStep(object_type=job.object_type, object_id=job.object_id, body=body)
        updates, verify = [], None
        if job.kind == "create_document" and job.object_id and job.object_type in (None, "deal"):
            if _writes_deal_properties(current):
                updates.append(UpdateStep(name="properties", object_type=paths.DEALS, object_id=job.object_id,
                                          properties={deal_properties.SYNC_STATUS: "failed",
                                                      deal_properties.LAST_ERROR: message[:1000]}))
            if not _cannot_ask_fortnox(error) and document_type in ("invoice", "order"):
                verify = VerifyStep(deal_id=job.object_id, document_type=document_type,
                                    trigger_key=job.trigger_key or trigger_key("manual", document_type))
        outcome = Outcome(note=note, updates=updates, verify=verify,
                          callback=callback(job, {CallbackOutputs.STATE: "FAIL_CONTINUE",
                                                  CallbackOutputs.ERROR_CODE: code,
                                                  CallbackOutputs.ERROR_MESSAGE: message[:1000]}))
        return Failure(code, message, outcome)

    def pdf(self, current: Attempt, kind: DocumentKind, number: str, warnings: list[SyncWarning]) -> str | None:
        """The id of the document's PDF uploaded to HubSpot (private), once per run; or None with a warning."""
        return self.once(current, "pdf_file_id", lambda: _upload_pdf(current, kind, number, warnings))

    def once(self, current: Attempt, step: str, action: Callable[[], str | None]) -> str | None:
        """Do a step once per run: an earlier try that did it left its result on the run."""
        if step in current.progress:
            return current.progress[step]
        result = action()
        if result:
            current.progress[step] = str(result)
            self._runs.record_progress(current.job.portal_id, current.job.run_id, current.progress)
        return result


def callback(job: Job, outputs: Mapping[str, Any]) -> CallbackStep | None:
    """The job's workflow callback completed with `outputs`, when it has one."""
    return CallbackStep(callback_id=job.callback_id, outputs=dict(outputs)) if job.callback_id else None


def write_back(customer: CustomerResolution) -> list[UpdateStep]:
    """The customer number written back to its HubSpot record, when the portal asks for it."""
    back = customer.write_back
    if back is None:
        return []
    return [UpdateStep(name="write_back", object_type=back.object_type, object_id=back.object_id,
                       properties=dict(back.properties))]


def deal_update(current: Attempt, deal_id: str, kind: DocumentKind, document: Invoice | Order) -> list[UpdateStep]:
    """The deal's Fortnox properties after a successful run, when the portal asks for them."""
    if not current.portal_settings.write_back_deal_properties:
        return []
    return [UpdateStep(name="properties", object_type=paths.DEALS, object_id=deal_id,
                       properties=deal_values(kind, document))]


def deal_values(kind: DocumentKind, document: Invoice | Order) -> dict[str, Any]:
    """The deal's Fortnox properties after a successful run."""
    status = invoice_status(document) if isinstance(document, Invoice) else order_status(document)
    values: dict[str, Any] = {
        deal_properties.DOCUMENT_NUMBER: document.document_number or "",
        deal_properties.DOCUMENT_TYPE: kind.value,
        deal_properties.SYNC_STATUS: "succeeded",
        deal_properties.LAST_ERROR: None,
        deal_properties.CUSTOMER_NUMBER: document.customer_number,
    }
    if status in DOCUMENT_STATUSES:
        values[deal_properties.DOCUMENT_STATUS] = status
    return values


def _upload_pdf(current: Attempt, kind: DocumentKind, number: str, warnings: list[SyncWarning]) -> str | None:
    name = f"fortnox-{kind.value}-{number}.pdf"
    try:
        content = current.fortnox.preview_pdf(kind, number)
        return current.hubspot.upload_file(content, name, PDF_FOLDERS[kind.value], "PRIVATE").id
    except TransientError:
        if not current.last:
            raise  # the retry reports the recorded document, with its PDF
        warnings.append(SyncWarning(code="NO_PDF", message="The PDF could not be fetched from Fortnox or "
                                    "uploaded to HubSpot; open the document in Fortnox instead."))
    except UserFixableError as error:
        warnings.append(SyncWarning(code="NO_PDF", message=f"The PDF could not be attached: {error.message}"))
    return None


def _default_type(current: Attempt) -> str:
    return current.settings.default_document_type if current.settings else "invoice"


def _writes_deal_properties(current: Attempt) -> bool:
    return current.settings.write_back_deal_properties if current.settings else True


def _cannot_ask_fortnox(error: BaseException) -> bool:
    """Whether Fortnox cannot be asked about the deal's document now: its connection is broken."""
    return isinstance(error, ConnectionBrokenError) and error.system == "Fortnox"


def _action(job: Job) -> str | None:
    if job.kind == "sync_customer":
        return f"update this {job.object_type}'s Fortnox customer"
    return None


def _message(error: BaseException, current: Attempt) -> str:
    if isinstance(error, HubnoxError):
        text = error.message
        if isinstance(error, TransientError):
            text = f"Gave up after {current.attempt} tries: {text}"
        return f"{text} {error.hint}" if error.hint else text
    return "hubnox ran into an unexpected problem; it has been logged."
