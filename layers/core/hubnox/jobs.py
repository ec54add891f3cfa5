"""Jobs: what the entry points (workflow action, card, replay, poller, settings) hand the worker.

An entry point describes the work as a `hubnox.records.RunRequest` and submits it: the request is
first recorded as a queued run, then sent to the SQS jobs queue as a `Job` (the request and the
run id) in JSON. The run id doubles as the job id, so a job delivered twice is one run, and the
worker can always find the run it reports on. The queue's side of retries lives here too: how
many times SQS delivers a job (`MAX_ATTEMPTS`) and how long a failed try hides it (`backoff_seconds`).

Trigger keys name the rule a document is made for; a deal gets at most one Fortnox document per
trigger key (the deal-link claim in `hubnox.store.deal_links`):
- `workflow:<document type>`: the create-document workflow action;
- `stage:<stage id>:<document type>`: the poller, for a deal entering a trigger stage;
- `manual:<document type>`: the card's "Create invoice now" and the settings page.
A replay reuses the trigger key of the run it replays, so after a success it finds the document
already made and reports it instead of making another.
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ConfigDict, ValidationError

from hubnox.errors import BadRequestError
from hubnox.observability import logger
from hubnox.records import DocumentType as DocumentType
from hubnox.records import ObjectType as ObjectType
from hubnox.records import Run, RunIdentity, RunRequest
from hubnox.signals import count_run
from hubnox.sync.ports import RunLog

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class Job(RunRequest, RunIdentity):
    """One unit of work for the worker, as it travels on the queue: a run's id and its request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: set on a follow-up that only tells a finished run's outcome: which round of telling it is
    delivery_round: int | None = None
    #: the tries this job spent before it was sent again without spending one (turned away by
    #: admission, or its rate budget booked ahead: `hubnox.sync.runner`); the queue's receive
    #: count starts afresh with the new message, so the runner adds these to it
    spent_tries: int | None = None
    #: when a job sent back that way may start (epoch seconds): its turn on its Fortnox company's
    #: admission schedule (`hubnox.sync.admission`)
    admit_at: float | None = None

    @classmethod
    def for_run(cls, run: Run) -> Job:
        """The job that carries out `run`."""
        return cls(run_id=run.run_id, **run.request.model_dump())

    def to_message(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_message(cls, body: str) -> Job:
        """Parse a queue message body; pydantic's ValidationError says what is wrong with it."""
        return cls.model_validate(json.loads(body))


def trigger_key(rule: str, document_type: str) -> str:
    """The trigger key for a rule (`workflow`, `stage:<id>`, `manual`) and a document type."""
    return f"{rule}:{document_type}"


#: how many times SQS delivers a job before it moves it to the dead-letter queue: the jobs queue's
#: `maxReceiveCount` in template.yaml (a test holds the two equal)
MAX_ATTEMPTS = 5
#: the try on which a run gives up, failing with its note: one less than the queue's deliveries, so
#: a last try whose worker died (its process gone, nothing reported) is tried once more
LAST_TRY = MAX_ATTEMPTS - 1
#: the backoff before try n+1 is BASE * 2**(n-1) seconds, at most MAX, and never less than the
#: API's Retry-After; SQS hides a message for at most 12 hours
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 900
SQS_MAX_VISIBILITY_SECONDS = 12 * 3600


def backoff_seconds(attempt: int, retry_after: float | None = None) -> int:
    """How long the queue should hide a job after its try number `attempt` failed."""
    wait = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (max(1, attempt) - 1))
    return int(min(SQS_MAX_VISIBILITY_SECONDS, max(wait, math.ceil(retry_after or 0))))


def parse_job(record: SQSRecord) -> Job:
    """The job a record carries; a malformed one is logged and fails its record (it ends in the DLQ)."""
    try:
        return Job.from_message(record.body)
    except (ValueError, ValidationError) as exc:
        logger.error("malformed job: it will be retried and then wait in the dead-letter queue",
                     extra={"message_id": record.message_id, "error": str(exc)[:500]})
        raise BadRequestError(f"The job in message {record.message_id} is malformed: {exc}") from exc


def attempt_of(record: SQSRecord) -> int:
    """Which try this is: SQS's ApproximateReceiveCount (1 on the first delivery)."""
    try:
        return max(1, int(record.attributes.approximate_receive_count))
    except (TypeError, ValueError):
        return 1


class JobQueue:
    """Sends jobs to the SQS jobs queue."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, job: Job, *, delay_seconds: int = 0) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=job.to_message(), DelaySeconds=delay_seconds,
                               MessageAttributes={"kind": {"DataType": "String", "StringValue": job.kind}})


#: the error code of a run whose job could not be sent: its trigger tries again (HubSpot redelivers
#: the workflow execution, the poller's next tick sends the deal, the card says so to the user)
NOT_QUEUED = "NOT_QUEUED"


class Booking(Protocol):
    """Books a new job's turn on its Fortnox company's schedule (`hubnox.sync.admission.Admission`)."""

    def book(self, job: Job) -> tuple[Job, int]: ...


def submit(runs: RunLog, queue: JobQueue, request: RunRequest, *, replay_of: str | None = None,
           run_id: str | None = None, delay_seconds: int = 0, admission: Booking | None = None) -> Run:
    """Record a queued run and send its job; the run is there before the worker can see the job.

    `run_id` is a replay's claimed id (`hubnox.services.replay_claim`); `delay_seconds` holds the
    job back (at most SQS's 900), so a batch of replays spreads over the portal's Fortnox budget.
    With `admission` the job books its turn first and is held back until about then (the longer of
    the two delays): a backlog waits in the queue rather than in the workers. A booking that fails
    is logged and the job sent without one; the worker books it when it arrives.

    When the job cannot be sent, the run is marked failed with `NOT_QUEUED` (so nothing mistakes it
    for a run in progress) and the error is raised for the trigger to try again.
    """
    run = runs.create(request, replay_of=replay_of, run_id=run_id)
    job = Job.for_run(run)
    if admission is not None:
        try:
            job, turn = admission.book(job)
            delay_seconds = max(delay_seconds, turn)
        except Exception:
            logger.warning("the job's turn could not be booked; the worker books it", exc_info=True,
                           extra={"run_id": run.run_id})
    try:
        queue.send(job, delay_seconds=delay_seconds)
    except Exception:
        logger.exception("the job could not be queued", extra={"run_id": run.run_id})
        with contextlib.suppress(Exception):
            count_run(runs.fail(run.portal_id, run.run_id, NOT_QUEUED,
                                "hubnox could not queue this run; its trigger tries again."))
        raise
    return run


class Submit(Protocol):
    """`submit` with its run store and queue bound."""

    def __call__(self, request: RunRequest, *, replay_of: str | None = None, run_id: str | None = None,
                 delay_seconds: int = 0) -> Run: ...
