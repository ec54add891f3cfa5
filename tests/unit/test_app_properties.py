"""hubnox's properties at install and upgrade: every property of the current set is created once,
a repeat writes nothing, the document-status options grow to the nine states while keeping the
options an admin added, and the version cursor makes the upgrade run once per portal."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from hubnox.errors import TransientError
from hubnox.hubspot import properties
from hubnox.hubspot.app_properties import CURSOR, ensure_app_properties, merged_options, upgrade_if_needed
from tests.support.fakes import Cursors

PORTAL = "4242"
NINE_STATES = ["draft", "booked", "sent", "partly_paid", "overdue", "paid", "credited", "cancelled", "invoiced"]


class Schema:
    """A portal's property definitions as HubSpot's properties API keeps them; every call kept."""

    def __init__(self, definitions: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        self.definitions = {kind: {d["name"]: copy.deepcopy(d) for d in items}
                            for kind, items in (definitions or {}).items()}
        self.groups: set[tuple[str, str]] = set()
        self.calls: list[tuple[str, ...]] = []
        self.failure: Exception | None = None

    def list_properties(self, object_type: str) -> list[dict[str, Any]]:
        self.calls.append(("list", object_type))
        if self.failure is not None:
            raise self.failure
        return [copy.deepcopy(d) for d in self.definitions.get(object_type, {}).values()]

    def create_property(self, object_type: str, definition: Mapping[str, Any]) -> bool:
        self.calls.append(("create", object_type, str(definition["name"])))
        existing = self.definitions.setdefault(object_type, {})
        if definition["name"] in existing:
            return False
        existing[str(definition["name"])] = copy.deepcopy(dict(definition))
        return True

    def create_property_group(self, object_type: str, name: str, label: str, display_order: int | None = None) -> bool:
        self.calls.append(("group", object_type))
        new = (object_type, name) not in self.groups
        self.groups.add((object_type, name))
        return new

    def update_property(self, object_type: str, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("update", object_type, name))
        self.definitions[object_type][name].update(copy.deepcopy(dict(changes)))
        return self.definitions[object_type][name]

    def writes(self) -> list[tuple[str, ...]]:
        return [call for call in self.calls if call[0] in ("create", "update")]


def version_one() -> dict[str, list[dict[str, Any]]]:
    """The properties of an install made before version 2: the five statuses, no status properties."""
    deals = [dict(d) for d in properties.DEAL_PROPERTIES]
    for d in deals:
        if d["name"] == properties.DOCUMENT_STATUS:
            d["options"] = [{"value": v, "label": v.title(), "displayOrder": i, "hidden": False}
                            for i, v in enumerate(["draft", "booked", "sent", "paid", "cancelled"])]
    return {"deals": deals, "companies": [properties.CUSTOMER_PROPERTY, properties.ORGANISATION_NUMBER_PROPERTY],
            "contacts": [properties.CUSTOMER_PROPERTY]}


def status_options(schema: Schema) -> list[dict[str, Any]]:
    return schema.definitions["deals"][properties.DOCUMENT_STATUS]["options"]


def test_a_new_portal_gets_every_property_and_a_repeat_writes_nothing():
    schema = Schema()
    changed = ensure_app_properties(schema)
    expected = {f"{kind}.{d['name']}" for kind, ds in properties.APP_PROPERTIES.items() for d in ds}
    assert set(changed) == expected
    assert [o["value"] for o in status_options(schema)] == NINE_STATES
    schema.calls.clear()
    assert ensure_app_properties(schema) == []
    assert schema.writes() == []
    assert [c for c in schema.calls if c[0] == "list"] == [("list", k) for k in ("deals", "companies", "contacts")]


def test_the_status_properties_and_aggregates_have_the_final_names_and_types():
    deal = {d["name"]: d for d in properties.STATUS_DEAL_PROPERTIES}
    assert {name: (d["type"], d["fieldType"]) for name, d in deal.items()} == {
        "fortnox_document_total": ("number", "number"), "fortnox_document_balance": ("number", "number"),
        "fortnox_document_currency": ("string", "text"), "fortnox_credit_invoice_number": ("string", "text"),
        "fortnox_document_due_date": ("date", "date"), "fortnox_document_final_pay_date": ("date", "date"),
        "fortnox_status_synced_at": ("datetime", "date")}
    customer = {d["name"]: d["type"] for d in properties.CUSTOMER_AGGREGATE_PROPERTIES}
    assert customer == {"fortnox_outstanding_balance": "number", "fortnox_overdue_amount": "number",
                        "fortnox_unpaid_invoices": "number", "fortnox_overdue_invoices": "number",
                        "fortnox_last_payment_date": "date"}
    everything = (*deal.values(), *properties.CUSTOMER_AGGREGATE_PROPERTIES)
    assert all(d["groupName"] == properties.GROUP_NAME for d in everything)
    assert properties.APP_PROPERTIES_VERSION == 2


def test_an_upgrade_adds_the_new_properties_and_widens_the_status_keeping_an_admins_option():
    before = version_one()
    status = next(d for d in before["deals"] if d["name"] == properties.DOCUMENT_STATUS)
    status["options"].append({"value": "disputed", "label": "Disputed (ours)", "displayOrder": 5, "hidden": False})
    status["options"][0]["label"] = "Utkast"  # an admin's relabelling
    schema = Schema(before)
    changed = ensure_app_properties(schema)
    assert "deals.fortnox_document_status:options" in changed
    assert "deals.fortnox_document_balance" in changed and "contacts.fortnox_overdue_amount" in changed
    assert "deals.fortnox_document_number" not in changed  # it was there
    options = status_options(schema)
    assert [o["value"] for o in options] == [
        "draft", "booked", "sent", "paid", "cancelled", "disputed", "partly_paid", "overdue", "credited", "invoiced"]
    assert options[0]["label"] == "Utkast" and options[5]["label"] == "Disputed (ours)"
    assert [o["displayOrder"] for o in options] == list(range(10))
    assert ensure_app_properties(schema) == []  # the merged list is complete: no second PATCH


def test_merged_options_is_none_when_nothing_is_missing():
    wanted = [{"value": "a", "label": "A"}]
    assert merged_options([{"value": "a", "label": "Mine", "displayOrder": 3}, {"value": "b", "label": "B"}],
                          wanted) is None


def test_a_property_an_admin_made_with_another_type_is_left_alone():
    before = version_one()
    before["deals"].append({"name": properties.DOCUMENT_BALANCE, "label": "Balance", "type": "string",
                            "fieldType": "text", "groupName": "dealinformation"})
    schema = Schema(before)
    changed = ensure_app_properties(schema)
    assert "deals.fortnox_document_balance" not in changed
    assert schema.definitions["deals"][properties.DOCUMENT_BALANCE]["type"] == "string"


def test_the_upgrade_runs_once_per_portal_and_version():
    schema, cursors = Schema(version_one()), Cursors()
    assert upgrade_if_needed(schema, cursors, PORTAL) is True
    assert cursors.get(PORTAL, CURSOR) == "2"
    assert "deals.fortnox_status_synced_at" in {f"deals.{n}" for n in schema.definitions["deals"]}
    schema.calls.clear()
    assert upgrade_if_needed(schema, cursors, PORTAL) is False
    assert schema.calls == []  # a cursor read only
    assert upgrade_if_needed(schema, cursors, "other-portal") is True


def test_a_failed_upgrade_is_tried_again_and_a_newer_version_is_left_alone():
    schema, cursors = Schema(version_one()), Cursors()
    schema.failure = TransientError("HubSpot is busy")
    with pytest.raises(TransientError):
        upgrade_if_needed(schema, cursors, PORTAL)
    assert cursors.get(PORTAL, CURSOR) is None
    schema.failure = None
    assert upgrade_if_needed(schema, cursors, PORTAL) is True
    cursors.put(PORTAL, CURSOR, "3")  # a later version ran, then this code came back
    assert upgrade_if_needed(schema, cursors, PORTAL) is False
    cursors.put(PORTAL, CURSOR, "garbled")
    assert upgrade_if_needed(schema, cursors, PORTAL) is True
