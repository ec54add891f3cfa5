"""Local AWS plays Lambda's SQS event source and EventBridge's schedule as AWS does, from template.yaml."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sandbox.alarms import evaluate_alarms
from sandbox.aws import (
    LOCAL_CONCURRENCY_CAP,
    NO_VALUE,
    Intrinsics,
    QueueFeeder,
    UnresolvableValue,
    create_resources,
    event_source_concurrency,
    failed_message_ids,
    schedule_interval,
    scheduled_event,
    sqs_record,
)
from sandbox.gateway import REPO_ROOT, FunctionSpec, LocalFunction, load_functions, read_template
from sandbox.stack import template_environment

EVENTS = REPO_ROOT / "events"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return read_template()


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def fake_worker(handler: Any) -> LocalFunction:
    spec = FunctionSpec(logical_id="WorkerFunction", name="worker", code_dir=Path("/nowhere"),
                        handler="app.lambda_handler", timeout=120, memory=1024, routes=())
    return LocalFunction(spec, handler=handler)


# -- events ------------------------------------------------------------------------------------------


def test_an_sqs_record_has_the_shape_lambda_sends():
    message = {"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": '{"kind":"x"}', "MD5OfBody": "abc",
               "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "SenderId": "s",
                              "ApproximateFirstReceiveTimestamp": "2"}}
    record = sqs_record(message, "arn:aws:sqs:eu-north-1:123456789012:hubnox-JobsQueue")
    expected = sample("worker_sqs.json")["Records"][0]
    assert sorted(record) == sorted(expected)
    assert sorted(record["attributes"]) == sorted(expected["attributes"])
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "eu-north-1")
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert (record["messageId"], record["receiptHandle"], record["body"]) == ("m-1", "r-1", '{"kind":"x"}')


def test_message_attributes_take_lambdas_camel_case():
    message = {"MessageId": "m", "ReceiptHandle": "r", "Body": "{}",
               "MessageAttributes": {"tenant": {"StringValue": "102670506", "DataType": "String"}}}
    assert sqs_record(message, "arn")["messageAttributes"] == {"tenant": {
        "stringValue": "102670506", "binaryValue": None, "stringListValues": [], "binaryListValues": [],
        "dataType": "String"}}


def test_a_scheduled_event_has_the_shape_eventbridge_sends():
    event = scheduled_event("hubnox-PollerFunctionSchedule", now=1_795_771_000)
    assert sorted(event) == sorted(sample("poller_schedule.json"))
    assert event["detail-type"] == "Scheduled Event"
    assert event["time"] == "2026-11-27T09:16:40Z"
    assert event["resources"] == ["arn:aws:events:eu-north-1:123456789012:rule/hubnox-PollerFunctionSchedule"]


@pytest.mark.parametrize(("expression", "seconds"), [("rate(2 minutes)", 120), ("rate(1 minute)", 60),
                                                     ("rate(1 hour)", 3600), ("rate(3 days)", 259200)])
def test_rate_schedules_tick_every_so_many_seconds(expression, seconds):
    assert schedule_interval(expression) == seconds


def test_cron_schedules_are_not_played_locally():
    with pytest.raises(UnresolvableValue):
        schedule_interval("cron(0 8 * * ? *)")


# -- batch results -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("result", "failed"), [
    (None, set()),
    ({}, set()),
    ({"batchItemFailures": []}, set()),
    ({"batchItemFailures": None}, set()),
    ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
    ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
    ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
    ({"batchItemFailures": [{"id": "a"}]}, {"a", "b"}),
    ({"batchItemFailures": "a"}, {"a", "b"}),
    ("not a response", {"a", "b"}),
])
def test_batch_results_are_read_as_lambda_reads_them(result, failed):
    assert failed_message_ids(result, ["a", "b"]) == failed


def test_the_worker_fails_each_record_whose_job_it_cannot_run(template):
    worker = load_functions(template)["worker"]
    event = sample("worker_sqs.json")
    event["Records"].append({**event["Records"][0], "messageId": "not-json", "body": "{oops"})
    result = worker.invoke(event)
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    assert failed == [r["messageId"] for r in event["Records"]]


class RecordingRunner:
    """Stands in for the job runner: records the jobs it is given and runs none."""

    def __init__(self) -> None:
        self.jobs: list[Any] = []

    def run(self, job: Any, attempt: int, max_attempts: int) -> None:
        self.jobs.append((job, attempt, max_attempts))


def test_the_worker_reports_only_the_records_that_failed(template, monkeypatch):
    worker = load_functions(template)["worker"]
    event = sample("worker_sqs.json")
    event["Records"][1] = {**event["Records"][1], "body": "{oops"}
    worker._handler()  # loads functions/worker/app.py, as hubnox_function_worker
    runner = RecordingRunner()
    # The container builds its runner on first use; give it this one instead (setattr would build it).
    monkeypatch.setitem(worker.container().__dict__, "job_runner", runner)
    result = worker.invoke(event)
    assert [(job.kind, job.object_id, attempt) for job, attempt, _ in runner.jobs] == [("create_document", "904", 1)]
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}


# -- resources from the template ---------------------------------------------------------------------


def test_intrinsics_resolve_refs_subs_and_attributes(template):
    intrinsics = Intrinsics(template, stack_name="hubnox-test",
                            resources={"JobsDLQ": {"Ref": "url", "Arn": "arn:dlq", "QueueName": "dlq"}})
    assert intrinsics.resolve({"Ref": "SecretsName"}) == "hubnox/secrets"
    assert intrinsics.resolve({"Ref": "AWS::Region"}) == "eu-north-1"
    assert intrinsics.resolve({"Fn::Sub": "alias/${AWS::StackName}-tokens"}) == "alias/hubnox-test-tokens"
    assert intrinsics.resolve({"Fn::Sub": "${JobsDLQ.Arn}!"}) == "arn:dlq!"
    assert intrinsics.resolve({"Fn::GetAtt": ["JobsDLQ", "QueueName"]}) == "dlq"
    with pytest.raises(UnresolvableValue):
        intrinsics.resolve({"Ref": "HubSpotClientId"})  # no default: a deployment must give it
    with pytest.raises(UnresolvableValue):
        intrinsics.resolve({"Fn::ImportValue": "elsewhere"})


def test_intrinsics_resolve_conditions_and_leave_out_no_value(template):
    plain = Intrinsics(template)
    local = Intrinsics(template, parameters={"LocalAwsEndpointUrl": "http://host.docker.internal:8003",
                                             "AlarmEmail": "ops@example.com"})
    assert plain.resolve({"Fn::If": ["HasAlarmEmail", "a", "b"]}) == "b"
    assert local.resolve({"Fn::If": ["HasAlarmEmail", "a", "b"]}) == "a"
    endpoint = template["Globals"]["Function"]["Environment"]["Variables"]["AWS_ENDPOINT_URL"]
    assert plain.resolve(endpoint) is NO_VALUE
    assert "AWS_ENDPOINT_URL" not in plain.resolve({"AWS_ENDPOINT_URL": endpoint, "LOG_LEVEL": "INFO"})
    assert plain.resolve([endpoint, "kept"]) == ["kept"]
    assert local.resolve({"AWS_ENDPOINT_URL": endpoint}) == {"AWS_ENDPOINT_URL": "http://host.docker.internal:8003"}
    assert local.condition("UsesLocalAws") and not plain.condition("UsesLocalAws")
    with pytest.raises(UnresolvableValue):
        plain.condition("NoSuchCondition")


def test_the_stacks_environment_has_no_aws_endpoint_from_the_template(template):
    assert "AWS_ENDPOINT_URL" not in template_environment(template)


@mock_aws
def test_the_templates_table_queues_and_key_are_created_as_declared(template):
    clients = {name: boto3.client(name, region_name="eu-north-1") for name in ("dynamodb", "sqs", "kms")}
    made = create_resources(template, **clients, stack_name="hubnox-unit")
    table = clients["dynamodb"].describe_table(TableName=made.table_name)["Table"]
    assert table["KeySchema"] == template["Resources"]["Table"]["Properties"]["KeySchema"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = clients["dynamodb"].describe_time_to_live(TableName=made.table_name)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    attributes = clients["sqs"].get_queue_attributes(QueueUrl=made.jobs_queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "720"
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"].endswith(":hubnox-unit-JobsDLQ")
    aliases = clients["kms"].list_aliases(KeyId=made.kms_key_id)["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/hubnox-unit-tokens"]


# -- the queue feeder --------------------------------------------------------------------------------


@pytest.fixture
def queues(template):
    with mock_aws():
        clients = {name: boto3.client(name, region_name="eu-north-1") for name in ("dynamodb", "sqs", "kms")}
        yield clients["sqs"], create_resources(template, **clients, stack_name="hubnox-feeder")


@pytest.fixture
def stack_resources(template):
    """The template's resources on moto, with the intrinsics that name them."""
    with mock_aws():
        clients = {name: boto3.client(name, region_name="eu-north-1") for name in ("dynamodb", "sqs", "kms")}
        intrinsics = Intrinsics(template, stack_name="hubnox-alarms")
        made = create_resources(template, **clients, stack_name="hubnox-alarms", intrinsics=intrinsics)
        yield clients["sqs"], made, intrinsics


def feeder_for(queues: Any, handler: Any) -> QueueFeeder:
    sqs, made = queues
    return QueueFeeder(sqs, queue_url=made.jobs_queue_url, queue_arn=made.jobs_queue_arn,
                       dlq_url=made.dlq_url, worker=fake_worker(handler))


def send(queues: Any, *bodies: str) -> None:
    sqs, made = queues
    for body in bodies:
        sqs.send_message(QueueUrl=made.jobs_queue_url, MessageBody=body)


def test_succeeded_records_are_deleted_and_failed_ones_stay_in_flight(queues):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if json.loads(r["body"])["ok"] is False]}

    feeder = feeder_for(queues, handler)
    send(queues, '{"ok": true}', '{"ok": false}', '{"ok": true}')
    outcome = feeder.poll_once(wait_seconds=0)
    assert (outcome.received, outcome.succeeded, outcome.failed) == (3, 2, 1)
    assert feeder.depths() == {"jobs": 0, "jobs_in_flight": 1, "dead_letter": 0}


def test_a_worker_that_raises_fails_the_whole_batch(queues):
    def handler(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("the worker crashed")

    feeder = feeder_for(queues, handler)
    send(queues, "{}", "{}")
    assert feeder.poll_once(wait_seconds=0).failed == 2
    assert feeder.depths()["jobs_in_flight"] == 2


def test_drain_retries_failures_until_they_reach_the_dead_letter_queue(queues):
    receive_counts: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        receive_counts.extend(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"]
                              if r["body"] == "poison")
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if r["body"] == "poison"]}

    feeder = feeder_for(queues, handler)
    send(queues, "poison", "fine")
    result = feeder.drain(timeout=10)
    assert receive_counts == ["1", "2", "3", "4", "5"]
    assert (result["succeeded"], result["failed"], result["timed_out"]) == (1, 5, False)
    assert feeder.depths() == {"jobs": 0, "jobs_in_flight": 0, "dead_letter": 1}


def test_drain_of_an_empty_queue_returns_at_once(queues):
    result = feeder_for(queues, lambda event, context: None).drain(timeout=10)
    assert (result["received"], result["batches"], result["timed_out"]) == (0, 0, False)


def test_a_drain_that_respects_visibility_leaves_a_failed_job_hidden_for_its_timeout(queues):
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    feeder = feeder_for(queues, handler)
    send(queues, "poison")
    result = feeder.drain(timeout=0.5, respect_visibility=True)

    # The queue's 720 s visibility timeout (template.yaml) still hides it: one try, as on AWS.
    assert (result["received"], result["failed"], result["timed_out"]) == (1, 1, True)
    assert result["respect_visibility"] is True
    assert [(d["receive_count"], d["at"] < 0.5) for d in result["deliveries"]] == [(1, True)]
    assert feeder.depths() == {"jobs": 0, "jobs_in_flight": 1, "dead_letter": 0}


def test_a_drain_that_respects_visibility_sees_a_job_come_back_after_its_backoff(queues):
    sqs, made = queues

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event["Records"]:  # the worker's backoff: one second, then the next try
            sqs.change_message_visibility(QueueUrl=made.jobs_queue_url, ReceiptHandle=record["receiptHandle"],
                                          VisibilityTimeout=1)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if r["attributes"]["ApproximateReceiveCount"] == "1"]}

    feeder = feeder_for(queues, handler)
    send(queues, "flaky")
    result = feeder.drain(timeout=10, respect_visibility=True)

    assert (result["succeeded"], result["failed"], result["timed_out"]) == (1, 1, False)
    first, second = result["deliveries"]
    assert (first["receive_count"], second["receive_count"]) == (1, 2)
    assert second["at"] - first["at"] >= 0.9


def test_the_dead_letter_alarm_is_ok_while_the_queue_is_empty_and_alarms_once_a_job_waits_there(stack_resources):
    sqs, made, intrinsics = stack_resources
    template = intrinsics.template

    assert evaluate_alarms(template, intrinsics.resolve, sqs)["JobsDLQAlarm"]["state"] == "OK"
    sqs.send_message(QueueUrl=made.dlq_url, MessageBody="{}")
    alarm = evaluate_alarms(template, intrinsics.resolve, sqs)["JobsDLQAlarm"]

    assert (alarm["metric"], alarm["value"], alarm["state"]) == ("ApproximateNumberOfMessagesVisible", 1.0, "ALARM")
    assert alarm["dimensions"] == {"QueueName": "hubnox-alarms-JobsDLQ"}


def test_an_alarm_on_a_metric_the_local_stack_does_not_have_has_insufficient_data(stack_resources):
    sqs, _, intrinsics = stack_resources
    template = {"Resources": {"Errors": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "Namespace": "AWS/Lambda", "MetricName": "Errors", "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [{"Ref": "NoSuchTopic"}]}}}}

    assert evaluate_alarms(template, intrinsics.resolve, sqs)["Errors"]["state"] == "INSUFFICIENT_DATA"


def test_the_template_s_alarms_on_hubnox_metrics_have_insufficient_data_locally(stack_resources):
    """The run-failure alarm is metric math on hubnox's own metrics (no Namespace or MetricName of its
    own): the local stack lists it without data, beside the others."""
    sqs, _, intrinsics = stack_resources

    alarms = evaluate_alarms(intrinsics.template, intrinsics.resolve, sqs)

    assert {"JobsDLQAlarm", "OutcomesNotDeliveredAlarm", "RunsFailingAlarm"} <= set(alarms)
    assert alarms["RunsFailingAlarm"]["state"] == alarms["OutcomesNotDeliveredAlarm"]["state"] == "INSUFFICIENT_DATA"


def test_the_event_source_runs_as_many_batches_at_once_as_the_template_allows_up_to_the_local_cap():
    assert event_source_concurrency({"ScalingConfig": {"MaximumConcurrency": 5}}) == 5
    assert event_source_concurrency({"ScalingConfig": {"MaximumConcurrency": 20}}) == LOCAL_CONCURRENCY_CAP
    assert event_source_concurrency({}) == LOCAL_CONCURRENCY_CAP  # Lambda's default scales out


def test_a_job_that_waits_holds_up_no_other_job_while_the_queue_drains(queues):
    """Five jobs that each wait 0.3 s (a portal's rate budget) drain side by side, as Lambda scales out."""
    running, most = 0, 0
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.3)
        with lock:
            running -= 1

    sqs, made = queues
    feeder = QueueFeeder(sqs, queue_url=made.jobs_queue_url, queue_arn=made.jobs_queue_arn, dlq_url=made.dlq_url,
                         worker=fake_worker(handler), batch_size=1, concurrency=5)
    send(queues, *["{}"] * 5)
    result = feeder.drain(timeout=10)
    assert (result["succeeded"], result["batches"], result["timed_out"]) == (5, 5, False)
    assert most > 1
    assert feeder.depths() == {"jobs": 0, "jobs_in_flight": 0, "dead_letter": 0}
