"""The worker function: runs the jobs on the SQS jobs queue (WorkerFunction in template.yaml).

Each record is one job, a JSON object with a `kind`. A record that fails is reported back in
`batchItemFailures`, so only it returns to the queue (and reaches the dead-letter queue after five
tries); the others are deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.errors import BadRequestError
from hubnox.observability import logger, metrics, tracer

Job = dict[str, Any]
JobHandler = Callable[[Job], None]

#: What the worker runs, by job kind.
JOB_HANDLERS: Mapping[str, JobHandler] = MappingProxyType({})

# A batch whose every record failed is still a partial response, not an invocation error, so each
# record keeps its own receive count and the metrics below are still published.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def parse_job(body: str) -> Job:
    """The job a record carries: a JSON object with a non-empty string `kind`."""
    try:
        job = json.loads(body)
    except ValueError as exc:
        raise BadRequestError(f"The job is not JSON: {exc}") from exc
    if not isinstance(job, dict) or not isinstance(job.get("kind"), str) or not job["kind"]:
        raise BadRequestError("The job is not a JSON object with a string 'kind'.")
    return job


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    """Run the job in one record; raising fails only this record."""
    job = parse_job(record.body)
    handler = JOB_HANDLERS.get(job["kind"])
    if handler is None:
        known = ", ".join(sorted(JOB_HANDLERS)) or "none yet"
        raise BadRequestError(f"Unknown job kind {job['kind']!r} (kinds this worker runs: {known}).")
    handler(job)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run a batch of SQS records; answers the failed ones as `batchItemFailures`."""
    result = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    failed = len(result.get("batchItemFailures", []))
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=failed)
    metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=len(event["Records"]) - failed)
    return dict(result)
