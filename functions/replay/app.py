"""The replay function: signed Replay links on deal notes and the app card (ReplayFunction in template.yaml).

    GET  /replay/{runId}?t=<token>   a confirmation page; changes nothing (mail scanners and link
                                     previews open links)
    POST /replay/{runId}             (form field t) enqueues the run again and says so

Checking the link, describing the run and replaying it once per link live in `hubnox.services.replay`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.entry import Handler, LambdaEntry, http_handler
from hubnox.errors import UnauthorizedError
from hubnox.observability import logger

if TYPE_CHECKING:
    from hubnox.wiring import Container


def build(container: Container) -> Handler:
    """The function's handler over `container` (its imports on the first invocation, not with the module)."""
    from hubnox.services.replay import FRESH_LINK_HINT
    from hubnox.web.responses import body_text, form_fields, message_page, register_error_handlers

    app = APIGatewayHttpResolver()
    register_error_handlers(app, json_paths=lambda path: False)

    @app.exception_handler(UnauthorizedError)
    def link_refused(error: UnauthorizedError) -> Response:
        logger.warning("Replay link refused", extra={"code": error.code})
        return message_page(401, "This Replay link does not work", error.message, FRESH_LINK_HINT)

    @app.get("/replay/<run_id>")
    def confirm(run_id: str) -> Response:
        token = (app.current_event.query_string_parameters or {}).get("t", "")
        return container.replay_pages.confirm(run_id, token)

    @app.post("/replay/<run_id>")
    def replay(run_id: str) -> Response:
        token = form_fields(body_text(app.current_event)).get("t", "")
        return container.replay_pages.replay(run_id, token)

    return http_handler(app)


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
