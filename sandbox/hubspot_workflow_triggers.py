"""Workflow enrollment on a property value, as HubSpot's workflows enroll records (a mixin of
HubSpotSimulator and its registry).

A portal's admin builds a workflow whose enrollment trigger is "property X is equal to V", on
deals, companies or contacts, optionally with re-enrollment. hubnox never talks to workflows; it
writes properties (e.g. `fortnox_document_status` = `paid`) and HubSpot enrolls. These controls
stand in for that workflow so a test can show that what hubnox writes is usable in workflows:

    POST   /_sandbox/workflows/triggers   {portalId, objectType, property, value, reenroll?: false}
                                          → 201 {triggerId, ...}
    GET    /_sandbox/workflows/triggers/{id}/enrollments
                                          → {triggerId, ..., enrollments: [{objectId, at,
                                             changeSource, sourceId}]}
    DELETE /_sandbox/workflows/triggers/{id}   → 204 (the workflow is deleted: no more enrollments)

Every change to a record passes through `HubSpotSimulator.crm_changed` (the CRM API's create and
PATCH, batch writes, and the controls that stand in for a person), which is also what raises the
app's webhooks; it calls `enroll_on_change` here, so a trigger sees a change whatever its source.

Decisions on points HubSpot leaves to the workflow editor or does not document for the API:
- A record enrolls when a property changes *to* the value: written with another value before (or
  none), or created with it. Writing the value it already holds is no change and enrolls nothing,
  as HubSpot's `propertyChange` webhooks and property history see it.
- Without re-enrollment a record enrolls at most once per trigger, ever. With it, a record enrolls
  again each time the value left and came back (HubSpot's "re-enroll when the trigger is met again").
- Records that already hold the value when the trigger is made are not enrolled (HubSpot asks
  whether to enroll existing records when a workflow is turned on; the default is no).
- The value is compared with the text HubSpot stores (`"true"`, `"12.5"`, an enumeration option's
  internal value); numbers and booleans in the request are turned into that text.
- The property is not checked against the portal's definitions, so a test can set the trigger up
  before hubnox creates or upgrades its properties; a misspelt name simply never enrolls.
- Triggers belong to a portal: one portal's changes never enroll in another portal's trigger, and
  uninstalling an app leaves the portal's workflows as they are.
- `changeSource` of an enrollment is the change's: `INTEGRATION` (with the writing app's id in
  `sourceId`) for an app's API writes, `CRM_UI` (`userId:<id>`) for a person.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from sandbox.common import SandboxError, json_response, read_json
from sandbox.hubspot_schema import object_type
from sandbox.hubspot_store import CrmObject, Portal, coerce_value, iso_ms, set_properties

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSimulator

#: the object types a trigger may watch (those HubSpot's workflows enroll and hubnox writes)
TRIGGER_OBJECT_TYPES = ("deals", "companies", "contacts")
TRIGGERS = "/_sandbox/workflows/triggers"


@dataclass(frozen=True)
class Enrollment:
    """One record enrolled by a trigger, and the change that did it."""

    object_id: str
    at_ms: int
    change_source: str
    source_id: str

    def as_json(self) -> dict[str, Any]:
        return {"objectId": self.object_id, "at": iso_ms(self.at_ms), "changeSource": self.change_source,
                "sourceId": self.source_id}


@dataclass
class Trigger:
    """A workflow's enrollment trigger: `property` of an `object_type` record is equal to `value`."""

    id: str
    portal_id: int
    object_type: str
    property: str
    value: str
    reenroll: bool
    enrollments: list[Enrollment] = field(default_factory=list)

    def matches(self, portal_id: int, type_name: str, changes: dict[str, str | None]) -> bool:
        """Whether a change of one record sets this trigger's property to its value."""
        return (portal_id, type_name) == (self.portal_id, self.object_type) and changes.get(self.property) == self.value

    def enrolled(self, object_id: str) -> bool:
        return any(e.object_id == object_id for e in self.enrollments)

    def as_json(self) -> dict[str, Any]:
        return {"triggerId": self.id, "portalId": self.portal_id, "objectType": self.object_type,
                "property": self.property, "value": self.value, "reenroll": self.reenroll}


class WorkflowTriggers:
    """Every portal's triggers, by id. Guarded by the simulator's lock, like the portals."""

    def __init__(self) -> None:
        self.triggers: dict[str, Trigger] = {}
        self._ids = itertools.count(4_100_001)

    def add(self, portal_id: int, type_name: str, prop: str, value: str, reenroll: bool) -> Trigger:
        trigger = Trigger(str(next(self._ids)), portal_id, type_name, prop, value, reenroll)
        self.triggers[trigger.id] = trigger
        return trigger

    def get(self, trigger_id: str) -> Trigger:
        found = self.triggers.get(trigger_id)
        if found is None:
            raise SandboxError(404, f"workflow trigger {trigger_id} not found")
        return found

    def remove(self, trigger_id: str) -> None:
        self.get(trigger_id)
        del self.triggers[trigger_id]

    def observe(self, portal_id: int, type_name: str, object_id: str, changes: dict[str, str | None], *,
                change_source: str, source_id: str, at_ms: int) -> list[Trigger]:
        """Enroll the record in every trigger its change meets; answers those triggers."""
        enrolled = []
        for trigger in self.triggers.values():
            if not trigger.matches(portal_id, type_name, changes):
                continue
            if trigger.enrolled(object_id) and not trigger.reenroll:
                continue
            trigger.enrollments.append(Enrollment(object_id, at_ms, change_source, source_id))
            enrolled.append(trigger)
        return enrolled


def _trigger_spec(body: Any) -> tuple[Any, str, str, str, bool]:
    """The checked fields of a new trigger, or a 400 naming what is wrong."""
    if not isinstance(body, dict):
        raise SandboxError(400, "the body must be a JSON object {portalId, objectType, property, value, reenroll?}")
    portal_id = body.get("portalId")
    if isinstance(portal_id, bool) or not (isinstance(portal_id, int) or (isinstance(portal_id, str)
                                                                            and portal_id.isdigit())):
        raise SandboxError(400, "portalId is required and must be a portal id (a number)")
    kind = body.get("objectType")
    found = object_type(kind) if isinstance(kind, str) else None
    if found is None or found.name not in TRIGGER_OBJECT_TYPES:
        raise SandboxError(400, f"objectType must be one of {', '.join(TRIGGER_OBJECT_TYPES)} (got {kind!r})")
    prop = body.get("property")
    if not isinstance(prop, str) or not prop.strip():
        raise SandboxError(400, "property is required and must be a property's internal name")
    raw = body.get("value")
    value = coerce_value(raw) if isinstance(raw, str | int | float | bool) else None
    if not value:
        raise SandboxError(400, "value is required: the text, number or boolean the property must change to")
    reenroll = body.get("reenroll", False)
    if not isinstance(reenroll, bool):
        raise SandboxError(400, "reenroll must be a boolean")
    return portal_id, found.name, prop.strip(), value, reenroll


class WorkflowTriggerRoutes:
    """The trigger controls and the enrollment hook (a mixin of HubSpotSimulator)."""

    def _routes_workflow_triggers(self: HubSpotSimulator) -> None:
        control = (
            (TRIGGERS, ("POST",), self._control_add_trigger),
            (f"{TRIGGERS}/<trigger_id>/enrollments", ("GET",), self._control_trigger_enrollments),
            (f"{TRIGGERS}/<trigger_id>", ("DELETE",), self._control_delete_trigger),
        )
        for rule, methods, handler in control:
            self.add(rule, methods, handler, control=True)

    def enroll_on_change(self: HubSpotSimulator, portal: Portal, type_name: str, record: CrmObject, kind: str,
                         changes: dict[str, str | None] | None, change_source: str, source_id: str) -> None:
        """Enroll the record in the portal's triggers its change meets. A creation sets every
        property it has; a deletion enrolls nothing. Called by `crm_changed`, under the lock."""
        if kind == "creation":
            changes = set_properties(record)
        elif kind != "propertyChange" or not changes:
            return
        self.workflow_triggers.observe(portal.id, type_name, record.id, changes, change_source=change_source,
                                       source_id=source_id, at_ms=self.now_ms())

    def _control_add_trigger(self: HubSpotSimulator, request: Request) -> Response:
        portal_id, type_name, prop, value, reenroll = _trigger_spec(read_json(request))
        with self.lock:
            portal = self.portal(portal_id)
            trigger = self.workflow_triggers.add(portal.id, type_name, prop, value, reenroll)
            return json_response(trigger.as_json(), status=201)

    def _control_trigger_enrollments(self: HubSpotSimulator, request: Request, trigger_id: str) -> Response:
        with self.lock:
            trigger = self.workflow_triggers.get(trigger_id)
            return json_response({**trigger.as_json(), "enrollments": [e.as_json() for e in trigger.enrollments]})

    def _control_delete_trigger(self: HubSpotSimulator, request: Request, trigger_id: str) -> Response:
        with self.lock:
            self.workflow_triggers.remove(trigger_id)
        return Response(status=204)
