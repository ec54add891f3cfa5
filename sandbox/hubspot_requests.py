"""Reading HubSpot API requests the way HubSpot does: JSON bodies, comma-separated list
parameters, flags, integers and paging tokens, each failing with HubSpot's 400."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request

from sandbox.hubspot_errors import validation_error


def json_body(request: Request) -> Any:
    data = request.get_data(cache=True)
    if not data:
        raise validation_error("Invalid input JSON: the request body is empty")
    try:
        return json.loads(data)
    except ValueError as exc:
        line, column = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        raise validation_error(f"Invalid input JSON on line {line}, column {column}: {exc}") from exc


def json_object(request: Request) -> dict[str, Any]:
    body = json_body(request)
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object")
    return body


def list_arg(request: Request, name: str) -> list[str]:
    return [part.strip() for value in request.args.getlist(name) for part in value.split(",") if part.strip()]


def flag(request: Request, name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def int_arg(request: Request, name: str, default: int) -> int:
    value = request.args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise validation_error(f"{name} must be an integer, not {value!r}") from exc


def offset_arg(after: Any) -> int:
    if after in (None, ""):
        return 0
    if not str(after).isdigit():
        raise validation_error(f"after must be a paging token from a previous page, not {after!r}")
    return int(after)
