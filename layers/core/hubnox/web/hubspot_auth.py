"""The one signature check in front of every route HubSpot calls (workflow actions, options, the app card).

A request counts as HubSpot's only when its signature checks out against the app's client secret:
v3 (HMAC over method, URI, body and timestamp, within 5 minutes) whenever HubSpot sent it, v2 where
HubSpot sends only v2 (workflow actions on older deliveries). The URI is rebuilt from
`PUBLIC_BASE_URL`, the raw path and the raw query string, so it is the one HubSpot called, not the
internal host the request arrived on. Anything else raises `UnauthorizedError`, which every HTTP
function maps to a 401 before any work is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from hubnox.config import Settings
from hubnox.errors import UnauthorizedError
from hubnox.hubspot.signature import verify_event
from hubnox.observability import logger


def require_hubspot_signature(event: Mapping[str, Any], settings: Settings, now_ms: int, *,
                              allow_v2: bool = True) -> str:
    """Accept an API Gateway v2 event signed by HubSpot for this app, answering the version checked.

    Raises `UnauthorizedError` (a 401, nothing else happens) when the signature is missing, wrong,
    stale, from the future, or when no client secret is configured. `allow_v2=False` is for routes
    HubSpot always signs with v3 (app-card fetches): a v2 signature has no timestamp, so it could be
    replayed for ever.
    """
    try:
        version = verify_event(
            event,
            client_secret=settings.hubspot_client_secret.get_secret_value(),
            public_base_url=settings.public_base_url,
            now_ms=now_ms,
        )
        if version != "v3" and not allow_v2:
            raise UnauthorizedError("This route needs HubSpot's v3 signature.", code="SIGNATURE_VERSION")
        return version
    except UnauthorizedError as refusal:
        logger.warning("HubSpot signature refused",
                       extra={"code": refusal.code, "reason": refusal.message, "path": event.get("rawPath")})
        raise


def hubspot_signature_middleware(
    settings: Callable[[], Settings], clock: Callable[[], float] = time.time, *, allow_v2: bool = True
) -> Callable[[APIGatewayHttpResolver, NextMiddleware], Response]:
    """A Powertools middleware that runs `require_hubspot_signature` before every route of a resolver.

    Register it with `app.use(middlewares=[...])` so that no route can forget the check.
    """

    def check(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
        require_hubspot_signature(app.current_event.raw_event, settings(), int(clock() * 1000), allow_v2=allow_v2)
        return next_middleware(app)

    return check
