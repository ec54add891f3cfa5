"""An app card's `hubspot.fetch()` as HubSpot makes it: HubSpot's query parameters appended, a
v3 signature, one retry on a connection failure or 5xx, and the 1 MB and timeout limits."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from hubspot.utils.signature import Signature

from sandbox.hubspot_outbound import CARD_FETCH_QUERY_PARAMETERS
from tests.sandbox.test_hubspot_support import CLIENT_SECRET, START, FakeClock, install, simulator

CARD_URL = "https://hubnox.example/hubspot/card?view=deal"


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def app(clock):
    return install(simulator(clock))


class Backend:
    """The card's backend as an httpx transport: answers in turn, records requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def fetch(app, backend: Backend, **spec: Any) -> dict[str, Any]:
    app.sim.outbound_transport = httpx.MockTransport(backend)
    response = app.client.post("/_sandbox/cards/fetch", json={"portalId": app.portal_id, "url": CARD_URL, **spec})
    assert response.status_code == 200, response.text
    return response.json()


def card(body: Any = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"results": []})


def test_hubspots_query_parameters_are_appended_in_order(app):
    backend = Backend(card())
    fetch(app, backend, userId=55, userEmail="rep@example.se")
    query = parse_qsl(urlsplit(str(backend.requests[0].url)).query)
    assert query == [("view", "deal"), ("portalId", str(app.portal_id)), ("userId", "55"),
                     ("userEmail", "rep@example.se"), ("appId", str(app.sim.apps["hubnox-client"].app_id))]
    assert tuple(name for name, _ in query[1:]) == CARD_FETCH_QUERY_PARAMETERS


def test_the_request_carries_a_v3_signature_the_sdk_reproduces(app):
    backend = Backend(card())
    result = fetch(app, backend, method="POST", body={"action": "resync"})
    request = backend.requests[0]
    body = request.content.decode()
    assert "userEmail=admin%40" in result["url"]
    # As HubSpot's docs tell a verifier: decode %40 (and a few others) before computing v3.
    expected = Signature.get_signature(client_secret=CLIENT_SECRET, request_body=body, signature_version="v3",
                                       http_uri=result["url"].replace("%40", "@"), http_method="POST",
                                       timestamp=request.headers["X-HubSpot-Request-Timestamp"])
    assert request.headers["X-HubSpot-Signature-v3"] == expected
    assert "X-HubSpot-Signature" not in request.headers
    assert json.loads(body) == {"action": "resync"}


def test_the_answer_comes_back_with_status_body_and_time(app):
    result = fetch(app, Backend(card({"sections": [1]})))
    assert result["status"] == 200
    assert result["body"] == {"sections": [1]}
    assert result["attempts"] == 1
    assert result["elapsedMs"] >= 0


def test_a_5xx_is_retried_once(app):
    backend = Backend(card(status=502), card(status=500))
    result = fetch(app, backend)
    assert (result["status"], result["attempts"], len(backend.requests)) == (500, 2, 2)


def test_a_connection_failure_is_retried_once(app):
    backend = Backend(httpx.ConnectError("refused"), card())
    result = fetch(app, backend)
    assert (result["status"], result["attempts"]) == (200, 2)


def test_a_4xx_is_not_retried(app):
    backend = Backend(card(status=401))
    assert fetch(app, backend)["attempts"] == 1


def test_a_timeout_is_reported_and_not_retried(app):
    backend = Backend(httpx.ReadTimeout("slow"))
    result = fetch(app, backend)
    assert (result["status"], result["error"], len(backend.requests)) == (None, "TIMEOUT", 1)


def test_the_timeout_is_at_most_fifteen_seconds(clock):
    assert simulator(clock).card_timeout == 15.0
    assert simulator(clock, http_timeout=30.0).card_timeout == 15.0
    assert simulator(clock, http_timeout=2.0).card_timeout == 2.0


def test_a_response_over_one_megabyte_is_refused(app):
    result = fetch(app, Backend(httpx.Response(200, content=b"x" * 1_000_001)))
    assert result["error"] == "RESPONSE_TOO_LARGE"
    assert result["body"] is None


def test_a_request_over_one_megabyte_is_not_sent(app):
    backend = Backend(card())
    result = fetch(app, backend, method="POST", body={"blob": "x" * 1_000_000})
    assert result["error"] == "REQUEST_TOO_LARGE"
    assert backend.requests == []


def test_only_hubspot_fetch_methods_are_allowed(app):
    app.sim.outbound_transport = httpx.MockTransport(Backend(card()))
    response = app.client.post("/_sandbox/cards/fetch", json={"portalId": app.portal_id, "url": CARD_URL,
                                                               "method": "OPTIONS"})
    assert response.status_code == 400
