"""The poller function (PollerFunction in template.yaml), in two roles:

- every two minutes its schedule's event dispatches: one poll message per portal with trigger rules
  onto the poll queue (`hubnox.sync.poll_fanout.dispatch`), and one status message per portal with a
  working Fortnox connection (`hubnox.sync.status_fanout.dispatch_status`);
- the poll queue's records each poll one portal (`hubnox.sync.poll_fanout.PortalPoll`), or, when their
  body's `kind` is `fortnox_status`, bring that portal's Fortnox changes back to HubSpot
  (`hubnox.sync.status_sync.StatusSync`). A record that runs short of time sends its continuation as
  a new message. A record that fails is reported in `batchItemFailures` and hidden for a growing
  backoff, so only its portal waits; after the queue's `maxReceiveCount` it moves to the poll
  dead-letter queue.

After each dispatch it purges the data of portals uninstalled longer than the retention period
(`hubnox.services.install.UninstalledDataPurge`).

The container (`hubnox.wiring`) builds both over its stores, HubSpot clients and queues.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.entry import Handler, LambdaEntry
from hubnox.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from hubnox.sync.poll_fanout import PollMessage
    from hubnox.sync.status_fanout import StatusMessage
    from hubnox.wiring import Container


def purge_uninstalled(container: Container) -> None:
    """Delete the data of portals uninstalled longer than the retention period, on the poller's schedule.
    A failure is logged and tried again next tick; it never stops the polling."""
    try:
        container.uninstalled_data_purge.purge()
    except Exception:
        logger.exception("the purge of uninstalled portals' data failed; it runs again next tick")


def build(container: Container) -> Handler:
    """The function's handler over `container` (its imports on the first invocation, not with the module)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from hubnox.jobs import backoff_seconds
    from hubnox.sync.poll_fanout import PollMessage, dispatch
    from hubnox.sync.status_fanout import StatusMessage, dispatch_status, is_status_body

    def has_rules(portal_id: str) -> bool:
        return bool(container.stage_rules(portal_id))

    def fortnox_connected(portal_id: str) -> bool:
        return container.connections.fortnox_status(portal_id) == "active"

    def dispatch_tick(event: dict[str, Any]) -> dict[str, Any]:
        logger.info("Poller tick", extra={"scheduled_at": event.get("time")})
        # The registry is read once a tick, for both dispatches (a query per page of portals).
        portals = list(container.connections.list_portals())
        report = dispatch(portals, has_rules, container.poll_queue)
        metrics.add_metric(name="PollerPortalsDispatched", unit=MetricUnit.Count, value=report.sent)
        logger.info("Poller tick dispatched", extra={"portals": report.portals, "sent": report.sent,
                                                     "without_rules": report.without_rules})
        status = dispatch_status(portals, fortnox_connected, container.poll_queue)
        logger.info("Status sync dispatched", extra={"portals": status.portals, "sent": status.sent,
                                                     "not_connected": status.not_connected})
        purge_uninstalled(container)
        return {"dispatched": report.sent, "status_dispatched": status.sent}

    def poll_record(record: dict[str, Any], message: PollMessage, context: LambdaContext) -> int:
        """Poll the record's portal; answers the jobs it enqueued, raises if the portal's poll failed."""
        logger.append_keys(portal_id=message.portal_id)
        try:
            outcome = container.portal_poll.run(message, record["messageId"],
                                                lambda: context.get_remaining_time_in_millis() / 1000)
            if outcome.continuation is not None:
                container.poll_queue.send(outcome.continuation)
            return len(outcome.report.enqueued)
        finally:
            logger.remove_keys(["portal_id"])

    def status_record(record: dict[str, Any], message: StatusMessage, context: LambdaContext) -> int:
        """Sync the record's portal's Fortnox states to HubSpot; answers the deals updated, raises if it failed."""
        logger.append_keys(portal_id=message.portal_id)
        try:
            outcome = container.status_sync.run(message, record["messageId"],
                                                lambda: context.get_remaining_time_in_millis() / 1000)
            if outcome.continuation is not None:
                container.poll_queue.send(outcome.continuation)
            if not outcome.busy and outcome.skipped is None:
                metrics.add_metric(name="StatusPortalsSynced", unit=MetricUnit.Count, value=1)
            return outcome.deals_updated
        finally:
            logger.remove_keys(["portal_id"])

    def hide(record: dict[str, Any], delay: int) -> None:
        """Set the record's visibility timeout to `delay` seconds (0: back at once)."""
        try:
            container.sqs.change_message_visibility(
                QueueUrl=container.config.poll_queue_url, ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=delay)
        except (BotoCoreError, ClientError) as exc:  # the queue's visibility timeout brings it back anyway
            logger.warning("could not set the poll's visibility timeout", extra={"error": str(exc)})

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """A scheduled event dispatches; a poll queue batch polls its portals, each on its own."""
        if "Records" not in event:
            return dispatch_tick(event)
        failures: list[dict[str, str]] = []
        enqueued = 0
        deals_updated = 0
        for record in event["Records"]:
            message: PollMessage | StatusMessage
            try:
                if is_status_body(record["body"]):
                    message = StatusMessage.from_body(record["body"])
                else:
                    message = PollMessage.from_body(record["body"])
            except ValueError as exc:
                # Not a poll message: no retry can mend it, so its receives run out at once and it
                # moves to the dead-letter queue, where the alarm sees it.
                logger.error("unreadable poll message", extra={"error": str(exc)[:300]})
                hide(record, 0)
                failures.append({"itemIdentifier": record["messageId"]})
                continue
            try:
                if isinstance(message, StatusMessage):
                    deals_updated += status_record(record, message, context)
                else:
                    enqueued += poll_record(record, message, context)
            except Exception:
                logger.exception("a portal's poll or status sync failed: it is retried on its own",
                                 extra={"portal_id": message.portal_id})
                attempt = int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
                hide(record, backoff_seconds(attempt))
                failures.append({"itemIdentifier": record["messageId"]})
        metrics.add_metric(name="PollerJobsEnqueued", unit=MetricUnit.Count, value=enqueued)
        metrics.add_metric(name="PollerPortalsFailed", unit=MetricUnit.Count, value=len(failures))
        if deals_updated:
            metrics.add_metric(name="StatusDealsUpdated", unit=MetricUnit.Count, value=deals_updated)
        return {"batchItemFailures": failures, "enqueued": enqueued, "deals_updated": deals_updated}

    return lambda_handler


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
