"""HubSpot's error bodies, and the exception the simulator raises to answer one.

Every error the simulated API answers has HubSpot's shape (reference hubspot.md §9):
`{"status": "error", "message", "correlationId" (uuid), "category", [errors], [context],
[subCategory], [links]}`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

CATEGORY_BY_STATUS = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    405: "VALIDATION_ERROR",
    409: "CONFLICT",
    413: "VALIDATION_ERROR",
    415: "VALIDATION_ERROR",
    429: "RATE_LIMITS",
}


def error_body(
    status: int,
    message: str,
    category: str | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, list[str]] | None = None,
    sub_category: str | None = None,
    links: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An error body in HubSpot's shape with a fresh correlationId."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category or CATEGORY_BY_STATUS.get(status, "INTERNAL_ERROR" if status >= 500 else "ERROR"),
    }
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = context
    if links:
        body["links"] = links
    if extra:
        body.update(extra)
    return body


class ApiError(Exception):
    """Raised by the simulator's handlers to answer an error in HubSpot's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
        links: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.errors = errors
        self.context = context
        self.sub_category = sub_category
        self.links = links
        self.headers = headers or {}
        self._body = body

    def body(self) -> dict[str, Any]:
        if self._body is not None:
            return self._body
        return error_body(
            self.status,
            self.message,
            self.category,
            errors=self.errors,
            context=self.context,
            sub_category=self.sub_category,
            links=self.links,
        )


def validation_error(
    message: str, *, errors: list[dict[str, Any]] | None = None, context: dict[str, list[str]] | None = None
) -> ApiError:
    """A 400 VALIDATION_ERROR."""
    return ApiError(400, message, "VALIDATION_ERROR", errors=errors, context=context)


def not_found(message: str) -> ApiError:
    """A 404 OBJECT_NOT_FOUND."""
    return ApiError(404, message, "OBJECT_NOT_FOUND")


def property_errors(problems: list[dict[str, Any]], portal_id: int) -> ApiError:
    """HubSpot's answer to invalid property values on a CRM write.

    `problems` hold {name, error (PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE, INVALID_OPTION, ...),
    message}. HubSpot lists them twice: JSON-encoded in `message` (as its CRM APIs do) and as
    `errors[]` with `code` and `context.propertyName`.
    """
    listed = [
        {
            "isValid": False,
            "message": p["message"],
            "error": p["error"],
            "name": p["name"],
            "localizedErrorMessage": p["message"],
            "portalId": portal_id,
        }
        for p in problems
    ]
    return ApiError(
        400,
        "Property values were not valid: " + json.dumps(listed, separators=(",", ":")),
        "VALIDATION_ERROR",
        errors=[
            {"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}} for p in problems
        ],
    )
