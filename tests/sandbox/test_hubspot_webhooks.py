"""HubSpot's webhooks as the simulator sends them: set up through the webhooks API, raised by CRM
changes in portals where the app is installed, batched, signed (v1 and v3), retried with
`attemptNumber` going up, and stopped by an uninstall."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hubspot.utils.signature import Signature

from sandbox.hubspot_webhooks import MAX_RETRIES
from tests.sandbox.test_hubspot_support import CLIENT_ID, CLIENT_SECRET, START, FakeClock, install, simulator

DEVELOPER_KEY = "dev-key-123"


@dataclass
class Receiver:
    """A tiny HTTP server standing in for the app's webhook endpoint: answers statuses in turn
    (the last one from then on) and records what it was sent."""

    statuses: list[int] = field(default_factory=lambda: [204])
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    delay: float = 0.0  # seconds before answering

    def events(self) -> list[dict[str, Any]]:
        return [event for request in self.requests for event in request["events"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            with lock:
                received.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                          "events": json.loads(body)})
                status = received.statuses.pop(0) if len(received.statuses) > 1 else received.statuses[0]
            time.sleep(received.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_port}/hubspot/webhooks"
    yield received
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(receiver):
    sim = simulator(FakeClock(START))
    installed = install(sim)
    client = installed.client
    registered = client.post("/_sandbox/apps", json={"clientId": CLIENT_ID, "developerApiKey": DEVELOPER_KEY})
    assert registered.status_code == 201
    app_id = sim.apps[CLIENT_ID].app_id
    key = {"hapikey": DEVELOPER_KEY}
    settings = client.put(f"/webhooks/2026-03/{app_id}/settings", params=key,
                          json={"targetUrl": receiver.url, "throttling": {"maxConcurrentRequests": 10}})
    assert settings.status_code == 200, settings.text
    for body in ({"eventType": "deal.propertyChange", "propertyName": "dealstage", "active": True},
                 {"eventType": "deal.creation", "active": True}):
        assert client.post(f"/webhooks/2026-03/{app_id}/subscriptions", params=key, json=body).status_code == 201
    assert client.put("/_sandbox/hubspot/webhooks/config", json={"retryBackoffMs": 0}).status_code == 200
    yield installed
    sim.webhooks.stop()


def flush(app) -> dict[str, Any]:
    response = app.client.post("/_sandbox/hubspot/webhooks/flush")
    assert response.status_code == 200, response.text
    return response.json()


def move(app, deal_id: str, stage: str) -> None:
    response = app.call("PATCH", f"/crm/objects/2026-03/deals/{deal_id}", json={"properties": {"dealstage": stage}})
    assert response.status_code == 200, response.text


def test_a_stage_change_sends_one_event_signed_as_hubspot_signs(app, receiver):
    deal = app.create("deals", {"dealname": "Order"})["id"]
    flush(app)
    receiver.requests.clear()
    move(app, deal, "closedwon")
    flush(app)
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    [event] = request["events"]
    assert event["subscriptionType"] == "deal.propertyChange"
    assert (event["objectId"], event["propertyName"], event["propertyValue"]) == (int(deal), "dealstage", "closedwon")
    assert (event["portalId"], event["appId"], event["attemptNumber"]) == (
        app.portal_id, app.sim.apps[CLIENT_ID].app_id, 0)
    assert event["changeSource"] == "INTEGRATION" and isinstance(event["occurredAt"], int)
    headers = request["headers"]
    assert headers["X-HubSpot-Signature-v3"] == Signature.get_signature(
        client_secret=CLIENT_SECRET, request_body=request["body"], signature_version="v3",
        http_uri=receiver.url, http_method="POST", timestamp=headers["X-HubSpot-Request-Timestamp"])
    assert headers["X-HubSpot-Signature-Version"] == "v1"
    assert headers["X-HubSpot-Signature"] == Signature.get_signature(
        client_secret=CLIENT_SECRET, request_body=request["body"], signature_version="v1")


def test_creation_and_unsubscribed_properties(app, receiver):
    deal = app.create("deals", {"dealname": "Order"})["id"]
    app.call("PATCH", f"/crm/objects/2026-03/deals/{deal}", json={"properties": {"dealname": "Renamed"}})
    move(app, deal, "appointmentscheduled")  # the stage it already had: no change, no event
    flush(app)
    [event] = receiver.events()
    assert (event["subscriptionType"], event["changeFlag"], event["objectId"]) == ("deal.creation", "NEW", int(deal))
    assert "propertyName" not in event


def test_changes_close_together_go_in_one_request_and_event_ids_are_unique(app, receiver):
    deals = [app.create("deals", {"dealname": f"Deal {i}"})["id"] for i in range(3)]
    for deal in deals:
        move(app, deal, "closedwon")
    flush(app)
    assert len(receiver.requests) == 1
    events = receiver.events()
    assert len(events) == 6
    assert len({e["eventId"] for e in events}) == 6


def test_a_person_moving_a_deal_is_crm_ui(app, receiver):
    deal = app.create("deals", {"dealname": "Order"})["id"]
    flush(app)
    receiver.requests.clear()
    response = app.client.patch(f"/_sandbox/portals/{app.portal_id}/objects/deals/{deal}",
                                json={"properties": {"dealstage": "closedwon"}})
    assert response.status_code == 200, response.text
    flush(app)
    [event] = receiver.events()
    assert event["changeSource"] == "CRM_UI" and event["sourceId"].startswith("userId:")


def test_failures_are_retried_with_attempt_number_rising_until_hubspot_gives_up(app, receiver):
    receiver.statuses[:] = [500]
    app.create("deals", {"dealname": "Order"})
    for _ in range(MAX_RETRIES + 3):
        flush(app)
    assert [r["events"][0]["attemptNumber"] for r in receiver.requests] == list(range(MAX_RETRIES + 1))
    [batch] = app.client.get("/_sandbox/hubspot/webhooks").json()["deliveries"]
    assert batch["state"] == "GAVE_UP"
    assert [a["status"] for a in batch["attempts"]] == [500] * (MAX_RETRIES + 1)


def test_a_retry_that_succeeds_stops_and_waits_for_its_backoff(app, receiver):
    app.client.put("/_sandbox/hubspot/webhooks/config", json={"retryBackoffMs": 60_000})
    receiver.statuses[:] = [503, 200]
    app.create("deals", {"dealname": "Order"})
    flush(app)
    flush(app)  # the retry is not due yet
    assert len(receiver.requests) == 1
    app.sim.clock.advance(61)
    flush(app)
    flush(app)
    assert [r["events"][0]["attemptNumber"] for r in receiver.requests] == [0, 1]
    assert app.client.get("/_sandbox/hubspot/webhooks").json()["deliveries"][0]["state"] == "DELIVERED"


def test_injected_failures_and_duplicates(app, receiver):
    faults = app.client.post("/_sandbox/hubspot/webhooks/faults", json={"failNext": 1, "duplicateNext": 1})
    assert faults.status_code == 200
    app.create("deals", {"dealname": "Order"})
    flush(app)
    assert receiver.requests == []  # the injected failure never reached the app
    flush(app)
    assert len(receiver.requests) == 2  # delivered twice, as HubSpot sometimes does
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    assert receiver.requests[0]["events"][0]["attemptNumber"] == 1


def test_paused_deliveries_wait_for_a_flush_or_resume(app, receiver):
    app.client.put("/_sandbox/hubspot/webhooks/config", json={"batchWindowMs": 0})
    app.client.post("/_sandbox/hubspot/webhooks/pause")
    app.create("deals", {"dealname": "Order"})
    assert app.sim.webhooks.pump() == []
    assert receiver.requests == []
    app.client.post("/_sandbox/hubspot/webhooks/resume")
    for future in app.sim.webhooks.pump():
        future.result()
    assert len(receiver.requests) == 1


def test_the_background_thread_delivers_without_a_flush(app, receiver):
    app.client.put("/_sandbox/hubspot/webhooks/config", json={"batchWindowMs": 0})
    app.sim.webhooks.start(interval=0.01)
    app.create("deals", {"dealname": "Order"})
    deadline = time.monotonic() + 10  # generous: the machine may be busy
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # and nothing more follows
    assert len(receiver.requests) == 1


def test_no_events_after_an_uninstall_and_the_refresh_token_is_refused(app, receiver):
    deal = app.create("deals", {"dealname": "Order"})["id"]
    response = app.client.post(f"/_sandbox/portals/{app.portal_id}/uninstall", json={})
    assert response.json()["uninstalled"] == [CLIENT_ID]
    flush(app)
    assert receiver.requests == []  # the queued creation was dropped
    app.client.patch(f"/_sandbox/portals/{app.portal_id}/objects/deals/{deal}",
                     json={"properties": {"dealstage": "closedwon"}})
    flush(app)
    assert receiver.requests == []
    refresh = app.client.post("/oauth/2026-03/token", data={
        "grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "refresh_token": app.refresh_token})
    assert refresh.status_code == 400 and refresh.json()["status"] == "BAD_REFRESH_TOKEN"


def test_the_app_uninstalls_itself_and_a_reinstall_brings_the_portal_back(app, receiver):
    assert app.call("DELETE", "/appinstalls/2026-03/external-install").status_code == 204
    assert app.call("GET", "/crm/objects/2026-03/deals").status_code == 401
    assert app.call("DELETE", "/appinstalls/2026-03/external-install").status_code == 401
    app.client.post(f"/_sandbox/portals/{app.portal_id}/objects/deals", json={"properties": {"dealname": "X"}})
    flush(app)
    assert receiver.requests == []
    again = install(app.sim, portal_id=app.portal_id, client=app.client)
    again.create("deals", {"dealname": "After reinstall"})
    flush(app)
    assert [e["portalId"] for e in receiver.events()] == [app.portal_id]


def test_the_webhooks_api_wants_the_developer_key_and_answers_as_the_spec(app, receiver):
    app_id = app.sim.apps[CLIENT_ID].app_id
    base = f"/webhooks/2026-03/{app_id}"
    assert app.client.get(f"{base}/settings").status_code == 401
    assert app.client.get(f"{base}/settings", params={"hapikey": "wrong"}).status_code == 401
    key = {"hapikey": DEVELOPER_KEY}
    settings = app.client.get(f"{base}/settings", params=key).json()
    assert settings["targetUrl"] == receiver.url and settings["throttling"] == {"maxConcurrentRequests": 10}
    subs = app.client.get(f"{base}/subscriptions", params=key).json()["results"]
    assert {(s["eventType"], s.get("propertyName")) for s in subs} == {
        ("deal.propertyChange", "dealstage"), ("deal.creation", None)}
    bad = app.client.post(f"{base}/subscriptions", params=key, json={"eventType": "deal.propertyChange",
                                                                     "active": True})
    assert bad.status_code == 400
    generic = app.client.post(f"{base}/subscriptions", params=key, json={
        "eventType": "object.propertyChange", "objectTypeId": "0-3", "propertyName": "amount", "active": True})
    assert generic.status_code == 201
    creation = next(s for s in subs if s["eventType"] == "deal.creation")
    paused = app.client.patch(f"{base}/subscriptions/{creation['id']}", params=key, json={"active": False})
    assert paused.json()["active"] is False
    deal = app.create("deals", {"dealname": "Order", "amount": "10"})["id"]
    app.call("PATCH", f"/crm/objects/2026-03/deals/{deal}", json={"properties": {"amount": "20"}})
    flush(app)
    [event] = receiver.events()
    assert (event["subscriptionType"], event["objectTypeId"], event["propertyValue"]) == (
        "object.propertyChange", "0-3", "20")


def test_deleting_the_settings_pauses_deliveries(app, receiver):
    app_id = app.sim.apps[CLIENT_ID].app_id
    key = {"hapikey": DEVELOPER_KEY}
    assert app.client.delete(f"/webhooks/2026-03/{app_id}/settings", params=key).status_code == 204
    app.create("deals", {"dealname": "Order"})
    flush(app)
    assert receiver.requests == []
    assert app.client.get(f"/webhooks/2026-03/{app_id}/subscriptions", params=key).json()["results"]


def test_bad_control_input_is_a_400(app):
    assert app.client.put("/_sandbox/hubspot/webhooks/config", json={"retryBackoffMs": -1}).status_code == 400
    assert app.client.post("/_sandbox/hubspot/webhooks/faults", json={"failNext": "x"}).status_code == 400
    assert app.client.patch(f"/_sandbox/portals/{app.portal_id}/objects/deals/1",
                            json={"properties": {}}).status_code == 404


def test_at_most_max_concurrent_requests_are_in_flight(app, receiver):
    app_id = app.sim.apps[CLIENT_ID].app_id
    app.client.put(f"/webhooks/2026-03/{app_id}/settings", params={"hapikey": DEVELOPER_KEY},
                   json={"targetUrl": receiver.url, "throttling": {"maxConcurrentRequests": 1}})
    for i in range(150):  # two batches: 100 + 50
        app.sim.clock.advance(0.1)  # within the API's 110 requests per 10 seconds
        app.create("deals", {"dealname": f"Deal {i}"})
    futures = app.sim.webhooks.pump(ignore_window=True)
    assert len(futures) == 1  # the second batch waits for the first
    for future in futures:
        future.result()
    flush(app)
    assert [len(r["events"]) for r in receiver.requests] == [100, 50]


def test_requests_over_http_are_not_needed_for_a_mock_transport(app, receiver):
    seen: list[httpx.Request] = []
    app.sim.outbound_transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    app.create("deals", {"dealname": "Order"})
    flush(app)
    assert len(seen) == 1 and receiver.requests == []


def test_the_local_stack_subscribes_the_app_as_its_developer_would():
    from sandbox.common import serve
    from sandbox.stack import LOCAL_APP, configure_webhooks, register_app

    sim = simulator(FakeClock(START))
    server = serve(sim)
    try:
        environment = dict(LOCAL_APP)
        assert register_app(server.url, environment, required=True)
        configure_webhooks(server.url, environment, "http://gateway.test/hubspot/webhooks")
        configure_webhooks(server.url, environment, "http://gateway.test/hubspot/webhooks")  # twice is fine
        hooks = sim.webhooks.apps[int(LOCAL_APP["HUBSPOT_APP_ID"])]
        assert (hooks.target_url, hooks.max_concurrent) == ("http://gateway.test/hubspot/webhooks", 10)
        assert sorted((s.event_type, s.property_name) for s in hooks.subscriptions.values()) == [
            ("deal.creation", None), ("deal.propertyChange", "dealstage")]
    finally:
        server.stop()


def test_a_flush_waits_for_the_background_and_leaves_retries_not_yet_due(app, receiver):
    app.client.put("/_sandbox/hubspot/webhooks/config", json={"batchWindowMs": 0, "retryBackoffMs": 60_000})
    receiver.statuses[:] = [500]
    app.create("deals", {"dealname": "Order"})
    app.sim.webhooks.start(interval=0.01)
    done = threading.Event()
    threading.Thread(target=lambda: (flush(app), done.set()), daemon=True).start()
    assert done.wait(15), "the flush hung"
    assert len(receiver.requests) == 1  # sent once (by the flush or the thread); the retry is not due
    [batch] = app.client.get("/_sandbox/hubspot/webhooks").json()["deliveries"]
    assert batch["state"] == "RETRY_SCHEDULED" and batch["nextAttemptAt"]


def test_an_answer_slower_than_the_timeout_is_a_failure_to_retry(app, receiver):
    app.client.put("/_sandbox/hubspot/webhooks/config", json={"timeoutSeconds": 0.2})
    receiver.delay = 0.6
    app.create("deals", {"dealname": "Order"})
    flush(app)
    [batch] = app.client.get("/_sandbox/hubspot/webhooks").json()["deliveries"]
    assert batch["state"] == "RETRY_SCHEDULED"
    assert (batch["attempts"][0]["status"], batch["attempts"][0]["error"]) == (None, "timeout")
