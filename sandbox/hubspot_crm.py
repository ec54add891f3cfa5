"""The CRM part of the HubSpot simulator: objects (create, read, list, batch read, update,
archive, search), associations, pipelines and properties, on the 2026-03 paths."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.common import json_response
from sandbox.hubspot_errors import ApiError, error_body, not_found, validation_error
from sandbox.hubspot_requests import flag, int_arg, json_body, json_object, list_arg, offset_arg
from sandbox.hubspot_schema import (
    FIELD_TYPES,
    MAX_UNIQUE_PROPERTIES,
    OBJECT_TYPES,
    AssociationType,
    PropertyDef,
    association_target,
    association_type,
)
from sandbox.hubspot_search import search
from sandbox.hubspot_store import Portal, iso_ms, object_json, selected_properties, set_properties
from sandbox.hubspot_webhooks import changed

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSimulator
    from sandbox.hubspot_oauth import Grant

BATCH_READ_MAX_INPUTS = 100
BATCH_UPDATE_MAX_INPUTS = 100
ASSOCIATION_BATCH_MAX_INPUTS = 1_000
ASSOCIATION_PAGE_SIZE = 500
LIST_MAX_LIMIT = 100
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")


class CrmRoutes:
    """CRM objects, associations, pipelines and properties (a mixin of HubSpotSimulator)."""

    # -- CRM objects -----------------------------------------------------------------------------

    def _portal_of(self: HubSpotSimulator, grant: Grant) -> Portal:
        return self.portals[grant.portal_id]

    def _list(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        limit = int_arg(request, "limit", 10)
        if not 1 <= limit <= LIST_MAX_LIMIT:
            raise validation_error(f"limit must be between 1 and {LIST_MAX_LIMIT}")
        archived = flag(request, "archived")
        records = sorted(
            (o for o in portal.objects[t.name].values() if o.archived == archived), key=lambda o: int(o.id)
        )
        after = request.args.get("after")
        if after:
            if not after.isdigit():
                raise validation_error(f"after must be a paging token from a previous page, not {after!r}")
            records = [o for o in records if int(o.id) >= int(after)]
        wanted, linked = list_arg(request, "properties"), list_arg(request, "associations")
        body: dict[str, Any] = {
            "results": [
                object_json(
                    portal,
                    o,
                    selected_properties(portal, o, wanted),
                    associations=linked,
                    with_history=list_arg(request, "propertiesWithHistory"),
                )
                for o in records[:limit]
            ]
        }
        if len(records) > limit:
            body["paging"] = {
                "next": {"after": records[limit].id, "link": f"{request.base_url}?after={records[limit].id}"}
            }
        return json_response(body)

    def _create(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        body = json_object(request)
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise validation_error("Invalid input JSON: properties is required and must be an object")
        links = self._association_inputs(portal, t.name, body.get("associations") or [])
        if t.name == "notes":
            _check_attachments(portal, properties)
        record = portal.create(t.name, properties)
        for to_type, to_id, type_id, category in links:
            portal.associate(t.name, record.id, to_type, to_id, type_id, category)
        self.crm_changed(portal, t.name, record, "creation", grant=grant)
        return json_response(object_json(portal, record, set_properties(record)), status=201)

    def _association_inputs(
        self: HubSpotSimulator, portal: Portal, from_type: str, inputs: Any
    ) -> list[tuple[str, str, int, str]]:
        """The associations of a create request, checked before anything is written."""
        if not isinstance(inputs, list):
            raise validation_error("associations must be a list")
        links = []
        for item in inputs:
            to = item.get("to") if isinstance(item, dict) else None
            target = to.get("id") if isinstance(to, dict) else None
            types = item.get("types") if isinstance(item, dict) else None
            if target in (None, "") or not isinstance(types, list) or not types:
                raise validation_error("Each association needs to.id and at least one type")
            for spec in types:
                type_id, category = _association_spec(spec)
                to_type = association_target(from_type, type_id)
                if to_type is None or category != "HUBSPOT_DEFINED":
                    raise validation_error(f"{category} association type {type_id} is not valid from {from_type}")
                found = portal.objects[to_type].get(str(target))
                if found is None or found.archived:
                    raise validation_error(
                        f"No {OBJECT_TYPES[to_type].singular} with ID {target} exists: association "
                        f"type {type_id} cannot be created"
                    )
                links.append((to_type, str(target), type_id, category))
        return links

    def _read(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str, object_id: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        record = portal.find(
            t.name, object_id, archived=flag(request, "archived"), id_property=request.args.get("idProperty")
        )
        return json_response(
            object_json(
                portal,
                record,
                selected_properties(portal, record, list_arg(request, "properties")),
                associations=list_arg(request, "associations"),
                with_history=list_arg(request, "propertiesWithHistory"),
            )
        )

    def _update(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str, object_id: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        body = json_object(request)
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise validation_error("Invalid input JSON: properties is required and must be an object")
        record = portal.find(t.name, object_id, id_property=request.args.get("idProperty"))
        if t.name == "notes":
            _check_attachments(portal, properties)
        before = dict(record.properties)
        portal.update(t.name, record, properties)
        self.crm_changed(portal, t.name, record, "propertyChange", changes=changed(before, record), grant=grant)
        return json_response(object_json(portal, record, set_properties(record)))

    def _archive(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str, object_id: str) -> Response:
        """Archive a record. HubSpot answers 204 whether or not the record exists (or was archived
        already), so the simulator does too."""
        t, portal = self.object_type(object_type), self._portal_of(grant)
        record = portal.objects[t.name].get(object_id)
        if record is not None and not record.archived:
            portal.archive(t.name, record)
            self.crm_changed(portal, t.name, record, "deletion", grant=grant)
        return Response(status=204)

    def _batch_read(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        started = iso_ms(self.now_ms())
        body = json_object(request)
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise validation_error("Invalid input JSON: inputs is required and must be a list")
        if len(inputs) > BATCH_READ_MAX_INPUTS:
            raise validation_error(f"Batch input of {len(inputs)} items exceeds the limit of {BATCH_READ_MAX_INPUTS}")
        archived, id_property = flag(request, "archived"), body.get("idProperty")
        wanted, history = body.get("properties") or [], body.get("propertiesWithHistory") or []
        results, missing = [], []
        for object_id in dict.fromkeys(str(i.get("id")) if isinstance(i, dict) else "" for i in inputs):
            try:
                record = portal.find(t.name, object_id, archived=archived, id_property=id_property)
            except ApiError:
                missing.append(object_id)
                continue
            results.append(
                object_json(portal, record, selected_properties(portal, record, wanted), with_history=history)
            )
        return self._batch_reply(results, missing, started, t.singular, "get")

    def _batch_reply(self: HubSpotSimulator, results: list[dict[str, Any]], missing: list[str], started: str,
                     singular: str, verb: str) -> Response:
        """A batch's answer: 200 when every id was found, else HubSpot's 207 with one OBJECT_NOT_FOUND
        error naming the missing ids (`verb`: what the batch did, "get" or "update")."""
        reply: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso_ms(self.now_ms()),
        }
        if not missing:
            return json_response(reply)
        reply["numErrors"] = 1
        reply["errors"] = [{
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not {verb} some {singular.upper()} objects, they may be deleted or not exist. "
                       "Check that ids are valid.",
            "context": {"ids": missing},
            "errors": [],
            "links": {},
        }]
        return json_response(reply, status=207)

    def _batch_update(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        """Update up to 100 records by id, each firing the same change events as a single PATCH.

        Decisions (the spec allows 200 and 207 and says no more): the whole batch is refused (400)
        when an id repeats or any value is invalid, before anything is written, as HubSpot validates
        a batch up front; ids that match no record are listed in one OBJECT_NOT_FOUND error (207)
        and the other records are updated.
        """
        t, portal = self.object_type(object_type), self._portal_of(grant)
        started = iso_ms(self.now_ms())
        inputs = json_object(request).get("inputs")
        if not isinstance(inputs, list):
            raise validation_error("Invalid input JSON: inputs is required and must be a list")
        if len(inputs) > BATCH_UPDATE_MAX_INPUTS:
            raise validation_error(
                f"Batch input of {len(inputs)} items exceeds the limit of {BATCH_UPDATE_MAX_INPUTS}")
        found, missing, seen = [], [], set()
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("properties"), dict) or not item.get("id"):
                raise validation_error("Invalid input JSON: each input needs an id and an object of properties")
            object_id = str(item["id"])
            if object_id in seen:
                raise validation_error(f"Duplicate IDs found in batch input: [{object_id}]. IDs must be unique")
            seen.add(object_id)
            try:
                record = portal.find(t.name, object_id, id_property=item.get("idProperty"))
            except ApiError:
                missing.append(object_id)
                continue
            if t.name == "notes":
                _check_attachments(portal, item["properties"])
            portal._validated(t.name, item["properties"])  # refuse the batch before any write
            found.append((record, item["properties"]))
        results = []
        for record, properties in found:
            before = dict(record.properties)
            portal.update(t.name, record, properties)
            self.crm_changed(portal, t.name, record, "propertyChange", changes=changed(before, record), grant=grant)
            results.append(object_json(portal, record, set_properties(record)))
        return self._batch_reply(results, missing, started, t.singular, "update")

    def _search(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        self.search_limiter.enabled = self.limiter.enabled  # PUT /_sandbox/ratelimit switches both
        allowed, _ = self.search_limiter.allow(str(portal.id))
        if not allowed:  # search answers without rate-limit headers
            return json_response(
                error_body(
                    429,
                    "You have reached your secondly limit.",
                    "RATE_LIMITS",
                    extra={"errorType": "RATE_LIMIT", "policyName": "SECONDLY"},
                ),
                status=429,
            )
        text = request.get_data(as_text=True)
        return json_response(search(portal, t.name, json_object(request), len(text)))

    # -- associations ----------------------------------------------------------------------------

    def _associations(
        self: HubSpotSimulator, request: Request, grant: Grant, object_type: str, object_id: str, to_type: str
    ) -> Response:
        source, target, portal = (
            self.object_type(object_type),
            self.object_type(to_type),
            self._portal_of(grant),
        )
        portal.find(source.name, object_id)
        limit = int_arg(request, "limit", ASSOCIATION_PAGE_SIZE)
        if not 1 <= limit <= ASSOCIATION_PAGE_SIZE:
            raise validation_error(f"limit must be between 1 and {ASSOCIATION_PAGE_SIZE}")
        linked = portal.associated(source.name, object_id, target.name)
        return json_response(_association_page(linked, offset_arg(request.args.get("after")), limit, with_from=None))

    def _associate(
        self: HubSpotSimulator,
        request: Request,
        grant: Grant,
        object_type: str,
        object_id: str,
        to_type: str,
        to_id: str,
    ) -> Response:
        source, target, portal = (
            self.object_type(object_type),
            self.object_type(to_type),
            self._portal_of(grant),
        )
        specs = json_body(request)
        if not isinstance(specs, list) or not specs:
            raise validation_error("The body is a list of {associationCategory, associationTypeId}")
        for spec in specs:
            type_id, category = _association_spec(spec)
            portal.associate(source.name, object_id, target.name, to_id, type_id, category)
        kinds = dict(portal.associated(source.name, object_id, target.name)).get(str(to_id), [])
        return json_response(
            {
                "fromObjectTypeId": source.type_id,
                "fromObjectId": str(object_id),
                "toObjectTypeId": target.type_id,
                "toObjectId": str(to_id),
                "labels": [k.label for k in kinds if k.label],
            },
            status=201,
        )

    def _associate_default(
        self: HubSpotSimulator,
        request: Request,
        grant: Grant,
        object_type: str,
        object_id: str,
        to_type: str,
        to_id: str,
    ) -> Response:
        source, target, portal = (
            self.object_type(object_type),
            self.object_type(to_type),
            self._portal_of(grant),
        )
        started = iso_ms(self.now_ms())
        kind = portal.associate(source.name, object_id, target.name, to_id)
        inverse = association_type(target.name, source.name, kind.inverse_id)
        assert inverse is not None
        results = [
            {
                "from": {"id": str(object_id)},
                "to": {"id": str(to_id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": kind.type_id,
                },
            },
            {
                "from": {"id": str(to_id)},
                "to": {"id": str(object_id)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": inverse.type_id,
                },
            },
        ]
        return json_response(
            {
                "status": "COMPLETE",
                "results": results,
                "startedAt": started,
                "completedAt": iso_ms(self.now_ms()),
            }
        )

    def _dissociate(
        self: HubSpotSimulator,
        request: Request,
        grant: Grant,
        object_type: str,
        object_id: str,
        to_type: str,
        to_id: str,
    ) -> Response:
        source, target, portal = (
            self.object_type(object_type),
            self.object_type(to_type),
            self._portal_of(grant),
        )
        portal.links.get((source.name, str(object_id)), {}).pop((target.name, str(to_id)), None)
        portal.links.get((target.name, str(to_id)), {}).pop((source.name, str(object_id)), None)
        return Response(status=204)

    def _association_batch(
        self: HubSpotSimulator, request: Request, grant: Grant, from_type: str, to_type: str
    ) -> Response:
        """Batch read associations. An input without any associations (or not existing) is listed
        in `errors` with a 207, as HubSpot's associations API does (NO_ASSOCIATIONS_FOUND)."""
        source, target, portal = (
            self.object_type(from_type),
            self.object_type(to_type),
            self._portal_of(grant),
        )
        started = iso_ms(self.now_ms())
        inputs = json_object(request).get("inputs")
        if not isinstance(inputs, list):
            raise validation_error("Invalid input JSON: inputs is required and must be a list")
        if len(inputs) > ASSOCIATION_BATCH_MAX_INPUTS:
            raise validation_error(
                f"Batch input of {len(inputs)} items exceeds the limit of {ASSOCIATION_BATCH_MAX_INPUTS}"
            )
        results, errors = [], []
        for item in inputs:
            object_id = str(item.get("id")) if isinstance(item, dict) else ""
            linked = portal.associated(source.name, object_id, target.name)
            if not linked:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": f"No {target.name} is associated with {source.singular} {object_id}.",
                        "context": {"fromObjectId": [object_id]},
                        "errors": [],
                        "links": {},
                    }
                )
                continue
            page = _association_page(linked, offset_arg(item.get("after")), ASSOCIATION_PAGE_SIZE, with_from=object_id)
            results.append(page)
        reply: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso_ms(self.now_ms()),
        }
        if errors:
            reply.update(numErrors=len(errors), errors=errors)
        return json_response(reply, status=207 if errors else 200)

    # -- pipelines -------------------------------------------------------------------------------

    def _deal_pipelines(self: HubSpotSimulator, grant: Grant, object_type: str) -> dict[str, dict[str, Any]]:
        if self.object_type(object_type).name != "deals":
            raise validation_error(f"The simulator keeps pipelines for deals only, not {object_type}")
        return self._portal_of(grant).pipelines

    def _pipelines(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        pipelines = self._deal_pipelines(grant, object_type)
        return json_response({"results": sorted(pipelines.values(), key=lambda p: p["displayOrder"])})

    def _pipeline(
        self: HubSpotSimulator, request: Request, grant: Grant, object_type: str, pipeline_id: str
    ) -> Response:
        pipeline = self._deal_pipelines(grant, object_type).get(pipeline_id)
        if pipeline is None:
            raise not_found(f"Unable to find pipeline {pipeline_id}")
        return json_response(pipeline)

    def _stages(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str, pipeline_id: str) -> Response:
        pipeline = self._deal_pipelines(grant, object_type).get(pipeline_id)
        if pipeline is None:
            raise not_found(f"Unable to find pipeline {pipeline_id}")
        return json_response({"results": pipeline["stages"]})

    # -- properties ------------------------------------------------------------------------------

    def _properties(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        if flag(request, "archived"):
            return json_response({"results": []})  # nothing is ever archived here
        only = set(list_arg(request, "properties"))
        return json_response(
            {"results": [p.as_json() for p in portal.properties[t.name].values() if not only or p.name in only]}
        )

    def _property(
        self: HubSpotSimulator, request: Request, grant: Grant, object_type: str, property_name: str
    ) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        prop = portal.properties[t.name].get(property_name)
        if prop is None:
            raise not_found(f"Unable to find property with name {property_name} for object type {t.type_id}")
        return json_response(prop.as_json())

    def _update_property(
        self: HubSpotSimulator, request: Request, grant: Grant, object_type: str, property_name: str
    ) -> Response:
        """A partial update of a property (PropertyUpdate): the fields given are overwritten.

        `options` replaces the whole list, as HubSpot does, so a caller adding options sends the
        ones to keep too. HubSpot-defined properties refuse a change of type.
        """
        t, portal = self.object_type(object_type), self._portal_of(grant)
        prop = portal.properties[t.name].get(property_name)
        if prop is None:
            raise not_found(f"Unable to find property with name {property_name} for object type {t.type_id}")
        spec = json_object(request)
        kind, field_type = str(spec.get("type", prop.type)), str(spec.get("fieldType", prop.field_type))
        if prop.hubspot_defined and kind != prop.type:
            raise validation_error(f"The type of the HubSpot-defined property {property_name} cannot be changed")
        if kind not in FIELD_TYPES:
            raise validation_error(f"{kind} is not a valid property type; use one of {', '.join(FIELD_TYPES)}")
        if field_type not in FIELD_TYPES[kind]:
            raise validation_error(
                f"{field_type} is not a valid fieldType for a property of type {kind}; "
                f"use one of {', '.join(FIELD_TYPES[kind])}"
            )
        if "groupName" in spec and spec["groupName"] not in [g["name"] for g in portal.groups[t.name]]:
            raise validation_error(f"Property group {spec['groupName']} does not exist for {t.name}")
        options = _options(spec["options"], required=kind == "enumeration") if "options" in spec else prop.options
        if kind == "enumeration" and not options:
            raise validation_error("An enumeration property needs options")
        prop.type, prop.field_type, prop.options = kind, field_type, options
        for key, attribute in (("label", "label"), ("description", "description"), ("groupName", "group")):
            if key in spec:
                setattr(prop, attribute, str(spec[key]))
        for key, attribute in (("hidden", "hidden"), ("formField", "form_field")):
            if key in spec:
                setattr(prop, attribute, bool(spec[key]))
        if "displayOrder" in spec:
            prop.display_order = int(spec["displayOrder"])
        if "numberDisplayHint" in spec:
            prop.number_display_hint = spec["numberDisplayHint"]
        prop.updated_at = iso_ms(self.now_ms())
        return json_response(prop.as_json())

    def _create_property(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        prop = self.create_property(portal, t.name, json_object(request))
        location = f"{request.host_url.rstrip('/')}/crm/properties/2026-03/{object_type}/{prop.name}"
        return json_response(prop.as_json(), status=201, headers={"Location": location})

    def create_property(self: HubSpotSimulator, portal: Portal, type_name: str, spec: Any) -> PropertyDef:
        """Create a property as HubSpot validates it: required fields, name rules, the
        type/fieldType pairs, enumeration options, an existing group, no duplicate (409)."""
        if not isinstance(spec, dict):
            raise validation_error("Invalid input JSON: a property is an object")
        missing = [f for f in ("name", "label", "type", "fieldType", "groupName") if not spec.get(f)]
        if missing:
            raise validation_error(f"Missing required field(s): {', '.join(missing)}")
        name, kind, field_type = str(spec["name"]), str(spec["type"]), str(spec["fieldType"])
        if not _NAME.match(name) or name.startswith("hs_"):
            raise validation_error(
                f"Property name {name!r} is invalid: use lower-case letters, digits and "
                "underscores, start with a letter, and do not use the reserved hs_ prefix"
            )
        if kind not in FIELD_TYPES:
            raise validation_error(f"{kind} is not a valid property type; use one of {', '.join(FIELD_TYPES)}")
        if field_type not in FIELD_TYPES[kind]:
            raise validation_error(
                f"{field_type} is not a valid fieldType for a property of type {kind}; "
                f"use one of {', '.join(FIELD_TYPES[kind])}"
            )
        options = _options(spec.get("options"), required=kind == "enumeration")
        if spec["groupName"] not in [g["name"] for g in portal.groups[type_name]]:
            raise validation_error(f"Property group {spec['groupName']} does not exist for {type_name}")
        if name in portal.properties[type_name]:
            raise ApiError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        unique = bool(spec.get("hasUniqueValue"))
        if unique and sum(p.has_unique_value for p in portal.properties[type_name].values()) >= MAX_UNIQUE_PROPERTIES:
            raise validation_error(f"An object type can have at most {MAX_UNIQUE_PROPERTIES} unique-value properties")
        stamp = iso_ms(self.now_ms())
        prop = PropertyDef(
            name=name,
            label=str(spec["label"]),
            type=kind,
            field_type=field_type,
            group=str(spec["groupName"]),
            description=str(spec.get("description", "")),
            options=options,
            hubspot_defined=False,
            has_unique_value=unique,
            hidden=bool(spec.get("hidden", False)),
            form_field=bool(spec.get("formField")),
            display_order=int(spec.get("displayOrder", -1)),
            created_at=stamp,
            updated_at=stamp,
            number_display_hint=spec.get("numberDisplayHint"),
        )
        portal.properties[type_name][name] = prop
        return prop

    def _groups(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        return json_response({"results": portal.groups[t.name]})

    def _create_group(self: HubSpotSimulator, request: Request, grant: Grant, object_type: str) -> Response:
        t, portal = self.object_type(object_type), self._portal_of(grant)
        spec = json_object(request)
        name, label = spec.get("name"), spec.get("label")
        if not isinstance(name, str) or not isinstance(label, str) or not _NAME.match(name):
            raise validation_error(
                "A property group needs a label and a name of lower-case letters, digits and underscores"
            )
        if any(g["name"] == name for g in portal.groups[t.name]):
            raise ApiError(409, f"Property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        group = {
            "name": name,
            "label": label,
            "displayOrder": int(spec.get("displayOrder", -1)),
            "archived": False,
        }
        portal.groups[t.name].append(group)
        return json_response(group, status=201)


def _association_spec(spec: Any) -> tuple[int, str]:
    if not isinstance(spec, dict) or "associationTypeId" not in spec:
        raise validation_error("An association type is {associationCategory, associationTypeId}")
    category = spec.get("associationCategory", "HUBSPOT_DEFINED")
    if category not in ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED", "WORK"):
        raise validation_error(f"{category} is not an association category")
    try:
        return int(spec["associationTypeId"]), str(category)
    except (TypeError, ValueError) as exc:
        raise validation_error("associationTypeId must be an integer") from exc


def _association_types_json(kinds: list[AssociationType]) -> list[dict[str, Any]]:
    return [
        {"category": k.category, "typeId": k.type_id, **({"label": k.label} if k.label else {})} for k in kinds
    ]


def _association_page(
    linked: list[tuple[str, list[AssociationType]]], offset: int, limit: int, with_from: str | None
) -> dict[str, Any]:
    page = linked[offset : offset + limit]
    items = [{"toObjectId": to_id, "associationTypes": _association_types_json(kinds)} for to_id, kinds in page]
    body: dict[str, Any] = {"from": {"id": with_from}, "to": items} if with_from is not None else {"results": items}
    if offset + limit < len(linked):
        body["paging"] = {"next": {"after": str(offset + limit)}}
    return body


def _check_attachments(portal: Portal, properties: dict[str, Any]) -> None:
    """A note's `hs_attachment_ids` must name files uploaded to the portal (semicolon-separated)."""
    value = properties.get("hs_attachment_ids")
    if value in (None, ""):
        return
    for file_id in str(value).split(";"):
        stored = portal.files.get(file_id.strip())
        if stored is None or stored.archived:
            raise validation_error(
                f"hs_attachment_ids names file {file_id.strip()!r}, which does not exist in this account",
                errors=[
                    {
                        "message": f"file {file_id.strip()} does not exist",
                        "code": "INVALID_OBJECT_ID",
                        "context": {"propertyName": ["hs_attachment_ids"]},
                    }
                ],
            )


def _options(given: Any, *, required: bool) -> list[dict[str, Any]]:
    if given in (None, []):
        if required:
            raise validation_error("An enumeration property needs options")
        return []
    if not isinstance(given, list):
        raise validation_error("options must be a list")
    options, seen = [], set()
    for i, option in enumerate(given):
        if (
            not isinstance(option, dict)
            or not isinstance(option.get("label"), str)
            or not isinstance(option.get("value"), str)
        ):
            raise validation_error("Each option needs a label and a value (strings)")
        if option["value"] in seen:
            raise validation_error(f"Option value {option['value']!r} is used twice")
        seen.add(option["value"])
        options.append(
            {
                "label": option["label"],
                "value": option["value"],
                "displayOrder": int(option.get("displayOrder", i)),
                "hidden": bool(option.get("hidden", False)),
                **({"description": option["description"]} if option.get("description") else {}),
            }
        )
    return options
