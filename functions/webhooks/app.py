"""The webhooks function: HubSpot's webhook events (WebhooksFunction in template.yaml).

    POST /hubspot/webhooks   a JSON array of events (deal stage changes, deal creations)

A request is HubSpot's only when its v3 signature checks out (401 otherwise, and nothing happens);
a body that is no array of events is a 400 saying why. Reading the events and deciding which deals
get a run live in `hubnox.services.webhooks` and `hubnox.sync.triggers`.

No signature ledger here, unlike the workflow actions: a webhook delivered twice is harmless by
design (the trigger decision's claims and run checks), and HubSpot's retries must not be refused.
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
    from hubnox.services.webhooks import parse_events
    from hubnox.web.hubspot_auth import HUBSPOT_WEBHOOKS, hubspot_signature_middleware
    from hubnox.web.responses import body_text, register_error_handlers

    app = APIGatewayHttpResolver()
    register_error_handlers(app, json_paths=lambda path: True)
    app.use(middlewares=[hubspot_signature_middleware(lambda: container.config, lambda: container.clock(),
                                                      caller=HUBSPOT_WEBHOOKS)])

    @app.post("/hubspot/webhooks")
    def webhooks() -> dict[str, Any]:
        return container.webhooks.handle(parse_events(body_text(app.current_event))).body()

    return http_handler(app)


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
