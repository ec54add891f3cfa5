"""Jobs: every job is a recorded run first, and travels on the queue as strict JSON."""

import json

import pytest
from moto import mock_aws
from pydantic import ValidationError

from hubnox.jobs import Job, JobQueue, backoff_seconds, submit, trigger_key
from hubnox.records import RunRequest
from hubnox.store.runs import RunStore
from hubnox.store.table import Table, create_table
from tests.support.aws import REGION, TABLE, moto_clients


@pytest.fixture
def world():
    import boto3

    dynamodb, _ = moto_clients()
    with mock_aws():
        create_table(dynamodb, TABLE)
        sqs = boto3.client("sqs", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        yield RunStore(Table(dynamodb, TABLE), clock=lambda: 1_800_000_000.0), JobQueue(sqs, url), sqs, url


def test_submitting_records_a_queued_run_and_sends_its_job(world):
    runs, queue, sqs, url = world
    run = submit(runs, queue, RunRequest(portal_id="42", kind="create_document", trigger="workflow", object_type="deal",
                                         object_id="901", document_type="invoice",
                                         trigger_key=trigger_key("workflow", "invoice"), callback_id="ap-42-1"))
    stored = runs.get("42", run.run_id)
    assert stored.status == "queued" and stored.trigger_key == "workflow:invoice"

    message = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    job = Job.from_message(message["Body"])
    assert job == Job.for_run(stored)
    assert message["MessageAttributes"]["kind"]["StringValue"] == "create_document"


def test_a_job_message_with_unknown_fields_or_kinds_is_refused():
    good = {"run_id": "R1", "portal_id": "42", "kind": "sync_customer", "trigger": "card"}
    assert Job.from_message(json.dumps(good)).kind == "sync_customer"
    with pytest.raises(ValidationError):
        Job.from_message(json.dumps({**good, "kind": "delete_everything"}))
    with pytest.raises(ValidationError):
        Job.from_message(json.dumps({**good, "surprise": 1}))
    with pytest.raises(ValueError):
        Job.from_message("{not json")


def test_a_run_request_travels_as_the_same_message_and_comes_back_whole(world):
    runs, queue, sqs, url = world
    request = RunRequest(portal_id="42", kind="create_document", trigger="workflow", object_type="deal",
                         object_id="901", document_type="order", trigger_key="workflow:order",
                         callback_id="ap-42-1", print_template="ENG")
    run = submit(runs, queue, request, replay_of="01JDOLD0000000000000000001")
    body = sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]
    assert body == (f'{{"run_id":"{run.run_id}","portal_id":"42","kind":"create_document","trigger":"workflow",'
                    '"object_type":"deal","object_id":"901","document_type":"order","trigger_key":"workflow:order",'
                    '"callback_id":"ap-42-1","print_template":"ENG"}')
    job = Job.from_message(body)
    assert job.request == request == runs.get("42", run.run_id).request
    assert runs.get("42", run.run_id).replay_of == "01JDOLD0000000000000000001"


# -- backoff -----------------------------------------------------------------------------------------


def test_the_backoff_doubles_with_each_try_up_to_its_ceiling():
    assert [backoff_seconds(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [30, 60, 120, 240, 480, 900, 900]


def test_the_backoff_is_never_shorter_than_the_apis_retry_after_nor_longer_than_sqs_allows():
    assert backoff_seconds(1, retry_after=95.2) == 96
    assert backoff_seconds(1, retry_after=86_400) == 12 * 3600
