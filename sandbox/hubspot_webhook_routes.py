"""The HubSpot simulator's webhook surfaces (a mixin of HubSpotSimulator); the dispatcher itself
and the decisions behind it are in `hubspot_webhooks`.

The developer's webhooks API (spec `webhooks.json`, authenticated with `?hapikey=`):

    GET|PUT|DELETE /webhooks/2026-03/{appId}/settings
    GET|POST       /webhooks/2026-03/{appId}/subscriptions
    GET|PATCH|DELETE /webhooks/2026-03/{appId}/subscriptions/{subscriptionId}
    POST           /webhooks/2026-03/{appId}/subscriptions/batch/update

The app uninstalling itself: `DELETE /appinstalls/2026-03/external-install` (bearer token, 204).

Controls:

    GET  /_sandbox/hubspot/webhooks            settings, subscriptions and every delivery
                                               (?portalId=, ?state=)
    POST /_sandbox/hubspot/webhooks/pause      stop background deliveries (events still queue)
    POST /_sandbox/hubspot/webhooks/resume
    POST /_sandbox/hubspot/webhooks/flush      deliver everything due now and wait for the answers
    PUT  /_sandbox/hubspot/webhooks/config     {batchWindowMs, retryBackoffMs, timeoutSeconds}
    POST /_sandbox/hubspot/webhooks/faults     {failNext, failStatus, duplicateNext}
    POST  /_sandbox/portals/{id}/objects/{type}            create a record as a person in HubSpot
    PATCH /_sandbox/portals/{id}/objects/{type}/{objectId} edit one as a person (e.g. move a deal)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.common import SandboxError, json_response, read_json
from sandbox.hubspot_errors import ApiError, not_found, validation_error
from sandbox.hubspot_requests import json_object
from sandbox.hubspot_store import CrmObject, Portal, iso_ms, object_json, set_properties
from sandbox.hubspot_webhooks import Subscription, changed

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSimulator
    from sandbox.hubspot_oauth import Grant

WEBHOOKS = "/webhooks/2026-03/<int:app_id>"
#: the event types the spec's SubscriptionCreateRequest lists, by object prefix
OBJECT_PREFIXES = ("company", "contact", "deal", "line_item", "product", "ticket", "object", "conversation",
                   "event")


def _api_error(exc: ApiError) -> Response:
    return json_response(exc.body(), status=exc.status, headers=exc.headers)


class WebhookRoutes:
    """The webhooks API, the external-install DELETE and the webhook controls."""

    def _routes_webhooks(self: HubSpotSimulator) -> None:
        developer = (
            (f"{WEBHOOKS}/settings", ("GET",), self._webhook_settings),
            (f"{WEBHOOKS}/settings", ("PUT",), self._webhook_configure),
            (f"{WEBHOOKS}/settings", ("DELETE",), self._webhook_clear),
            (f"{WEBHOOKS}/subscriptions", ("GET",), self._subscriptions),
            (f"{WEBHOOKS}/subscriptions", ("POST",), self._subscribe),
            (f"{WEBHOOKS}/subscriptions/batch/update", ("POST",), self._subscriptions_batch),
            (f"{WEBHOOKS}/subscriptions/<int:subscription_id>", ("GET",), self._subscription),
            (f"{WEBHOOKS}/subscriptions/<int:subscription_id>", ("PATCH",), self._subscription_patch),
            (f"{WEBHOOKS}/subscriptions/<int:subscription_id>", ("DELETE",), self._unsubscribe),
        )
        for rule, methods, handler in developer:
            self.add(rule, methods, self._developer(handler))
        self.add("/appinstalls/2026-03/external-install", ("DELETE",), self._external_uninstall)
        control = (
            ("/_sandbox/hubspot/webhooks", ("GET",), self._control_webhooks),
            ("/_sandbox/hubspot/webhooks/pause", ("POST",), self._control_webhooks_pause),
            ("/_sandbox/hubspot/webhooks/resume", ("POST",), self._control_webhooks_resume),
            ("/_sandbox/hubspot/webhooks/flush", ("POST",), self._control_webhooks_flush),
            ("/_sandbox/hubspot/webhooks/config", ("PUT",), self._control_webhooks_config),
            ("/_sandbox/hubspot/webhooks/faults", ("POST",), self._control_webhooks_faults),
            ("/_sandbox/portals/<int:portal_id>/objects/<object_type>", ("POST",), self._control_person_create),
            ("/_sandbox/portals/<int:portal_id>/objects/<object_type>/<object_id>", ("PATCH",),
             self._control_person_update),
        )
        for rule, methods, handler in control:
            self.add(rule, methods, handler, control=True)

    # -- events from CRM changes -----------------------------------------------------------------

    def crm_changed(self: HubSpotSimulator, portal: Portal, type_name: str, record: CrmObject, kind: str, *,
                    changes: dict[str, str | None] | None = None, grant: Grant | None = None) -> None:
        """Queue the webhook events a change makes for every app installed in the portal, and
        enroll the record in the portal's workflow triggers it meets (`hubspot_workflow_triggers`).

        Every write to a record must end here, so webhooks and workflows see it whatever its source.
        `changes` holds only the properties whose value changed (`hubspot_webhooks.changed`).
        `grant` is the app that wrote through the API (changeSource INTEGRATION); None is a person
        in HubSpot (CRM_UI). Called under the simulator's lock."""
        if kind == "propertyChange" and not changes:
            return
        t = self.object_type(type_name)
        if grant is not None:
            source, source_id = "INTEGRATION", str(grant.app_id)
        else:
            source, source_id = "CRM_UI", f"userId:{portal.user_id}"
        self.enroll_on_change(portal, t.name, record, kind, changes, source, source_id)
        for (portal_id, client_id), active in self.installs.items():
            app = self.apps.get(client_id)
            if portal_id != portal.id or not active or app is None:
                continue
            self.webhooks.record(app_id=app.app_id, client_id=client_id, portal_id=portal.id,
                                 object_type_id=t.type_id, singular=t.singular, kind=kind, object_id=record.id,
                                 change_source=source, source_id=source_id, changes=changes)

    # -- the developer's webhooks API ------------------------------------------------------------

    def _developer(self: HubSpotSimulator, handler: Any) -> Any:
        """Check the developer API key of the app in the path, answer errors in HubSpot's shape."""

        def endpoint(request: Request, app_id: int, **args: Any) -> Response:
            try:
                with self.lock:
                    app = next((a for a in self.apps.values() if a.app_id == app_id), None)
                    key = request.args.get("hapikey", "")
                    if app is None or not app.developer_api_key or key != app.developer_api_key:
                        raise ApiError(401, "The developer API key (hapikey) is missing, unknown, or not of the "
                                            f"developer account owning app {app_id}.", "INVALID_AUTHENTICATION")
                    return handler(request, app_id, **args)
            except ApiError as exc:
                return _api_error(exc)

        return endpoint

    def _webhook_settings(self: HubSpotSimulator, request: Request, app_id: int) -> Response:
        hooks = self.webhooks.app(app_id)
        if not hooks.target_url:
            raise not_found(f"No webhook settings for app {app_id}")
        return json_response(hooks.settings_json())

    def _webhook_configure(self: HubSpotSimulator, request: Request, app_id: int) -> Response:
        body = json_object(request)
        target = body.get("targetUrl")
        throttling = body.get("throttling")
        limit = throttling.get("maxConcurrentRequests") if isinstance(throttling, dict) else None
        if not isinstance(target, str) or not target.startswith(("http://", "https://")):
            raise validation_error("targetUrl is required and must be an http(s) URL")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise validation_error("throttling.maxConcurrentRequests is required and must be a positive integer")
        now = self.now_ms()
        with self.webhooks.lock:
            hooks = self.webhooks.app(app_id)
            hooks.target_url, hooks.max_concurrent = target, limit
            hooks.created_ms = hooks.created_ms or now
            hooks.updated_ms = now
            return json_response(hooks.settings_json())

    def _webhook_clear(self: HubSpotSimulator, request: Request, app_id: int) -> Response:
        """Delete the settings: subscriptions stay, paused until a target URL is set again."""
        with self.webhooks.lock:
            hooks = self.webhooks.app(app_id)
            hooks.target_url, hooks.created_ms, hooks.updated_ms = None, None, None
        return Response(status=204)

    def _subscriptions(self: HubSpotSimulator, request: Request, app_id: int) -> Response:
        hooks = self.webhooks.app(app_id)
        return json_response({"results": [s.as_json() for s in hooks.subscriptions.values()]})

    def _subscribe(self: HubSpotSimulator, request: Request, app_id: int) -> Response:
        body = json_object(request)
        event_type, active = body.get("eventType"), body.get("active")
        if not isinstance(event_type, str) or event_type.split(".")[0] not in OBJECT_PREFIXES or "." not in event_type:
            raise validation_error(f"eventType {event_type!r} is not a known event type")
        if not isinstance(active, bool):
            raise validation_error("active is required and must be a boolean")
        property_name = body.get("propertyName")
        if event_type.endswith(".propertyChange") and not property_name:
            raise validation_error(f"{event_type} subscriptions need a propertyName")
        object_type_id = body.get("objectTypeId")
        if event_type.startswith("object.") and not object_type_id:
            raise validation_error(f"{event_type} subscriptions need an objectTypeId")
        now = self.now_ms()
        with self.webhooks.lock:
            hooks = self.webhooks.app(app_id)
            for existing in hooks.subscriptions.values():
                if (existing.event_type, existing.property_name, existing.object_type_id) == (
                        event_type, property_name, object_type_id):
                    raise ApiError(409, f"App {app_id} already subscribes to {event_type}"
                                        f"{' ' + property_name if property_name else ''}", "CONFLICT")
            sub = Subscription(self.webhooks.new_subscription_id(), event_type, active, now, now,
                               str(property_name) if property_name else None,
                               str(object_type_id) if object_type_id else None)
            hooks.subscriptions[sub.id] = sub
        return json_response(sub.as_json(), status=201,
                             headers={"Location": f"{request.host_url.rstrip('/')}{request.path}/{sub.id}"})

    def _subscription_of(self: HubSpotSimulator, app_id: int, subscription_id: int) -> Subscription:
        found = self.webhooks.app(app_id).subscriptions.get(subscription_id)
        if found is None:
            raise not_found(f"Subscription {subscription_id} of app {app_id} not found")
        return found

    def _subscription(self: HubSpotSimulator, request: Request, app_id: int, subscription_id: int) -> Response:
        return json_response(self._subscription_of(app_id, subscription_id).as_json())

    def _subscription_patch(self: HubSpotSimulator, request: Request, app_id: int, subscription_id: int) -> Response:
        active = json_object(request).get("active")
        if not isinstance(active, bool):
            raise validation_error("active must be a boolean")
        with self.webhooks.lock:
            sub = self._subscription_of(app_id, subscription_id)
            sub.active, sub.updated_ms = active, self.now_ms()
            return json_response(sub.as_json())

    def _subscriptions_batch(self: HubSpotSimulator, request: Request, app_id: int) -> Response:
        inputs = json_object(request).get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise validation_error("inputs is required and must be a non-empty list")
        with self.webhooks.lock:
            checked = []
            for item in inputs:
                if not isinstance(item, dict) or not isinstance(item.get("active"), bool):
                    raise validation_error("each input needs an id and a boolean active")
                try:
                    checked.append((self._subscription_of(app_id, int(item.get("id"))), item["active"]))
                except (TypeError, ValueError):
                    raise validation_error(f"subscription id {item.get('id')!r} is not a number") from None
            for sub, active in checked:
                sub.active, sub.updated_ms = active, self.now_ms()
            return json_response({"status": "COMPLETE", "results": [s.as_json() for s, _ in checked],
                                  "startedAt": self._iso_now(), "completedAt": self._iso_now()})

    def _unsubscribe(self: HubSpotSimulator, request: Request, app_id: int, subscription_id: int) -> Response:
        with self.webhooks.lock:
            self._subscription_of(app_id, subscription_id)
            del self.webhooks.app(app_id).subscriptions[subscription_id]
        return Response(status=204)

    def _iso_now(self: HubSpotSimulator) -> str:
        return iso_ms(self.now_ms())

    # -- uninstall -----------------------------------------------------------------------------

    def uninstall(self: HubSpotSimulator, portal_id: int, client_id: str | None = None) -> list[str]:
        """Uninstall the app(s) from a portal: tokens die (refresh answers BAD_REFRESH_TOKEN), no
        more webhooks, queued events are dropped. Answers the client ids uninstalled."""
        removed = []
        with self.lock:
            for (pid, cid), active in list(self.installs.items()):
                if pid == portal_id and active and client_id in (None, cid):
                    self.installs[(pid, cid)] = False
                    removed.append(cid)
            for grant in [*self.access_tokens.values(), *self.refresh_tokens.values()]:
                if grant.portal_id == portal_id and grant.client_id in removed:
                    grant.revoked = True
            for cid in removed:
                self.webhooks.drop_portal(portal_id, cid)
        return removed

    def _external_uninstall(self: HubSpotSimulator, request: Request) -> Response:
        """`DELETE /appinstalls/2026-03/external-install`: the app uninstalls itself from the
        portal of the access token (any token of the app works; HubSpot names the `oauth` scope)."""
        try:
            with self.lock:
                grant = self.authenticate(request)
                self.require_scope(grant, ("oauth",))
                self.uninstall(grant.portal_id, grant.client_id)
            return Response(status=204)
        except ApiError as exc:
            return _api_error(exc)

    # -- controls ------------------------------------------------------------------------------

    def _control_webhooks(self: HubSpotSimulator, request: Request) -> Response:
        return json_response(self.webhooks.state_json(request.args.get("portalId", type=int),
                                                      request.args.get("state") or None))

    def _control_webhooks_pause(self: HubSpotSimulator, request: Request) -> Response:
        with self.webhooks.lock:
            self.webhooks.paused = True
        return json_response({"paused": True})

    def _control_webhooks_resume(self: HubSpotSimulator, request: Request) -> Response:
        with self.webhooks.lock:
            self.webhooks.paused = False
        return json_response({"paused": False})

    def _control_webhooks_flush(self: HubSpotSimulator, request: Request) -> Response:
        sent = self.webhooks.flush()
        with self.webhooks.lock:
            return json_response({"delivered": [b.as_json() for b in sent]})

    def _control_webhooks_config(self: HubSpotSimulator, request: Request) -> Response:
        spec = read_json(request)
        values: dict[str, Any] = {}
        for name in ("batchWindowMs", "retryBackoffMs"):
            if name in spec:
                value = spec[name]
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                    raise SandboxError(400, f"{name} must be a non-negative integer (milliseconds) or null")
                values[name] = value
        if spec.get("batchWindowMs", 0) is None:
            raise SandboxError(400, "batchWindowMs cannot be null")
        if "timeoutSeconds" in spec:
            timeout = spec["timeoutSeconds"]
            if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
                raise SandboxError(400, "timeoutSeconds must be a positive number")
            values["timeoutSeconds"] = float(timeout)
        with self.webhooks.lock:
            if "batchWindowMs" in values:
                self.webhooks.batch_window_ms = values["batchWindowMs"]
            if "retryBackoffMs" in values:
                self.webhooks.retry_backoff_ms = values["retryBackoffMs"]
            if "timeoutSeconds" in values:
                self.webhooks.timeout = values["timeoutSeconds"]
        return json_response({k: v for k, v in self.webhooks.state_json().items()
                              if k in ("batchWindowMs", "retryBackoffMs", "timeoutSeconds")})

    def _control_webhooks_faults(self: HubSpotSimulator, request: Request) -> Response:
        spec = read_json(request)
        for name in ("failNext", "duplicateNext"):
            value = spec.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SandboxError(400, f"{name} must be a non-negative integer")
        status = spec.get("failStatus", 500)
        if not isinstance(status, int) or isinstance(status, bool) or not 300 <= status <= 599:
            raise SandboxError(400, "failStatus must be an HTTP status from 300 to 599")
        with self.webhooks.lock:
            if "failNext" in spec:
                self.webhooks.fail_next = spec["failNext"]
            if "duplicateNext" in spec:
                self.webhooks.duplicate_next = spec["duplicateNext"]
            self.webhooks.fail_status = status
            return json_response({"failNext": self.webhooks.fail_next, "failStatus": status,
                                  "duplicateNext": self.webhooks.duplicate_next})

    def _person_properties(self: HubSpotSimulator, request: Request) -> dict[str, Any]:
        properties = read_json(request).get("properties")
        if not isinstance(properties, dict):
            raise SandboxError(400, "properties is required and must be an object")
        return properties

    def _control_person_create(self: HubSpotSimulator, request: Request, portal_id: int,
                               object_type: str) -> Response:
        properties = self._person_properties(request)
        with self.lock:
            portal = self.portal(portal_id)
            try:
                t = self.object_type(object_type)
                record = portal.create(t.name, properties)
            except ApiError as exc:
                raise SandboxError(exc.status, exc.message) from None
            self.crm_changed(portal, t.name, record, "creation")
            return json_response(object_json(portal, record, set_properties(record)), status=201)

    def _control_person_update(self: HubSpotSimulator, request: Request, portal_id: int, object_type: str,
                               object_id: str) -> Response:
        properties = self._person_properties(request)
        with self.lock:
            portal = self.portal(portal_id)
            try:
                t = self.object_type(object_type)
                record = portal.find(t.name, object_id)
                before = dict(record.properties)
                portal.update(t.name, record, properties)
            except ApiError as exc:
                raise SandboxError(exc.status, exc.message) from None
            self.crm_changed(portal, t.name, record, "propertyChange", changes=changed(before, record))
            return json_response(object_json(portal, record, set_properties(record)))

