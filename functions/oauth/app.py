"""The oauth function: HubSpot install, Fortnox connect and disconnect (OauthFunction in template.yaml)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.observability import logger, tracer

app = APIGatewayHttpResolver()

NOT_YET_AVAILABLE = (
    "Installing hubnox in HubSpot and connecting Fortnox are part of hubnox "
    "but not yet available in this build."
)


@app.get("/oauth/hubspot/install")
@app.get("/oauth/hubspot/callback")
@app.get("/oauth/fortnox/connect")
@app.get("/oauth/fortnox/callback")
@app.post("/oauth/fortnox/disconnect")
def not_yet_available() -> tuple[dict[str, str], int]:
    return {"message": NOT_YET_AVAILABLE}, HTTPStatus.NOT_IMPLEMENTED


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one API Gateway HTTP API (payload 2.0) request on the OAuth routes."""
    return app.resolve(event, context)
