"""The settings page's JSON API: a portal's sync settings, and the choices the page offers.

    GET  /settings/api/settings                 {"version", "saved", "settings"}
    PUT  /settings/api/settings                 body {"version", "settings"} -> {"version", "saved", "settings"}
    GET  /settings/api/hubspot/pipelines        deal pipelines with their stages (ids to store, labels to show)
    GET  /settings/api/hubspot/properties/{objectType}  properties of deals, line items, companies or contacts
    GET  /settings/api/fortnox/options          terms of payment, currencies, price lists, print templates

Every route needs the settings session (its cookie names the portal); the PUT also needs the
session's CSRF token (`X-CSRF-Token`) and hubnox's own origin. `version` is the version the page
read (0 before the first save): a save over a newer version answers 409 with the stored version,
so two admins editing at once cannot silently undo each other. Invalid settings answer 400 with
a message naming every wrong field. Errors are answered by `register_error_handlers` of the
function that includes this router.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hubnox.config import Settings
from hubnox.errors import BadRequestError
from hubnox.fortnox.client import FortnoxClient
from hubnox.hubspot.client import HubSpotClient
from hubnox.store.settings import SettingsStore, StaleVersion
from hubnox.sync.settings import PortalSettings, migrate, parse_settings
from hubnox.web.http import json_response
from hubnox.web.session import Session, check_csrf, read_session
from hubnox.web.signing import Signer

PREFIX = "/settings/api"
#: object types whose properties the page maps, as the page names them -> HubSpot's
PROPERTY_OBJECTS = {"deals": "deals", "line_items": "line_items", "companies": "companies",
                    "contacts": "contacts"}
#: document types whose Fortnox print templates the page offers
PRINT_TEMPLATE_TYPES = ("invoice", "order")


class SettingsApiPorts(Protocol):
    """What the settings API needs (`hubnox.wiring.Container` provides it)."""

    settings: Settings

    @property
    def signer(self) -> Signer: ...

    @property
    def portal_settings(self) -> SettingsStore: ...

    def hubspot_client(self, portal_id: str) -> HubSpotClient: ...

    def fortnox_client(self, portal_id: str) -> FortnoxClient: ...


def load_portal_settings(store: SettingsStore, portal_id: str) -> tuple[PortalSettings, int]:
    """A portal's settings (migrated to the current schema; defaults before the first save) and version."""
    payload, version = store.get(portal_id)
    return migrate(payload), version


def settings_body(settings: PortalSettings, version: int) -> dict[str, Any]:
    """The settings as the API answers them."""
    return {"version": version, "saved": version > 0, "settings": settings.model_dump(mode="json")}


def read_update(body: str | None) -> tuple[PortalSettings, int]:
    """The settings and the version they were edited from, out of a PUT body; 400 naming what is wrong."""
    try:
        data = json.loads(body or "")
    except ValueError:
        raise BadRequestError("The body must be JSON: {\"version\": ..., \"settings\": {...}}.",
                              code="INVALID_SETTINGS") from None
    if not isinstance(data, dict):
        raise BadRequestError("The body must be a JSON object with version and settings.", code="INVALID_SETTINGS")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise BadRequestError("Invalid settings. version: must be the version the settings were read at "
                              "(0 before the first save).", code="INVALID_SETTINGS")
    settings = data.get("settings")
    if not isinstance(settings, dict):
        raise BadRequestError("Invalid settings. settings: must be an object.", code="INVALID_SETTINGS")
    return parse_settings(settings), version


def settings_api_router(ports: SettingsApiPorts) -> APIGatewayHttpRouter:
    """The settings API's routes, for `app.include_router` in the settings function."""
    router = APIGatewayHttpRouter()

    def session() -> Session:
        return read_session(ports.signer, router.current_event.cookies)

    @router.get(f"{PREFIX}/settings")
    def get_settings() -> Response:
        portal = session().portal_id
        settings, version = load_portal_settings(ports.portal_settings, portal)
        return json_response(settings_body(settings, version))

    @router.put(f"{PREFIX}/settings")
    def put_settings() -> Response:
        current = session()
        check_csrf(current, router.current_event.headers, None, ports.settings.public_base)
        settings, version = read_update(router.current_event.decoded_body)
        payload = settings.model_dump(mode="json")
        try:
            saved = ports.portal_settings.put(current.portal_id, payload, version)
        except StaleVersion as stale:
            return json_response({
                "message": "The settings were changed by someone else since you opened them. Reload the "
                           "page to see their version, then make your change again.",
                "code": "STALE_VERSION", "version": stale.actual or 0,
            }, status=409)
        return json_response(settings_body(settings, saved))

    @router.get(f"{PREFIX}/hubspot/pipelines")
    def pipelines() -> Response:
        hubspot = ports.hubspot_client(session().portal_id)
        return json_response({"pipelines": [
            {"id": p.id, "label": p.label,
             "stages": [{"id": s.id, "label": s.label} for s in p.stages if not s.archived]}
            for p in hubspot.pipelines("deals") if not p.archived
        ]})

    @router.get(f"{PREFIX}/hubspot/properties/<object_type>")
    def hubspot_properties(object_type: str) -> Response:
        if object_type not in PROPERTY_OBJECTS:
            raise BadRequestError(f"objectType must be one of {', '.join(PROPERTY_OBJECTS)}.", code="INVALID")
        hubspot = ports.hubspot_client(session().portal_id)
        found = hubspot.list_properties(PROPERTY_OBJECTS[object_type])
        return json_response({"properties": sorted(
            ({"name": p.get("name"), "label": p.get("label") or p.get("name"), "type": p.get("type")}
             for p in found if not p.get("hidden") and not p.get("archived")),
            key=lambda p: str(p["label"]).casefold())})

    @router.get(f"{PREFIX}/fortnox/options")
    def fortnox_options() -> Response:
        fortnox = ports.fortnox_client(session().portal_id)
        return json_response({
            "termsOfPayment": [{"code": t.code, "description": t.description} for t in fortnox.terms_of_payment()],
            "currencies": [{"code": c.code, "description": c.description} for c in fortnox.currencies()],
            "priceLists": [{"code": p.code, "description": p.description, "default": bool(p.pre_selected)}
                           for p in fortnox.price_lists()],
            "printTemplates": {kind: [{"template": t.template, "name": t.name}
                                      for t in fortnox.print_templates(kind)]
                               for kind in PRINT_TEMPLATE_TYPES},
        })

    return router
