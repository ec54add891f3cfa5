"""Telling a finished run's outcome everywhere it must be told, until HubSpot has it.

A run ends with an `Outcome`: the note for its CRM record (with the PDF already uploaded), the
properties to write (the deal's Fortnox properties, a customer number written back) and the
workflow callback to complete. The outcome is stored on the run, `delivery: pending`, before any of
it is told; then each step is told once. A step told is kept in the run's progress
(`told:<step>`), so nothing is told twice, whoever tells it next.

A step HubSpot does not take now (429, 5xx, a timeout, a connection the admin may repair) waits
for the next round: the run's job goes back on the queue as a follow-up (`Job.delivery_round`)
with a growing delay (`hubnox.jobs.backoff_seconds`, at most SQS's 15 minutes), and the follow-up
tries only the steps still untold. It keeps trying until HubSpot takes the step or its window is
certainly past: the callback's while the execution can still be completed (HubSpot keeps a blocked
execution waiting a week, `CALLBACK_WINDOW_SECONDS` allows a day more), the note's and the
properties' for `NOTE_WINDOW_SECONDS`. A step HubSpot refuses for good (the record is gone, the
callback unknown or completed already) is given up at once. A give-up stays on the run
(`gave_up:<step>` and `delivery: gave_up`, which the sync log shows), is logged, and counts in
the `OutcomesNotDelivered` metric, which the `OutcomesNotDeliveredAlarm` in template.yaml watches.

One truthful note per outcome:
- a success note is written once per document and record: the run that tells it first takes the
  note's lease (`note#<portal>#<record>#<document>`) for good, and a later run with the same
  document (another trigger adopting it, a replay) completes its callback and writes the properties
  but no second, identical note;
- a failed document run carries `verify`: before any of its outcome is told, the runner asks
  Fortnox whether the deal's document exists after all and, when it does, tells that success
  instead (`hubnox.sync.jobs.documents.CreateDocument.verify`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from hubnox.errors import ConnectionBrokenError, HubnoxError, TransientError
from hubnox.hubspot import paths
from hubnox.hubspot.models import AssociationInput
from hubnox.observability import logger, metrics
from hubnox.records import DeliveryState, DocumentType, ObjectType, Run
from hubnox.sync.ports import HubSpot, HubSpotWrites, Leases, RunLog

#: how long after a run was made its workflow callback can still be completed: HubSpot keeps a
#: blocked execution waiting a week (`hubnox.services.workflows.BLOCK_EXPIRATION`), plus a day
CALLBACK_WINDOW_SECONDS = 8 * 24 * 3600
#: how long after a run ended its note and properties are still worth writing
NOTE_WINDOW_SECONDS = 3 * 24 * 3600
#: how long a success note's lease keeps a second note for the same document off the record
NOTE_LEASE_SECONDS = 90 * 24 * 3600
#: HubSpot-defined association types from a note to a company and to a contact
NOTE_TO_COMPANY = 190
NOTE_TO_CONTACT = 202
#: the progress value of a success note another run wrote already
NOTED_BY_ANOTHER_RUN = "noted-by-another-run"
#: the progress key set before a note is written: a later round first looks for it on the record
NOTE_TRIED = "tried:note"


class NoteStep(BaseModel):
    """The note on the run's CRM record."""

    model_config = ConfigDict(frozen=True)

    object_type: ObjectType
    object_id: str
    body: str
    attachments: list[str] = Field(default_factory=list)
    #: a success note's document (`invoice:17`): one note per document and record
    document: str | None = None


class UpdateStep(BaseModel):
    """Properties to write on a CRM record."""

    model_config = ConfigDict(frozen=True)

    #: the step's name in the run's progress (`properties`, `write_back`)
    name: str
    #: the record's object type as the CRM API names it (`hubnox.hubspot.paths`)
    object_type: str
    object_id: str
    properties: dict[str, Any]


class CallbackStep(BaseModel):
    """The workflow execution to complete."""

    model_config = ConfigDict(frozen=True)

    callback_id: str
    outputs: dict[str, Any]


class VerifyStep(BaseModel):
    """A failed document run's deal, whose document Fortnox is asked for before the failure is told."""

    model_config = ConfigDict(frozen=True)

    deal_id: str
    document_type: DocumentType
    trigger_key: str


class Outcome(BaseModel):
    """What a finished run tells HubSpot."""

    model_config = ConfigDict(frozen=True)

    note: NoteStep | None = None
    updates: list[UpdateStep] = Field(default_factory=list)
    callback: CallbackStep | None = None
    verify: VerifyStep | None = None

    @classmethod
    def of(cls, run: Run) -> Outcome:
        return cls.model_validate(run.outcome or {})


def told(step: str) -> str:
    """The progress key of a step told."""
    return f"told:{step}"


def gave_up(step: str) -> str:
    """The progress key of a step given up."""
    return f"gave_up:{step}"


class Deliverer:
    """Tells outcomes on HubSpot, step by step, remembering each step told; dependencies injected."""

    def __init__(self, *, runs: RunLog, leases: Leases, clock: Callable[[], float] = time.time) -> None:
        self._runs = runs
        self._leases = leases
        self._clock = clock

    def tell(self, run: Run, hubspot: Callable[[], HubSpot], progress: dict[str, str]) -> Run:
        """Tell every untold step of the run's outcome once; answers the run as stored afterwards,
        its `delivery` saying whether anything still waits.

        `progress` is the run's progress, updated in place and stored after every step told.
        """
        outcome = Outcome.of(run)
        waiting: list[str] = []
        for name, window_ends, action in self._steps(run, outcome, hubspot, progress):
            if told(name) in progress or gave_up(name) in progress:
                continue
            try:
                progress[told(name)] = action() or "done"
            except (TransientError, ConnectionBrokenError) as error:
                if self._clock() < window_ends:
                    waiting.append(name)
                    logger.warning("outcome step waits for the next round",
                                   extra={"run_id": run.run_id, "step": name, "error": error.message[:300]})
                    continue
                self._give_up(run, name, error, progress, "its window passed")
            except HubnoxError as error:
                self._give_up(run, name, error, progress, "HubSpot refused it")
            except Exception as error:
                logger.exception("outcome step failed unexpectedly", extra={"run_id": run.run_id, "step": name})
                if self._clock() < window_ends:
                    waiting.append(name)
                    continue
                self._give_up(run, name, error, progress, "its window passed")
            self._runs.record_progress(run.portal_id, run.run_id, progress)
        state: DeliveryState = ("pending" if waiting else
                                "gave_up" if any(key.startswith("gave_up:") for key in progress) else "delivered")
        return self._runs.record_delivery(run.portal_id, run.run_id, progress, state)

    def _steps(self, run: Run, outcome: Outcome, hubspot: Callable[[], HubSpot], progress: dict[str, str],
               ) -> Iterator[tuple[str, float, Callable[[], str | None]]]:
        ended = run.finished_at or run.created_at
        if outcome.note is not None:
            note = outcome.note
            yield "note", ended + NOTE_WINDOW_SECONDS, lambda: self._note(run, note, hubspot(), progress)
        for update in outcome.updates:
            yield update.name, ended + NOTE_WINDOW_SECONDS, lambda update=update: hubspot().update(  # type: ignore[misc]
                update.object_type, update.object_id, update.properties).id
        if outcome.callback is not None:
            callback = outcome.callback
            yield "callback", run.created_at + CALLBACK_WINDOW_SECONDS, lambda: _complete(hubspot(), callback)

    def _note(self, run: Run, note: NoteStep, hubspot: HubSpot, progress: dict[str, str]) -> str:
        """Write the note once: a success note another run wrote for the same document is not written
        again, nor one an earlier round wrote when its answer was lost (a timeout, a worker that died)."""
        if note.document is not None:
            lease = f"note#{run.portal_id}#{note.object_type}#{note.object_id}#{note.document}"
            if not self._leases.acquire(lease, run.run_id, NOTE_LEASE_SECONDS):
                logger.info("the document's success note is on the record already", extra={"run_id": run.run_id})
                return NOTED_BY_ANOTHER_RUN
        if NOTE_TRIED in progress and (written := _written_before(hubspot, note)) is not None:
            logger.info("the note an earlier round wrote is on the record", extra={"run_id": run.run_id})
            return written
        progress[NOTE_TRIED] = "1"
        self._runs.record_progress(run.portal_id, run.run_id, progress)
        if note.object_type == "deal":
            return hubspot.create_note(note.object_id, note.body, note.attachments).id
        type_id = NOTE_TO_COMPANY if note.object_type == "company" else NOTE_TO_CONTACT
        when = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self._clock()))
        return hubspot.create(paths.NOTES, {"hs_timestamp": when, "hs_note_body": note.body},
                              [AssociationInput(note.object_id, type_id)]).id

    @staticmethod
    def _give_up(run: Run, step: str, error: BaseException, progress: dict[str, str], why: str) -> None:
        code = error.code if isinstance(error, HubnoxError) else type(error).__name__
        progress[gave_up(step)] = code
        logger.error("outcome step given up", extra={"run_id": run.run_id, "portal_id": run.portal_id,
                                                     "step": step, "code": code, "why": why})
        metrics.add_metric(name="OutcomesNotDelivered", unit=MetricUnit.Count, value=1)


def _written_before(hubspot: HubSpot, note: NoteStep) -> str | None:
    """The id of a note on the record with the same text as `note`, or None."""
    ids = [record.id for record in hubspot.associations(note.object_type, note.object_id, paths.NOTES)]
    if not ids:
        return None
    wanted = " ".join(note.body.split())
    for found in hubspot.batch_read(paths.NOTES, ids, ["hs_note_body"]).found:
        if " ".join((found.prop("hs_note_body") or "").split()) == wanted:
            return found.id
    return None


def _complete(hubspot: HubSpotWrites, callback: CallbackStep) -> None:
    hubspot.complete_callback(callback.callback_id, callback.outputs)
