"""The poller function: every two minutes, finds deals that entered trigger stages (PollerFunction in
template.yaml). The logic lives in `hubnox.sync.poller`; this wires it to the container's stores,
HubSpot clients and queue."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.config import get_settings
from hubnox.jobs import submit
from hubnox.observability import logger, metrics, tracer
from hubnox.records import Run
from hubnox.sync.poller import Poller, StageRule
from hubnox.sync.settings import migrate
from hubnox.wiring import Container

container = Container(get_settings())
#: time kept back from the Lambda timeout for the last portal's cursor write and the metrics
RESERVE_SECONDS = 10.0


def stage_rules(portal_id: str) -> list[StageRule]:
    """The portal's trigger stages from its saved settings (none before the admin saves any)."""
    payload, _ = container.portal_settings.get(portal_id)
    return [StageRule(stage.stage_id, stage.document_type, stage.pipeline_id)
            for stage in migrate(payload).trigger_stages]


def enqueue(portal_id: str, deal_id: str, rule: StageRule) -> Run:
    return submit(container.runs, container.jobs, portal_id, "create_document", "poller", object_type="deal",
                  object_id=deal_id, document_type=rule.document_type, trigger_key=rule.trigger_key)


@cache
def poller() -> Poller:
    """The poller of this container, built on first use."""
    return Poller(portals=container.connections.list_portals, rules_for=stage_rules,
                  search_for=container.hubspot_client, cursors=container.cursors, claims=container.nonces,
                  deal_links=container.deal_links, runs=container.runs, enqueue=enqueue, clock=container.clock)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Handle one EventBridge scheduled event; answers how many jobs the tick enqueued."""
    logger.info("Poller tick", extra={"scheduled_at": event.get("time")})
    report = poller().tick(lambda: context.get_remaining_time_in_millis() / 1000, RESERVE_SECONDS)
    metrics.add_metric(name="PollerJobsEnqueued", unit=MetricUnit.Count, value=report.enqueued)
    metrics.add_metric(name="PollerPortalsFailed", unit=MetricUnit.Count, value=report.failed)
    logger.info("Poller tick done", extra={"enqueued": report.enqueued, "portals": len(report.portals),
                                           "failed": report.failed, "deferred": report.deferred})
    return {"enqueued": report.enqueued}
