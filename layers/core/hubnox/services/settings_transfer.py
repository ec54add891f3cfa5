"""Export and import of a portal's settings, to review them or copy them from a test portal to production.

    GET  /settings/api/settings/export          the export document (`hubnox.sync.settings_document`),
                                                downloaded as hubnox-settings-<portal>-<date>.json
    POST /settings/api/settings/import/preview  body: an export document -> {"version", "changes",
                                                "problems", "blocking", ...}; changes nothing
    POST /settings/api/settings/import          body {"document", "version"} -> {"version", "saved",
                                                "settings", "changes", "problems"}

Both POSTs need the session's CSRF token and hubnox's own origin, like every write of the settings API.
A document hubnox cannot read answers 400: malformed JSON (`MALFORMED_JSON`), not an export
(`NOT_AN_EXPORT`), a newer schema version (`SETTINGS_TOO_NEW`), settings the model refuses
(`INVALID_SETTINGS`, with `errors` per field as the PUT answers them). The import then does what a
PUT does: values the connected Fortnox company lacks are refused (400 `INVALID_SETTINGS`), `version`
is the version the preview was made against (409 `STALE_VERSION` when someone saved since).

Decision: trigger stages and HubSpot properties this portal does not have are reported, not blocking.
Another portal's pipeline and stage ids usually differ and its custom properties may not exist yet, so
blocking would make every copy from a test portal fail until the file was edited by hand; the PUT does
not check them either. The preview lists each with what to fix (pick this portal's stage, create the
property), the import saves the settings as they are and answers the same list, and the page shows
it. Fortnox's problems block, in the preview (`blocking`) as in the import, because the PUT refuses them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from hubnox.observability import logger
from hubnox.services.settings_page import (
    PREFIX,
    SettingsApiPorts,
    connected_fortnox_problems,
    load_portal_settings,
    save_portal_settings,
    settings_body,
)
from hubnox.sync.portal_settings import PortalSettings
from hubnox.sync.settings_document import (
    HubSpotPortal,
    ImportedSettings,
    SettingsDocumentError,
    export_document,
    export_filename,
    hubspot_problems,
    read_document,
    settings_changes,
)
from hubnox.web.responses import JSON, body_text, json_response, json_value
from hubnox.web.session import RequestSessions

#: object types whose properties settings may name (HubSpot's names)
PROPERTY_OBJECTS = ("deals", "companies", "contacts")


class SettingsTransferPorts(SettingsApiPorts, Protocol):
    """The settings API's ports and the clock the export is dated by (`hubnox.wiring.Container`)."""

    clock: Callable[[], float]


def read_json_body(body: str | None) -> Any:
    """The JSON of a request body; 400 `MALFORMED_JSON` saying why when it is none."""
    try:
        return json_value(body)
    except ValueError as error:
        raise SettingsDocumentError(f"The file is not valid JSON ({error}); choose the .json file hubnox "
                                    "exported.", code="MALFORMED_JSON") from None


def read_import(body: str | None) -> tuple[Any, int]:
    """The document and the version the preview was made against, out of an import's body."""
    data = read_json_body(body)
    if not isinstance(data, dict) or "document" not in data:
        raise SettingsDocumentError('The body must be {"document": <the export>, "version": <the version the '
                                    'preview was made against>}.', code="INVALID_IMPORT")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise SettingsDocumentError("version: must be the settings version the preview was made against "
                                    "(0 before the first save).", code="INVALID_IMPORT")
    return data["document"], version


def document_refused(error: SettingsDocumentError, path: str) -> Response:
    """The 400 for a document hubnox cannot import, in the settings API's shape."""
    logger.warning("request refused", extra={"code": error.code, "status": 400, "path": path})
    answer: dict[str, Any] = {"message": error.message, "code": error.code, "errors": error.errors}
    if error.hint:
        answer["hint"] = error.hint
    return json_response(answer, status=400)


def settings_transfer_router(ports: SettingsTransferPorts) -> APIGatewayHttpRouter:
    """The export and import routes, for `app.include_router` before `settings_page_router`."""
    router = APIGatewayHttpRouter()

    requests = RequestSessions(ports.signer, ports.sessions, router, ports.config.public_base)
    session, writer = requests.read, requests.write

    def this_portal(portal_id: str) -> HubSpotPortal:
        hubspot = ports.hubspot_client(portal_id)
        pipelines = {p.id: (p.label, {s.id for s in p.stages if not s.archived})
                     for p in hubspot.pipelines("deals") if not p.archived}
        properties = {kind: {str(p.get("name")) for p in hubspot.list_properties(kind) if not p.get("archived")}
                      for kind in PROPERTY_OBJECTS}
        return HubSpotPortal(pipelines, properties)

    def problems(portal_id: str, settings: PortalSettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(blocking, reported): what Fortnox lacks blocks as in a PUT; what HubSpot lacks is reported."""
        fortnox = [{**problem, "source": "fortnox", "blocking": True,
                    "fix": "Add it in Fortnox, or change the value in the file, then import again."}
                   for problem in connected_fortnox_problems(ports, portal_id, settings)]
        hubspot = [{**problem, "source": "hubspot", "blocking": False}
                   for problem in hubspot_problems(settings, this_portal(portal_id))]
        return fortnox, hubspot

    def outline(imported: ImportedSettings, portal_id: str, current: PortalSettings) -> dict[str, Any]:
        return {
            "schemaVersion": imported.schema_version, "migrated": imported.migrated,
            "fromPortal": imported.portal_id, "exportedAt": imported.exported_at,
            "samePortal": imported.portal_id == portal_id,
            "changes": [{"field": c.field, "current": c.current, "imported": c.imported}
                        for c in settings_changes(current, imported.settings)],
        }

    @router.get(f"{PREFIX}/settings/export")
    def export_settings() -> Response:
        portal = session().portal_id
        settings, _ = load_portal_settings(ports.portal_settings, portal)
        now = ports.clock()
        document = export_document(settings, portal, now)
        return Response(status_code=200, content_type=JSON, body=json.dumps(document, indent=2) + "\n", headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{export_filename(portal, now)}"'})

    @router.post(f"{PREFIX}/settings/import/preview")
    def preview_import() -> Response:
        current = writer()
        try:
            imported = read_document(read_json_body(body_text(router.current_event)))
        except SettingsDocumentError as error:
            return document_refused(error, router.current_event.path)
        settings, version = load_portal_settings(ports.portal_settings, current.portal_id)
        blocking, reported = problems(current.portal_id, imported.settings)
        return json_response({
            "version": version, **outline(imported, current.portal_id, settings),
            "problems": blocking + reported, "blocking": bool(blocking),
            "settings": imported.settings.model_dump(mode="json"),
        })

    @router.post(f"{PREFIX}/settings/import")
    def apply_import() -> Response:
        current = writer()
        try:
            document, version = read_import(body_text(router.current_event))
            imported = read_document(document)
        except SettingsDocumentError as error:
            return document_refused(error, router.current_event.path)
        blocking, reported = problems(current.portal_id, imported.settings)
        if blocking:
            fields = ", ".join(problem["field"] for problem in blocking)
            return document_refused(SettingsDocumentError(
                f"Nothing was imported: the connected Fortnox company does not have what {fields} names.",
                code="INVALID_SETTINGS", errors=[{"field": p["field"], "message": p["message"]} for p in blocking],
                hint="Add it in Fortnox, or change the value in the file, then import again."),
                router.current_event.path)
        before, _ = load_portal_settings(ports.portal_settings, current.portal_id)
        saved = save_portal_settings(
            ports.portal_settings, current.portal_id, imported.settings.model_dump(mode="json"), version,
            into="import the settings into",
            stale="The settings were changed since the preview was made. Preview the file again to see what it "
                  "changes now, then apply it.")
        if isinstance(saved, Response):
            return saved
        changes = outline(imported, current.portal_id, before)["changes"]
        logger.info("settings imported", extra={"portal_id": current.portal_id, "from_portal": imported.portal_id,
                                                "schema_version": imported.schema_version, "version": saved,
                                                "changes": len(changes), "reported": len(reported)})
        return json_response({**settings_body(imported.settings, saved), "changes": changes, "problems": reported})

    return router

