"""The crm_card function: the deal app card's data and actions (CrmCardFunction in template.yaml)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.observability import logger, tracer

app = APIGatewayHttpResolver()

NOT_YET_AVAILABLE = "The hubnox app card is part of hubnox but not yet available in this build."


@app.get("/hubspot/card")
@app.post("/hubspot/card/actions/<action>")
def not_yet_available(action: str | None = None) -> tuple[dict[str, str], int]:
    return {"message": NOT_YET_AVAILABLE}, HTTPStatus.NOT_IMPLEMENTED


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one API Gateway HTTP API (payload 2.0) request on the app-card routes."""
    return app.resolve(event, context)
