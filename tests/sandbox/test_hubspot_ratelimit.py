"""The 110 requests per 10 seconds per portal limit, with HubSpot's 429 body and headers."""

from __future__ import annotations

import pytest

from tests.sandbox.test_hubspot_support import START, FakeClock, http, install, simulator


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def sim(clock):
    return simulator(clock)


def spend(app, count):
    for _ in range(count):
        assert app.call("GET", "/crm/pipelines/2026-03/deals").status_code == 200


def test_responses_tell_the_limit_and_what_is_left(sim):
    app = install(sim)
    response = app.call("GET", "/crm/pipelines/2026-03/deals")
    assert response.headers["X-HubSpot-RateLimit-Max"] == "110"
    assert response.headers["X-HubSpot-RateLimit-Remaining"] == "109"
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"


def test_the_111th_request_in_ten_seconds_gets_hubspots_429(sim, clock):
    app = install(sim)
    spend(app, 110)
    limited = app.call("GET", "/crm/pipelines/2026-03/deals")
    assert limited.status_code == 429
    body = limited.json()
    assert body["status"] == "error"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["correlationId"]
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert int(limited.headers["Retry-After"]) >= 1


def test_the_window_slides(sim, clock):
    app = install(sim)
    spend(app, 60)
    clock.advance(5)
    spend(app, 50)
    assert app.call("GET", "/crm/pipelines/2026-03/deals").status_code == 429
    clock.advance(5)  # the first 60 have left the window
    spend(app, 60)
    assert app.call("GET", "/crm/pipelines/2026-03/deals").status_code == 429


def test_each_portal_has_its_own_budget(sim):
    first, second = install(sim), install(sim)
    spend(first, 110)
    assert first.call("GET", "/crm/pipelines/2026-03/deals").status_code == 429
    assert second.call("GET", "/crm/pipelines/2026-03/deals").status_code == 200


def test_oauth_and_unauthenticated_calls_do_not_count(sim):
    app = install(sim)
    client = http(sim)
    for _ in range(5):
        client.get("/crm/objects/2026-03/deals")
    assert app.call("GET", "/crm/pipelines/2026-03/deals").headers["X-HubSpot-RateLimit-Remaining"] == "109"


def test_the_limit_can_be_configured(clock):
    app = install(simulator(clock, rate_limit=3, rate_window=1.0))
    spend(app, 3)
    assert app.call("GET", "/crm/pipelines/2026-03/deals").status_code == 429
    clock.advance(1.0)
    assert app.call("GET", "/crm/pipelines/2026-03/deals").status_code == 200
