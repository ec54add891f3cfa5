"""The poller function: every two minutes, finds deals that entered trigger stages (PollerFunction in
template.yaml)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.observability import logger, tracer


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Handle one EventBridge scheduled event; answers how many jobs the tick enqueued."""
    logger.info("Poller tick", extra={"scheduled_at": event.get("time")})
    return {"enqueued": 0}
