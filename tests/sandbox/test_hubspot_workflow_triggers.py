"""Workflows enrolling records on a property value in the HubSpot simulator: a record enrolls when
a property changes to the trigger's value, whichever way it was written (an app's PATCH, a person
in HubSpot, a record created with it), once unless re-enrollment is on, and only in its own portal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox import admin
from tests.sandbox.test_hubspot_support import START, FakeClock, Installed, install, simulator

TRIGGERS = "/_sandbox/workflows/triggers"
STATUSES = ("draft", "booked", "sent", "paid", "cancelled")


def _status_property(app: Installed) -> None:
    """hubnox's deal status property, created through the properties API as its install does."""
    response = app.call("POST", "/crm/properties/2026-03/deals", json={
        "groupName": "dealinformation", "name": "fortnox_document_status", "label": "Fortnox document status",
        "type": "enumeration", "fieldType": "select",
        "options": [{"label": s.title(), "value": s} for s in STATUSES]})
    assert response.status_code == 201, response.text


@pytest.fixture
def app() -> Installed:
    installed = install(simulator(FakeClock(START)))
    _status_property(installed)
    return installed


def add_trigger(app: Installed, **overrides: Any) -> str:
    body = {"portalId": app.portal_id, "objectType": "deals", "property": "fortnox_document_status",
            "value": "paid", **overrides}
    response = app.client.post(TRIGGERS, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["triggerId"])


def enrollments(app: Installed, trigger_id: str) -> list[dict[str, Any]]:
    response = app.client.get(f"{TRIGGERS}/{trigger_id}/enrollments")
    assert response.status_code == 200, response.text
    return list(response.json()["enrollments"])


def set_status(app: Installed, deal_id: str, status: str) -> None:
    """The app (hubnox) writes the deal's status through the CRM API."""
    response = app.call("PATCH", f"/crm/objects/2026-03/deals/{deal_id}",
                        json={"properties": {"fortnox_document_status": status}})
    assert response.status_code == 200, response.text


def person_edits(app: Installed, deal_id: str, properties: dict[str, str]) -> None:
    """A person edits the deal in HubSpot (the control that moves deals)."""
    response = app.client.patch(f"/_sandbox/portals/{app.portal_id}/objects/deals/{deal_id}",
                                json={"properties": properties})
    assert response.status_code == 200, response.text


def test_a_deal_enrolls_when_the_app_sets_the_status_to_paid(app):
    trigger = add_trigger(app)
    deal = app.create("deals", {"dealname": "Order", "fortnox_document_status": "sent"})["id"]
    other = app.create("deals", {"dealname": "Other", "fortnox_document_status": "sent"})["id"]
    assert enrollments(app, trigger) == []
    set_status(app, deal, "booked")
    assert enrollments(app, trigger) == []
    set_status(app, deal, "paid")
    [enrolled] = enrollments(app, trigger)
    assert enrolled["objectId"] == deal and enrolled["objectId"] != other
    assert enrolled["changeSource"] == "INTEGRATION"
    assert enrolled["sourceId"] == str(app.sim.access_tokens[app.access_token].app_id)
    assert enrolled["at"].startswith("2026-03-02T08:00")


def test_a_person_moving_a_deal_enrolls_it_as_crm_ui(app):
    trigger = add_trigger(app, property="dealstage", value="closedwon")
    deal = app.create("deals", {"dealname": "Order"})["id"]
    person_edits(app, deal, {"dealname": "Renamed"})
    assert enrollments(app, trigger) == []
    person_edits(app, deal, {"dealstage": "closedwon"})
    [enrolled] = enrollments(app, trigger)
    assert (enrolled["objectId"], enrolled["changeSource"]) == (deal, "CRM_UI")
    assert enrolled["sourceId"] == f"userId:{app.sim.portals[app.portal_id].user_id}"


def test_a_record_created_with_the_value_enrolls(app):
    deals = add_trigger(app)
    companies = add_trigger(app, objectType="companies", property="city", value="Lund")
    deal = app.create("deals", {"dealname": "Paid at once", "fortnox_document_status": "paid"})["id"]
    created = app.client.post(f"/_sandbox/portals/{app.portal_id}/objects/companies",
                              json={"properties": {"name": "Acme", "city": "Lund"}})
    assert created.status_code == 201, created.text
    assert [e["objectId"] for e in enrollments(app, deals)] == [deal]
    assert [e["objectId"] for e in enrollments(app, companies)] == [created.json()["id"]]


def test_writing_the_value_a_record_already_holds_does_not_enroll_it(app):
    deal = app.create("deals", {"dealname": "Order", "fortnox_document_status": "paid"})["id"]
    trigger = add_trigger(app, reenroll=True)  # made after the deal was paid: existing records stay out
    set_status(app, deal, "paid")
    person_edits(app, deal, {"fortnox_document_status": "paid", "dealname": "Renamed"})
    assert enrollments(app, trigger) == []


def test_without_reenrollment_a_record_enrolls_once(app):
    trigger = add_trigger(app)
    deal = app.create("deals", {"dealname": "Order", "fortnox_document_status": "sent"})["id"]
    for status in ("paid", "sent", "paid", "booked", "paid"):
        set_status(app, deal, status)
    assert [e["objectId"] for e in enrollments(app, trigger)] == [deal]


def test_with_reenrollment_a_record_enrolls_each_time_the_value_comes_back(app):
    trigger = add_trigger(app, reenroll=True)
    deal = app.create("deals", {"dealname": "Order", "fortnox_document_status": "sent"})["id"]
    set_status(app, deal, "paid")
    set_status(app, deal, "paid")  # no change: no second enrollment
    assert len(enrollments(app, trigger)) == 1
    set_status(app, deal, "sent")
    person_edits(app, deal, {"fortnox_document_status": "paid"})
    assert [(e["objectId"], e["changeSource"]) for e in enrollments(app, trigger)] == [
        (deal, "INTEGRATION"), (deal, "CRM_UI")]


def test_one_portals_trigger_never_sees_another_portals_records(app):
    other = install(app.sim, client=app.client)
    assert other.portal_id != app.portal_id
    _status_property(other)
    mine, theirs = add_trigger(app), add_trigger(other)
    deal = other.create("deals", {"dealname": "Elsewhere", "fortnox_document_status": "sent"})["id"]
    set_status(other, deal, "paid")
    assert enrollments(app, mine) == []
    assert [e["objectId"] for e in enrollments(other, theirs)] == [deal]


def test_a_trigger_on_companies_ignores_deals_with_the_same_property(app):
    trigger = add_trigger(app, objectType="company", property="dealname", value="Acme")
    app.create("deals", {"dealname": "Acme"})
    response = app.client.get(f"{TRIGGERS}/{trigger}/enrollments")
    assert response.json()["objectType"] == "companies"
    assert response.json()["enrollments"] == []


def test_a_deleted_trigger_enrolls_no_more_and_unknown_triggers_are_404(app):
    trigger = add_trigger(app)
    assert app.client.delete(f"{TRIGGERS}/{trigger}").status_code == 204
    deal = app.create("deals", {"dealname": "Order", "fortnox_document_status": "sent"})["id"]
    set_status(app, deal, "paid")
    for response in (app.client.get(f"{TRIGGERS}/{trigger}/enrollments"), app.client.delete(f"{TRIGGERS}/{trigger}"),
                     app.client.get(f"{TRIGGERS}/999/enrollments")):
        assert response.status_code == 404
        assert "workflow trigger" in response.json()["message"]


def test_a_trigger_for_an_unknown_portal_is_404(app):
    response = app.client.post(TRIGGERS, json={"portalId": 999, "objectType": "deals", "property": "dealstage",
                                               "value": "closedwon"})
    assert response.status_code == 404
    assert "portal 999" in response.json()["message"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"portalId": None}, "portalId"),
    ({"portalId": "abc"}, "portalId"),
    ({"objectType": "line_items"}, "objectType"),
    ({"objectType": "nonsense"}, "objectType"),
    ({"property": ""}, "property"),
    ({"property": 5}, "property"),
    ({"value": ""}, "value"),
    ({"value": None}, "value"),
    ({"value": ["paid"]}, "value"),
    ({"reenroll": "yes"}, "reenroll"),
])
def test_a_bad_trigger_is_a_400_naming_the_field(app, change, reason):
    body = {"portalId": app.portal_id, "objectType": "deals", "property": "fortnox_document_status",
            "value": "paid", **change}
    response = app.client.post(TRIGGERS, json=body)
    assert response.status_code == 400
    assert reason in response.json()["message"]


def test_a_body_that_is_not_an_object_is_a_400(app):
    for content in (b"[1, 2]", b"{not json"):
        response = app.client.post(TRIGGERS, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.json()["message"]


def test_numbers_and_booleans_compare_as_the_text_hubspot_stores(app):
    trigger = add_trigger(app, objectType="deals", property="amount", value=1500)
    deal = app.create("deals", {"dealname": "Order", "amount": "100"})["id"]
    app.call("PATCH", f"/crm/objects/2026-03/deals/{deal}", json={"properties": {"amount": 1500}})
    assert [e["objectId"] for e in enrollments(app, trigger)] == [deal]
    created = app.client.post(TRIGGERS, json={"portalId": app.portal_id, "objectType": "deals",
                                              "property": "x", "value": True})
    assert created.json()["value"] == "true"


def test_the_admin_helpers_drive_the_controls(app, monkeypatch):
    """The helpers send what the controls expect (through the simulator, no server needed)."""

    def request(method: str, url: str, json: Any = None, timeout: float = 0) -> httpx.Response:
        return app.client.request(method, url.removeprefix("http://hubspot.test"), json=json)

    def get(url: str, timeout: float = 0) -> httpx.Response:
        return app.client.get(url.removeprefix("http://hubspot.test"))

    monkeypatch.setattr(admin.httpx, "request", request)
    monkeypatch.setattr(admin.httpx, "get", get)
    url = "http://hubspot.test"
    trigger = admin.add_workflow_trigger(url, str(app.portal_id), "deals", "fortnox_document_status", "paid")
    again = admin.add_workflow_trigger(url, app.portal_id, "deals", "fortnox_document_status", "paid", reenroll=True)
    deal = app.create("deals", {"dealname": "Order", "fortnox_document_status": "sent"})["id"]
    for status in ("paid", "sent", "paid"):
        set_status(app, deal, status)
    assert [e["objectId"] for e in admin.workflow_enrollments(url, trigger)] == [deal]
    assert [e["objectId"] for e in admin.workflow_enrollments(url, again)] == [deal, deal]
    with pytest.raises(admin.AdminError, match="404"):
        admin.workflow_enrollments(url, "404404")
    with pytest.raises(admin.AdminError, match="objectType"):
        admin.add_workflow_trigger(url, app.portal_id, "tickets", "subject", "x")
