"""OAuth as HubSpot plays it: authorize consents at once, codes are single-use, refresh tokens
live until the app is uninstalled, access tokens expire, and the API answers HubSpot's 401/403."""

from __future__ import annotations

import pytest

from tests.sandbox.test_hubspot_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    START,
    FakeClock,
    authorize,
    exchange,
    http,
    install,
    redirect_query,
    simulator,
)


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def sim(clock):
    return simulator(clock)


@pytest.fixture
def client(sim):
    return http(sim)


def refresh(client, token, **overrides):
    form = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "refresh_token": token}
    form.update(overrides)
    return client.post("/oauth/2026-03/token", data=form)


def test_authorize_consents_at_once_and_redirects_with_the_code_and_state(client):
    query = redirect_query(authorize(client))
    assert query["state"] == "state-123"
    assert query["code"]


def test_authorize_creates_a_fresh_portal_for_each_install(sim, client):
    first, second = install(sim), install(sim)
    assert first.portal_id != second.portal_id
    assert set(sim.portals) == {first.portal_id, second.portal_id}


def test_sandbox_portal_installs_into_an_existing_portal(sim, client):
    first = install(sim)
    again = install(sim, portal_id=first.portal_id)
    assert again.portal_id == first.portal_id


def test_a_new_portal_has_sek_the_default_pipeline_and_standard_properties(sim):
    app = install(sim)
    details = app.call("GET", "/account-info/2026-03/details").json()
    assert details["portalId"] == app.portal_id
    assert details["companyCurrency"] == "SEK"
    assert app.call("GET", "/crm/pipelines/2026-03/deals/default").status_code == 200
    assert app.call("GET", "/crm/properties/2026-03/deals/deal_currency_code").status_code == 200


def test_sandbox_deny_redirects_with_access_denied_and_the_state(client):
    query = redirect_query(authorize(client, sandbox_deny="1"))
    assert query["error"] == "access_denied"
    assert query["error_description"]
    assert query["state"] == "state-123"
    assert "code" not in query


def test_the_code_exchange_answers_hubspots_token_response(client):
    code = redirect_query(authorize(client))["code"]
    body = exchange(client, code).json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    assert body["token_use"] == "access_token"
    assert isinstance(body["hub_id"], int)
    assert body["refresh_token"].startswith("na1-")
    assert "crm.objects.deals.read" in body["scopes"]


def test_optional_scopes_are_granted_alongside_the_required_ones(client):
    code = redirect_query(authorize(client, scope="oauth", optional_scope="crm.objects.owners.read"))["code"]
    assert exchange(client, code).json()["scopes"] == ["oauth", "crm.objects.owners.read"]


def test_a_code_works_once(client):
    code = redirect_query(authorize(client))["code"]
    assert exchange(client, code).status_code == 200
    again = exchange(client, code)
    assert again.status_code == 400
    assert again.json()["status"] == "BAD_AUTH_CODE"


def test_the_redirect_uri_must_match_the_authorize_request(client):
    code = redirect_query(authorize(client))["code"]
    response = exchange(client, code, redirect_uri="https://elsewhere.example/cb")
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_REDIRECT_URI"
    assert exchange(client, code).status_code == 200  # a rejected exchange does not use the code up


def test_the_first_exchange_fixes_the_client_secret(sim, client):
    install(sim)
    code = redirect_query(authorize(client))["code"]
    response = exchange(client, code, client_secret="another-secret")
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_CLIENT_SECRET"
    assert sim.apps[CLIENT_ID].client_secret == CLIENT_SECRET


def test_the_legacy_token_paths_take_the_same_form(client):
    for path in ("/oauth/v1/token", "/oauth/v3/token"):
        code = redirect_query(authorize(client))["code"]
        response = client.post(path, data={"grant_type": "authorization_code", "client_id": CLIENT_ID,
                                           "client_secret": CLIENT_SECRET, "redirect_uri": REDIRECT_URI,
                                           "code": code})
        assert response.status_code == 200, path


def test_refresh_gives_a_new_access_token_and_keeps_the_refresh_token(sim, client):
    app = install(sim)
    body = refresh(client, app.refresh_token).json()
    assert body["access_token"] != app.access_token
    assert body["refresh_token"] == app.refresh_token
    assert body["hub_id"] == app.portal_id


def test_an_unknown_refresh_token_answers_bad_refresh_token(client):
    response = refresh(client, "na1-0000-nope")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "BAD_REFRESH_TOKEN"
    assert body["error"] == "invalid_grant"
    assert body["error_description"] == "refresh token is invalid, expired or revoked"
    assert body["correlationId"]


def test_after_uninstall_refresh_fails_and_access_tokens_stop_working(sim, client):
    app = install(sim)
    assert client.post(f"/_sandbox/portals/{app.portal_id}/uninstall", json={}).json()["uninstalled"] == [CLIENT_ID]
    assert refresh(client, app.refresh_token).json()["status"] == "BAD_REFRESH_TOKEN"
    response = app.call("GET", "/crm/objects/2026-03/deals")
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"


def test_reinstalling_after_uninstall_gives_working_tokens(sim, client):
    app = install(sim)
    client.post(f"/_sandbox/portals/{app.portal_id}/uninstall", json={})
    again = install(sim, portal_id=app.portal_id)
    assert again.call("GET", "/crm/objects/2026-03/deals").status_code == 200


def test_an_access_token_expires_after_thirty_minutes(sim, clock):
    app = install(sim)
    clock.advance(1799)
    assert app.call("GET", "/crm/objects/2026-03/deals").status_code == 200
    clock.advance(121)
    response = app.call("GET", "/crm/objects/2026-03/deals")
    assert response.status_code == 401
    assert response.json()["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired 2 minute(s) ago" in response.json()["message"]


def test_the_control_surface_expires_tokens_on_demand(sim, client):
    app = install(sim)
    assert client.post("/_sandbox/tokens/expire", json={"portalId": app.portal_id}).json() == {"expired": 1}
    assert app.call("GET", "/crm/objects/2026-03/deals").json()["category"] == "EXPIRED_AUTHENTICATION"


def test_a_request_without_a_bearer_token_gets_401(client):
    response = client.get("/crm/objects/2026-03/deals")
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert len(body["correlationId"]) == 36


def test_a_token_without_the_needed_scope_gets_403_missing_scopes(sim):
    app = install(sim, scopes="oauth crm.objects.deals.read")
    response = app.call("POST", "/crm/objects/2026-03/notes", json={"properties": {}, "associations": []})
    assert response.status_code == 403
    body = response.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]


@pytest.mark.parametrize(("object_type", "group"), [("companies", "companyinformation"),
                                                   ("contacts", "contactinformation")])
def test_creating_a_company_or_contact_property_needs_its_schema_write_scope(sim, object_type, group):
    definition = {"groupName": group, "name": "org_nr",
                  "label": "Org nr", "type": "string", "fieldType": "text"}
    reader = install(sim, scopes=f"oauth crm.objects.{object_type}.read crm.objects.{object_type}.write")
    writer = install(sim, scopes=f"oauth crm.schemas.{object_type}.write")

    refused = reader.call("POST", f"/crm/properties/2026-03/{object_type}", json=definition)
    created = writer.call("POST", f"/crm/properties/2026-03/{object_type}", json=definition)

    assert (refused.status_code, refused.json()["category"]) == (403, "MISSING_SCOPES")
    assert refused.json()["errors"][0]["context"]["requiredGranularScopes"] == [f"crm.schemas.{object_type}.write"]
    assert (created.status_code, created.json()["name"], created.json()["type"]) == (201, "org_nr", "string")


def test_introspect_describes_an_access_token(sim, client):
    app = install(sim)
    response = client.post("/oauth/2026-03/token/introspect", data={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": app.access_token,
        "token_type_hint": "access_token"})
    body = response.json()
    assert body["active"] is True
    assert body["hub_id"] == app.portal_id
    assert body["hub_domain"] == sim.portals[app.portal_id].hub_domain
    assert body["client_id"] == CLIENT_ID
    assert body["app_id"] == sim.apps[CLIENT_ID].app_id
    assert body["token_use"] == "access_token"
    assert 0 < body["expires_in"] <= 1800


def test_introspect_describes_a_refresh_token(sim, client):
    app = install(sim)
    body = client.post("/oauth/2026-03/token/introspect", data={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": app.refresh_token}).json()
    assert body["active"] is True
    assert body["token_use"] == "refresh_token"
    assert "expires_in" not in body


def test_introspect_of_an_unknown_token_is_an_error(client):
    response = client.post("/oauth/2026-03/token/introspect", data={"token": "nope"})
    assert response.status_code == 400
    assert response.json()["status"] == "BAD_TOKEN"


def test_revoking_a_refresh_token_makes_refresh_fail(sim, client):
    app = install(sim)
    response = client.post("/oauth/2026-03/token/revoke", data={
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": app.refresh_token})
    assert response.status_code == 204
    assert refresh(client, app.refresh_token).json()["status"] == "BAD_REFRESH_TOKEN"


def test_registered_apps_keep_their_app_id_and_secret(sim, client):
    response = client.post("/_sandbox/apps", json={"appId": 4242, "clientId": "registered", "clientSecret": "s"})
    assert response.status_code == 201
    app = install(sim, client_id="registered", secret="s")
    assert app.call("GET", "/crm/objects/2026-03/deals").status_code == 200
    assert sim.apps["registered"].app_id == 4242
