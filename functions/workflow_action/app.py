"""The workflow_action function: HubSpot custom workflow actions (WorkflowActionFunction in template.yaml).

    POST /hubspot/actions/create-document   deal workflows: make a Fortnox invoice or order
    POST /hubspot/actions/sync-customer     company and contact workflows: create or update the customer
    POST /hubspot/actions/options           the choices of an action's dynamic input fields

Every route is HubSpot's workflow engine's only when its signature checks out and the request carries
none of what hubspot.fetch adds (401 otherwise, and nothing happens).
Reading the executions, starting them once (BLOCK, or FAIL_CONTINUE without Fortnox) and the
options live in `hubnox.services.workflows`.
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
    from hubnox.services.workflows import parse_execution, parse_options_request
    from hubnox.web.hubspot_auth import WORKFLOW_ENGINE, hubspot_signature_middleware
    from hubnox.web.responses import body_text, register_error_handlers

    app = APIGatewayHttpResolver()
    register_error_handlers(app, json_paths=lambda path: True)
    # Only HubSpot's workflow engine: app-card fetches are refused, and a signed request acts once.
    app.use(middlewares=[hubspot_signature_middleware(lambda: container.config, lambda: container.clock(),
                                                      caller=WORKFLOW_ENGINE, ledger=lambda: container.nonces)])

    @app.post("/hubspot/actions/create-document")
    def create_document() -> dict[str, Any]:
        return container.workflow_actions.create_document(parse_execution(body_text(app.current_event)))

    @app.post("/hubspot/actions/sync-customer")
    def sync_customer() -> dict[str, Any]:
        return container.workflow_actions.sync_customer(parse_execution(body_text(app.current_event)))

    @app.post("/hubspot/actions/options")
    def options() -> dict[str, Any]:
        return container.workflow_actions.options(parse_options_request(body_text(app.current_event)))

    return http_handler(app)


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
