"""The oauth function: HubSpot install, Fortnox connect and disconnect (OauthFunction in template.yaml)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from hubnox.config import get_settings
from hubnox.errors import BadRequestError
from hubnox.observability import logger, tracer
from hubnox.services.install import STATE_TTL_SECONDS
from hubnox.web.http import body_text, form_fields, message_page, redirect, register_error_handlers
from hubnox.web.session import (
    CSRF_FIELD,
    INSTALL_COOKIE,
    LOGIN_COOKIE,
    Session,
    browser_secret_cookie,
    check_csrf,
    cookie_value,
    read_session,
)
from hubnox.wiring import Container

app = APIGatewayHttpResolver()
container = Container(get_settings())
register_error_handlers(app, json_paths=lambda path: False)

DENIED = {
    "hubspot": ("Installation cancelled", "HubSpot did not install hubnox: {reason}.",
                "Open the install link again and choose Connect app to install hubnox."),
    "hubspot-login": ("Not signed in", "HubSpot did not confirm who you are: {reason}.",
                      "Open hubnox's settings from the app card in HubSpot again."),
    "fortnox": ("Fortnox not connected", "Fortnox did not connect: {reason}.",
                "Open hubnox's settings and choose Connect Fortnox again. A Fortnox administrator must approve."),
}


def _query() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def _callback(system: str) -> tuple[str, str] | Response:
    """The code and state of an OAuth callback, or the page that explains why there is none."""
    query = _query()
    if query.get("error"):
        title, message, hint = DENIED[system]
        reason = query.get("error_description") or query["error"].replace("_", " ")
        return message_page(400, title, message.format(reason=reason), hint)
    if not query.get("code") or not query.get("state"):
        raise BadRequestError("The sign-in answer is missing its code or state.", code="BAD_CALLBACK",
                              hint="Start again from the beginning.")
    return query["code"], query["state"]


def _settings_url(notice: str) -> str:
    return f"{container.settings.public_base}/settings?notice={notice}"


def _session() -> Session:
    return read_session(container.signer, container.sessions, app.current_event.cookies)


@app.get("/oauth/hubspot/install")
def hubspot_install() -> Response:
    start = container.connection_service.hubspot_install_url()
    return redirect(start.url, cookies=[browser_secret_cookie(INSTALL_COOKIE, start.browser_secret,
                                                              STATE_TTL_SECONDS)])


@app.get("/oauth/hubspot/callback")
def hubspot_callback() -> Response:
    """The end of an install, or of a sign-in from the app card's link: either way the browser that
    started it (its cookie) is signed in, and only that one."""
    service = container.connection_service
    signing_in = service.is_login_state(_query().get("state", ""))
    answer = _callback("hubspot-login" if signing_in else "hubspot")
    if isinstance(answer, Response):
        return answer
    code, state = answer
    cookies = app.current_event.cookies
    if signing_in:
        result = service.finish_login(code, state, cookie_value(cookies, LOGIN_COOKIE))
        spent = browser_secret_cookie(LOGIN_COOKIE, "", 0)
    else:
        result = service.finish_hubspot_install(code, state, cookie_value(cookies, INSTALL_COOKIE))
        spent = browser_secret_cookie(INSTALL_COOKIE, "", 0)
    return redirect(result.settings_url, cookies=[result.cookie, spent])


@app.get("/oauth/fortnox/connect")
def fortnox_connect() -> Response:
    # A GET, so the settings page's link carries the session's CSRF token: no other site can start it.
    session = _session()
    token = (app.current_event.query_string_parameters or {}).get(CSRF_FIELD, "")
    check_csrf(session, app.current_event.headers, {CSRF_FIELD: token}, container.settings.public_base)
    return redirect(container.connection_service.fortnox_connect_url(session))


@app.get("/oauth/fortnox/callback")
def fortnox_callback() -> Response:
    answer = _callback("fortnox")
    if isinstance(answer, Response):
        return answer
    session = _session()
    container.connection_service.finish_fortnox_connect(*answer, session)
    return redirect(_settings_url("fortnox-connected"))


@app.post("/oauth/fortnox/disconnect")
def fortnox_disconnect() -> Response:
    session = _session()
    form = form_fields(body_text(app.current_event))
    check_csrf(session, app.current_event.headers, form, container.settings.public_base)
    container.connection_service.disconnect_fortnox(session)
    return redirect(_settings_url("fortnox-disconnected"), status=303)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Answer one API Gateway HTTP API (payload 2.0) request on the OAuth routes."""
    return app.resolve(event, context)
