"""The crm_card function: the app card's data and actions (CrmCardFunction in template.yaml).

    GET  /hubspot/card                      the card for one record (deal, company or contact)
    POST /hubspot/card/actions/{action}     update-customer, create-document, open-settings

The React card calls both through `hubspot.fetch`, so every request is signed by HubSpot (v3) and
refused with 401 otherwise. HubSpot appends `portalId`, `userId`, `userEmail` and `appId` to the
query; the card adds `objectType` and `objectId` (in the query, or in the JSON body of an action).
Building the card and running the actions live in `hubnox.services.card`.

Only Powertools and `hubnox.entry` are imported with the module; the rest on the first invocation
(`build`), each service on its route's first request (see the README's cold start decision).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.entry import Handler, LambdaEntry, http_handler
from hubnox.observability import logger

if TYPE_CHECKING:
    from hubnox.wiring import Container


def build(container: Container) -> Handler:
    """The function's handler over `container`."""
    from hubnox.services.card.request import CardRequest
    from hubnox.web.hubspot_auth import APP_CARD, hubspot_signature_middleware
    from hubnox.web.responses import body_text, json_object, json_response, register_error_handlers

    app = APIGatewayHttpResolver()
    register_error_handlers(app, json_paths=lambda path: True)
    # hubspot.fetch signs with v3 only; a v2 signature (no timestamp) is refused here, and a signed action acts once.
    app.use(middlewares=[hubspot_signature_middleware(lambda: container.config, lambda: container.clock(),
                                                      caller=APP_CARD, ledger=lambda: container.nonces)])

    def query() -> dict[str, str]:
        return dict(app.current_event.query_string_parameters or {})

    @app.get("/hubspot/card")
    def card() -> Response:
        return json_response(container.card_service.card(CardRequest.from_query(query())))

    @app.post("/hubspot/card/actions/<action>")
    def card_action(action: str) -> Response:
        body = json_object(body_text(app.current_event), empty_ok=True)
        request = CardRequest.from_query(query(), body)
        answer = container.card_actions.perform(action, request, body)
        logger.info("card action", extra={"action": action, "portal_id": request.portal_id,
                                          "object_type": request.object_type, "run_id": answer.get("runId")})
        return json_response(answer)

    return http_handler(app)


entry = LambdaEntry(build)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda's entry: the handler `build` made over this Lambda container's `Container`."""
    return entry(event, context)
