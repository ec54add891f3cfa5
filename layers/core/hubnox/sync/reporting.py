"""Reporting a run where the user looks: notes on the CRM record, the PDF, the deal's Fortnox
properties, the workflow callback, and the run's failure.

Every step is best effort: a failure is logged and the run's outcome stands, except that before
the last attempt a transient failure is re-raised so the queue retries the run (the retry finds
the document recorded and reports it, never making another). Steps that must not happen twice (a
note, the PDF upload) are done once per run: their result is kept on the run's progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from hubnox.errors import HubnoxError, TransientError, UserFixableError
from hubnox.fortnox.models import DocumentKind, Invoice, Order
from hubnox.fortnox.statuses import invoice_status, order_status
from hubnox.hubspot import paths
from hubnox.hubspot import properties as deal_properties
from hubnox.hubspot.models import AssociationInput
from hubnox.jobs import Job
from hubnox.links import replay_url
from hubnox.observability import logger
from hubnox.records import Run
from hubnox.signing import Signer
from hubnox.sync.attempt import Attempt
from hubnox.sync.model import CustomerResolution, SyncWarning
from hubnox.sync.notes import failure_note
from hubnox.sync.ports import NoteRenderer, RunLog

#: HubSpot file-manager folders for the PDFs (private files)
PDF_FOLDERS = {"invoice": "/hubnox/invoices", "order": "/hubnox/orders"}
#: HubSpot-defined association types from a note to a company and to a contact
NOTE_TO_COMPANY = 190
NOTE_TO_CONTACT = 202
#: the values of the deal's document-status property (hubnox.hubspot.properties)
DOCUMENT_STATUSES = frozenset({"draft", "booked", "sent", "paid", "cancelled"})


class CallbackOutputs:
    """The output fields hubnox completes workflow callbacks with (the action definitions declare
    the same names)."""

    STATE = "hs_execution_state"
    DOCUMENT_NUMBER = "documentNumber"
    DOCUMENT_TYPE = "documentType"
    CUSTOMER_NUMBER = "customerNumber"
    ERROR_CODE = "errorCode"
    ERROR_MESSAGE = "errorMessage"


class Reporter:
    """Reports runs on HubSpot and records their failures; every dependency is injected."""

    def __init__(self, *, runs: RunLog, notes: NoteRenderer, signer: Signer, public_base: str,
                 clock: Callable[[], float]) -> None:
        self._runs = runs
        self._render = notes
        self._signer = signer
        self._public_base = public_base.rstrip("/")
        self._clock = clock

    def fail(self, current: Attempt, error: BaseException) -> Run:
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
            best_effort(current, "write the failure note",
                        lambda: self.once(current, f"failure_note:{code}", lambda: self._note(current, body)))
        if job.kind == "create_document" and job.object_id and _writes_deal_properties(current):
            best_effort(current, "write the deal's sync status", lambda: current.hubspot.update(
                paths.DEALS, job.object_id or "", {deal_properties.SYNC_STATUS: "failed",
                                                   deal_properties.LAST_ERROR: message[:1000]}))
        self.complete(current, {CallbackOutputs.STATE: "FAIL_CONTINUE", CallbackOutputs.ERROR_CODE: code,
                                CallbackOutputs.ERROR_MESSAGE: message[:1000]})
        return self._runs.fail(job.portal_id, job.run_id, code, message, {"attempts": current.attempt})

    def deal_note(self, current: Attempt, deal_id: str, body: str, attachment: str | None) -> str | None:
        """Write the run's note on the deal, with the PDF attached when there is one; once per run."""
        return best_effort(current, "write the note", lambda: self.once(
            current, "note_id", lambda: current.hubspot.create_note(
                deal_id, body, [attachment] if attachment else []).id))

    def pdf(self, current: Attempt, kind: DocumentKind, number: str, warnings: list[SyncWarning]) -> str | None:
        """The id of the document's PDF uploaded to HubSpot (private), once per run; or None with a warning."""
        return self.once(current, "pdf_file_id", lambda: _upload_pdf(current, kind, number, warnings))

    @staticmethod
    def write_back(current: Attempt, customer: CustomerResolution) -> None:
        """Write the customer number back to its HubSpot record, when the portal asks for it."""
        if customer.write_back is not None:
            back = customer.write_back
            best_effort(current, "write the customer number back", lambda: current.hubspot.update(
                back.object_type, back.object_id, back.properties))

    @staticmethod
    def deal_properties(current: Attempt, deal_id: str, kind: DocumentKind, document: Invoice | Order) -> None:
        """Write the deal's Fortnox properties after a successful run, when the portal asks for it."""
        if current.portal_settings.write_back_deal_properties:
            best_effort(current, "write the deal's Fortnox properties", lambda: current.hubspot.update(
                paths.DEALS, deal_id, deal_values(kind, document)))

    def complete(self, current: Attempt, outputs: Mapping[str, Any]) -> None:
        """Complete the job's workflow callback with `outputs`, when it has one."""
        callback_id = current.job.callback_id
        if callback_id:
            best_effort(current, "complete the workflow callback",
                        lambda: current.hubspot.complete_callback(callback_id, outputs))

    def once(self, current: Attempt, step: str, action: Callable[[], str | None]) -> str | None:
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

    def _note(self, current: Attempt, body: str) -> str:
        job = current.job
        if job.object_type == "deal":
            return current.hubspot.create_note(job.object_id or "", body).id
        type_id = NOTE_TO_COMPANY if job.object_type == "company" else NOTE_TO_CONTACT
        when = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self._clock()))
        return current.hubspot.create(paths.NOTES, {"hs_timestamp": when, "hs_note_body": body},
                                      [AssociationInput(job.object_id or "", type_id)]).id


def best_effort(current: Attempt, what: str, action: Callable[[], Any]) -> Any:
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
