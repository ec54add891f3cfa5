"""The one signature check in front of every route HubSpot calls (workflow actions, options, the app card).

A request counts as HubSpot's only when its signature checks out against the app's client secret:
v3 (HMAC over method, URI, body and timestamp, within 5 minutes) whenever HubSpot sent it, v2 only
where HubSpot documents sending v2 alone (see `WORKFLOW_V2_ROUTES`). The URI is rebuilt from
`PUBLIC_BASE_URL`, the raw path and the raw query string, so it is the one HubSpot called, not the
internal host the request arrived on. Anything else raises `UnauthorizedError`, which every HTTP
function maps to a 401 before any work is done.

The app card's `hubspot.fetch` requests are signed with the same client secret as workflow
requests, yet their body and path are whatever the card's user sends. So each route group also
checks who the caller is (`HubSpotCaller`): workflow routes refuse what `hubspot.fetch` adds to every
request (`FETCH_PARAMETERS`), and card routes take the portal and user from those parameters only
when each appears exactly once. On state-changing routes a v3 signature acts once: it is recorded
for as long as it could pass (`SIGNATURE_RECORD_SECONDS`), and a second use is refused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from hubnox.config import AppConfig
from hubnox.errors import UnauthorizedError
from hubnox.hubspot.signature import MAX_AGE_MS, MAX_FUTURE_SKEW_MS, verify_event
from hubnox.observability import logger
from hubnox.sync.ports import NonceClaims

#: what `hubspot.fetch` appends to the query of every app-card request (reference hubspot.md §6);
#: HubSpot's workflow engine posts to the action URLs exactly as configured, without them
FETCH_PARAMETERS = ("portalId", "userId", "userEmail", "appId")

#: The only requests HubSpot documents signing with v2 alone: "Requests made for your custom action
#: will use the v2 version of the X-HubSpot-Signature" (HubSpot, custom workflow actions guide,
#: https://developers.hubspot.com/docs/api-reference/automation-actions-v4-v4/custom-action-guide).
#: Those are the POSTs to an action's `actionUrl` and `optionsUrl`, which hubnox configures without
#: a query string (hubspot-app/hsmeta.py). Everything else HubSpot sends to an app carries v3
#: ("all outgoing requests to OAuth apps", reference hubspot.md §7), and v3 is required there.
WORKFLOW_V2_ROUTES = frozenset({
    ("POST", "/hubspot/actions/create-document"),
    ("POST", "/hubspot/actions/sync-customer"),
    ("POST", "/hubspot/actions/options"),
})
#: routes that only read: a replayed request changes nothing, so their signatures are not recorded
READ_ONLY_ROUTES = frozenset({("POST", "/hubspot/actions/options")})
#: how long a v3 signature could pass the timestamp check, and so how long it is remembered
SIGNATURE_RECORD_SECONDS = (MAX_AGE_MS + MAX_FUTURE_SKEW_MS) // 1000 + 60
#: how long a v2 signature seen beside a v3 one is remembered: as long as the execution's idempotency
#: record (`hubnox.services.workflows.CALLBACK_CLAIM_TTL_SECONDS`), since v2 has no timestamp to expire
V2_RECORD_SECONDS = 366 * 24 * 3600
V3_SIGNATURE_KIND = "hubspot-v3"
V2_SIGNATURE_KIND = "hubspot-v2"


@dataclass(frozen=True)
class HubSpotCaller:
    """Which of HubSpot's senders a route group accepts."""

    name: str
    #: v2 accepted on these (method, path) pairs, and only without a query string
    v2_routes: frozenset[tuple[str, str]]
    #: refuse requests that carry any of `FETCH_PARAMETERS` (routes for the workflow engine)
    refuse_fetch_parameters: bool
    #: require each of `FETCH_PARAMETERS` at most once (routes for the app card)
    single_fetch_parameters: bool


WORKFLOW_ENGINE = HubSpotCaller("workflow", WORKFLOW_V2_ROUTES, refuse_fetch_parameters=True,
                                single_fetch_parameters=False)
APP_CARD = HubSpotCaller("card", frozenset(), refuse_fetch_parameters=False, single_fetch_parameters=True)
#: HubSpot's webhooks: v3 only (reference hubspot.md §7: "all outgoing requests to OAuth apps"), and no
#: `hubspot.fetch` parameters, so a card user cannot post events through the card's signed fetch
HUBSPOT_WEBHOOKS = HubSpotCaller("webhooks", frozenset(), refuse_fetch_parameters=True,
                                 single_fetch_parameters=False)


def require_hubspot_signature(event: Mapping[str, Any], settings: AppConfig, now_ms: int, *,
                              allow_v2: bool = True) -> str:
    """Accept an API Gateway v2 event signed by HubSpot for this app, answering the version checked.

    Raises `UnauthorizedError` (a 401, nothing else happens) when the signature is missing, wrong,
    stale, from the future, or when no client secret is configured. `allow_v2=False` is for routes
    HubSpot always signs with v3: a v2 signature has no timestamp, so it could be replayed for ever.
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


def require_caller(event: Mapping[str, Any], caller: HubSpotCaller) -> None:
    """Refuse a request that did not come from the HubSpot sender `caller` names.

    A workflow route refuses `hubspot.fetch`'s parameters: otherwise a card user could post any
    execution body, naming another portal, through the card's signed fetch. A card route refuses a
    request naming one of them twice: the card's user writes the start of the query, HubSpot
    appends its own, and only HubSpot's may say who is asking.
    """
    names = [name for name, _ in parse_qsl(str(event.get("rawQueryString") or ""), keep_blank_values=True)]
    present = [name for name in FETCH_PARAMETERS if name in names]
    if caller.refuse_fetch_parameters and present:
        _refuse(event, "This route accepts only HubSpot's workflow engine, not app-card requests.",
                "NOT_WORKFLOW_ENGINE")
    if caller.single_fetch_parameters:
        repeated = [name for name in present if names.count(name) > 1]
        if repeated:
            _refuse(event, f"The request names {repeated[0]} more than once.", "REPEATED_IDENTITY")


def v2_allowed(event: Mapping[str, Any], caller: HubSpotCaller) -> bool:
    """True when HubSpot documents sending this request with v2 alone (`WORKFLOW_V2_ROUTES`)."""
    return _route(event) in caller.v2_routes and not event.get("rawQueryString")


def hubspot_signature_middleware(
    settings: Callable[[], AppConfig], clock: Callable[[], float] = time.time, *,
    caller: HubSpotCaller, ledger: Callable[[], NonceClaims] | None = None,
) -> Callable[[APIGatewayHttpResolver, NextMiddleware], Response]:
    """A Powertools middleware that checks the caller and the signature before every route of a resolver.

    Register it with `app.use(middlewares=[...])` so that no route can forget the check. With a
    `ledger`, a signature on a state-changing route acts once (`SignedOnce`); it is given back when the
    request is refused or fails (HubSpot may deliver again, and that delivery must act).
    """

    def check(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
        event = app.current_event.raw_event
        require_caller(event, caller)
        version = require_hubspot_signature(event, settings(), int(clock() * 1000),
                                            allow_v2=v2_allowed(event, caller))
        once = SignedOnce(event, version, ledger()) if ledger is not None and _changes_state(event) else None
        if once is not None:
            once.claim()
        try:
            response = next_middleware(app)
        except Exception:
            if once is not None:
                once.give_back()
            raise
        if once is not None:
            # A refused or failed request did nothing; HubSpot may send it again and it must act then.
            once.give_back() if response.status_code >= 400 else once.acted()
        return response

    return check


class SignedOnce:
    """One request's signature on a state-changing route, so that a captured request acts once.

    v3: claimed for as long as its timestamp passes. v2 alone: refused when the same v2 signature came
    earlier beside a v3 one (HubSpot sends both, so a v2 alone once seen with v3 had its v3 headers
    stripped); v2 beside v3 is remembered for that check once the request has acted.
    """

    def __init__(self, event: Mapping[str, Any], version: str, ledger: NonceClaims) -> None:
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        self._event = event
        self._ledger = ledger
        self._v2 = _fingerprint(headers.get("x-hubspot-signature"), hex_digest=True)
        self._v3 = _fingerprint(headers.get("x-hubspot-signature-v3")) if version == "v3" else ""
        self._claimed = False

    def claim(self) -> None:
        if self._v3:
            if not self._ledger.claim(V3_SIGNATURE_KIND, self._v3, SIGNATURE_RECORD_SECONDS):
                _refuse(self._event, "This signed request was already received.", "SIGNATURE_REPLAYED")
            self._claimed = True
        elif self._v2:
            if not self._ledger.claim(V2_SIGNATURE_KIND, self._v2, V2_RECORD_SECONDS):
                _refuse(self._event, "This request was already received with a newer signature.",
                        "SIGNATURE_REPLAYED")
            # Only a check: HubSpot may deliver a v2-signed execution again, and its callbackId acts once.
            self._ledger.release(V2_SIGNATURE_KIND, self._v2)

    def give_back(self) -> None:
        if self._claimed:
            self._ledger.release(V3_SIGNATURE_KIND, self._v3)
            self._claimed = False

    def acted(self) -> None:
        if self._v3 and self._v2:
            self._ledger.claim(V2_SIGNATURE_KIND, self._v2, V2_RECORD_SECONDS)


def _changes_state(event: Mapping[str, Any]) -> bool:
    method, path = _route(event)
    return method not in ("GET", "HEAD") and (method, path) not in READ_ONLY_ROUTES


def _fingerprint(signature: str | None, *, hex_digest: bool = False) -> str:
    """A fixed-size key for a signature header (its value is the sender's; never trust its length).

    A v2 signature is hex, which the check reads in either case, so it is keyed in one case.
    """
    text = (signature or "").strip()
    if hex_digest:
        text = text.lower()
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


def _route(event: Mapping[str, Any]) -> tuple[str, str]:
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method") or "").upper(), str(event.get("rawPath") or "")


def _refuse(event: Mapping[str, Any], message: str, code: str) -> None:
    logger.warning("HubSpot request refused", extra={"code": code, "path": event.get("rawPath")})
    raise UnauthorizedError(message, code=code)
