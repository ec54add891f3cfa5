"""A HubSpot simulator on the 2026-03 date-based API paths hubnox uses.

One WSGI app serves the auth host (`/oauth/authorize`) and the API host (everything else), so
`HUBSPOT_AUTH_URL` and `HUBSPOT_API_URL` may both point at it. It answers like HubSpot: the same
paths, JSON, status codes and error bodies (checked against the official specs in
../shared/specs/hubspot), the 110 requests per 10 s limit per portal with HubSpot's 429 and
`X-HubSpot-RateLimit-*` headers, and search's own 5 requests per second.

The pieces: `hubspot_oauth` (OAuth and bearer tokens), `hubspot_crm` (objects, associations,
pipelines, properties), `hubspot_files`, `hubspot_search`, `hubspot_account` (the tax-rate library
and the owners), `hubspot_store` (portal data and write
rules), `hubspot_schema` (standard properties, pipelines, association types, scopes),
`hubspot_outbound` and `hubspot_signing` (HubSpot's requests to the app), `hubspot_webhooks` and
`hubspot_webhook_routes` (webhooks to the app, the webhooks API), `hubspot_control` (the
`/_sandbox/` surface), `hubspot_workflow_triggers` (workflows enrolling records on a property
value), `hubspot_requests` and `hubspot_errors`.

Decisions on points the reference leaves UNCERTAIN, each documented where it is made:
- line-item money (which discount wins, missing price or quantity, 2 decimals):
  `hubspot_store.line_item_amounts`;
- new deals default to pipeline `default`, its first stage and the portal currency; currencies
  outside the portal's are rejected: `hubspot_store.Portal.create`;
- the action request's timeout (`http_timeout`), Retry-After in milliseconds, the card-fetch
  query parameters and limits: the constants of `hubspot_outbound`;
- completing an unknown callback answers 404, a finished one 409: `HubSpotSimulator._completable`;
- archiving a missing record answers 204: `hubspot_crm.CrmRoutes._archive`;
- an association batch read lists inputs without associations as errors (207):
  `hubspot_crm.CrmRoutes._association_batch`;
- a batch update refuses the whole batch for a bad value or a repeated id (400) and lists
  unknown ids as errors (207) while updating the rest: `hubspot_crm.CrmRoutes._batch_update`;
- unlabelled association types carry no `label` (the spec types it as a string, never null);
- search: NEQ / NOT_IN / NOT_CONTAINS_TOKEN match records without a value, unknown properties
  are a 400, `after + limit` past 10,000 is a 400: `hubspot_search`;
- introspecting an unknown token answers 400 BAD_TOKEN: `hubspot_oauth.OAuthRoutes._introspect`;
- a note's `hs_attachment_ids` must name uploaded files: `hubspot_crm._check_attachments`;
- webhooks (batching window, retry schedule, which failures are retried, changeSource, the
  signature versions, the developer API key, uninstall events: none is sent): `hubspot_webhooks`;
- enroll and card fetch sign with the app they name, else the portal's latest install:
  `hubspot_control.ControlRoutes._signing_app`;
- the tax-rate library, the owners and the users, which no spec file documents (a new portal's
  Swedish VAT rates and admin owner and super admin user, paging, archived owners, users'
  `superAdmin`): `hubspot_account`.
"""

from __future__ import annotations

import itertools
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from werkzeug.wrappers import Request, Response

from sandbox.common import Clock, SimulatorApp, SlidingWindowLimiter, json_response
from sandbox.hubspot_account import (
    OWNERS_READ_SCOPES,
    TAX_RATES_READ_SCOPES,
    USERS_READ_SCOPES,
    AccountRoutes,
    Owner,
    TaxRate,
    User,
)
from sandbox.hubspot_control import ControlRoutes
from sandbox.hubspot_crm import CrmRoutes
from sandbox.hubspot_errors import ApiError, error_body, not_found, validation_error
from sandbox.hubspot_files import FilesRoutes
from sandbox.hubspot_oauth import App, AuthCode, Grant, OAuthRoutes
from sandbox.hubspot_outbound import (
    BLOCKED,
    CARD_FETCH_TIMEOUT_SECONDS,
    COMPLETED,
    PENDING,
    RETRY_SCHEDULED,
    Execution,
)
from sandbox.hubspot_requests import json_object
from sandbox.hubspot_schema import (
    ACCOUNT_SCOPES,
    AUTOMATION_SCOPES,
    FILES_READ_SCOPES,
    FILES_WRITE_SCOPES,
    ObjectType,
    object_type,
)
from sandbox.hubspot_store import Portal, iso_ms
from sandbox.hubspot_webhook_routes import WebhookRoutes
from sandbox.hubspot_webhooks import WebhookDispatcher
from sandbox.hubspot_workflow_triggers import WorkflowTriggerRoutes, WorkflowTriggers

SEARCH_RATE = (5, 1.0)  # search: 5 requests per second per portal, outside the 10-second limit
_API_PREFIXES = ("/crm/", "/files/", "/automation/", "/account-info/", "/tax-rates/", "/settings/")


#: the `spec` of routes no official spec file documents (they follow HubSpot's API reference)
REFERENCE_ONLY = "reference"


@dataclass(frozen=True)
class ApiRoute:
    """An API route the simulator serves and the spec file documenting it ("objects": the
    per-object-type file, e.g. deals.json; `REFERENCE_ONLY`: no spec file, HubSpot's API reference)."""

    rule: str
    methods: tuple[str, ...]
    spec: str


class PortalLimiter(SlidingWindowLimiter):
    """The sliding-window limiter, also telling how many requests a key has left."""

    def remaining(self, key: str) -> int:
        now = self.clock()
        with self._lock:
            live = sum(1 for hit in self._hits.get(key, ()) if hit > now - self.window)
        return max(0, self.limit - live)


class HubSpotSimulator(
    CrmRoutes, FilesRoutes, AccountRoutes, OAuthRoutes, ControlRoutes, WebhookRoutes, WorkflowTriggerRoutes,
    SimulatorApp
):
    """HubSpot's OAuth, CRM, files and workflow-callback APIs, plus HubSpot's side of the calls
    it makes to an app (see the module docstring)."""

    name = "hubspot"

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        token_ttl: float = 1800,
        rate_limit: int = 110,
        rate_window: float = 10.0,
        http_timeout: float = 15.0,
    ) -> None:
        super().__init__(limit=rate_limit, window=rate_window, clock=clock)
        self.limiter: PortalLimiter = PortalLimiter(rate_limit, rate_window, clock=clock)
        self.search_limiter = PortalLimiter(*SEARCH_RATE, clock=clock)
        self.wall_clock = wall_clock
        self.token_ttl = token_ttl
        self.http_timeout = http_timeout
        self.outbound_transport: httpx.BaseTransport | None = None  # e.g. to reach an app in process
        self.portals: dict[int, Portal] = {}
        self.apps: dict[str, App] = {}
        self.installs: dict[tuple[int, str], bool] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.executions: dict[str, Execution] = {}
        self.tax_rates: dict[int, dict[str, TaxRate]] = {}
        self.owners: dict[int, dict[str, Owner]] = {}
        self.users: dict[int, dict[str, User]] = {}
        self.api_routes: list[ApiRoute] = []
        self._portal_ids = itertools.count(146_000_001)
        self._object_ids = itertools.count(10_000_000_001)
        self._file_ids = itertools.count(200_000_000_001)
        self._user_ids = itertools.count(70_000_001)
        self._app_ids = itertools.count(3_000_001)
        self._owner_ids = itertools.count(81_000_001)
        self._tax_rate_ids = itertools.count(5_100_001)
        self.execution_numbers = itertools.count(56_000_000_001)
        self.webhooks = WebhookDispatcher(self)  # delivers in the background once started
        self.workflow_triggers = WorkflowTriggers()
        self._routes_oauth()
        self._routes_crm()
        self._routes_other()
        self._routes_control()
        self._routes_webhooks()
        self._routes_workflow_triggers()

    # -- time, portals, apps ---------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.wall_clock() * 1000)

    @property
    def card_timeout(self) -> float:
        return min(CARD_FETCH_TIMEOUT_SECONDS, self.http_timeout)

    def create_portal(
        self,
        *,
        portal_id: int | None = None,
        currency: str = "SEK",
        additional_currencies: Any = (),
        time_zone: str = "Europe/Stockholm",
        hub_domain: str | None = None,
    ) -> Portal:
        """A fresh portal: account currency SEK, the default pipeline and standard properties, Swedish
        VAT in its tax-rate library and its super admin as its one owner."""
        with self.lock:
            new_id = int(portal_id) if portal_id is not None else next(self._portal_ids)
            while portal_id is None and new_id in self.portals:
                new_id = next(self._portal_ids)
            portal = Portal(
                new_id,
                next_id=lambda: str(next(self._object_ids)),
                now_ms=self.now_ms,
                currency=currency,
                additional_currencies=additional_currencies,
                time_zone=time_zone,
                hub_domain=hub_domain,
                user_id=next(self._user_ids),
            )
            self.portals[portal.id] = portal
            self.new_account(portal)
            return portal

    def app_for_client(self, client_id: str, app_id: Any = None) -> App:
        """The app behind a client id, met for the first time or known already."""
        with self.lock:
            app = self.apps.get(client_id)
            if app is None:
                app = App(app_id=int(app_id) if app_id is not None else next(self._app_ids), client_id=client_id)
                self.apps[client_id] = app
            elif app_id is not None:
                app.app_id = int(app_id)
            return app

    def object_type(self, alias: str) -> ObjectType:
        found = object_type(str(alias))
        if found is None:
            raise ApiError(400, f"Unable to infer object type from: {alias}")
        return found

    # -- the base app's hooks --------------------------------------------------------------------

    def error_body(self, status: int, message: str, request: Request) -> Any:
        return error_body(status, message)

    def revoked(self, request: Request) -> Response:
        return json_response(
            error_body(401, "The OAuth token used to make this call has been revoked.", "INVALID_AUTHENTICATION"),
            status=401,
        )

    def tenant_of(self, request: Request) -> str | None:
        if not request.path.startswith(_API_PREFIXES) or _is_search(request.path):
            return None  # OAuth is not limited per portal; search has its own limit
        with self.lock:
            try:
                return str(self.authenticate(request).portal_id)
            except ApiError:
                return None

    def rate_limited(self, request: Request, retry_after: float) -> Response:
        body = error_body(
            429,
            "You have reached your ten_secondly_rolling limit.",
            "RATE_LIMITS",
            extra={
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
                "requestId": str(uuid.uuid4()),
            },
        )
        return json_response(body, status=429, headers={"Retry-After": str(max(1, math.ceil(retry_after)))})

    def dispatch(self, request: Request) -> Response:
        response = super().dispatch(request)
        tenant = None if request.path.startswith("/_sandbox/") else self.tenant_of(request)
        if tenant is not None and self.limiter.enabled:
            response.headers["X-HubSpot-RateLimit-Max"] = str(self.limiter.limit)
            response.headers["X-HubSpot-RateLimit-Remaining"] = str(self.limiter.remaining(tenant))
            response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(self.limiter.window * 1000))
        return response

    # -- route registration ----------------------------------------------------------------------

    def api(
        self,
        rule: str,
        methods: tuple[str, ...],
        handler: Callable[..., Response],
        *,
        spec: str,
        scopes: tuple[str, ...] | Callable[[dict[str, Any]], tuple[str, ...]] = (),
        auth: bool = True,
    ) -> None:
        """Serve an API route: authenticate, check scopes, run under the lock, answer errors in
        HubSpot's shape."""
        self.api_routes.append(ApiRoute(rule, methods, spec))

        def endpoint(request: Request, **args: Any) -> Response:
            try:
                with self.lock:
                    if not auth:
                        return handler(request, **args)
                    grant = self.authenticate(request)
                    self.require_scope(grant, scopes(args) if callable(scopes) else scopes)
                    return handler(request, grant, **args)
            except ApiError as exc:
                return json_response(exc.body(), status=exc.status, headers=exc.headers)

        self.add(rule, methods, endpoint)

    def _reads(self, key: str = "object_type") -> Callable[[dict[str, Any]], tuple[str, ...]]:
        return lambda args: self.object_type(args[key]).read_scopes

    def _writes(self, key: str = "object_type") -> Callable[[dict[str, Any]], tuple[str, ...]]:
        return lambda args: self.object_type(args[key]).write_scopes

    def _routes_oauth(self) -> None:
        # The authorize page is no API operation: the specs name it as the oauth2 authorizationUrl.
        self.api("/oauth/authorize", ("GET",), self._authorize, spec="securitySchemes", auth=False)
        for version in ("2026-03", "v1", "v3"):
            self.api(f"/oauth/{version}/token", ("POST",), self._token, spec="oauth.json", auth=False)
        self.api("/oauth/2026-03/token/introspect", ("POST",), self._introspect, spec="oauth.json", auth=False)
        self.api("/oauth/2026-03/token/revoke", ("POST",), self._revoke, spec="oauth.json", auth=False)

    def _routes_crm(self) -> None:
        base = "/crm/objects/2026-03/<object_type>"
        self.api(base, ("GET",), self._list, spec="objects", scopes=self._reads())
        self.api(base, ("POST",), self._create, spec="objects", scopes=self._writes())
        self.api(f"{base}/<object_id>", ("GET",), self._read, spec="objects", scopes=self._reads())
        self.api(f"{base}/<object_id>", ("PATCH",), self._update, spec="objects", scopes=self._writes())
        self.api(f"{base}/<object_id>", ("DELETE",), self._archive, spec="objects", scopes=self._writes())
        self.api(f"{base}/batch/read", ("POST",), self._batch_read, spec="objects", scopes=self._reads())
        self.api(f"{base}/batch/update", ("POST",), self._batch_update, spec="objects", scopes=self._writes())
        self.api(f"{base}/search", ("POST",), self._search, spec="objects", scopes=self._reads())
        assoc = f"{base}/<object_id>/associations"
        self.api(
            f"{assoc}/<to_type>",
            ("GET",),
            self._associations,
            spec="associations.json",
            scopes=self._association_scopes,
        )
        self.api(
            f"{assoc}/<to_type>/<to_id>",
            ("PUT",),
            self._associate,
            spec="associations.json",
            scopes=self._association_scopes,
        )
        self.api(
            f"{assoc}/<to_type>/<to_id>",
            ("DELETE",),
            self._dissociate,
            spec="associations.json",
            scopes=self._association_scopes,
        )
        self.api(
            f"{assoc}/default/<to_type>/<to_id>",
            ("PUT",),
            self._associate_default,
            spec="associations.json",
            scopes=self._association_scopes,
        )
        self.api(
            "/crm/associations/2026-03/<from_type>/<to_type>/batch/read",
            ("POST",),
            self._association_batch,
            spec="associations.json",
            scopes=self._association_batch_scopes,
        )

    def _routes_other(self) -> None:
        pipelines = "/crm/pipelines/2026-03/<object_type>"
        self.api(pipelines, ("GET",), self._pipelines, spec="pipelines.json", scopes=self._pipeline_scopes)
        self.api(
            f"{pipelines}/<pipeline_id>",
            ("GET",),
            self._pipeline,
            spec="pipelines.json",
            scopes=self._pipeline_scopes,
        )
        self.api(
            f"{pipelines}/<pipeline_id>/stages",
            ("GET",),
            self._stages,
            spec="pipelines.json",
            scopes=self._pipeline_scopes,
        )
        props = "/crm/properties/2026-03/<object_type>"
        schema_reads, schema_writes = self._schema_reads, self._schema_writes
        self.api(props, ("GET",), self._properties, spec="properties.json", scopes=schema_reads)
        self.api(props, ("POST",), self._create_property, spec="properties.json", scopes=schema_writes)
        self.api(f"{props}/groups", ("GET",), self._groups, spec="properties.json", scopes=schema_reads)
        self.api(f"{props}/groups", ("POST",), self._create_group, spec="properties.json", scopes=schema_writes)
        self.api(f"{props}/<property_name>", ("GET",), self._property, spec="properties.json", scopes=schema_reads)
        self.api(f"{props}/<property_name>", ("PATCH",), self._update_property, spec="properties.json",
                 scopes=schema_writes)
        self.api("/files/2026-03/files", ("POST",), self._upload, spec="files.json", scopes=FILES_WRITE_SCOPES)
        self.api(
            "/files/2026-03/files/<file_id>",
            ("GET",),
            self._file,
            spec="files.json",
            scopes=FILES_READ_SCOPES,
        )
        self.api(
            "/files/2026-03/files/<file_id>/signed-url",
            ("GET",),
            self._signed_url,
            spec="files.json",
            scopes=FILES_READ_SCOPES,
        )
        callbacks = "/automation/actions/callbacks/2026-03"
        self.api(
            f"{callbacks}/<callback_id>/complete",
            ("POST",),
            self._complete_one,
            spec="actionsV4.json",
            scopes=AUTOMATION_SCOPES,
        )
        self.api(
            f"{callbacks}/complete",
            ("POST",),
            self._complete_batch,
            spec="actionsV4.json",
            scopes=AUTOMATION_SCOPES,
        )
        self.api(
            "/account-info/2026-03/details",
            ("GET",),
            self._account,
            spec="accountInfo.json",
            scopes=ACCOUNT_SCOPES,
        )
        # No spec file documents these two APIs: they follow HubSpot's API reference (hubspot_account).
        for version in ("2026-03", "v1"):
            rates = f"/tax-rates/{version}/tax-rates"
            self.api(rates, ("GET",), self._tax_rate_list, spec=REFERENCE_ONLY, scopes=TAX_RATES_READ_SCOPES)
            self.api(f"{rates}/<tax_rate_id>", ("GET",), self._tax_rate, spec=REFERENCE_ONLY,
                     scopes=TAX_RATES_READ_SCOPES)
        self.api("/crm/owners/2026-03/<owner_id>", ("GET",), self._owner, spec=REFERENCE_ONLY,
                 scopes=OWNERS_READ_SCOPES)
        self.api("/settings/users/2026-03/<user_id>", ("GET",), self._user, spec=REFERENCE_ONLY,
                 scopes=USERS_READ_SCOPES)

    def _routes_control(self) -> None:
        control = (
            ("/_sandbox/portals", ("POST",), self._control_create_portal),
            ("/_sandbox/portals/<int:portal_id>", ("GET",), self._control_portal),
            ("/_sandbox/portals/<int:portal_id>/uninstall", ("POST",), self._control_uninstall),
            ("/_sandbox/portals/<int:portal_id>/tax-rates", ("PUT",), self._control_tax_rates),
            ("/_sandbox/portals/<int:portal_id>/owners", ("POST",), self._control_owners),
            ("/_sandbox/portals/<int:portal_id>/association-labels", ("POST",), self._control_label),
            ("/_sandbox/portals/<int:portal_id>/users", ("POST",), self._control_users),
            ("/_sandbox/tokens/expire", ("POST",), self._control_expire_tokens),
            ("/_sandbox/apps", ("POST",), self._control_apps),
            ("/_sandbox/files/<file_id>/content", ("GET",), self._control_file_content),
            ("/_sandbox/workflows/enroll", ("POST",), self._control_enroll),
            ("/_sandbox/workflows/retry", ("POST",), self._control_retry),
            ("/_sandbox/callbacks", ("GET",), self._control_callbacks),
            ("/_sandbox/callbacks/<callback_id>", ("GET",), self._control_callback),
            ("/_sandbox/cards/fetch", ("POST",), self._control_card_fetch),
        )
        for rule, methods, handler in control:
            self.add(rule, methods, handler, control=True)

    # -- scopes that depend on the path ----------------------------------------------------------

    def _association_scopes(self, args: dict[str, Any]) -> tuple[str, ...]:
        # The spec lists `oauth` among the alternatives of the single-record association routes.
        return (
            "oauth",
            *self._association_batch_scopes({"from_type": args["object_type"], "to_type": args["to_type"]}),
        )

    def _association_batch_scopes(self, args: dict[str, Any]) -> tuple[str, ...]:
        source, target = self.object_type(args["from_type"]), self.object_type(args["to_type"])
        return tuple(dict.fromkeys((*source.read_scopes, *source.write_scopes, *target.read_scopes)))

    def _schema_reads(self, args: dict[str, Any]) -> tuple[str, ...]:
        return self.object_type(args["object_type"]).schema_read_scopes

    def _schema_writes(self, args: dict[str, Any]) -> tuple[str, ...]:
        return self.object_type(args["object_type"]).schema_write_scopes

    def _pipeline_scopes(self, args: dict[str, Any]) -> tuple[str, ...]:
        t = self.object_type(args["object_type"])
        return (*t.read_scopes, *t.write_scopes, *t.schema_read_scopes[:1])

    # -- workflow action callbacks ---------------------------------------------------------------

    def _complete_one(self, request: Request, grant: Grant, callback_id: str) -> Response:
        body = json_object(request)
        execution = self._completable(grant, callback_id)
        outputs = _output_fields(body)
        self._record_completion(execution, outputs, body, "CALLBACK")
        return Response(status=204)

    def _complete_batch(self, request: Request, grant: Grant) -> Response:
        """Complete several callbacks; every input is checked first and none is completed unless
        all are completable."""
        inputs = json_object(request).get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise validation_error("Invalid input JSON: inputs is required and must be a non-empty list")
        checked = []
        for item in inputs:
            if not isinstance(item, dict) or not item.get("callbackId"):
                raise validation_error("Each input needs a callbackId")
            if any(e.callback_id == str(item["callbackId"]) for e, _, _ in checked):
                raise validation_error(f"Callback {item['callbackId']} is listed twice")
            checked.append((self._completable(grant, str(item["callbackId"])), _output_fields(item), item))
        for execution, outputs, item in checked:
            self._record_completion(execution, outputs, item, "BATCH_CALLBACK")
        return Response(status=204)

    def _completable(self, grant: Grant, callback_id: str) -> Execution:
        """The execution a completion names, or the error the simulator answers.

        Decision (HubSpot does not document it): an unknown callbackId, or one of another portal
        or app, answers 404 OBJECT_NOT_FOUND; a callback already completed, failed or expired
        answers 409 CONFLICT, so a client can tell "already done" from a real failure.
        A callback can be completed from the moment HubSpot sends the execution request, even
        before the app's BLOCK answer arrives, and while HubSpot is retrying it.
        """
        execution = self.executions.get(callback_id)
        if execution is None or execution.portal_id != grant.portal_id or execution.app_id != grant.app_id:
            raise not_found(f"Callback {callback_id} not found")
        execution.refresh(self.now_ms())
        if execution.state not in (PENDING, BLOCKED, RETRY_SCHEDULED):
            raise ApiError(409, f"Callback {callback_id} cannot be completed: it is {execution.state}", "CONFLICT")
        return execution

    def _record_completion(self, execution: Execution, outputs: dict[str, str], body: dict[str, Any], via: str) -> None:
        now = self.now_ms()
        execution.completions.append(
            {
                "at": iso_ms(now),
                "via": via,
                "outputFields": outputs,
                "typedOutputs": body.get("typedOutputs"),
                "failureReasonType": body.get("failureReasonType"),
            }
        )
        execution.state = COMPLETED
        execution.execution_state = outputs.get("hs_execution_state", "SUCCESS")
        execution.output_fields = {k: v for k, v in outputs.items() if k != "hs_execution_state"}
        execution.completed_at_ms = now
        execution.completed_by = via
        execution.next_attempt_ms = None

    # -- account ---------------------------------------------------------------------------------

    def _account(self, request: Request, grant: Grant) -> Response:
        portal = self._portal_of(grant)
        offset = datetime.fromtimestamp(self.wall_clock(), tz=UTC).astimezone(ZoneInfo(portal.time_zone)).utcoffset()
        seconds = int(offset.total_seconds()) if offset else 0
        sign = "+" if seconds >= 0 else "-"
        hours, minutes = divmod(abs(seconds) // 60, 60)
        return json_response(
            {
                "portalId": portal.id,
                "accountType": "STANDARD",
                "timeZone": portal.time_zone,
                "companyCurrency": portal.currency,
                "additionalCurrencies": portal.additional_currencies,
                "utcOffset": f"{sign}{hours:02d}:{minutes:02d}",
                "utcOffsetMilliseconds": seconds * 1000,
                "uiDomain": "app-eu1.hubspot.com",
                "dataHostingLocation": "eu1",
            }
        )


# -- request helpers -------------------------------------------------------------------------------


def _is_search(path: str) -> bool:
    return path.startswith("/crm/objects/2026-03/") and path.rstrip("/").endswith("/search")


def _output_fields(body: dict[str, Any]) -> dict[str, str]:
    outputs = body.get("outputFields")
    if not isinstance(outputs, dict):
        raise validation_error("outputFields is required and must be an object")
    state = outputs.get("hs_execution_state")
    if state not in (None, "SUCCESS", "FAIL_CONTINUE"):
        raise validation_error(f"hs_execution_state {state!r} cannot complete a callback: use SUCCESS or FAIL_CONTINUE")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in outputs.items()}
