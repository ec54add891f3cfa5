"""The settings function: the settings page, its JSON API and its static files (SettingsFunction in
template.yaml)."""

from __future__ import annotations

import mimetypes
from http import HTTPStatus
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.config import get_settings
from hubnox.errors import NotFoundError
from hubnox.observability import logger, tracer
from hubnox.services.install import STATE_TTL_SECONDS
from hubnox.sync.settings import PortalSettings
from hubnox.web.http import page, redirect, register_error_handlers
from hubnox.web.render import render
from hubnox.web.session import LOGIN_COOKIE, browser_secret_cookie, read_session
from hubnox.web.settings_api import settings_api_router, settings_choices
from hubnox.wiring import Container

app = APIGatewayHttpResolver()
container = Container(get_settings())
register_error_handlers(app, json_paths=lambda path: path.startswith("/settings/api/"))
# Before the catch-all below: pattern routes are tried in the order they are registered.
app.include_router(settings_api_router(container))

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: the notices a redirect may ask the page to show; only these fixed texts are ever shown
NOTICES = {
    "fortnox-connected": "Fortnox is connected.",
    "fortnox-disconnected": "Fortnox is disconnected. Connect a company again whenever you like.",
}
STATUS_TEXT = {"active": "working", "broken": "needs reconnecting", "uninstalled": "uninstalled"}
STATIC_ROOT: Traversable = files("hubnox.web") / "static"
# Static files change only with a deploy, which also changes the layer version.
STATIC_CACHE_CONTROL = "public, max-age=3600"
#: no file system takes a longer file name, so no static file has one
NAME_MAX = 255


@app.get("/settings")
def settings_page() -> Response:
    query = app.current_event.query_string_parameters or {}
    if query.get("login"):
        # The link alone signs no one in: claim it, and let HubSpot say who this browser's user is.
        start = container.connection_service.begin_login(query["login"])
        return redirect(start.url, status=303,
                        cookies=[browser_secret_cookie(LOGIN_COOKIE, start.browser_secret, STATE_TTL_SECONDS)])
    session = read_session(container.signer, container.sessions, app.current_event.cookies)
    hubspot = container.connections.get_hubspot(session.portal_id)
    fortnox = container.connections.get_fortnox(session.portal_id)
    notice = NOTICES.get(query.get("notice", ""))
    body = render(
        "settings.html",
        base=container.settings.public_base,
        session=session,
        hubspot=hubspot,
        hubspot_status=STATUS_TEXT.get(hubspot.status, hubspot.status) if hubspot else "",
        fortnox=fortnox,
        fortnox_status=STATUS_TEXT.get(fortnox.status, fortnox.status) if fortnox else "",
        notice=notice,
        notice_error=False,
        fortnox_connected=fortnox is not None and fortnox.status == "active",
        choices=settings_choices(),
        defaults=PortalSettings().model_dump(mode="json"),
    )
    return page(body)


# The group makes this a dynamic route: the resolver tries every static route (a bare regex counts as
# one) before any dynamic route, so without it this would shadow the router's /properties/<object_type>.
@app.route("/settings/api/(.+)", method=ANY_METHOD)
def no_such_route() -> Response:
    event = app.current_event
    raise NotFoundError(f"The settings API has no route {event.http_method} {event.path}.")


@app.get("/settings/static/.+")
def static_file() -> Response:
    name = (app.current_event.path_parameters or {}).get("proxy", "")
    resource = static_resource(name)
    if resource is None:
        return Response(HTTPStatus.NOT_FOUND, content_types.APPLICATION_JSON, {"message": "Not Found"})
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(HTTPStatus.OK, content_type, resource.read_bytes(),
                    headers={"Cache-Control": STATIC_CACHE_CONTROL})


def static_resource(name: str) -> Traversable | None:
    """The file `name` (a relative path) under the layer's web/static folder, or None when there is no
    such file or the name tries to leave the folder."""
    parts = name.split("/")
    if not name or any(part in ("", ".", "..") or part.startswith(".") or "\\" in part or len(part) > NAME_MAX
                       for part in parts):
        return None
    resource = STATIC_ROOT.joinpath(*parts)
    try:
        return resource if resource.is_file() else None
    except (OSError, ValueError):  # a name the file system refuses (a NUL byte, too long) names no file
        return None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one API Gateway HTTP API (payload 2.0) request on the settings routes."""
    return app.resolve(event, context)
