"""HTTP answers for the functions: pages, redirects, JSON, and the one mapping of errors to statuses.

Every HTTP function registers `register_error_handlers(app)` once, so domain errors raised
anywhere in the layer become the same clear answer everywhere (STYLE.md: errors in one place):
an HTML page for browser routes, HubSpot-style JSON `{"message", "code"}` for API routes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as NoRouteError
from aws_lambda_powertools.shared.cookies import Cookie
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import ValidationError

from hubnox.errors import (
    BadRequestError,
    ConnectionBrokenError,
    HubnoxError,
    NotFoundError,
    TransientError,
    UnauthorizedError,
    UserFixableError,
)
from hubnox.observability import logger

HTML = "text/html; charset=utf-8"
JSON = "application/json"
#: pages must not be cached or framed by anyone but HubSpot
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "frame-ancestors 'self' https://*.hubspot.com https://*.hubspot.eu",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def redirect(location: str, *, status: int = 302, cookies: list[Cookie] | None = None) -> Response:
    """A redirect (302 after a GET, 303 after a form POST)."""
    return Response(status_code=status, headers={"Location": location, "Cache-Control": "no-store"},
                    cookies=cookies)


def page(body: str, *, status: int = 200, cookies: list[Cookie] | None = None) -> Response:
    return Response(status_code=status, content_type=HTML, body=body, headers=dict(_PAGE_HEADERS), cookies=cookies)


def message_page(status: int, title: str, message: str, hint: str | None = None,
                 link: tuple[str, str] | None = None) -> Response:
    """A small page that says what happened and what to do."""
    # jinja2 on the first page only: the JSON routes (card, webhooks, workflow actions) never load it.
    from hubnox.web.render import render

    body = render("message.html", title=title, message=message, hint=hint,
                  link_url=link[0] if link else None, link_label=link[1] if link else None)
    return page(body, status=status)


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=JSON, body=json.dumps(data, default=str),
                    headers={"Cache-Control": "no-store", **(headers or {})})


def body_text(event: BaseProxyEvent) -> str | None:
    """A request's body as text (base64 bodies decoded); BadRequestError when it is not UTF-8 text."""
    try:
        return event.decoded_body
    except ValueError:  # not base64, or not UTF-8 (UnicodeError is a ValueError)
        raise BadRequestError("The request body is not UTF-8 text.", code="MALFORMED_BODY") from None


def json_value(body: str | None) -> Any:
    """The JSON value of a request body; ValueError saying why when it is none, including JSON nested
    too deeply for the parser or numbers with more digits than Python converts."""
    try:
        return json.loads(body or "")
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ValueError("it nests too deeply") from None
    except ValueError:  # Python's limit on the digits of a number it converts
        raise ValueError("it holds a number with too many digits") from None


def json_object(body: str | None, *, empty_ok: bool = False) -> dict[str, Any]:
    """A request's JSON object body; BadRequestError (400 with the reason) for anything else.

    `empty_ok` answers {} for a request without a body.
    """
    if not body and empty_ok:
        return {}
    try:
        value = json_value(body)
    except ValueError as error:
        raise BadRequestError(f"The request body is not valid JSON: {error}.", code="MALFORMED_JSON") from None
    if not isinstance(value, dict):
        raise BadRequestError("The request body is not a JSON object.", code="MALFORMED_JSON")
    return value


def form_fields(body: str | None) -> dict[str, str]:
    """A form post's fields (the first value of each), as a browser sends them."""
    return {name: values[0] for name, values in parse_qs(body or "").items()}


def status_of(error: HubnoxError) -> int:
    """The HTTP status for a domain error."""
    if isinstance(error, BadRequestError):
        return 400
    if isinstance(error, UnauthorizedError):
        return 401
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConnectionBrokenError):
        return 409
    if isinstance(error, UserFixableError):
        return 409 if error.code.endswith("ALREADY_CONNECTED") else 422
    if isinstance(error, TransientError):
        return 503
    return 500


_TITLES = {400: "That did not work", 401: "Not signed in", 404: "Not found", 409: "Not possible right now",
           422: "That did not work", 503: "Please try again", 500: "Something went wrong"}


#: titles for refusals that are not about being signed in at all (a 401 is "Not signed in" otherwise)
_CODE_TITLES = {"BAD_CSRF": "Your session's form token is missing", "BAD_ORIGIN": "Refused: sent from another site",
                "NOT_SUPER_ADMIN": "Only super admins can open hubnox's settings"}


def error_title(error: HubnoxError) -> str:
    """The heading of the page that explains `error`."""
    return _CODE_TITLES.get(error.code) or _TITLES.get(status_of(error), "Something went wrong")


def error_response(error: HubnoxError, *, as_json: bool) -> Response:
    """The answer for a domain error: JSON for API routes, a page for browser routes."""
    status = status_of(error)
    headers: dict[str, str] = {}
    if isinstance(error, TransientError) and error.retry_after:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if as_json:
        body: dict[str, Any] = {"message": error.message, "code": error.code}
        if error.hint:
            body["hint"] = error.hint
        return json_response(body, status=status, headers=headers)
    response = message_page(status, error_title(error), error.message, error.hint)
    response.headers.update(headers)
    return response


def register_error_handlers(app: APIGatewayHttpResolver, *, json_paths: Callable[[str], bool]) -> None:
    """Map domain errors, validation errors and bugs to answers for every route of `app`."""

    def wants_json() -> bool:
        return json_paths(app.current_event.path)

    @app.exception_handler(HubnoxError)
    def domain_error(error: HubnoxError) -> Response:
        status = status_of(error)
        log = logger.warning if status < 500 else logger.error
        log("request refused", extra={"code": error.code, "status": status, "path": app.current_event.path})
        return error_response(error, as_json=wants_json())

    @app.exception_handler(ValidationError)
    def invalid(error: ValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": str(error)}
        field = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        return error_response(BadRequestError(message, code="INVALID"), as_json=wants_json())

    # Powertools raises this for a request no route takes (an unknown path, or an unusual method);
    # the catch-all below would otherwise make it a 500.
    @app.exception_handler(NoRouteError)
    def no_route(error: NoRouteError) -> Response:
        event = app.current_event
        return error_response(NotFoundError(f"hubnox has no route {event.http_method[:20]} {event.path[:200]}.",
                                            code="NO_ROUTE"), as_json=wants_json())

    @app.exception_handler(Exception)
    def bug(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(HubnoxError("Something went wrong inside hubnox; it has been logged.",
                                          code="INTERNAL"), as_json=wants_json())
