"""The Fortnox simulator's OAuth: authorize, code exchange, single-use refresh, client credentials, revoke."""

from __future__ import annotations

import pytest

from tests.sandbox.test_fortnox_support import (
    ALL_SCOPES,
    REDIRECT_URI,
    START,
    FakeClock,
    authorize,
    basic,
    connect,
    error_code,
    exchange,
    http,
    jwt_claims,
    redirect_params,
    simulator,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sim(clock):
    return simulator(clock)


@pytest.fixture
def client(sim):
    return http(sim)


def refresh(client, token, client_id="hubnox"):
    return client.post(
        "/oauth-v1/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers=basic(client_id),
    )


def client_credentials(client, tenant_id, client_id="hubnox"):
    return client.post(
        "/oauth-v1/token",
        data={"grant_type": "client_credentials"},
        headers={**basic(client_id), "TenantId": str(tenant_id)},
    )


def company_info(client, token):
    return client.get("/3/companyinformation", headers={"Authorization": f"Bearer {token}"})


# -- authorize -----------------------------------------------------------------------------------


def test_authorize_consents_at_once_and_redirects_with_a_code_and_the_state(client):
    response = authorize(client)

    assert response.status_code == 302
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    params = redirect_params(response)
    assert params["state"] == "state-123"
    assert len(params["code"]) > 20


def test_authorize_creates_a_fresh_company_for_each_consent(sim, client):
    first = exchange(client, redirect_params(authorize(client))["code"]).json()
    second = exchange(client, redirect_params(authorize(client))["code"]).json()

    tenants = {jwt_claims(first["access_token"])["tenantId"], jwt_claims(second["access_token"])["tenantId"]}
    assert len(tenants) == 2
    assert tenants <= set(sim.companies)


def test_authorize_reuses_the_company_named_by_sandbox_tenant(sim, client):
    tenant = client.post("/_sandbox/companies", json={"CompanyName": "Kafferosteriet AB"}).json()["tenantId"]

    code = redirect_params(authorize(client, sandbox_tenant=str(tenant)))["code"]
    token = exchange(client, code).json()["access_token"]

    assert jwt_claims(token)["tenantId"] == tenant
    assert company_info(client, token).json()["CompanyInformation"]["CompanyName"] == "Kafferosteriet AB"


def test_a_company_grants_only_its_grantable_scopes_and_the_token_says_which(client):
    made = client.post("/_sandbox/companies", json={"grantableScopes": ["companyinformation", "customer", "invoice"]})
    tenant = made.json()["tenantId"]

    code = redirect_params(authorize(client, sandbox_tenant=str(tenant)))["code"]
    body = exchange(client, code).json()
    orders = client.get("/3/orders", headers={"Authorization": f"Bearer {body['access_token']}"})

    assert sorted(body["scope"].split()) == ["companyinformation", "customer", "invoice"]
    assert (orders.status_code, error_code(orders)) == (403, 2000663)
    assert client.get(f"/_sandbox/companies/{tenant}").json()["grantableScopes"] == [
        "companyinformation", "customer", "invoice"]


def test_grantable_scopes_must_be_fortnox_scopes(client):
    assert client.post("/_sandbox/companies", json={"grantableScopes": ["orders"]}).status_code == 400


def test_authorize_denied_by_the_user_redirects_with_access_denied_and_the_state(client):
    params = redirect_params(authorize(client, sandbox_deny="1"))

    assert params["error"] == "access_denied"
    assert params["error_description"]
    assert params["state"] == "state-123"
    assert "code" not in params


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "customer invoices"}, "invalid_scope"),
        ({"scope": None}, "invalid_request"),
        ({"account_type": "personal"}, "invalid_request"),
    ],
)
def test_authorize_with_a_bad_parameter_redirects_with_the_oauth_error(client, override, error):
    params = redirect_params(authorize(client, **override))

    assert params["error"] == error
    assert params["state"] == "state-123"


def test_authorize_without_state_redirects_with_invalid_request(client):
    params = redirect_params(authorize(client, state=None))

    assert params["error"] == "invalid_request"


@pytest.mark.parametrize("missing", ["client_id", "redirect_uri"])
def test_authorize_without_client_id_or_redirect_uri_answers_400_without_redirecting(client, missing):
    response = authorize(client, **{missing: None})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_authorize_refuses_service_accounts_for_a_client_that_does_not_allow_them(client):
    client.put("/_sandbox/clients/hubnox", json={"clientSecret": "s3cret", "serviceAccount": False})

    params = redirect_params(authorize(client))

    assert params["error_description"] == "Client does not allow service account"


# -- code exchange ---------------------------------------------------------------------------------


def test_the_code_exchange_answers_a_bearer_token_pair_for_an_hour(client):
    code = redirect_params(authorize(client))["code"]

    body = exchange(client, code).json()

    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == ALL_SCOPES
    assert body["refresh_token"]


def test_the_access_token_is_a_jwt_with_tenant_client_scope_and_expiry(clock, client):
    token = exchange(client, redirect_params(authorize(client))["code"]).json()["access_token"]

    assert token.count(".") == 2
    claims = jwt_claims(token)
    assert isinstance(claims["tenantId"], int)
    assert claims["clientId"] == "hubnox"
    assert claims["scope"] == ALL_SCOPES
    assert claims["exp"] == int(clock.now) + 3600


def test_the_token_endpoint_requires_http_basic_client_authentication(client):
    code = redirect_params(authorize(client))["code"]

    response = client.post(
        "/oauth-v1/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_code_works_once(client):
    code = redirect_params(authorize(client))["code"]
    assert exchange(client, code).status_code == 200

    again = exchange(client, code)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_a_code_expires_after_ten_minutes(clock, client):
    code = redirect_params(authorize(client))["code"]
    clock.advance(600)

    assert exchange(client, code).json()["error"] == "invalid_grant"


def test_the_code_exchange_needs_the_redirect_uri_sent_to_authorize(client):
    code = redirect_params(authorize(client))["code"]

    response = client.post(
        "/oauth-v1/token",
        headers=basic(),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://elsewhere.example/cb",
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_cannot_be_exchanged_by_another_client(client):
    code = redirect_params(authorize(client))["code"]

    assert exchange(client, code, client_id="someone-else").json()["error"] == "invalid_grant"


def test_an_unknown_grant_type_is_unsupported(client):
    response = client.post("/oauth-v1/token", data={"grant_type": "password"}, headers=basic())

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_registered_clients_must_present_their_secret(client):
    client.put("/_sandbox/clients/hubnox", json={"clientSecret": "right"})
    code = redirect_params(authorize(client))["code"]

    wrong = client.post(
        "/oauth-v1/token",
        headers=basic("hubnox", "wrong"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
    )
    right = client.post(
        "/oauth-v1/token",
        headers=basic("hubnox", "right"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
    )

    assert wrong.status_code == 401
    assert right.status_code == 200


# -- refresh -----------------------------------------------------------------------------------------


def test_a_refresh_returns_a_new_access_token_and_a_new_refresh_token(sim):
    api = connect(sim)

    body = refresh(api.client, api.refresh_token).json()

    assert body["access_token"] != api.token
    assert body["refresh_token"] != api.refresh_token
    assert company_info(api.client, body["access_token"]).status_code == 200


def test_a_spent_refresh_token_fails_with_invalid_refresh_token(sim):
    api = connect(sim)
    assert refresh(api.client, api.refresh_token).status_code == 200

    reused = refresh(api.client, api.refresh_token)

    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}


def test_reusing_a_spent_refresh_token_also_revokes_the_one_issued_in_its_place(sim):
    api = connect(sim)
    rotated = refresh(api.client, api.refresh_token).json()

    refresh(api.client, api.refresh_token)
    after = refresh(api.client, rotated["refresh_token"])

    assert after.json()["error"] == "invalid_grant"
    assert company_info(api.client, rotated["access_token"]).status_code == 200  # access tokens live on


def test_the_rotation_chain_goes_on_as_long_as_each_token_is_used_once(sim):
    api = connect(sim)
    token = api.refresh_token
    for _ in range(5):
        body = refresh(api.client, token).json()
        token = body["refresh_token"]

    assert company_info(api.client, body["access_token"]).status_code == 200


def test_a_refresh_token_of_another_client_is_invalid(sim):
    api = connect(sim)

    assert refresh(api.client, api.refresh_token, client_id="other").json()["error"] == "invalid_grant"


def test_refresh_tokens_expire_after_45_days(clock, sim):
    api = connect(sim)
    clock.advance(45 * 24 * 3600)

    assert refresh(api.client, api.refresh_token).json()["error"] == "invalid_grant"


# -- access tokens on the API ------------------------------------------------------------------------


def test_an_access_token_expires_after_an_hour(clock, sim):
    api = connect(sim)
    clock.advance(3599)
    assert api.get("/3/companyinformation").status_code == 200

    clock.advance(1)
    response = api.get("/3/companyinformation")

    assert response.status_code == 401
    assert response.json() == {"message": "unauthorized"}


def test_a_missing_or_unknown_token_gets_401_unauthorized(client):
    assert client.get("/3/customers").json() == {"message": "unauthorized"}
    assert client.get("/3/customers", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_expire_control_endpoint_ends_access_tokens_now_and_a_refresh_recovers(sim):
    api = connect(sim)
    other = connect(sim)

    expired = api.control("POST", "/_sandbox/tokens/expire", {"tenantId": api.tenant_id}).json()

    assert expired == {"expired": 1}
    assert api.get("/3/companyinformation").status_code == 401
    assert other.get("/3/companyinformation").status_code == 200
    fresh = refresh(api.client, api.refresh_token).json()["access_token"]
    assert company_info(api.client, fresh).status_code == 200


def test_a_scope_not_granted_gets_the_scope_error(sim):
    api = connect(sim, scope="companyinformation customer")

    assert api.get("/3/customers").status_code == 200
    response = api.get("/3/invoices")

    assert response.status_code == 403
    assert error_code(response) == 2000663


@pytest.mark.parametrize(
    ("path", "needs"),
    [
        ("/3/orders", ["order"]),
        ("/3/invoices", ["kundfaktura", "order"]),
        ("/3/currencies", ["kundfaktura", "order", "bokforing"]),
    ],
)
def test_without_an_active_licence_the_api_answers_error_2001101(sim, path, needs):
    api = connect(sim)
    for licence in needs:
        api.control("DELETE", f"/_sandbox/companies/{api.tenant_id}/licences/{licence}")

    response = api.get(path)

    assert response.status_code == 400
    assert response.json()["ErrorInformation"] == {
        "error": 1,
        "message": "Det finns ingen aktiv licens för önskat scope",
        "code": 2001101,
    }
    assert api.get("/3/companyinformation").status_code == 200


def test_a_restored_licence_opens_the_resource_again(sim):
    api = connect(sim)
    api.control("DELETE", f"/_sandbox/companies/{api.tenant_id}/licences/order")

    restored = api.control("PUT", f"/_sandbox/companies/{api.tenant_id}/licences/order")

    assert "order" in restored.json()["licences"]
    assert api.get("/3/orders").status_code == 200


# -- client credentials ------------------------------------------------------------------------------


def test_client_credentials_with_tenant_id_give_a_token_without_refresh_token(sim):
    api = connect(sim)

    response = client_credentials(api.client, api.tenant_id)

    body = response.json()
    assert response.status_code == 200
    assert "refresh_token" not in body
    assert body["expires_in"] == 3600
    assert jwt_claims(body["access_token"])["tenantId"] == api.tenant_id
    assert (
        company_info(api.client, body["access_token"]).json()["CompanyInformation"]["DatabaseNumber"]
        == api.tenant_id
    )


def test_client_credentials_need_a_service_account_consent(sim):
    api = connect(sim, account_type=None)

    response = client_credentials(api.client, api.tenant_id)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_client_credentials_need_the_consent_of_this_client(sim):
    api = connect(sim)

    assert client_credentials(api.client, api.tenant_id, client_id="another-app").status_code == 400


def test_client_credentials_without_the_tenant_id_header_are_refused(sim):
    api = connect(sim)

    response = api.client.post("/oauth-v1/token", data={"grant_type": "client_credentials"}, headers=basic())

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_company_created_with_a_service_consent_serves_client_credentials_at_once(client):
    created = client.post(
        "/_sandbox/companies", json={"serviceConsent": {"clientId": "hubnox", "scope": "customer invoice"}}
    ).json()

    body = client_credentials(client, created["tenantId"]).json()

    assert body["scope"] == "customer invoice"


# -- revoke ------------------------------------------------------------------------------------------


def test_revoke_answers_revoked_true_and_ends_the_refresh_chain(sim):
    api = connect(sim)

    response = api.client.post(
        "/oauth-v1/revoke",
        headers=basic(),
        data={"token_type_hint": "refresh_token", "token": api.refresh_token},
    )

    assert response.json() == {"revoked": True}
    assert refresh(api.client, api.refresh_token).json()["error"] == "invalid_grant"
    assert api.get("/3/companyinformation").status_code == 200  # Fortnox cannot revoke access tokens


def test_revoke_refuses_access_tokens(sim):
    api = connect(sim)

    response = api.client.post(
        "/oauth-v1/revoke", headers=basic(), data={"token_type_hint": "access_token", "token": api.token}
    )

    assert response.json()["error"] == "unsupported_token_type"


def test_a_consent_revoked_by_the_customer_makes_every_token_fail(sim):
    api = connect(sim)
    service_token = client_credentials(api.client, api.tenant_id).json()["access_token"]

    revoked = api.control("DELETE", f"/_sandbox/companies/{api.tenant_id}/consents")

    assert revoked.json() == {"revoked": 1}
    assert api.get("/3/companyinformation").status_code == 401
    assert company_info(api.client, service_token).status_code == 401
    assert refresh(api.client, api.refresh_token).json()["error"] == "invalid_grant"
    assert client_credentials(api.client, api.tenant_id).status_code == 400


def test_after_a_revoked_consent_a_new_authorisation_works_again(sim):
    api = connect(sim)
    api.control("DELETE", f"/_sandbox/companies/{api.tenant_id}/consents")

    again = connect(sim, sandbox_tenant=str(api.tenant_id))

    assert again.get("/3/companyinformation").status_code == 200
    assert api.get("/3/companyinformation").status_code == 401
