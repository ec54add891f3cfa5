"""Bringing a portal's hubnox properties to the current set, at install and on upgrade.

A portal installed before a property was added has no such property, and HubSpot refuses a write
to a property that does not exist, so every install must reach `APP_PROPERTIES_VERSION` before
anything writes the new properties. `ensure_app_properties` does it (safe to repeat: it reads the
definitions first and creates only what is missing); `upgrade_if_needed` does it once per portal
and version, remembered in the cursor `app_properties`, so the status sync can call it at the start
of every cycle for the price of one DynamoDB read.

Option lists: an admin may add options to hubnox's select properties (e.g. a status of their own
for a workflow). HubSpot's property PATCH replaces the whole option list, so an upgrade sends the
options the portal has, unchanged and in their order, followed by hubnox's missing ones; nothing an
admin added or relabelled is lost, and a list that already has every option is not written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from hubnox.hubspot import properties
from hubnox.observability import logger
from hubnox.sync.ports import Cursors

#: the cursor that remembers which property set a portal has
CURSOR = "app_properties"


class SchemaClient(Protocol):
    """The part of `HubSpotClient` that reads and writes property definitions."""

    def list_properties(self, object_type: str) -> list[dict[str, Any]]: ...

    def create_property(self, object_type: str, definition: Mapping[str, Any]) -> bool: ...

    def create_property_group(self, object_type: str, name: str, label: str,
                              display_order: int | None = None) -> bool: ...

    def update_property(self, object_type: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]: ...


def ensure_app_properties(client: SchemaClient) -> list[str]:
    """Create hubnox's property group and any missing property, and add missing select options.

    Answers what changed, as `"<object type>.<property>"` for a created property and
    `"<object type>.<property>:options"` for a widened option list; an empty list means the portal
    already had everything. Costs one read per object type plus one write per change (and one per
    group, which answers 409 when it exists).
    """
    changed: list[str] = []
    for object_type, definitions in properties.APP_PROPERTIES.items():
        client.create_property_group(object_type, properties.GROUP_NAME, properties.GROUP_LABEL)
        existing = {str(item.get("name")): item for item in client.list_properties(object_type)}
        for definition in definitions:
            name = str(definition["name"])
            current = existing.get(name)
            if current is None:
                if client.create_property(object_type, definition):  # False: made meanwhile (409)
                    changed.append(f"{object_type}.{name}")
                continue
            if current.get("type") != definition["type"]:
                # An admin's own property of that name and another type: hubnox leaves it alone.
                logger.warning("a hubnox property exists with another type",
                               extra={"object_type": object_type, "property": name,
                                      "type": current.get("type"), "expected": definition["type"]})
                continue
            options = merged_options(current.get("options") or [], definition.get("options") or [])
            if options is not None:
                client.update_property(object_type, name, {"options": options})
                changed.append(f"{object_type}.{name}:options")
    if changed:
        logger.info("hubnox properties added", extra={"changed": changed})
    return changed


def upgrade_if_needed(client: SchemaClient, cursors: Cursors, portal_id: str) -> bool:
    """Bring the portal to `APP_PROPERTIES_VERSION` unless its cursor says it is there; True if it ran.

    The version is stored only once every property exists, so a failure (HubSpot down, a scope
    missing) is tried again on the next call. A stored version above this code's (a rollback) is
    left alone.
    """
    if stored_version(cursors, portal_id) >= properties.APP_PROPERTIES_VERSION:
        return False
    ensure_app_properties(client)
    stamp_version(cursors, portal_id)
    logger.info("hubnox properties upgraded",
                extra={"portal_id": portal_id, "version": properties.APP_PROPERTIES_VERSION})
    return True


def stored_version(cursors: Cursors, portal_id: str) -> int:
    """The property set the portal is known to have; 0 when none was recorded (installs before
    version 2 recorded none)."""
    value = cursors.get(portal_id, CURSOR)
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def stamp_version(cursors: Cursors, portal_id: str) -> None:
    """Record that the portal has the current property set (after `ensure_app_properties`)."""
    cursors.put(portal_id, CURSOR, str(properties.APP_PROPERTIES_VERSION))


def merged_options(current: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]],
                   ) -> list[dict[str, Any]] | None:
    """The portal's options followed by the wanted ones it lacks, or None when it lacks none.

    The portal's options are kept as they are (label, order, hidden), so an admin's additions and
    relabellings survive; the added ones go after them in hubnox's order.
    """
    have = {str(option.get("value")) for option in current}
    missing = [option for option in wanted if str(option.get("value")) not in have]
    if not missing:
        return None
    kept = [_option(option, _order(option, i)) for i, option in enumerate(current)]
    start = max((option["displayOrder"] for option in kept), default=-1) + 1
    return kept + [_option(option, start + i) for i, option in enumerate(missing)]


def _order(option: Mapping[str, Any], fallback: int) -> int:
    order = option.get("displayOrder")
    return order if isinstance(order, int) and not isinstance(order, bool) and order >= 0 else fallback


def _option(option: Mapping[str, Any], order: int) -> dict[str, Any]:
    """An option in the shape the PATCH takes (OptionInput: label, value, displayOrder, hidden)."""
    shaped: dict[str, Any] = {
        "label": str(option.get("label", option.get("value", ""))),
        "value": str(option.get("value", "")),
        "displayOrder": order,
        "hidden": bool(option.get("hidden", False)),
    }
    if option.get("description"):
        shaped["description"] = str(option["description"])
    return shaped
