"""The poller function: every two minutes, finds deals that entered trigger stages (PollerFunction in
template.yaml), then purges the data of portals uninstalled longer than the retention period. The
logic lives in `hubnox.sync.poller` and `hubnox.services.install.UninstalledDataPurge`; the container
(`hubnox.wiring`) builds them over its stores, HubSpot clients and queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.entry import Handler, LambdaEntry
from hubnox.observability import logger, metrics, tracer
from hubnox.wiring import Container

#: time kept back from the Lambda timeout for the last portal's cursor write and the metrics
RESERVE_SECONDS = 10.0


def purge_uninstalled(container: Container) -> None:
    """Delete the data of portals uninstalled longer than the retention period, on the poller's schedule.
    A failure is logged and tried again next tick; it never stops the polling."""
    try:
        container.uninstalled_data_purge.purge()
    except Exception:
        logger.exception("the purge of uninstalled portals' data failed; it runs again next tick")


def build(container: Container) -> Handler:
    """The function's handler over `container`."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Handle one EventBridge scheduled event; answers how many jobs the tick enqueued."""
        logger.info("Poller tick", extra={"scheduled_at": event.get("time")})
        report = container.poller.tick(lambda: context.get_remaining_time_in_millis() / 1000, RESERVE_SECONDS)
        metrics.add_metric(name="PollerJobsEnqueued", unit=MetricUnit.Count, value=report.enqueued)
        metrics.add_metric(name="PollerPortalsFailed", unit=MetricUnit.Count, value=report.failed)
        purge_uninstalled(container)
        logger.info("Poller tick done", extra={"enqueued": report.enqueued, "portals": len(report.portals),
                                               "failed": report.failed, "deferred": report.deferred})
        return {"enqueued": report.enqueued}

    return lambda_handler


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
