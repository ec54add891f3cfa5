"""POST /hubspot/webhooks on moto: only HubSpot's v3-signed batches act, a body that is no array of
events is a 400 saying why, both forms of a deal stage change enqueue one run per deal and rule, and
duplicates, unknown and uninstalled portals, other stages and other events do nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from hubnox.errors import BadRequestError
from hubnox.services.webhooks import parse_events
from hubnox.sync.poller import StageRule
from hubnox.sync.triggers import LEFT_TO_POLLER, NOT_INSTALLED, STAGE_NOT_A_TRIGGER
from tests.support.clock import FakeClock
from tests.support.functions import (
    SAMPLE_HUBSPOT_SECRET,
    SAMPLE_PORTAL,
    START,
    World,
    request_event,
    sample_event,
    signed_by_hubspot,
    world_on_moto,
)
from tests.unit.test_settings_page import answer, request

UNKNOWN_PORTAL = "777"
RULES = [StageRule("closedwon", "invoice", "default"), StageRule("1234567", "order", "8812")]


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients, clock=FakeClock(START)) as world:
        world.install()
        world.container.stage_rules = lambda portal_id: list(RULES)  # type: ignore[method-assign]
        yield world


def stage_change(deal_id: int, stage: str = "closedwon", *, event_id: int | None = None,
                 portal: str = SAMPLE_PORTAL, generic: bool = False, occurred_ms: int = 0) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": event_id or 5000 + deal_id, "subscriptionId": 3044231, "portalId": int(portal),
        "appId": 10646377, "occurredAt": occurred_ms or int(START * 1000) - 1500, "attemptNumber": 0,
        "objectId": deal_id, "propertyName": "dealstage", "propertyValue": stage, "changeSource": "CRM_UI",
        "subscriptionType": "deal.propertyChange",
    }
    if generic:
        event.update(subscriptionType="object.propertyChange", objectTypeId="0-3")
    return event


def post(world: World, body: Any, *, sign: bool = True) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    event = request_event("webhooks_deal_stage.json", "POST", "/hubspot/webhooks", body=text)
    if sign:
        signed_by_hubspot(event, world.clock.ms)
    return world.invoke("webhooks", event)


def decisions(world: World, deal_id: str) -> list[str]:
    return [record["decision"] for record in world.container.trigger_log.for_deal(SAMPLE_PORTAL, deal_id).records]


# -- who may post -----------------------------------------------------------------------------------


def test_the_sample_event_passes_at_its_own_moment(world):
    response = world.invoke("webhooks", sample_event("webhooks_deal_stage.json"))

    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"received": 2, "enqueued": 2, "ignored": 0}


@pytest.mark.parametrize("tamper", ["unsigned", "wrong", "stale", "v1 only"])
def test_a_batch_not_signed_by_hubspot_with_v3_is_refused_and_does_nothing(world, tamper):
    event = request_event("webhooks_deal_stage.json", "POST", "/hubspot/webhooks",
                          body=json.dumps([stage_change(904)]))
    if tamper == "wrong":
        signed_by_hubspot(event, world.clock.ms, secret="someone-elses-secret")
    elif tamper == "stale":
        signed_by_hubspot(event, world.clock.ms - 6 * 60 * 1000)
    elif tamper == "v1 only":  # HubSpot's older webhook signature, right, but without v3 beside it
        digest = hashlib.sha256((SAMPLE_HUBSPOT_SECRET + event["body"]).encode()).hexdigest()
        event["headers"].update({"x-hubspot-signature": digest, "x-hubspot-signature-version": "v1"})

    response = world.invoke("webhooks", event)

    assert response["statusCode"] == 401
    assert world.jobs() == []


@pytest.mark.parametrize(("body", "reason"), [
    ("", "not JSON"),
    ("{not json", "not JSON"),
    ('{"eventId": 1}', "JSON array"),
    ("[1, 2]", "Event 0 is not an object"),
    ('[{"eventId": 1, "subscriptionType": "deal.propertyChange", "occurredAt": 1}]', "Event 0 has no portalId"),
    ('[{"portalId": 1, "subscriptionType": "deal.propertyChange", "occurredAt": 1}]', "Event 0 has no eventId"),
    ('[{"eventId": 1, "portalId": 1, "occurredAt": 1}]', "Event 0 has no subscriptionType"),
    ('[{"eventId": 1, "portalId": 1, "subscriptionType": "deal.creation"}]', "Event 0 has no occurredAt"),
])
def test_a_body_that_is_no_array_of_events_is_a_400_saying_why(world, body, reason):
    response = post(world, body)

    assert response["statusCode"] == 400
    assert reason in json.loads(response["body"])["message"]
    assert world.jobs() == []


# -- what acts ---------------------------------------------------------------------------------------


def test_both_forms_of_a_stage_change_enqueue_one_run_per_deal_and_rule(world):
    response = post(world, [stage_change(904), stage_change(905, generic=True), stage_change(906, "1234567")])

    assert response["statusCode"] == 200
    jobs = world.jobs()
    assert sorted((job.object_id, job.trigger_key) for job in jobs) == [
        ("904", "stage:closedwon:invoice"), ("905", "stage:closedwon:invoice"), ("906", "stage:1234567:order")]
    run = world.container.runs.get(SAMPLE_PORTAL, jobs[0].run_id)
    assert run is not None and run.trigger == "webhook"
    assert decisions(world, "904") == ["enqueued"]


def test_a_full_batch_is_decided_deal_by_deal_at_once_and_every_deal_gets_its_run(world):
    batch = [stage_change(1000 + index, generic=bool(index % 2)) for index in range(40)]
    batch += [stage_change(1000, event_id=99)]  # a second event for a deal already in the batch

    response = post(world, batch)

    assert json.loads(response["body"]) == {"received": 41, "enqueued": 40, "ignored": 0}
    assert sorted(int(job.object_id or 0) for job in world.jobs()) == list(range(1000, 1040))


def test_duplicates_within_a_batch_and_hubspots_redelivery_make_one_run(world):
    batch = [stage_change(904), stage_change(904)]  # the same eventId twice
    assert json.loads(post(world, batch)["body"]) == {"received": 1, "enqueued": 1, "ignored": 0}
    world.clock.advance(30)
    again = post(world, [{**stage_change(904), "attemptNumber": 1}])

    assert again["statusCode"] == 200
    assert len(world.jobs()) == 1
    assert decisions(world, "904") == ["run in progress", "enqueued"]


def test_an_unknown_portal_is_acknowledged_and_ignored(world):
    response = post(world, [stage_change(904, portal=UNKNOWN_PORTAL)])

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["ignored"] == 1
    assert world.jobs() == []
    assert world.container.trigger_log.for_deal(UNKNOWN_PORTAL, "904").records == []


def test_an_uninstalled_portal_is_acknowledged_and_its_decision_recorded(world):
    world.container.connections.mark_uninstalled(SAMPLE_PORTAL)

    assert post(world, [stage_change(904)])["statusCode"] == 200
    assert world.jobs() == []
    assert decisions(world, "904") == [NOT_INSTALLED]


def test_a_stage_that_is_no_trigger_is_recorded_and_other_events_are_not(world):
    other_property = {**stage_change(907), "propertyName": "amount", "propertyValue": "100"}
    creation = {**stage_change(908), "subscriptionType": "deal.creation"}
    contact = {**stage_change(909), "subscriptionType": "contact.propertyChange"}
    response = post(world, [stage_change(904, "appointmentscheduled"), other_property, creation, contact])

    assert json.loads(response["body"]) == {"received": 4, "enqueued": 0, "ignored": 4}
    assert world.jobs() == []
    assert decisions(world, "904") == [STAGE_NOT_A_TRIGGER]
    assert [decisions(world, deal) for deal in ("907", "908", "909")] == [[], [], []]


def test_a_named_stage_under_a_rule_for_another_pipeline_is_left_to_the_poller(world):
    world.container.stage_rules = lambda portal_id: [StageRule("closedwon", "invoice", "8812")]  # type: ignore[method-assign]
    vars(world.container).pop("webhooks", None)

    post(world, [stage_change(904)])

    assert world.jobs() == []
    assert decisions(world, "904") == [LEFT_TO_POLLER]


def test_the_app_uninstall_event_marks_the_hubspot_connection_uninstalled(world):
    uninstall = {"eventId": 77, "portalId": int(SAMPLE_PORTAL), "occurredAt": int(START * 1000),
                 "subscriptionType": "APP_LIFECYCLE_EVENT", "eventTypeId": "4-1916193", "appId": 10646377}

    assert post(world, [uninstall])["statusCode"] == 200
    assert world.container.connections.hubspot_status(SAMPLE_PORTAL) == "uninstalled"
    assert SAMPLE_PORTAL not in world.container.connections.list_portals()


# -- parsing ------------------------------------------------------------------------------------------


def test_parsing_reads_both_subscription_forms_alike():
    classic, generic = parse_events(json.dumps([stage_change(904), stage_change(905, generic=True)]))

    assert classic.is_stage_change and generic.is_stage_change
    assert (generic.object_type_id, generic.object_id, generic.property_value) == ("0-3", "905", "closedwon")
    contact = parse_events(json.dumps([{**stage_change(906, generic=True), "objectTypeId": "0-1"}]))[0]
    assert not contact.is_stage_change


def test_parsing_refuses_batches_far_beyond_hubspots():
    with pytest.raises(BadRequestError, match="at most"):
        parse_events(json.dumps([stage_change(index + 1) for index in range(1001)]))


# -- the sync log's "why did this deal (not) trigger?" ------------------------------------------------


def test_the_settings_api_explains_a_deal_from_the_trigger_log(world):
    post(world, [stage_change(904, "appointmentscheduled", event_id=1)])
    world.clock.advance(60)
    post(world, [stage_change(904, event_id=2, occurred_ms=world.clock.ms - 500)])

    status, body = answer(request(world, "GET", "/settings/api/triggers", query="deal=904"))

    assert status == 200 and body["dealId"] == "904" and body["nextCursor"] is None
    assert [(row["source"], row["decision"]) for row in body["decisions"]] == [
        ("webhook", "enqueued"), ("webhook", STAGE_NOT_A_TRIGGER)]
    assert body["decisions"][0]["runId"] == world.jobs()[0].run_id


@pytest.mark.parametrize("query", ["", "deal=abc", "deal=904&cursor=nope", "deal=904&status=failed"])
def test_the_settings_api_says_what_is_wrong_with_a_trigger_query(world, query):
    status, body = answer(request(world, "GET", "/settings/api/triggers", query=query))

    assert status == 400 and body["message"]


def test_the_settings_api_needs_a_settings_session(world):
    response = world.invoke("settings", request_event("settings_log.json", "GET", "/settings/api/triggers"))

    assert response["statusCode"] in (401, 403)
