"""CRM search as HubSpot runs it: filter groups (AND inside a group, OR across groups), the
operators of reference hubspot.md §4.5, association filters, one sort, `after` paging and the
documented limits.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.hubspot_errors import validation_error
from sandbox.hubspot_schema import OBJECT_TYPES, PropertyDef, object_type
from sandbox.hubspot_store import CrmObject, Portal, object_json, parse_datetime_ms, selected_properties


@dataclass(frozen=True)
class SearchLimits:
    """HubSpot's documented search limits (reference hubspot.md §4.5)."""

    max_groups: int = 5
    max_filters_per_group: int = 6
    max_filters: int = 18
    default_limit: int = 10
    max_limit: int = 200
    max_results: int = 10_000
    max_body_chars: int = 3_000
    max_sorts: int = 1


LIMITS = SearchLimits()
OPERATORS = (
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
)
_NEEDS_VALUE = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
_NEEDS_VALUES = {"IN", "NOT_IN"}

Predicate = Callable[[CrmObject], bool]


def search(portal: Portal, type_name: str, body: Any, body_chars: int) -> dict[str, Any]:
    """Run a search request against a portal's records; a 400 VALIDATION_ERROR where HubSpot
    rejects the request."""
    if body_chars > LIMITS.max_body_chars:
        raise validation_error(
            f"The request body is {body_chars} characters long; search requests are limited to {LIMITS.max_body_chars}."
        )
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: a search request is an object")
    limit = _limit(body.get("limit"))
    offset = _after(body.get("after"))
    if offset + limit > LIMITS.max_results:
        raise validation_error(
            f"Search results are capped at {LIMITS.max_results}: after ({offset}) plus "
            f"limit ({limit}) goes past them. Narrow the filters instead of paging further."
        )
    groups = _groups(portal, type_name, body.get("filterGroups"))
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise validation_error("query must be a string")
    sort = _sort(portal, type_name, body.get("sorts"))
    requested = body.get("properties") or []
    if not isinstance(requested, list) or not all(isinstance(p, str) for p in requested):
        raise validation_error("properties must be a list of property names")

    matches = [
        o
        for o in portal.live(type_name)
        if (not groups or any(all(p(o) for p in group) for group in groups))
        and (not query or _matches_query(type_name, o, query))
    ]
    if sort is not None:
        matches = _sorted(portal, type_name, matches, *sort)
    page = matches[offset : offset + limit]
    result: dict[str, Any] = {
        "total": len(matches),
        "results": [object_json(portal, o, selected_properties(portal, o, requested)) for o in page],
    }
    if offset + limit < len(matches):
        result["paging"] = {"next": {"after": str(offset + limit)}}
    return result


def _limit(value: Any) -> int:
    if value is None:
        return LIMITS.default_limit
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise validation_error("limit must be a non-negative integer")
    if value > LIMITS.max_limit:
        raise validation_error(f"limit may be at most {LIMITS.max_limit}")
    return value


def _after(value: Any) -> int:
    if value in (None, ""):
        return 0
    text = str(value)
    if not text.isdigit():
        raise validation_error(f"after must be a paging token returned by a previous search, not {text!r}")
    return int(text)


def _groups(portal: Portal, type_name: str, groups: Any) -> list[list[Predicate]]:
    if groups is None:
        return []
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list")
    if len(groups) > LIMITS.max_groups:
        raise validation_error(f"Too many filter groups ({len(groups)}); the maximum is {LIMITS.max_groups}")
    total = 0
    compiled = []
    for index, group in enumerate(groups):
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error(f"filterGroups[{index}].filters must be a list")
        if len(filters) > LIMITS.max_filters_per_group:
            raise validation_error(
                f"Too many filters in filter group {index} ({len(filters)}); the maximum is "
                f"{LIMITS.max_filters_per_group}"
            )
        total += len(filters)
        compiled.append([_predicate(portal, type_name, f) for f in filters])
    if total > LIMITS.max_filters:
        raise validation_error(f"Too many filters ({total}); the maximum across all groups is {LIMITS.max_filters}")
    if any(not group for group in compiled):
        return []  # an empty filter group matches every record
    return compiled


def _predicate(portal: Portal, type_name: str, spec: Any) -> Predicate:
    if not isinstance(spec, dict) or not isinstance(spec.get("propertyName"), str):
        raise validation_error("Each filter needs a propertyName and an operator")
    name, operator = spec["propertyName"], spec.get("operator", "EQ")
    if operator not in OPERATORS:
        raise validation_error(f"Unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}")
    value, high, values = spec.get("value"), spec.get("highValue"), spec.get("values")
    if operator in _NEEDS_VALUE and value is None:
        raise validation_error(f"The {operator} filter on {name} needs a value")
    if operator == "BETWEEN" and high is None:
        raise validation_error(f"The BETWEEN filter on {name} needs a highValue")
    if operator in _NEEDS_VALUES and (not isinstance(values, list) or not values):
        raise validation_error(f"The {operator} filter on {name} needs a non-empty values list")
    if name.startswith("associations."):
        return _association_predicate(portal, type_name, name, operator, value, values)
    prop = portal.properties[type_name].get(name)
    if prop is None:
        raise validation_error(
            f"Property {name} does not exist on {type_name}; filters may only use existing properties"
        )
    return _property_predicate(prop, operator, value, high, values)


def _association_predicate(
    portal: Portal, type_name: str, name: str, operator: str, value: Any, values: Any
) -> Predicate:
    target = object_type(name.split(".", 1)[1])
    if target is None:
        raise validation_error(f"Unknown association filter {name}")
    wanted = {str(v) for v in (values or [value])} if operator in ("EQ", "NEQ", "IN", "NOT_IN") else set()
    if operator not in ("EQ", "NEQ", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        raise validation_error(f"The {operator} operator cannot filter on associations")

    def linked(obj: CrmObject) -> set[str]:
        return {to_id for to_id, _ in portal.associated(type_name, obj.id, target.name)}

    if operator in ("EQ", "IN"):
        return lambda o: bool(linked(o) & wanted)
    if operator in ("NEQ", "NOT_IN"):
        return lambda o: not linked(o) & wanted
    if operator == "HAS_PROPERTY":
        return lambda o: bool(linked(o))
    return lambda o: not linked(o)


def _typed(prop: PropertyDef, raw: Any) -> Any:
    """A value in the property's comparison domain: Decimal, epoch ms, or a string."""
    if raw is None or raw == "":
        return None
    text = str(raw)
    if prop.type == "number":
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    if prop.type in ("datetime", "date"):
        return parse_datetime_ms(text)
    if prop.type == "enumeration":
        return text
    return text.lower()


def _property_predicate(prop: PropertyDef, operator: str, value: Any, high: Any, values: Any) -> Predicate:
    name = prop.name
    if operator == "HAS_PROPERTY":
        return lambda o: o.properties.get(name) not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return lambda o: o.properties.get(name) in (None, "")
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(value).lower()
        wanted = operator == "CONTAINS_TOKEN"
        return lambda o: _contains_token(o.properties.get(name), pattern) == wanted
    if operator in ("IN", "NOT_IN"):
        # String properties are matched in lower case, so IN values must be given lower-case (§4.5).
        wanted = {_typed_exact(prop, v) for v in values}
        inside = operator == "IN"

        def member(obj: CrmObject) -> bool:
            current = _typed(prop, obj.properties.get(name))
            return not inside if current is None else (current in wanted) == inside

        return member
    target = _typed(prop, value)
    if target is None and prop.type in ("number", "datetime", "date"):
        raise validation_error(f"{value!r} is not a valid value to compare with {name} ({prop.type})")
    upper = _typed(prop, high) if operator == "BETWEEN" else None
    compare = _COMPARISONS[operator]

    def check(obj: CrmObject) -> bool:
        current = _typed(prop, obj.properties.get(name))
        if current is None:
            return operator == "NEQ"  # a record without a value is "not equal"
        return compare(current, target, upper)

    return check


def _typed_exact(prop: PropertyDef, raw: Any) -> Any:
    """IN/NOT_IN values: typed like stored values, but string values are not lower-cased."""
    if prop.type == "string":
        return str(raw)
    return _typed(prop, raw)


_COMPARISONS: dict[str, Callable[[Any, Any, Any], bool]] = {
    "EQ": lambda current, target, _: current == target,
    "NEQ": lambda current, target, _: current != target,
    "LT": lambda current, target, _: current < target,
    "LTE": lambda current, target, _: current <= target,
    "GT": lambda current, target, _: current > target,
    "GTE": lambda current, target, _: current >= target,
    "BETWEEN": lambda current, low, high: high is not None and low <= current <= high,
}


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,;]+", text.lower()) if t]


def _contains_token(stored: str | None, pattern: str) -> bool:
    if stored in (None, ""):
        return False
    assert stored is not None
    candidates = [*_tokens(stored), stored.lower()]
    candidates += [part for token in _tokens(stored) for part in re.split(r"[@.\-_/]", token) if part]
    if "*" in pattern:
        return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)
    return pattern in candidates


def _matches_query(type_name: str, obj: CrmObject, query: str) -> bool:
    words = _tokens(query)
    haystack = [t for n in OBJECT_TYPES[type_name].query_properties for t in _tokens(obj.properties.get(n) or "")]
    haystack += [part for token in haystack for part in re.split(r"[@.\-_/]", token) if part]
    return all(any(token.startswith(word) for token in haystack) for word in words)


def _sort(portal: Portal, type_name: str, sorts: Any) -> tuple[str, bool] | None:
    if sorts in (None, []):
        return None
    if not isinstance(sorts, list):
        raise validation_error("sorts must be a list")
    if len(sorts) > LIMITS.max_sorts:
        raise validation_error(f"Only {LIMITS.max_sorts} sort is allowed per search; got {len(sorts)}")
    rule = sorts[0]
    if isinstance(rule, str):  # the spec's form: "name" or "-name"
        name, descending = rule.lstrip("-"), rule.startswith("-")
    elif isinstance(rule, dict) and isinstance(rule.get("propertyName"), str):
        direction = rule.get("direction", "ASCENDING")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation_error("A sort direction is ASCENDING or DESCENDING")
        name, descending = rule["propertyName"], direction == "DESCENDING"
    else:
        raise validation_error("A sort is a property name or {propertyName, direction}")
    if name not in portal.properties[type_name]:
        raise validation_error(f"Cannot sort on {name}: no such property on {type_name}")
    return name, descending


def _sorted(portal: Portal, type_name: str, objects: list[CrmObject], name: str, descending: bool) -> list[CrmObject]:
    prop = portal.properties[type_name][name]
    with_value = [o for o in objects if _typed(prop, o.properties.get(name)) is not None]
    without = [o for o in objects if _typed(prop, o.properties.get(name)) is None]
    with_value.sort(key=lambda o: int(o.id))
    with_value.sort(key=lambda o: _typed(prop, o.properties.get(name)), reverse=descending)
    return with_value + without  # records without a value come last either way
