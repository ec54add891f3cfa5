"""The oauth function: HubSpot install, Fortnox connect and disconnect (OauthFunction in template.yaml).

The routes and the flows behind them live in `hubnox.services.install`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.entry import Handler, LambdaEntry, http_handler

if TYPE_CHECKING:
    from hubnox.wiring import Container


def build(container: Container) -> Handler:
    """The function's handler over `container` (its imports on the first invocation, not with the module)."""
    from hubnox.services.install import oauth_router
    from hubnox.web.responses import register_error_handlers

    app = APIGatewayHttpResolver()
    register_error_handlers(app, json_paths=lambda path: False)
    app.include_router(oauth_router(container))

    return http_handler(app)


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
