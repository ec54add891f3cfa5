"""Jobs: what the entry points (workflow action, card, replay, poller, settings) hand the worker.

Every job is first recorded as a queued run, then sent to the SQS jobs queue; the message body is
the `Job` as JSON. The run id doubles as the job id, so a job delivered twice is one run, and the
worker can always find the run it reports on.

Trigger keys name the rule a document is made for; a deal gets at most one Fortnox document per
trigger key (the deal-link claim in `hubnox.store.deal_links`):
- `workflow:<document type>`: the create-document workflow action;
- `stage:<stage id>:<document type>`: the poller, for a deal entering a trigger stage;
- `manual:<document type>`: the card's "Create invoice now" and the settings page.
A replay reuses the trigger key of the run it replays, so after a success it finds the document
already made and reports it instead of making another.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from hubnox.records import Run, RunKind, RunTrigger
from hubnox.sync.ports import RunLog

DocumentType = Literal["invoice", "order"]
ObjectType = Literal["deal", "company", "contact"]


class Job(BaseModel):
    """One unit of work for the worker, as it travels on the queue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    portal_id: str
    kind: RunKind
    trigger: RunTrigger
    object_type: ObjectType | None = None
    object_id: str | None = None
    #: None: the portal's default document type
    document_type: DocumentType | None = None
    trigger_key: str | None = None
    #: the HubSpot workflow execution to complete when the job ends
    callback_id: str | None = None
    #: the Fortnox print template for the document (None: the customer's default template)
    print_template: str | None = None

    @classmethod
    def for_run(cls, run: Run) -> Job:
        """The job that carries out `run`."""
        return cls(run_id=run.run_id, portal_id=run.portal_id, kind=run.kind, trigger=run.trigger,
                   object_type=run.object_type,
                   object_id=run.object_id, document_type=run.document_type,
                   trigger_key=run.trigger_key, callback_id=run.callback_id, print_template=run.print_template)

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
#: the backoff before try n+1 is BASE * 2**(n-1) seconds, at most MAX, and never less than the
#: API's Retry-After; SQS hides a message for at most 12 hours
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 900
SQS_MAX_VISIBILITY_SECONDS = 12 * 3600


def backoff_seconds(attempt: int, retry_after: float | None = None) -> int:
    """How long the queue should hide a job after its try number `attempt` failed."""
    wait = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (max(1, attempt) - 1))
    return int(min(SQS_MAX_VISIBILITY_SECONDS, max(wait, math.ceil(retry_after or 0))))


class JobQueue:
    """Sends jobs to the SQS jobs queue."""

    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self._url = queue_url

    def send(self, job: Job, *, delay_seconds: int = 0) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=job.to_message(), DelaySeconds=delay_seconds,
                               MessageAttributes={"kind": {"DataType": "String", "StringValue": job.kind}})


def submit(
    runs: RunLog,
    queue: JobQueue,
    portal_id: str,
    kind: RunKind,
    trigger: RunTrigger,
    *,
    object_type: ObjectType | None = None,
    object_id: str | None = None,
    document_type: DocumentType | None = None,
    trigger_key: str | None = None,
    callback_id: str | None = None,
    replay_of: str | None = None,
    print_template: str | None = None,
) -> Run:
    """Record a queued run and send its job; the run is there before the worker can see the job."""
    run = runs.create(portal_id, kind, trigger, object_type=object_type, object_id=object_id,
                      document_type=document_type, trigger_key=trigger_key, callback_id=callback_id,
                      replay_of=replay_of, print_template=print_template)
    queue.send(Job.for_run(run))
    return run


class Submit(Protocol):
    """`submit` with its run store and queue bound."""

    def __call__(self, portal_id: str, kind: RunKind, trigger: RunTrigger, *, object_type: ObjectType | None = None,
                 object_id: str | None = None, document_type: DocumentType | None = None,
                 trigger_key: str | None = None, callback_id: str | None = None, replay_of: str | None = None,
                 print_template: str | None = None) -> Run: ...
