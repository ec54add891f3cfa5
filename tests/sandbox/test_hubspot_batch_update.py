"""Batch updates and property updates in the HubSpot simulator, held to what HubSpot does: up to
100 inputs, a 207 listing unknown ids while the rest are written, a bad value refusing the whole
batch before any write, and the same webhook events as one PATCH per record (changeSource
INTEGRATION). The property PATCH overwrites what it is given; options replace the list."""

from __future__ import annotations

import pytest

from tests.sandbox.test_hubspot_support import START, FakeClock, install, simulator
from tests.sandbox.test_hubspot_webhooks import app as webhook_app  # noqa: F401  (fixture)
from tests.sandbox.test_hubspot_webhooks import (
    flush,
    receiver,  # noqa: F401  (fixture)
)

BATCH = "/crm/objects/2026-03/deals/batch/update"


@pytest.fixture
def app():
    return install(simulator(FakeClock(START)))


def read(app, deal_id: str, *names: str) -> dict:
    response = app.call("GET", f"/crm/objects/2026-03/deals/{deal_id}", params={"properties": ",".join(names)})
    assert response.status_code == 200, response.text
    return response.json()["properties"]


def test_a_batch_update_writes_every_record_and_answers_them(app):
    deals = [app.create("deals", {"dealname": f"D{i}"})["id"] for i in range(3)]
    response = app.call("POST", BATCH, json={"inputs": [
        {"id": deal, "properties": {"description": f"paid {i}"}} for i, deal in enumerate(deals)]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "COMPLETE" and "errors" not in body
    assert sorted(item["id"] for item in body["results"]) == sorted(deals)
    assert [read(app, deal, "description")["description"] for deal in deals] == ["paid 0", "paid 1", "paid 2"]


def test_unknown_ids_answer_207_and_the_others_are_written(app):
    deal = app.create("deals", {"dealname": "D"})["id"]
    response = app.call("POST", BATCH, json={"inputs": [
        {"id": deal, "properties": {"description": "x"}}, {"id": "404404", "properties": {"description": "y"}}]})
    assert response.status_code == 207, response.text
    body = response.json()
    assert [item["id"] for item in body["results"]] == [deal]
    [error] = body["errors"]
    assert error["category"] == "OBJECT_NOT_FOUND" and error["context"]["ids"] == ["404404"]
    assert body["numErrors"] == 1
    assert read(app, deal, "description")["description"] == "x"


def test_a_bad_value_refuses_the_whole_batch_before_any_write(app):
    first, second = (app.create("deals", {"dealname": n})["id"] for n in ("A", "B"))
    response = app.call("POST", BATCH, json={"inputs": [
        {"id": first, "properties": {"description": "written?"}},
        {"id": second, "properties": {"no_such_property": "1"}}]})
    assert response.status_code == 400, response.text
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert read(app, first, "description")["description"] is None


@pytest.mark.parametrize("inputs, reason", [
    ([{"id": str(i), "properties": {}} for i in range(101)], "exceeds the limit of 100"),
    ([{"id": "1", "properties": {}}, {"id": "1", "properties": {}}], "Duplicate IDs"),
    ([{"id": "1"}], "needs an id and an object of properties"),
])
def test_refused_batches_say_why(app, inputs, reason):
    response = app.call("POST", BATCH, json={"inputs": inputs})
    assert response.status_code == 400
    assert reason in response.json()["message"]


def test_a_batch_update_fires_the_same_events_as_one_patch(webhook_app, receiver):  # noqa: F811
    deals = [webhook_app.create("deals", {"dealname": f"D{i}"})["id"] for i in range(2)]
    flush(webhook_app)
    receiver.requests.clear()
    response = webhook_app.call("POST", BATCH, json={"inputs": [
        {"id": deal, "properties": {"dealstage": "closedwon"}} for deal in deals]})
    assert response.status_code == 200, response.text
    flush(webhook_app)
    events = receiver.events()
    assert sorted(event["objectId"] for event in events) == sorted(int(deal) for deal in deals)
    for event in events:
        assert event["subscriptionType"] == "deal.propertyChange"
        assert (event["propertyName"], event["propertyValue"]) == ("dealstage", "closedwon")
        assert event["changeSource"] == "INTEGRATION"
    receiver.requests.clear()
    webhook_app.call("POST", BATCH, json={"inputs": [{"id": deals[0], "properties": {"dealstage": "closedwon"}}]})
    flush(webhook_app)
    assert receiver.events() == []  # no change, no event, as with a PATCH


def create_enum(app) -> None:
    response = app.call("POST", "/crm/properties/2026-03/deals", json={
        "name": "fortnox_state", "label": "State", "type": "enumeration", "fieldType": "select",
        "groupName": "dealinformation", "options": [{"label": "Draft", "value": "draft"}]})
    assert response.status_code == 201, response.text


def test_a_property_patch_replaces_the_options_and_keeps_what_it_is_not_given(app):
    create_enum(app)
    response = app.call("PATCH", "/crm/properties/2026-03/deals/fortnox_state", json={
        "options": [{"label": "Draft", "value": "draft"}, {"label": "Paid", "value": "paid"}]})
    assert response.status_code == 200, response.text
    body = app.call("GET", "/crm/properties/2026-03/deals/fortnox_state").json()
    assert [o["value"] for o in body["options"]] == ["draft", "paid"]
    assert (body["label"], body["type"]) == ("State", "enumeration")
    deal = app.create("deals", {"dealname": "D", "fortnox_state": "paid"})["id"]
    assert read(app, deal, "fortnox_state")["fortnox_state"] == "paid"


@pytest.mark.parametrize("path, body, status", [
    ("/crm/properties/2026-03/deals/no_such_property", {"label": "x"}, 404),
    ("/crm/properties/2026-03/deals/fortnox_state", {"options": []}, 400),
    ("/crm/properties/2026-03/deals/fortnox_state", {"groupName": "no_such_group"}, 400),
    ("/crm/properties/2026-03/deals/dealstage", {"type": "string", "fieldType": "text"}, 400),
])
def test_refused_property_patches(app, path, body, status):
    create_enum(app)
    assert app.call("PATCH", path, json=body).status_code == status
