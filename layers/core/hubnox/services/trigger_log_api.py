"""The sync log's "why did this deal (not) trigger?": one deal's trigger decisions, newest first.

    GET /settings/api/triggers?deal=<dealId>&cursor=<next page>   (settings session; read only)

The decisions are what the poller and the webhooks decided (`hubnox.sync.triggers`), kept 14 days
(`hubnox.store.trigger_log`). Each names its source, the rule's trigger key, the decision and the run
it enqueued, if any.
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hubnox.errors import BadRequestError
from hubnox.ids import hubspot_id
from hubnox.signing import Signer
from hubnox.store.sessions import SessionStore
from hubnox.store.trigger_log import TriggerLogStore
from hubnox.web.responses import json_response
from hubnox.web.session import read_session

PAGE_SIZE = 25


class TriggerLogPorts(Protocol):
    """What the route needs (`hubnox.wiring.Container` provides it)."""

    @property
    def signer(self) -> Signer: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def trigger_log(self) -> TriggerLogStore: ...


def read_trigger_query(query: dict[str, str] | None) -> tuple[str, str | None]:
    """The deal id and the cursor of a request; `BadRequestError` saying what is wrong otherwise."""
    values = query or {}
    unknown = sorted(set(values) - {"deal", "cursor"})
    if unknown:
        raise BadRequestError(f"Unknown parameter {unknown[0]}: use deal and cursor.", code="INVALID_FILTER")
    if not values.get("deal"):
        raise BadRequestError("deal is required: the id of the deal to explain.", code="INVALID_FILTER")
    return hubspot_id(values["deal"], "deal"), values.get("cursor") or None


def trigger_log_router(ports: TriggerLogPorts) -> APIGatewayHttpRouter:
    """The route; include it before `settings_page_router`, whose catch-all answers unknown API routes."""
    router = APIGatewayHttpRouter()

    @router.get("/settings/api/triggers")
    def triggers() -> Response:
        portal_id = read_session(ports.signer, ports.sessions, router.current_event.cookies).portal_id
        deal_id, cursor = read_trigger_query(router.current_event.query_string_parameters)
        found = ports.trigger_log.for_deal(portal_id, deal_id, limit=PAGE_SIZE, cursor=cursor)
        body: dict[str, Any] = {"dealId": deal_id, "decisions": found.records, "nextCursor": found.next_cursor}
        return json_response(body)

    return router
