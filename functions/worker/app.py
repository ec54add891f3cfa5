"""The worker function: runs the jobs on the SQS jobs queue (WorkerFunction in template.yaml).

Each record is one `hubnox.jobs.Job`. A record that fails is reported back in `batchItemFailures`,
so only it returns to the queue; the others are deleted. Before a retryable failure is reported,
the record's visibility timeout is set to a growing backoff, so the next try comes later each
time. On the last try (`LAST_TRY`, one less than the queue's `maxReceiveCount`) the runner fails the
run, says so on the deal and raises `JobExhausted`: the record is reported failed and made visible
at once; its spare delivery raises again, and SQS moves it to the dead-letter queue, where the DLQ
alarm sees it; `JobsExhausted` counts each once. The spare delivery is there for a last try whose
worker died before it could report anything: that try runs again.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.entry import Handler, LambdaEntry
from hubnox.errors import JobExhausted, TransientError
from hubnox.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from hubnox.wiring import Container

# A batch whose every record failed is still a partial response, not an invocation error, so each
# record keeps its own receive count and the metrics below are still published.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def postpone(container: Container, record: SQSRecord, attempt: int, retry_after: float | None) -> None:
    """Hide the record for the backoff of its try, so the queue brings it back that much later."""
    from hubnox.jobs import backoff_seconds

    hide(container, record, backoff_seconds(attempt, retry_after))


def hide(container: Container, record: SQSRecord, delay: int) -> None:
    """Set the record's visibility timeout to `delay` seconds (0: visible again at once)."""
    from botocore.exceptions import BotoCoreError, ClientError

    queue_url = container.config.jobs_queue_url or record.queue_url
    try:
        container.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=record.receipt_handle,
                                                VisibilityTimeout=delay)
    except (BotoCoreError, ClientError) as exc:
        # The queue's own visibility timeout still brings the job back (or moves it on), sooner or later.
        logger.warning("could not set the job's visibility timeout", extra={"error": str(exc), "delay": delay})


@tracer.capture_method(capture_response=False, capture_error=False)
def record_handler(container: Container, record: SQSRecord) -> None:
    """Run the job in one record with `container`'s runner; raising fails only this record."""
    from hubnox.jobs import LAST_TRY, attempt_of, parse_job

    job = parse_job(record)
    attempt = attempt_of(record)
    logger.append_keys(run_id=job.run_id, portal_id=job.portal_id, job_kind=job.kind)
    try:
        container.job_runner.run(job, attempt=attempt, max_attempts=LAST_TRY)
    except JobExhausted as exc:
        # The run is failed and reported; the message goes on to the dead-letter queue without waiting.
        hide(container, record, 0)
        if not exc.repeat:
            metrics.add_metric(name="JobsExhausted", unit=MetricUnit.Count, value=1)
        logger.error("job exhausted its tries: it goes to the dead-letter queue",
                     extra={"attempt": attempt, "error": str(exc.__cause__ or exc)[:500]})
        raise
    except Exception as exc:
        retry_after = exc.retry_after if isinstance(exc, TransientError) else None
        postpone(container, record, attempt, retry_after)
        logger.warning("job will be retried", extra={"attempt": attempt, "error": str(exc)[:500],
                                                     "error_type": type(exc).__name__})
        raise
    finally:
        logger.remove_keys(["run_id", "portal_id", "job_kind"])


def build(container: Container) -> Handler:
    """The function's handler over `container`."""
    run_record = functools.partial(record_handler, container)

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Run a batch of SQS records; answers the failed ones as `batchItemFailures`."""
        result = process_partial_response(
            event=event, record_handler=run_record, processor=processor, context=context
        )
        failed = len(result.get("batchItemFailures", []))
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=failed)
        metrics.add_metric(name="JobsSucceeded", unit=MetricUnit.Count, value=len(event["Records"]) - failed)
        return dict(result)

    return lambda_handler


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
