"""The HubSpot simulator's control surface under `/_sandbox/`: seed and inspect portals, manage
apps and tokens, read uploaded bytes back, and play HubSpot's side (enroll a record in a workflow
action, fetch an app card).

    POST /_sandbox/portals                  create a portal, optionally seeded
    GET  /_sandbox/portals/{id}             dump its objects, associations, files, callbacks,
                                            tax rates and owners
    POST /_sandbox/portals/{id}/uninstall   uninstall the app(s): tokens die, refresh fails, no
                                            more webhooks ({clientId} for one app)
    PUT  /_sandbox/portals/{id}/tax-rates   {taxRates: [...]} replaces the tax-rate library
    POST /_sandbox/portals/{id}/owners      add an owner {firstName, lastName, email, ...}
    POST /_sandbox/portals/{id}/association-labels  define a label {fromObjectType, toObjectType,
                                            label} as a portal admin does; answers its typeIds
    POST /_sandbox/portals/{id}/users       add a user {email, firstName, lastName, superAdmin, id?}
    POST /_sandbox/tokens/expire            expire access tokens (all, or by token/portal)
    POST /_sandbox/apps                     {appId, clientId, clientSecret, developerApiKey}
    GET  /_sandbox/files/{id}/content       the uploaded bytes
    POST /_sandbox/workflows/enroll         send a signed execution request to an actionUrl
    POST /_sandbox/workflows/retry          re-deliver an execution HubSpot would retry
    POST /_sandbox/workflows/triggers       a workflow enrolling records whose property changes to
                                            a value {portalId, objectType, property, value,
                                            reenroll?}; answers {triggerId}
    GET  /_sandbox/workflows/triggers/{id}/enrollments  the records it enrolled (objectId, at,
                                            changeSource, sourceId)
    DELETE /_sandbox/workflows/triggers/{id}  delete it (`hubspot_workflow_triggers`)
    GET  /_sandbox/callbacks[/{callbackId}] the executions and their callbacks
    POST /_sandbox/cards/fetch              call an app card's backend as hubspot.fetch does
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.common import SandboxError, json_response, read_json
from sandbox.hubspot_errors import ApiError
from sandbox.hubspot_outbound import (
    BLOCKED,
    COMPLETED,
    RETRY_SCHEDULED,
    Execution,
    card_fetch,
    card_url,
    deliver,
    execution_payload,
    read_outcome,
)
from sandbox.hubspot_schema import OBJECT_TYPES, pipeline_json
from sandbox.hubspot_store import Portal, file_json, object_json, set_properties

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSimulator
    from sandbox.hubspot_oauth import App

# The order seeded records are created in, so that line items can name their products.
SEED_ORDER = ("products", "companies", "contacts", "deals", "line_items", "notes")
#: properties whose seeded value may be the ref of a seeded record, owner or tax rate
SEED_REF_PROPERTIES = ("hs_product_id", "hubspot_owner_id", "hs_tax_rate_group_id")
WORKFLOW_OBJECT_TYPES = {"DEAL": "deals", "COMPANY": "companies", "CONTACT": "contacts"}


def _sandbox_error(exc: ApiError) -> SandboxError:
    return SandboxError(exc.status, exc.message)


class ControlRoutes:
    """The `/_sandbox/` endpoints of the HubSpot simulator (a mixin of HubSpotSimulator)."""

    # -- portals ---------------------------------------------------------------------------------

    def _control_create_portal(self: HubSpotSimulator, request: Request) -> Response:
        spec = read_json(request)
        with self.lock:
            if spec.get("portalId") is not None and int(spec["portalId"]) in self.portals:
                raise SandboxError(409, f"portal {spec['portalId']} already exists")
            portal = self.create_portal(
                portal_id=spec.get("portalId"),
                currency=spec.get("currency", "SEK"),
                additional_currencies=spec.get("additionalCurrencies", ()),
                time_zone=spec.get("timeZone", "Europe/Stockholm"),
                hub_domain=spec.get("hubDomain"),
            )
            try:
                refs = self._seed(portal, spec)
            except ApiError as exc:
                self._forget(portal)
                raise SandboxError(exc.status, f"seeding failed: {exc.message}") from exc
            except SandboxError as exc:
                self._forget(portal)
                raise SandboxError(exc.status, f"seeding failed: {exc.message}") from exc
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                self._forget(portal)
                raise SandboxError(400, f"seeding failed: malformed seed data ({exc!r})") from exc
            return json_response({"portalId": portal.id, "hubDomain": portal.hub_domain, "refs": refs}, status=201)

    def _forget(self: HubSpotSimulator, portal: Portal) -> None:
        del self.portals[portal.id]
        self.drop_account(portal.id)

    def _seed(self: HubSpotSimulator, portal: Portal, spec: dict[str, Any]) -> dict[str, str]:
        """Seed pipelines, properties, the tax-rate library (`taxRates` replaces the default one),
        owners and records; a record's `hs_product_id`, `hubspot_owner_id` or
        `hs_tax_rate_group_id` may name the `ref` of a seeded product, owner or tax rate."""
        for pipeline in spec.get("pipelines", []):
            stages = [
                (s["id"], s.get("label", s["id"]), str(s.get("probability", "0.5")), bool(s.get("closed")))
                for s in pipeline["stages"]
            ]
            portal.pipelines[pipeline["id"]] = pipeline_json(
                pipeline["id"], pipeline.get("label", pipeline["id"]), stages, len(portal.pipelines)
            )
        for type_name, definitions in spec.get("properties", {}).items():
            for definition in definitions:
                self.create_property(portal, self.object_type(type_name).name, definition)
        objects = spec.get("objects", {})
        unknown = set(objects) - set(SEED_ORDER)
        if unknown:
            raise ApiError(400, f"unknown object types to seed: {sorted(unknown)}")
        refs: dict[str, tuple[str, str]] = {}
        if "taxRates" in spec:
            rates = self.set_tax_rates(portal, spec["taxRates"])
            refs.update({str(item.get("ref", f"taxRates[{i}]")): ("tax_rates", rate.id)
                         for i, (item, rate) in enumerate(zip(spec["taxRates"], rates, strict=True))})
        for item in spec.get("users", []):
            self.add_user(portal, item)
        for i, item in enumerate(spec.get("owners", [])):
            refs[str(item.get("ref", f"owners[{i}]"))] = ("owners", self.add_owner(portal, item).id)
        pending: list[tuple[str, str, dict[str, Any]]] = []
        for type_name in SEED_ORDER:
            for i, record in enumerate(objects.get(type_name, [])):
                properties = dict(record.get("properties", {}))
                for name in SEED_REF_PROPERTIES:
                    if str(properties.get(name)) in refs:
                        properties[name] = refs[str(properties[name])][1]
                created = portal.create(type_name, properties)
                refs[str(record.get("ref", f"{type_name}[{i}]"))] = (type_name, created.id)
                pending += [(type_name, created.id, link) for link in record.get("associations", [])]
        for type_name, object_id, link in pending:
            to_type, to_id = self._seed_target(refs, link)
            if link.get("label"):
                kind = portal.define_label(type_name, to_type, str(link["label"]))
                portal.associate(type_name, object_id, to_type, to_id, kind.type_id, "USER_DEFINED")
            else:
                portal.associate(type_name, object_id, to_type, to_id, link.get("typeId"))
        return {ref: object_id for ref, (_, object_id) in refs.items()}

    def _seed_target(self: HubSpotSimulator, refs: dict[str, tuple[str, str]], link: dict[str, Any]) -> tuple[str, str]:
        target = str(link["to"])
        if target in refs:
            return refs[target]
        if not link.get("toType"):
            raise ApiError(400, f"association target {target} is neither a ref nor given with a toType")
        return self.object_type(link["toType"]).name, target

    def _control_label(self: HubSpotSimulator, request: Request, portal_id: int) -> Response:
        spec = read_json(request)
        with self.lock:
            portal = self.portal(portal_id)
            try:
                kind = portal.define_label(self.object_type(str(spec.get("fromObjectType"))).name,
                                           self.object_type(str(spec.get("toObjectType"))).name,
                                           str(spec.get("label") or ""))
            except ApiError as exc:
                raise _sandbox_error(exc) from None
            return json_response({"category": kind.category, "typeId": kind.type_id,
                                  "inverseTypeId": kind.inverse_id, "label": kind.label}, status=201)

    def _control_portal(self: HubSpotSimulator, request: Request, portal_id: int) -> Response:
        with self.lock:
            portal = self.portal(portal_id)
            objects = {}
            for type_name in OBJECT_TYPES:
                objects[type_name] = [
                    object_json(portal, o, set_properties(o), associations=list(OBJECT_TYPES))
                    for o in portal.live(type_name)
                ]
            return json_response(
                {
                    "portalId": portal.id,
                    "hubDomain": portal.hub_domain,
                    "currency": portal.currency,
                    "additionalCurrencies": portal.additional_currencies,
                    "userId": portal.user_id,
                    "userEmail": portal.user_email,
                    "installs": [
                        client for (pid, client), active in self.installs.items() if pid == portal.id and active
                    ],
                    "objects": objects,
                    "properties": {
                        t: [p.name for p in props.values() if not p.hubspot_defined]
                        for t, props in portal.properties.items()
                    },
                    "pipelines": list(portal.pipelines.values()),
                    "files": [file_json(portal, f) for f in portal.files.values() if not f.archived],
                    "callbacks": [e.as_json() for e in self.executions.values() if e.portal_id == portal.id],
                    **self.account_json(portal),
                }
            )

    def _control_uninstall(self: HubSpotSimulator, request: Request, portal_id: int) -> Response:
        spec = read_json(request)
        with self.lock:
            portal = self.portal(portal_id)
            removed = self.uninstall(portal.id, spec.get("clientId"))
            return json_response({"portalId": portal.id, "uninstalled": removed})

    def _control_expire_tokens(self: HubSpotSimulator, request: Request) -> Response:
        spec = read_json(request)
        with self.lock:
            expired = 0
            for grant in self.access_tokens.values():
                if spec.get("token") not in (None, grant.token):
                    continue
                if spec.get("portalId") not in (None, grant.portal_id):
                    continue
                grant.expires_at = min(grant.expires_at or 0.0, self.clock() - 1)
                expired += 1
            return json_response({"expired": expired})

    def _control_apps(self: HubSpotSimulator, request: Request) -> Response:
        spec = read_json(request)
        if not spec.get("clientId"):
            raise SandboxError(400, "clientId is required")
        with self.lock:
            app = self.app_for_client(str(spec["clientId"]), spec.get("appId"))
            if spec.get("clientSecret"):
                app.client_secret = str(spec["clientSecret"])
            if spec.get("developerApiKey"):
                app.developer_api_key = str(spec["developerApiKey"])
            return json_response({"appId": app.app_id, "clientId": app.client_id}, status=201)

    def _control_file_content(self: HubSpotSimulator, request: Request, file_id: str) -> Response:
        with self.lock:
            for portal in self.portals.values():
                stored = portal.files.get(file_id)
                if stored is not None and not stored.archived:
                    expires = request.args.get("expires", type=int)
                    if expires is not None and expires < self.now_ms():
                        raise SandboxError(403, "this signed URL has expired")
                    return Response(
                        stored.content,
                        content_type=stored.content_type,
                        headers={"Content-Disposition": f'inline; filename="{stored.name}.{stored.extension}"'},
                    )
        raise SandboxError(404, f"file {file_id} not found")

    # -- workflow actions ------------------------------------------------------------------------

    def _control_enroll(self: HubSpotSimulator, request: Request) -> Response:
        spec = read_json(request)
        with self.lock:
            portal = self.portal(spec.get("portalId"))
            app = self._signing_app(portal, spec)
            if spec.get("callbackId"):
                execution = self.execution(str(spec["callbackId"]))
                if execution.portal_id != portal.id:
                    raise SandboxError(404, f"callback {spec['callbackId']} belongs to another portal")
            else:
                execution = self._new_execution(portal, app, spec)
        self._deliver(execution, app, int(spec.get("retries", 0)))
        return self._execution_reply(execution)

    def _new_execution(self: HubSpotSimulator, portal: Portal, app: App, spec: dict[str, Any]) -> Execution:
        kind = str(spec.get("objectType", "DEAL")).upper()
        if kind not in WORKFLOW_OBJECT_TYPES:
            raise SandboxError(400, f"objectType must be one of {', '.join(WORKFLOW_OBJECT_TYPES)}")
        if not spec.get("actionUrl") or spec.get("objectId") in (None, ""):
            raise SandboxError(400, "actionUrl and objectId are required")
        try:
            record = portal.find(WORKFLOW_OBJECT_TYPES[kind], str(spec["objectId"]))
        except ApiError as exc:
            raise _sandbox_error(exc) from exc
        wanted = spec.get("objectProperties") or []
        properties = {name: record.properties[name] for name in wanted if record.properties.get(name) is not None}
        definition = int(spec.get("actionDefinitionId", 1_000_001))
        callback_id = f"ap-{portal.id}-{next(self.execution_numbers)}-1-0"
        payload = execution_payload(
            callback_id=callback_id,
            portal_id=portal.id,
            action_definition_id=definition,
            workflow_id=int(spec.get("workflowId", 2_000_000 + definition % 1_000_000)),
            object_type=kind,
            object_id=record.id,
            properties=properties,
            input_fields=spec.get("inputFields") or {},
        )
        execution = Execution(
            callback_id=callback_id,
            portal_id=portal.id,
            app_id=app.app_id,
            client_id=app.client_id,
            action_url=str(spec["actionUrl"]),
            payload=payload,
        )
        self.executions[callback_id] = execution
        return execution

    def _signing_app(self: HubSpotSimulator, portal: Portal, spec: dict[str, Any]) -> App:
        """The app whose secret signs what HubSpot sends: the one named by clientId or appId, else
        the portal's most recently installed app, else the only app the simulator knows."""
        if spec.get("clientId"):
            app = self.apps.get(str(spec["clientId"]))
        elif spec.get("appId") is not None:
            app = next((a for a in self.apps.values() if a.app_id == int(spec["appId"])), None)
        else:
            installed = [self.apps[c] for (pid, c), active in self.installs.items() if pid == portal.id and active]
            app = installed[-1] if installed else (next(iter(self.apps.values())) if len(self.apps) == 1 else None)
        if app is None or not app.client_secret:
            raise SandboxError(
                400,
                "no app with a known client secret to sign with: install one through OAuth "
                "or POST /_sandbox/apps, or name it with clientId",
            )
        return app

    def _deliver(self: HubSpotSimulator, execution: Execution, app: App, retries: int) -> None:
        """Deliver, then retry at once up to `retries` times while HubSpot would retry and any
        Retry-After has passed."""
        assert app.client_secret is not None
        for _ in range(max(0, retries) + 1):
            now = self.now_ms()
            delivery = deliver(
                execution,
                secret=app.client_secret,
                now_ms=now,
                timeout=self.http_timeout,
                transport=self.outbound_transport,
            )
            with self.lock:
                if execution.state != COMPLETED:  # a callback may have completed it meanwhile
                    read_outcome(execution, delivery, self.now_ms())
                due = execution.next_attempt_ms is not None and execution.next_attempt_ms <= self.now_ms()
                if execution.state != RETRY_SCHEDULED or not due:
                    return

    def _control_retry(self: HubSpotSimulator, request: Request) -> Response:
        spec = read_json(request)
        with self.lock:
            execution = self.execution(str(spec.get("callbackId", "")))
            if execution.state != RETRY_SCHEDULED:
                raise SandboxError(
                    409, f"callback {execution.callback_id} is {execution.state}: HubSpot would not retry it"
                )
            if execution.next_attempt_ms is not None and execution.next_attempt_ms > self.now_ms():
                raise SandboxError(
                    409,
                    f"Retry-After has not passed: the next attempt is due at {execution.next_attempt_ms} (epoch ms)",
                )
            app = self.apps[execution.client_id]
        self._deliver(execution, app, int(spec.get("retries", 0)))
        return self._execution_reply(execution)

    def _execution_reply(self: HubSpotSimulator, execution: Execution) -> Response:
        with self.lock:
            last = execution.deliveries[-1]
            return json_response(
                {
                    "callbackId": execution.callback_id,
                    "status": last.status,
                    "body": last.body,
                    "error": last.error,
                    "state": execution.state,
                    "attempts": len(execution.deliveries),
                }
            )

    def _control_callback(self: HubSpotSimulator, request: Request, callback_id: str) -> Response:
        with self.lock:
            execution = self.execution(callback_id)
            execution.refresh(self.now_ms())
            return json_response(execution.as_json())

    def _control_callbacks(self: HubSpotSimulator, request: Request) -> Response:
        portal_id = request.args.get("portalId", type=int)
        with self.lock:
            items = [e for e in self.executions.values() if portal_id in (None, e.portal_id)]
            for e in items:
                e.refresh(self.now_ms())
            return json_response(
                {
                    "callbacks": [e.as_json() for e in items],
                    "blocked": [e.callback_id for e in items if e.state == BLOCKED],
                }
            )

    def execution(self: HubSpotSimulator, callback_id: str) -> Execution:
        found = self.executions.get(callback_id)
        if found is None:
            raise SandboxError(404, f"callback {callback_id} not found")
        return found

    # -- app cards -------------------------------------------------------------------------------

    def _control_card_fetch(self: HubSpotSimulator, request: Request) -> Response:
        spec = read_json(request)
        with self.lock:
            portal = self.portal(spec.get("portalId"))
            app = self._signing_app(portal, spec)
            if not spec.get("url"):
                raise SandboxError(400, "url is required")
            user = self.users.get(portal.id, {}).get(str(spec.get("userId", portal.user_id)))
            params = {
                "portalId": portal.id,
                "userId": spec.get("userId", portal.user_id),
                "userEmail": spec.get("userEmail", user.email if user is not None else portal.user_email),
                "appId": app.app_id,
            }
            url = card_url(str(spec["url"]), params)
        method = str(spec.get("method", "GET")).upper()
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise SandboxError(400, "hubspot.fetch supports GET, POST, PUT, PATCH and DELETE")
        assert app.client_secret is not None
        result = card_fetch(
            url=url,
            method=method,
            body=spec.get("body"),
            secret=app.client_secret,
            now_ms=self.now_ms(),
            timeout=self.card_timeout,
            transport=self.outbound_transport,
        )
        return json_response({"url": url, **result})

    # -- helpers shared with the API -------------------------------------------------------------

    def portal(self: HubSpotSimulator, portal_id: Any) -> Portal:
        try:
            found = self.portals.get(int(portal_id))
        except (TypeError, ValueError):
            found = None
        if found is None:
            raise SandboxError(404, f"portal {portal_id} not found")
        return found
