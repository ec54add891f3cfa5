"""Holds requests and responses to the official OpenAPI specs in ../shared/specs/.

The specs are reference data beside the repository, never copied into it. OpenAPI 3.0 schemas
are turned into JSON Schema (draft 4) on load: `nullable` becomes a null type, and `$ref`s
resolve against the whole spec.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO_ROOT.parent / "shared" / "specs"


class SpecError(AssertionError):
    """A request or response that does not fit the spec."""


def _nullable_to_type(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _nullable_to_type(v) for k, v in node.items()}
        if out.pop("nullable", False) is True and "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable_to_type(v) for v in node]
    return node


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    spec: dict[str, Any]
    parameters: tuple[dict[str, Any], ...]


class OpenApiSpec:
    """One spec file: find the operation for a concrete path and validate bodies against it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = _nullable_to_type(document)
        self._templates: list[tuple[re.Pattern[str], str]] = []
        for template in self.document.get("paths", {}):
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self._templates.append((re.compile(pattern), template))
        # Concrete segments win over parameters: sort by how many literal characters match.
        self._templates.sort(key=lambda item: -len(re.sub(r"\{[^}]+\}", "", item[1])))

    @classmethod
    def load(cls, relative: str) -> OpenApiSpec:
        return _load(relative)

    def operation(self, method: str, path: str) -> Operation:
        for pattern, template in self._templates:
            if pattern.match(path):
                item = self.document["paths"][template]
                op = item.get(method.lower())
                if op is None:
                    continue
                params = tuple(self._deref(p) for p in (*item.get("parameters", []), *op.get("parameters", [])))
                return Operation(template, method.upper(), op, params)
        raise SpecError(f"the spec has no operation {method.upper()} {path}")

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
            seen += 1
        return node

    def _validate(self, schema: dict[str, Any], value: Any, what: str) -> None:
        root = {**schema, "components": self.document.get("components", {})}
        if "$ref" in schema:  # draft 4 ignores siblings of $ref: nest it
            root = {"allOf": [schema], "components": self.document.get("components", {})}
        errors = sorted(Draft4Validator(root).iter_errors(value), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors[:10]]
            raise SpecError(f"{what} does not fit the spec:\n  " + "\n  ".join(lines))

    def _json_schema(self, content: dict[str, Any]) -> dict[str, Any] | None:
        for media in ("application/json", "*/*", "application/json;charset=UTF-8"):
            if media in content and "schema" in content[media]:
                return content[media]["schema"]
        for media, body in content.items():
            if "json" in media and "schema" in body:
                return body["schema"]
        return None

    def validate_request(self, method: str, path: str, body: Any = None,
                         query: dict[str, Any] | None = None) -> Operation:
        """Check a request body (and the names of required query parameters) against the spec."""
        op = self.operation(method, path)
        for param in op.parameters:
            if param.get("in") == "query" and param.get("required") and param["name"] not in (query or {}):
                raise SpecError(f"{method} {path}: missing required query parameter {param['name']}")
        request_body = self._deref(op.spec.get("requestBody", {})) if op.spec.get("requestBody") else None
        if request_body and body is not None:
            schema = self._json_schema(request_body.get("content", {}))
            if schema is not None:
                self._validate(schema, body, f"request body of {method} {op.path}")
        elif request_body and request_body.get("required") and body is None:
            raise SpecError(f"{method} {op.path} requires a body")
        return op

    def response_schema(self, method: str, path: str, status: int) -> dict[str, Any] | None:
        op = self.operation(method, path)
        responses = op.spec.get("responses", {})
        response = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        if response is None:
            raise SpecError(f"{method} {op.path}: the spec lists no response {status} (has {sorted(responses)})")
        response = self._deref(response)
        return self._json_schema(response.get("content", {}))

    def validate_response(self, method: str, path: str, status: int, body: Any) -> None:
        """Check a response body against the schema the spec gives for that status."""
        schema = self.response_schema(method, path, status)
        if schema is not None and body is not None:
            self._validate(schema, body, f"response {status} of {method} {path}")


@cache
def _load(relative: str) -> OpenApiSpec:
    path = SPECS_DIR / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the specs live in ../shared/specs beside the repository")
    return OpenApiSpec(json.loads(path.read_text()))


def hubspot_search_body(body: Any) -> Any:
    """A HubSpot search body as the spec can check it.

    Known conflict (hubspot.md §4.5): the spec types `sorts` as strings, while HubSpot's docs and
    the API take sort objects. The objects' shape is checked here, and the rest goes to the spec.
    """
    if not isinstance(body, dict) or "sorts" not in body:
        return body
    if not all(isinstance(rule, dict) and set(rule) == {"propertyName", "direction"} for rule in body["sorts"]):
        raise SpecError(f"search sorts must be {{propertyName, direction}} objects: {body['sorts']}")
    return {**body, "sorts": []}
