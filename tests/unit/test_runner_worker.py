"""The worker function: each SQS record is one job for the runner; a job that will be retried is
hidden for a growing backoff first, and a malformed one fails its record with a clear log line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubnox.errors import JobExhausted, TransientError
from hubnox.jobs import LAST_TRY, MAX_ATTEMPTS, Job, backoff_seconds
from hubnox.records import Run
from sandbox.gateway import read_template
from tests.support.functions import REPO_ROOT, SAMPLE_PORTAL, sample_event, world_on_moto


class FakeRunner:
    """Records what the worker asks of the runner; fails the runs it is told to."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.calls: list[tuple[Job, int, int]] = []

    def run(self, job: Job, attempt: int = 1, max_attempts: int = MAX_ATTEMPTS) -> Run:
        self.calls.append((job, attempt, max_attempts))
        if self.failure is not None:
            raise self.failure
        return Run(run_id=job.run_id, portal_id=job.portal_id, kind=job.kind, trigger=job.trigger,
                   status="succeeded", created_at=0.0)


class RecordingSqs:
    """The moto SQS client, with the visibility changes the worker asks for written down."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.visibility: list[dict[str, Any]] = []

    def change_message_visibility(self, **request: Any) -> Any:
        self.visibility.append(request)
        return self._sqs.change_message_visibility(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)


def job(run_id: str = "01JDQ7Z5M3X8R2K9V4T6W0B1C7") -> Job:
    return Job(run_id=run_id, portal_id=SAMPLE_PORTAL, kind="create_document", trigger="workflow",
               object_type="deal", object_id="904", document_type="invoice", trigger_key="workflow:invoice")


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        yield world


def sqs_event(world: Any, bodies: list[str], receive_count: int = 1) -> dict[str, Any]:
    """The event Lambda's event source sends for messages really on the moto queue."""
    for body in bodies:
        world.sqs.send_message(QueueUrl=world.queue_url, MessageBody=body)
    received = world.sqs.receive_message(QueueUrl=world.queue_url, MaxNumberOfMessages=10)["Messages"]
    template = sample_event("worker_sqs.json")["Records"][0]
    records = []
    for message in received:
        record = json.loads(json.dumps(template))
        record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"], body=message["Body"])
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(record)
    return {"Records": records}


def failed_ids(answer: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in answer["batchItemFailures"]]


def test_each_job_goes_to_the_runner_with_its_try_number_and_its_last_try_one_short_of_the_dead_letter_limit(world):
    runner = FakeRunner()
    vars(world.container)["job_runner"] = runner

    answer = world.invoke("worker", sqs_event(world, [job().to_message()], receive_count=3))

    assert answer == {"batchItemFailures": []}
    [(received, attempt, limit)] = runner.calls
    assert (received, attempt, limit) == (job(), 3, LAST_TRY)
    assert LAST_TRY == MAX_ATTEMPTS - 1  # the spare delivery is for a last try whose worker died


def test_a_job_that_will_be_retried_is_hidden_for_its_backoff_and_fails_only_its_record(world):
    vars(world.container)["job_runner"] = FakeRunner(TransientError("Fortnox answered 503", retry_after=5))
    sqs = RecordingSqs(world.sqs)
    vars(world.container)["sqs"] = sqs
    event = sqs_event(world, [job().to_message()], receive_count=2)

    answer = world.invoke("worker", event)

    assert failed_ids(answer) == [event["Records"][0]["messageId"]]
    assert [change["VisibilityTimeout"] for change in sqs.visibility] == [backoff_seconds(2)]
    assert sqs.visibility[0]["ReceiptHandle"] == event["Records"][0]["receiptHandle"]


def test_an_exhausted_job_fails_its_record_at_once_so_it_moves_to_the_dead_letter_queue(world, capsys):
    vars(world.container)["job_runner"] = FakeRunner(JobExhausted("Run failed on its last try (5 of 5)."))
    sqs = RecordingSqs(world.sqs)
    vars(world.container)["sqs"] = sqs
    event = sqs_event(world, [job().to_message()], receive_count=MAX_ATTEMPTS)

    answer = world.invoke("worker", event)

    assert failed_ids(answer) == [event["Records"][0]["messageId"]]
    assert [change["VisibilityTimeout"] for change in sqs.visibility] == [0]  # no backoff: nothing comes after
    published = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(metric.get("JobsExhausted") in (1.0, [1.0]) for metric in published), published


def test_a_malformed_job_fails_its_record_with_a_clear_log_line_and_the_others_run(world, caplog):
    runner = FakeRunner()
    vars(world.container)["job_runner"] = runner
    sqs = RecordingSqs(world.sqs)
    vars(world.container)["sqs"] = sqs
    event = sqs_event(world, ['{"kind": "no_such_job"}', job().to_message()])
    malformed = next(r["messageId"] for r in event["Records"] if "no_such_job" in r["body"])

    answer = world.invoke("worker", event)

    assert failed_ids(answer) == [malformed]
    assert len(runner.calls) == 1
    assert sqs.visibility == []  # nothing to wait for: it goes on to the dead-letter queue
    assert any(record.getMessage().startswith("malformed job") and getattr(record, "message_id", None) == malformed
               for record in caplog.records)


def test_the_runner_retries_as_often_as_the_queue_delivers_before_the_dead_letter_queue():
    queue = read_template(REPO_ROOT / "template.yaml")["Resources"]["JobsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_ATTEMPTS


def test_the_worker_may_set_its_backoff_and_send_follow_ups_on_the_jobs_queue():
    worker = read_template(REPO_ROOT / "template.yaml")["Resources"]["WorkerFunction"]["Properties"]
    statements = [s for p in worker["Policies"] if isinstance(p, dict) for s in p.get("Statement", [])]
    assert {"Effect": "Allow", "Action": ["sqs:ChangeMessageVisibility", "sqs:SendMessage"],
            "Resource": {"Fn::GetAtt": ["JobsQueue", "Arn"]}} in statements
