"""The workflow actions: HubSpot's execution becomes one recorded run and one queued job, answered with
BLOCK at once; bad input gets a clear 4xx, and nothing is lost or done twice."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubnox.errors import ConnectionBrokenError, TransientError
from hubnox.fortnox.models import PrintTemplate
from hubnox.jobs import Job
from hubnox.services.workflows import parse_execution
from sandbox.hubspot_signing import signature_headers
from tests.support.functions import (
    SAMPLE_HUBSPOT_SECRET,
    SAMPLE_PORTAL,
    SAMPLE_PUBLIC_BASE,
    World,
    http_event,
    world_on_moto,
)

CALLBACK = "ap-102670506-56776413549-7-0"


@pytest.fixture
def world(aws_clients):
    with world_on_moto(aws_clients) as world:
        world.install()
        world.connect_fortnox()
        yield world


def execution(object_type: str = "DEAL", object_id: Any = 904, inputs: dict[str, Any] | None = None,
              callback_id: str = CALLBACK, portal_id: Any = int(SAMPLE_PORTAL), **extra: Any) -> dict[str, Any]:
    """An execution request as HubSpot posts it (reference hubspot.md §5.2)."""
    body = {"callbackId": callback_id,
            "origin": {"portalId": portal_id, "actionDefinitionId": 10646377, "actionDefinitionVersion": 1},
            "context": {"source": "WORKFLOWS", "workflowId": 192814114},
            "object": {"objectId": object_id, "properties": {}, "objectType": object_type},
            "inputFields": {"documentType": "invoice"} if inputs is None else inputs}
    body.update(extra)
    return body


def post(world: World, path: str, body: dict[str, Any] | str) -> dict[str, Any]:
    """POST `body` to an action route, signed as the simulator signs (v2 and v3) at a moment of its own:
    HubSpot signs each delivery anew, and a signature acts once."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    world.clock.advance(1)
    headers = signature_headers(SAMPLE_HUBSPOT_SECRET, "POST", f"{SAMPLE_PUBLIC_BASE}{path}", text, world.clock.ms)
    event = http_event("workflow_action_create_document.json", body=text, headers=headers)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    response = world.invoke("workflow_action", event)
    response["json"] = json.loads(response["body"]) if response.get("body") else None
    return response


def create(world: World, body: dict[str, Any] | str) -> dict[str, Any]:
    return post(world, "/hubspot/actions/create-document", body)


def outputs(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 200, response["body"]
    return response["json"]["outputFields"]


def runs(world: World) -> list[Any]:
    return world.container.runs.list_recent(SAMPLE_PORTAL)


# -- create-document -----------------------------------------------------------------------------


def test_an_execution_is_answered_block_and_becomes_one_run_and_one_job(world):
    response = create(world, execution())

    assert outputs(response) == {"hs_execution_state": "BLOCK", "hs_expiration_duration": "P1W"}
    [run] = runs(world)
    assert (run.kind, run.trigger, run.status, run.object_type, run.object_id) == (
        "create_document", "workflow", "queued", "deal", "904")
    assert (run.document_type, run.trigger_key, run.callback_id) == ("invoice", "workflow:invoice", CALLBACK)
    [job] = world.jobs()
    # the job is the run's, carrying the turn admission booked as it was sent
    assert job.admit_at is not None and job.model_copy(update={"admit_at": None}) == Job.for_run(run)


def test_the_same_callback_delivered_twice_is_one_run_and_one_job(world):
    first = create(world, execution())
    again = create(world, execution())

    assert outputs(first)["hs_execution_state"] == outputs(again)["hs_execution_state"] == "BLOCK"
    assert len(runs(world)) == 1
    assert len(world.jobs()) == 1


def test_a_callback_id_claimed_in_one_portal_does_not_block_another_portals_execution(world):
    other = "7654321"
    world.install(other)
    world.connect_fortnox(other, tenant_id="7654321")

    mine = create(world, execution())
    theirs = create(world, execution(portal_id=int(other)))

    assert outputs(mine)["hs_execution_state"] == outputs(theirs)["hs_execution_state"] == "BLOCK"
    assert len(runs(world)) == 1 and len(world.container.runs.list_recent(other)) == 1
    assert sorted(job.portal_id for job in world.jobs()) == sorted([SAMPLE_PORTAL, other])


def test_two_executions_of_one_deal_are_two_runs(world):
    create(world, execution())
    create(world, execution(callback_id="ap-102670506-56776413549-8-0"))
    assert len(world.jobs()) == 2


@pytest.mark.parametrize(("choice", "saved_default", "expected"), [
    ("order", None, "order"),
    ("default", None, "invoice"),
    ("default", "order", "order"),
    ("", "order", "order"),
    ("Invoice", "order", "invoice"),
])
def test_the_document_type_is_the_one_asked_for_or_the_portals_default(world, choice, saved_default, expected):
    if saved_default:
        world.container.portal_settings.put(SAMPLE_PORTAL, {"default_document_type": saved_default}, 0)

    create(world, execution(inputs={"documentType": choice}))

    [job] = world.jobs()
    assert (job.document_type, job.trigger_key) == (expected, f"workflow:{expected}")


def test_older_deliveries_with_fields_instead_of_input_fields_are_read(world):
    body = execution()
    body["fields"] = body.pop("inputFields") | {"documentType": "order"}
    create(world, body)
    assert world.jobs()[0].document_type == "order"


def test_a_deal_that_does_not_exist_is_still_enqueued_for_the_worker_to_explain(world):
    # The id is HubSpot's; the worker reads the deal, fails the run and completes the callback saying so.
    response = create(world, execution(object_id=999_999_999))
    assert outputs(response)["hs_execution_state"] == "BLOCK"
    assert world.jobs()[0].object_id == "999999999"


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "says"), [
    ('{"callbackId": "ap-1", "origin": ', "not valid JSON"),
    ("[1, 2]", "not a JSON object"),
    ("", "not valid JSON"),
    (execution(callback_id=""), "callbackId"),
    ({k: v for k, v in execution().items() if k != "origin"}, "origin.portalId"),
    (execution(portal_id="abc"), "origin.portalId"),
    ({k: v for k, v in execution().items() if k != "object"}, "enrolled object"),
    (execution(object_id=None), "objectId"),
    (execution(object_id="12ab"), "objectId"),
    (execution(object_type=""), "objectType"),
    (execution(inputs={"documentType": "credit-note"}), "documentType must be invoice, order or default"),
    (execution(object_type="CONTACT"), "works in deal workflows"),
])
def test_a_malformed_or_incomplete_execution_gets_400_saying_why_and_nothing_is_recorded(world, body, says):
    response = create(world, body)

    assert response["statusCode"] == 400
    assert says in response["json"]["message"]
    assert runs(world) == [] and world.jobs() == []
    assert world.items("NONCE#") == [] and world.items("CALLBACKS") == []


def test_a_portal_where_hubnox_is_not_installed_gets_a_clear_404(world):
    response = create(world, execution(portal_id=555000111))

    assert response["statusCode"] == 404
    assert response["json"]["code"] == "PORTAL_NOT_INSTALLED"
    assert "not installed in HubSpot portal 555000111" in response["json"]["message"]
    assert "/oauth/hubspot/install" in response["json"]["hint"]
    assert world.jobs() == []


def test_an_uninstalled_portal_gets_the_same_404(world):
    world.container.connections.mark_uninstalled(SAMPLE_PORTAL)
    assert create(world, execution())["statusCode"] == 404


def test_a_portal_without_fortnox_fails_the_action_at_once_and_keeps_a_failed_run_to_replay(world):
    world.container.connections.delete_fortnox(SAMPLE_PORTAL)

    first = create(world, execution())
    again = create(world, execution())

    assert outputs(first) == outputs(again)
    assert outputs(first)["hs_execution_state"] == "FAIL_CONTINUE"
    assert outputs(first)["errorCode"] == "FORTNOX_NOT_CONNECTED"
    assert "Connect Fortnox" in outputs(first)["errorMessage"]
    [run] = runs(world)
    assert (run.status, run.error_code, run.callback_id, run.trigger_key) == (
        "failed", "FORTNOX_NOT_CONNECTED", CALLBACK, "workflow:invoice")
    assert world.jobs() == []


def test_when_the_queue_is_down_hubspot_is_told_to_retry_and_its_retry_enqueues(world, monkeypatch):
    queue = world.container.jobs

    def down(job, **_):
        raise TransientError("SQS is unavailable", code="SQS_DOWN")

    monkeypatch.setattr(queue, "send", down)
    refused = create(world, execution())
    monkeypatch.undo()
    retried = create(world, execution())

    assert refused["statusCode"] == 503
    assert outputs(retried)["hs_execution_state"] == "BLOCK"
    assert [job.callback_id for job in world.jobs()] == [CALLBACK]


def test_a_failed_enqueue_leaves_no_claim_behind(world, monkeypatch):
    def down(job, **_):
        raise TransientError("SQS is unavailable", code="SQS_DOWN")

    monkeypatch.setattr(world.container.jobs, "send", down)
    assert create(world, execution())["statusCode"] == 503
    assert world.items("CALLBACKS") == []


def test_a_delivery_that_arrives_while_the_first_is_still_starting_is_blocked_too(world, monkeypatch):
    queue = world.container.jobs
    send = queue.send
    answers: list[dict[str, Any]] = []

    def redelivered_meanwhile(job, **options):
        # HubSpot delivers the same execution again before the first delivery has queued its job.
        actions = world.container.workflow_actions
        answers.append(actions.create_document(parse_execution(json.dumps(execution()))))
        return send(job, **options)

    monkeypatch.setattr(queue, "send", redelivered_meanwhile)
    first = create(world, execution())

    assert outputs(first)["hs_execution_state"] == answers[0]["outputFields"]["hs_execution_state"] == "BLOCK"
    assert len(runs(world)) == 1
    assert len(world.jobs()) == 1


def test_an_unexpected_queue_failure_also_asks_hubspot_to_retry(world, monkeypatch):
    def broken(job, **_):
        raise RuntimeError("connection reset")

    monkeypatch.setattr(world.container.jobs, "send", broken)
    response = create(world, execution())
    assert response["statusCode"] == 503
    assert response["json"]["code"] == "ENQUEUE_FAILED"


# -- sync-customer --------------------------------------------------------------------------------


@pytest.mark.parametrize(("object_type", "expected"), [("COMPANY", "company"), ("CONTACT", "contact")])
def test_sync_customer_enqueues_a_customer_sync_for_the_company_or_contact(world, object_type, expected):
    response = post(world, "/hubspot/actions/sync-customer", execution(object_type=object_type, object_id=5101,
                                                                       inputs={}))
    assert outputs(response)["hs_execution_state"] == "BLOCK"
    [job] = world.jobs()
    assert (job.kind, job.trigger, job.object_type, job.object_id) == ("sync_customer", "workflow", expected, "5101")
    assert (job.callback_id, job.trigger_key, job.document_type) == (CALLBACK, None, None)


def test_sync_customer_refuses_deals(world):
    response = post(world, "/hubspot/actions/sync-customer", execution(object_type="DEAL"))
    assert response["statusCode"] == 400
    assert "company and contact workflows" in response["json"]["message"]


# -- options --------------------------------------------------------------------------------------


def options_request(field: str, inputs: dict[str, Any] | None = None, q: str = "") -> dict[str, Any]:
    return {"origin": {"portalId": int(SAMPLE_PORTAL), "actionDefinitionId": 10646377, "actionDefinitionVersion": 1},
            "objectTypeId": "0-3", "inputFieldName": field, "inputFields": inputs or {},
            "fetchOptions": {"q": q, "after": ""}}


class FakeFortnox:
    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.asked: list[str] = []

    def print_templates(self, document_type: str = "invoice") -> list[PrintTemplate]:
        self.asked.append(document_type)
        if self.failure:
            raise self.failure
        return [PrintTemplate(template="st", name="Standard"), PrintTemplate(template="eng", name="English invoice")]


def test_document_type_options_name_the_portals_default(world):
    world.container.portal_settings.put(SAMPLE_PORTAL, {"default_document_type": "order"}, 0)
    response = post(world, "/hubspot/actions/options", options_request("documentType"))

    assert response["statusCode"] == 200
    assert [(o["value"], o["label"]) for o in response["json"]["options"]] == [
        ("invoice", "Invoice"), ("order", "Order"), ("default", "Portal default (order)")]


def test_print_template_options_come_from_the_portals_fortnox_company(world, monkeypatch):
    fortnox = FakeFortnox()
    monkeypatch.setattr(world.container, "fortnox_client", lambda portal_id: fortnox)
    inputs = {"documentType": {"type": "STATIC_VALUE", "value": "order"}}

    response = post(world, "/hubspot/actions/options", options_request("printTemplate", inputs))

    assert [o["value"] for o in response["json"]["options"]] == ["default", "st", "eng"]
    assert response["json"]["searchable"] is True
    assert fortnox.asked == ["order"]


def test_print_template_options_are_filtered_by_what_the_user_types(world, monkeypatch):
    monkeypatch.setattr(world.container, "fortnox_client", lambda portal_id: FakeFortnox())
    response = post(world, "/hubspot/actions/options", options_request("printTemplate", q="ENGL"))
    assert [o["label"] for o in response["json"]["options"]] == ["English invoice"]


@pytest.mark.parametrize("failure", [TransientError("Fortnox is slow", code="TIMEOUT"),
                                     ConnectionBrokenError("Fortnox")])
def test_when_fortnox_cannot_list_templates_the_static_choice_is_offered(world, monkeypatch, failure):
    monkeypatch.setattr(world.container, "fortnox_client", lambda portal_id: FakeFortnox(failure))
    response = post(world, "/hubspot/actions/options", options_request("printTemplate"))
    assert response["statusCode"] == 200
    assert [o["value"] for o in response["json"]["options"]] == ["default"]


def test_options_for_a_field_hubnox_does_not_have_are_refused(world):
    response = post(world, "/hubspot/actions/options", options_request("colour"))
    assert response["statusCode"] == 400
    assert "documentType, printTemplate" in response["json"]["message"]
