"""The settings function: the settings page, its JSON API and its static files (SettingsFunction in
template.yaml).

The page and the API live in `hubnox.services.settings_page` (export and import in
`hubnox.services.settings_transfer`), the sync log in `hubnox.services.sync_log`, the bulk replay
and dead-letter routes in `hubnox.services.run_actions_api`, the static files in `hubnox.web.static`.
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
    from hubnox.services.run_actions_api import run_actions_router
    from hubnox.services.settings_page import settings_api_router, settings_page_router
    from hubnox.services.settings_transfer import settings_transfer_router
    from hubnox.services.sync_log import sync_log_router
    from hubnox.services.trigger_log_api import trigger_log_router
    from hubnox.web.responses import register_error_handlers

    app = APIGatewayHttpResolver()
    register_error_handlers(app, json_paths=lambda path: path.startswith("/settings/api/"))
    # The API first: the page router's catch-all for unknown API routes must be tried after the API's own.
    app.include_router(settings_api_router(container))
    app.include_router(sync_log_router(container))
    app.include_router(trigger_log_router(container))  # why a deal did (not) trigger
    app.include_router(settings_transfer_router(container))
    app.include_router(run_actions_router(container))  # bulk replay and dead letters
    app.include_router(settings_page_router(container))

    return http_handler(app)


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
