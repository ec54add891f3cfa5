"""The data a simulated HubSpot portal holds, and the rules HubSpot applies when it is written:
property validation and normalisation, line-item money, associations, files and folders.

The simulator's handlers call into a `Portal` while holding the simulator's lock; a Portal
itself does no locking and no HTTP.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sandbox.hubspot_errors import ApiError, not_found, property_errors, validation_error
from sandbox.hubspot_schema import (
    MAX_STRING_LENGTH,
    OBJECT_TYPES,
    AssociationType,
    PropertyDef,
    association_type,
    default_association_type,
    default_pipeline,
    object_type,
    standard_groups,
    standard_properties,
)

# -- time ------------------------------------------------------------------------------------------


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as HubSpot writes datetimes: `2026-09-01T10:00:00.000Z`."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_datetime_ms(value: str) -> int | None:
    """Epoch milliseconds of an epoch-ms string, an ISO 8601 datetime or an ISO date; else None."""
    text = value.strip()
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


# -- money -----------------------------------------------------------------------------------------

CENT = Decimal("0.01")


def _decimal(value: str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def line_item_amounts(properties: dict[str, str | None]) -> dict[str, str | None]:
    """The calculated money properties of a line item, as HubSpot derives them (money.md).

    - `hs_pre_discount_amount` = price × quantity;
    - `hs_total_discount`: `hs_discount_percentage` % of the pre-discount amount when set,
      else `discount` (money off each unit) × quantity; rounded half-up to 2 decimals;
    - `amount` = pre-discount amount − total discount.
    Decisions where HubSpot is not documented (keep them here): when both discount
    properties are set the percentage wins; without a price or a quantity nothing is
    calculated (all three are null); every calculated value has 2 decimals whatever the
    currency.
    """
    price = _decimal(properties.get("price"))
    quantity = _decimal(properties.get("quantity"))
    if price is None or quantity is None:
        return {"hs_pre_discount_amount": None, "hs_total_discount": None, "amount": None}
    pre_discount = price * quantity
    percentage = _decimal(properties.get("hs_discount_percentage"))
    unit_discount = _decimal(properties.get("discount"))
    if percentage is not None:
        discount = pre_discount * percentage / Decimal(100)
    elif unit_discount is not None:
        discount = unit_discount * quantity
    else:
        discount = Decimal(0)
    pre_rounded = pre_discount.quantize(CENT, rounding=ROUND_HALF_UP)
    discount_rounded = discount.quantize(CENT, rounding=ROUND_HALF_UP)
    return {
        "hs_pre_discount_amount": _money(pre_rounded),
        "hs_total_discount": _money(discount_rounded),
        "amount": _money(pre_rounded - discount_rounded),
    }


# Product properties a line item created with `hs_product_id` copies unless it sets them itself.
PRODUCT_FIELDS_COPIED = ("name", "price", "hs_sku", "description", "hs_cost_of_goods_sold")

# -- objects ---------------------------------------------------------------------------------------


@dataclass
class CrmObject:
    """One CRM record: its id, property values (always strings) and their history."""

    id: str
    type: str
    properties: dict[str, str | None]
    created_ms: int
    updated_ms: int
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    archived: bool = False
    archived_ms: int | None = None


@dataclass
class Folder:
    id: str
    path: str
    name: str
    parent_id: str | None
    created_ms: int


@dataclass
class StoredFile:
    """An uploaded file, its bytes kept so tests can read them back."""

    id: str
    name: str
    extension: str
    folder: Folder
    access: str
    content: bytes
    content_type: str
    created_ms: int
    updated_ms: int
    archived: bool = False

    @property
    def path(self) -> str:
        suffix = f".{self.extension}" if self.extension else ""
        return f"{self.folder.path.rstrip('/')}/{self.name}{suffix}"

    @property
    def md5(self) -> str:
        return hashlib.md5(self.content).hexdigest()

    @property
    def kind(self) -> str:
        ext = self.extension.lower()
        if ext in {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp"}:
            return "IMG"
        if ext in {"pdf", "doc", "docx", "xls", "xlsx", "csv", "txt", "ppt", "pptx", "odt"}:
            return "DOCUMENT"
        if ext in {"mp3", "wav", "ogg"}:
            return "AUDIO"
        if ext in {"mp4", "mov", "avi", "webm"}:
            return "MOVIE"
        return "OTHER"


def coerce_value(value: Any) -> str | None:
    """A written value as HubSpot stores it: a string, or None to clear."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return value
    raise TypeError(type(value).__name__)


class Portal:
    """One HubSpot account: its settings, schema, records, associations, files and folders."""

    def __init__(
        self,
        portal_id: int,
        *,
        next_id: Callable[[], str],
        now_ms: Callable[[], int],
        currency: str = "SEK",
        additional_currencies: Iterable[str] = (),
        time_zone: str = "Europe/Stockholm",
        hub_domain: str | None = None,
        user_id: int = 1,
    ) -> None:
        self.id = portal_id
        self.hub_domain = hub_domain or f"hubnox-sandbox-{portal_id}.com"
        self.user_id = user_id  # the super admin who installs apps
        self.user_email = f"admin@{self.hub_domain}"
        self.currency = currency
        self.additional_currencies = [c for c in additional_currencies if c != currency]
        self.time_zone = time_zone
        self._next_id = next_id
        self._now_ms = now_ms
        self.objects: dict[str, dict[str, CrmObject]] = {name: {} for name in OBJECT_TYPES}
        self.properties: dict[str, dict[str, PropertyDef]] = {
            name: {p.name: p for p in standard_properties(name)} for name in OBJECT_TYPES
        }
        self.groups: dict[str, list[dict[str, Any]]] = {name: standard_groups(name) for name in OBJECT_TYPES}
        self.pipelines: dict[str, dict[str, Any]] = {"default": default_pipeline()}
        # (from type, from id) -> (to type, to id) -> the HubSpot-defined type ids between them
        self.links: dict[tuple[str, str], dict[tuple[str, str], set[int]]] = {}
        # (from type, to type) -> the association labels the portal defined (USER_DEFINED types)
        self.labels: dict[tuple[str, str], list[AssociationType]] = {}
        self._label_ids = itertools.count(1000, 2)
        self.folders: dict[str, Folder] = {}
        self.files: dict[str, StoredFile] = {}
        self._folder_ids = itertools.count(1)

    # -- settings --------------------------------------------------------------------------------

    def currencies(self) -> list[str]:
        return [self.currency, *self.additional_currencies]

    # -- reading ---------------------------------------------------------------------------------

    def find(
        self, type_name: str, object_id: str, *, archived: bool = False, id_property: str | None = None
    ) -> CrmObject:
        """The record with this id (or unique property value), or a 404 as HubSpot answers it."""
        t = OBJECT_TYPES[type_name]
        if id_property and id_property != "hs_object_id":
            prop = self.properties[type_name].get(id_property)
            if prop is None or not prop.has_unique_value:
                raise validation_error(f"{id_property} is not a unique identifier property of {t.name}")
            for obj in self.objects[type_name].values():
                if obj.properties.get(id_property) == object_id and obj.archived == archived:
                    return obj
            raise not_found(f"Object not found.  objectId are usually numeric. ({id_property}={object_id})")
        obj = self.objects[type_name].get(str(object_id))
        if obj is None or obj.archived != archived:
            raise not_found("Object not found.  objectId are usually numeric.")
        return obj

    def live(self, type_name: str) -> list[CrmObject]:
        """The records of a type that are not archived, oldest first."""
        return sorted((o for o in self.objects[type_name].values() if not o.archived), key=lambda o: int(o.id))

    # -- writing ---------------------------------------------------------------------------------

    def create(self, type_name: str, raw: dict[str, Any]) -> CrmObject:
        """Create a record from written properties, applying HubSpot's defaults and rules.

        Decisions: a deal without `pipeline` goes to `default`, without `dealstage` to that
        pipeline's first stage, and without `deal_currency_code` gets the portal's currency.
        """
        values = self._validated(type_name, raw)
        if type_name == "deals":
            values.setdefault("pipeline", "default")
            pipeline = self.pipelines.get(values["pipeline"] or "")
            if not values.get("dealstage") and pipeline:
                values["dealstage"] = pipeline["stages"][0]["id"]
            values.setdefault("deal_currency_code", self.currency)
        if type_name == "notes" and not values.get("hs_timestamp"):
            raise property_errors(
                [
                    {
                        "name": "hs_timestamp",
                        "error": "REQUIRED_PROPERTY",
                        "message": "hs_timestamp is required",
                    }
                ],
                self.id,
            )
        if type_name == "line_items":
            self._copy_product(values)
        self._check_pipeline_stage(type_name, values)
        self._check_unique(type_name, values, None)
        now = self._now_ms()
        t = OBJECT_TYPES[type_name]
        obj = CrmObject(id=self._next_id(), type=type_name, properties={}, created_ms=now, updated_ms=now)
        values.setdefault(t.created_property, iso_ms(now))
        values["hs_object_id"] = obj.id
        for name in t.modified_properties:
            values[name] = iso_ms(now)
        if type_name == "line_items":
            values.update(line_item_amounts(values))
        self._write(obj, values, now)
        self.objects[type_name][obj.id] = obj
        return obj

    def update(self, type_name: str, obj: CrmObject, raw: dict[str, Any]) -> CrmObject:
        """Apply a PATCH of written properties to a record."""
        values = self._validated(type_name, raw)
        merged = {**obj.properties, **values}
        self._check_pipeline_stage(type_name, merged)
        self._check_unique(type_name, values, obj)
        now = max(self._now_ms(), obj.updated_ms)
        for name in OBJECT_TYPES[type_name].modified_properties:
            values[name] = iso_ms(now)
        if type_name == "line_items":
            values.update(line_item_amounts(merged))
        self._write(obj, values, now)
        obj.updated_ms = now
        return obj

    def archive(self, type_name: str, obj: CrmObject) -> None:
        """Archive a record; its associations go with it."""
        obj.archived = True
        obj.archived_ms = self._now_ms()
        for to_type, to_id in list(self.links.get((type_name, obj.id), {})):
            self.links.get((to_type, to_id), {}).pop((type_name, obj.id), None)
        self.links.pop((type_name, obj.id), None)

    def _write(self, obj: CrmObject, values: dict[str, str | None], now: int) -> None:
        stamp = iso_ms(now)
        for name, value in values.items():
            obj.properties[name] = value
            if value is not None:
                obj.history.setdefault(name, []).insert(
                    0, {"value": value, "timestamp": stamp, "sourceType": "API", "sourceId": "hubnox-sandbox"}
                )

    def _copy_product(self, values: dict[str, str | None]) -> None:
        product_id = values.get("hs_product_id")
        if not product_id:
            return
        product = self.objects["products"].get(product_id)
        if product is None or product.archived:
            raise property_errors(
                [
                    {
                        "name": "hs_product_id",
                        "error": "INVALID_OBJECT_ID",
                        "message": f"Product {product_id} does not exist",
                    }
                ],
                self.id,
            )
        for name in PRODUCT_FIELDS_COPIED:
            if values.get(name) in (None, "") and product.properties.get(name) not in (None, ""):
                values[name] = product.properties[name]

    def _check_pipeline_stage(self, type_name: str, values: dict[str, str | None]) -> None:
        if type_name != "deals":
            return
        pipeline_id = values.get("pipeline") or "default"
        pipeline = self.pipelines.get(pipeline_id)
        if pipeline is None:
            raise property_errors(
                [
                    {
                        "name": "pipeline",
                        "error": "INVALID_OPTION",
                        "message": f"{pipeline_id} was not one of the allowed options: {sorted(self.pipelines)}",
                    }
                ],
                self.id,
            )
        stage = values.get("dealstage")
        stage_ids = [s["id"] for s in pipeline["stages"]]
        if stage and stage not in stage_ids:
            raise property_errors(
                [
                    {
                        "name": "dealstage",
                        "error": "INVALID_OPTION",
                        "message": f"{stage} is not a valid deal stage of pipeline {pipeline_id}: {stage_ids}",
                    }
                ],
                self.id,
            )

    def _check_unique(self, type_name: str, values: dict[str, str | None], current: CrmObject | None) -> None:
        for name, value in values.items():
            prop = self.properties[type_name].get(name)
            if prop is None or not prop.has_unique_value or value in (None, ""):
                continue
            for other in self.objects[type_name].values():
                if other is not current and not other.archived and other.properties.get(name) == value:
                    raise ApiError(
                        409,
                        f"A {OBJECT_TYPES[type_name].singular} with {name}={value} already exists (id {other.id})",
                        "CONFLICT",
                    )

    # -- property validation ---------------------------------------------------------------------

    def _validated(self, type_name: str, raw: Any) -> dict[str, str | None]:
        if not isinstance(raw, dict):
            raise validation_error("Invalid input JSON: properties must be an object of property names to values")
        definitions = self.properties[type_name]
        problems: list[dict[str, Any]] = []
        values: dict[str, str | None] = {}
        for name, given in raw.items():
            prop = definitions.get(name)
            if prop is None:
                problems.append(
                    {
                        "name": name,
                        "error": "PROPERTY_DOESNT_EXIST",
                        "message": f'Property "{name}" does not exist',
                    }
                )
                continue
            if prop.read_only:
                problems.append(
                    {
                        "name": name,
                        "error": "READ_ONLY_VALUE",
                        "message": f'"{name}" is a read only property; its value cannot be set.',
                    }
                )
                continue
            try:
                value = coerce_value(given)
            except TypeError:
                problems.append(
                    {
                        "name": name,
                        "error": "INVALID_PROPERTY_VALUE",
                        "message": f"{name} must be a string, a number, a boolean or null",
                    }
                )
                continue
            normalised, problem = self._normalise(prop, value)
            if problem:
                problems.append({"name": name, **problem})
            else:
                values[name] = normalised
        if problems:
            raise property_errors(problems, self.id)
        return values

    def _normalise(self, prop: PropertyDef, value: str | None) -> tuple[str | None, dict[str, str] | None]:
        """The stored form of a written value, or the problem HubSpot reports with it."""
        if value is None or value == "":
            return value, None
        name = prop.name
        if prop.type == "number":
            number = _decimal(value)
            if number is None or not number.is_finite():
                return None, {"error": "INVALID_INTEGER", "message": f"{name} was not a valid number"}
            if name in ("price", "quantity") and number < 0 and prop.hubspot_defined:
                return None, {"error": "INVALID_PROPERTY_VALUE", "message": f"{name} cannot be negative"}
            return value, None
        if prop.type == "bool":
            if value.lower() not in ("true", "false"):
                return None, {
                    "error": "INVALID_BOOLEAN",
                    "message": f"{value} is not a valid boolean for {name}",
                }
            return value.lower(), None
        if prop.type == "datetime":
            ms = parse_datetime_ms(value)
            if ms is None:
                return None, {
                    "error": "INVALID_DATE",
                    "message": f"{value} is not a valid datetime for {name}",
                }
            return iso_ms(ms), None
        if prop.type == "date":
            ms = parse_datetime_ms(value)
            if ms is None or ms % 86_400_000:
                return None, {
                    "error": "INVALID_DATE",
                    "message": f"{value} is not a valid date for {name} (a date or midnight UTC)",
                }
            return iso_ms(ms)[:10], None
        if prop.type == "enumeration":
            return self._enumeration(prop, value)
        if len(value) > MAX_STRING_LENGTH:
            return None, {
                "error": "INVALID_STRING_LENGTH",
                "message": f"{name} is {len(value)} characters long; the limit is {MAX_STRING_LENGTH}",
            }
        return value, None

    def _enumeration(self, prop: PropertyDef, value: str) -> tuple[str | None, dict[str, str] | None]:
        if prop.external_options or prop.name in ("pipeline", "dealstage"):
            return value, None  # owners and attachments come from elsewhere; stages are checked per pipeline
        if prop.name in ("deal_currency_code", "hs_line_item_currency_code"):
            allowed = self.currencies()
        else:
            allowed = [o["value"] for o in prop.options]
        chosen = value.split(";") if prop.field_type == "checkbox" else [value]
        wrong = [v for v in chosen if v not in allowed]
        if wrong:
            return None, {
                "error": "INVALID_OPTION",
                "message": f"{wrong[0]} was not one of the allowed options: {allowed}",
            }
        return value, None

    # -- associations ----------------------------------------------------------------------------

    def define_label(self, from_type: str, to_type: str, label: str) -> AssociationType:
        """A portal's own association label between two object types (both directions), as the
        associations schema API makes it: USER_DEFINED types with ids of the account's own. HubSpot
        defines no primary label between deals and contacts; portals that want one define it here.
        A label never limits how many records carry it, unlike HubSpot's primary company."""
        text = label.strip()
        default = default_association_type(from_type, to_type)
        inverse_default = default_association_type(to_type, from_type)
        if not text or default is None or inverse_default is None:
            raise validation_error(f"A label needs text and object types that can be associated "
                                   f"({from_type} and {to_type})")
        for kind in self.labels.get((from_type, to_type), []):
            if kind.label == text:
                return kind
        type_id = next(self._label_ids)
        name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "label"
        forward = AssociationType(type_id, type_id + 1, name, text, implies=default.type_id, category="USER_DEFINED")
        backward = AssociationType(type_id + 1, type_id, name, text, implies=inverse_default.type_id,
                                   category="USER_DEFINED")
        self.labels.setdefault((from_type, to_type), []).append(forward)
        self.labels.setdefault((to_type, from_type), []).append(backward)
        return forward

    def kind_of(self, from_type: str, to_type: str, type_id: int) -> AssociationType | None:
        """The HubSpot-defined or portal-defined type with this id between the two object types."""
        found = association_type(from_type, to_type, type_id)
        if found is not None:
            return found
        return next((k for k in self.labels.get((from_type, to_type), []) if k.type_id == type_id), None)

    def associate(
        self,
        from_type: str,
        from_id: str,
        to_type: str,
        to_id: str,
        type_id: int | None = None,
        category: str = "HUBSPOT_DEFINED",
    ) -> AssociationType:
        """Link two records with a HubSpot-defined type (default type when None) or a label the
        portal defined (`USER_DEFINED`), both ways; a labelled link also holds the unlabelled type."""
        for type_name, object_id in ((from_type, from_id), (to_type, to_id)):
            obj = self.objects[type_name].get(str(object_id))
            if obj is None or obj.archived:
                raise not_found(f"No {OBJECT_TYPES[type_name].singular} with ID {object_id} exists")
        kind = (
            default_association_type(from_type, to_type)
            if type_id is None
            else self.kind_of(from_type, to_type, int(type_id))
        )
        if kind is not None and kind.category != category:
            kind = None
        if kind is None and category not in ("HUBSPOT_DEFINED", "USER_DEFINED"):
            raise validation_error(
                f"association type {type_id} of category {category} is not defined in this "
                f"account between {from_type} and {to_type}"
            )
        if kind is None:
            raise validation_error(
                f"{type_id if type_id is not None else 'No default'} is not a valid "
                f"association type between {from_type} and {to_type}"
            )
        kinds = [kind.type_id] + ([kind.implies] if kind.implies else [])
        if kind.label == "Primary" and kind.category == "HUBSPOT_DEFINED":
            self._drop_other_primary(from_type, str(from_id), to_type, kind.type_id)
        for type_id_ in kinds:
            linked = self.kind_of(from_type, to_type, type_id_)
            assert linked is not None
            self.links.setdefault((from_type, str(from_id)), {}).setdefault((to_type, str(to_id)), set()).add(type_id_)
            self.links.setdefault((to_type, str(to_id)), {}).setdefault((from_type, str(from_id)), set()).add(
                linked.inverse_id
            )
        return kind

    def _drop_other_primary(self, from_type: str, from_id: str, to_type: str, primary_id: int) -> None:
        """A record has one primary company: a new primary demotes the old one to unlabelled."""
        for (other_type, other_id), type_ids in self.links.get((from_type, from_id), {}).items():
            if other_type == to_type and primary_id in type_ids:
                type_ids.discard(primary_id)
                inverse = association_type(from_type, to_type, primary_id)
                assert inverse is not None
                self.links[(other_type, other_id)][(from_type, from_id)].discard(inverse.inverse_id)

    def associated(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, list[AssociationType]]]:
        """The records of `to_type` linked to a record, by ascending id, with their types."""
        found = []
        for (other_type, other_id), type_ids in self.links.get((from_type, str(from_id)), {}).items():
            if other_type != to_type or not type_ids:
                continue
            kinds = [k for k in (self.kind_of(from_type, to_type, i) for i in sorted(type_ids)) if k]
            found.append((other_id, kinds))
        return sorted(found, key=lambda item: int(item[0]))

    # -- files and folders -----------------------------------------------------------------------

    def folder_at(self, path: str) -> Folder:
        """The folder at a path, created with its parents when missing (as HubSpot does)."""
        clean = "/" + "/".join(part for part in path.split("/") if part)
        if clean in self.folders:
            return self.folders[clean]
        parent = None if clean == "/" else self.folder_at(clean.rsplit("/", 1)[0] or "/")
        folder = Folder(
            id=str(190_000_000 + next(self._folder_ids)),
            path=clean,
            name=clean.rsplit("/", 1)[-1],
            parent_id=parent.id if parent else None,
            created_ms=self._now_ms(),
        )
        self.folders[clean] = folder
        return folder

    def folder_by_id(self, folder_id: str) -> Folder | None:
        return next((f for f in self.folders.values() if f.id == folder_id), None)

    def file(self, file_id: str) -> StoredFile:
        stored = self.files.get(str(file_id))
        if stored is None or stored.archived:
            raise not_found(f"File {file_id} not found")
        return stored


# -- JSON shapes -------------------------------------------------------------------------------------


def selected_properties(portal: Portal, obj: CrmObject, requested: Iterable[str] | None) -> dict[str, str | None]:
    """The properties HubSpot returns for a read: the defaults when none are asked for, else the
    asked-for ones that exist (null when empty, unknown names left out) plus the always-returned
    ones."""
    t = OBJECT_TYPES[obj.type]
    names = [n for n in (requested or []) if n]
    if not names:
        chosen = list(t.default_properties)
    else:
        known = portal.properties[obj.type]
        chosen = [n for n in names if n in known] + list(t.always_properties)
    return {name: obj.properties.get(name) for name in dict.fromkeys(chosen)}


def set_properties(obj: CrmObject) -> dict[str, str | None]:
    """Every property with a value (what create and update answer with)."""
    return {name: value for name, value in sorted(obj.properties.items()) if value is not None}


def object_json(
    portal: Portal,
    obj: CrmObject,
    properties: dict[str, str | None],
    *,
    associations: Iterable[str] = (),
    with_history: Iterable[str] = (),
) -> dict[str, Any]:
    """A record in the API's shape (SimplePublicObject / ...WithAssociations)."""
    body: dict[str, Any] = {
        "id": obj.id,
        "properties": properties,
        "createdAt": iso_ms(obj.created_ms),
        "updatedAt": iso_ms(obj.updated_ms),
        "archived": obj.archived,
    }
    if obj.archived and obj.archived_ms is not None:
        body["archivedAt"] = iso_ms(obj.archived_ms)
    history_names = [n for n in with_history if n in portal.properties[obj.type]]
    if history_names:
        body["propertiesWithHistory"] = {n: list(obj.history.get(n, [])) for n in history_names}
    linked: dict[str, Any] = {}
    for alias in associations:
        to_type = object_type(alias.strip())
        if to_type is None:
            continue  # HubSpot ignores association types it does not know
        results = [
            {"id": to_id, "type": kind.name}
            for to_id, kinds in portal.associated(obj.type, obj.id, to_type.name)
            for kind in kinds
        ]
        if results:
            linked[to_type.association_key] = {"results": results}
    if linked:
        body["associations"] = linked
    return body


def file_json(portal: Portal, stored: StoredFile) -> dict[str, Any]:
    """A file in the Files API's shape."""
    public_url = f"https://{portal.hub_domain}/hubfs/{portal.id}{stored.path}"
    return {
        "id": stored.id,
        "name": stored.name,
        "extension": stored.extension,
        "path": stored.path,
        "parentFolderId": stored.folder.id,
        "size": len(stored.content),
        "type": stored.kind,
        "access": stored.access,
        "fileMd5": stored.md5,
        "isUsableInContent": True,
        "sourceGroup": "CONTENT",
        "url": public_url,
        "defaultHostingUrl": public_url,
        "createdAt": iso_ms(stored.created_ms),
        "updatedAt": iso_ms(stored.updated_ms),
        "archived": stored.archived,
    }
