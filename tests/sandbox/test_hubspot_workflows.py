"""HubSpot's side of a custom workflow action: the signed execution request, how HubSpot reads
the app's answer (BLOCK, SUCCESS, 4xx, 429, 5xx, timeouts), and the callback that waits for
completion through the callbacks API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hubspot.utils.signature import Signature
from werkzeug.wrappers import Request, Response

from sandbox.common import serve
from sandbox.hubspot import HubSpotSimulator
from tests.sandbox.test_hubspot_support import CLIENT_SECRET, START, FakeClock, install, simulator

ACTION_URL = "https://hubnox.example/hubspot/actions/create-document"
BLOCK = {"outputFields": {"hs_execution_state": "BLOCK"}}


class Receiver:
    """A small app backend: verifies HubSpot's v2 and v3 signatures with the official SDK, keeps
    what it received, and answers BLOCK."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data(as_text=True)
        uri = f"http://{environ['HTTP_HOST']}{environ.get('RAW_URI') or environ['REQUEST_URI']}"
        headers = request.headers
        self.seen.append({
            "uri": uri,
            "body": json.loads(body),
            "version": headers.get("X-HubSpot-Signature-Version"),
            "v2": Signature.is_valid(signature=headers["X-HubSpot-Signature"], client_secret=self.secret,
                                     request_body=body, http_uri=uri, http_method=request.method,
                                     signature_version="v2"),
            "v3": Signature.is_valid(signature=headers["X-HubSpot-Signature-v3"], client_secret=self.secret,
                                     request_body=body, http_uri=uri, http_method=request.method,
                                     signature_version="v3", timestamp=headers["X-HubSpot-Request-Timestamp"]),
        })
        return Response(json.dumps(BLOCK), content_type="application/json")(environ, start_response)


def test_the_enroll_flow_end_to_end_over_http():
    """HubSpot (served) posts a signed execution to an app (served) that answers BLOCK; the app
    later completes the callback through the API."""
    sim = HubSpotSimulator()
    receiver = Receiver(CLIENT_SECRET)
    hubspot_server, receiver_server = serve(sim), serve(receiver)
    try:
        with httpx.Client(base_url=hubspot_server.url, timeout=5.0) as client:
            app = install(sim, client=client)
            deal = app.create("deals", {"dealname": "Widgets", "amount": "1500"})
            enrolled = client.post("/_sandbox/workflows/enroll", json={
                "portalId": app.portal_id, "objectType": "DEAL", "objectId": deal["id"],
                "actionUrl": f"{receiver_server.url}/hubspot/actions/create-document?rule=won",
                "inputFields": {"mode": "invoice"}, "objectProperties": ["dealname", "amount", "description"],
                "actionDefinitionId": 10646377,
            }).json()
            assert enrolled["status"] == 200
            assert enrolled["state"] == "BLOCKED"
            seen = receiver.seen[0]
            assert seen["v2"] and seen["v3"] and seen["version"] == "v2"
            assert seen["uri"].endswith("/hubspot/actions/create-document?rule=won")
            body = seen["body"]
            assert body["callbackId"] == enrolled["callbackId"]
            assert body["callbackId"].startswith(f"ap-{app.portal_id}-")
            assert body["origin"]["portalId"] == app.portal_id
            assert body["origin"]["actionDefinitionId"] == 10646377
            assert body["context"]["source"] == "WORKFLOWS"
            assert body["object"] == {"objectId": int(deal["id"]), "objectType": "DEAL",
                                      "properties": {"dealname": "Widgets", "amount": "1500"}}
            assert body["inputFields"] == {"mode": "invoice"}

            completed = app.call("POST", f"/automation/actions/callbacks/2026-03/{body['callbackId']}/complete",
                                 json={"outputFields": {"hs_execution_state": "SUCCESS",
                                                        "fortnoxDocumentNumber": "1001"}, "typedOutputs": {}})
            assert completed.status_code == 204
            callback = client.get(f"/_sandbox/callbacks/{body['callbackId']}").json()
            assert callback["state"] == "COMPLETED"
            assert callback["executionState"] == "SUCCESS"
            assert callback["outputFields"] == {"fortnoxDocumentNumber": "1001"}
            assert callback["completedBy"] == "CALLBACK"
    finally:
        receiver_server.stop()
        hubspot_server.stop()


# -- in process, the app's answers scripted ----------------------------------------------------------


class ScriptedApp:
    """An app backend as an httpx transport: answers in turn, records requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.before_answer: Any = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.before_answer is not None:
            self.before_answer(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def answer(status: int = 200, body: Any = BLOCK, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def sim(clock):
    return simulator(clock)


@pytest.fixture
def app(sim):
    return install(sim)


@pytest.fixture
def deal(app):
    return app.create("deals", {"dealname": "Widgets"})


def enroll(app, deal, script: ScriptedApp, **extra: Any) -> dict[str, Any]:
    app.sim.outbound_transport = httpx.MockTransport(script)
    response = app.client.post("/_sandbox/workflows/enroll", json={
        "portalId": app.portal_id, "objectType": "DEAL", "objectId": deal["id"], "actionUrl": ACTION_URL,
        "inputFields": {"mode": "invoice"}, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def callback(app, callback_id: str) -> dict[str, Any]:
    return app.client.get(f"/_sandbox/callbacks/{callback_id}").json()


def complete(app, callback_id: str, **outputs: str) -> httpx.Response:
    return app.call("POST", f"/automation/actions/callbacks/2026-03/{callback_id}/complete",
                    json={"outputFields": {"hs_execution_state": "SUCCESS", **outputs}, "typedOutputs": {}})


def test_a_success_answer_completes_the_action_without_a_callback(app, deal):
    sent = enroll(app, deal, ScriptedApp(answer(body={"outputFields": {"hs_execution_state": "SUCCESS", "n": "1"}})))
    state = callback(app, sent["callbackId"])
    assert (state["state"], state["completedBy"], state["outputFields"]) == ("COMPLETED", "ACTION_RESPONSE", {"n": "1"})


def test_a_2xx_without_a_state_counts_as_success(app, deal):
    sent = enroll(app, deal, ScriptedApp(answer(body={})))
    assert callback(app, sent["callbackId"])["executionState"] == "SUCCESS"


def test_a_4xx_fails_the_action_and_the_callback_cannot_be_completed(app, deal):
    sent = enroll(app, deal, ScriptedApp(answer(400, {"message": "bad"})))
    assert sent["state"] == "FAILED"
    assert complete(app, sent["callbackId"]).status_code == 409


def test_a_5xx_is_retried_later_with_the_same_callback_id(app, deal):
    script = ScriptedApp(answer(503, {}), answer())
    sent = enroll(app, deal, script)
    assert sent["state"] == "RETRY_SCHEDULED"
    retried = app.client.post("/_sandbox/workflows/retry", json={"callbackId": sent["callbackId"]}).json()
    assert (retried["state"], retried["attempts"]) == ("BLOCKED", 2)
    assert {json.loads(r.content)["callbackId"] for r in script.requests} == {sent["callbackId"]}


def test_retries_deliver_again_at_once_after_5xx_and_timeouts(app, deal):
    script = ScriptedApp(answer(500, {}), httpx.ReadTimeout("slow"), answer())
    sent = enroll(app, deal, script, retries=2)
    assert (sent["state"], sent["attempts"]) == ("BLOCKED", 3)
    errors = [d["error"] or d["status"] for d in callback(app, sent["callbackId"])["deliveries"]]
    assert errors == [500, "timeout", 200]


def test_a_429_waits_for_retry_after_in_milliseconds(app, deal, clock):
    sent = enroll(app, deal, ScriptedApp(answer(429, {}, **{"Retry-After": "5000"}), answer()), retries=3)
    assert (sent["state"], sent["attempts"]) == ("RETRY_SCHEDULED", 1)
    early = app.client.post("/_sandbox/workflows/retry", json={"callbackId": sent["callbackId"]})
    assert early.status_code == 409
    clock.advance(5)
    assert app.client.post("/_sandbox/workflows/retry", json={"callbackId": sent["callbackId"]}).json()["state"] == \
        "BLOCKED"


def test_only_retryable_executions_can_be_retried(app, deal):
    sent = enroll(app, deal, ScriptedApp(answer()))
    assert app.client.post("/_sandbox/workflows/retry", json={"callbackId": sent["callbackId"]}).status_code == 409


def test_the_same_execution_can_be_delivered_again(app, deal):
    script = ScriptedApp(answer())
    first = enroll(app, deal, script)
    again = enroll(app, deal, script, callbackId=first["callbackId"])
    assert again["callbackId"] == first["callbackId"]
    assert again["attempts"] == 2
    assert json.loads(script.requests[0].content) == json.loads(script.requests[1].content)


def test_a_blocked_callback_expires_after_the_duration_the_app_asked_for(app, deal, clock):
    body = {"outputFields": {"hs_execution_state": "BLOCK", "hs_expiration_duration": "PT10M"}}
    sent = enroll(app, deal, ScriptedApp(answer(body=body)))
    clock.advance(599)
    assert callback(app, sent["callbackId"])["state"] == "BLOCKED"
    clock.advance(1)
    assert callback(app, sent["callbackId"])["state"] == "EXPIRED"
    assert complete(app, sent["callbackId"]).status_code == 409


def test_a_blocked_callback_waits_a_week_by_default(app, deal, clock):
    sent = enroll(app, deal, ScriptedApp(answer()))
    clock.advance(7 * 24 * 3600 - 1)
    assert callback(app, sent["callbackId"])["state"] == "BLOCKED"


def test_a_completion_before_the_block_answer_arrives_wins(app, deal):
    script = ScriptedApp(answer())
    script.before_answer = lambda request: complete(app, json.loads(request.content)["callbackId"])
    sent = enroll(app, deal, script)
    assert sent["state"] == "COMPLETED"


def test_completing_twice_answers_409(app, deal):
    sent = enroll(app, deal, ScriptedApp(answer()))
    assert complete(app, sent["callbackId"]).status_code == 204
    second = complete(app, sent["callbackId"])
    assert second.status_code == 409
    assert second.json()["category"] == "CONFLICT"
    assert len(callback(app, sent["callbackId"])["completions"]) == 1


def test_completing_an_unknown_callback_answers_404(app):
    response = complete(app, "ap-1-2-3-0")
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_another_portal_cannot_complete_the_callback(app, deal, sim):
    sent = enroll(app, deal, ScriptedApp(answer()))
    stranger = install(sim)
    assert complete(stranger, sent["callbackId"]).status_code == 404


@pytest.mark.parametrize("body", [{}, {"outputFields": "x"}, {"outputFields": {"hs_execution_state": "BLOCK"}}])
def test_a_completion_needs_valid_output_fields(app, deal, body):
    sent = enroll(app, deal, ScriptedApp(answer()))
    response = app.call("POST", f"/automation/actions/callbacks/2026-03/{sent['callbackId']}/complete", json=body)
    assert response.status_code == 400


def test_the_batch_form_completes_every_callback(app, deal):
    ids = [enroll(app, deal, ScriptedApp(answer()))["callbackId"] for _ in range(2)]
    response = app.call("POST", "/automation/actions/callbacks/2026-03/complete", json={"inputs": [
        {"callbackId": i, "outputFields": {"hs_execution_state": "FAIL_CONTINUE", "errorCode": "X"},
         "typedOutputs": {}} for i in ids]})
    assert response.status_code == 204
    assert [callback(app, i)["executionState"] for i in ids] == ["FAIL_CONTINUE", "FAIL_CONTINUE"]


def test_a_batch_with_an_unknown_callback_completes_none(app, deal):
    known = enroll(app, deal, ScriptedApp(answer()))["callbackId"]
    response = app.call("POST", "/automation/actions/callbacks/2026-03/complete", json={"inputs": [
        {"callbackId": known, "outputFields": {}, "typedOutputs": {}},
        {"callbackId": "ap-0-0-0-0", "outputFields": {}, "typedOutputs": {}}]})
    assert response.status_code == 404
    assert callback(app, known)["state"] == "BLOCKED"


def test_completing_needs_the_automation_scope(sim, deal, app):
    sent = enroll(app, deal, ScriptedApp(answer()))
    without = install(sim, scopes="oauth", portal_id=app.portal_id, client_id="other-app")
    assert complete(without, sent["callbackId"]).status_code == 403


def test_the_callbacks_of_a_portal_are_listed(app, deal):
    sent = enroll(app, deal, ScriptedApp(answer()))
    listed = app.client.get("/_sandbox/callbacks", params={"portalId": app.portal_id}).json()
    assert listed["blocked"] == [sent["callbackId"]]


def test_enrolling_a_missing_record_is_a_404(app):
    response = app.client.post("/_sandbox/workflows/enroll", json={
        "portalId": app.portal_id, "objectType": "DEAL", "objectId": "1", "actionUrl": ACTION_URL})
    assert response.status_code == 404


def test_enrolling_needs_an_app_whose_secret_is_known(sim):
    seeded = http_client(sim).post("/_sandbox/portals", json={
        "objects": {"deals": [{"ref": "d", "properties": {"dealname": "A"}}]}}).json()
    response = http_client(sim).post("/_sandbox/workflows/enroll", json={
        "portalId": seeded["portalId"], "objectType": "DEAL", "objectId": seeded["refs"]["d"],
        "actionUrl": ACTION_URL, "clientId": "never-seen"})
    assert response.status_code == 400


def http_client(sim: HubSpotSimulator) -> httpx.Client:
    return httpx.Client(transport=httpx.WSGITransport(app=sim), base_url="http://hubspot.test")
