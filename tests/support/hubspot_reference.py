"""The shapes of the HubSpot APIs hubnox calls that have no official spec file here: the
tax-rate library, the CRM owners and the settings users (their `superAdmin` flag). Written from
HubSpot's API reference (the tax-rates reference, reference hubspot.md §4.3, the CRM owners v3
reference and the 2026-03 users reference), so the simulator and the client's tests are held to one
description, as `tests.support.openapi` holds them to the specs for everything else.

`validate_response(method, path, status, body)` raises `jsonschema.ValidationError` when a body
does not fit; `route_of(path)` names the documented route a concrete path belongs to.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator

DATE_TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"}

TAX_RATE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "label", "percentageRate", "active", "createdAt", "updatedAt"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "label": {"type": "string"},
        "percentageRate": {"type": "number"},
        "active": {"type": "boolean"},
        "createdAt": DATE_TIME,
        "updatedAt": DATE_TIME,
    },
    "additionalProperties": False,
}

PAGING: dict[str, Any] = {
    "type": "object",
    "required": ["next"],
    "properties": {"next": {"type": "object", "required": ["after"],
                            "properties": {"after": {"type": "string"}, "link": {"type": "string"}}}},
}

TAX_RATE_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["results"],
    "properties": {"results": {"type": "array", "items": TAX_RATE}, "paging": PAGING},
    "additionalProperties": False,
}

OWNER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "createdAt", "updatedAt", "archived"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "type": {"enum": ["PERSON", "QUEUE"]},
        "firstName": {"type": "string"},
        "lastName": {"type": "string"},
        "userId": {"type": "integer"},
        "userIdIncludingInactive": {"type": "integer"},
        "createdAt": DATE_TIME,
        "updatedAt": DATE_TIME,
        "archived": {"type": "boolean"},
        "teams": {"type": "array", "items": {"type": "object", "required": ["id", "name", "primary"],
                                             "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                                            "primary": {"type": "boolean"}}}},
    },
    "additionalProperties": False,
}

#: a user of the account, as the settings users API answers (`GET /settings/users/2026-03/{userId}`)
USER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "email", "superAdmin"],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "firstName": {"type": "string"},
        "lastName": {"type": "string"},
        "superAdmin": {"type": "boolean"},
        "roleIds": {"type": "array", "items": {"type": "string"}},
        "roleId": {"type": "string"},
        "primaryTeamId": {"type": "string"},
        "secondaryTeamIds": {"type": "array", "items": {"type": "string"}},
        "sendWelcomeEmail": {"type": "boolean"},
    },
    "additionalProperties": False,
}

#: HubSpot's error body, as every API documents it (reference hubspot.md §9)
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["category", "correlationId", "message"],
    "properties": {"category": {"type": "string"}, "correlationId": {"type": "string"},
                   "message": {"type": "string"}, "status": {"type": "string"}},
}

#: documented route -> the 2xx body schema (errors are `ERROR`)
ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/tax-rates/{version}/tax-rates"): TAX_RATE_PAGE,
    ("GET", "/tax-rates/{version}/tax-rates/{taxRateGroupId}"): TAX_RATE,
    ("GET", "/crm/owners/2026-03/{ownerId}"): OWNER,
    ("GET", "/settings/users/2026-03/{userId}"): USER,
}

_TAX_RATES = r"^/tax-rates/(v1|2026-03)/tax-rates"
_PATTERNS = {
    ("GET", "/tax-rates/{version}/tax-rates"): re.compile(_TAX_RATES + "$"),
    ("GET", "/tax-rates/{version}/tax-rates/{taxRateGroupId}"): re.compile(_TAX_RATES + "/[^/]+$"),
    ("GET", "/crm/owners/2026-03/{ownerId}"): re.compile(r"^/crm/owners/2026-03/[^/]+$"),
    ("GET", "/settings/users/2026-03/{userId}"): re.compile(r"^/settings/users/2026-03/[^/]+$"),
}


def route_of(method: str, path: str) -> tuple[str, str]:
    """The documented route a request's path belongs to; `KeyError` when it is none of them."""
    for route, pattern in _PATTERNS.items():
        if route[0] == method.upper() and pattern.match(path):
            return route
    raise KeyError(f"{method} {path} is not a documented tax-rates or owners route")


def validate_response(method: str, path: str, status: int, body: Any) -> None:
    """Hold an answer of one of these APIs to its documented shape."""
    schema = ROUTES[route_of(method, path)] if 200 <= status < 300 else ERROR
    Draft202012Validator(schema).validate(body)
