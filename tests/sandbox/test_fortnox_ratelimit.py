"""The Fortnox simulator's limit: 25 requests per sliding 5 seconds per client id and tenant."""

from __future__ import annotations

import pytest

from tests.sandbox.test_fortnox_support import START, FakeClock, basic, connect, simulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sim(clock):
    return simulator(clock)


def burst(api, count):
    return [api.get("/3/companyinformation").status_code for _ in range(count)]


def test_the_26th_request_within_5_seconds_gets_429_too_many_requests(sim):
    api = connect(sim)

    statuses = burst(api, 26)

    assert statuses[:25] == [200] * 25
    assert statuses[25] == 429
    response = api.get("/3/companyinformation")
    assert response.json() == {"message": "Too Many Requests"}
    assert "retry-after" not in response.headers


def test_the_window_slides_one_request_at_a_time(clock, sim):
    api = connect(sim)
    burst(api, 10)
    clock.advance(2.5)
    burst(api, 15)
    clock.advance(2.5)  # the first 10 are now 5 s old and out of the window

    assert burst(api, 10) == [200] * 10
    assert burst(api, 1) == [429]
    clock.advance(2.5)
    assert burst(api, 15) == [200] * 15


def test_extra_tokens_for_the_same_client_and_tenant_add_no_capacity(sim):
    api = connect(sim)
    second = api.client.post(
        "/oauth-v1/token",
        data={"grant_type": "client_credentials"},
        headers={**basic(), "TenantId": str(api.tenant_id)},
    ).json()["access_token"]
    burst(api, 25)

    response = api.client.get("/3/companyinformation", headers={"Authorization": f"Bearer {second}"})

    assert response.status_code == 429


def test_other_tenants_and_other_clients_have_their_own_budget(sim):
    api = connect(sim)
    other_tenant = connect(sim)
    other_client = connect(sim, client_id="another-app", sandbox_tenant=str(api.tenant_id))
    burst(api, 25)

    assert burst(api, 1) == [429]
    assert burst(other_tenant, 1) == [200]
    assert burst(other_client, 1) == [200]


def test_a_rejected_request_does_not_count(clock, sim):
    api = connect(sim)
    burst(api, 25)
    burst(api, 10)
    clock.advance(5)

    assert burst(api, 25) == [200] * 25


def test_the_auth_host_and_requests_without_a_valid_token_are_not_limited(sim):
    api = connect(sim)
    burst(api, 25)

    assert api.client.get("/3/companyinformation").status_code == 401
    assert (
        api.client.post(
            "/oauth-v1/revoke", headers=basic(), data={"token_type_hint": "refresh_token", "token": "x"}
        ).status_code
        == 200
    )


def test_the_limit_is_set_by_the_constructor(clock):
    api = connect(simulator(clock, rate_limit=3, rate_window=1.0))

    assert burst(api, 4) == [200, 200, 200, 429]
    clock.advance(1.0)
    assert burst(api, 1) == [200]


def test_the_request_log_names_tenant_and_client_of_each_request(sim):
    api = connect(sim)
    api.get("/3/companyinformation")

    entries = api.client.get("/_sandbox/requests").json()["requests"]

    assert entries[-1]["tenant"] == f"{api.tenant_id}/hubnox"
    assert "authorization" not in {k.lower() for k in entries[-1]["headers"]}
